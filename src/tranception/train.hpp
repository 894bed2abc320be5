// Training Tranception (issue 14): the network of model.hpp with its parameters in a
// core::param_arena (model.hpp's layout, plus gradients and AdamW moments), the training
// forward - model.hpp's network_forward, the code inference runs, keeping what the
// backward needs in an activation arena sized from the batch shape (llm.c's
// ActivationTensors) - and the backward written as the forward in reverse, one backend
// op (core/ops_backward.hpp's twins) per forward op.
//
// One source of truth: the arena's tensors are the weight file's (docs/weights-format.md,
// arch "tranception"; names, shapes and layouts as the converter writes them), so
// model_from_weights(trainable_to_weights(m)) is the inference model of the current
// parameters (the AVX-512 panels are packed from them at that load). The ALiBi slopes are
// constants, not parameters: they stay out of the arena and are written back to the file.
//
// Semantics (spec tranception.md §1.4, §2.2-§2.8; checked against PyTorch autograd in
// tests/tranception/test_training.cpp):
//   - a batch is B rows of T token ids, right-padded: row b holds lengths[b] real tokens
//     ([CLS] residues [SEP]) then padding (any id in [0, 25); [PAD] = 3 by convention);
//   - the input vector of every position is wte[id] + wte[0] (the token-type quirk, as
//     inference) when token_type_quirk is set;
//   - attention masks padded keys (the official -1e4 additive mask; identical since the
//     probabilities underflow to 0) on top of the causal mask and grouped ALiBi;
//   - loss: next-token cross-entropy, row t of item b predicts ids[b][t+1] when t+1 <
//     lengths[b] ([SEP] is a target, padding is not: HF labels -100 on pads), mean over
//     the targets of the whole batch (PyTorch reduction 'mean'); dropout only when
//     train_activations::dropout > 0 (off by default).
#pragma once

#include "core/param_arena.hpp"
#include "core/weights.hpp"
#include "tranception/model.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tranova::tranception {

struct trainable_model {
    model_config cfg;
    std::map<std::string, core::config_value> config;  // the weight file's config, written back as is
    std::vector<float> slopes;                          // [n_head] grouped ALiBi, constants
    bool token_type_quirk = true;
    core::param_arena arena;                            // every trainable tensor, weight-file order
    param_slots slots;                                  // into the arena (model.hpp: inference's layout)
    core::backend* be = &core::cpu_backend();           // set with use_backend
};

// The ops train_forward and train_backward run.
extern const std::initializer_list<core::op_kind> training_ops;
// Trains `m` on `be` from now on; throws tranova::error naming the first op `be` lacks.
void use_backend(trainable_model& m, core::backend& be);

// Floats of one block of the parameter arena of `cfg` (params, grads, m and v are one
// block each), computed without allocating: for memory estimates.
size_t trainable_block_floats(const model_config& cfg);
// The arena of a Tranception of config `cfg` (tensors declared and allocated, zero).
trainable_model trainable_create(const model_config& cfg, std::map<std::string, core::config_value> config);
// From a weight file's tensors (all parameters plus "alibi_slopes"; any other tensor or a
// shape mismatch throws tranova::error naming `source` and the tensor).
trainable_model trainable_from_weights(const core::weights& w, const std::string& source);
// The weight file of the current parameters (+ alibi_slopes), readable by model_from_weights.
core::weights trainable_to_weights(const trainable_model& m);
// GPT-2 initialisation as the official code: Linear/Conv1D weights and the
// embedding ~ N(0, 0.02), *.attn_out/mlp_proj weights ~ N(0, 0.02 / sqrt(2 n_layer)),
// biases 0, LayerNorm 1/0, depthwise convolutions PyTorch's default (weight and bias ~
// U(-1/sqrt(k), 1/sqrt(k))). Deterministic from `seed` (core::rng, Box-Muller normals).
void trainable_init(trainable_model& m, uint64_t seed);

// A right-padded batch (see the file comment). ids (B, T) row-major, lengths (B) in [1, T].
struct train_batch {
    int B = 0, T = 0;
    const int32_t* ids = nullptr;
    const int32_t* lengths = nullptr;
};

