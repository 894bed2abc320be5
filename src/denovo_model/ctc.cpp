// CTC greedy / prefix beam search / precise mass control (see ctc.hpp).
#include "denovo_model/ctc.hpp"

#include "denovo/peptide.hpp"

#include "util/error.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tranova::denovo_model {

std::vector<int> ctc_collapse(const std::vector<int>& path, int blank) {
    std::vector<int> out;
    int prev = -1;
    for (int t : path) {
        if (t != prev && t != blank) out.push_back(t);
        prev = t;
    }
    return out;
}

std::vector<int> ctc_greedy(const float* scores, int T, int V, int blank) {
    std::vector<int> path(T);
    for (int t = 0; t < T; ++t) {
        const float* row = scores + long(t) * V;
        path[t] = int(std::max_element(row, row + V) - row);
    }
    return ctc_collapse(path, blank);
}

// ---------------------------------------------------------------------------------------
// Prefix beam search. The trie mirrors ctcdecode's PathTrie: children kept in insertion
// order, depth-first enumeration, nth_element pruning with the same comparator, float
// log-probabilities; that makes the surviving beams (and their ties) identical.

namespace {

constexpr float flt_inf = std::numeric_limits<float>::max();

float log_sum_exp(float x, float y) {
    if (x <= -flt_inf) return y;
    if (y <= -flt_inf) return x;
    float m = std::max(x, y);
    return std::log(std::exp(x - m) + std::exp(y - m)) + m;
}

struct trie_node {
    float pb_prev = -flt_inf, pnb_prev = -flt_inf, pb_cur = -flt_inf, pnb_cur = -flt_inf;
    float log_prob_c = -flt_inf, score = -flt_inf;
    int ch = -1, timestep = 0, parent = -1;
    bool exists = true;
    std::vector<std::pair<int, int>> children;  // (char, node index)
};

struct trie {
    std::vector<trie_node> nodes;
    trie() {
        nodes.emplace_back();
        nodes[0].score = nodes[0].pb_prev = 0.0f;
    }
    int child(int n, int c, int t, float lp) {
        for (auto& [cc, idx] : nodes[n].children) {
            if (cc != c) continue;
            trie_node& k = nodes[idx];
            if (k.log_prob_c < lp) {
                k.log_prob_c = lp;
                k.timestep = t;
            }
            if (!k.exists) {
                k.exists = true;
                k.pb_prev = k.pnb_prev = k.pb_cur = k.pnb_cur = -flt_inf;
            }
            return idx;
        }
        trie_node k;
        k.ch = c;
        k.timestep = t;
        k.parent = n;
        k.log_prob_c = lp;
        nodes.push_back(k);
        int idx = int(nodes.size()) - 1;
        nodes[n].children.emplace_back(c, idx);
        return idx;
    }
    void collect(int n, std::vector<int>& out) {
        trie_node& k = nodes[n];
        if (k.exists) {
            k.pb_prev = k.pb_cur;
            k.pnb_prev = k.pnb_cur;
            k.pb_cur = k.pnb_cur = -flt_inf;
            k.score = log_sum_exp(k.pb_prev, k.pnb_prev);
            out.push_back(n);
        }
        for (size_t i = 0; i < nodes[n].children.size(); ++i) collect(nodes[n].children[i].second, out);
    }
    void remove(int n) {
        trie_node& k = nodes[n];
        k.exists = false;
        if (!k.children.empty() || k.parent < 0) return;
        trie_node& p = nodes[k.parent];
        for (auto it = p.children.begin(); it != p.children.end(); ++it) {
            if (it->first == k.ch) {
                p.children.erase(it);
                break;
            }
        }
        if (p.children.empty() && !p.exists) remove(k.parent);
    }
    bool better(int a, int b) const {  // ctcdecode prefix_compare
        const trie_node &x = nodes[a], &y = nodes[b];
        if (x.score == y.score) return x.ch != y.ch && x.ch < y.ch;
        return x.score > y.score;
    }
};

}  // namespace

