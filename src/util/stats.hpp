// Rank statistics shared by `tranova score --report-spearman` and the gym metrics: one
// average-rank function (scipy.stats.rankdata 'average') and one Spearman correlation
// (scipy.stats.spearmanr: Pearson of the average ranks, as np.corrcoef computes it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tranova {

// 1-based average ranks (ties share the mean of their ranks); NaN sorts last, as numpy.
// out, x: (n).
void rank_average(double* out, const double* x, int64_t n);

// Pearson correlation as np.corrcoef computes it, clamped to [-1, 1]. a, b: (n), n >= 2.
double pearson(const double* a, const double* b, int64_t n);

// Spearman rank correlation of (a, b): NaN when n < 2, a value is NaN, or either side is
// constant (scipy's answer).
double spearman(const double* a, const double* b, int64_t n);

// Spearman over the pairs where both values are finite; *n_used gets their number.
double spearman_finite(const std::vector<double>& x, const std::vector<double>& y, size_t* n_used = nullptr);

}  // namespace tranova
