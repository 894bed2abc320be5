// Model-level helper of the de novo networks: torch nn.MultiheadAttention (batch_first,
// packed in_proj) composed from the shared model core (core/ops.hpp). Every op itself —
// linear, layernorm, relu, residual add, sinusoidal encoders, scaled dot-product attention —
// is core's; only the wiring of one MultiheadAttention's weights lives here.
#pragma once

#include "core/ops.hpp"

#include <cstdint>

namespace tranova::denovo_model {

// Weights of one nn.MultiheadAttention: in_proj (3d,d)+(3d) (rows q, k, v), out_proj (d,d)+(d).
struct mha_weights {
    const float* in_w = nullptr;
    const float* in_b = nullptr;
    const float* out_w = nullptr;
    const float* out_b = nullptr;
};

// Floats of scratch mha_forward needs (q, k, v, context + core attention scratch; the
// latter depends on the current OpenMP thread count).
long mha_scratch_size(int Tq, int Tk, int d, int n_head);

// Multi-head attention for one batch item:
// out (Tq,d) = out_proj(attention(in_proj_q(q_in), in_proj_k(kv_in), in_proj_v(kv_in))).
// q_in: (Tq,d); kv_in: (Tk,d); key_valid: (Tk) nonzero = attend (nullptr = all);
// causal: query i sees keys 0..i. Differs from torch only where a query has no key left to
// attend to: core gives 0 there, torch NaN (the de novo models never produce such a row:
// the latent / precursor position is always attendable).
void mha_forward(float* out, const float* q_in, const float* kv_in, const mha_weights& w, const uint8_t* key_valid,
                 bool causal, int Tq, int Tk, int d, int n_head, float* scratch);
// Oracle: the same wiring over core's naive twins (allocates).
void mha_forward_naive(float* out, const float* q_in, const float* kv_in, const mha_weights& w,
                       const uint8_t* key_valid, bool causal, int Tq, int Tk, int d, int n_head);

// Projects kv_in (Tk,d) to k and v (Tk,d) with the in_proj rows d..2d and 2d..3d of w.
void mha_project_kv(float* k, float* v, const float* kv_in, const mha_weights& w, int Tk, int d);

}  // namespace tranova::denovo_model
