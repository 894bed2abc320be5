#include "denovo/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tranova::denovo {

namespace {

void prefix_pass(const std::vector<double>& m1, const std::vector<double>& m2, const match_options& opt,
                 std::vector<bool>& matches) {
    size_t i1 = 0, i2 = 0;
    double c1 = 0, c2 = 0;
    while (i1 < m1.size() && i2 < m2.size()) {
        const double a1 = m1[i1], a2 = m2[i2];
        if (std::fabs((c1 + a1) - (c2 + a2)) < opt.cum_mass_tol) {
            matches[std::max(i1, i2)] = std::fabs(a1 - a2) < opt.ind_mass_tol;
            ++i1, ++i2;
            c1 += a1, c2 += a2;
        } else if (c2 + a2 > c1 + a1) {
            ++i1, c1 += a1;
        } else {
            ++i2, c2 += a2;
        }
    }
}

bool all_true(const std::vector<bool>& v) { return std::all_of(v.begin(), v.end(), [](bool b) { return b; }); }

}  // namespace

aa_match_result aa_match(const peptide& p1, const peptide& p2, const vocabulary& vocab, match_mode mode,
                         const match_options& opt) {
    std::vector<double> m1(p1.size()), m2(p2.size());
    for (size_t i = 0; i < p1.size(); ++i) m1[i] = vocab.mass_or_zero(p1[i]);
    for (size_t i = 0; i < p2.size(); ++i) m2[i] = vocab.mass_or_zero(p2[i]);
    aa_match_result r;
    const size_t n = std::max(m1.size(), m2.size());
    r.matches.assign(n, false);
    if (mode == match_mode::backward) {
        std::reverse(m1.begin(), m1.end());
        std::reverse(m2.begin(), m2.end());
        prefix_pass(m1, m2, opt, r.matches);
        std::reverse(r.matches.begin(), r.matches.end());
    } else {
        prefix_pass(m1, m2, opt, r.matches);
        if (mode == match_mode::best && !all_true(r.matches)) {
            // Suffix pass from the ends, down to the first mismatch of the prefix pass.
            const long i_stop = std::find(r.matches.begin(), r.matches.end(), false) - r.matches.begin();
            long i1 = static_cast<long>(m1.size()) - 1, i2 = static_cast<long>(m2.size()) - 1;
            double c1 = 0, c2 = 0;
            while (i1 >= i_stop && i2 >= i_stop) {
                const double a1 = m1[i1], a2 = m2[i2];
                if (std::fabs((c1 + a1) - (c2 + a2)) < opt.cum_mass_tol) {
                    r.matches[std::max(i1, i2)] = std::fabs(a1 - a2) < opt.ind_mass_tol;
                    --i1, --i2;
                    c1 += a1, c2 += a2;
                } else if (c2 + a2 > c1 + a1) {
                    --i1, c1 += a1;
                } else {
                    --i2, c2 += a2;
                }
            }
        }
    }
    r.peptide_match = all_true(r.matches);
    r.n_matched = std::count(r.matches.begin(), r.matches.end(), true);
    return r;
}

double precision_coverage(const std::vector<double>& scores, const std::vector<bool>& matched, long n_total,
                          std::vector<double>& coverage, std::vector<double>& precision) {
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        // NaN scores sort last.
        if (std::isnan(scores[a])) return false;
        if (std::isnan(scores[b])) return true;
        return scores[a] > scores[b];
    });
    coverage.clear();
    precision.clear();
    const long n = std::max<long>(n_total, static_cast<long>(scores.size()));
    long hits = 0;
    for (long k = 0; k < n; ++k) {
        if (k < static_cast<long>(order.size()) && matched[order[k]]) ++hits;
        coverage.push_back(static_cast<double>(k + 1) / n);
        precision.push_back(static_cast<double>(hits) / (k + 1));
    }
    double auc = 0;
    for (size_t k = 1; k < coverage.size(); ++k)
        auc += (coverage[k] - coverage[k - 1]) * (precision[k] + precision[k - 1]) / 2;
    return auc;
}

eval_summary evaluate(std::vector<spectrum_eval>& spectra, const vocabulary& vocab, const match_options& opt) {
    eval_summary s;
    std::vector<double> scores;
    std::vector<bool> matched;
    for (auto& e : spectra) {
        e.match = aa_match(e.truth, e.prediction, vocab, match_mode::best, opt);
        ++s.n_spectra;
        s.n_aa_true += static_cast<long>(e.truth.size());
        s.n_aa_pred += static_cast<long>(e.prediction.size());
        const bool predicted = e.has_prediction && !e.prediction.empty();
        if (!predicted) e.match.peptide_match = false;  // an empty prediction never matches
        s.n_aa_matched += e.match.n_matched;
        if (predicted) {
            ++s.n_predicted;
            if (e.match.peptide_match) ++s.n_peptide_matched;
            scores.push_back(e.score);
            matched.push_back(e.match.peptide_match);
        }
    }
    auto ratio = [](long a, long b) { return b > 0 ? static_cast<double>(a) / b : 0.0; };
    s.aa_precision = ratio(s.n_aa_matched, s.n_aa_pred);
    s.aa_recall = ratio(s.n_aa_matched, s.n_aa_true);
    s.peptide_precision = ratio(s.n_peptide_matched, s.n_predicted);
    s.peptide_recall = ratio(s.n_peptide_matched, s.n_spectra);
    s.pc_auc = precision_coverage(scores, matched, s.n_spectra, s.pc_coverage, s.pc_precision);
    return s;
}

}  // namespace tranova::denovo
