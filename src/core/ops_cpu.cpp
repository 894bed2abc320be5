// Fast CPU paths of the ops in ops.hpp: OpenMP over rows/batch/heads, OpenBLAS sgemm for
// every matrix product. Shapes and semantics are documented in ops.hpp.
#include "core/ops.hpp"
#include "core/ops_backward.hpp"

#include "core/detail/attention.hpp"
#include "core/linear.hpp"
#include "core/linear_kernel.hpp"

#include "util/error.hpp"
#include "util/threads.hpp"

#include <cblas.h>
#include <omp.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

// OpenBLAS thread control; weak so that another CBLAS links too.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int openblas_get_num_threads() __attribute__((weak));

namespace tranova::core {

blas_single_thread_guard::blas_single_thread_guard() {
    if (openblas_get_num_threads) saved_ = openblas_get_num_threads();
    if (openblas_set_num_threads && saved_ != 1) openblas_set_num_threads(1);
}
blas_single_thread_guard::~blas_single_thread_guard() {
    if (openblas_set_num_threads && saved_ != 1) openblas_set_num_threads(saved_ > 0 ? saved_ : std::max(1, get_threads()));
}

void embedding_forward(float* out, const int32_t* ids, const float* table, int N, int C, int V) {
    for (int i = 0; i < N; i++)
        TRANOVA_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: token id {} at index {} outside [0, {})",
                      ids[i], i, V);
#pragma omp parallel for schedule(static) if (N * (long)C > 65536)
    for (int i = 0; i < N; i++)
        std::memcpy(out + (size_t)i * C, table + (size_t)ids[i] * C, sizeof(float) * C);
}

namespace {
// One layernorm for inference and training (same bits): mean/rstd, when not nullptr,
// receive each row's statistics for the backward (ops_backward.hpp).
void layernorm_rows(float* out, float* mean_out, float* rstd_out, const float* inp, const float* weight,
                    const float* bias, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if (N * (long)C > 16384)
    for (int i = 0; i < N; i++) {
        const float* x = inp + (size_t)i * C;
        float* y = out + (size_t)i * C;
        // simd reductions: partial sums in vector lanes (a different rounding order from
        // the naive twin, within its 1e-5 tolerance).
        float mean = 0.0f;
#pragma omp simd reduction(+ : mean)
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
        float var = 0.0f;
#pragma omp simd reduction(+ : var)
        for (int c = 0; c < C; c++) {
            float d = x[c] - mean;
            var += d * d;
        }
        var /= C;
        float rstd = 1.0f / std::sqrt(var + eps);
        for (int c = 0; c < C; c++) {
            float v = (x[c] - mean) * rstd;
            if (weight) v *= weight[c];
            if (bias) v += bias[c];
            y[c] = v;
        }
        if (mean_out) mean_out[i] = mean;
        if (rstd_out) rstd_out[i] = rstd;
    }
}
}  // namespace

void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias,
                       int N, int C, float eps) {
    layernorm_rows(out, nullptr, nullptr, inp, weight, bias, N, C, eps);
}

void layernorm_forward_train(float* out, float* mean, float* rstd, const float* inp,
                             const float* weight, const float* bias, int N, int C, float eps) {
    layernorm_rows(out, mean, rstd, inp, weight, bias, N, C, eps);
}

