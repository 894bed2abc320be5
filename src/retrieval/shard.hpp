// Shard result files (`retrieve --shard i/N -o part.shard`) and their merge (`retrieve merge`):
// everything the unsharded run would need to write its alignments and hits table, so that
// merging N shards gives byte for byte the unsharded outputs (docs/retrieval.md).
#pragma once

#include "retrieval/search.hpp"

#include <string>
#include <vector>

namespace tranova::retrieval {

// The options that change results, as one canonical line (recorded in shard files; shards
// with different lines are not merged).
std::string result_parameters(const search_options& so, const msa_options& mo);

// The shard file's text for a search's results (their database identity, so's shard spec).
std::string format_shard(const std::vector<query_result>& results, const search_options& so, const msa_options& mo);

struct merged_shards {
    std::vector<query_result> results;  // hits ranked and cut to max_hits as one unsharded run
    msa_options msa;
    db_identity database;
    std::uint64_t shard_count = 0;
};

// Reads and checks the shard files: the same format version, database identity, parameters,
// queries and shard count, every shard 0..N-1 exactly once. A missing or repeated shard is a
// usage_error; files that do not belong together, or a malformed file (named with its line),
// a tranova::error.
merged_shards merge_shards(const std::vector<std::string>& paths);

}  // namespace tranova::retrieval
