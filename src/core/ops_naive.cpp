// Naive reference twins of the ops in ops.hpp: plain loops, double accumulation where it
// matters. They are the test oracle and a readable statement of each op's definition.
#include "core/ops.hpp"

#include "util/error.hpp"

#include <cmath>
#include <cstring>
#include <vector>

namespace tranova::core {

void embedding_forward_naive(float* out, const int32_t* ids, const float* table, int N, int C,
                             int V) {
    for (int i = 0; i < N; i++) {
        TRANOVA_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: token id {} at index {} outside [0, {})",
                      ids[i], i, V);
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = table[(size_t)ids[i] * C + c];
    }
}

void layernorm_forward_naive(float* out, const float* inp, const float* weight,
                             const float* bias, int N, int C, float eps) {
    for (int i = 0; i < N; i++) {
        const float* x = inp + (size_t)i * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
        var /= C;
        double rstd = 1.0 / std::sqrt(var + eps);
        for (int c = 0; c < C; c++) {
            double y = (x[c] - mean) * rstd;
            if (weight) y *= weight[c];
            if (bias) y += bias[c];
            out[(size_t)i * C + c] = (float)y;
        }
    }
}

void gemm_naive(float* c, const float* a, const float* b, int M, int N, int K, bool trans_a,
                bool trans_b, float alpha, float beta, int lda, int ldb, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                float av = trans_a ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k];
                float bv = trans_b ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j];
                acc += (double)av * bv;
            }
            float& cv = c[(size_t)i * ldc + j];
            cv = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * cv));
        }
}

void matmul_forward_naive(float* c, const float* a, const float* b, int M, int N, int K,
                          bool trans_a, bool trans_b) {
    gemm_naive(c, a, b, M, N, K, trans_a, trans_b, 1.0f, 0.0f, trans_a ? M : K,
               trans_b ? K : N, N);
}

void linear_forward_naive(float* out, const float* inp, const float* weight,
                          const float* bias, int N, int IC, int OC) {
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int k = 0; k < IC; k++)
                acc += (double)inp[(size_t)i * IC + k] * weight[(size_t)o * IC + k];
            out[(size_t)i * OC + o] = (float)acc;
        }
}

void relu_forward_naive(float* out, const float* inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0.0f;
}
void squared_relu_forward_naive(float* out, const float* inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float r = inp[i] > 0 ? inp[i] : 0.0f;
        out[i] = r * r;
    }
}
void gelu_forward_naive(float* out, const float* inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = inp[i];
        out[i] = (float)(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
    }
}
void gelu_tanh_forward_naive(float* out, const float* inp, size_t n) {
    const double k = std::sqrt(2.0 / M_PI);
    for (size_t i = 0; i < n; i++) {
        double x = inp[i];
        out[i] = (float)(0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x))));
    }
}
void add_forward_naive(float* out, const float* a, const float* b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void softmax_forward_naive(float* out, const float* inp, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float* x = inp + (size_t)i * C;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++) mx = std::max(mx, (double)x[c]);
        std::vector<double> e(C);
        for (int c = 0; c < C; c++) sum += (e[c] = std::exp(x[c] - mx));
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = (float)(e[c] / sum);
    }
}

void log_softmax_forward_naive(float* out, const float* inp, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float* x = inp + (size_t)i * C;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++) mx = std::max(mx, (double)x[c]);
        for (int c = 0; c < C; c++) sum += std::exp(x[c] - mx);
        double lse = mx + std::log(sum);
        for (int c = 0; c < C; c++) out[(size_t)i * C + c] = (float)(x[c] - lse);
    }
}

void sinusoidal_forward_naive(float* out, const float* x, int N, const float* sin_term,
                              int n_sin, const float* cos_term, int n_cos) {
    int D = n_sin + n_cos;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < n_sin; j++)
            out[(size_t)i * D + j] = (float)std::sin((double)(x[i] / sin_term[j]));
        for (int j = 0; j < n_cos; j++)
            out[(size_t)i * D + n_sin + j] = (float)std::cos((double)(x[i] / cos_term[j]));
    }
}

void conv1d_causal_depthwise_forward_naive(float* out, const float* inp, const float* weight,
                                           const float* bias, const conv1d_shape& s) {
    for (int b = 0; b < s.B; b++)
        for (int t = 0; t < s.T; t++)
            for (int c = 0; c < s.C; c++) {
                int wc = c % s.WC;
                double acc = bias ? bias[wc] : 0.0;
                long pos = (long)s.start + t;
                for (int m = 0; m < s.K; m++) {
                    long src = pos - (s.K - 1) + m;
                    if (src < 0) continue;
                    acc += (double)weight[(size_t)wc * s.K + m] * inp[b * s.bs_in + src * s.ld_in + c];
                }
                out[b * s.bs_out + (long)t * s.ld_out + c] = (float)acc;
            }
}

void attention_forward_naive(float* out, float* probs, const float* q, const float* k,
                             const float* v, const attention_shape& s) {
    const double scale = s.scale != 0.0f ? s.scale : 1.0 / std::sqrt((double)s.HD);
    std::vector<double> sc(s.TK);
    std::vector<char> ok(s.TK);
    for (int b = 0; b < s.B; b++)
        for (int h = 0; h < s.NH; h++)
            for (int i = 0; i < s.T; i++) {
                const float* qi = q + b * s.bs_q + (long)i * s.ld_q + h * s.HD;
                double mx = -INFINITY;
                for (int j = 0; j < s.TK; j++) {
                    ok[j] = !(s.causal && j > s.start + i) &&
                            !(s.key_valid && !s.key_valid[(size_t)b * s.TK + j]);
                    if (!ok[j]) continue;
                    const float* kj = k + b * s.bs_k + (long)j * s.ld_k + h * s.HD;
                    double d = 0;
                    for (int c = 0; c < s.HD; c++) d += (double)qi[c] * kj[c];
                    d *= scale;
                    if (s.alibi_slopes) d += (double)s.alibi_slopes[h] * j;
                    sc[j] = d;
                    mx = std::max(mx, d);
                }
                double sum = 0;
                for (int j = 0; j < s.TK; j++) sum += ok[j] ? (sc[j] = std::exp(sc[j] - mx)) : 0.0;
                float* o = out + b * s.bs_o + (long)i * s.ld_o + h * s.HD;
                for (int c = 0; c < s.HD; c++) {
                    double acc = 0;
                    for (int j = 0; j < s.TK; j++)
                        if (ok[j]) acc += sc[j] / sum * v[b * s.bs_v + (long)j * s.ld_v + h * s.HD + c];
                    o[c] = (float)acc;
                }
                if (probs)
                    for (int j = 0; j < s.TK; j++)
                        probs[(((size_t)b * s.NH + h) * s.T + i) * s.TK + j] =
                            ok[j] ? (float)(sc[j] / sum) : 0.0f;
            }
}

}  // namespace tranova::core
