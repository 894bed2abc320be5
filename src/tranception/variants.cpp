#include "tranception/variants.hpp"

#include "tranception/tokenizer.hpp"
#include "util/error.hpp"
#include "util/mutant.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace tranova::tranception {

std::string check_sequence(std::string_view seq) {
    static const std::string_view extra = "XBJZUO";
    for (size_t i = 0; i < seq.size(); ++i) {
        char c = seq[i];
        if (!is_standard_aa(c) && extra.find(c) == std::string_view::npos)
            return fmt::format("non-amino-acid character '{}' at position {}",
                               (c >= 32 && c < 127) ? std::string(1, c) : fmt::format("\\x{:02x}", (unsigned char)c), i + 1);
    }
    return "";
}

variant variant_from_mutant(std::string_view mutant, const std::string& target, const std::string& where) {
    variant v;
    v.mutant = std::string(trim(mutant));
    v.sequence = target;
    for (const substitution& s : parse_mutant(v.mutant, target, where, "the target sequence")) {
        TRANOVA_CHECK(is_standard_aa(s.mt), "{}: mutant '{}': new residue '{}' is not one of the 20 amino acids", where,
                      v.mutant, s.mt);
        v.sequence[s.pos] = s.mt;
        v.positions.push_back(s.pos);
    }
    return v;
}

variant variant_from_sequence(std::string_view sequence, const std::string& target, const std::string& where) {
    variant v;
    v.sequence = std::string(trim(sequence));
    v.from_sequence = true;
    std::string bad = check_sequence(v.sequence);
    TRANOVA_CHECK(bad.empty(), "{}: mutated_sequence has a {}", where, bad);
    TRANOVA_CHECK(!v.sequence.empty(), "{}: empty mutated_sequence", where);
    if (v.sequence.size() != target.size()) {
        v.indel = true;
        return v;
    }
    std::string m;
    for (size_t i = 0; i < target.size(); ++i)
        if (target[i] != v.sequence[i]) {
            if (!m.empty()) m += ':';
            m += fmt::format("{}{}{}", target[i], i + 1, v.sequence[i]);
            v.positions.push_back(static_cast<int>(i));
        }
    v.mutant = m;
    return v;
}

std::vector<variant> all_single_substitutions(const std::string& target) {
    std::vector<variant> out;
    for (size_t i = 0; i < target.size(); ++i)
        for (int a = 0; a < 20; ++a) {
            char mt = amino_acids[a];
            if (mt == target[i]) continue;
            variant v;
            v.mutant = fmt::format("{}{}{}", target[i], i + 1, mt);
            v.sequence = target;
            v.sequence[i] = mt;
            v.positions = {static_cast<int>(i)};
            out.push_back(std::move(v));
        }
    return out;
}

}  // namespace tranova::tranception
