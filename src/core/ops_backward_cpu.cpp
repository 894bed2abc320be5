// Fast CPU paths of the backward ops in ops_backward.hpp: OpenMP over rows / batch-heads,
// BLAS sgemm (beta = 1, accumulating) for every matrix product. Reductions over rows
// (bias, layernorm and conv parameter gradients, embedding scatter) are split across
// threads by COLUMN blocks, each column summed in row order, so results do not depend on
// the thread count. Semantics are documented in ops_backward.hpp.
#include "core/ops_backward.hpp"

#include "core/linear.hpp"

#include "util/error.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace tranova::core {

namespace {
// Reductions over rows are split across threads by column blocks: one thread sums a
// column over all rows in row order, so a column's bits do not depend on how the columns
// are blocked, hence not on the thread count. Blocks are wide (rows stream as contiguous
// segments) yet leave work for every thread.
constexpr int max_block = 512;
int column_block(int C) {
    const int t = std::max(1, omp_get_max_threads());
    return std::clamp(((C + t - 1) / t + 15) / 16 * 16, 16, max_block);
}

// dst[c] += sum_{i < N} src[i * ld + c] for c < C: per column a double sum in row order.
void add_column_sums(float* dst, const float* src, int N, int C, long ld) {
    const int W = column_block(C), nblk = (C + W - 1) / W;
#pragma omp parallel for schedule(static) if ((long)N * C > 65536)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * W, n = std::min(W, C - c0);
        double acc[max_block] = {};
        for (int i = 0; i < N; i++) {
            const float* row = src + i * ld + c0;
            for (int c = 0; c < n; c++) acc[c] += row[c];
        }
        for (int c = 0; c < n; c++) dst[c0 + c] += (float)acc[c];
    }
}
}  // namespace

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int N, int C, int V) {
    for (int i = 0; i < N; i++)
        TRANOVA_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: token id {} at index {} outside [0, {})",
                      ids[i], i, V);
    if (!dtable) return;
    // Threads own channel blocks and walk all rows in index order: no two threads touch
    // one entry, and a repeated id accumulates in the same order for any thread count.
    const int W = column_block(C), nblk = (C + W - 1) / W;
#pragma omp parallel for schedule(static) if ((long)N * C > 65536)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * W, n = std::min(W, C - c0);
        for (int i = 0; i < N; i++) {
            float* d = dtable + (size_t)ids[i] * C + c0;
            const float* g = dout + (size_t)i * C + c0;
            for (int c = 0; c < n; c++) d[c] += g[c];
        }
    }
}

// layernorm_forward_train shares layernorm_forward's code (ops_cpu.cpp): the same bits.

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean,
                        const float* rstd, int N, int C) {
    if (dinp) {
#pragma omp parallel for schedule(static) if (N * (long)C > 16384)
        for (int i = 0; i < N; i++) {
            const float* x = inp + (size_t)i * C;
            const float* g = dout + (size_t)i * C;
            float* dx = dinp + (size_t)i * C;
            const float m = mean[i], r = rstd[i];
            float mean_dn = 0.0f, mean_dn_n = 0.0f;
#pragma omp simd reduction(+ : mean_dn, mean_dn_n)
            for (int c = 0; c < C; c++) {
                const float n = (x[c] - m) * r, dn = weight ? g[c] * weight[c] : g[c];
                mean_dn += dn;
                mean_dn_n += dn * n;
            }
            mean_dn /= C, mean_dn_n /= C;
            for (int c = 0; c < C; c++) {
                const float n = (x[c] - m) * r, dn = weight ? g[c] * weight[c] : g[c];
                dx[c] += r * (dn - mean_dn - n * mean_dn_n);
            }
        }
    }
    if (!dweight && !dbias) return;
    // Parameter gradients: threads own column blocks and sum all rows in order.
    const int W = column_block(C), nblk = (C + W - 1) / W;
#pragma omp parallel for schedule(static) if (N * (long)C > 65536)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * W, nc = std::min(W, C - c0);
        double accw[max_block] = {}, accb[max_block] = {};
        for (int i = 0; i < N; i++) {
            const float* x = inp + (size_t)i * C + c0;
            const float* g = dout + (size_t)i * C + c0;
            const float m = mean[i], r = rstd[i];
            for (int c = 0; c < nc; c++) {
                accw[c] += g[c] * ((x[c] - m) * r);
                accb[c] += g[c];
            }
        }
        for (int c = 0; c < nc; c++) {
            if (dweight) dweight[c0 + c] += (float)accw[c];
            if (dbias) dbias[c0 + c] += (float)accb[c];
        }
    }
}

