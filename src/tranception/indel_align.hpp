// Maps an indel variant onto the target for the retrieval prior: a global protein
// alignment (SeqAn3, BLOSUM62, gap open -10 / extend -1) of the variant against the
// target; each variant residue gets the target position it is aligned to, -1 for an
// inserted residue. This replaces the official Clustal Omega profile alignment against
// the MSA; see docs/tranception.md. SeqAn3 is confined to indel_align.cpp.
#pragma once

#include <string>
#include <vector>

namespace tranova::tranception {

std::vector<int> align_variant_to_target(const std::string& variant, const std::string& target);

}  // namespace tranova::tranception
