// Residue codes, BLOSUM62, Karlin-Altschul statistics (scoring.hpp).
#include "retrieval/scoring.hpp"

#include "retrieval/search.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace tranova::retrieval {

namespace {

constexpr int A = alphabet_size;

// BLOSUM62, rows/cols in ARNDCQEGHILKMFPSTWYV order (NCBI).
constexpr int b62_arnd[20][20] = {
    {4, -1, -2, -2, 0, -1, -1, 0, -2, -1, -1, -1, -1, -2, -1, 1, 0, -3, -2, 0},
    {-1, 5, 0, -2, -3, 1, 0, -2, 0, -3, -2, 2, -1, -3, -2, -1, -1, -3, -2, -3},
    {-2, 0, 6, 1, -3, 0, 0, 0, 1, -3, -3, 0, -2, -3, -2, 1, 0, -4, -2, -3},
    {-2, -2, 1, 6, -3, 0, 2, -1, -1, -3, -4, -1, -3, -3, -1, 0, -1, -4, -3, -3},
    {0, -3, -3, -3, 9, -3, -4, -3, -3, -1, -1, -3, -1, -2, -3, -1, -1, -2, -2, -1},
    {-1, 1, 0, 0, -3, 5, 2, -2, 0, -3, -2, 1, 0, -3, -1, 0, -1, -2, -1, -2},
    {-1, 0, 0, 2, -4, 2, 5, -2, 0, -3, -3, 1, -2, -3, -1, 0, -1, -3, -2, -2},
    {0, -2, 0, -1, -3, -2, -2, 6, -2, -4, -4, -2, -3, -3, -2, 0, -2, -2, -3, -3},
    {-2, 0, 1, -1, -3, 0, 0, -2, 8, -3, -3, -1, -2, -1, -2, -1, -2, -2, 2, -3},
    {-1, -3, -3, -3, -1, -3, -3, -4, -3, 4, 2, -3, 1, 0, -3, -2, -1, -3, -1, 3},
    {-1, -2, -3, -4, -1, -2, -3, -4, -3, 2, 4, -2, 2, 0, -3, -2, -1, -2, -1, 1},
    {-1, 2, 0, -1, -3, 1, 1, -2, -1, -3, -2, 5, -1, -3, -1, 0, -1, -3, -2, -2},
    {-1, -1, -2, -3, -1, 0, -2, -3, -2, 1, 2, -1, 5, 0, -2, -1, -1, -1, -1, 1},
    {-2, -3, -3, -3, -2, -3, -3, -3, -1, 0, 0, -3, 0, 6, -4, -2, -2, 1, 3, -1},
    {-1, -2, -2, -1, -3, -1, -1, -2, -2, -3, -3, -1, -2, -4, 7, -1, -1, -4, -3, -2},
    {1, -1, 1, 0, -1, 0, 0, 0, -1, -2, -2, 0, -1, -2, -1, 4, 1, -3, -2, -2},
    {0, -1, 0, -1, -1, -1, -1, -2, -2, -1, -1, -1, -1, -2, -1, 1, 5, -2, -2, 0},
    {-3, -3, -4, -4, -2, -2, -3, -2, -2, -3, -2, -3, -1, 1, -4, -3, -2, 11, 2, -3},
    {-2, -2, -2, -3, -2, -1, -2, -3, 2, -1, -1, -2, -1, 3, -3, -2, -2, 2, 7, -1},
    {0, -3, -3, -3, -1, -2, -2, -3, -3, 3, 1, -2, 1, -1, -2, -2, 0, -3, -1, 4},
};

struct b62_table {
    std::array<std::array<std::int8_t, A>, A> s{};
    b62_table() {
        const char* arnd = "ARNDCQEGHILKMFPSTWYV";
        int map[20];
        for (int i = 0; i < 20; ++i) map[i] = static_cast<int>(msa::amino_acids.find(arnd[i]));
        // X (and other letters) as NCBI BLOSUM62's X row; X-X = -1.
        constexpr int x_arnd[20] = {0, -1, -1, -1, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -2, 0, 0, -2, -1, -1};
        s[20][20] = -1;
        for (int i = 0; i < 20; ++i) s[map[i]][20] = s[20][map[i]] = static_cast<std::int8_t>(x_arnd[i]);
        for (int i = 0; i < 20; ++i)
            for (int j = 0; j < 20; ++j) s[map[i]][map[j]] = static_cast<std::int8_t>(b62_arnd[i][j]);
    }
};
const b62_table& b62() {
    static const b62_table t;
    return t;
}

}  // namespace

