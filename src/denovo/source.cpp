#include "denovo/source.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <zlib.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace tranova::denovo {

namespace {

class file_source final : public byte_source {
public:
    explicit file_source(const std::string& path) : path_(path) {
        fp_ = std::fopen(path.c_str(), "rb");
        TRANOVA_CHECK(fp_, "{}: cannot open: {}", path, std::strerror(errno));
    }
    ~file_source() override {
        if (fp_) std::fclose(fp_);
    }
    size_t read(char* buf, size_t n) override {
        size_t got = std::fread(buf, 1, n, fp_);
        TRANOVA_CHECK(got == n || !std::ferror(fp_), "{}: read error: {}", path_, std::strerror(errno));
        return got;
    }

private:
    std::string path_;
    std::FILE* fp_ = nullptr;
};

// gzip (and BGZF, which is gzip with extra fields) read through zlib; concatenated
// members are read as one stream, as gzip -d does. A truncated or corrupt stream is a
// file error, never a silently shortened file.
class gz_source final : public byte_source {
public:
    explicit gz_source(const std::string& path) : path_(path) {
        gz_ = gzopen(path.c_str(), "rb");
        TRANOVA_CHECK(gz_, "{}: cannot open: {}", path, std::strerror(errno));
        gzbuffer(gz_, 1 << 18);
    }
    ~gz_source() override {
        if (gz_) gzclose(gz_);
    }
    size_t read(char* buf, size_t n) override {
        unsigned want = static_cast<unsigned>(std::min<size_t>(n, INT_MAX));
        int got = gzread(gz_, buf, want);
        int code = Z_OK;
        const char* msg = gzerror(gz_, &code);
        // zlib reports a stream cut short as Z_BUF_ERROR once the last bytes are used up.
        TRANOVA_CHECK(got >= 0 && code == Z_OK, "{}: {} gzip data at uncompressed byte {}: {}", path_,
                      code == Z_BUF_ERROR ? "truncated" : "corrupt", done_, msg ? msg : "read error");
        done_ += static_cast<uint64_t>(got);
        return static_cast<size_t>(got);
    }

private:
    std::string path_;
    gzFile gz_ = nullptr;
    uint64_t done_ = 0;
};

class mem_source final : public byte_source {
public:
    explicit mem_source(std::string data) : data_(std::move(data)) {}
    size_t read(char* buf, size_t n) override {
        size_t k = std::min(n, data_.size() - pos_);
        std::memcpy(buf, data_.data() + pos_, k);
        pos_ += k;
        return k;
    }

private:
    std::string data_;
    size_t pos_ = 0;
};

}  // namespace

bool is_gzip_file(const std::string& path) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    TRANOVA_CHECK(fp, "{}: cannot open: {}", path, std::strerror(errno));
    unsigned char magic[2] = {0, 0};
    size_t got = std::fread(magic, 1, 2, fp);
    std::fclose(fp);
    return got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

std::unique_ptr<byte_source> open_file_source(const std::string& path) {
    if (is_gzip_file(path)) return std::make_unique<gz_source>(path);
    return std::make_unique<file_source>(path);
}
std::unique_ptr<byte_source> memory_source(std::string data) { return std::make_unique<mem_source>(std::move(data)); }

line_source::line_source(std::unique_ptr<byte_source> src, size_t chunk)
    : src_(std::move(src)), buf_(chunk), chunk_(chunk) {}

bool line_source::next(std::string_view& line) {
    for (;;) {
        if (pos_ < end_) {
            const char* start = buf_.data() + pos_;
            const void* nl = std::memchr(start, '\n', end_ - pos_);
            if (nl) {
                size_t len = static_cast<const char*>(nl) - start;
                consumed_ += len + 1;
                pos_ += len + 1;
                if (len && start[len - 1] == '\r') --len;
                line = std::string_view(start, len);
                if (++line_ == 1) strip_utf8_bom(line);
                return true;
            }
            if (eof_) {
                size_t len = end_ - pos_;
                consumed_ += len;
                pos_ = end_;
                if (len && start[len - 1] == '\r') --len;
                line = std::string_view(start, len);
                if (++line_ == 1) strip_utf8_bom(line);
                return true;
            }
        } else if (eof_) {
            return false;
        }
        // Keep the partial line, make room (grow for very long lines) and read more.
        size_t rest = end_ - pos_;
        if (pos_ > 0 && rest) std::memmove(buf_.data(), buf_.data() + pos_, rest);
        pos_ = 0;
        end_ = rest;
        if (buf_.size() - end_ < chunk_ / 2) buf_.resize(buf_.size() * 2);
        size_t got = src_->read(buf_.data() + end_, buf_.size() - end_);
        if (got == 0) eof_ = true;
        end_ += got;
    }
}

}  // namespace tranova::denovo
