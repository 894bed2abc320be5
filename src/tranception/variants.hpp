// Variants to score: ProteinGym mutant strings ("A12G:C34D", 1-based on the target) and
// full mutated sequences (substitutions or indels), checked against the target. Every
// problem is reported with the caller's "FILE:LINE" context; nothing is scored silently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tranova::tranception {

struct variant {
    std::string mutant;          // as given, or derived ("A12G:..."); "" for indels / the WT
    std::string sequence;        // full mutated sequence
    std::vector<int> positions;  // 0-based mutated positions in the order listed (substitutions)
    bool indel = false;          // length differs from the target (scored on window [0, len))
    bool from_sequence = false;  // given as a full sequence without a mutant string: with
                                 // retrieval it is aligned like an indel (compensating indels)
};

// Checks a protein sequence: letters of the 20 amino acids plus X, B, J, Z, U, O (the
// first four are replaced at scoring time, U/O become [UNK] as in the official tokenizer).
// Returns "" or a description of the first offending character.
std::string check_sequence(std::string_view seq);

// Parses a mutant string against `target`. Throws tranova::error "<where>: ..." for a
// malformed token, a position outside the target, a wild-type residue that does not
// match, or a new residue that is not one of the 20 amino acids.
variant variant_from_mutant(std::string_view mutant, const std::string& target, const std::string& where);

// Builds a variant from a full sequence: equal length -> substitutions (mutant derived),
// otherwise an indel. Throws on characters that are not amino acids.
variant variant_from_sequence(std::string_view sequence, const std::string& target, const std::string& where);

// Every single substitution of `target` (positions x 19), position-major, amino acids in
// ACDEFGHIKLMNPQRSTVWY order.
std::vector<variant> all_single_substitutions(const std::string& target);

}  // namespace tranova::tranception
