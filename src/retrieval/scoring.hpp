// Scores and their statistics: residue codes, BLOSUM62, background frequencies, the
// Karlin-Altschul parameters of BLOSUM62 (BLAST's values), the ungapped lambda of any
// integer score system, and the position-specific score matrices of profile rounds
// (docs/retrieval.md "Profile rounds and their statistics").
#pragma once

#include "msa/msa.hpp"

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tranova::retrieval {

inline constexpr int alphabet_size = 21;  // 20 amino acids (msa::amino_acids order) + X

// BLOSUM62 with gap open 11 / extend 1 (BLAST): gapped lambda, K, H; and ungapped lambda, K.
inline constexpr double lambda_gapped = 0.267, K_gapped = 0.041, H_gapped = 0.14;
inline constexpr double lambda_ungapped = 0.3176, K_ungapped = 0.134;

// Robinson & Robinson background frequencies (BLAST's), msa::amino_acids order.
const std::array<double, 20>& background_frequencies();

// Residue codes of encode_aa (search.hpp), other characters as X (20).
std::vector<std::uint8_t> encode(std::string_view s);

// The query's BLOSUM62 rows: query_length x 21 (round 1 of a search).
std::vector<std::int16_t> blosum_pssm(const std::vector<std::uint8_t>& codes);

// Karlin-Altschul lambda of an integer score distribution: the positive root of
// sum_s P(s) e^(lambda s) = 1, prob[k] being P(lowest + k). Throws when it has none (the
// expected score is not negative, or no score is positive).
double karlin_lambda(const std::vector<double>& prob, int lowest);

// Ungapped lambda of a position-specific matrix (query_length x 21, X column ignored) against
// background residues, every column equally likely (PSI-BLAST's score distribution).
double pssm_lambda(const std::vector<std::int16_t>& pssm, int query_length);
// ... with the target residues from `residue_frequencies` instead of the background.
double pssm_lambda(const std::vector<std::int16_t>& pssm, int query_length, const std::array<double, 20>& residue_frequencies);

// Ungapped lambda of BLOSUM62 under background_frequencies() (0.3176 in BLAST's tables).
double blosum62_lambda();

// Amino-acid composition of a sequence (20 residues; X-like letters ignored; the background
// when it has none).
std::array<double, 20> composition(std::string_view seq);

// Composition-based statistics (Schaffer et al. 2001, in its simplest form): lambda' of
// BLOSUM62 when the two sequences' residues come from their own compositions instead of the
// background, as a factor min(1, lambda' / lambda_B62) on the pair's score (a biased pair
// scores high by chance: its scores count for less; a factor above 1 is not applied). 0 when
// lambda' does not exist (the pair's expected score is not negative); 1 when no pair of
// their residues scores above 0.
double composition_scale(const std::array<double, 20>& query, const std::array<double, 20>& target);
// The same for a profile (query_length x 21 PSSM on BLOSUM62's scale): lambda' of the PSSM
// with the target's residues from its composition (columns equally likely), over
// blosum62_lambda().
double composition_scale(const std::vector<std::int16_t>& pssm, int query_length, const std::array<double, 20>& target);

// PSSM of a profile round: query-anchored rows of an alignment (row 0 = the query) ->
// weighted frequencies (EVcouplings weights, identity 0.8) + BLOSUM62 pseudocounts
// (PSI-BLAST style, beta = 10) -> with rescale: scores ln(q/p) / blosum62_lambda(), then
// scaled so that the rounded matrix's ungapped lambda equals BLOSUM62's (rescale_pssm), as
// PSI-BLAST does; without (the search's default): the half-bit matrix round(2 log2(q/p)).
std::vector<std::int16_t> build_pssm(const msa::alignment& a, bool rescale = true);

// Rounds c * scores (query_length x 20 real scores, X column set to -1) with c chosen by
// bisection so that the integer matrix's ungapped lambda is as close as it gets to
// `target_lambda`. Returns the matrix; `achieved` (if given) receives its lambda.
std::vector<std::int16_t> rescale_pssm(const std::vector<double>& scores, int query_length, double target_lambda,
                                       double* achieved = nullptr);

}  // namespace tranova::retrieval
