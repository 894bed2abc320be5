// A streaming CSV/TSV reader (RFC 4180 quoting, CRLF tolerated) that knows its file name
// and line number, so every caller can report "FILE:LINE: problem". Used by gym, score
// and denovo eval for ProteinGym-style tables.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tranova {

class csv_reader {
public:
    // Opens `path` ("-" = stdin) and reads the header row. Throws tranova::error naming
    // the file when it can't be read or is empty.
    explicit csv_reader(const std::string& path, char sep = ',');
    ~csv_reader();
    csv_reader(const csv_reader&) = delete;
    csv_reader& operator=(const csv_reader&) = delete;

    const std::vector<std::string>& header() const { return header_; }
    // Index of a column, or -1.
    int column(std::string_view name) const;
    // Index of a column; throws "FILE: missing column 'name'" when absent.
    int require_column(std::string_view name) const;

    // Reads the next record into fields; false at end of file. A record whose field
    // count differs from the header's throws "FILE:LINE: expected N fields, found M".
    bool next(std::vector<std::string>& fields);
    // 1-based line number where the last record returned by next() starts.
    long line() const { return record_line_; }
    const std::string& path() const { return path_; }
    // "FILE:LINE" of the last record, for error messages.
    std::string where() const;

private:
    bool read_record(std::vector<std::string>& fields);
    std::string path_;
    std::FILE* fp_ = nullptr;
    char sep_;
    long line_ = 0, record_line_ = 0;
    std::vector<std::string> header_;
    std::unordered_map<std::string, int> index_;
    std::string buf_;
};

// Quotes a field for CSV output when needed (separator, quote, newline).
std::string csv_escape(std::string_view field, char sep = ',');

}  // namespace tranova
