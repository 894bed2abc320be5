// Training forwards and backwards of the de novo networks (issue 14/16): the spectrum
// encoder, the Casanovo-style AR decoder under teacher forcing (cross-entropy with label
// smoothing) and the PrimeNovo-style NAR decoder (CTC), llm.c style.
//
// One source of truth for the weights: every tensor of the model's weight file lives in one
// core::param_arena (parameters | gradients | AdamW moments, same names as the weight file)
// and `trainable_model::model` is the ordinary inference model bound to the arena's
// parameter block (model_bind), so the forwards here read the weights through the same
// pointers, names and shape checks as inference, and `trainable_weights` is a weight file
// `denovo sequence` loads unchanged. A gradient sits at the same offset in the gradient
// block as its parameter (trainable_model::grad).
//
// The forwards are forward.hpp's, the same code inference runs (torch.nn's post-LayerNorm
// Transformer layers: ReLU, eps 1e-5, optional dropout), with every row of the batch
// processed together (rows = batch x positions) and everything the backward needs kept in
// stack_acts (one allocation each, sized from the batch shape, reused while the shape
// stays). Every op runs on the model's core::backend. Backward calls follow the core
// convention (docs/training.md): parameter gradients ACCUMULATE into the arena's gradient
// block (zero it per optimizer step), a nullptr gradient output skips it.
//
// CrossNovo composes these pieces (crossnovo_loss): the AR decoder's cross-attention memory
// is an input (any (B, Tk, d) buffer with its key mask) whose gradient is an optional
// output, so [stop-gradient(NAR features) ⊕ encoder memory] is built by the caller; the
// NAR backward takes an optional gradient of its features.
#pragma once

#include "core/param_arena.hpp"
#include "denovo_model/forward.hpp"
#include "denovo_model/model.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tranova::denovo_model {

struct trainable_model {
    std::string arch;
    std::map<std::string, std::string> config;  // the weight file's config fields (text)
    core::param_arena arena;  // every weight-file tensor, in weight-file order
    denovo_model model;       // views arena.params()
    // Tensors that never learn (give them to core::adamw as frozen prefixes): the sinusoid
    // terms (buffers upstream) and tensors no forward reads (PrimeNovo's aa_encoder, mass_ln,
    // layer_ln); torch.optim skips them too (their .grad stays None).
    std::vector<std::string> fixed;
    // The gradient slot of a parameter pointer of `model` (throws for a pointer outside the
    // arena's parameter block, e.g. of a model loaded elsewhere).
    float* grad(const float* param);
};

// Arena + bound model from a weight file (tensors copied in). Throws as model_from_weights.
trainable_model make_trainable(const weight_file& wf);
// The current parameters as a weight file (same tensors, order and config as the input).
weight_file trainable_weights(const trainable_model& t);

// A training batch. Peptide tokens are in decoding order (C -> N, as upstream reverses them).
struct train_batch {
    int B = 0, N = 0;                 // spectra, peaks per spectrum (zero-padded)
    std::vector<float> peaks;         // (B, N, 2) [m/z, intensity]; padding rows all 0
    std::vector<float> mass;          // (B) precursor neutral mass
    std::vector<int> charge;          // (B)
    int L = 0;                        // AR: tokens per row, incl. the stop token
    std::vector<int32_t> ar_tokens;   // (B, L) AR ids (1..R residues, stop), 0-padded
    int S = 0;                        // CTC: target slots per row
    std::vector<int32_t> ctc_targets; // (B, S) CTC ids 0..R-1, -1 padded
    std::vector<int32_t> ctc_lengths; // (B)
};

