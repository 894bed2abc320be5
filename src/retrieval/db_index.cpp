// Building, mapping and checking the persistent database index (db_index.hpp).
#include "retrieval/db_index.hpp"

#include "retrieval/fasta_db.hpp"
#include "retrieval/search.hpp"
#include "util/error.hpp"
#include "util/output_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace tranova::retrieval {

namespace {

constexpr char magic[8] = {'T', 'R', 'N', 'V', 'T', 'I', 'X', '1'};
constexpr std::uint32_t version = 1, word_length = 3;

struct tix_header {
    char magic[8];
    std::uint32_t version, k;
    std::uint64_t file_size;
    std::int64_t mtime_ns;
    std::uint64_t records, residues, names_bytes, path_bytes;
};

std::uint64_t align8(std::uint64_t x) { return (x + 7) & ~std::uint64_t{7}; }

// Section offsets of an index with these counts.
struct layout {
    std::uint64_t path, record_start, name_start, residues, words, names, end;
    layout(const tix_header& h) {
        path = sizeof(tix_header);
        record_start = align8(path + h.path_bytes);
        name_start = record_start + 8 * (h.records + 1);
        residues = name_start + 8 * (h.records + 1);
        words = align8(residues + h.residues);
        names = words + 2 * h.residues;
        end = names + h.names_bytes;
    }
};

// Buffered writer of one section at its own file offset.
class section_writer {
public:
    section_writer(std::FILE* f, std::uint64_t offset, std::string_view what, const std::string& path)
        : f_(f), at_(offset), what_(what), path_(path) {}
    void put(const void* p, std::size_t n) {
        const char* c = static_cast<const char*>(p);
        buf_.insert(buf_.end(), c, c + n);
        if (buf_.size() >= (std::size_t{1} << 24)) flush();
    }
    void flush() {
        if (buf_.empty()) return;
        TRANOVA_CHECK(fseeko(f_, static_cast<off_t>(at_), SEEK_SET) == 0 && std::fwrite(buf_.data(), 1, buf_.size(), f_) == buf_.size(),
                      "{}: cannot write the {} section: {}", path_, what_, std::strerror(errno));
        at_ += buf_.size();
        buf_.clear();
    }

private:
    std::FILE* f_;
    std::uint64_t at_;
    std::string_view what_;
    const std::string& path_;
    std::vector<char> buf_;
};

}  // namespace

db_identity file_identity(const std::string& path) {
    struct stat st;
    TRANOVA_CHECK(stat(path.c_str(), &st) == 0, "{}: cannot open: {}", path, std::strerror(errno));
    db_identity id;
    id.path = path;
    id.file_size = static_cast<std::uint64_t>(st.st_size);
    id.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return id;
}

bool is_db_index(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return false;
    char m[8] = {};
    bool ok = ::read(fd, m, 8) == 8 && std::memcmp(m, magic, 8) == 0;
    ::close(fd);
    return ok;
}

index_build_stats build_db_index(const std::string& fasta, const std::string& out) {
    const db_identity before = file_identity(fasta);
    tix_header h{};
    std::memcpy(h.magic, magic, 8);
    h.version = version;
    h.k = word_length;
    h.file_size = before.file_size;
    h.mtime_ns = before.mtime_ns;
    const std::string abs = std::filesystem::absolute(fasta).lexically_normal().string();
    h.path_bytes = abs.size();
    {  // Pass 1: counts (the sections' sizes).
        fasta_reader r(fasta);
        fasta_record rec;
        while (r.next(rec)) {
            ++h.records;
            h.residues += rec.seq.size();
            h.names_bytes += rec.name.size();
        }
    }
    TRANOVA_CHECK(h.records > 0, "{}: the database has no sequences", fasta);
    const layout lay(h);
    output_file o(out, true);
    std::FILE* f = o.stream();
    {
        section_writer head(f, 0, "header", out), starts(f, lay.record_start, "record", out), names_at(f, lay.name_start, "name offset", out),
            res(f, lay.residues, "residue", out), words(f, lay.words, "word", out), names(f, lay.names, "name", out);
        head.put(&h, sizeof h);
        head.put(abs.data(), abs.size());
        // Pass 2: the sections, each written at its own offset.
        fasta_reader r(fasta);
        fasta_record rec;
        std::uint64_t rs = 0, ns = 0, n = 0;
        std::vector<std::uint16_t> w;
        while (r.next(rec)) {
            TRANOVA_CHECK(++n <= h.records, "{}: changed while it was being indexed", fasta);
            starts.put(&rs, 8);
            names_at.put(&ns, 8);
            rs += rec.seq.size();
            ns += rec.name.size();
            res.put(rec.seq.data(), rec.seq.size());
            names.put(rec.name.data(), rec.name.size());
            w.assign(rec.seq.size(), no_word);
            for (std::size_t p = 0; p + 3 <= rec.seq.size(); ++p) {
                int a = encode_aa(rec.seq[p]), b = encode_aa(rec.seq[p + 1]), c = encode_aa(rec.seq[p + 2]);
                if (a >= 0 && a < 20 && b >= 0 && b < 20 && c >= 0 && c < 20) w[p] = static_cast<std::uint16_t>((a * 20 + b) * 20 + c);
            }
            words.put(w.data(), 2 * w.size());
        }
        TRANOVA_CHECK(n == h.records && rs == h.residues && ns == h.names_bytes, "{}: changed while it was being indexed", fasta);
        starts.put(&rs, 8);
        names_at.put(&ns, 8);
        // Zero padding up to each aligned section start is left as a hole; the last byte is written.
        for (auto* s : {&head, &starts, &names_at, &res, &words, &names}) s->flush();
    }
    TRANOVA_CHECK(fseeko(f, 0, SEEK_END) == 0 && static_cast<std::uint64_t>(ftello(f)) == lay.end, "{}: index size mismatch", out);
    const db_identity after = file_identity(fasta);
    TRANOVA_CHECK(after.file_size == before.file_size && after.mtime_ns == before.mtime_ns, "{}: changed while it was being indexed", fasta);
    o.commit();
    return {h.records, h.residues, lay.end};
}

