// The batched forwards of the de novo networks, written once for inference and training
// (issue 14: "each model is written once"). One post-LayerNorm Transformer layer forward
// (layers.hpp) serves the spectrum encoder, the teacher-forced AR decoder and the NAR decoder;
// training keeps every activation its backward needs (keep = true), inference keeps nothing
// (keep = false: one layer's scratch reused, the stack's output written over its input rows).
// The incremental AR decoder of beam search (model.hpp ar_feed_batch) is a specialisation
// with a key/value cache that calls the same per-layer pieces.
//
// Every op goes through the model's core::backend (denovo_model::be, the CPU backend unless
// use_backend() gave another); buffers are host memory (std::vector), so today only the CPU
// backend can run them (a device backend needs its buffers in device memory first).
//
// Rows are (batch, position) with every spectrum zero-padded to the same length: key padding
// masks make the padded rows invisible to the real ones, so spectrum i of a batch gets the
// same numbers as alone (up to float rounding in the matrix products).
#pragma once

#include "denovo_model/model.hpp"

#include <cstdint>
#include <vector>

namespace tranova::denovo_model {

struct trainable_model;

// Dropout as torch.nn's Transformer layers apply it, all with probability p: on the
// attention weights (inside each MultiheadAttention), on each residual branch before its
// add (dropout1/2/3) and after the FFN's ReLU. p = 0 (the default) is off: the parity
// setting, evaluation and inference. Masks come from core::dropout_forward's counter hash:
// site k of layer i uses seed counter_hash(seed, 8 i + k) over its tensor, so nothing is
// stored and the backward recomputes them; give every step (and every stack) its own seed.
// PyTorch's masks come from its own RNG, so runs with p > 0 match it in distribution, not
// bit for bit.
struct dropout_config {
    float p = 0.0f;
    uint64_t seed = 0;
};

// One post-LN Transformer layer's activations (pointers into stack_acts::buf). In an
// inference stack (keep = false) every layer points at the same scratch, probs and
// mean/rstd are null (not kept) and out() is the stack's x0 (written in place).
struct layer_acts {
    float *qkv = nullptr, *sa_probs = nullptr, *sa_ctx = nullptr;            // self-attention
    float *sa_pdrop = nullptr, *ca_pdrop = nullptr;  // attention weights after dropout (p > 0 only)
    float *sum1 = nullptr, *mean1 = nullptr, *rstd1 = nullptr, *x1 = nullptr;  // x1 = LN1(x + SA)
    float *cq = nullptr, *ckv = nullptr, *ca_probs = nullptr, *ca_ctx = nullptr;  // cross (decoders)
    float *sum2 = nullptr, *mean2 = nullptr, *rstd2 = nullptr, *x2 = nullptr;
    float *h = nullptr, *a = nullptr;  // FFN pre-ReLU, post-ReLU (and post-dropout when p > 0)
    float *sum3 = nullptr, *mean3 = nullptr, *rstd3 = nullptr, *x3 = nullptr;  // decoders only
    const float* out() const { return x3 ? x3 : x2; }
};

// A stack's activations: x0 = the embedded input rows (B*T, d), layers, then (decoders)
// logits (B*T, V); plus gradient scratch (training only). `buf` is the one allocation,
// reused while the shape stays.
struct stack_acts {
    int B = 0, T = 0, Tk = 0;         // batch, positions, memory positions (decoders)
    bool keep = true;                 // training layout (everything the backward needs)
    std::vector<float> buf;
    float* x0 = nullptr;
    std::vector<layer_acts> layers;
    float* logits = nullptr;
    std::vector<uint8_t> self_valid;  // (B, T) key mask of the self-attention (empty = all)
    // inputs the embedding backward needs: encoder peak intensities (B, N); AR tokens (B, L);
    // charges (B)
    std::vector<float> saved;
    std::vector<int32_t> tokens;
    std::vector<int> charge;
    // the decoder's memory (borrowed from the caller, must stay alive until the backward)
    const float* memory = nullptr;
    const uint8_t* memory_valid = nullptr;
    const float* out() const { return layers.back().out(); }  // last hidden states (B*T, d)
    // gradient scratch (ds doubles as the branch output of the forward)
    float *g = nullptr, *g2 = nullptr, *ds = nullptr, *dy = nullptr, *dctx = nullptr, *dqkv = nullptr,
          *dff = nullptr, *dff2 = nullptr, *dkv = nullptr;
    std::vector<float> att_scratch;
    dropout_config drop;  // of the forward, reused by the backward
};

// Encoder: peaks (B, N, 2) -> a.out() = memory (B, N+1, d) (row 0 = latent token; padded
// rows are computed, not zeroed: they are masked wherever they are read) and
// a.self_valid (B, N+1) (0 = padding peak: m/z + intensity == 0).
void encoder_forward_batch(const denovo_model& m, stack_acts& a, const float* peaks, int B, int N, bool keep,
                           const dropout_config& drop = {});
// AR decoder under teacher forcing: rows (B, L+1) = [precursor token; tokens (B, L)] +
// positions, causal self-attention (keys whose embedding row sums to 0, i.e. padding, are
// masked, as depthcharge does), cross-attention to memory (B, Tk, d) with memory_valid
// (B, Tk). Writes a.logits (B, L+1, V): row j predicts token j, row L is unused.
void ar_forward_batch(const denovo_model& m, stack_acts& a, const float* memory, const uint8_t* memory_valid, int Tk,
                      const float* mass, const int* charge, const int32_t* tokens, int B, int L, bool keep,
                      const dropout_config& drop = {});
// NAR decoder: rows (B, T) = precursor query repeated + positions (T = cfg.nar_length),
// bidirectional self-attention, cross-attention to memory. a.logits (B, T, V),
// a.out() = the last layer's features (B, T, d).
void nar_forward_batch(const denovo_model& m, stack_acts& a, const float* memory, const uint8_t* memory_valid,
                       int Tk, const float* mass, const int* charge, int B, bool keep, const dropout_config& drop = {});

// Backwards of the three stacks (after a forward with keep = true); parameter gradients
// accumulate into t's gradient block (docs/training.md). dmemory: gradient of the encoder
// output (read) / of a decoder's memory (accumulates; nullptr = stop-gradient).
void encoder_backward_batch(trainable_model& t, stack_acts& a, const float* dmemory);
void ar_backward_batch(trainable_model& t, stack_acts& a, const float* dlogits, float* dmemory);
// dfeatures (B, T, d) or nullptr: gradient of the NAR features from outside the logits.
void nar_backward_batch(trainable_model& t, stack_acts& a, const float* dlogits, const float* dfeatures,
                        float* dmemory);

// Inference over several spectra at once (the sequencer's groups, the benchmark): every
// spectrum zero-padded to the longest. memory (B, Tk, d) with Tk = 1 + max n; valid (B, Tk)
// (0 = padding); masked rows of memory are 0, so row block i truncated to n_i + 1 rows is
// spectrum i's encoder_forward.
struct encoded_batch {
    int B = 0, Tk = 0;
    std::vector<float> memory;
    std::vector<uint8_t> valid;
    std::vector<int> rows;  // n_i + 1 per spectrum
};
void encode_batch(const denovo_model& m, const std::vector<const float*>& peaks, const std::vector<int>& n,
                  encoded_batch& out);
// NAR decoder over an encoded batch: logits (B, T, V), features (B, T, d) or nullptr.
void nar_forward_encoded(const denovo_model& m, const encoded_batch& e, const float* mass, const int* charge,
                         float* logits, float* features);

}  // namespace tranova::denovo_model
