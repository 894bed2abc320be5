#include "core/json.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tranova::core {

namespace {
// Hostile-input bounds: depth keeps the recursive parser, dump and destructor shallow;
// the value count caps memory (a json_value is ~150 bytes, so "[0,0,0,..." would
// otherwise cost 75 times its size). Real inputs: configs and safetensors headers of
// at most some 10^5 values.
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxJsonValues = size_t(1) << 22;
constexpr uintmax_t kMaxJsonFileBytes = uintmax_t(256) << 20;

struct parser {
    const char* p;
    const char* end;
    const char* begin;
    const std::string& label;
    int depth = 0;
    size_t values = 0;

    [[noreturn]] void fail(const char* what) {
        TRANOVA_FAIL("{}: invalid JSON at byte {}: {}", label, (size_t)(p - begin), what);
    }
    void ws() {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    }
    bool lit(const char* s) {
        size_t n = std::strlen(s);
        if ((size_t)(end - p) >= n && std::memcmp(p, s, n) == 0) return p += n, true;
        return false;
    }
    static void utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) out += (char)cp;
        else if (cp < 0x800) out += (char)(0xC0 | (cp >> 6)), out += (char)(0x80 | (cp & 0x3F));
        else if (cp < 0x10000)
            out += (char)(0xE0 | (cp >> 12)), out += (char)(0x80 | ((cp >> 6) & 0x3F)), out += (char)(0x80 | (cp & 0x3F));
        else
            out += (char)(0xF0 | (cp >> 18)), out += (char)(0x80 | ((cp >> 12) & 0x3F)),
                out += (char)(0x80 | ((cp >> 6) & 0x3F)), out += (char)(0x80 | (cp & 0x3F));
    }
    unsigned hex4() {
        if (end - p < 4) fail("truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
            char c = *p++;
            v <<= 4;
            if (c >= '0' && c <= '9') v |= c - '0';
            else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
            else fail("bad \\u escape");
        }
        return v;
    }
    std::string string() {
        if (p >= end || *p != '"') fail("expected a string");
        p++;
        std::string s;
        while (true) {
            if (p >= end) fail("unterminated string");
            char c = *p++;
            if (c == '"') break;
            if ((unsigned char)c < 0x20) fail("control character in string");
            if (c != '\\') {
                s += c;
                continue;
            }
            if (p >= end) fail("unterminated escape");
            c = *p++;
            switch (c) {
                case '"': s += '"'; break;
                case '\\': s += '\\'; break;
                case '/': s += '/'; break;
                case 'b': s += '\b'; break;
                case 'f': s += '\f'; break;
                case 'n': s += '\n'; break;
                case 'r': s += '\r'; break;
                case 't': s += '\t'; break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xDC00 && cp < 0xE000) fail("lone low surrogate in \\u escape");
                    if (cp >= 0xD800 && cp < 0xDC00) {
                        if (!(end - p >= 6 && p[0] == '\\' && p[1] == 'u')) fail("lone high surrogate in \\u escape");
                        p += 2;
                        unsigned lo = hex4();
                        if (lo < 0xDC00 || lo >= 0xE000) fail("high surrogate not followed by a low one");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    utf8(s, cp);
                    break;
                }
                default: fail("bad escape");
            }
        }
        return s;
    }
    json_value value() {
        ws();
        if (p >= end) fail("unexpected end");
        json_value v;
        if (++depth > kMaxJsonDepth) fail("nesting deeper than 64 levels");
        if (++values > kMaxJsonValues) fail("more than 4194304 values");
        char c = *p;
        if (c == '{') {
            v.kind = json_value::object_v;
            p++;
            ws();
            if (p < end && *p == '}') p++;
            else
                while (true) {
                    ws();
                    std::string k = string();
                    ws();
                    if (p >= end || *p != ':') fail("expected ':'");
                    p++;
                    v.members.emplace_back(std::move(k), value());
                    ws();
                    if (p < end && *p == ',') { p++; continue; }
                    if (p < end && *p == '}') { p++; break; }
                    fail("expected ',' or '}'");
                }
        } else if (c == '[') {
            v.kind = json_value::array_v;
            p++;
            ws();
            if (p < end && *p == ']') p++;
            else
                while (true) {
                    v.items.push_back(value());
                    ws();
                    if (p < end && *p == ',') { p++; continue; }
                    if (p < end && *p == ']') { p++; break; }
                    fail("expected ',' or ']'");
                }
        } else if (c == '"') {
            v.kind = json_value::string_v;
            v.str = string();
        } else if (lit("true")) {
            v.kind = json_value::bool_v, v.b = true;
        } else if (lit("false")) {
            v.kind = json_value::bool_v, v.b = false;
        } else if (lit("null")) {
            v.kind = json_value::null_v;
        } else if (lit("NaN") || lit("Infinity") || lit("-Infinity")) {  // Python's json
            v.kind = json_value::number_v;
            v.str = p[-1] == 'N' ? "nan" : (c == '-' ? "-inf" : "inf");
            v.num = std::strtod(v.str.c_str(), nullptr);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = json_value::number_v;
            const char* s = p;
            while (p < end && *p && std::strchr("+-0123456789.eE", *p) != nullptr) p++;
            v.str.assign(s, p);
            char* e = nullptr;
            v.num = std::strtod(v.str.c_str(), &e);
            if (v.str.empty() || e != v.str.c_str() + v.str.size()) fail("bad number");
            if (v.str.find_first_of(".eE") == std::string::npos) {
                errno = 0;
                long long iv = std::strtoll(v.str.c_str(), nullptr, 10);
                if (errno == 0) v.is_integer = true, v.integer = iv;
            }
        } else {
            fail("unexpected character");
        }
        depth--;
        return v;
    }
};