std::vector<ctc_beam> ctc_beam_search(const float* probs, int T, int V, int blank, int beam_width, int cutoff_top_n,
                                      double cutoff_prob) {
    TRANOVA_CHECK(beam_width >= 1, "CTC beam width must be >= 1");
    trie tr;
    std::vector<int> prefixes{0};
    const size_t beam = size_t(beam_width);
    std::vector<std::pair<int, double>> cand(V);
    std::vector<std::pair<int, float>> log_probs;
    for (int t = 0; t < T; ++t) {
        const float* p = probs + long(t) * V;
        // vocabulary pruning (a no-op with cutoff_prob 1 and cutoff_top_n >= V, PrimeNovo's setting)
        for (int c = 0; c < V; ++c) cand[c] = {c, double(p[c])};
        size_t n_keep = size_t(V);
        double log_cutoff = std::log(cutoff_prob);
        if (log_cutoff < 0.0 || size_t(cutoff_top_n) < size_t(V)) {
            std::sort(cand.begin(), cand.end(), [](auto& a, auto& b) { return a.second > b.second; });
            if (log_cutoff < 0.0) {
                double cum = 0.0;
                n_keep = 0;
                for (size_t i = 0; i < cand.size(); ++i) {
                    cum = log_sum_exp(float(cum), float(std::log(cand[i].second)));
                    n_keep += 1;
                    if (cum >= cutoff_prob || n_keep >= size_t(cutoff_top_n)) break;
                }
            } else {
                n_keep = size_t(cutoff_top_n);
            }
        }
        log_probs.clear();
        for (size_t i = 0; i < n_keep; ++i)
            log_probs.emplace_back(cand[i].first,
                                   float(std::log(cand[i].second + double(std::numeric_limits<float>::min()))));

        for (auto [c, lp] : log_probs) {
            for (size_t i = 0; i < prefixes.size() && i < beam; ++i) {
                int pi = prefixes[i];
                if (c == blank) {
                    trie_node& pr = tr.nodes[pi];
                    pr.pb_cur = log_sum_exp(pr.pb_cur, lp + pr.score);
                    continue;
                }
                if (c == tr.nodes[pi].ch) {
                    trie_node& pr = tr.nodes[pi];
                    pr.pnb_cur = log_sum_exp(pr.pnb_cur, lp + pr.pnb_prev);
                }
                int ni = tr.child(pi, c, t, lp);  // may reallocate tr.nodes
                const trie_node& pr = tr.nodes[pi];
                float log_p = -flt_inf;
                if (c == pr.ch && pr.pb_prev > -flt_inf) log_p = lp + pr.pb_prev;
                else if (c != pr.ch) log_p = lp + pr.score;
                trie_node& nw = tr.nodes[ni];
                nw.pnb_cur = log_sum_exp(nw.pnb_cur, log_p);
            }
        }
        prefixes.clear();
        tr.collect(0, prefixes);
        if (prefixes.size() >= beam) {
            std::nth_element(prefixes.begin(), prefixes.begin() + long(beam), prefixes.end(),
                             [&](int a, int b) { return tr.better(a, b); });
            for (size_t i = beam; i < prefixes.size(); ++i) tr.remove(prefixes[i]);
            prefixes.resize(beam);
        }
    }
    size_t n = std::min(prefixes.size(), beam);
    std::sort(prefixes.begin(), prefixes.begin() + long(n), [&](int a, int b) { return tr.better(a, b); });
    std::vector<int> top(prefixes.begin(), prefixes.begin() + long(n));
    std::sort(top.begin(), top.end(), [&](int a, int b) { return tr.better(a, b); });
    std::vector<ctc_beam> out;
    for (int idx : top) {
        ctc_beam b;
        b.score = -tr.nodes[idx].score;
        for (int k = idx; k > 0 && tr.nodes[k].ch >= 0; k = tr.nodes[k].parent) {
            b.tokens.push_back(tr.nodes[k].ch);
            b.timesteps.push_back(tr.nodes[k].timestep);
        }
        std::reverse(b.tokens.begin(), b.tokens.end());
        std::reverse(b.timesteps.begin(), b.timesteps.end());
        out.push_back(std::move(b));
    }
    return out;
}

