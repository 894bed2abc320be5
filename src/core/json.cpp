// The JSON reader: nlohmann-json's SAX parser builds a json_value under the hostile-input
// bounds (see json.hpp). A position-tracking input iterator tells the handler where the
// parser is, so that every error names the byte offset.
#include "core/json.hpp"

#include "util/error.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace tranova::core {

namespace {
// Hostile-input bounds: depth keeps dump and the destructor shallow; the value count caps
// memory (a json_value is ~150 bytes, so "[0,0,0,..." would otherwise cost 75 times its
// size). Real inputs: configs and safetensors headers of at most some 10^5 values.
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxJsonValues = size_t(1) << 22;
constexpr uintmax_t kMaxJsonFileBytes = uintmax_t(256) << 20;

// A const char* that publishes how far nlohmann's lexer has read (it reads one byte at a
// time through operator++, never ahead of the token it is scanning).
struct tracking_iterator {
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;
    const char* p = nullptr;
    const char** cursor = nullptr;
    reference operator*() const { return *p; }
    tracking_iterator& operator++() {
        *cursor = ++p;
        return *this;
    }
    tracking_iterator operator++(int) {
        tracking_iterator t = *this;
        ++*this;
        return t;
    }
    bool operator==(const tracking_iterator& o) const { return p == o.p; }
    bool operator!=(const tracking_iterator& o) const { return p != o.p; }
};

// Python's json writes NaN, Infinity and -Infinity as bare tokens, which JSON (and
// nlohmann) rejects. They are replaced, outside strings, by strings of the same length
// ("N", "++++++", "-------"), so byte offsets stay true; the handler turns a string that
// ends where a replaced token ended back into the number.
struct python_literal {
    size_t begin, end;  // byte offsets of the token and just past it
    double value;
};

std::vector<python_literal> replace_python_literals(std::string& text) {
    std::vector<python_literal> found;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
            continue;
        }
        auto at = [&](const char* tok) { return text.compare(i, std::strlen(tok), tok) == 0; };
        const char* tok = at("NaN") ? "NaN" : at("Infinity") ? "Infinity" : at("-Infinity") ? "-Infinity" : nullptr;
        if (!tok) continue;
        const size_t n = std::strlen(tok);
        text.replace(i, n, "\"" + std::string(n - 2, tok[0] == 'N' ? 'N' : tok[0] == '-' ? '-' : '+') + "\"");
        found.push_back({i, i + n, tok[0] == 'N' ? std::numeric_limits<double>::quiet_NaN()
                                 : tok[0] == '-' ? -std::numeric_limits<double>::infinity()
                                                 : std::numeric_limits<double>::infinity()});
        i += n - 1;
    }
    return found;
}

class builder : public nlohmann::json_sax<nlohmann::json> {
public:
    builder(const char* begin, const char* const* cursor, const std::string& label,
            const std::vector<python_literal>& literals)
        : begin_(begin), cursor_(cursor), label_(label), literals_(literals) {}

    json_value result;

    [[noreturn]] void fail(size_t offset, const std::string& what) const {
        TRANOVA_FAIL("{}: invalid JSON at byte {}: {}", label_, offset, what);
    }

    bool null() override { return leaf().kind = json_value::null_v, true; }
    bool boolean(bool v) override {
        json_value& x = leaf();
        x.kind = json_value::bool_v, x.b = v;
        return true;
    }
    bool number_integer(number_integer_t v) override {
        json_value& x = leaf();
        x.kind = json_value::number_v, x.num = double(v), x.is_integer = true, x.integer = v;
        x.str = std::to_string(v);
        return true;
    }
    bool number_unsigned(number_unsigned_t v) override {
        json_value& x = leaf();
        x.kind = json_value::number_v, x.num = double(v), x.str = std::to_string(v);
        if (v <= number_unsigned_t(std::numeric_limits<long long>::max())) x.is_integer = true, x.integer = (long long)v;
        return true;
    }
    bool number_float(number_float_t v, const string_t& raw) override {
        json_value& x = leaf();
        x.kind = json_value::number_v, x.num = v, x.str = raw;
        return true;
    }
    bool string(string_t& v) override {
        const bool literal = next_literal_ends_here();
        json_value& x = leaf();
        if (literal) {
            const double d = literals_[next_literal_++].value;
            x.kind = json_value::number_v, x.num = d;
            x.str = d != d ? "nan" : d > 0 ? "inf" : "-inf";
        } else {
            x.kind = json_value::string_v, x.str = std::move(v);
        }
        return true;
    }
    bool binary(binary_t&) override { return true; }  // not produced by the text parser
    bool start_object(std::size_t) override { return open(json_value::object_v); }
    bool key(string_t& k) override {
        // A replaced NaN/Infinity is never a key: "{NaN: 1}" stays invalid.
        if (next_literal_ends_here()) fail(literals_[next_literal_].begin, "unexpected character");
        key_ = std::move(k);
        return true;
    }
    bool end_object() override { return stack_.pop_back(), --depth_, true; }
    bool start_array(std::size_t) override { return open(json_value::array_v); }
    bool end_array() override { return stack_.pop_back(), --depth_, true; }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
        // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
        std::string what = ex.what();
        if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
        fail(position > 0 ? position - 1 : 0, printable(what));
    }

private:
    size_t offset() const { return size_t(*cursor_ - begin_); }

    bool next_literal_ends_here() const {
        return next_literal_ < literals_.size() && literals_[next_literal_].end == offset();
    }

    // The value being started: the root, the next array item or the member named by key_.
    json_value& leaf() {
        if (++values_ > kMaxJsonValues) fail(offset() - 1, fmt::format("more than {} values", kMaxJsonValues));
        if (stack_.empty()) return result;
        json_value& top = *stack_.back();
        if (top.kind == json_value::array_v) return top.items.emplace_back();
        return top.members.emplace_back(std::move(key_), json_value()).second;
    }

    bool open(json_value::kind_t kind) {
        // The lexer has just read the bracket.
        if (++depth_ > kMaxJsonDepth) fail(offset() - 1, fmt::format("nesting deeper than {} levels", kMaxJsonDepth));
        json_value& x = leaf();
        x.kind = kind;
        stack_.push_back(&x);
        return true;
    }

    const char* begin_;
    const char* const* cursor_;
    const std::string& label_;
    const std::vector<python_literal>& literals_;
    size_t next_literal_ = 0;
    std::vector<json_value*> stack_;  // open containers, root first
    std::string key_;
    int depth_ = 0;
    size_t values_ = 0;
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
    std::string copy;
    std::vector<python_literal> literals;
    if (std::memchr(data, 'N', size) || std::memchr(data, 'I', size)) {
        copy.assign(data, size);
        literals = replace_python_literals(copy);
        if (!literals.empty()) data = copy.data();
    }
    const char* cursor = data;
    builder b(data, &cursor, label, literals);
    tracking_iterator first{data, &cursor}, last{data + size, &cursor};
    nlohmann::json::sax_parse(first, last, &b, nlohmann::json::input_format_t::json, /*strict=*/true);
    return std::move(b.result);
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