void gemm(float* c, const float* a, const float* b, int M, int N, int K, bool trans_a,
          bool trans_b, float alpha, float beta, int lda, int ldb, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {  // BLAS leaves c untouched for K == 0; define it as beta * c.
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float& v = c[(size_t)i * ldc + j];
                v = beta == 0.0f ? 0.0f : beta * v;
            }
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

void matmul_forward(float* c, const float* a, const float* b, int M, int N, int K, bool trans_a,
                    bool trans_b) {
    gemm(c, a, b, M, N, K, trans_a, trans_b, 1.0f, 0.0f, trans_a ? M : K, trans_b ? K : N, N);
}

void linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int N, int IC, int OC) {
    if (gemm_avx512_applies(N, OC, IC)) {  // training-sized: W^T packed per call (core/linear.hpp)
        gemm_packed_avx512(out, OC, inp, IC, false, weight, IC, true, N, OC, IC, bias, false);
        return;
    }
    if (bias) {
#pragma omp parallel for schedule(static) if (N * (long)OC > 65536)
        for (int i = 0; i < N; i++) std::memcpy(out + (size_t)i * OC, bias, sizeof(float) * OC);
    }
    gemm(out, inp, weight, N, OC, IC, false, true, 1.0f, bias ? 1.0f : 0.0f, IC, IC, OC);
}

#define TRANOVA_ELEMENTWISE(expr)                                         \
    _Pragma("omp parallel for simd schedule(static) if (n > 65536)")     \
    for (size_t i = 0; i < n; i++) { expr; }

// ReLU as a plain select on a local, not std::max: GCC does not vectorise std::max (it
// returns a reference) inside an `omp simd` loop, and the scalar loop's branch on the
// sign mispredicts half the time (ReLU was 12 % of the Casanovo encoder's time). Same
// values as std::max(x, 0.0f), -0.0 and NaN included.
void relu_forward(float* out, const float* inp, size_t n) {
    TRANOVA_ELEMENTWISE(const float x = inp[i]; out[i] = x < 0.0f ? 0.0f : x)
}
void squared_relu_forward(float* out, const float* inp, size_t n) {
    TRANOVA_ELEMENTWISE(const float x = inp[i]; const float r = x < 0.0f ? 0.0f : x; out[i] = r * r)
}
void gelu_forward(float* out, const float* inp, size_t n) {
    TRANOVA_ELEMENTWISE(float x = inp[i]; out[i] = 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)))
}
void gelu_tanh_forward(float* out, const float* inp, size_t n) {
    TRANOVA_ELEMENTWISE(float x = inp[i];
                        out[i] = 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x))))
}
void add_forward(float* out, const float* a, const float* b, size_t n) {
    TRANOVA_ELEMENTWISE(out[i] = a[i] + b[i])
}

