// Protein FASTA databases through htslib: streamed reading (plain, gzip, bgzip) in bounded
// memory, and random access by name through a .fai index (plain or bgzip files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tranova::retrieval {

struct fasta_record {
    std::string name;         // first word of the header
    std::string description;  // rest of the header line (may be empty)
    std::string seq;          // residues, whitespace removed, as in the file
};

// Sequential reader (BGZF handles plain, gzip and bgzip alike). Errors (unreadable or
// truncated compressed data, sequence before a header) throw tranova::error naming the
// file and line.
class fasta_reader {
public:
    explicit fasta_reader(const std::string& path);
    ~fasta_reader();
    fasta_reader(const fasta_reader&) = delete;
    fasta_reader& operator=(const fasta_reader&) = delete;

    // Next record; false at the end of the file.
    bool next(fasta_record& rec);
    // Appends records to `out` until about `max_residues` residues were read (at least one
    // record); returns the number appended (0 at the end). Reuses the strings in `out`.
    std::size_t next_chunk(std::vector<fasta_record>& out, std::size_t max_residues, std::size_t& used);
    std::size_t records_read() const { return records_; }
    const std::string& path() const { return path_; }
    // 0 plain, 1 gzip, 2 bgzip (bgzf_compression()).
    int compression() const { return compression_; }

private:
    std::string path_;
    void* fp_ = nullptr;  // BGZF*
    std::string line_, pending_header_;
    bool have_header_ = false, eof_ = false;
    std::size_t line_no_ = 0, records_ = 0;
    int compression_ = 0;
    bool read_line();
};

// Random access by name through htslib faidx.
class fasta_index {
public:
    // Loads PATH.fai (and PATH.gzi for bgzip). Throws if the index is missing, older than
    // the file, or the file is plain gzip (not indexable).
    explicit fasta_index(const std::string& path);
    ~fasta_index();
    fasta_index(const fasta_index&) = delete;
    fasta_index& operator=(const fasta_index&) = delete;

    bool has(const std::string& name) const;
    std::string fetch(const std::string& name) const;  // whole sequence; throws if absent
    std::size_t size() const;

    // Builds PATH.fai (+ .gzi) after checking that names are unique (streams the file once).
    static void build(const std::string& path);
    // True when PATH.fai exists.
    static bool exists(const std::string& path);

private:
    std::string path_;
    void* fai_ = nullptr;  // faidx_t*
};

// Tracks record names during a streaming pass; throws on the first duplicate (used when a
// database is indexed, since the index can only address unique names).
class duplicate_name_check {
public:
    explicit duplicate_name_check(std::string path) : path_(std::move(path)) {}
    void add(std::string_view name, std::size_t record_number);

private:
    std::string path_;
    std::unordered_map<std::uint64_t, std::uint32_t> seen_;  // 64-bit name hash -> record number
};

}  // namespace tranova::retrieval
