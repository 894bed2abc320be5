// htslib-backed FASTA streaming and faidx random access.
#include "retrieval/fasta_db.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <htslib/bgzf.h>
#include <htslib/faidx.h>
#include <htslib/hts_log.h>
#include <htslib/kstring.h>

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tranova::retrieval {

namespace {
BGZF* bg(void* p) { return static_cast<BGZF*>(p); }

void split_header(std::string_view h, fasta_record& rec) {
    std::size_t sp = h.find_first_of(" \t");
    rec.name.assign(h.substr(0, sp));
    rec.description.clear();
    if (sp != std::string_view::npos) {
        std::size_t b = h.find_first_not_of(" \t", sp);
        if (b != std::string_view::npos) rec.description.assign(h.substr(b));
    }
}

// FNV-1a 64.
std::uint64_t hash64(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}
}  // namespace

fasta_reader::fasta_reader(const std::string& path) : path_(path) {
    hts_set_log_level(HTS_LOG_OFF);  // htslib's own messages would duplicate our one-line errors
    errno = 0;
    BGZF* f = bgzf_open(path.c_str(), "r");
    TRANOVA_CHECK(f != nullptr, "{}: cannot open: {}", path, errno ? std::strerror(errno) : "not a readable (compressed) file");
    fp_ = f;
    compression_ = bgzf_compression(f);
}

fasta_reader::~fasta_reader() {
    if (fp_) bgzf_close(bg(fp_));
}

bool fasta_reader::read_line() {
    if (eof_) return false;
    kstring_t ks = {0, 0, nullptr};
    int r = bgzf_getline(bg(fp_), '\n', &ks);
    if (r <= -2) {
        free(ks.s);
        TRANOVA_FAIL("{}: read error after line {}: truncated or corrupt compressed data", path_, line_no_);
    }
    if (r == -1) {
        free(ks.s);
        eof_ = true;
        return false;
    }
    ++line_no_;
    line_.assign(ks.s ? ks.s : "", ks.l);
    free(ks.s);
    if (line_no_ == 1) strip_utf8_bom(line_);
    while (!line_.empty() && (line_.back() == '\r' || line_.back() == ' ' || line_.back() == '\t')) line_.pop_back();
    return true;
}

bool fasta_reader::next(fasta_record& rec) {
    if (!have_header_) {
        for (;;) {
            if (!read_line()) return false;
            if (line_.empty()) continue;
            TRANOVA_CHECK(line_[0] == '>', "{}:{}: expected a '>' header line (not a FASTA file?)", path_, line_no_);
            pending_header_ = line_.substr(1);
            have_header_ = true;
            break;
        }
    }
    split_header(pending_header_, rec);
    TRANOVA_CHECK(!rec.name.empty(), "{}:{}: record without a name", path_, line_no_);
    rec.seq.clear();
    have_header_ = false;
    while (read_line()) {
        if (!line_.empty() && line_[0] == '>') {
            pending_header_ = line_.substr(1);
            have_header_ = true;
            break;
        }
        for (char c : line_)
            if (!std::isspace(static_cast<unsigned char>(c))) rec.seq.push_back(c);
    }
    ++records_;
    return true;
}

std::size_t fasta_reader::next_chunk(std::vector<fasta_record>& out, std::size_t max_residues, std::size_t& used) {
    std::size_t residues = 0, n = 0;
    while (residues < max_residues) {
        if (used == out.size()) out.emplace_back();
        if (!next(out[used])) break;
        residues += out[used].seq.size();
        ++used;
        ++n;
    }
    return n;
}

// ---------------------------------------------------------------------------------------

static bool file_mtime(const std::string& p, struct timespec& t) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) return false;
    t = st.st_mtim;
    return true;
}

static bool older(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

bool fasta_index::exists(const std::string& path) {
    struct stat st;
    return stat((path + ".fai").c_str(), &st) == 0;
}

fasta_index::fasta_index(const std::string& path) : path_(path) {
    struct timespec tf{}, ti{};
    TRANOVA_CHECK(file_mtime(path, tf), "{}: cannot open: {}", path, std::strerror(errno));
    TRANOVA_CHECK(file_mtime(path + ".fai", ti), "{}: no index {}.fai (build it with 'tranova retrieve --index-db')", path, path);
    TRANOVA_CHECK(!older(ti, tf), "{}.fai is older than {}: rebuild the index ('tranova retrieve --index-db')", path, path);
    {
        fasta_reader probe(path);
        TRANOVA_CHECK(probe.compression() != 1, "{}: plain gzip cannot be indexed: recompress with bgzip", path);
        if (probe.compression() == 2) {
            struct timespec tg{};
            TRANOVA_CHECK(file_mtime(path + ".gzi", tg), "{}: no {}.gzi beside the .fai: rebuild the index", path, path);
            TRANOVA_CHECK(!older(tg, tf), "{}.gzi is older than {}: rebuild the index", path, path);
        }
    }
    fai_ = fai_load3(path.c_str(), nullptr, nullptr, 0);
    TRANOVA_CHECK(fai_ != nullptr, "{}: cannot load the .fai index", path);
}

fasta_index::~fasta_index() {
    if (fai_) fai_destroy(static_cast<faidx_t*>(fai_));
}

bool fasta_index::has(const std::string& name) const { return faidx_has_seq(static_cast<faidx_t*>(fai_), name.c_str()) != 0; }

std::size_t fasta_index::size() const { return static_cast<std::size_t>(faidx_nseq(static_cast<faidx_t*>(fai_))); }

std::string fasta_index::fetch(const std::string& name) const {
    auto* fai = static_cast<faidx_t*>(fai_);
    TRANOVA_CHECK(faidx_has_seq(fai, name.c_str()), "{}: no sequence named '{}' in the index", path_, name);
    hts_pos_t len = 0;
    int n = faidx_seq_len(fai, name.c_str());
    TRANOVA_CHECK(n >= 0, "{}: cannot read the length of '{}'", path_, name);
    char* s = faidx_fetch_seq64(fai, name.c_str(), 0, n > 0 ? n - 1 : 0, &len);
    TRANOVA_CHECK(s != nullptr && len >= 0, "{}: cannot fetch '{}' (truncated file or stale index?)", path_, name);
    std::string out(s, static_cast<std::size_t>(len));
    free(s);
    return out;
}

void fasta_index::build(const std::string& path) {
    {
        fasta_reader r(path);
        TRANOVA_CHECK(r.compression() != 1, "{}: plain gzip cannot be indexed: recompress with bgzip (package tabix)", path);
        duplicate_name_check dup(path);
        fasta_record rec;
        while (r.next(rec)) dup.add(rec.name, r.records_read());
    }
    TRANOVA_CHECK(fai_build(path.c_str()) == 0, "{}: building the .fai index failed (lines of unequal length within a record?)", path);
}

void duplicate_name_check::add(std::string_view name, std::size_t record_number) {
    auto [it, inserted] = seen_.emplace(hash64(name), static_cast<std::uint32_t>(record_number));
    TRANOVA_CHECK(inserted, "{}: duplicate sequence name '{}' (records {} and {}); an indexed database needs unique names", path_,
                  name, it->second, record_number);
}

}  // namespace tranova::retrieval
