// A2M / A3M reading and writing (formats: docs/msa.md).
#include "msa/msa.hpp"

#include "util/error.hpp"
#include "util/text.hpp"
#include "util/output_file.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace tranova::msa {

std::vector<int> alignment::focus_columns() const {
    std::vector<int> cols;
    if (rows.empty()) return cols;
    const std::string& q = rows[0];
    for (std::size_t j = 0; j < q.size(); ++j)
        if (std::isupper(static_cast<unsigned char>(q[j])) || q[j] == '-') cols.push_back(static_cast<int>(j));
    return cols;
}

static bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

format format_from_path(std::string_view path) {
    if (ends_with(path, ".gz")) path.remove_suffix(3);
    else if (ends_with(path, ".bgz")) path.remove_suffix(4);
    return ends_with(path, ".a3m") ? format::a3m : format::a2m;
}

// Whole file through zlib (transparent for uncompressed input; BGZF is gzip-compatible).
static std::string slurp(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    TRANOVA_CHECK(f != nullptr, "{}: cannot open: {}", path, std::strerror(errno));
    gzbuffer(f, 1 << 17);
    std::string out;
    std::vector<char> buf(1 << 20);
    for (;;) {
        int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
        if (n < 0) {
            int err = 0;
            std::string msg = gzerror(f, &err);
            gzclose(f);
            TRANOVA_FAIL("{}: read error: {}", path, msg);
        }
        if (n == 0) break;
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    int err = 0;
    const char* msg = gzerror(f, &err);
    std::string m = msg ? msg : "";
    gzclose(f);
    TRANOVA_CHECK(err == Z_OK || err == Z_STREAM_END, "{}: truncated or corrupt compressed file: {}", path, m);
    return out;
}

alignment read_alignment(const std::string& path, format fmt) {
    if (fmt == format::automatic) fmt = format_from_path(path);
    return parse_alignment(slurp(path), fmt, path);
}

alignment parse_alignment(std::string_view text, format fmt, const std::string& source) {
    if (fmt == format::automatic) fmt = format::a2m;
    strip_utf8_bom(text);
    alignment a;
    const bool a3m = fmt == format::a3m;
    std::size_t pos = 0, line_no = 0;
    std::string cur;
    std::vector<insertion> cur_ins;
    std::size_t record_line = 0;
    bool in_record = false;
    auto finish = [&]() {
        if (!in_record) return;
        std::size_t r = a.rows.size();
        if (r > 0) {
            std::size_t want = a.rows[0].size();
            TRANOVA_CHECK(cur.size() == want,
                          "{}:{}: record {} '{}' has {} aligned columns, the query has {}{}", source, record_line, r + 1,
                          a.names.back(), cur.size(), want,
                          a3m ? "" : " (rows of unequal length: an A3M file? name it .a3m)");
        } else {
            TRANOVA_CHECK(!cur.empty(), "{}:{}: the query record '{}' is empty", source, record_line, a.names.back());
        }
        a.rows.push_back(std::move(cur));
        if (a3m) a.insertions.push_back(std::move(cur_ins));
        cur.clear();
        cur_ins.clear();
    };
    while (pos < text.size()) {
        std::size_t e = text.find('\n', pos);
        if (e == std::string_view::npos) e = text.size();
        std::string_view line = text.substr(pos, e - pos);
        pos = e + 1;
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t' || line.back() == '\0'))
            line.remove_suffix(1);
        while (!line.empty() && line.front() == '\0') line.remove_prefix(1);
        if (line.empty()) continue;
        if (line[0] == '>') {
            finish();
            a.names.emplace_back(line.substr(1));
            in_record = true;
            record_line = line_no;
            continue;
        }
        if (!in_record) {
            if (line[0] == '#') continue;  // ColabFold "#len\tcard" line
            TRANOVA_FAIL("{}:{}: sequence data before the first '>' header", source, line_no);
        }
        for (char c : line) {
            unsigned char u = static_cast<unsigned char>(c);
            if (a3m) {
                if (std::isupper(u) || c == '-' || c == '*') {
                    cur.push_back(c == '*' ? '-' : c);
                } else if (std::islower(u) || c == '.') {
                    if (c == '.') continue;
                    auto after = static_cast<std::int32_t>(cur.size());
                    if (cur_ins.empty() || cur_ins.back().after != after) cur_ins.push_back({after, {}});
                    cur_ins.back().residues.push_back(c);
                } else {
                    TRANOVA_FAIL("{}:{}: invalid character '{}' in record '{}'", source, line_no, c, a.names.back());
                }
            } else {
                TRANOVA_CHECK(std::isalpha(u) || c == '-' || c == '.' || c == '*', "{}:{}: invalid character '{}' in record '{}'",
                              source, line_no, c, a.names.back());
                cur.push_back(c == '*' ? '-' : c);
            }
        }
    }
    finish();
    TRANOVA_CHECK(!a.rows.empty(), "{}: no records (not an A2M/A3M alignment)", source);
    // The query's upper-case columns are the focus (match) columns everything downstream
    // works on; a query with none (all lower case) would silently give zero scores.
    const std::string& query = a.rows[0];
    TRANOVA_CHECK(std::any_of(query.begin(), query.end(), [](char c) { return c >= 'A' && c <= 'Z'; }),
                  "{}: the query record '{}' has no match (upper-case) column: every residue is lower case "
                  "(an insert state), so no column could be scored",
                  source, a.names[0]);
    return a;
}

static void append_wrapped(std::string& out, std::string_view s, int width) {
    if (width <= 0) {
        out.append(s);
        out.push_back('\n');
        return;
    }
    for (std::size_t i = 0; i < s.size(); i += static_cast<std::size_t>(width)) {
        out.append(s.substr(i, static_cast<std::size_t>(width)));
        out.push_back('\n');
    }
    if (s.empty()) out.push_back('\n');
}

std::string to_a2m(const alignment& a, int line_width) {
    std::string out;
    out.reserve(a.num_rows() * (a.num_columns() + 40));
    for (std::size_t r = 0; r < a.num_rows(); ++r) {
        out.push_back('>');
        out.append(a.names[r]);
        out.push_back('\n');
        append_wrapped(out, a.rows[r], line_width);
    }
    return out;
}

std::string to_a3m(const alignment& a, int line_width) {
    std::string out, row;
    for (std::size_t r = 0; r < a.num_rows(); ++r) {
        out.push_back('>');
        out.append(a.names[r]);
        out.push_back('\n');
        row.clear();
        const std::string& s = a.rows[r];
        const std::vector<insertion>* ins = r < a.insertions.size() ? &a.insertions[r] : nullptr;
        std::size_t k = 0;
        for (std::size_t j = 0; j <= s.size(); ++j) {
            while (ins && k < ins->size() && static_cast<std::size_t>((*ins)[k].after) == j) {
                for (char c : (*ins)[k].residues) row.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
                ++k;
            }
            if (j == s.size()) break;
            char c = s[j];
            row.push_back(c == '.' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
        append_wrapped(out, row, line_width);
    }
    return out;
}

void write_alignment(const alignment& a, const std::string& path, format fmt, int line_width) {
    if (fmt == format::automatic) fmt = format_from_path(path);
    output_file out(path);
    out.write(fmt == format::a3m ? to_a3m(a, line_width) : to_a2m(a, line_width));
    out.commit();
}

int aa_index1(char c) {
    switch (std::toupper(static_cast<unsigned char>(c))) {
        case 'A': return 1;  case 'C': return 2;  case 'D': return 3;  case 'E': return 4;
        case 'F': return 5;  case 'G': return 6;  case 'H': return 7;  case 'I': return 8;
        case 'K': return 9;  case 'L': return 10; case 'M': return 11; case 'N': return 12;
        case 'P': return 13; case 'Q': return 14; case 'R': return 15; case 'S': return 16;
        case 'T': return 17; case 'V': return 18; case 'W': return 19; case 'Y': return 20;
        default: return 0;
    }
}

long long header_start(std::string_view name) {
    std::size_t sp = name.find_first_of(" \t");
    if (sp != std::string_view::npos) name = name.substr(0, sp);
    std::size_t slash = name.rfind('/');
    if (slash == std::string_view::npos) return 1;
    std::string_view range = name.substr(slash + 1);
    std::size_t dash = range.find('-');
    if (dash == std::string_view::npos || dash == 0) return 1;
    long long v = 0;
    for (char c : range.substr(0, dash)) {
        if (c < '0' || c > '9') return 1;
        v = v * 10 + (c - '0');
    }
    return v;
}

}  // namespace tranova::msa