void dump_into(const json_value& v, std::string& out) {
    switch (v.kind) {
        case json_value::null_v: out += "null"; break;
        case json_value::bool_v: out += v.b ? "true" : "false"; break;
        case json_value::number_v: out += v.str; break;
        case json_value::string_v: {
            out += '"';
            for (char c : v.str) {
                if (c == '"' || c == '\\') out += '\\';
                out += c;
            }
            out += '"';
            break;
        }
        case json_value::array_v:
            out += '[';
            for (size_t i = 0; i < v.items.size(); i++) {
                if (i) out += ", ";
                dump_into(v.items[i], out);
            }
            out += ']';
            break;
        case json_value::object_v:
            out += '{';
            for (size_t i = 0; i < v.members.size(); i++) {
                if (i) out += ", ";
                json_value k;
                k.kind = json_value::string_v, k.str = v.members[i].first;
                dump_into(k, out);
                out += ": ";
                dump_into(v.members[i].second, out);
            }
            out += '}';
            break;
    }
}
}  // namespace

json_value::json_value() = default;
json_value::~json_value() = default;
json_value::json_value(const json_value&) = default;
json_value::json_value(json_value&&) noexcept = default;
json_value& json_value::operator=(const json_value&) = default;
json_value& json_value::operator=(json_value&&) noexcept = default;

const json_value* json_value::find(const std::string& key) const {
    for (auto& [k, v] : members)
        if (k == key) return &v;
    return nullptr;
}

std::string json_value::dump() const {
    std::string s;
    dump_into(*this, s);
    return s;
}

json_value json_parse(const char* data, size_t size, const std::string& label) {
    parser ps{data, data + size, data, label};
    json_value v = ps.value();
    ps.ws();
    if (ps.p != ps.end) ps.fail("trailing characters");
    return v;
}

json_value json_parse_file(const std::string& path) {
    std::error_code ec;
    TRANOVA_CHECK(!std::filesystem::is_directory(path, ec), "{}: is a directory, not a JSON file", path);
    std::ifstream in(path, std::ios::binary);
    TRANOVA_CHECK(in, "{}: cannot open", path);
    const auto bytes = std::filesystem::file_size(path, ec);
    TRANOVA_CHECK(ec || bytes <= kMaxJsonFileBytes, "{}: {} bytes is too large for a JSON config (limit 256 MiB)", path,
                  bytes);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return json_parse(s.data(), s.size(), path);
}

}  // namespace tranova::core
