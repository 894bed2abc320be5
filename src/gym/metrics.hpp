// ProteinGym zero-shot metrics as pure functions over arrays: Spearman, ROC-AUC, MCC,
// NDCG@10% and top-10% recall, exactly as `proteingym/performance_DMS_benchmarks.py`
// (v1.3) computes them with scipy 1.10 / sklearn 1.2 / numpy 1.24, plus the
// pandas round(3) they are reported with. Each metric has a plain reference version
// (`*_reference`, O(n log n) or O(n^2), written for clarity) used as the test oracle,
// and `assay_metrics` is the fast path used by `tranova gym eval`: one sort per
// (model, assay) feeds all five metrics and the mutation-depth subsets.
//
// Conventions: y = DMS_score (higher = fitter), b = DMS_score_bin (0/1), s = model score
// (higher = fitter). NaN handling follows the official code. Not here: file
// formats, merging, aggregation (see gym/aggregate.hpp).
#pragma once

#include "util/stats.hpp"

#include <cstdint>
#include <vector>

namespace tranova::gym {

// How NDCG breaks ties among equal predictions. `numpy` reproduces the tie
// order of numpy 1.24's default argsort (introsort, as used by the official script and
// by the golden vectors); `stable` breaks ties by row order.
enum class ndcg_ties { numpy, stable };

// pandas .round(3): round half to even on x*1000 (nearbyint in FE_TONEAREST).
double round3(double x);

// numpy.percentile(x, q) with the default linear method (numpy >= 1.22 _lerp). NaN if
// any x is NaN. x: (n), n >= 1.
double numpy_percentile(const double* x, int64_t n, double q);
// pandas Series.median (NaN-skipping; mean of the two middle values for even n).
double pandas_median(const double* x, int64_t n);

// rank_average (scipy.stats.rankdata 'average') and spearman: util/stats.hpp.
// Permutation numpy 1.24 np.argsort(x) (default kind) returns. out, x: (n).
void numpy_argsort(int64_t* out, const double* x, int64_t n);
// Same, but only out[0, limit) is guaranteed (equal to numpy's); the rest is some order of
// the remaining indices. Costs O(n + limit log limit) instead of O(n log n).
void numpy_argsort_top(int64_t* out, const double* x, int64_t n, int64_t limit);

// The reference metrics (one call per metric, clarity over speed).
double spearman_reference(const double* y, const double* s, int64_t n);
double auc_reference(const int8_t* b, const double* s, int64_t n);
// MCC of b against (s >= pandas_median(s)).
double mcc_reference(const int8_t* b, const double* s, int64_t n);
// MCC of b against a given 0/1 prediction (sklearn.matthews_corrcoef).
double mcc_binary(const int8_t* b, const int8_t* p, int64_t n);
double ndcg_reference(const double* y, const double* s, int64_t n, ndcg_ties ties);
double top_recall_reference(const double* y, const double* s, int64_t n);

// Index of the five metrics in every result array, in the official order.
enum metric_id { m_spearman = 0, m_auc = 1, m_mcc = 2, m_ndcg = 3, m_top_recall = 4, n_metrics = 5 };
inline const char* metric_names[n_metrics] = {"Spearman", "AUC", "MCC", "NDCG", "Top_recall"};

// Mutation-depth classes of the depth breakdown: 1, 2, 3, 4, 5+.
constexpr int n_depths = 5;
inline const char* depth_names[n_depths] = {"Depth_1", "Depth_2", "Depth_3", "Depth_4", "Depth_5+"};

// Everything about one assay that does not depend on the model: the whole assay and,
// when depths are given, each depth subset ("slice"). Built once per assay, shared by
// all models (read-only, so threads may share it).
struct assay_context {
    struct slice {
        std::vector<int64_t> rows;   // assay row of each slice element (empty = whole assay)
        std::vector<double> y;       // DMS_score, slice order
        std::vector<int8_t> b;       // DMS_score_bin
        std::vector<double> y_rank;  // average ranks of y
        std::vector<double> gain;    // min-max scaled y (NaN if y is constant)
        // What the fast path reads per element in prediction order, packed into one
        // 8-byte record: centred y rank (a half-integer below 2^23, exact in float),
        // label, y >= p90(y).
        struct elem {
            float ry_c;
            uint8_t b, top_true, pad[2];
        };
        std::vector<elem> elems;
        double idcg = 0, y_p90 = 0, saa = 0;  // saa = sum of ry_c^2 (0 <=> y constant)
        int64_t n = 0, n_pos = 0, k = 0, n_top_true = 0;
        bool same_as_whole = false;  // a depth slice holding every row: results = whole assay's
    };
    std::vector<slice> slices;  // [0] = whole assay, then depth 1..5+ when requested
    // Per row: (depth slice d << slot_shift) | index in slice d; 0 for rows in no separate
    // slice (d = 0). Empty without depth slices. Rows < 2^24, d <= 5.
    static constexpr int slot_shift = 29;
    std::vector<uint32_t> row_slot;
    ndcg_ties ties = ndcg_ties::numpy;
};

// y, b: (n); depth: (n) number of mutations per row (1.. ; >= 5 pooled) or nullptr for
// no depth breakdown (indels).
assay_context assay_context_build(const double* y, const int8_t* b, const int8_t* depth, int64_t n, ndcg_ties ties);

// Per-thread scratch buffers of assay_metrics, reused across calls (no allocation once
// warm): one per thread, defined in gym/detail/metric_scratch.hpp.
namespace detail {
struct metric_scratch;
}

// The five metrics for one model on one assay, unrounded: out[0..4] for the whole assay
// and, when ctx has depth slices, out[5 * (1 + d) + j] for depth d. out: (5 * slices).
void assay_metrics(double* out, const assay_context& ctx, const double* s, detail::metric_scratch& scratch);

// Clinical benchmark (no official script, ProteinGym issue #87): ROC-AUC of one gene
// with "pathogenic" as the positive class and the *negated* fitness prediction as the
// score, i.e. a lower predicted fitness means pathogenic. pathogenic: (n) 0/1.
double clinical_auc(const int8_t* pathogenic, const double* s, int64_t n);

}  // namespace tranova::gym
