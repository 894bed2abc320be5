// The persistent database index (`tranova index db.fasta -o db.tix`, docs/retrieval.md):
// the database parsed once into one memory-mapped file that the search reads without
// decompressing or parsing FASTA, plus the identity of the FASTA it was built from so that
// an index of another or a changed database is refused.
//
// Layout (little-endian, every section 8-byte aligned):
//   header (tix_header) | path of the database (header.path_bytes) |
//   record_start u64[records + 1] (residue offsets) | name_start u64[records + 1] |
//   residues char[residues] (letters as in the file) | words u16[residues] | names char[]
// words[p] is the 3-mer word id (a * 400 + b * 20 + c, residue codes of encode_aa) of the
// residues p, p+1, p+2 of one record, or no_word when one of them is X-like or the record
// ends before p + 2: the prefilter's k-mer table, read instead of re-encoding every target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tranova::retrieval {

// What identifies the FASTA a search ran against (recorded in indexes and shard files).
struct db_identity {
    std::string path;                 // as given (indexes: absolute)
    std::uint64_t file_size = 0;      // bytes of the (compressed) file
    std::int64_t mtime_ns = 0;        // modification time, ns since the epoch
    std::uint64_t records = 0, residues = 0;
    bool operator==(const db_identity& o) const {
        return file_size == o.file_size && mtime_ns == o.mtime_ns && records == o.records && residues == o.residues;
    }
};

// Size and mtime of a file (records/residues left 0). Throws if it cannot be read.
db_identity file_identity(const std::string& path);

inline constexpr std::uint16_t no_word = 0xFFFF;

struct index_build_stats {
    std::uint64_t records = 0, residues = 0, bytes = 0;
};

// Builds the index of `fasta` into `out` (through output_file: whole or nothing).
index_build_stats build_db_index(const std::string& fasta, const std::string& out);

// True when the file starts with the index magic.
bool is_db_index(const std::string& path);

// A memory-mapped index. Opening checks the header and section sizes against the file
// size (a truncated or foreign file is an error naming it).
class db_index {
public:
    explicit db_index(const std::string& path);
    ~db_index();
    db_index(const db_index&) = delete;
    db_index& operator=(const db_index&) = delete;

    const std::string& path() const { return path_; }
    const db_identity& identity() const { return id_; }  // of the indexed FASTA
    std::uint64_t records() const { return id_.records; }
    std::uint64_t residues() const { return id_.residues; }
    std::string_view name(std::uint64_t r) const { return {names_ + name_start_[r], name_start_[r + 1] - name_start_[r]}; }
    std::string_view seq(std::uint64_t r) const { return {residues_ + record_start_[r], record_start_[r + 1] - record_start_[r]}; }
    const std::uint16_t* words(std::uint64_t r) const { return words_ + record_start_[r]; }

    // Throws when a word id of record r is neither a 3-mer id (< 20^3) nor no_word (a corrupt
    // index; checked as the search reads each record, so its cost is one pass over the words).
    void check_words(std::uint64_t r) const;
    // Throws when `fasta` is not the file this index was built from (size or mtime differ:
    // changed since indexing, or another file).
    void check_matches(const std::string& fasta) const;
    // Throws when the FASTA recorded in the index is missing or changed since indexing.
    void check_fresh() const;

private:
    void read_sections();  // header and section checks of the mapped file; sets the pointers
    std::string path_;
    db_identity id_;
    void* map_ = nullptr;
    std::size_t map_size_ = 0;
    const std::uint64_t *record_start_ = nullptr, *name_start_ = nullptr;
    const char *residues_ = nullptr, *names_ = nullptr;
    const std::uint16_t* words_ = nullptr;
};

}  // namespace tranova::retrieval
