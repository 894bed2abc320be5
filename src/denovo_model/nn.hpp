// Transformer building blocks for the de novo models, as plain functions over caller-owned
// flat float buffers (outputs first, dims last, row-major). These mirror the torch.nn
// layers used by Casanovo/PrimeNovo (post-LayerNorm encoder/decoder layers, ReLU FFN,
// nn.MultiheadAttention with packed in_proj). Each optimised op has a *_naive twin used as
// the test oracle. Scratch buffers are passed in; nothing here allocates except the
// convenience layer functions that take an nn_scratch.
#pragma once

#include <cstdint>
#include <vector>

namespace tranova::denovo_model {

// out (N,O) = inp (N,I) @ w^T (w is (O,I), torch layout) + b (O) (b may be null).
void linear_forward(float* out, const float* inp, const float* w, const float* b, int N, int I, int O);
void linear_forward_naive(float* out, const float* inp, const float* w, const float* b, int N, int I, int O);

// out, inp: (N,C); torch LayerNorm (biased variance, eps inside the sqrt). out may alias inp.
void layernorm_forward(float* out, const float* inp, const float* w, const float* b, int N, int C, float eps = 1e-5f);

void relu_forward(float* x, long n);

// x (n) <- sin/cos encoding: for each value v: [sin(v/sin_term[k])]_k ++ [cos(v/cos_term[k])]_k,
// computed in float32 like torch. out: (n, n_sin + n_cos).
void float_encode(float* out, const float* values, int n, const float* sin_term, int n_sin,
                  const float* cos_term, int n_cos);

// Weights of one nn.MultiheadAttention (batch_first): in_proj (3d,d)+(3d), out_proj (d,d)+(d).
struct mha_weights {
    const float* in_w = nullptr;
    const float* in_b = nullptr;
    const float* out_w = nullptr;
    const float* out_b = nullptr;
};

// Multi-head attention for one batch item.
// out: (Tq,d); q_in: (Tq,d); kv_in: (Tk,d); key_pad: (Tk) true = ignore (may be null);
// causal: query i sees keys 0..i. scratch: at least (Tq*d + 2*Tk*d + Tq*Tk + Tq*d) floats.
// A query with every key masked gets NaN, as in torch.
void mha_forward(float* out, const float* q_in, const float* kv_in, const mha_weights& w, const bool* key_pad,
                 bool causal, int Tq, int Tk, int d, int n_head, float* scratch);
void mha_forward_naive(float* out, const float* q_in, const float* kv_in, const mha_weights& w,
                       const bool* key_pad, bool causal, int Tq, int Tk, int d, int n_head);
inline long mha_scratch_size(int Tq, int Tk, int d) {
    return long(Tq) * d * 2 + 2L * Tk * d + long(Tq) * Tk;
}

// Same attention with the key/value projections precomputed: k, v: (Tk,d) already projected
// (in_proj rows d..2d and 2d..3d applied). Used by the AR decoder, whose encoder memory is
// fixed for all decoding steps. scratch: Tq*d*2 + Tq*Tk floats.
// causal_offset < 0: no causal mask; otherwise query i sees keys 0..causal_offset+i (used for
// incremental decoding, where the queries are the last Tq of Tk positions).
void mha_forward_kv(float* out, const float* q_in, const float* k, const float* v, const mha_weights& w,
                    const bool* key_pad, int causal_offset, int Tq, int Tk, int d, int n_head, float* scratch);

// Scaled dot-product attention core for already projected inputs, all heads:
// ctx (Tq, ldc) = softmax(q k^T + masks) v per head; q (Tq, ldq) already multiplied by
// 1/sqrt(d/n_head); k (Tk, ldk), v (Tk, ldv); causal_offset as in mha_forward_kv.
// scores: scratch of Tq*Tk floats.
void attention_forward(float* ctx, int ldc, const float* q, int ldq, const float* k, int ldk, const float* v, int ldv,
                       const bool* key_pad, int causal_offset, int Tq, int Tk, int d, int n_head, float* scores);

// Projects kv_in (Tk,d) to k and v with the in_proj rows of w.
void mha_project_kv(float* k, float* v, const float* kv_in, const mha_weights& w, int Tk, int d);

}  // namespace tranova::denovo_model
