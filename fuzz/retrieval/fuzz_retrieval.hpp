// The bodies of the retrieval fuzz targets: shard result files (`retrieve --shard`, read by
// `retrieve merge`) and the persistent database index (`tranova index`, .tix), shared by the
// libFuzzer entry points (fuzz_shard.cpp, fuzz_tix.cpp, built by fuzz/build.sh) and the
// corpus replay in tests/retrieval (unit.retrieval). A tranova::error or usage_error is the
// expected outcome for a malformed file; anything else (crash, sanitizer report, another
// exception) is a bug.
#pragma once

#include "msa/msa.hpp"
#include "retrieval/db_index.hpp"
#include "retrieval/search.hpp"
#include "retrieval/shard.hpp"
#include "util/error.hpp"

#include "../common/temp_input.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tranova_fuzz_retrieval {

using tranova_fuzz::temp_input;

// A shard file through the merge (alone: a valid 0/1 shard merges; others are refused),
// then everything merge writes: the A2M and A3M of each query and the hits table.
inline int fuzz_shard_one(const uint8_t* data, size_t size) {
    temp_input in(data, size, ".shard");
    try {
        tranova::retrieval::merged_shards m = tranova::retrieval::merge_shards({in.path()});
        size_t n = tranova::retrieval::hits_tsv(m.results, true).size();
        for (const auto& r : m.results) {
            tranova::msa::alignment a = tranova::retrieval::build_msa(r, m.msa);
            n += tranova::msa::to_a2m(a).size() + tranova::msa::to_a3m(a).size();
        }
        volatile size_t sink = n;
        (void)sink;
    } catch (const tranova::error&) {
    } catch (const tranova::usage_error&) {
    }
    return 0;
}

// An index file: the header and section checks of opening it, then every record's name,
// residues and word ids as the search reads them (check_words before the words are used).
inline int fuzz_tix_one(const uint8_t* data, size_t size) {
    temp_input in(data, size, ".tix");
    try {
        if (!tranova::retrieval::is_db_index(in.path())) return 0;
        tranova::retrieval::db_index idx(in.path());
        size_t n = idx.identity().path.size();
        for (std::uint64_t r = 0; r < idx.records(); ++r) {
            n += idx.name(r).size();
            for (char c : idx.seq(r)) n += static_cast<unsigned char>(c);
            idx.check_words(r);
            const std::uint16_t* w = idx.words(r);
            for (size_t p = 0; p < idx.seq(r).size(); ++p) n += w[p];
        }
        volatile size_t sink = n;
        (void)sink;
    } catch (const tranova::error&) {
    }
    return 0;
}

}  // namespace tranova_fuzz_retrieval
