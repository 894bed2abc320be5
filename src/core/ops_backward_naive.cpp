// Naive reference twins of the backward ops in ops_backward.hpp: plain loops that state
// each gradient formula directly, accumulating in double. Instantiated for float (the
// oracle of the fast paths) and double (differentiated by the finite-difference tests).
#include "core/ops_backward.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tranova::core {

template <typename T>
void embedding_backward_naive(T* dtable, const T* dout, const int32_t* ids, int N, int C, int V) {
    for (int i = 0; i < N; i++) {
        TRANOVA_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: token id {} at index {} outside [0, {})",
                      ids[i], i, V);
        if (!dtable) continue;
        for (int c = 0; c < C; c++) dtable[(size_t)ids[i] * C + c] += dout[(size_t)i * C + c];
    }
}

template <typename T>
void layernorm_forward_train_naive(T* out, T* mean, T* rstd, const T* inp, nondeduced<const T*> weight,
                                   nondeduced<const T*> bias, int N, int C, double eps) {
    for (int i = 0; i < N; i++) {
        const T* x = inp + (size_t)i * C;
        double m = 0, var = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) var += (x[c] - m) * (x[c] - m);
        var /= C;
        const double r = 1.0 / std::sqrt(var + eps);
        for (int c = 0; c < C; c++) {
            double y = (x[c] - m) * r;
            if (weight) y *= weight[c];
            if (bias) y += bias[c];
            out[(size_t)i * C + c] = (T)y;
        }
        mean[i] = (T)m;
        rstd[i] = (T)r;
    }
}

template <typename T>
void layernorm_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                              nondeduced<const T*> weight, const T* mean, const T* rstd, int N, int C) {
    for (int i = 0; i < N; i++) {
        const T* x = inp + (size_t)i * C;
        const T* g = dout + (size_t)i * C;
        const double m = mean[i], r = rstd[i];
        // dnorm = dout * weight; the normalisation's Jacobian removes its mean and its
        // projection on the normalised row.
        double mean_dn = 0, mean_dn_n = 0;
        for (int c = 0; c < C; c++) {
            const double n = (x[c] - m) * r, dn = weight ? (double)g[c] * weight[c] : (double)g[c];
            mean_dn += dn;
            mean_dn_n += dn * n;
        }
        mean_dn /= C, mean_dn_n /= C;
        for (int c = 0; c < C; c++) {
            const double n = (x[c] - m) * r, dn = weight ? (double)g[c] * weight[c] : (double)g[c];
            if (dinp) dinp[(size_t)i * C + c] += (T)(r * (dn - mean_dn - n * mean_dn_n));
        }
    }
    // parameter gradients: one double sum over the rows per channel, added once
    for (int c = 0; c < C; c++) {
        double dw = 0, db = 0;
        for (int i = 0; i < N; i++) {
            const double g = dout[(size_t)i * C + c];
            dw += g * ((inp[(size_t)i * C + c] - (double)mean[i]) * rstd[i]);
            db += g;
        }
        if (dweight) dweight[c] += (T)dw;
        if (dbias) dbias[c] += (T)db;
    }
}

template <typename T>
void gemm_backward_naive(T* da, T* db, const T* dc, const T* a, const T* b, int M, int N,
                         int K, bool trans_a, bool trans_b, double alpha, int lda, int ldb,
                         int ldc) {
    // op(a)[i, k] and op(b)[k, j] live at these offsets of a / b (and of da / db)
    auto ai = [&](int i, int k) { return trans_a ? (size_t)k * lda + i : (size_t)i * lda + k; };
    auto bi = [&](int k, int j) { return trans_b ? (size_t)j * ldb + k : (size_t)k * ldb + j; };
    if (da)
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++) {
                double acc = 0;
                for (int j = 0; j < N; j++) acc += (double)dc[(size_t)i * ldc + j] * b[bi(k, j)];
                da[ai(i, k)] += (T)(alpha * acc);
            }
    if (db)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int i = 0; i < M; i++) acc += (double)a[ai(i, k)] * dc[(size_t)i * ldc + j];
                db[bi(k, j)] += (T)(alpha * acc);
            }
}

template <typename T>
void matmul_backward_naive(T* da, T* db, const T* dc, const T* a, const T* b, int M, int N,
                           int K, bool trans_a, bool trans_b) {
    gemm_backward_naive(da, db, dc, a, b, M, N, K, trans_a, trans_b, 1.0, trans_a ? M : K,
                        trans_b ? K : N, N);
}

