// Byte sources for the streaming readers: a file (fread in 4 MiB chunks; gzip through zlib) or a memory
// buffer, and a line splitter over them that keeps one buffer and counts lines.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::denovo {

class byte_source {
public:
    virtual ~byte_source() = default;
    // Reads up to n bytes into buf; 0 at end. Throws tranova::error on a read error.
    virtual size_t read(char* buf, size_t n) = 0;
};

// A file, decompressed on the fly when it starts with the gzip magic bytes (gzip or
// BGZF, whatever the file name says).
std::unique_ptr<byte_source> open_file_source(const std::string& path);
bool is_gzip_file(const std::string& path);
std::unique_ptr<byte_source> memory_source(std::string data);

class line_source {
public:
    explicit line_source(std::unique_ptr<byte_source> src, size_t chunk = size_t(4) << 20);
    // Next line without its "\n" / "\r\n"; the view lives until the next call. A UTF-8
    // byte-order mark at the start of the first line is dropped.
    bool next(std::string_view& line);
    long line() const { return line_; }        // 1-based number of the last line returned
    uint64_t consumed() const { return consumed_; }

private:
    std::unique_ptr<byte_source> src_;
    std::vector<char> buf_;
    size_t chunk_, pos_ = 0, end_ = 0;
    bool eof_ = false;
    long line_ = 0;
    uint64_t consumed_ = 0;
};

}  // namespace tranova::denovo
