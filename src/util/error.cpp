#include "util/error.hpp"

#include <iterator>

namespace tranova {

std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    auto hex = [&](unsigned v) { fmt::format_to(std::back_inserter(out), "\\x{:02X}", v); };
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        if (c < 0x80) {
            switch (c) {
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case 0: out.append("\\0"); break;
                default: hex(c);
            }
            ++i;
            continue;
        }
        // A UTF-8 sequence: lead byte, length, minimum code point (no overlongs/surrogates).
        std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        unsigned cp = len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
        bool ok = len > 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            ok = (d & 0xC0) == 0x80;
            cp = cp << 6 | (d & 0x3Fu);
        }
        ok = ok && !(len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) && !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF));
        if (!ok) {
            hex(c);
            ++i;
            continue;
        }
        const bool invisible = (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
                               (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
        if (invisible)
            fmt::format_to(std::back_inserter(out), "\\u{{{:04X}}}", cp);
        else
            out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

}  // namespace tranova
