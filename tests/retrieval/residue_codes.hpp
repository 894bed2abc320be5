// Test inputs for the aligners: a query's BLOSUM62 rows as a PSSM (query_length x 21) and a
// sequence as residue codes (retrieval::encode_aa).
#pragma once

#include "retrieval/search.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tranova::test {

inline std::vector<std::int16_t> blosum_profile(const std::string& q) {
    std::vector<std::int16_t> p(q.size() * 21);
    for (std::size_t i = 0; i < q.size(); ++i)
        for (int a = 0; a < 21; ++a)
            p[i * 21 + static_cast<std::size_t>(a)] =
                static_cast<std::int16_t>(retrieval::blosum62(retrieval::encode_aa(q[i]), a));
    return p;
}

inline std::vector<std::uint8_t> codes(const std::string& s) {
    std::vector<std::uint8_t> v;
    for (char c : s) v.push_back(static_cast<std::uint8_t>(retrieval::encode_aa(c)));
    return v;
}

}  // namespace tranova::test