void gemm_backward(float* da, float* db, const float* dc, const float* a, const float* b,
                   int M, int N, int K, bool trans_a, bool trans_b, float alpha, int lda,
                   int ldb, int ldc) {
    if (da) {
        if (!trans_a)  // da (M, K) += dc (M, N) op(b)^T (N, K)
            gemm(da, dc, b, M, K, N, false, !trans_b, alpha, 1.0f, ldc, ldb, lda);
        else  // da (K, M) += op(b) (K, N) dc^T (N, M)
            gemm(da, b, dc, K, M, N, trans_b, true, alpha, 1.0f, ldb, ldc, lda);
    }
    if (db) {
        if (!trans_b)  // db (K, N) += op(a)^T (K, M) dc (M, N)
            gemm(db, a, dc, K, N, M, !trans_a, false, alpha, 1.0f, lda, ldc, ldb);
        else  // db (N, K) += dc^T (N, M) op(a) (M, K)
            gemm(db, dc, a, N, K, M, true, trans_a, alpha, 1.0f, ldc, lda, ldb);
    }
}

void matmul_backward(float* da, float* db, const float* dc, const float* a, const float* b,
                     int M, int N, int K, bool trans_a, bool trans_b) {
    gemm_backward(da, db, dc, a, b, M, N, K, trans_a, trans_b, 1.0f, trans_a ? M : K,
                  trans_b ? K : N, N);
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int IC, int OC) {
    // dinp (N, IC) += dout (N, OC) W (OC, IC);  dweight (OC, IC) += dout^T (OC, N) inp (N, IC):
    // on the AVX-512 kernel (thread-count independent bits) when large enough, else BLAS.
    if (dinp) {
        if (gemm_avx512_applies(N, IC, OC))
            gemm_packed_avx512(dinp, IC, dout, OC, false, weight, IC, false, N, IC, OC, nullptr, true);
        else
            gemm(dinp, dout, weight, N, IC, OC, false, false, 1.0f, 1.0f, OC, IC, IC);
    }
    if (dweight) {
        if (gemm_avx512_applies(OC, IC, N))
            gemm_packed_avx512(dweight, IC, dout, OC, true, inp, IC, false, OC, IC, N, nullptr, true);
        else
            gemm(dweight, dout, inp, OC, IC, N, true, false, 1.0f, 1.0f, OC, IC, IC);
    }
    if (dbias) add_column_sums(dbias, dout, N, OC, OC);
}

#define TRANOVA_ELEMENTWISE(expr)                                     \
    _Pragma("omp parallel for simd schedule(static) if (n > 65536)") \
    for (size_t i = 0; i < n; i++) { expr; }

void relu_backward(float* dinp, const float* dout, const float* inp, size_t n) {
    TRANOVA_ELEMENTWISE(dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f)
}
void squared_relu_backward(float* dinp, const float* dout, const float* inp, size_t n) {
    TRANOVA_ELEMENTWISE(dinp[i] += inp[i] > 0.0f ? 2.0f * inp[i] * dout[i] : 0.0f)
}
void gelu_backward(float* dinp, const float* dout, const float* inp, size_t n) {
    // d/dx x Phi(x) = Phi(x) + x phi(x)
    TRANOVA_ELEMENTWISE(const float x = inp[i];
                        const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
                        const float pdf = 0.3989422804014327f * std::exp(-0.5f * x * x);
                        dinp[i] += (cdf + x * pdf) * dout[i])
}
void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, size_t n) {
    // u = k (x + a x^3): d/dx 0.5 x (1 + tanh u) = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 a x^2)
    // with t = tanh u (one tanh, no cosh; 1 - t^2 loses only absolute precision ~1e-7)
    TRANOVA_ELEMENTWISE(const float x = inp[i];
                        const float t = std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x));
                        const float d = 0.5f * (1.0f + t) +
                                        0.5f * x * (1.0f - t * t) * (0.7978845608028654f * (1.0f + 0.134145f * x * x));
                        dinp[i] += d * dout[i])
}
void add_backward(float* da, float* db, const float* dout, size_t n) {
    if (da) {
        TRANOVA_ELEMENTWISE(da[i] += dout[i])
    }
    if (db) {
        TRANOVA_ELEMENTWISE(db[i] += dout[i])
    }
}

void softmax_backward(float* dinp, const float* dout, const float* out, int N, int C) {
#pragma omp parallel for schedule(static) if (N * (long)C > 16384)
    for (int i = 0; i < N; i++) {
        const float* g = dout + (size_t)i * C;
        const float* y = out + (size_t)i * C;
        float* dx = dinp + (size_t)i * C;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; c++) dot += g[c] * y[c];
        for (int c = 0; c < C; c++) dx[c] += y[c] * (g[c] - dot);
    }
}

