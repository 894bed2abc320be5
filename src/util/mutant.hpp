// ProteinGym mutant strings: "A12G", or several substitutions joined by ':' ("A12G:C34D");
// 1-based positions, the wild-type letter first, the new letter last. The one parser for
// `tranova score` (tranception/variants) and `tranova gym ingest` (gym/dataset).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tranova {

struct substitution {
    char wt = 0;   // wild-type letter as written
    int pos = 0;   // 0-based position in the target
    char mt = 0;   // new letter as written
};

// Parses `mutant` (each ':'-part trimmed) and checks it against `target`. Throws
// tranova::error naming `where` on a malformed part, a position outside the target, a
// wild-type letter that differs from the target, or a position given twice (H5C:H5D
// names no single variant). `target_name` names the target in messages ("the target
// sequence", "target_seq"). The letters are not checked against an alphabet.
std::vector<substitution> parse_mutant(std::string_view mutant, std::string_view target, const std::string& where,
                                       std::string_view target_name = "the target sequence");

}  // namespace tranova