double ctc_loss(const float* log_probs, int T, int V, const std::vector<int>& target, int blank) {
    // alpha recursion over the blank-extended target, in double log space
    const int S = 2 * int(target.size()) + 1;
    const double ninf = -std::numeric_limits<double>::infinity();
    auto lse = [ninf](double a, double b) {
        if (a == ninf) return b;
        if (b == ninf) return a;
        double m = std::max(a, b);
        return m + std::log(std::exp(a - m) + std::exp(b - m));
    };
    auto label = [&](int s) { return s % 2 == 0 ? blank : target[size_t(s / 2)]; };
    std::vector<double> a(static_cast<size_t>(S), ninf), b(static_cast<size_t>(S));
    a[0] = log_probs[blank];
    if (S > 1) a[1] = log_probs[label(1)];
    for (int t = 1; t < T; ++t) {
        const float* lp = log_probs + long(t) * V;
        for (int s = 0; s < S; ++s) {
            double v = a[size_t(s)];
            if (s >= 1) v = lse(v, a[size_t(s - 1)]);
            if (s >= 2 && label(s) != blank && label(s) != label(s - 2)) v = lse(v, a[size_t(s - 2)]);
            b[size_t(s)] = v == ninf ? ninf : v + lp[label(s)];
        }
        a.swap(b);
    }
    double ll = a[size_t(S - 1)];
    if (S > 1) ll = lse(ll, a[size_t(S - 2)]);
    return -ll;
}

// ---------------------------------------------------------------------------------------
// Precise mass control. The CUDA kernel of PrimeNovo runs one thread per (mass bin w,
// position h); each thread only reads column h-1, so a sequential sweep over h then w
// gives the same result. Paths are kept as back-pointers instead of copied arrays.

float pmc_target(double precursor_mass) { return float(precursor_mass - denovo::kPrimeNovoH2O); }

namespace {

// PMC's rolled, clamped, shifted scores and residue masses (shared by both versions).
struct pmc_inputs {
    std::vector<float> P;   // (T, A): P = clamp(roll(logp), -20) - min + 0.1
    std::vector<float> am;  // rolled masses; disabled residues 10000
    float max_mass = 0.0f;
};

pmc_inputs pmc_prepare(const float* log_probs, int T, int V, const std::vector<double>& masses) {
    const int A = V;
    pmc_inputs in;
    in.P.resize(size_t(T) * A);
    float mn = std::numeric_limits<float>::infinity();
    for (int t = 0; t < T; ++t) {
        for (int i = 0; i < A; ++i) {
            float v = log_probs[long(t) * V + (i == 0 ? V - 1 : i - 1)];
            if (v < -20.0f) v = -20.0f;
            in.P[size_t(t) * A + i] = v;
            mn = std::min(mn, v);
        }
    }
    for (auto& v : in.P) v = (v - mn) + 0.1f;
    in.am.assign(size_t(A), 0.0f);
    for (int i = 1; i < A; ++i) {
        double mass = masses[size_t(i - 1)];
        in.am[size_t(i)] = mass < 0 ? 10000.0f : float(mass);
        if (in.am[size_t(i)] < 10000.0f) in.max_mass = std::max(in.max_mass, in.am[size_t(i)]);
    }
    return in;
}

// The DP's states, one array per field (structure of arrays, so that the hot loop below
// runs 8 mass bins per AVX2 instruction): state (h, w) = the best path of h frames whose
// mass falls in bin w, at index h * length + w.
struct pmc_states {
    std::vector<float> score, mass;
    std::vector<int32_t> last;  // last frame's rolled token (0 = blank)
    std::vector<int32_t> back;  // predecessor bin at h-1; -1 = the frames before are all blank
    std::vector<int32_t> set;   // 1: the path differs from all-blank
    explicit pmc_states(size_t n) : score(n, 0.0f), mass(n, 0.0f), last(n, 0), back(n, -1), set(n, 0) {}
    void put(size_t k, float sc, float m, int l, int bk) { score[k] = sc, mass[k] = m, last[k] = l, back[k] = bk, set[k] = 1; }
};

// Candidates "residue i after the path in bin m0 (then m0 + 1)" for the bins w in [w0, w1] of
// the shifted range (m0 = w - K - 1 there), 8 bins per step: exactly the scalar test
// (last != i, mass + mi in [w, w + 1), strictly higher score; q0 before q1) as lane masks.
// Returns the first bin it did not handle.
int pmc_relax_shifted_avx2(pmc_states& st, size_t cur, size_t prev, int w0, int w1, int K, int i, float mi, float pi) {
    const __m256i vi = _mm256_set1_epi32(i), one = _mm256_set1_epi32(1), none = _mm256_set1_epi32(-1);
    const __m256 vmi = _mm256_set1_ps(mi), vpi = _mm256_set1_ps(pi), fone = _mm256_set1_ps(1.0f);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int w = w0;
    for (; w + 7 <= w1; w += 8) {
        const size_t c = cur + size_t(w);
        __m256 cs = _mm256_loadu_ps(&st.score[c]), cm = _mm256_loadu_ps(&st.mass[c]);
        __m256i cl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&st.last[c]));
        __m256i cb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&st.back[c]));
        __m256i ce = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&st.set[c]));
        const __m256i vw = _mm256_add_epi32(_mm256_set1_epi32(w), lane);
        const __m256 lo_w = _mm256_cvtepi32_ps(vw), hi_w = _mm256_add_ps(lo_w, fone);
        for (int d = 0; d < 2; ++d) {  // predecessor bin m0 + d
            const int m = w - K - 1 + d;
            const size_t q = prev + size_t(m);
            const __m256 qs = _mm256_loadu_ps(&st.score[q]), qm = _mm256_loadu_ps(&st.mass[q]);
            const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&st.last[q]));
            const __m256i qe = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&st.set[q]));
            const __m256 t = _mm256_add_ps(qm, vmi), cand = _mm256_add_ps(qs, vpi);
            __m256 ok = _mm256_and_ps(_mm256_cmp_ps(t, lo_w, _CMP_GE_OQ), _mm256_cmp_ps(t, hi_w, _CMP_LT_OQ));
            ok = _mm256_and_ps(ok, _mm256_cmp_ps(cand, cs, _CMP_GT_OQ));
            ok = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(ql, vi)), ok);
            const __m256i oki = _mm256_castps_si256(ok);
            const __m256i qbin = _mm256_add_epi32(_mm256_set1_epi32(m), lane);
            const __m256i back = _mm256_blendv_epi8(none, qbin, _mm256_cmpgt_epi32(qe, _mm256_setzero_si256()));
            cs = _mm256_blendv_ps(cs, cand, ok);
            cm = _mm256_blendv_ps(cm, t, ok);
            cl = _mm256_blendv_epi8(cl, vi, oki);
            cb = _mm256_blendv_epi8(cb, back, oki);
            ce = _mm256_blendv_epi8(ce, one, oki);
        }
        _mm256_storeu_ps(&st.score[c], cs);
        _mm256_storeu_ps(&st.mass[c], cm);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(&st.last[c]), cl);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(&st.back[c]), cb);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(&st.set[c]), ce);
    }
    return w;
}

}  // namespace