const std::array<double, 20>& background_frequencies() {
    static const std::array<double, 20> f = {0.07805, 0.01925, 0.05364, 0.06295, 0.03856, 0.07377, 0.02199, 0.05142, 0.05744, 0.09019,
                                             0.02243, 0.04487, 0.05203, 0.04264, 0.05129, 0.07120, 0.05841, 0.06441, 0.01330, 0.03216};
    return f;
}

int encode_aa(char c) {
    int k = msa::aa_index1(c);
    if (k > 0) return k - 1;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '*') return 20;
    return -1;
}

int blosum62(int a, int b) { return b62().s[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)]; }

std::vector<std::uint8_t> encode(std::string_view s) {
    std::vector<std::uint8_t> v(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        int c = encode_aa(s[i]);
        v[i] = static_cast<std::uint8_t>(c < 0 ? 20 : c);
    }
    return v;
}

std::vector<std::int16_t> blosum_pssm(const std::vector<std::uint8_t>& codes) {
    std::vector<std::int16_t> p(codes.size() * A);
    for (std::size_t i = 0; i < codes.size(); ++i)
        for (int a = 0; a < A; ++a) p[i * A + static_cast<std::size_t>(a)] = b62().s[codes[i]][static_cast<std::size_t>(a)];
    return p;
}

double bit_score(double raw) { return (lambda_gapped * raw - std::log(K_gapped)) / std::log(2.0); }

double evalue(double raw, std::size_t m, std::size_t n, std::size_t s) {
    double mm = static_cast<double>(m), nn = static_cast<double>(n), ss = static_cast<double>(std::max<std::size_t>(s, 1));
    double ell = std::log(K_gapped * mm * nn) / H_gapped;
    ell = std::max(0.0, std::min(ell, mm * 0.9));  // keep the effective query length positive
    double me = std::max(1.0, mm - ell), ne = std::max(1.0, nn - ss * ell);
    return K_gapped * me * ne * std::exp(-lambda_gapped * raw);
}

double karlin_lambda(const std::vector<double>& prob, int lowest) {
    double mean = 0, total = 0;
    int highest = lowest - 1;
    for (std::size_t k = 0; k < prob.size(); ++k) {
        const int s = lowest + static_cast<int>(k);
        mean += prob[k] * s;
        total += prob[k];
        if (prob[k] > 0) highest = s;
    }
    TRANOVA_CHECK(total > 0 && mean < 0 && highest > 0,
                  "score distribution without a positive lambda (expected score {:.4g}, highest score {})", mean / total, highest);
    // f(lambda) = sum P(s) e^(lambda s) - 1 is convex with f(0) = 0 and f'(0) = E[s] < 0: one
    // positive root. Bracket it, then bisect (the probabilities are normalised by `total`).
    auto f = [&](double lambda) {
        double sum = 0;
        for (std::size_t k = 0; k < prob.size(); ++k)
            if (prob[k] > 0) sum += prob[k] * std::exp(lambda * (lowest + static_cast<int>(k)));
        return sum / total - 1;
    };
    double lo = 0, hi = 0.5;
    while (f(hi) <= 0) {
        lo = hi;
        hi *= 2;
    }
    for (int it = 0; it < 100 && hi - lo > 1e-12 * hi; ++it) {
        const double mid = 0.5 * (lo + hi);
        (f(mid) > 0 ? hi : lo) = mid;
    }
    return 0.5 * (lo + hi);
}

