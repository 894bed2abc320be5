// The Tranception network (spec tranception.md §2): GPT-2 with pre-LN blocks, grouped
// ALiBi, causal depthwise convolutions on Q/K/V for head groups 1..3 (kernels 3/5/7),
// squared-ReLU MLP and an LM head tied to the token embedding. Inference (training: train.hpp).
//
// One parameter layout (a core::param_arena, the weight file's tensors; training uses the
// same with gradients and moments) and one forward routine (network_forward,
// forward.cpp), which training also runs. For inference it serves three uses: a plain
// forward (start 0, no cache), the wild type's forward that fills a prefix cache
// (pre-convolution Q/K/V and post-convolution K/V of every layer and position, plus its
// log-probabilities), and a mutant's forward that starts at its first changed token and
// reads everything before it from that cache. Causality makes the three give the same
// numbers (up to GEMM blocking, ~1e-7). Every op runs through the model's core::backend.
//
// Not here: tokenization (tokenizer.hpp), the retrieval prior (prior.hpp), scoring.
#pragma once

#include "core/backend.hpp"
#include "core/linear.hpp"
#include "core/ops.hpp"
#include "core/param_arena.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace tranova::core {
class weights;
}

namespace tranova::tranception {

struct model_config {
    int n_layer = 0, n_embd = 0, n_head = 0, n_inner = 0;
    int vocab = 25;
    int n_ctx = 1024;         // tokens per window, [CLS] and [SEP] included (context = n_ctx - 2 residues)
    float ln_eps = 1e-5f;
    int head_dim() const { return n_embd / n_head; }
};

// Official get_slopes(n_head, 'grouped_alibi'): n = H/4 slopes, repeated 4 times.
std::vector<float> grouped_alibi_slopes(int n_head);

// Offsets (floats, the same in every block of a core::param_arena) of one layer's tensors.
struct layer_slots {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, conv_w[3][3], conv_b[3][3], proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, fc2_w,
        fc2_b;
};
struct param_slots {
    size_t wte = 0, lnf_w = 0, lnf_b = 0;
    std::vector<layer_slots> layers;
};

// The parameters of a Tranception of config `c`, declared into `a` in the converter's
// order (tranception/convert.cpp; names and shapes of the weight file,
// docs/weights-format.md): the one layout of inference and training.
void declare_params(core::param_arena& a, const model_config& c);
// Their offsets, resolved once (after declare_params).
param_slots resolve_param_slots(const core::param_arena& a, const model_config& c);

// Inference only: a layer's linear weights laid out once at load for this CPU
// (core/linear.hpp), DERIVED from the arena's (out, in) tensors.
struct layer_packed {
    core::packed_linear qkv;   // [3d, d]: Q | K | V output blocks
    core::packed_linear proj;  // [d, d]
    core::packed_linear fc;    // [n_inner, d]
    core::packed_linear fc2;   // [d, n_inner]
};

// The inference model: the parameters in a core::param_arena (parameter block only) -
// the same layout and slots as the trainable model (train.hpp) - plus the packed panels
// derived from it, and the backend every op runs on.
struct model {
    model_config cfg;
    core::param_arena params;       // every parameter, weight-file order (allocate_params_only)
    param_slots slots;
    std::vector<layer_packed> packed;  // [n_layer]
    core::packed_linear head;       // the tied LM head: token_embd packed as a (vocab, d) linear
    std::vector<float> slopes;      // [n_head]
    bool token_type_quirk = true;   // add wte[0] at every position (official scoring path)
    bool random_weights = false;    // config "tranova_random_weights" = 1 (demo/test models): scores mean nothing
    core::backend* be = &core::cpu_backend();  // set with use_backend
};

// The ops an inference forward runs (model_forward), and those of training (train.hpp).
extern const std::initializer_list<core::op_kind> inference_ops;
// Runs `m` on `be` from now on; throws tranova::error naming the first op `be` lacks.
void use_backend(model& m, core::backend& be);

// What every Tranception path (inference and training, train.hpp) reads from a weight
// file besides the parameters: the config (arch checked, sizes validated) and the ALiBi
// slopes (the "alibi_slopes" tensor, checked against grouped_alibi_slopes). Throw
// tranova::error naming `source` and the field/tensor.
model_config model_config_from_weights(const core::weights& w, const std::string& source);
std::vector<float> model_slopes_from_weights(const core::weights& w, const model_config& c, const std::string& source);

// Builds the model from a tranova weight file's tensors (arch "tranception",
// docs/weights-format.md). Linear weights are packed for `kernel` (core/linear.hpp).
// Throws tranova::error naming the tensor on a missing tensor or a shape mismatch.
model model_from_weights(const core::weights& w, const std::string& source,
                         core::linear_kernel kernel = core::linear_kernel::automatic);
// Copies every tensor declared in `a` from `w` (the weight file's tensors, by name);
// throws tranova::error naming w's file and the tensor when one is missing or has
// another shape. Other tensors of `w` are the caller's business.
void params_from_weights(core::param_arena& a, const core::weights& w);

// Loads a model: a tranova HDF5 weight file (`tranova convert --arch tranception`), or a
// checkpoint the converter reads (a folder with config.json + model.safetensors or
// pytorch_model.bin, or such a file with config.json beside it), converted in memory.
model model_load(const std::string& path, core::linear_kernel kernel = core::linear_kernel::automatic);
// The weights model_load reads (the file itself, or the checkpoint converted in memory).
core::weights model_weights_load(const std::string& path);

// ---------------------------------------------------------------------------------------
// Layer pieces of the forward (forward.cpp), which inference and training share.

// One layer's depthwise convolution parameters: [Q/K/V][head group 1..3 as 0..2],
// weight (hd, k) with k = 3, 5, 7 and bias (hd).
struct qkv_conv_params {
    const float* w[3][3] = {};
    const float* b[3][3] = {};
};
qkv_conv_params layer_conv_params(const float* params, const layer_slots& s);

// Q|K|V after the causal depthwise convolutions, positions [start,
// start + T) of B items in the fused layout (row stride 3d): head group 0 of Q, K and V is
// copied, group g = 1..3 is convolved with kernel 2g+1 (one filter set shared by the
// group's heads). `pre` points at absolute position 0 of item 0 and holds rows
// [0, start + T) (batch stride bs_pre); `post` at position `start` of item 0 (batch
// stride bs_post).
void qkv_convolutions_forward(core::backend& be, float* post, const float* pre, const qkv_conv_params& p, const model_config& c, int B,
                              int T, int start, long bs_pre, long bs_post);

// The attention of a layer on the fused layout: causal, grouped
// ALiBi (+slope * key index), scale 1/sqrt(hd); q/k/v row stride 3d with batch stride
// TK * 3d, output row stride d with batch stride T * d. key_valid: padded keys (or null).
core::attention_shape layer_attention_shape(const model_config& c, const float* slopes, int B, int T, int TK,
                                            int start, const uint8_t* key_valid = nullptr);

// The wild type's per-layer prefix for one window and direction.
struct prefix_cache {
    int T = 0;                     // tokens
    std::vector<int> ids;          // [T]
    std::vector<float> qkv_pre;    // [n_layer, T, 3d] before the depthwise convolutions
    std::vector<float> kv_post;    // [n_layer, T, 2d] K | V after the convolutions
    std::vector<float> logprobs;   // [T, vocab] log_softmax of the logits
};

// One sequence of a batch: token ids (length T) and the first position to compute.
// Positions < start are read from the cache (which must hold the same ids there).
// key_valid (training's right-padded rows): T flags, 0 for a padded key (or null: none).
struct batch_item {
    const int* ids = nullptr;
    int T = 0;
    int start = 0;
    const uint8_t* key_valid = nullptr;
};

// Per-thread scratch space, grown on demand.
struct workspace {
    std::vector<float> h, a, qkv, qkv_c, pre, att, fc, logits, scratch, gather, gather_qkv;
    std::vector<int32_t> ids;
    std::vector<int> new_rows;
};

// ---------------------------------------------------------------------------------------
// The forward, written once (forward.cpp) for inference and training.

// The parameters one forward reads: the arena's parameter block and its slots and, for
// inference, the packed linears derived from it (null for training: its linears read the
// arena's (out, in) tensors, which change every step).
struct network_params {
    const model_config* cfg = nullptr;
    const float* P = nullptr;
    const param_slots* slots = nullptr;
    const std::vector<layer_packed>* packed = nullptr;
    const core::packed_linear* head = nullptr;
    const float* slopes = nullptr;
    bool token_type_quirk = true;
};
network_params network_of(const model& m);

struct train_activations;  // train.hpp

// Embedding, the n_layer blocks, ln_f and the tied head over `items` (positions [start,
// T) of each, rows concatenated over the items); the logits land in ws.logits, or with
// `save` in save->logits. Inference (save null): the residual stream is updated in
// place, residual adds and the squared ReLU are the packed kernels' epilogues; `cache`
// and `fill` as in model_forward. Training (`save` the activation arena, allocated for
// B items of T tokens each, every item start 0, no cache): the same op sequence, keeping
// every tensor the backward reads (layernorm statistics, pre-activation, attention
// probabilities, each layer's residual stream) and applying save's dropout.
void network_forward(core::backend& be, const network_params& net, const std::vector<batch_item>& items,
                     workspace& ws, const prefix_cache* cache, prefix_cache* fill, train_activations* save);

// Runs the network on `items` (positions [start, T) of each), writing log-probabilities
// ([rows, vocab], rows concatenated over items, row t predicts token t+1) into
// `logprobs_out` (resized). With `cache` non-null, positions < start come from it. With
// `fill` non-null (single item, start 0), the run stores its prefix into `fill`.
// `raw_logits` (optional) receives the logits instead of nothing.
void model_forward(const model& m, const prefix_cache* cache, const std::vector<batch_item>& items,
                   std::vector<float>& logprobs_out, workspace& ws, prefix_cache* fill = nullptr,
                   std::vector<float>* raw_logits = nullptr);

// Convenience: logits [T, vocab] of one token sequence (no cache).
std::vector<float> model_logits(const model& m, const std::vector<int>& ids);

// Computes the prefix cache of one sequence (start 0).
prefix_cache model_prefix(const model& m, const std::vector<int>& ids, workspace& ws);

}  // namespace tranova::tranception