template <typename T>
void linear_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                           const T* weight, int N, int IC, int OC) {
    if (dinp)
        for (int i = 0; i < N; i++)
            for (int k = 0; k < IC; k++) {
                double acc = 0;
                for (int o = 0; o < OC; o++)
                    acc += (double)dout[(size_t)i * OC + o] * weight[(size_t)o * IC + k];
                dinp[(size_t)i * IC + k] += (T)acc;
            }
    if (dweight)
        for (int o = 0; o < OC; o++)
            for (int k = 0; k < IC; k++) {
                double acc = 0;
                for (int i = 0; i < N; i++)
                    acc += (double)dout[(size_t)i * OC + o] * inp[(size_t)i * IC + k];
                dweight[(size_t)o * IC + k] += (T)acc;
            }
    if (dbias)
        for (int o = 0; o < OC; o++) {
            double acc = 0;
            for (int i = 0; i < N; i++) acc += dout[(size_t)i * OC + o];
            dbias[o] += (T)acc;
        }
}

template <typename T>
void relu_backward_naive(T* dinp, const T* dout, const T* inp, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (inp[i] > 0) dinp[i] += dout[i];
}
template <typename T>
void squared_relu_backward_naive(T* dinp, const T* dout, const T* inp, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (inp[i] > 0) dinp[i] += (T)(2.0 * inp[i] * dout[i]);
}
template <typename T>
void gelu_backward_naive(T* dinp, const T* dout, const T* inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const double x = inp[i];
        const double cdf = 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
        const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
        dinp[i] += (T)((cdf + x * pdf) * dout[i]);
    }
}
template <typename T>
void gelu_tanh_backward_naive(T* dinp, const T* dout, const T* inp, size_t n) {
    const double k = std::sqrt(2.0 / M_PI), a = 0.044715;
    for (size_t i = 0; i < n; i++) {
        const double x = inp[i];
        const double u = k * (x + a * x * x * x), t = std::tanh(u), ch = std::cosh(u);
        const double d = 0.5 * (1.0 + t) + 0.5 * x * (k * (1.0 + 3.0 * a * x * x)) / (ch * ch);
        dinp[i] += (T)(d * dout[i]);
    }
}
template <typename T>
void add_backward_naive(T* da, T* db, const T* dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}

template <typename T>
void softmax_backward_naive(T* dinp, const T* dout, const T* out, int N, int C) {
    for (int i = 0; i < N; i++) {
        const T* g = dout + (size_t)i * C;
        const T* y = out + (size_t)i * C;
        double dot = 0;
        for (int c = 0; c < C; c++) dot += (double)g[c] * y[c];
        for (int c = 0; c < C; c++) dinp[(size_t)i * C + c] += (T)(y[c] * (g[c] - dot));
    }
}
template <typename T>
void log_softmax_backward_naive(T* dinp, const T* dout, const T* out, int N, int C) {
    for (int i = 0; i < N; i++) {
        const T* g = dout + (size_t)i * C;
        const T* y = out + (size_t)i * C;
        double sum = 0;
        for (int c = 0; c < C; c++) sum += g[c];
        for (int c = 0; c < C; c++) dinp[(size_t)i * C + c] += (T)(g[c] - std::exp((double)y[c]) * sum);
    }
}

template <typename T>
void conv1d_causal_depthwise_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout,
                                            const T* inp, const T* weight,
                                            const conv1d_shape& s) {
    TRANOVA_CHECK(s.start == 0, "conv1d backward: start {} given, training needs start 0", s.start);
    // out[b, t, c] = bias[wc] + sum_m weight[wc, m] inp[b, t - (K-1) + m, c], wc = c % WC
    std::vector<double> dw((size_t)s.WC * s.K, 0.0), dbs(s.WC, 0.0);
    for (int b = 0; b < s.B; b++)
        for (int t = 0; t < s.T; t++)
            for (int c = 0; c < s.C; c++) {
                const int wc = c % s.WC;
                const double g = dout[b * s.bs_out + (long)t * s.ld_out + c];
                dbs[wc] += g;
                for (int m = 0; m < s.K; m++) {
                    const long src = (long)t - (s.K - 1) + m;
                    if (src < 0) continue;
                    dw[(size_t)wc * s.K + m] += g * inp[b * s.bs_in + src * s.ld_in + c];
                }
            }
    if (dinp)
        for (int b = 0; b < s.B; b++)
            for (int p = 0; p < s.T; p++)
                for (int c = 0; c < s.C; c++) {
                    // input p feeds output t = p + (K-1) - m through tap m
                    double acc = 0;
                    for (int m = 0; m < s.K; m++) {
                        const long t = (long)p + (s.K - 1) - m;
                        if (t >= s.T) continue;
                        acc += (double)weight[(size_t)(c % s.WC) * s.K + m] * dout[b * s.bs_out + t * s.ld_out + c];
                    }
                    dinp[b * s.bs_in + (long)p * s.ld_in + c] += (T)acc;
                }
    if (dweight)
        for (size_t i = 0; i < dw.size(); i++) dweight[i] += (T)dw[i];
    if (dbias)
        for (int wc = 0; wc < s.WC; wc++) dbias[wc] += (T)dbs[wc];
}

