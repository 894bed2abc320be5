// Internal to src/denovo_model: the one post-LayerNorm Transformer layer of the de novo
// networks (torch.nn TransformerEncoderLayer / TransformerDecoderLayer: ReLU, eps 1e-5,
// packed in_proj), its backward, and the pieces the incremental AR decoder reuses. Every op
// goes through the given core::backend. See forward.hpp for the activation structs.
#pragma once

#include "core/backend.hpp"
#include "denovo_model/forward.hpp"

#include <cstdint>
#include <vector>

namespace tranova::denovo_model::detail {

struct dims {
    int d, ff, H;
};
inline dims dims_of(const denovo_model& m) { return {m.cfg.dim_model, m.cfg.dim_feedforward, m.cfg.n_head}; }

// One layer's weights: encoder layers have no cross-attention and two norms (after the
// self-attention and after the FFN); decoder layers three.
struct layer_w {
    const mha_weights* sa = nullptr;
    const mha_weights* ca = nullptr;
    const float *l1_w, *l1_b, *l2_w, *l2_b;
    const float *n_w[3], *n_b[3];
    const layer_packed* packed = nullptr;  // the layer's packed linears (inference), else null
};

// out (R, OC) = x W^T + b through the packed panels p when non-null, else the plain linear.
void linear(core::backend& be, float* out, const float* x, const float* w, const float* b,
            const core::packed_linear* p, int R, int IC, int OC);
layer_w weights_of(const enc_layer& l);
layer_w weights_of(const dec_layer& l);

// Lays out a stack's activations for (B, T) rows and Tk memory rows: keep = true, every
// layer's own slots and the gradient scratch; keep = false, one scratch for all layers with
// each layer's output written over x0.
void layout(stack_acts& a, size_t n_layers, bool decoder, int B, int T, int Tk, dims k, int V, bool keep);
// The calling thread's activations for the inference entry points (encode_batch,
// nar_forward_encoded): kept between calls because a group's buffer (~35 MB at Casanovo's
// shape) is above glibc's mmap threshold, so a fresh one per call was mapped, zero-filled
// page by page by the kernel and unmapped again (about 10 % of the decode time). One call
// at a time per thread: the result is copied out before the next call reuses it.
stack_acts& inference_scratch();

void zero(float* p, size_t n);

// sum = x + y; out = LN(sum) (torch eps 1e-5), saving mean/rstd when non-null. sum may be x
// and out may be sum (in place).
void add_ln(core::backend& be, float* sum, float* mean, float* rstd, float* out, const float* x, const float* y,
            const float* w, const float* b, size_t R, int d);

// The layer: a.layers[li] from x (R = B*T rows); causal / self_valid: the self-attention
// mask; decoders read a.memory / a.memory_valid.
void layer_forward(core::backend& be, stack_acts& a, int li, const layer_w& w, const float* x, bool causal,
                   const uint8_t* self_valid, dims k);
// On entry a.g = gradient of the layer's output; on exit a.g = gradient of its input x.
// dmemory (decoders) accumulates the memory's gradient (nullptr: not needed).
void layer_backward(trainable_model& t, stack_acts& a, int li, const layer_w& w, const float* x, bool causal,
                    const uint8_t* self_valid, float* dmemory, dims k);

template <typename Layer>
void stack_forward(core::backend& be, stack_acts& a, const std::vector<Layer>& layers, bool causal,
                   const uint8_t* self_valid, dims k) {
    const float* x = a.x0;
    for (size_t i = 0; i < layers.size(); ++i) {
        layer_forward(be, a, int(i), weights_of(layers[i]), x, causal, self_valid, k);
        x = a.layers[i].out();
    }
}
// a.g = gradient of the stack's output -> gradient of x0
template <typename Layer>
void stack_backward(trainable_model& t, stack_acts& a, const std::vector<Layer>& layers, bool causal,
                    const uint8_t* self_valid, float* dmemory, dims k) {
    for (size_t i = layers.size(); i-- > 0;) {
        const float* x = i == 0 ? a.x0 : a.layers[i - 1].out();
        layer_backward(t, a, int(i), weights_of(layers[i]), x, causal, self_valid, dmemory, k);
    }
}

// x (R, d) <- LN(x + FFN(x)) without keeping anything (the incremental AR decoder): h (R, ff), y (R, d)
void ffn_add_ln(core::backend& be, float* x, const layer_w& w, int norm, size_t R, int d, int ff, float* h, float* y);

// Sinusoidal encodings of positions first .. first+T-1: (T, d)
std::vector<float> position_table(core::backend& be, const float_encoder& e, int first, int T, int d);
// Precursor embedding: mass encoding + charge embedding row (charge-1), through the backend.
void precursor_embedding(core::backend& be, const float_encoder& mass_enc, const float* charge_emb, int max_charge,
                         int d, float mass, int charge, float* out);

}  // namespace tranova::denovo_model::detail
