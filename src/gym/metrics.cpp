// ProteinGym metrics (see metrics.hpp). The fast path sorts each prediction vector once
// (LSD radix sort on order-preserving 64-bit keys of -s, stable by row) and derives the
// average ranks (Spearman, AUC), the median (MCC), the top-k positions (NDCG) and the
// 90th percentile (top recall) from that one order; depth subsets reuse it by filtering.
#include "gym/metrics.hpp"

#include "gym/detail/metric_scratch.hpp"

#include "util/stats.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace tranova::gym {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

// numpy's DOUBLE_LT: NaN sorts last.
inline bool np_less(double a, double b) { return a < b || (b != b && a == a); }

// numpy 1.24 npysort/quicksort.cpp aquicksort_ for doubles (median of three, insertion
// sort below 16 elements, heapsort when the depth limit 2*floor(log2 n) runs out). It runs
// on (value, index) pairs instead of indices into the values: the comparisons and swaps
// are the same, so the resulting index order is identical, but the memory access is
// sequential (about 3x faster on large assays).
using vi_pair = detail::np_pair;
inline bool np_less_p(const vi_pair& a, const vi_pair& b) { return np_less(a.v, b.v); }

void np_heapsort_pairs(vi_pair* tosort, int64_t n) {
    vi_pair* a = tosort - 1;
    int64_t i, j, l;
    vi_pair tmp;
    for (l = n >> 1; l > 0; --l) {
        tmp = a[l];
        for (i = l, j = l << 1; j <= n;) {
            if (j < n && np_less_p(a[j], a[j + 1])) j += 1;
            if (np_less_p(tmp, a[j])) {
                a[i] = a[j];
                i = j;
                j += j;
            } else {
                break;
            }
        }
        a[i] = tmp;
    }
    for (; n > 1;) {
        tmp = a[n];
        a[n] = a[1];
        n -= 1;
        for (i = 1, j = 2; j <= n;) {
            if (j < n && np_less_p(a[j], a[j + 1])) j++;
            if (np_less_p(tmp, a[j])) {
                a[i] = a[j];
                i = j;
                j += j;
            } else {
                break;
            }
        }
        a[i] = tmp;
    }
}

// With limit < num only positions [0, limit) end up final (and equal to the full sort's):
// ranges lying wholly at or beyond `limit` are never partitioned further, which cannot
// change what lands before it.
void np_quicksort_pairs(vi_pair* start, int64_t num, int64_t limit) {
    vi_pair* const stop = start + limit;
    constexpr int small_quicksort = 16;
    constexpr int stack_size = 128;
    vi_pair* pl = start;
    vi_pair* pr = start + num - 1;
    vi_pair* stack[stack_size];
    vi_pair** sptr = stack;
    vi_pair *pm, *pi, *pj, *pk;
    vi_pair vi;
    int depth[stack_size];
    int* psdepth = depth;
    int cdepth = 0;
    for (uint64_t u = static_cast<uint64_t>(num); u >>= 1;) ++cdepth;
    cdepth *= 2;
    double vp;
    for (;;) {
        if (pl >= stop) goto stack_pop;
        if (cdepth < 0) {
            np_heapsort_pairs(pl, pr - pl + 1);
            goto stack_pop;
        }
        while ((pr - pl) > small_quicksort) {
            pm = pl + ((pr - pl) >> 1);
            if (np_less_p(*pm, *pl)) std::swap(*pm, *pl);
            if (np_less_p(*pr, *pm)) std::swap(*pr, *pm);
            if (np_less_p(*pm, *pl)) std::swap(*pm, *pl);
            vp = pm->v;
            pi = pl;
            pj = pr - 1;
            std::swap(*pm, *pj);
            for (;;) {
                do ++pi;
                while (np_less(pi->v, vp));
                do --pj;
                while (np_less(vp, pj->v));
                if (pi >= pj) break;
                std::swap(*pi, *pj);
            }
            pk = pr - 1;
            std::swap(*pi, *pk);
            if (pi - pl < pr - pi) {
                *sptr++ = pi + 1;
                *sptr++ = pr;
                pr = pi - 1;
            } else {
                *sptr++ = pl;
                *sptr++ = pi - 1;
                pl = pi + 1;
            }
            *psdepth++ = --cdepth;
            if (pl >= stop) goto stack_pop;
        }
        for (pi = pl + 1; pi <= pr; ++pi) {
            vi = *pi;
            vp = vi.v;
            pj = pi;
            pk = pi - 1;
            while (pj > pl && np_less(vp, pk->v)) *pj-- = *pk--;
            *pj = vi;
        }
    stack_pop:
        if (sptr == stack) break;
        pr = *(--sptr);
        pl = *(--sptr);
        cdepth = *(--psdepth);
    }
}

