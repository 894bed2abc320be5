#include "denovo/source.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <cerrno>
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

std::unique_ptr<byte_source> open_file_source(const std::string& path) { return std::make_unique<file_source>(path); }
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