// The same dynamic program as pmc_decode_naive (same states, same candidate order and
// ties, so the same path bit for bit), laid out frame-major in one array per field: row h
// reads only row h-1, contiguously (the naive twin strides over T+1 floats in separate
// arrays, which made PMC a third of NAR decoding time), and the bulk of the residue
// candidates runs 8 bins at a time (pmc_relax_shifted_avx2).
std::vector<int> pmc_decode(const float* log_probs, int T, int V, const std::vector<double>& masses, float target,
                            float tol) {
    TRANOVA_CHECK(int(masses.size()) == V - 1, "PMC: {} residue masses for a CTC vocabulary of {}", masses.size(), V);
    const int A = V;
    const pmc_inputs in = pmc_prepare(log_probs, T, V, masses);
    const float grid = 1.0f;
    const int length = int(target / grid + 1.0f);
    if (length < 2) return std::vector<int>(T, V - 1);
    const int W_last = length - 1;
    pmc_states st(size_t(T + 1) * size_t(length));
    auto row = [&](int h) { return size_t(h) * size_t(length); };
    const float lo = target - tol, hi = target + tol;
    const float* am = in.am.data();
    for (int h = 1; h <= T; ++h) {
        const float* Ph = in.P.data() + size_t(h - 1) * A;
        const int maxW = int((in.max_mass * float(h)) / grid);
        const int w_end = std::min(length - 1, maxW);
        const size_t cur = row(h), prev = row(h - 1);
        if (h == 1) {
            for (int w = 1; w <= w_end; ++w) {
                for (int i = 1; i < A; ++i) {
                    if (w == int(am[i] / grid) && st.score[cur + w] < Ph[i]) st.put(cur + w, Ph[i], am[i], i, -1);
                }
            }
            continue;
        }
        // Blank or repeated token: stay in bin w.
        for (int w = 1; w <= w_end; ++w) {
            const size_t p = prev + size_t(w);
            if (!(st.score[p] > 0)) continue;
            const size_t c = cur + size_t(w);
            st.put(c, st.score[p] + Ph[0], st.mass[p], 0, w);
            if (st.last[p] != 0) {
                const float cand = st.score[p] + Ph[st.last[p]];
                if (st.score[c] < cand) st.score[c] = cand, st.last[c] = st.last[p];
            }
        }
        // A new residue i from bin w0 or w0 + 1. Each cell's candidates still come in the
        // order i, then minw (the loops over w and i are swapped, not the per-cell order),
        // so ties resolve as in the naive twin.
        for (int i = 1; i < A; ++i) {
            const float mi = am[i], pi = Ph[i];
            auto relax = [&](int w, int minw) {
                const size_t q = prev + size_t(minw);
                if (st.last[q] == i) return;
                const float tm = st.mass[q] + mi;
                const bool ok = w == W_last ? (tm >= lo && tm <= hi) : (tm >= float(w) && tm < float(w + 1));
                if (!ok) return;
                const float cand = st.score[q] + pi;
                const size_t c = cur + size_t(w);
                if (cand > st.score[c]) st.put(c, cand, tm, i, st.set[q] ? minw : -1);
            };
            // Where float(w) - mi stays clear of integers, w0 = w - K - 1 with K = floor(mi)
            // for every w > mi: the predecessor bins are a fixed shift of w and the loop
            // below streams two rows. Below 8192 the float difference is within 2.5e-4 of
            // the exact one, so a fractional part 1e-3 away from 0 and 1 cannot round across
            // an integer. Elsewhere (small w, a mass within rounding of an
            // integer, or a disabled residue) the bins are computed exactly as written.
            const float frac = mi - std::floor(mi);
            const int K = int(std::floor(mi));
            const bool shifted = mi < 5000.0f && frac > 1e-3f && frac < 1.0f - 1e-3f && w_end < 8192;
            const int w_fast = shifted ? std::max(1, K + 2) : w_end + 1;  // first w of the shifted range
            auto relax_bins = [&](int w) {  // the predecessor bins as the naive twin computes them
                const int w0 = int((float(w) * grid - mi) / grid);
                for (int minw = std::max(w0, 0); minw <= w0 + 1 && minw < length; ++minw) relax(w, minw);
            };
            for (int w = 1; w <= std::min(w_end, w_fast - 1); ++w) relax_bins(w);
            const int w_stop = std::min(w_end, W_last - 1);  // W_last has its own test
            int w = w_fast <= w_stop ? pmc_relax_shifted_avx2(st, cur, prev, w_fast, w_stop, K, i, mi, pi) : w_fast;
            for (; w <= w_stop; ++w) {  // the last < 8 bins of the shifted range: m0 = w - K - 1
                relax(w, w - K - 1);
                relax(w, w - K);
            }
            for (w = std::max(w_fast, w_stop + 1); w <= w_end; ++w) relax_bins(w);
        }
    }
    std::vector<int> rolled(T, 0);
    int w = W_last;
    for (int h = T; h >= 1 && w >= 0; --h) {
        const size_t c = row(h) + size_t(w);
        if (!st.set[c]) break;  // positions 1..h are all blank
        rolled[h - 1] = st.last[c];
        w = st.back[c];
    }
    std::vector<int> path(T);
    for (int t = 0; t < T; ++t) path[t] = rolled[t] == 0 ? V - 1 : rolled[t] - 1;
    return path;
}

