// Site-independent model: L2-regularised per-column softmax fitted by Newton's method.
#include "msa/site_independent.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>

namespace tranova::msa {

namespace {

constexpr int Q = 20;

// Minimises F(x) = neff (lse(x) - f.x) + lambda |x|^2 over x in R^20 (strictly convex).
std::array<double, Q> fit_column(const double* f, double neff, double lambda) {
    std::array<double, Q> x{}, p{}, g{};
    double H[Q][Q];
    for (int it = 0; it < 100; ++it) {
        double mx = *std::max_element(x.begin(), x.end()), z = 0;
        for (int a = 0; a < Q; ++a) z += (p[a] = std::exp(x[a] - mx));
        double gnorm = 0;
        for (int a = 0; a < Q; ++a) {
            p[a] /= z;
            g[a] = neff * (p[a] - f[a]) + 2 * lambda * x[a];
            gnorm = std::max(gnorm, std::abs(g[a]));
        }
        if (gnorm < 1e-11 * std::max(1.0, neff)) break;
        for (int a = 0; a < Q; ++a)
            for (int b = 0; b < Q; ++b) H[a][b] = neff * ((a == b ? p[a] : 0.0) - p[a] * p[b]) + (a == b ? 2 * lambda : 0.0);
        // Cholesky solve H d = g.
        double L[Q][Q] = {};
        for (int i = 0; i < Q; ++i)
            for (int j = 0; j <= i; ++j) {
                double s = H[i][j];
                for (int k = 0; k < j; ++k) s -= L[i][k] * L[j][k];
                L[i][j] = i == j ? std::sqrt(std::max(s, 1e-300)) : s / L[j][j];
            }
        std::array<double, Q> y{}, d{};
        for (int i = 0; i < Q; ++i) {
            double s = g[i];
            for (int k = 0; k < i; ++k) s -= L[i][k] * y[k];
            y[i] = s / L[i][i];
        }
        for (int i = Q - 1; i >= 0; --i) {
            double s = y[i];
            for (int k = i + 1; k < Q; ++k) s -= L[k][i] * d[k];
            d[i] = s / L[i][i];
        }
        // Damped step (the objective is smooth; a full Newton step may overshoot far from the optimum).
        auto objective = [&](const std::array<double, Q>& v) {
            double m = *std::max_element(v.begin(), v.end()), s = 0, fx = 0, r = 0;
            for (int a = 0; a < Q; ++a) {
                s += std::exp(v[a] - m);
                fx += f[a] * v[a];
                r += v[a] * v[a];
            }
            return neff * (m + std::log(s) - fx) + lambda * r;
        };
        double f0 = objective(x), step = 1;
        std::array<double, Q> xn{};
        for (int ls = 0; ls < 40; ++ls, step *= 0.5) {
            for (int a = 0; a < Q; ++a) xn[a] = x[a] - step * d[a];
            if (objective(xn) <= f0) break;
        }
        x = xn;
    }
    return x;
}

}  // namespace

double site_independent_model::field(long long pos, char aa) const {
    long long c = pos - first_position;
    int k = aa_index1(aa);
    if (c < 0 || c >= static_cast<long long>(modelled.size()) || !modelled[static_cast<std::size_t>(c)] || k == 0)
        return std::numeric_limits<double>::quiet_NaN();
    return h[static_cast<std::size_t>(c) * Q + static_cast<std::size_t>(k - 1)];
}

site_independent_model fit_site_independent(const alignment& a, const site_independent_options& opt) {
    TRANOVA_CHECK(a.num_rows() > 0, "site-independent fit: empty alignment");
    site_independent_model m;
    const std::size_t C = a.num_columns();
    m.first_position = header_start(a.names[0]);
    m.target.resize(C);
    m.modelled.assign(C, false);
    for (std::size_t j = 0; j < C; ++j) {
        char c = a.rows[0][j];
        m.target[j] = c == '.' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        m.modelled[j] = std::isupper(static_cast<unsigned char>(c)) != 0;
    }
    std::vector<bool> used;
    std::vector<double> w = plmc_weights(a, opt.theta, &used);
    for (double x : w) m.neff += x;
    m.num_sequences = static_cast<std::size_t>(std::count(used.begin(), used.end(), true));
    std::vector<int> cols;
    for (std::size_t j = 0; j < C; ++j)
        if (m.modelled[j]) cols.push_back(static_cast<int>(j));
    std::vector<double> f = weighted_frequencies(a, w, amino_acids, normalise::non_gap, cols);
    m.h.assign(C * Q, 0.0);
    for (std::size_t c = 0; c < cols.size(); ++c) {
        auto x = fit_column(&f[c * Q], m.neff, opt.lambda_h);
        std::copy(x.begin(), x.end(), m.h.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(cols[c]) * Q));
    }
    return m;
}

double score_mutant(const site_independent_model& m, std::string_view mutant) {
    double total = 0;
    std::size_t pos = 0;
    TRANOVA_CHECK(!mutant.empty(), "empty mutant string");
    while (pos <= mutant.size()) {
        std::size_t e = mutant.find(':', pos);
        if (e == std::string_view::npos) e = mutant.size();
        std::string_view one = mutant.substr(pos, e - pos);
        TRANOVA_CHECK(one.size() >= 3, "bad mutation '{}' in '{}' (expected e.g. A123V)", one, mutant);
        char wt = static_cast<char>(std::toupper(static_cast<unsigned char>(one.front())));
        char mt = static_cast<char>(std::toupper(static_cast<unsigned char>(one.back())));
        long long p = 0;
        for (char c : one.substr(1, one.size() - 2)) {
            TRANOVA_CHECK(c >= '0' && c <= '9', "bad mutation '{}' in '{}' (expected e.g. A123V)", one, mutant);
            p = p * 10 + (c - '0');
        }
        TRANOVA_CHECK(aa_index1(wt) && aa_index1(mt), "bad mutation '{}' in '{}': not amino acids", one, mutant);
        long long c = p - m.first_position;
        if (c >= 0 && c < static_cast<long long>(m.target.size())) {
            char t = m.target[static_cast<std::size_t>(c)];
            TRANOVA_CHECK(t == wt || t == '-', "mutation '{}': position {} is '{}' in the MSA target, not '{}'", one, p, t, wt);
        }
        double hw = m.field(p, wt), hm = m.field(p, mt);
        if (std::isnan(hw) || std::isnan(hm)) return std::numeric_limits<double>::quiet_NaN();
        total += hm - hw;
        pos = e + 1;
    }
    return total;
}

std::vector<double> score_mutants(const site_independent_model& m, const std::vector<std::string>& mutants) {
    std::vector<double> out;
    out.reserve(mutants.size());
    for (const auto& s : mutants) out.push_back(score_mutant(m, s));
    return out;
}

double score_sequence(const site_independent_model& m, std::string_view seq, long long first) {
    double total = 0;
    for (std::size_t c = 0; c < m.target.size(); ++c) {
        if (!m.modelled[c]) continue;
        long long p = m.first_position + static_cast<long long>(c);
        long long k = p - first;
        if (k < 0 || k >= static_cast<long long>(seq.size())) continue;
        char s = static_cast<char>(std::toupper(static_cast<unsigned char>(seq[static_cast<std::size_t>(k)])));
        if (s == m.target[c]) continue;
        double hs = m.field(p, s), hw = m.field(p, m.target[c]);
        if (std::isnan(hs) || std::isnan(hw)) return std::numeric_limits<double>::quiet_NaN();
        total += hs - hw;
    }
    return total;
}

}  // namespace tranova::msa
