#include "util/chunked_output.hpp"

#include "util/error.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace tranova {
namespace fs = std::filesystem;
namespace {

constexpr const char* magic = "tranova-progress\t1";


std::string sys_error() { return std::strerror(errno); }

void write_fd(int fd, const char* p, size_t n, const std::string& path) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        TRANOVA_CHECK(w > 0, "{}: write failed: {}", path, sys_error());
        p += w;
        n -= static_cast<size_t>(w);
    }
}

// Writes `bytes` to `path` durably: temporary, fsync, rename, fsync of the folder.
void write_file_durably(const std::string& path, std::string_view bytes) {
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    TRANOVA_CHECK(fd >= 0, "{}: cannot create: {}", tmp, sys_error());
    try {
        write_fd(fd, bytes.data(), bytes.size(), tmp);
        TRANOVA_CHECK(::fsync(fd) == 0, "{}: fsync failed: {}", tmp, sys_error());
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    TRANOVA_CHECK(::close(fd) == 0, "{}: close failed: {}", tmp, sys_error());
    TRANOVA_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, "{}: cannot rename onto {}: {}", tmp, path, sys_error());
}

void sync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

bool read_whole(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

std::vector<std::string> split_tabs(std::string_view line) {
    std::vector<std::string> f;
    size_t start = 0;
    for (;;) {
        size_t t = line.find('\t', start);
        f.emplace_back(line.substr(start, t == std::string_view::npos ? std::string_view::npos : t - start));
        if (t == std::string_view::npos) break;
        start = t + 1;
    }
    return f;
}

bool parse_u64(const std::string& s, uint64_t& v, int base = 10) {
    if (s.empty() || s.size() > 20) return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long x = std::strtoull(s.c_str(), &end, base);
    if (errno || *end || s[0] == '-' || s[0] == '+') return false;
    v = x;
    return true;
}

}  // namespace

uint64_t fnv1a64(std::string_view bytes, uint64_t h) {
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void job_fingerprint::add(std::string key, std::string value) {
    items.emplace_back(tsv_escape(key), tsv_escape(value));
}

void job_fingerprint::add_file(std::string key, const std::string& path) {
    if (path == "-") throw usage_error(fmt::format("{}: standard input cannot be resumed; name a file", key));
    // Large inputs (a big model, a spectrum file of GBs) by size and modification time:
    // hashing them would cost every run seconds. Small ones by content.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t{64} << 20)) {
        add(std::move(key), fmt::format("{} bytes, modified {}.{:09d}", static_cast<long long>(st.st_size),
                                        static_cast<long long>(st.st_mtim.tv_sec), static_cast<long>(st.st_mtim.tv_nsec)));
        return;
    }
    std::ifstream in(path, std::ios::binary);
    TRANOVA_CHECK(in, "{}: cannot open: {}", path, sys_error());
    uint64_t h = 0xcbf29ce484222325ULL, n = 0;
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto got = static_cast<size_t>(in.gcount());
        h = fnv1a64(std::string_view(buf.data(), got), h);
        n += got;
    }
    TRANOVA_CHECK(!in.bad(), "{}: read failed", path);
    add(std::move(key), fmt::format("{} bytes, fnv1a64 {:016x}", n, h));
}

std::string chunked_output::record_dir_for(const std::string& output) { return output + ".progress"; }