db_index::db_index(const std::string& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    TRANOVA_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        TRANOVA_FAIL("{}: not a regular file (an index is memory-mapped)", path);
    }
    map_size_ = static_cast<std::size_t>(st.st_size);
    if (map_size_ < sizeof(tix_header)) {
        ::close(fd);
        TRANOVA_FAIL("{}: not a tranova index (too short; build one with 'tranova index')", path);
    }
    map_ = mmap(nullptr, map_size_, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map_ == MAP_FAILED) {
        map_ = nullptr;
        TRANOVA_FAIL("{}: cannot map: {}", path, std::strerror(errno));
    }
    // A constructor that throws runs no destructor: unmap here when the checks fail (else
    // every refused file would stay mapped for the life of the process).
    try {
        read_sections();
    } catch (...) {
        munmap(map_, map_size_);
        map_ = nullptr;
        throw;
    }
}

void db_index::read_sections() {
    const std::string& path = path_;
    const char* base = static_cast<const char*>(map_);
    tix_header h;
    std::memcpy(&h, base, sizeof h);
    TRANOVA_CHECK(std::memcmp(h.magic, magic, 8) == 0, "{}: not a tranova index (build one with 'tranova index')", path);
    TRANOVA_CHECK(h.version == version && h.k == word_length, "{}: index version {} (k {}), this tranova reads version {}: rebuild it", path,
                  h.version, h.k, version);
    // Sizes bounded before any multiplication can overflow.
    TRANOVA_CHECK(h.records < (std::uint64_t{1} << 40) && h.residues < (std::uint64_t{1} << 44) && h.names_bytes < (std::uint64_t{1} << 44) &&
                      h.path_bytes < 65536,
                  "{}: corrupt index header", path);
    const layout lay(h);
    TRANOVA_CHECK(lay.end == map_size_, "{}: truncated or corrupt index ({} bytes, the header says {})", path, map_size_, lay.end);
    id_.path.assign(base + lay.path, h.path_bytes);
    id_.file_size = h.file_size;
    id_.mtime_ns = h.mtime_ns;
    id_.records = h.records;
    id_.residues = h.residues;
    record_start_ = reinterpret_cast<const std::uint64_t*>(base + lay.record_start);
    name_start_ = reinterpret_cast<const std::uint64_t*>(base + lay.name_start);
    residues_ = base + lay.residues;
    words_ = reinterpret_cast<const std::uint16_t*>(base + lay.words);
    names_ = base + lay.names;
    TRANOVA_CHECK(record_start_[0] == 0 && record_start_[h.records] == h.residues && name_start_[0] == 0 && name_start_[h.records] == h.names_bytes,
                  "{}: corrupt index (offset tables)", path);
    for (std::uint64_t r = 0; r < h.records; ++r)
        TRANOVA_CHECK(record_start_[r] <= record_start_[r + 1] && name_start_[r] <= name_start_[r + 1], "{}: corrupt index (record {})", path, r + 1);
}

db_index::~db_index() {
    if (map_) munmap(map_, map_size_);
}

void db_index::check_words(std::uint64_t r) const {
    const std::uint16_t* w = words(r);
    const std::uint64_t n = record_start_[r + 1] - record_start_[r];
    bool ok = true;
    for (std::uint64_t p = 0; p < n; ++p) ok &= w[p] < 20 * 20 * 20 || w[p] == no_word;
    TRANOVA_CHECK(ok, "{}: corrupt index (a word id of record {} is out of range)", path_, r + 1);
}

void db_index::check_matches(const std::string& fasta) const {
    const db_identity f = file_identity(fasta);
    TRANOVA_CHECK(f.file_size == id_.file_size && f.mtime_ns == id_.mtime_ns,
                  "{}: the index does not match {} (indexed: {} bytes, mtime {} ns; now: {} bytes, mtime {} ns): the database "
                  "changed since indexing or is another file; rebuild with 'tranova index'",
                  path_, fasta, id_.file_size, id_.mtime_ns, f.file_size, f.mtime_ns);
}

void db_index::check_fresh() const {
    struct stat st;
    TRANOVA_CHECK(stat(id_.path.c_str(), &st) == 0, "{}: the indexed database {} is gone ({}); rebuild the index or give --db FASTA --index {}",
                  path_, id_.path, std::strerror(errno), path_);
    check_matches(id_.path);
}

}  // namespace tranova::retrieval
