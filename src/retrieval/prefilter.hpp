// The prefilter of a search round (internal to search.cpp): the query's neighbourhood words,
// one pass over the database (or its index) for all queries with two word hits on a diagonal
// triggering an ungapped X-drop extension, and the targets whose best ungapped segment passes.
#pragma once

#include "retrieval/db_index.hpp"
#include "retrieval/search.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::retrieval {

// Per-query search state for one round.
struct query_plan {
    const query_sequence* q = nullptr;
    std::vector<std::uint8_t> codes;
    std::vector<std::int16_t> pssm;          // L x 21: BLOSUM62 rows (round 1) or the profile
    std::vector<std::uint32_t> word_start;   // 20^3 + 1 (CSR)
    std::vector<std::uint16_t> word_pos;     // query positions (L < 65536)
    std::vector<bool> masked;                // low-complexity residues: no seed word starts on them
    bool profile = false;
};

// The neighbourhood words of the plan's PSSM: every 3-mer scoring >= T against a query 3-mer.
void build_words(query_plan& p, int T);

// A prefilter survivor: a window of the target around its best ungapped diagonal.
struct candidate {
    std::string name, description, seq;  // seq: the window of the target around the hit diagonal
    int offset = 0;                      // window start in the target
    int ungapped = 0;
    int diag = 0;                        // best ungapped diagonal, in window coordinates
    std::uint64_t record = 0;            // 0-based database record
};

struct prefilter_result {
    std::vector<std::vector<candidate>> candidates;  // per query (empty for inactive ones)
    db_identity database;                            // whole-database totals
};

// One pass over db_path (FASTA or index, the shard of opt) for the active plans.
prefilter_result prefilter_pass(const std::vector<query_plan>& plans, const std::vector<bool>& active, const std::string& db_path,
                                const search_options& opt);

}  // namespace tranova::retrieval