void log_softmax_backward(float* dinp, const float* dout, const float* out, int N, int C) {
#pragma omp parallel for schedule(static) if (N * (long)C > 16384)
    for (int i = 0; i < N; i++) {
        const float* g = dout + (size_t)i * C;
        const float* y = out + (size_t)i * C;
        float* dx = dinp + (size_t)i * C;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int c = 0; c < C; c++) sum += g[c];
        for (int c = 0; c < C; c++) dx[c] += g[c] - std::exp(y[c]) * sum;
    }
}

void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias,
                                      const float* dout, const float* inp, const float* weight,
                                      const conv1d_shape& s) {
    TRANOVA_CHECK(s.start == 0, "conv1d backward: start {} given, training needs start 0", s.start);
    const int B = s.B, T = s.T, C = s.C, WC = s.WC, K = s.K;
    if (dinp) {
        // Input row p feeds output row t = p + (K-1) - m through tap m (for t < T). As in
        // the forward, the weights go transposed to (K, WC) on the stack so the channel
        // loop reads them contiguously; taps sum in a local accumulator.
        constexpr int max_wt = 4096;
        alignas(64) float wt[max_wt];
        const bool transposed = (long)K * WC <= max_wt;
        if (transposed)
            for (int c = 0; c < WC; c++)
                for (int m = 0; m < K; m++) wt[m * WC + c] = weight[(size_t)c * K + m];
#pragma omp parallel for collapse(2) schedule(static) if ((long)B * T * C > 16384)
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T; p++) {
                float* dx = dinp + b * s.bs_in + (long)p * s.ld_in;
                const float* gb = dout + b * s.bs_out;
                const int m_lo = std::max(0, p + K - T);  // taps whose output row exists
                for (int c0 = 0; c0 < C; c0 += WC) {
                    const int n = std::min(WC, C - c0);
                    constexpr int chunk = 256;
                    alignas(64) float acc[chunk];
                    for (int c1 = 0; c1 < n; c1 += chunk) {
                        const int nn = std::min(chunk, n - c1);
                        for (int c = 0; c < nn; c++) acc[c] = 0.0f;
                        for (int m = m_lo; m < K; m++) {
                            const float* g = gb + (long)(p + K - 1 - m) * s.ld_out + c0 + c1;
                            if (transposed) {
                                const float* w = wt + m * WC + c1;
                                for (int c = 0; c < nn; c++) acc[c] += w[c] * g[c];
                            } else {
                                for (int c = 0; c < nn; c++) acc[c] += weight[(size_t)(c1 + c) * K + m] * g[c];
                            }
                        }
                        for (int c = 0; c < nn; c++) dx[c0 + c1 + c] += acc[c];
                    }
                }
            }
    }
    if (!dweight && !dbias) return;
    // Parameter gradients: tasks are blocks of CB kernel rows (all channels sharing them,
    // all batch items and times, in a fixed order), taps MB at a time.
    constexpr int CB = 16, MB = 16;
    const int nblk = (WC + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((long)B * T * C * K > 65536)
    for (int blk = 0; blk < nblk; blk++) {
        const int w0 = blk * CB, w1 = std::min(WC, w0 + CB);
        for (int m0 = 0; m0 < std::max(K, 1); m0 += MB) {
            const int m1 = std::min(K, m0 + MB);
            const bool do_bias = dbias && m0 == 0;
            double accw[MB][CB] = {}, accb[CB] = {};
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    for (int c0 = 0; c0 + w0 < C; c0 += WC) {
                        const int cn = std::min(w1, C - c0) - w0;
                        const float* g = dout + b * s.bs_out + (long)t * s.ld_out + c0 + w0;
                        if (do_bias)
                            for (int c = 0; c < cn; c++) accb[c] += g[c];
                        if (!dweight) continue;
                        for (int m = std::max(m0, K - 1 - t); m < m1; m++) {  // rows < 0 are padding
                            const float* x = inp + b * s.bs_in + (long)(t - (K - 1) + m) * s.ld_in + c0 + w0;
                            double* a = accw[m - m0];
                            for (int c = 0; c < cn; c++) a[c] += g[c] * x[c];
                        }
                    }
            if (dweight)
                for (int m = m0; m < m1; m++)
                    for (int wc = w0; wc < w1; wc++) dweight[(size_t)wc * K + m] += (float)accw[m - m0][wc - w0];
            if (do_bias)
                for (int wc = w0; wc < w1; wc++) dbias[wc] += (float)accb[wc - w0];
        }
    }
}