// numpy's pairwise summation of a contiguous float64 array (np.sum / add.reduce).
double np_pairwise_sum(const double* a, int64_t n) {
    if (n < 8) {
        double res = 0.;
        for (int64_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return np_pairwise_sum(a, n2) + np_pairwise_sum(a + n2, n - n2);
}
double np_sum(const double* a, int64_t n) { return 0.0 + np_pairwise_sum(a, n); }

// Order-preserving key: ascending keys = ascending doubles; -0.0 == 0.0; NaN last.
inline uint64_t sort_key(double d) {
    if (d != d) return ~uint64_t{0};
    if (d == 0) d = 0.0;
    uint64_t u = std::bit_cast<uint64_t>(d);
    return (u >> 63) ? ~u : (u | (uint64_t{1} << 63));
}

inline uint32_t sort_key32(float d) {
    if (d == 0) d = 0.0f;
    uint32_t u = std::bit_cast<uint32_t>(d);
    return (u >> 31) ? ~u : (u | (uint32_t{1} << 31));
}
inline double key_value(uint64_t k) {
    uint64_t u = (k >> 63) ? (k & ~(uint64_t{1} << 63)) : ~k;
    return std::bit_cast<double>(u);
}
inline double key_value(uint32_t k) {
    uint32_t u = (k >> 31) ? (k & ~(uint32_t{1} << 31)) : ~k;
    return static_cast<double>(std::bit_cast<float>(u));
}

// Stable ascending LSD radix sort of keys[0..n) carrying order[] (initialised by the
// caller): 11-bit digits (3 passes for 32-bit keys, 6 for 64-bit); passes whose digit is
// the same for every key are skipped.
template <class K>
void radix_sort(K* keys, uint32_t* order, K* keys_tmp, uint32_t* order_tmp, int64_t n) {
    constexpr int bits = 11, R = 1 << bits, D = (8 * sizeof(K) + bits - 1) / bits;
    if (n < 64) {
        for (int64_t i = 1; i < n; ++i) {  // insertion sort, stable
            K k = keys[i];
            uint32_t o = order[i];
            int64_t j = i;
            for (; j > 0 && keys[j - 1] > k; --j) {
                keys[j] = keys[j - 1];
                order[j] = order[j - 1];
            }
            keys[j] = k;
            order[j] = o;
        }
        return;
    }
    std::vector<uint32_t> hist_storage(static_cast<size_t>(D) * R, 0);
    uint32_t* hist = hist_storage.data();
    for (int64_t i = 0; i < n; ++i) {
        K k = keys[i];
        for (int d = 0; d < D; ++d) ++hist[d * R + ((k >> (bits * d)) & (R - 1))];
    }
    K* src_k = keys;
    uint32_t* src_o = order;
    K* dst_k = keys_tmp;
    uint32_t* dst_o = order_tmp;
    for (int d = 0; d < D; ++d) {
        uint32_t* h = hist + d * R;
        bool trivial = false;
        for (int c = 0; c < R; ++c)
            if (h[c] == static_cast<uint32_t>(n)) trivial = true;
        if (trivial) continue;
        uint32_t sum = 0;
        for (int c = 0; c < R; ++c) {
            uint32_t t = h[c];
            h[c] = sum;
            sum += t;
        }
        const int shift = bits * d;
        for (int64_t i = 0; i < n; ++i) {
            K k = src_k[i];
            uint32_t p = h[(k >> shift) & (R - 1)]++;
            dst_k[p] = k;
            dst_o[p] = src_o[i];
        }
        std::swap(src_k, dst_k);
        std::swap(src_o, dst_o);
    }
    if (src_k != keys) {
        std::memcpy(keys, src_k, n * sizeof(K));
        std::memcpy(order, src_o, n * sizeof(uint32_t));
    }
}

// Stable LSD radix sort of 64-bit words by their high 32 bits (a float32 key packed with a
// 32-bit row index): one 8-byte scatter per pass instead of separate key and index arrays.
void radix_sort_packed(uint64_t* a, uint64_t* tmp, int64_t n) {
    constexpr int bits = 11, R = 1 << bits, D = 3;
    if (n < 64) {
        for (int64_t i = 1; i < n; ++i) {
            uint64_t x = a[i];
            int64_t j = i;
            for (; j > 0 && (a[j - 1] >> 32) > (x >> 32); --j) a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    uint32_t hist[D][R];
    std::memset(hist, 0, sizeof hist);
    for (int64_t i = 0; i < n; ++i) {
        uint32_t k = static_cast<uint32_t>(a[i] >> 32);
        ++hist[0][k & (R - 1)];
        ++hist[1][(k >> bits) & (R - 1)];
        ++hist[2][k >> (2 * bits)];
    }
    uint64_t* src = a;
    uint64_t* dst = tmp;
    for (int d = 0; d < D; ++d) {
        uint32_t* h = hist[d];
        bool trivial = false;
        for (int c = 0; c < R; ++c)
            if (h[c] == static_cast<uint32_t>(n)) trivial = true;
        if (trivial) continue;
        uint32_t sum = 0;
        for (int c = 0; c < R; ++c) {
            uint32_t t = h[c];
            h[c] = sum;
            sum += t;
        }
        const int shift = 32 + bits * d;
        for (int64_t i = 0; i < n; ++i) {
            uint64_t x = src[i];
            dst[h[(x >> shift) & (R - 1)]++] = x;
        }
        std::swap(src, dst);
    }
    if (src != a) std::memcpy(a, src, n * sizeof(uint64_t));
}

// sklearn.metrics.matthews_corrcoef from the 2x2 confusion counts.
double mcc_counts(int64_t tp, int64_t tn, int64_t fp, int64_t fn) {
    double t0 = static_cast<double>(tn + fp), t1 = static_cast<double>(fn + tp);
    double p0 = static_cast<double>(tn + fn), p1 = static_cast<double>(fp + tp);
    double n_correct = static_cast<double>(tn + tp);
    double n = t0 + t1;
    double cov_ytyp = n_correct * n - (t0 * p0 + t1 * p1);
    double cov_ypyp = n * n - (p0 * p0 + p1 * p1);
    double cov_ytyt = n * n - (t0 * t0 + t1 * t1);
    if (cov_ypyp * cov_ytyt == 0) return 0.0;
    return cov_ytyp / std::sqrt(cov_ytyt * cov_ypyp);
}

// 1-based position of each element when sorting `v` decreasingly (np.argsort(np.argsort(-v)) + 1).
// Only ranks <= k are exact (the rest are > k), which is all NDCG looks at.
void desc_ranks(std::vector<int64_t>& rank, const double* v, int64_t n, ndcg_ties ties, int64_t k) {
    std::vector<double> neg(n);
    for (int64_t i = 0; i < n; ++i) neg[i] = -v[i];
    std::vector<int64_t> order(n);
    if (ties == ndcg_ties::numpy) {
        numpy_argsort_top(order.data(), neg.data(), n, k + 1);
    } else {
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return np_less(neg[a], neg[b]); });
    }
    rank.assign(n, 0);
    for (int64_t p = 0; p < n; ++p) rank[order[p]] = p + 1;
}

double dcg_from_ranks(const std::vector<int64_t>& rank, const double* gain, int64_t n, int64_t k, bool& any) {
    std::vector<double> terms;
    for (int64_t i = 0; i < n; ++i)
        if (rank[i] <= k && gain[i] != 0) terms.push_back(gain[i] / std::log2(static_cast<double>(rank[i] + 1)));
    any = !terms.empty();
    return np_sum(terms.data(), static_cast<int64_t>(terms.size()));
}

void minmax_gains(double* g, const double* y, int64_t n) {
    double lo = y[0], hi = y[0];
    for (int64_t i = 1; i < n; ++i) {
        lo = std::min(lo, y[i]);
        hi = std::max(hi, y[i]);
    }
    for (int64_t i = 0; i < n; ++i) g[i] = (y[i] - lo) / (hi - lo);
}

int64_t ndcg_k(int64_t n) { return static_cast<int64_t>(std::floor(static_cast<double>(n) * (10.0 / 100.0))); }

// numpy linear interpolation between sorted[lo] and sorted[lo + 1] (numpy _lerp).
double lerp_percentile(const double* sorted, int64_t n, double q) {
    double h = static_cast<double>(n - 1) * (q / 100.0);
    double fl = std::floor(h);
    int64_t lo = static_cast<int64_t>(fl), hi = lo + 1;
    if (h >= static_cast<double>(n - 1)) lo = hi = n - 1;
    if (h < 0) lo = hi = 0;
    double gamma = h - fl;
    double a = sorted[lo], b = sorted[hi];
    double diff = b - a;
    return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

}  // namespace

double round3(double x) { return std::nearbyint(x * 1000.0) / 1000.0; }

double numpy_percentile(const double* x, int64_t n, double q) {
    std::vector<double> v(x, x + n);
    for (double d : v)
        if (d != d) return nan_v;
    std::sort(v.begin(), v.end());
    return lerp_percentile(v.data(), n, q);
}

double pandas_median(const double* x, int64_t n) {
    std::vector<double> v;
    for (int64_t i = 0; i < n; ++i)
        if (x[i] == x[i]) v.push_back(x[i]);
    if (v.empty()) return nan_v;
    std::sort(v.begin(), v.end());
    size_t m = v.size();
    return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

void numpy_argsort(int64_t* out, const double* x, int64_t n) { numpy_argsort_top(out, x, n, n); }

namespace {
void numpy_argsort_top_buf(std::vector<vi_pair>& p, int64_t* out, const double* x, int64_t n, int64_t limit) {
    if (p.size() < static_cast<size_t>(n)) p.resize(n);
    for (int64_t i = 0; i < n; ++i) p[i] = {x[i], i};
    if (n > 1) np_quicksort_pairs(p.data(), n, std::min(limit, n));
    for (int64_t i = 0; i < n; ++i) out[i] = p[i].i;
}
}  // namespace

void numpy_argsort_top(int64_t* out, const double* x, int64_t n, int64_t limit) {
    std::vector<vi_pair> p;
    numpy_argsort_top_buf(p, out, x, n, limit);
}

double spearman_reference(const double* y, const double* s, int64_t n) {
    return tranova::spearman(y, s, n);
}

double auc_reference(const int8_t* b, const double* s, int64_t n) {
    int64_t pos = 0, neg = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (s[i] != s[i]) return nan_v;
        (b[i] ? pos : neg)++;
    }
    if (pos == 0 || neg == 0) return nan_v;
    double wins = 0;
    for (int64_t i = 0; i < n; ++i)
        if (b[i])
            for (int64_t j = 0; j < n; ++j)
                if (!b[j]) wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    return wins / (static_cast<double>(pos) * static_cast<double>(neg));
}

double mcc_binary(const int8_t* b, const int8_t* p, int64_t n) {
    int64_t tp = 0, tn = 0, fp = 0, fn = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (b[i] && p[i]) ++tp;
        else if (!b[i] && !p[i]) ++tn;
        else if (p[i]) ++fp;
        else ++fn;
    }
    return mcc_counts(tp, tn, fp, fn);
}

double mcc_reference(const int8_t* b, const double* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (s[i] != s[i]) return nan_v;
    double med = pandas_median(s, n);
    std::vector<int8_t> p(n);
    for (int64_t i = 0; i < n; ++i) p[i] = s[i] >= med;
    return mcc_binary(b, p.data(), n);
}

double ndcg_reference(const double* y, const double* s, int64_t n, ndcg_ties ties) {
    if (n == 0) return nan_v;
    int64_t k = ndcg_k(n);
    std::vector<double> gains(n);
    minmax_gains(gains.data(), y, n);
    std::vector<int64_t> rank;
    desc_ranks(rank, s, n, ties, n);  // full sort: the oracle
    bool any = false;
    double dcg = dcg_from_ranks(rank, gains.data(), n, k, any);
    if (!any) return 0.0;
    desc_ranks(rank, gains.data(), n, ties, n);
    bool any_ideal = false;
    double idcg = dcg_from_ranks(rank, gains.data(), n, k, any_ideal);
    return dcg / idcg;
}

double top_recall_reference(const double* y, const double* s, int64_t n) {
    if (n == 0) return nan_v;
    double t = numpy_percentile(y, n, 90), u = numpy_percentile(s, n, 90);
    int64_t top_true = 0, both = 0;
    for (int64_t i = 0; i < n; ++i) {
        bool tt = y[i] >= t, tm = s[i] >= u;
        top_true += tt;
        both += tt && tm;
    }
    return top_true > 0 ? static_cast<double>(both) / static_cast<double>(top_true) : 0.0;
}

double clinical_auc(const int8_t* pathogenic, const double* s, int64_t n) {
    std::vector<double> neg(n);
    for (int64_t i = 0; i < n; ++i) neg[i] = -s[i];
    return auc_reference(pathogenic, neg.data(), n);
}

// ---------------------------------------------------------------------------------------
// Fast path

assay_context assay_context_build(const double* y, const int8_t* b, const int8_t* depth, int64_t n, ndcg_ties ties) {
    // Centred ranks are stored as float (exact half-integers below 2^23) and rows as uint32.
    TRANOVA_CHECK(n < (int64_t{1} << 24), "assay of {} variants: at most 16,777,215 are supported", n);
    assay_context ctx;
    ctx.ties = ties;
    int n_slices = depth ? 1 + n_depths : 1;
    ctx.slices.resize(n_slices);
    for (int d = 0; d < n_slices; ++d) {
        auto& sl = ctx.slices[d];
        if (d == 0) {
            sl.y.assign(y, y + n);
            sl.b.assign(b, b + n);
        } else {
            int64_t count = 0;
            for (int64_t i = 0; i < n; ++i) count += std::min<int>(depth[i], n_depths) == d;
            if (count == n && n > 0) {  // e.g. an assay of single mutants: depth 1 is the whole assay
                sl.same_as_whole = true;
                sl.n = n;
                continue;
            }
            for (int64_t i = 0; i < n; ++i)
                if (std::min<int>(depth[i], n_depths) == d) {
                    sl.rows.push_back(i);
                    sl.y.push_back(y[i]);
                    sl.b.push_back(b[i]);
                }
        }
        sl.n = static_cast<int64_t>(sl.y.size());
        if (sl.n == 0) continue;
        for (int8_t v : sl.b) sl.n_pos += v != 0;
        // Sort y once (radix, stable): average ranks and the 90th percentile from it.
        std::vector<uint64_t> keys(sl.n), keys_tmp(sl.n);
        std::vector<uint32_t> ord(sl.n), ord_tmp(sl.n);
        for (int64_t i = 0; i < sl.n; ++i) {
            keys[i] = sort_key(sl.y[i]);
            ord[i] = static_cast<uint32_t>(i);
        }
        radix_sort(keys.data(), ord.data(), keys_tmp.data(), ord_tmp.data(), sl.n);
        sl.y_rank.resize(sl.n);
        std::vector<double> y_sorted(sl.n);
        for (int64_t a = 0; a < sl.n;) {
            int64_t e = a + 1;
            while (e < sl.n && keys[e] == keys[a]) ++e;
            double r = (static_cast<double>(a + 1) + static_cast<double>(e)) / 2;
            for (int64_t p = a; p < e; ++p) {
                sl.y_rank[ord[p]] = r;
                y_sorted[p] = sl.y[ord[p]];
            }
            a = e;
        }
        sl.gain.resize(sl.n);
        minmax_gains(sl.gain.data(), sl.y.data(), sl.n);
        sl.k = ndcg_k(sl.n);
        std::vector<int64_t> rank;
        if (ties == ndcg_ties::numpy) {
            desc_ranks(rank, sl.gain.data(), sl.n, ties, sl.k);
        } else {
            // Stable decreasing order of the gains by radix sort: the same order as desc_ranks'
            // stable_sort (equal keys <=> equal doubles, NaN last), without its comparisons.
            for (int64_t i = 0; i < sl.n; ++i) {
                keys[i] = sort_key(-sl.gain[i]);
                ord[i] = static_cast<uint32_t>(i);
            }
            radix_sort(keys.data(), ord.data(), keys_tmp.data(), ord_tmp.data(), sl.n);
            rank.assign(sl.n, 0);
            for (int64_t p = 0; p < sl.n; ++p) rank[ord[p]] = p + 1;
        }
        bool any = false;
        sl.idcg = dcg_from_ranks(rank, sl.gain.data(), sl.n, sl.k, any);
        sl.y_p90 = lerp_percentile(y_sorted.data(), sl.n, 90);
        // Average ranks sum to n(n+1)/2 exactly, so centring on (n+1)/2 is exact.
        const double mid = (static_cast<double>(sl.n) + 1) / 2;
        sl.elems.resize(sl.n);
        sl.saa = 0;
        for (int64_t i = 0; i < sl.n; ++i) {
            double c = sl.y_rank[i] - mid;
            sl.elems[i] = {static_cast<float>(c), static_cast<uint8_t>(sl.b[i] != 0),
                           static_cast<uint8_t>(sl.y[i] >= sl.y_p90), {0, 0}};
            sl.saa += c * c;
            sl.n_top_true += sl.y[i] >= sl.y_p90;
        }
    }
    // Row -> (depth slice, index in it) for the per-model distribution of the order.
    if (depth) {
        ctx.row_slot.assign(static_cast<size_t>(n), 0);
        for (int d = 1; d < n_slices; ++d) {
            const auto& sl = ctx.slices[d];
            if (sl.same_as_whole) continue;
            for (int64_t j = 0; j < sl.n; ++j)
                ctx.row_slot[sl.rows[j]] = (static_cast<uint32_t>(d) << assay_context::slot_shift) | static_cast<uint32_t>(j);
        }
    }
    return ctx;
}

namespace {

// The five metrics on one slice from its predictions in decreasing order: sv (values)
// and ord (slice-local indices; ties in row order). `med` is the MCC threshold (the
// whole assay's median, also for depth slices). One pass over the order computes the
// average ranks on the fly (Spearman, AUC), the confusion counts (MCC) and the top-10%
// overlap (recall); NDCG then scans the k best rows in row order.
constexpr int64_t prefetch_distance = 16;

void slice_metrics(double* out, const assay_context::slice& sl, const double* sv, const uint32_t* ord, double med,
                   ndcg_ties ties, detail::metric_scratch& sc) {
    const int64_t n = sl.n;
    if (n == 0) {
        for (int j = 0; j < n_metrics; ++j) out[j] = nan_v;
        return;
    }
    // Model 90th percentile: ascending index q is decreasing position n-1-q.
    double u;
    {
        double h = static_cast<double>(n - 1) * (90.0 / 100.0);
        double fl = std::floor(h);
        int64_t lo = static_cast<int64_t>(fl), hi = lo + 1;
        if (h >= static_cast<double>(n - 1)) lo = hi = n - 1;
        double gamma = h - fl, a = sv[n - 1 - lo], b = sv[n - 1 - hi], diff = b - a;
        u = gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
    }
    const auto* E = sl.elems.data();
    bool ties_in_top_k = false;
    double sab = 0, sbb = 0;
    int64_t r2_pos = 0, tp = 0, fp = 0, both = 0, n_pred = 0;
    for (int64_t a = 0; a < n;) {
        const double v = sv[a];
        int64_t b = a + 1;
        while (b < n && sv[b] == v) ++b;
        if (b - a > 1) ties_in_top_k |= a < sl.k;
        const int64_t twice_rank = 2 * n - a - b + 1;               // ascending average rank, doubled
        const double rs_c = static_cast<double>(n - a - b) / 2;      // rank - (n+1)/2, exact
        const bool pred = v >= med, top = v >= u;
        int64_t pos_in_group = 0;
        double sy = 0;
        // The gather E[ord[p]] is random access (cache misses on large assays): fetch ahead.
        if (a + prefetch_distance < n) __builtin_prefetch(&E[ord[a + prefetch_distance]]);
        for (int64_t p = a; p < b; ++p) {
            const auto& e = E[ord[p]];
            sy += static_cast<double>(e.ry_c);
            pos_in_group += e.b;
            both += top & e.top_true;
        }
        sab += sy * rs_c;
        sbb += rs_c * rs_c * static_cast<double>(b - a);
        r2_pos += pos_in_group * twice_rank;
        if (pred) {
            tp += pos_in_group;
            fp += (b - a) - pos_in_group;
            n_pred += b - a;
        }
        a = b;
    }
    const bool s_const = sv[0] == sv[n - 1];
    const double fact = static_cast<double>(n - 1);
    out[m_spearman] = (s_const || sl.saa == 0 || n < 2)
                          ? nan_v
                          : std::clamp((sab / fact) / std::sqrt(sl.saa / fact) / std::sqrt(sbb / fact), -1.0, 1.0);
    const int64_t P = sl.n_pos, N = n - sl.n_pos;
    out[m_auc] = (P == 0 || N == 0) ? nan_v
                                    : static_cast<double>(r2_pos - P * (P + 1)) /
                                          (2.0 * static_cast<double>(P) * static_cast<double>(N));
    const int64_t fn = P - tp, tn = N - fp;
    out[m_mcc] = mcc_counts(tp, tn, fp, fn);
    (void)n_pred;

    // NDCG: mark the k best rows with their position + 1, then sum in row order (as numpy
    // sums the official list) and clear the marks again.
    const int64_t k = sl.k;
    sc.mark.resize(std::max<size_t>(sc.mark.size(), static_cast<size_t>(n)), 0);
    if (ties == ndcg_ties::numpy && ties_in_top_k) {
        // numpy sorts -s in row order: build those (value, row) pairs straight from the order.
        if (sc.np_buf.size() < static_cast<size_t>(n)) sc.np_buf.resize(n);
        for (int64_t p = 0; p < n; ++p) sc.np_buf[ord[p]] = {-sv[p], static_cast<int64_t>(ord[p])};
        np_quicksort_pairs(sc.np_buf.data(), n, std::min<int64_t>(k + 1, n));
        for (int64_t p = 0; p < k; ++p) sc.mark[sc.np_buf[p].i] = static_cast<uint32_t>(p + 1);
    } else {
        for (int64_t p = 0; p < k; ++p) sc.mark[ord[p]] = static_cast<uint32_t>(p + 1);
    }
    sc.terms.clear();
    // log2(position + 1) once per thread, not once per (model, row): the same doubles.
    for (auto m = static_cast<int64_t>(sc.log2_pos.size()); m <= k; ++m)
        sc.log2_pos.push_back(std::log2(static_cast<double>(m + 1)));
    if (k > 0)
        for (int64_t i = 0; i < n; ++i)
            if (uint32_t m = sc.mark[i]) {
                sc.mark[i] = 0;
                if (sl.gain[i] != 0) sc.terms.push_back(sl.gain[i] / sc.log2_pos[m]);
            }
    out[m_ndcg] = sc.terms.empty() ? 0.0 : np_sum(sc.terms.data(), static_cast<int64_t>(sc.terms.size())) / sl.idcg;

    out[m_top_recall] = sl.n_top_true > 0 ? static_cast<double>(both) / static_cast<double>(sl.n_top_true) : 0.0;
}

// Rare path: predictions with NaN. The official code assumes there are none; tranova's
// policy (docs/gym.md) drops the NaN rows and computes all five metrics on the rest, so
// one missing prediction never blanks some metrics while others still print numbers.
// `pred` (the median-binarised prediction) was derived with the NaN-skipping median.
void slice_metrics_nan(double* out, const assay_context::slice& sl, const double* s, const int8_t* pred,
                       ndcg_ties ties) {
    std::vector<double> y, sv;
    std::vector<int8_t> b, p;
    for (int64_t i = 0; i < sl.n; ++i)
        if (s[i] == s[i]) {
            y.push_back(sl.y[i]);
            b.push_back(sl.b[i]);
            sv.push_back(s[i]);
            p.push_back(pred[i]);
        }
    const auto n = static_cast<int64_t>(sv.size());
    if (n == 0) {
        for (int j = 0; j < n_metrics; ++j) out[j] = nan_v;
        return;
    }
    out[m_spearman] = spearman_reference(y.data(), sv.data(), n);
    out[m_auc] = auc_reference(b.data(), sv.data(), n);
    out[m_mcc] = mcc_binary(b.data(), p.data(), n);
    out[m_ndcg] = ndcg_reference(y.data(), sv.data(), n, ties);
    out[m_top_recall] = top_recall_reference(y.data(), sv.data(), n);
}

}  // namespace

void assay_metrics(double* out, const assay_context& ctx, const double* s, detail::metric_scratch& sc) {
    const auto& whole = ctx.slices[0];
    const int64_t n = whole.n;
    // One pass over the predictions: NaN count, float32 check and the packed sort words
    // (32-bit key of -s, row) in case every value is a float32 (most models).
    int64_t n_nan = 0;
    bool f32 = true;
    sc.keys.resize(n);
    for (int64_t i = 0; i < n; ++i) {
        const double v = s[i];
        const float f = static_cast<float>(v);
        n_nan += v != v;
        f32 &= static_cast<double>(f) == v;
        sc.keys[i] = (static_cast<uint64_t>(sort_key32(-f)) << 32) | static_cast<uint64_t>(i);
    }
    const bool has_nan = n_nan > 0;
    sc.pred_bin.resize(n);
    if (has_nan) {
        double med = pandas_median(s, n);
        for (int64_t i = 0; i < n; ++i) sc.pred_bin[i] = s[i] >= med;
        for (size_t d = 0; d < ctx.slices.size(); ++d) {
            const auto& sl = ctx.slices[d];
            if (d == 0) {
                slice_metrics_nan(out, sl, s, sc.pred_bin.data(), ctx.ties);
                continue;
            }
            if (sl.same_as_whole) {
                std::copy(out, out + n_metrics, out + n_metrics * d);
                continue;
            }
            std::vector<double> sub(sl.n);
            std::vector<int8_t> sp(sl.n);
            for (int64_t j = 0; j < sl.n; ++j) {
                sub[j] = s[sl.rows[j]];
                sp[j] = sc.pred_bin[sl.rows[j]];
            }
            slice_metrics_nan(out + n_metrics * d, sl, sub.data(), sp.data(), ctx.ties);
        }
        return;
    }
    if (n == 0) {
        for (size_t j = 0; j < n_metrics * ctx.slices.size(); ++j) out[j] = nan_v;
        return;
    }
    sc.order.resize(n);
    sc.order_tmp.resize(n);
    sc.sv.resize(n);
    for (int64_t i = 0; i < n; ++i) sc.order[i] = static_cast<uint32_t>(i);
    // Sort by -s: 32-bit keys when every prediction is a float32 value (most models), else 64-bit.
    if (f32) {
        sc.keys_tmp.resize(n);
        radix_sort_packed(sc.keys.data(), sc.keys_tmp.data(), n);
        for (int64_t p = 0; p < n; ++p) {
            sc.order[p] = static_cast<uint32_t>(sc.keys[p]);
            sc.sv[p] = -key_value(static_cast<uint32_t>(sc.keys[p] >> 32));
        }
    } else {
        sc.keys.resize(n);
        sc.keys_tmp.resize(n);
        for (int64_t i = 0; i < n; ++i) sc.keys[i] = sort_key(-s[i]);
        radix_sort(sc.keys.data(), sc.order.data(), sc.keys_tmp.data(), sc.order_tmp.data(), n);
        for (int64_t p = 0; p < n; ++p) sc.sv[p] = -key_value(sc.keys[p]);
    }
    // pandas median from the decreasing order.
    const double med = n % 2 ? sc.sv[n / 2] : (sc.sv[n / 2 - 1] + sc.sv[n / 2]) / 2;
    slice_metrics(out, whole, sc.sv.data(), sc.order.data(), med, ctx.ties, sc);
    if (ctx.slices.size() == 1) return;
    // Depth slices: one pass distributes the global order (and values) to the slices.
    const int S = static_cast<int>(ctx.slices.size());
    int64_t offset[8] = {0}, fill[8] = {0};
    bool any_slice = false;
    for (int d = 1; d < S; ++d) {
        const auto& sl = ctx.slices[d];
        offset[d] = offset[d - 1] + (d > 1 && !ctx.slices[d - 1].same_as_whole ? ctx.slices[d - 1].n : 0);
        fill[d] = offset[d];
        if (sl.same_as_whole) {
            std::copy(out, out + n_metrics, out + n_metrics * d);
            continue;
        }
        any_slice |= sl.n > 0;
    }
    if (!any_slice) {
        for (int d = 1; d < S; ++d)
            if (!ctx.slices[d].same_as_whole)
                for (int j = 0; j < n_metrics; ++j) out[n_metrics * d + j] = nan_v;
        return;
    }
    sc.depth_order.resize(n);
    sc.depth_s.resize(n);
    const uint32_t* slot = ctx.row_slot.data();
    const uint32_t* ord = sc.order.data();
    for (int64_t p = 0; p < n; ++p) {
        // slot[row] is a random access: fetch ahead.
        if (p + prefetch_distance < n) __builtin_prefetch(&slot[ord[p + prefetch_distance]]);
        const uint32_t v = slot[ord[p]];
        const uint32_t d = v >> assay_context::slot_shift;
        if (d == 0) continue;
        sc.depth_order[fill[d]] = v & ((uint32_t{1} << assay_context::slot_shift) - 1);
        sc.depth_s[fill[d]++] = sc.sv[p];
    }
    for (int d = 1; d < S; ++d)
        if (!ctx.slices[d].same_as_whole)
            slice_metrics(out + n_metrics * d, ctx.slices[d], sc.depth_s.data() + offset[d], sc.depth_order.data() + offset[d],
                      med, ctx.ties, sc);
}

}  // namespace tranova::gym
