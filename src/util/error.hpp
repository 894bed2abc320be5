// tranova::error and the TRANOVA_CHECK macro: how library code reports failure.
// Library code throws; only apps/ turns an exception into one stderr line and an exit
// code (error -> 1, usage_error -> 2). The message must name the file, record and
// problem, because it is all the user sees.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace tranova {

// `s` made safe for one line of a terminal or log: control characters (newline, NUL,
// ESC...), bytes that are not valid UTF-8 and invisible Unicode controls (C1, bidi
// overrides, zero-width) become \n, \0, \xHH or \u{HHHH}; valid UTF-8 text is kept.
std::string printable(std::string_view s);

// A runtime failure (bad input file, I/O error, numerical problem): exit code 1.
class error : public std::runtime_error {
public:
    explicit error(const std::string& what, const char* file = nullptr, int line = 0)
        : std::runtime_error(printable(what)), file_(file ? file : ""), line_(line) {}
    // Source location of the check that threw, for --verbose diagnostics.
    const std::string& source_file() const { return file_; }
    int source_line() const { return line_; }

private:
    std::string file_;
    int line_;
};

// A command-line mistake (unknown option, missing argument, bad value): exit code 2.
class usage_error : public std::runtime_error {
public:
    explicit usage_error(const std::string& what) : std::runtime_error(printable(what)) {}
};

}  // namespace tranova

// TRANOVA_CHECK(cond, "format {}", args...): throw tranova::error with the formatted
// message (and the source location) when cond is false.
#define TRANOVA_CHECK(cond, ...)                                                  \
    do {                                                                          \
        if (!(cond)) throw ::tranova::error(fmt::format(__VA_ARGS__), __FILE__, __LINE__); \
    } while (0)

// TRANOVA_FAIL("format {}", args...): throw unconditionally.
#define TRANOVA_FAIL(...) throw ::tranova::error(fmt::format(__VA_ARGS__), __FILE__, __LINE__)
