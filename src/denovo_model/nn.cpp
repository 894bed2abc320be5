// nn.MultiheadAttention wiring over core ops (see nn.hpp).
#include "denovo_model/nn.hpp"

#include <vector>

namespace tranova::denovo_model {

namespace {
core::attention_shape mha_shape(int Tq, int Tk, int d, int n_head, const uint8_t* key_valid, bool causal) {
    core::attention_shape s = core::attention_shape_contiguous(1, Tq, Tk, n_head, d / n_head);
    s.causal = causal;
    s.key_valid = key_valid;
    return s;
}
}  // namespace

long mha_scratch_size(int Tq, int Tk, int d, int n_head) {
    return 2L * Tq * d + 2L * Tk * d + long(core::attention_scratch_floats(mha_shape(Tq, Tk, d, n_head, nullptr, false)));
}

void mha_project_kv(float* k, float* v, const float* kv_in, const mha_weights& w, int Tk, int d) {
    core::linear_forward(k, kv_in, w.in_w + long(d) * d, w.in_b + d, Tk, d, d);
    core::linear_forward(v, kv_in, w.in_w + 2L * d * d, w.in_b + 2 * d, Tk, d, d);
}

void mha_forward(float* out, const float* q_in, const float* kv_in, const mha_weights& w, const uint8_t* key_valid,
                 bool causal, int Tq, int Tk, int d, int n_head, float* scratch) {
    float* q = scratch;               // (Tq,d)
    float* k = q + long(Tq) * d;      // (Tk,d)
    float* v = k + long(Tk) * d;      // (Tk,d)
    float* ctx = v + long(Tk) * d;    // (Tq,d)
    float* att = ctx + long(Tq) * d;  // core attention scratch
    core::linear_forward(q, q_in, w.in_w, w.in_b, Tq, d, d);
    mha_project_kv(k, v, kv_in, w, Tk, d);
    core::attention_forward(ctx, nullptr, q, k, v, mha_shape(Tq, Tk, d, n_head, key_valid, causal), att);
    core::linear_forward(out, ctx, w.out_w, w.out_b, Tq, d, d);
}

void mha_forward_naive(float* out, const float* q_in, const float* kv_in, const mha_weights& w,
                       const uint8_t* key_valid, bool causal, int Tq, int Tk, int d, int n_head) {
    std::vector<float> q(size_t(Tq) * d), k(size_t(Tk) * d), v(size_t(Tk) * d), ctx(size_t(Tq) * d);
    core::linear_forward_naive(q.data(), q_in, w.in_w, w.in_b, Tq, d, d);
    core::linear_forward_naive(k.data(), kv_in, w.in_w + long(d) * d, w.in_b + d, Tk, d, d);
    core::linear_forward_naive(v.data(), kv_in, w.in_w + 2L * d * d, w.in_b + 2 * d, Tk, d, d);
    core::attention_forward_naive(ctx.data(), nullptr, q.data(), k.data(), v.data(),
                                  mha_shape(Tq, Tk, d, n_head, key_valid, causal));
    core::linear_forward_naive(out, ctx.data(), w.out_w, w.out_b, Tq, d, d);
}

}  // namespace tranova::denovo_model