// The training forwards are forward.hpp's batched forwards with keep = true (the same code
// inference runs with keep = false); the backwards are forward.hpp's.
inline void encoder_train_forward(const trainable_model& t, stack_acts& acts, const float* peaks, int B, int N,
                                  const dropout_config& drop = {}) {
    encoder_forward_batch(t.model, acts, peaks, B, N, true, drop);
}
inline void encoder_train_backward(trainable_model& t, stack_acts& acts, const float* dmemory) {
    encoder_backward_batch(t, acts, dmemory);
}
inline void ar_train_forward(const trainable_model& t, stack_acts& acts, const float* memory,
                             const uint8_t* memory_valid, int Tk, const float* mass, const int* charge,
                             const int32_t* tokens, int B, int L, const dropout_config& drop = {}) {
    ar_forward_batch(t.model, acts, memory, memory_valid, Tk, mass, charge, tokens, B, L, true, drop);
}
inline void ar_train_backward(trainable_model& t, stack_acts& acts, const float* dlogits, float* dmemory) {
    ar_backward_batch(t, acts, dlogits, dmemory);
}
inline void nar_train_forward(const trainable_model& t, stack_acts& acts, const float* memory,
                              const uint8_t* memory_valid, int Tk, const float* mass, const int* charge, int B,
                              const dropout_config& drop = {}) {
    nar_forward_batch(t.model, acts, memory, memory_valid, Tk, mass, charge, B, true, drop);
}
inline void nar_train_backward(trainable_model& t, stack_acts& acts, const float* dlogits, const float* dfeatures,
                               float* dmemory) {
    nar_backward_batch(t, acts, dlogits, dfeatures, dmemory);
}

// Whole-model steps: the loss of one batch and, when `backward`, its gradient accumulated
// into t.arena's gradient block (scaled by dloss). drop.p > 0 trains with dropout (the
// encoder and the decoder draw from counter_hash(drop.seed, 0) and (.., 1); CrossNovo's
// NAR decoder from (.., 2)).
struct train_workspace {
    stack_acts enc, dec, nar;  // dec: the AR or the (PrimeNovo) NAR decoder; nar: CrossNovo's
    std::vector<float> dlogits, dlogits_nar, log_probs, dmemory, hybrid, dhybrid;
    std::vector<uint8_t> hybrid_valid;
    std::vector<int32_t> targets, input_lengths;
};
// Casanovo: CrossEntropy(ignore_index 0 = padding, label_smoothing) over rows 0..L-1.
float casanovo_loss(trainable_model& t, train_workspace& ws, const train_batch& b, float label_smoothing,
                    bool backward, float dloss = 1.0f, const dropout_config& drop = {});
// PrimeNovo: CTCLoss(blank = last class, reduction mean, zero_infinity) on the last layer.
float primenovo_loss(trainable_model& t, train_workspace& ws, const train_batch& b, bool backward,
                     float dloss = 1.0f, const dropout_config& drop = {});

// CrossNovo (encoder + NAR + AR, issue 16's two stages; the batch needs AR tokens and CTC
// targets). Stage 1: L = lambda L_AR + (1 - lambda) L_NAR over one encoder pass, the AR
// decoder attending to the encoder memory. Stage 2: the AR decoder attends to
// hybrid_memory's [proj(stop-gradient(NAR features)) ⊕ encoder memory] (+ positions when
// cfg.memory_pos_encoding; the inference function builds it), L = L_AR; only the AR decoder
// and the cross projection get gradients — the encoder and the NAR decoder are frozen in
// stage 2 (freeze their prefixes in core::adamw), so their backward is not run. The NAR
// loss is computed and returned in both stages (for the log).
struct crossnovo_losses {
    float total = 0, ar = 0, nar = 0;
};
// `dloss` scales the gradient of the AR term, `dloss_nar` that of the NAR term (< 0: dloss),
// so a data-parallel caller can weight each term by its own global item count.
crossnovo_losses crossnovo_loss(trainable_model& t, train_workspace& ws, const train_batch& b, int stage,
                                float lambda, float label_smoothing, bool backward, float dloss = 1.0f,
                                const dropout_config& drop = {}, float dloss_nar = -1.0f);

// What each loss averages over, for core::run_training's gradient sums (a train_task passes
// dloss = these items of its shard, so the gradient is the sum; loss sum = mean x items):
// Casanovo: the non-padding AR tokens (residues + stop); PrimeNovo: the spectra.
double casanovo_loss_items(const train_batch& b);
double primenovo_loss_items(const train_batch& b);

}  // namespace tranova::denovo_model
