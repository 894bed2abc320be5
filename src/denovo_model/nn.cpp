// Transformer ops over flat buffers (see nn.hpp). BLAS (sgemm) does the matrix products;
// the naive twins are plain loops in double-free float arithmetic.
#include "denovo_model/nn.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tranova::denovo_model {

void linear_forward(float* out, const float* inp, const float* w, const float* b, int N, int I, int O) {
    if (N == 0) return;
    if (b) {
        for (int n = 0; n < N; ++n) std::copy(b, b + O, out + long(n) * O);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I, 1.0f, inp, I, w, I, b ? 1.0f : 0.0f, out, O);
}

void linear_forward_naive(float* out, const float* inp, const float* w, const float* b, int N, int I, int O) {
    for (int n = 0; n < N; ++n) {
        for (int o = 0; o < O; ++o) {
            float acc = b ? b[o] : 0.0f;
            for (int i = 0; i < I; ++i) acc += inp[long(n) * I + i] * w[long(o) * I + i];
            out[long(n) * O + o] = acc;
        }
    }
}

void layernorm_forward(float* out, const float* inp, const float* w, const float* b, int N, int C, float eps) {
    for (int n = 0; n < N; ++n) {
        const float* x = inp + long(n) * C;
        float* y = out + long(n) * C;
        float mean = 0.0f;
        for (int c = 0; c < C; ++c) mean += x[c];
        mean /= float(C);
        float var = 0.0f;
        for (int c = 0; c < C; ++c) {
            float dx = x[c] - mean;
            var += dx * dx;
        }
        var /= float(C);
        float rstd = 1.0f / std::sqrt(var + eps);
        for (int c = 0; c < C; ++c) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
    }
}

void relu_forward(float* x, long n) {
    for (long i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void float_encode(float* out, const float* values, int n, const float* sin_term, int n_sin, const float* cos_term,
                  int n_cos) {
    const int d = n_sin + n_cos;
    for (int i = 0; i < n; ++i) {
        float v = values[i];
        float* o = out + long(i) * d;
        for (int k = 0; k < n_sin; ++k) o[k] = std::sin(v / sin_term[k]);
        for (int k = 0; k < n_cos; ++k) o[n_sin + k] = std::cos(v / cos_term[k]);
    }
}

void mha_project_kv(float* k, float* v, const float* kv_in, const mha_weights& w, int Tk, int d) {
    linear_forward(k, kv_in, w.in_w + long(d) * d, w.in_b + d, Tk, d, d);
    linear_forward(v, kv_in, w.in_w + 2L * d * d, w.in_b + 2 * d, Tk, d, d);
}

// Masked softmax over one row of scores (length Tk, first `limit` keys eligible).
static void masked_softmax_row(float* s, const bool* key_pad, int Tk, int limit) {
    const float ninf = -std::numeric_limits<float>::infinity();
    float mx = ninf;
    for (int j = 0; j < Tk; ++j) {
        if (j >= limit || (key_pad && key_pad[j])) s[j] = ninf;
        mx = std::max(mx, s[j]);
    }
    if (mx == ninf) {
        for (int j = 0; j < Tk; ++j) s[j] = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    float sum = 0.0f;
    for (int j = 0; j < Tk; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < Tk; ++j) s[j] *= inv;
}

void attention_forward(float* ctx, int ldc, const float* q, int ldq, const float* k, int ldk, const float* v, int ldv,
                       const bool* key_pad, int causal_offset, int Tq, int Tk, int d, int n_head, float* s) {
    const int hd = d / n_head;
    for (int h = 0; h < n_head; ++h) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hd, 1.0f, q + h * hd, ldq, k + h * hd, ldk, 0.0f, s,
                    Tk);
        for (int i = 0; i < Tq; ++i)
            masked_softmax_row(s + long(i) * Tk, key_pad, Tk, causal_offset >= 0 ? causal_offset + i + 1 : Tk);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hd, Tk, 1.0f, s, Tk, v + h * hd, ldv, 0.0f,
                    ctx + h * hd, ldc);
    }
}

void mha_forward_kv(float* out, const float* q_in, const float* k, const float* v, const mha_weights& w,
                    const bool* key_pad, int causal_offset, int Tq, int Tk, int d, int n_head, float* scratch) {
    const int hd = d / n_head;
    float* q = scratch;                    // (Tq,d)
    float* ctx = q + long(Tq) * d;         // (Tq,d)
    float* s = ctx + long(Tq) * d;         // (Tq,Tk)
    linear_forward(q, q_in, w.in_w, w.in_b, Tq, d, d);
    const float scale = 1.0f / std::sqrt(float(hd));
    for (long i = 0; i < long(Tq) * d; ++i) q[i] *= scale;
    attention_forward(ctx, d, q, d, k, d, v, d, key_pad, causal_offset, Tq, Tk, d, n_head, s);
    linear_forward(out, ctx, w.out_w, w.out_b, Tq, d, d);
}

void mha_forward(float* out, const float* q_in, const float* kv_in, const mha_weights& w, const bool* key_pad,
                 bool causal, int Tq, int Tk, int d, int n_head, float* scratch) {
    float* k = scratch;
    float* v = k + long(Tk) * d;
    mha_project_kv(k, v, kv_in, w, Tk, d);
    mha_forward_kv(out, q_in, k, v, w, key_pad, causal ? 0 : -1, Tq, Tk, d, n_head, v + long(Tk) * d);
}

void mha_forward_naive(float* out, const float* q_in, const float* kv_in, const mha_weights& w,
                       const bool* key_pad, bool causal, int Tq, int Tk, int d, int n_head) {
    const int hd = d / n_head;
    std::vector<float> q(size_t(Tq) * d), k(size_t(Tk) * d), v(size_t(Tk) * d), ctx(size_t(Tq) * d), s(Tk);
    linear_forward_naive(q.data(), q_in, w.in_w, w.in_b, Tq, d, d);
    linear_forward_naive(k.data(), kv_in, w.in_w + long(d) * d, w.in_b + d, Tk, d, d);
    linear_forward_naive(v.data(), kv_in, w.in_w + 2L * d * d, w.in_b + 2 * d, Tk, d, d);
    const float scale = 1.0f / std::sqrt(float(hd));
    for (int h = 0; h < n_head; ++h) {
        for (int i = 0; i < Tq; ++i) {
            for (int j = 0; j < Tk; ++j) {
                float acc = 0.0f;
                for (int c = 0; c < hd; ++c) acc += q[size_t(i) * d + h * hd + c] * scale * k[size_t(j) * d + h * hd + c];
                s[j] = acc;
            }
            masked_softmax_row(s.data(), key_pad, Tk, causal ? i + 1 : Tk);
            for (int c = 0; c < hd; ++c) {
                float acc = 0.0f;
                for (int j = 0; j < Tk; ++j) acc += s[j] * v[size_t(j) * d + h * hd + c];
                ctx[size_t(i) * d + h * hd + c] = acc;
            }
        }
    }
    linear_forward_naive(out, ctx.data(), w.out_w, w.out_b, Tq, d, d);
}

}  // namespace tranova::denovo_model
