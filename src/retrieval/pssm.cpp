// Position-specific score matrices of profile rounds, scaled to BLOSUM62's ungapped lambda
// (scoring.hpp; docs/retrieval.md "Profile rounds and their statistics").
#include "retrieval/scoring.hpp"

#include "retrieval/search.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tranova::retrieval {

namespace {
constexpr int A = alphabet_size;
constexpr double min_score = -20, max_score = 20;  // clamp of the integer scores

std::vector<std::int16_t> round_scaled(const std::vector<double>& scores, int L, double c) {
    std::vector<std::int16_t> p(static_cast<std::size_t>(L) * A);
    for (std::size_t i = 0; i < static_cast<std::size_t>(L); ++i) {
        for (std::size_t x = 0; x < 20; ++x)
            p[i * A + x] = static_cast<std::int16_t>(std::lround(std::clamp(c * scores[i * 20 + x], min_score, max_score)));
        p[i * A + 20] = -1;  // X, as BLOSUM62's X-X
    }
    return p;
}
}  // namespace

std::vector<std::int16_t> rescale_pssm(const std::vector<double>& scores, int L, double target_lambda, double* achieved) {
    // The rounded matrix's lambda falls as the factor c grows (scores scale with c; rounding
    // makes it a step function, so bisection settles on the step nearest the target).
    double lo = 0.25, hi = 4;
    double best_c = 1, best_gap = HUGE_VAL, best_lambda = 0;
    for (int it = 0; it < 40; ++it) {
        const double c = std::sqrt(lo * hi);
        const double lambda = pssm_lambda(round_scaled(scores, L, c), L);
        if (std::abs(lambda - target_lambda) < best_gap) {
            best_gap = std::abs(lambda - target_lambda);
            best_c = c;
            best_lambda = lambda;
        }
        (lambda > target_lambda ? lo : hi) = c;
        if (hi / lo < 1 + 1e-9) break;
    }
    if (achieved) *achieved = best_lambda;
    return round_scaled(scores, L, best_c);
}

std::vector<std::int16_t> build_pssm(const msa::alignment& a, bool rescale) {
    const std::size_t L = a.num_columns();
    const auto& bg = background_frequencies();
    std::vector<double> w = msa::evcouplings_weights(a, 0.8);
    std::vector<int> cols(L);
    std::iota(cols.begin(), cols.end(), 0);
    auto cnt = msa::weighted_counts(a, w, msa::amino_acids, cols);
    // Conditional probabilities from BLOSUM62 (half-bit scores): p(a|b) ~ p(a) 2^{s(a,b)/2}.
    double cond[20][20];
    for (int b = 0; b < 20; ++b) {
        double z = 0;
        for (int x = 0; x < 20; ++x) z += (cond[x][b] = bg[static_cast<std::size_t>(x)] * std::pow(2.0, blosum62(x, b) / 2.0));
        for (int x = 0; x < 20; ++x) cond[x][b] /= z;
    }
    // Real scores ln(q/p) / lambda_BLOSUM62: BLOSUM62's scale, as PSI-BLAST builds them
    // (unscaled: half bits, 2 log2(q/p), the PSSM of tranova before the rescaling).
    const double lambda = rescale ? blosum62_lambda() : std::log(2.0) / 2;
    std::vector<double> scores(L * 20);
    const double beta = 10;
    for (std::size_t i = 0; i < L; ++i) {
        const double* c = &cnt[i * 20];
        double tot = 0;
        for (int x = 0; x < 20; ++x) tot += c[x];
        double f[20], g[20] = {};
        for (int x = 0; x < 20; ++x) f[x] = tot > 0 ? c[x] / tot : 0;
        for (int x = 0; x < 20; ++x)
            for (int b = 0; b < 20; ++b) g[x] += cond[x][b] * f[b];
        double alpha = std::max(0.0, tot - 1);  // effective observations beyond one
        for (std::size_t x = 0; x < 20; ++x) {
            double q = tot > 0 ? (alpha * f[x] + beta * g[x]) / (alpha + beta) : bg[x];
            scores[i * 20 + x] = std::log(std::max(q, 1e-6) / bg[x]) / lambda;
        }
    }
    // Rounding (and the pseudocount mixture) moves the matrix's lambda off BLOSUM62's: scale
    // it back so that BLOSUM62's gapped lambda and K describe its scores (PSI-BLAST).
    if (!rescale) return round_scaled(scores, static_cast<int>(L), 1.0);
    return rescale_pssm(scores, static_cast<int>(L), lambda);
}

}  // namespace tranova::retrieval