#if defined(__AVX2__) && defined(__FMA__)
namespace {
// e^x for 8 values x <= 0 (AVX2 + FMA): x = n ln2 + r (Cody-Waite, |r| <= ln2/2), degree-7
// Taylor polynomial for e^r (relative error < 3e-7), 2^n through the exponent bits.
// x < -87 (incl. -inf) gives exactly 0.
inline __m256 exp8_nonpositive(__m256 x0) {
    const __m256 x = _mm256_max_ps(x0, _mm256_set1_ps(-88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 v = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(_mm256_cmp_ps(x0, _mm256_set1_ps(-87.0f), _CMP_LT_OQ), v);
}
}  // namespace
#endif

// y[j] = exp(x[j] - mx) for j < n (y may equal x), returning the sum. Values whose
// exponent is below -87 become exactly 0: no subnormals reach later sgemms (they cost
// ~100x per FMA on x86).
float exp_shift_sum(float* y, const float* x, int n, float mx) {
    float sum = 0.0f;
    int j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 acc = _mm256_setzero_ps();
    const __m256 vmx = _mm256_set1_ps(mx);
    for (; j + 8 <= n; j += 8) {
        const __m256 e = exp8_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmx));
        _mm256_storeu_ps(y + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    alignas(32) float part[8];
    _mm256_store_ps(part, acc);
    for (float v : part) sum += v;
#endif
    for (; j < n; j++) {
        const float z = x[j] - mx;
        y[j] = z < -87.0f ? 0.0f : std::exp(z);
        sum += y[j];
    }
    return sum;
}

namespace {
// One row of softmax over C values (in place allowed).
inline void softmax_row(float* y, const float* x, int C) {
    float mx = -INFINITY;
    for (int c = 0; c < C; c++) mx = std::max(mx, x[c]);
    const float inv = 1.0f / exp_shift_sum(y, x, C, mx);
    for (int c = 0; c < C; c++) y[c] *= inv;
}
}  // namespace

void softmax_forward(float* out, const float* inp, int N, int C) {
#pragma omp parallel for schedule(static) if (N * (long)C > 16384)
    for (int i = 0; i < N; i++) softmax_row(out + (size_t)i * C, inp + (size_t)i * C, C);
}

void log_softmax_forward(float* out, const float* inp, int N, int C) {
#pragma omp parallel for schedule(static) if (N * (long)C > 16384)
    for (int i = 0; i < N; i++) {
        const float* x = inp + (size_t)i * C;
        float* y = out + (size_t)i * C;
        float mx = -INFINITY;
        for (int c = 0; c < C; c++) mx = std::max(mx, x[c]);
        float sum = 0.0f;
        for (int c = 0; c < C; c++) sum += std::exp(x[c] - mx);
        float lse = mx + std::log(sum);
        for (int c = 0; c < C; c++) y[c] = x[c] - lse;
    }
}

void sinusoidal_forward(float* out, const float* x, int N, const float* sin_term, int n_sin,
                        const float* cos_term, int n_cos) {
    const int D = n_sin + n_cos;
#pragma omp parallel for schedule(static) if (N * (long)D > 16384)
    for (int i = 0; i < N; i++) {
        float* y = out + (size_t)i * D;
        for (int j = 0; j < n_sin; j++) y[j] = std::sin(x[i] / sin_term[j]);
        for (int j = 0; j < n_cos; j++) y[n_sin + j] = std::cos(x[i] / cos_term[j]);
    }
}

void sinusoidal_terms(float* sin_term, int n_sin, float* cos_term, int n_cos,
                      float min_wavelength, float max_wavelength) {
    const float base = min_wavelength / (2.0f * (float)M_PI);
    const float scale = max_wavelength / min_wavelength;
    for (int j = 0; j < n_sin; j++)
        sin_term[j] = base * std::pow(scale, n_sin > 1 ? (float)j / (float)(n_sin - 1) : 0.0f);
    for (int j = 0; j < n_cos; j++)
        cos_term[j] = base * std::pow(scale, n_cos > 1 ? (float)j / (float)(n_cos - 1) : 0.0f);
}

void sinusoidal_positions_forward(float* out, int start, int T, int C) {
    for (int t = 0; t < T; t++) {
        double p = (double)start + t;
        for (int c = 0; c < C; c += 2) {
            double f = std::pow(10000.0, -(double)c / C);
            out[(size_t)t * C + c] = (float)std::sin(p * f);
            if (c + 1 < C) out[(size_t)t * C + c + 1] = (float)std::cos(p * f);
        }
    }
}

void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight,
                                     const float* bias, const conv1d_shape& s) {
    const int K = s.K, WC = s.WC, C = s.C;
    // The weights (WC, K) transposed to (K, WC) on the stack, so that the inner loop over
    // channels reads them contiguously and vectorises (Tranception: 7 x 64 floats).
    constexpr int max_wt = 4096;
    alignas(64) float wt[max_wt];
    const bool transposed = (long)K * WC <= max_wt;
    if (transposed)
        for (int c = 0; c < WC; c++)
            for (int m = 0; m < K; m++) wt[m * WC + c] = weight[(size_t)c * K + m];
#pragma omp parallel for collapse(2) schedule(static) if ((long)s.B * s.T * C > 16384)
    for (int b = 0; b < s.B; b++)
        for (int t = 0; t < s.T; t++) {
            const long pos = (long)s.start + t;
            float* y = out + b * s.bs_out + (long)t * s.ld_out;
            const int m_lo = (int)std::max(0L, (long)(K - 1) - pos);  // taps before position 0 are zero padding
            const float* xb = inp + b * s.bs_in;
            const long first = pos - (K - 1);  // tap m reads row first + m (>= 0 from m_lo on)
            for (int c0 = 0; c0 < C; c0 += WC) {
                const int n = std::min(WC, C - c0);
                float* yc = y + c0;
                if (transposed) {
                    // Sum the taps in a local accumulator (same order as the naive twin: bias,
                    // then tap 0, 1, ...); being local, it cannot alias the inputs, so the
                    // channel loops vectorise. One store per output.
                    constexpr int chunk = 256;
                    alignas(64) float acc[chunk];
                    for (int c1 = 0; c1 < n; c1 += chunk) {
                        const int nn = std::min(chunk, n - c1);
                        for (int c = 0; c < nn; c++) acc[c] = bias ? bias[c1 + c] : 0.0f;
                        for (int m = m_lo; m < K; m++) {
                            const float* w = wt + m * WC + c1;
                            const float* x = xb + (first + m) * s.ld_in + c0 + c1;
                            for (int c = 0; c < nn; c++) acc[c] += w[c] * x[c];
                        }
                        for (int c = 0; c < nn; c++) yc[c1 + c] = acc[c];
                    }
                } else {
                    for (int c = 0; c < n; c++) yc[c] = bias ? bias[c] : 0.0f;
                    for (int m = m_lo; m < K; m++) {
                        const float* x = xb + (first + m) * s.ld_in + c0;
                        for (int c = 0; c < n; c++) yc[c] += weight[(size_t)c * K + m] * x[c];
                    }
                }
            }
        }
}

// ---------------------------------------------------------------------------------------
// Attention: tasks are (batch, head, block of QB query rows). Each task computes its score
// block with one sgemm (only the keys a causal block can see), applies bias/masks and the
// softmax in place, then one sgemm P V into out. Scratch: QB * TK floats per thread.
namespace {
constexpr int QB = 64;
}
bool attention_force_blas = false;

bool attention_uses_avx512() {
#if defined(TRANOVA_HAVE_AVX512_KERNEL)
    return cpu_has_avx512() && !attention_force_blas;
#else
    return false;
#endif
}

attention_shape attention_shape_contiguous(int B, int T, int TK, int NH, int HD) {
    attention_shape s;
    s.B = B, s.T = T, s.TK = TK, s.NH = NH, s.HD = HD;
    const long C = (long)NH * HD;
    s.ld_q = s.ld_k = s.ld_v = s.ld_o = C;
    s.bs_q = s.bs_o = (long)T * C;
    s.bs_k = s.bs_v = (long)TK * C;
    return s;
}

size_t attention_scratch_floats(const attention_shape& s) {
    // per thread: a QB x TK score block and a transposed HD x TK key block
    return (size_t)omp_get_max_threads() * (QB + std::max(1, s.HD)) * std::max(1, s.TK);
}

void attention_forward(float* out, float* probs, const float* q, const float* k,
                       const float* v, const attention_shape& s, float* scratch) {
    const float scale = s.scale != 0.0f ? s.scale : 1.0f / std::sqrt((float)s.HD);
    const int nblk = (s.T + QB - 1) / QB;
    const long ntask = (long)s.B * s.NH * nblk;
    // small problems (e.g. one decoding step) run on the calling thread: waking a team
    // costs more than the work, a lot more on an oversubscribed machine
    const double work = 4.0 * s.B * s.NH * (double)s.T * s.TK * s.HD;
    const bool parallel = ntask > 1 && work > 1.0e7 && omp_get_max_threads() > 1;
    // The two products run on our AVX-512 kernel when the CPU has it (no dependence on
    // which kernels OpenBLAS picks), else on BLAS.
    const bool avx512 = attention_uses_avx512();
    std::optional<blas_single_thread_guard> guard;
    if (parallel && !avx512) guard.emplace();
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (long task = 0; task < ntask; task++) {
        const int blk = (int)(task % nblk);
        const int h = (int)((task / nblk) % s.NH);
        const int b = (int)(task / ((long)nblk * s.NH));
        const int i0 = blk * QB, nq = std::min(QB, s.T - i0);
        // keys this block can see at all
        const int nk = s.causal ? std::min(s.TK, s.start + i0 + nq) : s.TK;
        float* S = scratch + (size_t)omp_get_thread_num() * (QB + std::max(1, s.HD)) * std::max(1, s.TK);
        float* KT = S + (size_t)QB * std::max(1, s.TK);  // keys [0, nk) transposed: HD x nk
        const float* qb = q + b * s.bs_q + (long)i0 * s.ld_q + h * s.HD;
        const float* kb = k + b * s.bs_k + h * s.HD;
        const float* vb = v + b * s.bs_v + h * s.HD;
        float* ob = out + b * s.bs_o + (long)i0 * s.ld_o + h * s.HD;
        const uint8_t* valid = s.key_valid ? s.key_valid + (size_t)b * s.TK : nullptr;
        bool scaled = true;  // S already holds scale * Q K^T
        if (nk > 0) {
            if (avx512) {
                // Q K^T as a row-major product against the key block transposed to HD x nk
                // (16 keys at a time: each store run is one cache line); the scale is
                // applied in the softmax pass below.
                for (int j0 = 0; j0 < nk; j0 += 16) {
                    const int jn = std::min(16, nk - j0);
                    for (int e = 0; e < s.HD; e++)
                        for (int j = 0; j < jn; j++) KT[(size_t)e * nk + j0 + j] = kb[(long)(j0 + j) * s.ld_k + e];
                }
                detail::gemm_rowmajor_avx512(S, nk, qb, (int)s.ld_q, KT, nk, nq, nk, s.HD);
                scaled = false;
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, s.HD, scale, qb,
                            (int)s.ld_q, kb, (int)s.ld_k, 0.0f, S, nk);
            }
        }
        const float slope = s.alibi_slopes ? s.alibi_slopes[h] : 0.0f;
        for (int r = 0; r < nq; r++) {
            float* row = S + (size_t)r * nk;
            const int lim = s.causal ? std::min(nk, s.start + i0 + r + 1) : nk;  // keys [0, lim)
            // scale (when the product did not apply it), ALiBi bias, key mask, row max; the
            // common case without a mask runs as one vectorised pass.
            const float sc = scaled ? 1.0f : scale;
            float mx = -INFINITY;
            if (!valid) {
#pragma omp simd reduction(max : mx)
                for (int j = 0; j < lim; j++) {
                    float x = row[j] * sc;
                    x = x + slope * (float)j;
                    row[j] = x;
                    mx = std::max(mx, x);
                }
            } else {
                for (int j = 0; j < lim; j++) {
                    float x = row[j] * sc;
                    x = x + slope * (float)j;
                    if (!valid[j]) x = -INFINITY;
                    row[j] = x;
                    mx = std::max(mx, x);
                }
            }
            if (mx == -INFINITY) {  // nothing to attend to
                std::fill(row, row + nk, 0.0f);
            } else {
                const float inv = 1.0f / exp_shift_sum(row, row, lim, mx);
                for (int j = 0; j < lim; j++) row[j] *= inv;
                std::fill(row + lim, row + nk, 0.0f);
            }
            if (probs) {
                float* pr = probs + (((size_t)b * s.NH + h) * s.T + i0 + r) * s.TK;
                std::memcpy(pr, row, sizeof(float) * nk);
                std::fill(pr + nk, pr + s.TK, 0.0f);
            }
        }
        if (nk > 0 && avx512)
            detail::gemm_rowmajor_avx512(ob, (int)s.ld_o, S, nk, vb, (int)s.ld_v, nq, s.HD, nk);
        else if (nk > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, s.HD, nk, 1.0f, S, nk, vb,
                        (int)s.ld_v, 0.0f, ob, (int)s.ld_o);
        else
            for (int r = 0; r < nq; r++) std::fill(ob + (long)r * s.ld_o, ob + (long)r * s.ld_o + s.HD, 0.0f);
    }
}

}  // namespace tranova::core
