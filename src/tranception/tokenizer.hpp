// The Tranception tokenizer (spec tranception.md §1): 25 ids, [CLS] seq [SEP], one token
// per character, anything outside the 25 tokens -> [UNK] (0). The random replacement of
// X/B/J/Z (§1.3) is done before tokenization with a seeded generator, so runs are
// reproducible (the official code draws from numpy's global RNG).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::tranception {

inline constexpr int tok_unk = 0, tok_cls = 1, tok_sep = 2, tok_pad = 3, tok_mask = 4;
inline constexpr int vocab_size = 25;
inline constexpr char amino_acids[] = "ACDEFGHIKLMNPQRSTVWY";  // ids 5..24

// Token id of one residue character (uppercase standard amino acid -> 5..24, else 0).
inline int residue_id(char c) {
    static const auto table = [] {
        std::array<signed char, 256> t{};
        for (int i = 0; i < 20; ++i) t[static_cast<unsigned char>(amino_acids[i])] = static_cast<signed char>(5 + i);
        return t;
    }();
    return table[static_cast<unsigned char>(c)];
}
inline bool is_standard_aa(char c) { return residue_id(c) != 0; }

// "[CLS] seq [SEP]" ids. Characters are NOT uppercased (as officially); truncation is the
// caller's business (windows never exceed the context).
std::vector<int> encode(std::string_view seq);

// Replaces X (any of 20), B (D/N), J (I/L), Z (E/Q) with a draw that depends only on
// `seed` and the position (so a variant and its wild type agree wherever both carry the
// letter). Returns the number of replaced letters.
int replace_nonstandard(std::string& seq, uint64_t seed);

// Text of a token id ("[CLS]", "A", ...).
std::string token_text(int id);

}  // namespace tranova::tranception
