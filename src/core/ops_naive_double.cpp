// Double-precision naive forwards of the ops.hpp ops (declared in ops_backward.hpp): the
// same definitions as ops_naive.cpp evaluated in double, so that the gradient checks of
// tests/core/test_ops_backward.cpp can take central differences without float rounding.
// tests/core checks that each agrees with its float twin.
#include "core/ops_backward.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tranova::core {

void embedding_forward_naive(double* out, const int32_t* ids, const double* table, int N, int C, int V) {
    for (int i = 0; i < N; i++) {
        TRANOVA_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: token id {} at index {} outside [0, {})",
                      ids[i], i, V);
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = table[(size_t)ids[i] * C + c];
    }
}

void gemm_naive(double* c, const double* a, const double* b, int M, int N, int K, bool trans_a,
                bool trans_b, double alpha, double beta, int lda, int ldb, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (trans_a ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]) *
                       (trans_b ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j]);
            double& cv = c[(size_t)i * ldc + j];
            cv = alpha * acc + (beta == 0.0 ? 0.0 : beta * cv);
        }
}

void matmul_forward_naive(double* c, const double* a, const double* b, int M, int N, int K,
                          bool trans_a, bool trans_b) {
    gemm_naive(c, a, b, M, N, K, trans_a, trans_b, 1.0, 0.0, trans_a ? M : K, trans_b ? K : N, N);
}

void linear_forward_naive(double* out, const double* inp, const double* weight,
                          const double* bias, int N, int IC, int OC) {
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int k = 0; k < IC; k++) acc += inp[(size_t)i * IC + k] * weight[(size_t)o * IC + k];
            out[(size_t)i * OC + o] = acc;
        }
}

void relu_forward_naive(double* out, const double* inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0.0;
}
void squared_relu_forward_naive(double* out, const double* inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] * inp[i] : 0.0;
}
void gelu_forward_naive(double* out, const double* inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 0.5 * inp[i] * (1.0 + std::erf(inp[i] / std::sqrt(2.0)));
}
void gelu_tanh_forward_naive(double* out, const double* inp, size_t n) {
    const double k = std::sqrt(2.0 / M_PI);
    for (size_t i = 0; i < n; i++) {
        const double x = inp[i];
        out[i] = 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
    }
}
void add_forward_naive(double* out, const double* a, const double* b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void softmax_forward_naive(double* out, const double* inp, int N, int C) {
    for (int i = 0; i < N; i++) {
        const double* x = inp + (size_t)i * C;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++) mx = std::max(mx, x[c]);
        for (int c = 0; c < C; c++) sum += std::exp(x[c] - mx);
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = std::exp(x[c] - mx) / sum;
    }
}
void log_softmax_forward_naive(double* out, const double* inp, int N, int C) {
    for (int i = 0; i < N; i++) {
        const double* x = inp + (size_t)i * C;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++) mx = std::max(mx, x[c]);
        for (int c = 0; c < C; c++) sum += std::exp(x[c] - mx);
        const double lse = mx + std::log(sum);
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = x[c] - lse;
    }
}

void conv1d_causal_depthwise_forward_naive(double* out, const double* inp, const double* weight,
                                           const double* bias, const conv1d_shape& s) {
    for (int b = 0; b < s.B; b++)
        for (int t = 0; t < s.T; t++)
            for (int c = 0; c < s.C; c++) {
                const int wc = c % s.WC;
                double acc = bias ? bias[wc] : 0.0;
                for (int m = 0; m < s.K; m++) {
                    const long src = (long)s.start + t - (s.K - 1) + m;
                    if (src >= 0) acc += weight[(size_t)wc * s.K + m] * inp[b * s.bs_in + src * s.ld_in + c];
                }
                out[b * s.bs_out + (long)t * s.ld_out + c] = acc;
            }
}

void attention_forward_naive(double* out, double* probs, const double* q, const double* k,
                             const double* v, const attention_shape& s) {
    const double scale = s.scale != 0.0f ? s.scale : 1.0 / std::sqrt((double)s.HD);
    std::vector<double> p(s.TK);
    std::vector<char> ok(s.TK);
    for (int b = 0; b < s.B; b++)
        for (int h = 0; h < s.NH; h++)
            for (int i = 0; i < s.T; i++) {
                const double* qi = q + b * s.bs_q + (long)i * s.ld_q + h * s.HD;
                double mx = -INFINITY;
                for (int j = 0; j < s.TK; j++) {
                    ok[j] = !(s.causal && j > s.start + i) &&
                            !(s.key_valid && !s.key_valid[(size_t)b * s.TK + j]);
                    if (!ok[j]) continue;
                    const double* kj = k + b * s.bs_k + (long)j * s.ld_k + h * s.HD;
                    double d = 0;
                    for (int c = 0; c < s.HD; c++) d += qi[c] * kj[c];
                    d = d * scale + (s.alibi_slopes ? (double)s.alibi_slopes[h] * j : 0.0);
                    p[j] = d;
                    mx = std::max(mx, d);
                }
                double sum = 0;
                for (int j = 0; j < s.TK; j++) sum += ok[j] ? (p[j] = std::exp(p[j] - mx)) : 0.0;
                for (int j = 0; j < s.TK; j++) p[j] = ok[j] ? p[j] / sum : 0.0;  // all masked: 0
                double* o = out + b * s.bs_o + (long)i * s.ld_o + h * s.HD;
                for (int c = 0; c < s.HD; c++) {
                    double acc = 0;
                    for (int j = 0; j < s.TK; j++)
                        if (ok[j]) acc += p[j] * v[b * s.bs_v + (long)j * s.ld_v + h * s.HD + c];
                    o[c] = acc;
                }
                if (probs)
                    for (int j = 0; j < s.TK; j++) probs[(((size_t)b * s.NH + h) * s.T + i) * s.TK + j] = p[j];
            }
}

}  // namespace tranova::core
