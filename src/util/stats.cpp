// Rank statistics (see stats.hpp).
#include "util/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tranova {

namespace {
// numpy's DOUBLE_LT: NaN sorts last.
inline bool np_less(double a, double b) { return a < b || (b != b && a == a); }

bool is_constant(const double* x, int64_t n) {
    for (int64_t i = 1; i < n; ++i)
        if (!(x[i] == x[0])) return false;
    return true;
}
}  // namespace

void rank_average(double* out, const double* x, int64_t n) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return np_less(x[a], x[b]); });
    for (int64_t a = 0; a < n;) {
        int64_t b = a + 1;
        while (b < n && x[order[b]] == x[order[a]]) ++b;
        double r = (static_cast<double>(a + 1) + static_cast<double>(b)) / 2;
        for (int64_t p = a; p < b; ++p) out[order[p]] = r;
        a = b;
    }
}

double pearson(const double* a, const double* b, int64_t n) {
    double ma = 0, mb = 0;
    for (int64_t i = 0; i < n; ++i) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    double saa = 0, sbb = 0, sab = 0;
    for (int64_t i = 0; i < n; ++i) {
        double da = a[i] - ma, db = b[i] - mb;
        saa += da * da;
        sbb += db * db;
        sab += da * db;
    }
    double fact = static_cast<double>(n - 1);
    double r = (sab / fact) / std::sqrt(saa / fact) / std::sqrt(sbb / fact);
    return std::clamp(r, -1.0, 1.0);
}

double spearman(const double* a, const double* b, int64_t n) {
    constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
    for (int64_t i = 0; i < n; ++i)
        if (a[i] != a[i] || b[i] != b[i]) return nan_v;
    if (n < 2 || is_constant(a, n) || is_constant(b, n)) return nan_v;
    std::vector<double> ra(n), rb(n);
    rank_average(ra.data(), a, n);
    rank_average(rb.data(), b, n);
    return pearson(ra.data(), rb.data(), n);
}

double spearman_finite(const std::vector<double>& x, const std::vector<double>& y, size_t* n_used) {
    std::vector<double> a, b;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
        if (std::isfinite(x[i]) && std::isfinite(y[i])) {
            a.push_back(x[i]);
            b.push_back(y[i]);
        }
    if (n_used) *n_used = a.size();
    return spearman(a.data(), b.data(), int64_t(a.size()));
}

}  // namespace tranova
