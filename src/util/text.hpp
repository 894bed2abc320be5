// Small string helpers shared by the parsers: splitting, trimming, checked numbers.
// Number parsers return false instead of throwing so callers can name file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tranova {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
bool parse_double(std::string_view s, double& out);  // whole field must be a number (nan/inf allowed)
bool parse_int(std::string_view s, long long& out);
bool starts_with(std::string_view s, std::string_view prefix);
std::string to_upper(std::string_view s);
// Removes a leading UTF-8 byte-order mark (EF BB BF, written by spreadsheet programs and
// Windows editors); true if there was one. Every text reader calls it on its first line so
// that a BOM never hides the first record (an MGF's first BEGIN IONS, a FASTA's first '>').
bool strip_utf8_bom(std::string_view& s);
bool strip_utf8_bom(std::string& s);
// Escapes <, >, & and " for XML/SVG text and attribute values.
std::string xml_escape(std::string_view s);

// Text inside one field of a tab-separated line: `\` `\t` `\n` `\r` (and space as `\s`
// when the field is itself split on spaces) are written as backslash escapes;
// tsv_unescape reverses either form.
std::string tsv_escape(std::string_view s, bool escape_space = false);
std::string tsv_unescape(std::string_view s);

// "[2, 3]": a tensor shape as error messages write it.
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace tranova
