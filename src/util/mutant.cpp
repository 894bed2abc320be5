// The mutant-string parser (see mutant.hpp).
#include "util/mutant.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <cctype>

namespace tranova {

std::vector<substitution> parse_mutant(std::string_view mutant, std::string_view target, const std::string& where,
                                       std::string_view target_name) {
    std::vector<substitution> subs;
    const std::string m(trim(mutant));
    TRANOVA_CHECK(!m.empty(), "{}: empty mutant", where);
    for (std::string_view part : split(m, ':')) {
        part = trim(part);
        long long pos = 0;
        const bool ok = part.size() >= 3 && parse_int(part.substr(1, part.size() - 2), pos) &&
                        std::isalpha(static_cast<unsigned char>(part.front())) &&
                        std::isalpha(static_cast<unsigned char>(part.back()));
        TRANOVA_CHECK(ok, "{}: malformed mutant '{}' (expected e.g. A12G or A12G:C34D)", where, m);
        const char wt = part.front(), mt = part.back();
        TRANOVA_CHECK(pos >= 1 && pos <= static_cast<long long>(target.size()),
                      "{}: mutant '{}' position {} is outside {} (length {})", where, m, pos, target_name, target.size());
        TRANOVA_CHECK(target[pos - 1] == wt, "{}: mutant '{}' expects wild-type {} at position {} but {} has {}", where,
                      m, wt, pos, target_name, target[pos - 1]);
        for (const substitution& s : subs)
            TRANOVA_CHECK(s.pos != pos - 1, "{}: mutant '{}': position {} appears more than once", where, m, pos);
        subs.push_back({wt, static_cast<int>(pos - 1), mt});
    }
    return subs;
}

}  // namespace tranova
