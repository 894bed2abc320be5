#include "tranception/tokenizer.hpp"


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
    int n = 0;
    for (size_t i = 0; i < seq.size(); ++i) {
        char& c = seq[i];
        const char* choices = nullptr;
        switch (c) {
            case 'X': choices = amino_acids; break;
            case 'B': choices = "DN"; break;
            case 'J': choices = "IL"; break;
            case 'Z': choices = "EQ"; break;
            default: continue;
        }
        std::string_view ch(choices);
        // One draw per position (splitmix64 of seed and position): a variant and its wild
        // type get the same replacement wherever they share the letter.
        uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (i + 1);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        c = ch[z % ch.size()];
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