namespace {
// The score distribution of a PSSM (columns equally likely, residues from `freq`): lowest
// score in `lo`; `positive` tells whether a score above 0 has probability > 0.
std::vector<double> pssm_score_distribution(const std::vector<std::int16_t>& pssm, int L, const std::array<double, 20>& freq, int& lo,
                                            bool& positive) {
    TRANOVA_CHECK(L > 0 && pssm.size() == static_cast<std::size_t>(L) * A, "PSSM of {} values for {} columns", pssm.size(), L);
    lo = 0;
    int hi = 0;
    for (int i = 0; i < L; ++i)
        for (int a = 0; a < 20; ++a) {
            lo = std::min<int>(lo, pssm[static_cast<std::size_t>(i) * A + a]);
            hi = std::max<int>(hi, pssm[static_cast<std::size_t>(i) * A + a]);
        }
    std::vector<double> prob(static_cast<std::size_t>(hi - lo + 1), 0.0);
    positive = false;
    for (int i = 0; i < L; ++i)
        for (int a = 0; a < 20; ++a) {
            const int sc = pssm[static_cast<std::size_t>(i) * A + a];
            prob[static_cast<std::size_t>(sc - lo)] += freq[static_cast<std::size_t>(a)] / L;
            positive = positive || (sc > 0 && freq[static_cast<std::size_t>(a)] > 0);
        }
    return prob;
}
}  // namespace

double pssm_lambda(const std::vector<std::int16_t>& pssm, int L, const std::array<double, 20>& freq) {
    int lo = 0;
    bool positive = false;
    const auto prob = pssm_score_distribution(pssm, L, freq, lo, positive);
    return karlin_lambda(prob, lo);
}

double pssm_lambda(const std::vector<std::int16_t>& pssm, int L) { return pssm_lambda(pssm, L, background_frequencies()); }

double composition_scale(const std::vector<std::int16_t>& pssm, int L, const std::array<double, 20>& target) {
    int lo = 0;
    bool positive = false;
    const auto prob = pssm_score_distribution(pssm, L, target, lo, positive);
    if (!positive) return 1;  // no positive score: nothing to scale
    double mean = 0;
    for (std::size_t k = 0; k < prob.size(); ++k) mean += prob[k] * (lo + static_cast<int>(k));
    if (!(mean < 0)) return 0;
    return std::min(1.0, karlin_lambda(prob, lo) / blosum62_lambda());
}

double blosum62_lambda() {
    static const double lambda = [] {
        const auto& bg = background_frequencies();
        std::vector<double> prob(20, 0.0);  // scores -4..11 (BLOSUM62's range) fit in -4..15
        for (int a = 0; a < 20; ++a)
            for (int b = 0; b < 20; ++b) prob[static_cast<std::size_t>(blosum62(a, b) + 4)] += bg[static_cast<std::size_t>(a)] * bg[static_cast<std::size_t>(b)];
        return karlin_lambda(prob, -4);
    }();
    return lambda;
}

std::array<double, 20> composition(std::string_view seq) {
    std::array<double, 20> f{};
    double n = 0;
    for (char c : seq) {
        const int a = encode_aa(c);
        if (a >= 0 && a < 20) {
            f[static_cast<std::size_t>(a)] += 1;
            n += 1;
        }
    }
    if (n == 0) return background_frequencies();
    for (auto& x : f) x /= n;
    return f;
}

double composition_scale(const std::array<double, 20>& query, const std::array<double, 20>& target) {
    std::vector<double> prob(20, 0.0);  // BLOSUM62 scores -4..11 at -4..15
    double mean = 0;
    bool positive = false;
    for (std::size_t a = 0; a < 20; ++a)
        for (std::size_t b = 0; b < 20; ++b) {
            const double p = query[a] * target[b];
            const int sc = blosum62(static_cast<int>(a), static_cast<int>(b));
            prob[static_cast<std::size_t>(sc + 4)] += p;
            mean += p * sc;
            positive = positive || (p > 0 && sc > 0);
        }
    if (!positive) return 1;    // no positive score: nothing to scale (lambda is infinite)
    if (!(mean < 0)) return 0;  // no lambda: any score is expected by chance
    return std::min(1.0, karlin_lambda(prob, -4) / blosum62_lambda());
}

}  // namespace tranova::retrieval