// ---------------------------------------------------------------------------------------
// Attention backward: tasks are (batch, head); each walks its query blocks of QB rows
// (causal blocks see only keys [0, i0 + nq)) with single-threaded BLAS, accumulating
// dK/dV over the blocks in order. Scratch: a QB x TK block of dP / dS per thread.
namespace {
constexpr int QB = 64;
}

size_t attention_backward_scratch_floats(const attention_shape& s) {
    return (size_t)omp_get_max_threads() * QB * std::max(1, s.TK);
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* probs,
                        const attention_shape& s, float* scratch) {
    TRANOVA_CHECK(s.start == 0, "attention backward: start {} given, training needs start 0", s.start);
    const float scale = s.scale != 0.0f ? s.scale : 1.0f / std::sqrt((float)s.HD);
    const long ntask = (long)s.B * s.NH;
    const double work = 8.0 * s.B * s.NH * (double)s.T * s.TK * s.HD;
    const bool parallel = ntask > 1 && work > 1.0e6 && omp_get_max_threads() > 1;
    // Single-threaded BLAS also when running serially: a task's products are then
    // computed the same way whichever thread runs it and however many there are. Inside
    // a caller's parallel region the caller holds the guard (ops.hpp convention).
    std::optional<blas_single_thread_guard> guard;
    if (!omp_in_parallel()) guard.emplace();
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (long task = 0; task < ntask; task++) {
        const int b = (int)(task / s.NH), h = (int)(task % s.NH);
        float* S = scratch + (size_t)omp_get_thread_num() * QB * std::max(1, s.TK);
        for (int i0 = 0; i0 < s.T; i0 += QB) {
            const int nq = std::min(QB, s.T - i0);
            const int nk = s.causal ? std::min(s.TK, i0 + nq) : s.TK;
            if (nk <= 0) continue;
            const float* P = probs + (((size_t)b * s.NH + h) * s.T + i0) * s.TK;  // (nq, nk), row stride TK
            const float* go = dout + b * s.bs_o + (long)i0 * s.ld_o + h * s.HD;
            const float* qb = q + b * s.bs_q + (long)i0 * s.ld_q + h * s.HD;
            const float* kb = k + b * s.bs_k + h * s.HD;
            const float* vb = v + b * s.bs_v + h * s.HD;
            if (dv)  // dV[0, nk) += P^T dO
                gemm(dv + b * s.bs_v + h * s.HD, P, go, nk, s.HD, nq, true, false, 1.0f, 1.0f,
                     s.TK, (int)s.ld_o, (int)s.ld_v);
            if (!dq && !dk) continue;
            // dP = dO V^T, then dS = P (dP - rowsum(P dP)) in place
            gemm(S, go, vb, nq, nk, s.HD, false, true, 1.0f, 0.0f, (int)s.ld_o, (int)s.ld_v, nk);
            for (int r = 0; r < nq; r++) {
                float* row = S + (size_t)r * nk;
                const float* pr = P + (size_t)r * s.TK;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int j = 0; j < nk; j++) dot += pr[j] * row[j];
                for (int j = 0; j < nk; j++) row[j] = pr[j] * (row[j] - dot);
            }
            if (dq)  // dQ += scale dS K
                gemm(dq + b * s.bs_q + (long)i0 * s.ld_q + h * s.HD, S, kb, nq, s.HD, nk, false,
                     false, scale, 1.0f, nk, (int)s.ld_k, (int)s.ld_q);
            if (dk)  // dK[0, nk) += scale dS^T Q
                gemm(dk + b * s.bs_k + h * s.HD, S, qb, nk, s.HD, nq, true, false, scale, 1.0f,
                     nk, (int)s.ld_q, (int)s.ld_k);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dropout
uint64_t dropout_threshold(float p) {
    TRANOVA_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability {} outside [0, 1]", p);
    return (uint64_t)std::ceil((double)p * 4294967296.0);  // exact: p has 24 mantissa bits
}

void dropout_forward(float* out, const float* inp, size_t n, float p, uint64_t seed, uint64_t offset) {
    const uint64_t thr = dropout_threshold(p);
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    TRANOVA_ELEMENTWISE(out[i] = (counter_hash(seed, offset + i) >> 32) >= thr ? inp[i] * scale : 0.0f)
}

void dropout_backward(float* dinp, const float* dout, size_t n, float p, uint64_t seed, uint64_t offset) {
    const uint64_t thr = dropout_threshold(p);
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    TRANOVA_ELEMENTWISE(dinp[i] += (counter_hash(seed, offset + i) >> 32) >= thr ? dout[i] * scale : 0.0f)
}

}  // namespace tranova::core