chunked_output::chunked_output(std::string output, job_fingerprint fp, bool resume, bool binary)
    : output_(std::move(output)), binary_(binary) {
    if (is_direct_output(output_)) {
        if (resume)
            throw usage_error(fmt::format("--resume needs an output file; '{}' is written directly (stdout, a device "
                                          "or a FIFO) and keeps no progress record",
                                          output_));
        std::string tmpl = (fs::temp_directory_path() / "tranova-progress-XXXXXX").string();
        TRANOVA_CHECK(::mkdtemp(tmpl.data()) != nullptr, "cannot create a temporary folder in {}: {}",
                      fs::temp_directory_path().string(), sys_error());
        dir_ = tmpl;
        private_dir_ = true;
    } else {
        dir_ = record_dir_for(output_);
    }
    journal_ = dir_ + "/journal.tsv";

    std::string header = std::string(magic) + "\n";
    for (const auto& [k, v] : fp.items) header += fmt::format("fingerprint\t{}\t{}\n", k, v);

    std::error_code ec;
    const bool exists = !private_dir_ && fs::exists(fs::symlink_status(dir_, ec));
    if (exists && !resume)
        throw usage_error(fmt::format("'{}' holds the progress of an interrupted run for '{}'; rerun with --resume to "
                                      "continue it, or remove the folder to start again",
                                      dir_, output_));
    if (!exists) {
        // Created with the first chunk: a run that fails before (bad input) leaves nothing.
        pending_header_ = header;
        return;
    }

    // Resume: the record must be ours and describe this very job.
    TRANOVA_CHECK(fs::is_directory(dir_, ec), "{}: exists and is not a progress folder", dir_);
    std::string text;
    TRANOVA_CHECK(read_whole(journal_, text), "{}: cannot read the progress record: {}", journal_, sys_error());
    // A kill during an append leaves a partial last line: drop it (its chunk is redone).
    const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    const bool torn = complete < text.size();
    text.resize(complete);
    TRANOVA_CHECK(text.rfind(std::string(magic) + "\n", 0) == 0, "{}:1: not a tranova progress record", journal_);
    std::vector<std::pair<std::string, std::string>> recorded;
    size_t pos = std::strlen(magic) + 1;
    int64_t line_no = 1;
    while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        std::string_view line(text.data() + pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        auto f = split_tabs(line);
        if (f[0] == "fingerprint" && f.size() == 3) {
            TRANOVA_CHECK(chunks_.empty(), "{}:{}: fingerprint line after the chunk lines", journal_, line_no);
            recorded.emplace_back(f[1], f[2]);
            continue;
        }
        uint64_t idx = 0, bytes = 0, hash = 0;
        TRANOVA_CHECK(f[0] == "chunk" && f.size() == 5 && parse_u64(f[1], idx) && parse_u64(f[2], bytes) &&
                          parse_u64(f[3], hash, 16) && idx < (uint64_t(1) << 40),
                      "{}:{}: malformed progress line", journal_, line_no);
        if (chunks_.size() <= idx) chunks_.resize(idx + 1);
        auto c = std::make_unique<chunk_info>();
        c->bytes = bytes;
        c->hash = hash;
        c->state = f[4];
        chunks_[idx] = std::move(c);
    }
    // Same job? Name the first difference, leave the record alone.
    for (size_t i = 0; i < std::max(recorded.size(), fp.items.size()); ++i) {
        if (i < recorded.size() && i < fp.items.size() && recorded[i] == fp.items[i]) continue;
        std::string what;
        if (i >= recorded.size()) what = fmt::format("this run adds {} = '{}'", fp.items[i].first, fp.items[i].second);
        else if (i >= fp.items.size())
            what = fmt::format("it has {} = '{}', which this run lacks", recorded[i].first, recorded[i].second);
        else if (recorded[i].first != fp.items[i].first)
            what = fmt::format("it has {} where this run has {}", recorded[i].first, fp.items[i].first);
        else
            what = fmt::format("{} was '{}', now '{}'", recorded[i].first, recorded[i].second, fp.items[i].second);
        throw usage_error(fmt::format("'{}' records another job ({}); rerun that job with --resume, or remove the folder "
                                      "to start this one",
                                      dir_, what));
    }
    owns_record_ = true;
    if (torn)
        TRANOVA_CHECK(::truncate(journal_.c_str(), static_cast<off_t>(complete)) == 0, "{}: cannot truncate: {}",
                      journal_, sys_error());
    // A journaled chunk whose file is missing or differs is redone.
    for (size_t i = 0; i < chunks_.size(); ++i) {
        if (!chunks_[i]) continue;
        std::string bytes;
        if (!read_whole(chunk_path(static_cast<int64_t>(i)), bytes) || bytes.size() != chunks_[i]->bytes ||
            fnv1a64(bytes) != chunks_[i]->hash)
            chunks_[i].reset();
        else
            ++resumed_;
    }
}