template <typename T>
void attention_backward_naive(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k,
                              const T* v, const T* probs, const attention_shape& s) {
    TRANOVA_CHECK(s.start == 0, "attention backward: start {} given, training needs start 0", s.start);
    const double scale = s.scale != 0.0f ? s.scale : 1.0 / std::sqrt((double)s.HD);
    std::vector<double> ds(s.TK);
    for (int b = 0; b < s.B; b++)
        for (int h = 0; h < s.NH; h++)
            for (int i = 0; i < s.T; i++) {
                const T* P = probs + (((size_t)b * s.NH + h) * s.T + i) * s.TK;
                const T* go = dout + b * s.bs_o + (long)i * s.ld_o + h * s.HD;
                auto kj = [&](int j) { return k + b * s.bs_k + (long)j * s.ld_k + h * s.HD; };
                auto vj = [&](int j) { return v + b * s.bs_v + (long)j * s.ld_v + h * s.HD; };
                // dP[j] = <dO_i, v_j>; dS[j] = P[j] (dP[j] - sum_l P[l] dP[l])
                double dot = 0;
                for (int j = 0; j < s.TK; j++) {
                    double dp = 0;
                    for (int c = 0; c < s.HD; c++) dp += (double)go[c] * vj(j)[c];
                    ds[j] = dp;
                    dot += (double)P[j] * dp;
                }
                for (int j = 0; j < s.TK; j++) ds[j] = P[j] * (ds[j] - dot);
                const T* qi = q + b * s.bs_q + (long)i * s.ld_q + h * s.HD;
                if (dq)
                    for (int c = 0; c < s.HD; c++) {
                        double acc = 0;
                        for (int j = 0; j < s.TK; j++) acc += ds[j] * kj(j)[c];
                        dq[b * s.bs_q + (long)i * s.ld_q + h * s.HD + c] += (T)(scale * acc);
                    }
                for (int j = 0; j < s.TK; j++)
                    for (int c = 0; c < s.HD; c++) {
                        if (dk) dk[b * s.bs_k + (long)j * s.ld_k + h * s.HD + c] += (T)(scale * ds[j] * qi[c]);
                        if (dv) dv[b * s.bs_v + (long)j * s.ld_v + h * s.HD + c] += (T)((double)P[j] * go[c]);
                    }
            }
}

template <typename T>
void dropout_forward_naive(T* out, const T* inp, size_t n, float p, uint64_t seed, uint64_t offset) {
    const uint64_t thr = dropout_threshold(p);
    const double scale = p < 1.0f ? 1.0 / (1.0 - (double)p) : 0.0;
    for (size_t i = 0; i < n; i++)
        out[i] = (counter_hash(seed, offset + i) >> 32) >= thr ? (T)(inp[i] * scale) : (T)0;
}
template <typename T>
void dropout_backward_naive(T* dinp, const T* dout, size_t n, float p, uint64_t seed, uint64_t offset) {
    const uint64_t thr = dropout_threshold(p);
    const double scale = p < 1.0f ? 1.0 / (1.0 - (double)p) : 0.0;
    for (size_t i = 0; i < n; i++)
        if ((counter_hash(seed, offset + i) >> 32) >= thr) dinp[i] += (T)(dout[i] * scale);
}

#define TRANOVA_INSTANTIATE(T)                                                                      \
    template void embedding_backward_naive<T>(T*, const T*, const int32_t*, int, int, int);          \
    template void layernorm_forward_train_naive<T>(T*, T*, T*, const T*, const T*, const T*, int, int, double); \
    template void layernorm_backward_naive<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int, int); \
    template void gemm_backward_naive<T>(T*, T*, const T*, const T*, const T*, int, int, int, bool, bool, double, int, int, int); \
    template void matmul_backward_naive<T>(T*, T*, const T*, const T*, const T*, int, int, int, bool, bool); \
    template void linear_backward_naive<T>(T*, T*, T*, const T*, const T*, const T*, int, int, int); \
    template void relu_backward_naive<T>(T*, const T*, const T*, size_t);                            \
    template void squared_relu_backward_naive<T>(T*, const T*, const T*, size_t);                    \
    template void gelu_backward_naive<T>(T*, const T*, const T*, size_t);                            \
    template void gelu_tanh_backward_naive<T>(T*, const T*, const T*, size_t);                       \
    template void add_backward_naive<T>(T*, T*, const T*, size_t);                                   \
    template void softmax_backward_naive<T>(T*, const T*, const T*, int, int);                       \
    template void log_softmax_backward_naive<T>(T*, const T*, const T*, int, int);                   \
    template void conv1d_causal_depthwise_backward_naive<T>(T*, T*, T*, const T*, const T*, const T*, const conv1d_shape&); \
    template void attention_backward_naive<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, const attention_shape&); \
    template void dropout_forward_naive<T>(T*, const T*, size_t, float, uint64_t, uint64_t);        \
    template void dropout_backward_naive<T>(T*, const T*, size_t, float, uint64_t, uint64_t);
TRANOVA_INSTANTIATE(float)
TRANOVA_INSTANTIATE(double)
#undef TRANOVA_INSTANTIATE

}  // namespace tranova::core
