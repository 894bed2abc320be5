// Resumable batch outputs: a long job (score of a large assay set, denovo sequence of a
// large spectrum file) writes its output in numbered chunks with a progress record, so
// that a run killed or preempted half way can be continued with --resume and still
// produce exactly the bytes of an uninterrupted run.
//
// The progress record is the folder `<output>.progress/` beside the output:
//   journal.tsv      "tranova-progress\t1", the job's fingerprint ("fingerprint\tKEY\tVALUE"
//                    lines: command, options, input contents), then one line per finished
//                    chunk: "chunk\tI\tBYTES\tFNV1A64\tSTATE" (STATE: the caller's counters).
//   chunk-I.part     the chunk's bytes (written to a temporary, synced, renamed).
// A chunk counts as done only when its journal line is complete and its file has the
// recorded size and checksum, so a kill at any instant loses at most the chunk in flight.
// The record is created with the first chunk and removed when the object goes away unless
// keep() was called: a preempted run (exit 75) or a killed process leaves it, a run that ends
// with an error (exit 1/2) does not.
// finish() writes header + chunks + footer through util/output_file (temp name + rename)
// and then removes the record.
//
// Rules (docs/resume.md):
// - without resume, an existing record is refused (usage_error): it holds the progress of
//   an interrupted run, and nothing is deleted silently;
// - with resume and no record, the job starts from the beginning (so a requeued job script
//   can always pass --resume);
// - with resume, a record whose fingerprint differs (another command, other inputs or
//   options) is refused with a usage_error naming the first difference, and left as it is;
// - a direct output ("-", /dev/stdout, a FIFO) keeps its chunks in a private temporary
//   folder (removed at the end) and cannot be resumed (usage_error).
// Not here: what a chunk is (the caller decides; chunk boundaries must depend only on the
// fingerprinted inputs and options) and signals (the caller polls preemption_guard between
// chunks and exits with exit_code_requeue).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tranova {

// FNV-1a 64-bit hash of bytes (checksums of chunks and inputs; not cryptographic).
uint64_t fnv1a64(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL);

// What identifies a batch job. Resuming is allowed only when every item matches.
struct job_fingerprint {
    std::vector<std::pair<std::string, std::string>> items;  // key, value (one line each)
    // Adds a key = value item (tabs and newlines in either are escaped).
    void add(std::string key, std::string value);
    // Adds an input file by content: "BYTES bytes, fnv1a64 HEX"; a file over 64 MiB by size
    // and modification time ("BYTES bytes, modified SEC.NSEC"). Throws tranova::error
    // naming `path` when it cannot be read. "-" (standard input) cannot be resumed: usage_error.
    void add_file(std::string key, const std::string& path);
};

class chunked_output {
public:
    // Opens (resume) or creates the progress record of `output`. Throws usage_error on the
    // rules above, tranova::error on an unreadable or malformed record (naming its path).
    chunked_output(std::string output, job_fingerprint fp, bool resume, bool binary = false);
    ~chunked_output();
    chunked_output(const chunked_output&) = delete;
    chunked_output& operator=(const chunked_output&) = delete;

    // True when chunk `i` was finished by an earlier run (resume) or by this one.
    bool done(int64_t i) const;
    // The STATE recorded with a done chunk ("" when not done).
    std::string state(int64_t i) const;
    // Number of chunks found done when the record was opened (for the log).
    int64_t resumed_chunks() const { return resumed_; }
    // Records chunk `i` (bytes and the caller's state, one line without tabs/newlines).
    // Chunks may arrive in any order; a chunk already done is an internal error.
    void write_chunk(int64_t i, std::string_view bytes, std::string_view state = {});
    // The bytes of a done chunk (checked against its recorded size and checksum).
    std::string read_chunk(int64_t i) const;
    // Writes header, chunks 0..n_chunks-1 and footer to the output (atomically), then removes
    // the record. Every chunk must be done.
    void finish(int64_t n_chunks, std::string_view header = {}, std::string_view footer = {});
    // For callers that write the output themselves from the chunks (read_chunk): removes the
    // record once that output is committed.
    void remove_record();
    // Keeps the record when this object goes away (a preempted run that exits 75). Without
    // it the destructor removes the record: a run that ends with an error leaves nothing.
    void keep() { keep_ = true; }

    const std::string& record_dir() const { return dir_; }
    const std::string& output() const { return output_; }

    // The record folder used for `output`.
    static std::string record_dir_for(const std::string& output);

private:
    struct chunk_info {
        uint64_t bytes = 0, hash = 0;
        std::string state;
    };
    std::string chunk_path(int64_t i) const;
    void append_journal(const std::string& line);
    void create_record();

    std::string output_, dir_, journal_;
    std::string pending_header_;  // journal header of a record not created yet (no chunk so far)
    bool binary_ = false, private_dir_ = false;
    bool owns_record_ = false;  // created or resumed by this object (so it may remove it)
    bool keep_ = false;
    int64_t resumed_ = 0;
    std::vector<std::unique_ptr<chunk_info>> chunks_;  // by index; null = not done
};

}  // namespace tranova