chunked_output::~chunked_output() {
    // Private folders always go; a record goes unless keep() was called (preemption): a run
    // that ends with an error leaves nothing behind. A killed process runs no destructor.
    if (private_dir_ || (owns_record_ && !keep_)) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

std::string chunked_output::chunk_path(int64_t i) const { return fmt::format("{}/chunk-{}.part", dir_, i); }

bool chunked_output::done(int64_t i) const {
    return i >= 0 && static_cast<size_t>(i) < chunks_.size() && chunks_[static_cast<size_t>(i)] != nullptr;
}

std::string chunked_output::state(int64_t i) const { return done(i) ? chunks_[static_cast<size_t>(i)]->state : ""; }

void chunked_output::append_journal(const std::string& line) {
    int fd = ::open(journal_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    TRANOVA_CHECK(fd >= 0, "{}: cannot open: {}", journal_, sys_error());
    try {
        write_fd(fd, line.data(), line.size(), journal_);
        TRANOVA_CHECK(::fsync(fd) == 0, "{}: fsync failed: {}", journal_, sys_error());
    } catch (...) {
        ::close(fd);
        throw;
    }
    TRANOVA_CHECK(::close(fd) == 0, "{}: close failed: {}", journal_, sys_error());
}

void chunked_output::create_record() {
    if (pending_header_.empty()) return;
    std::error_code ec;
    if (!private_dir_)
        TRANOVA_CHECK(fs::create_directory(dir_, ec) && !ec, "{}: cannot create the progress folder: {}", dir_,
                      ec ? ec.message() : "it exists");
    owns_record_ = true;
    write_file_durably(journal_, pending_header_);
    sync_dir(dir_);
    if (!private_dir_) sync_dir(fs::path(dir_).parent_path().empty() ? "." : fs::path(dir_).parent_path().string());
    pending_header_.clear();
}

void chunked_output::write_chunk(int64_t i, std::string_view bytes, std::string_view state) {
    TRANOVA_CHECK(i >= 0 && !done(i), "internal: chunk {} of '{}' written twice", i, output_);
    TRANOVA_CHECK(state.find_first_of("\t\n\r") == std::string_view::npos, "internal: chunk state with a tab or newline");
    create_record();
    write_file_durably(chunk_path(i), bytes);
    auto c = std::make_unique<chunk_info>();
    c->bytes = bytes.size();
    c->hash = fnv1a64(bytes);
    c->state = std::string(state);
    // The journal line is what makes the chunk count: written after its file is durable.
    append_journal(fmt::format("chunk\t{}\t{}\t{:016x}\t{}\n", i, c->bytes, c->hash, c->state));
    if (chunks_.size() <= static_cast<size_t>(i)) chunks_.resize(static_cast<size_t>(i) + 1);
    chunks_[static_cast<size_t>(i)] = std::move(c);
}

std::string chunked_output::read_chunk(int64_t i) const {
    TRANOVA_CHECK(done(i), "internal: chunk {} of '{}' read before it was written", i, output_);
    std::string bytes;
    TRANOVA_CHECK(read_whole(chunk_path(i), bytes) && bytes.size() == chunks_[static_cast<size_t>(i)]->bytes &&
                      fnv1a64(bytes) == chunks_[static_cast<size_t>(i)]->hash,
                  "{}: changed while the run was writing it", chunk_path(i));
    return bytes;
}

void chunked_output::remove_record() {
    std::error_code ec;
    if (owns_record_) fs::remove_all(dir_, ec);
    owns_record_ = false;
    pending_header_.clear();
    chunks_.clear();
}

void chunked_output::finish(int64_t n_chunks, std::string_view header, std::string_view footer) {
    for (int64_t i = 0; i < n_chunks; ++i) TRANOVA_CHECK(done(i), "internal: chunk {} of '{}' missing at the end", i, output_);
    output_file out(output_, binary_);
    out.write(header);
    for (int64_t i = 0; i < n_chunks; ++i) out.write(read_chunk(i));
    out.write(footer);
    out.commit();
    remove_record();
}

}  // namespace tranova
