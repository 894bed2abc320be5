#include "tranception/json_lite.hpp"

#include "util/error.hpp"

#include <cctype>
#include <cstdlib>

namespace tranova::tranception::json {
namespace {

struct parser {
    std::string_view s;
    size_t i = 0;
    const std::string& what;

    [[noreturn]] void fail(const char* msg) { TRANOVA_FAIL("{}: malformed JSON at byte {}: {}", what, i, msg); }
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
    }
    bool eat(char c) {
        ws();
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    std::string string_lit() {
        if (!eat('"')) fail("expected a string");
        std::string out;
        while (i < s.size() && s[i] != '"') {
            char c = s[i++];
            if (c == '\\') {
                if (i >= s.size()) fail("bad escape");
                char e = s[i++];
                switch (e) {
                    case 'n': out += '\n'; break;
                    case 't': out += '\t'; break;
                    case 'r': out += '\r'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'u':
                        if (i + 4 > s.size()) fail("bad \\u escape");
                        out += '?';  // non-ASCII never matters for our keys
                        i += 4;
                        break;
                    default: out += e;
                }
            } else {
                out += c;
            }
        }
        if (i >= s.size()) fail("unterminated string");
        ++i;
        return out;
    }
    value parse_value() {
        ws();
        if (i >= s.size()) fail("unexpected end");
        value v;
        char c = s[i];
        if (c == '{') {
            ++i;
            v.kind = value::object_v;
            if (eat('}')) return v;
            do {
                std::string k = string_lit();
                if (!eat(':')) fail("expected ':'");
                v.obj.emplace_back(std::move(k), parse_value());
            } while (eat(','));
            if (!eat('}')) fail("expected '}'");
        } else if (c == '[') {
            ++i;
            v.kind = value::array_v;
            if (eat(']')) return v;
            do v.arr.push_back(parse_value());
            while (eat(','));
            if (!eat(']')) fail("expected ']'");
        } else if (c == '"') {
            v.kind = value::string_v;
            v.str = string_lit();
        } else if (s.substr(i, 4) == "true") {
            v.kind = value::bool_v, v.b = true, i += 4;
        } else if (s.substr(i, 5) == "false") {
            v.kind = value::bool_v, i += 5;
        } else if (s.substr(i, 4) == "null") {
            i += 4;
        } else {
            std::string num;
            while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '+' ||
                                    s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
                num += s[i++];
            if (num.empty()) fail("unexpected character");
            char* end = nullptr;
            v.kind = value::number_v;
            v.num = std::strtod(num.c_str(), &end);
            if (!end || *end) fail("bad number");
        }
        return v;
    }
};

}  // namespace

value parse(std::string_view text, const std::string& what) {
    parser p{text, 0, what};
    value v = p.parse_value();
    p.ws();
    if (p.i != text.size()) p.fail("trailing characters");
    return v;
}

}  // namespace tranova::tranception::json
