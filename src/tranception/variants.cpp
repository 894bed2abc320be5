#include "tranception/variants.hpp"

#include "tranception/tokenizer.hpp"
#include "util/error.hpp"
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
    TRANOVA_CHECK(!v.mutant.empty(), "{}: empty mutant", where);
    for (auto tok : split(v.mutant, ':')) {
        tok = trim(tok);
        long long pos = 0;
        bool ok = tok.size() >= 3 && parse_int(tok.substr(1, tok.size() - 2), pos) &&
                  std::isalpha(static_cast<unsigned char>(tok.front())) && std::isalpha(static_cast<unsigned char>(tok.back()));
        TRANOVA_CHECK(ok, "{}: malformed mutant '{}' (expected e.g. A12G or A12G:C34D)", where, v.mutant);
        char wt = tok.front(), mt = tok.back();
        TRANOVA_CHECK(pos >= 1 && pos <= static_cast<long long>(target.size()),
                      "{}: mutant '{}' position {} is outside the target sequence (length {})", where, v.mutant, pos,
                      target.size());
        TRANOVA_CHECK(target[pos - 1] == wt,
                      "{}: mutant '{}' expects wild-type {} at position {} but the target has {}", where, v.mutant, wt,
                      pos, target[pos - 1]);
        TRANOVA_CHECK(is_standard_aa(mt), "{}: mutant '{}': new residue '{}' is not one of the 20 amino acids", where,
                      v.mutant, mt);
        // A position given twice (H5C:H5D, H24Y:H24Y) names no single variant.
        TRANOVA_CHECK(std::find(v.positions.begin(), v.positions.end(), pos - 1) == v.positions.end(),
                      "{}: mutant '{}': position {} appears more than once", where, v.mutant, pos);
        v.sequence[pos - 1] = mt;
        v.positions.push_back(static_cast<int>(pos - 1));
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
