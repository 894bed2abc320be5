// Gapped local alignment of prefilter survivors: SeqAn3 (vectorised, parallel; BLOSUM62,
// gap open 11 / extend 1 as BLAST and MMseqs2) for query searches, and a scalar Gotoh
// kernel with position-specific scores for profile iterations (SeqAn3 has no PSSM scheme).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::retrieval {

inline constexpr int gap_open = 11;    // cost of the first gap position (BLAST -gapopen 11 -gapextend 1: a gap of k costs 11 + k - 1... see docs)
inline constexpr int gap_extend = 1;

struct local_alignment {
    int score = 0;
    int qbegin = 0, qend = 0;  // 0-based, half-open, in the query
    int tbegin = 0, tend = 0;  // 0-based, half-open, in the target
    std::string qaln, taln;    // gapped strings ('-'), equal length; empty for score-only
};

// SeqAn3 local alignment of `query` against every target (letters, any case). Score-only
// results (vectorised) carry the score only; full results (scalar) carry begin/end and the alignment.
// Affine gaps: a gap of length k costs gap_open + (k - 1) * gap_extend (BLAST convention).
std::vector<local_alignment> seqan_align(std::string_view query, const std::vector<std::string_view>& targets, bool traceback,
                                         int threads);

// Position-specific local alignment: pssm is query_length x 21 (codes of encode_aa, X = 20),
// target in codes. Same gap convention. Returns the best local alignment (with traceback if
// asked), restricted to diagonals d = target index - query index in [dlo, dhi] (a band).
local_alignment profile_align(const std::vector<std::int16_t>& pssm, int query_length, std::string_view query_letters,
                              const std::vector<std::uint8_t>& target, std::string_view target_letters, bool traceback,
                              int dlo = -(1 << 30), int dhi = 1 << 30);

// Striped SIMD (Farrar) local alignment scores of one query profile against many targets
// (align_striped.cpp): the gapped score stage. Same scores as profile_align(..., false).
class striped_query {
public:
    // pssm: query_length x 21 as for profile_align.
    striped_query(const std::vector<std::int16_t>& pssm, int query_length);
    ~striped_query();
    striped_query(const striped_query&) = delete;
    striped_query& operator=(const striped_query&) = delete;
    // Best local score against target codes[0..n); `work` is per-thread scratch. qend/tend
    // (if given) receive an end cell of an optimal alignment (1-based, half-open ends).
    int score(const std::uint8_t* target, int n, std::vector<std::int16_t>& work, int* qend = nullptr, int* tend = nullptr) const;

private:
    struct impl;
    std::unique_ptr<impl> p_;
};

}  // namespace tranova::retrieval
