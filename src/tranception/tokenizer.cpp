#include "tranception/tokenizer.hpp"

#include <random>

namespace tranova::tranception {

std::vector<int> encode(std::string_view seq) {
    std::vector<int> ids;
    ids.reserve(seq.size() + 2);
    ids.push_back(tok_cls);
    for (char c : seq) ids.push_back(residue_id(c));
    ids.push_back(tok_sep);
    return ids;
}

int replace_nonstandard(std::string& seq, uint64_t seed) {
    std::mt19937_64 rng(seed);
    int n = 0;
    for (char& c : seq) {
        const char* choices = nullptr;
        switch (c) {
            case 'X': choices = amino_acids; break;
            case 'B': choices = "DN"; break;
            case 'J': choices = "IL"; break;
            case 'Z': choices = "EQ"; break;
            default: continue;
        }
        std::string_view ch(choices);
        c = ch[std::uniform_int_distribution<size_t>(0, ch.size() - 1)(rng)];
        ++n;
    }
    return n;
}

std::string token_text(int id) {
    static const char* special[] = {"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"};
    if (id >= 0 && id < 5) return special[id];
    if (id >= 5 && id < 25) return std::string(1, amino_acids[id - 5]);
    return "?";
}

}  // namespace tranova::tranception