// The activation arena: everything the backward reads, one allocation sized from
// (B, T) and the config (docs/training.md "Tranception training" lists the layout).
// With recompute_attention, one layer's attention probabilities are kept instead of
// n_layer (the backward recomputes them with the same op: bit-identical gradients),
// the one O(T^2) term that dominates memory at long contexts.
struct train_activations {
    int B = 0, T = 0, L = 0;
    bool recompute_attention = false;  // set before train_forward
    // Dropout (GPT-2's embd_pdrop and resid_pdrop, one p; set before train_forward, the
    // backward reuses them): on the embedding sum and on each residual branch's output
    // before its add. Masks are core::dropout's counter hash, site k of the model seeded
    // counter_hash(dropout_seed, k), recomputed by the backward. 0 = off (inference,
    // validation, the parity tests). Attention-probability dropout is not implemented.
    float dropout = 0;
    uint64_t dropout_seed = 0;
    float dropout_used = 0;            // the p of the last forward (what the backward undoes)
    std::vector<float> ddrop;          // (R, d) gradient scratch, dropout only
    bool probs_one_layer = false;      // the layout in use (recompute_attention at allocation)
    std::vector<float> memory;
    // saved by the forward (l = layer; R = B*T rows)
    float* h = nullptr;          // (L+1, R, d): residual stream entering layer l; [L] enters ln_f
    float* h_mid = nullptr;      // (L, R, d): after the attention residual
    float* ln1 = nullptr;        // (L, R, d) + ln1_mean, ln1_rstd (L, R)
    float* ln1_mean = nullptr;
    float* ln1_rstd = nullptr;
    float* qkv = nullptr;        // (L, R, 3d): Q|K|V before the depthwise convolutions
    float* qkv_c = nullptr;      // (L, R, 3d): after them (attention's q/k/v)
    float* probs = nullptr;      // (L or 1, B, H, T, T)
    float* att = nullptr;        // (L, R, d): attention output, heads merged
    float* ln2 = nullptr;        // (L, R, d) + ln2_mean, ln2_rstd (L, R)
    float* ln2_mean = nullptr;
    float* ln2_rstd = nullptr;
    float* fc_pre = nullptr;     // (L, R, n_inner): MLP input of the squared ReLU
    float* fc_act = nullptr;     // (L, R, n_inner): its output
    float* lnf = nullptr;        // (R, d) + lnf_mean, lnf_rstd (R)
    float* lnf_mean = nullptr;
    float* lnf_rstd = nullptr;
    float* logits = nullptr;     // (R, V)
    // gradients of activations (one layer's worth, reused layer by layer)
    float* dlogits = nullptr;    // (R, V)
    float* dres = nullptr;       // (R, d): the residual stream's gradient
    float* dln = nullptr;        // (R, d): gradient of a layernorm output
    float* datt = nullptr;       // (R, d)
    float* dqkv_c = nullptr;     // (R, 3d)
    float* dqkv = nullptr;       // (R, 3d)
    float* dfc_act = nullptr;    // (R, n_inner)
    float* dfc_pre = nullptr;    // (R, n_inner)
    float* att_tmp = nullptr;    // (R, d): recompute_attention only
    std::vector<int32_t> ids, targets, zero_ids;  // (R)
    std::vector<uint8_t> key_valid;               // (B, T)
    std::vector<float> scratch;                   // attention backward
    workspace ws;                                 // the forward's scratch (ids, attention)
    size_t floats() const { return memory.size(); }
};

// Floats the activation arena takes for (B, T) (the allocation train_forward makes).
size_t train_activation_floats(const model_config& cfg, int B, int T, bool recompute_attention);

struct train_result {
    float loss = 0;    // mean next-token cross-entropy over the batch's targets (nats)
    int tokens = 0;    // number of targets
};

// Training forward: fills `acts` (resized for the batch) and returns the loss. Throws
// tranova::error for a bad batch (length outside [1, T], T beyond the context, id outside
// the vocabulary) before touching the parameters or gradients.
train_result train_forward(const trainable_model& m, const train_batch& batch, train_activations& acts);
// Backward of the last train_forward on the same batch: ACCUMULATES d(dloss * loss) /
// d(parameter) into m.arena's gradients (zero them per optimizer step). The activation
// gradients are zeroed here.
void train_backward(trainable_model& m, train_activations& acts, float dloss = 1.0f);

}  // namespace tranova::tranception