std::vector<int> pmc_decode_naive(const float* log_probs, int T, int V, const std::vector<double>& masses, float target,
                            float tol) {
    TRANOVA_CHECK(int(masses.size()) == V - 1, "PMC: {} residue masses for a CTC vocabulary of {}", masses.size(), V);
    const int A = V;  // rolled vocabulary: 0 = blank, i = residue i-1
    // P = clamp(roll(logp), -20) - min + 0.1
    std::vector<float> P(size_t(T) * A);
    float mn = std::numeric_limits<float>::infinity();
    for (int t = 0; t < T; ++t) {
        for (int i = 0; i < A; ++i) {
            float v = log_probs[long(t) * V + (i == 0 ? V - 1 : i - 1)];
            if (v < -20.0f) v = -20.0f;
            P[size_t(t) * A + i] = v;
            mn = std::min(mn, v);
        }
    }
    for (auto& v : P) v = (v - mn) + 0.1f;
    std::vector<float> am(A, 0.0f);
    float max_mass = 0.0f;
    for (int i = 1; i < A; ++i) {
        double mass = masses[i - 1];
        am[i] = mass < 0 ? 10000.0f : float(mass);
        if (am[i] < 10000.0f) max_mass = std::max(max_mass, am[i]);
    }
    const float grid = 1.0f;
    const int length = int(target / grid + 1.0f);
    if (length < 2) return std::vector<int>(T, V - 1);
    const int W_last = length - 1;
    const int H = T + 1;
    // state (w,h): score, mass, last token, back-pointer (predecessor bin at h-1, -1 = empty path)
    std::vector<float> dp(size_t(length) * H, 0.0f), dpm(size_t(length) * H, 0.0f);
    std::vector<int> last(size_t(length) * H, 0), back(size_t(length) * H, -1);
    std::vector<unsigned char> set(size_t(length) * H, 0);  // path differs from all-blank
    auto at = [H](int w, int h) { return size_t(w) * H + size_t(h); };
    const float lo = target - tol, hi = target + tol;
    for (int h = 1; h <= T; ++h) {
        const float* Ph = P.data() + size_t(h - 1) * A;
        const int maxW = int((max_mass * float(h)) / grid);
        for (int w = 1; w < length; ++w) {
            if (w > maxW) continue;
            size_t s = at(w, h);
            if (h == 1) {
                for (int i = 1; i < A; ++i) {
                    if (w == int(am[i] / grid) && dp[s] < Ph[i]) {
                        dp[s] = Ph[i];
                        dpm[s] = am[i];
                        last[s] = i;
                        back[s] = -1;
                        set[s] = 1;
                    }
                }
                continue;
            }
            size_t sp = at(w, h - 1);
            if (dp[sp] > 0) {
                dp[s] = dp[sp] + Ph[0];
                dpm[s] = dpm[sp];
                last[s] = 0;
                back[s] = w;
                set[s] = 1;
                int pre = last[sp];
                if (pre != 0) {
                    float cand = dp[sp] + Ph[pre];
                    if (dp[s] < cand) {
                        dp[s] = cand;
                        dpm[s] = dpm[sp];
                        last[s] = pre;
                        back[s] = w;
                    }
                }
            }
            for (int i = 1; i < A; ++i) {
                int w0 = int((float(w) * grid - am[i]) / grid);
                for (int minw = w0; minw <= w0 + 1; ++minw) {
                    if (minw < 0) continue;
                    if (minw >= length) continue;  // beyond the grid: never a predecessor
                    size_t q = at(minw, h - 1);
                    int pre = last[q];
                    if (pre == i) continue;
                    float tm = dpm[q] + am[i];
                    bool ok = (tm >= float(w) * grid && tm < float(w + 1) * grid && w != W_last) ||
                              (w == W_last && tm >= lo && tm <= hi);
                    if (!ok) continue;
                    float cand = dp[q] + Ph[i];
                    if (cand > dp[s]) {
                        dp[s] = cand;
                        dpm[s] = tm;
                        last[s] = i;
                        back[s] = set[q] ? minw : -1;
                        set[s] = 1;
                    }
                }
            }
        }
    }
    // reconstruct the path at (W_last, T)
    std::vector<int> rolled(T, 0);
    int w = W_last;
    for (int h = T; h >= 1 && w >= 0; --h) {
        size_t s = at(w, h);
        if (!set[s]) break;  // positions 1..h are all blank
        rolled[h - 1] = last[s];
        w = back[s];
    }
    std::vector<int> path(T);
    for (int t = 0; t < T; ++t) path[t] = rolled[t] == 0 ? V - 1 : rolled[t] - 1;
    return path;
}

}  // namespace tranova::denovo_model
