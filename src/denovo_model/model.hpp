// The de novo sequencing networks: a depthcharge-style spectrum encoder, a Casanovo-style
// autoregressive (AR) peptide decoder, a PrimeNovo-style non-autoregressive CTC (NAR)
// decoder and the CrossNovo-style hybrid whose AR cross-attention reads the NAR decoder's
// final features concatenated before the encoder memory. Weights come from a weight_file
// (tensors.hpp); tensor names follow the upstream PyTorch state_dict with the decoder
// prefix renamed to `ar_decoder.` / `nar_decoder.` (see docs/denovo-model.md).
// Decoding algorithms live in ctc.hpp and beam_search.hpp; this file only has forwards.
#pragma once

#include "core/backend.hpp"
#include "core/linear.hpp"
#include "core/weights.hpp"
#include "denovo_model/nn.hpp"
#include "denovo_model/tensors.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tranova::denovo_model {

// Residues of the model's vocabulary in index order (Casanovo: AR id = index+1;
// PrimeNovo: CTC id = index, blank = size()).
struct residue_table {
    std::vector<std::string> tokens;
    std::vector<double> masses;
    int size() const { return int(tokens.size()); }
};
// The MassIVE-KB residue table of Casanovo v4 / PrimeNovo config.yaml (27 entries).
residue_table massivekb_residues();
// "G=57.021464,A=71.037114,..." <-> table.
std::string residues_to_string(const residue_table& r);
residue_table residues_from_string(const std::string& s);

enum class model_arch { casanovo, primenovo, crossnovo };
model_arch arch_from_string(const std::string& s);
const char* arch_name(model_arch a);

struct model_config {
    model_arch arch = model_arch::casanovo;
    int dim_model = 0, n_head = 0, dim_feedforward = 0;
    int n_enc_layers = 0, n_ar_layers = 0, n_nar_layers = 0;
    int max_charge = 0;
    int nar_length = 40;  // PrimeNovo fixed CTC output length
    residue_table residues;
    // decoding defaults (overridable on the command line)
    int max_length = 100;          // AR max peptide length
    int min_peptide_len = 6;
    double precursor_mass_tol = 50;  // ppm
    int isotope_min = 0, isotope_max = 1;
    double mass_control_tol = 0.1;   // PMC, Da
    std::string preset;              // peak preprocessing preset: casanovo | primenovo
    bool memory_pos_encoding = true; // crossnovo: positional encodings on the cross memory
};

// A layer's linears packed once for the AVX-512 kernel (pack_for_inference): the
// self-attention's fused QKV and output, the cross-attention's query, fused key|value and
// output projections (decoders), and the two FFN linears.
struct layer_packed {
    core::packed_linear sa_in, sa_out, ca_q, ca_kv, ca_out, l1, l2;
};

struct enc_layer {
    mha_weights sa;
    const float *l1_w, *l1_b, *l2_w, *l2_b, *n1_w, *n1_b, *n2_w, *n2_b;
    const layer_packed* packed = nullptr;  // inference only (pack_for_inference)
};
struct dec_layer {
    mha_weights sa, ca;
    const float *l1_w, *l1_b, *l2_w, *l2_b, *n1_w, *n1_b, *n2_w, *n2_b, *n3_w, *n3_b;
    const layer_packed* packed = nullptr;  // inference only (pack_for_inference)
};
struct float_encoder {
    const float* sin_term = nullptr;
    const float* cos_term = nullptr;
    int n_sin = 0, n_cos = 0;
};

struct denovo_model {
    model_config cfg;
    // Owns the weights (model_from_weights): every tensor a slot of one 64-byte-aligned
    // allocation, as in the weight file and in a trainer's parameter arena (core::param_arena
    // lays its parameter block out from the same core::weights). Empty when the model is bound
    // to tensors held elsewhere (model_bind: the trainer's arena).
    core::weights storage;
    // The layers' linears packed for the AVX-512 kernel (pack_for_inference; empty otherwise).
    std::vector<layer_packed> packed;
    // Where every op of the forwards runs (use_backend; the process-wide CPU backend by default).
    core::backend* be = &core::cpu_backend();

    // encoder
    const float* latent = nullptr;  // (d)
    float_encoder mz_enc;
    const float* int_w = nullptr;  // (d) Linear(1,d) without bias
    std::vector<enc_layer> enc_layers;

    // AR decoder (casanovo, crossnovo)
    float_encoder ar_pos, ar_mass;
    const float *ar_charge = nullptr, *ar_aa = nullptr, *ar_final_w = nullptr, *ar_final_b = nullptr;
    int ar_vocab = 0;  // 29: 0 pad, 1..27 residues, 28 stop
    std::vector<dec_layer> ar_layers;

    // NAR decoder (primenovo, crossnovo)
    float_encoder nar_pos, nar_mass;
    const float *nar_charge = nullptr, *nar_final_w = nullptr, *nar_final_b = nullptr;
    int nar_vocab = 0;  // 28: residues then blank
    std::vector<dec_layer> nar_layers;

    // cross-decoder glue (crossnovo)
    const float *cross_w = nullptr, *cross_b = nullptr;  // (d,d),(d) projection of NAR features
    float_encoder cross_pos;

    bool has_ar() const { return !ar_layers.empty(); }
    bool has_nar() const { return !nar_layers.empty(); }
    int stop_token() const { return ar_vocab - 1; }
};

// Binds a weight file (moved in) to a model; throws tranova::error naming a missing or
// mis-shaped tensor.
denovo_model model_from_weights(weight_file wf);

// Packs every layer's linears once for the AVX-512 kernel (core::pack_linear) and points
// the layers at them, so that inference does not re-pack each weight at every call (the
// training linears pack per call because their weights change every step). Only for a
// model whose weights no longer change (the sequencer's, the benchmark's); no-op on a CPU
// without AVX-512F (the plain layout would only be a copy). Costs one more copy of the
// layer weights in memory. Results differ from the unpacked model's in float rounding
// only where the plain path used BLAS (products of fewer than 32 rows: the AR beam steps).
void pack_for_inference(denovo_model& m);

// A tensor held elsewhere (e.g. in a trainer's core::param_arena): data and shape.
struct tensor_view {
    const float* data = nullptr;
    std::vector<int64_t> shape;
    int64_t numel() const {
        int64_t n = 1;
        for (auto s : shape) n *= s;
        return n;
    }
};
// Finds a tensor by weight-file name; false when absent.
using tensor_lookup = std::function<bool(const std::string& name, tensor_view& out)>;
// Binds a model to tensors it does not own (the trainer's parameter arena): same names,
// checks and config as model_from_weights, storage stays empty and the pointers point into
// the storage behind `lookup`, which must outlive the model. `bound` (optional) receives
// the name of every tensor the model reads (weights and sinusoid terms).
denovo_model model_bind(const std::string& arch, const std::map<std::string, std::string>& config,
                        const tensor_lookup& lookup, std::vector<std::string>* bound = nullptr);

// Runs the model's ops on `be`: asks it once (core::backend::require) for every op the
// inference forwards use and throws naming the model and the first missing op. Binding
// calls it with core::cpu_backend().
void use_backend(denovo_model& m, core::backend& be);
// The same question for the training forwards and backwards (make_trainable asks it).
void require_training_ops(const denovo_model& m);

// Builds a weight file from an upstream state_dict (names as in the checkpoint:
// encoder.*, decoder.*). arch casanovo / primenovo; n_head cannot be read from shapes.
weight_file weights_from_state_dict(tensor_map state_dict, model_arch arch, int n_head);

// Random weights of the given shape (benchmarks, tests): N(0, 0.02) matrices, LayerNorm
// 1/0, zero biases, depthcharge-0.2 sinusoidal terms (m/z and mass: wavelengths
// 0.001..10000; positions: 1..10000). casanovo: encoder + AR; primenovo: encoder + NAR;
// crossnovo: all three plus the cross-decoder projection.
weight_file random_weights(model_arch arch, int dim_model, int n_head, int dim_feedforward, int n_layers,
                           uint32_t seed = 1);

// Config entries of a weight file as a model_config (used by model_from_weights).
model_config config_from_weights(const weight_file& wf);
model_config config_from_fields(const std::string& arch, const std::map<std::string, std::string>& config);

// ---- inference forwards of one spectrum (callers parallelise over spectra; the batched
// forwards shared with training, and encode_batch for several spectra, are in forward.hpp) ----

// peaks: (n,2) [m/z, intensity]; memory: (n+1, d) (row 0 = latent token); mask: (n+1)
// true = padding (peaks whose m/z + intensity == 0), its memory rows are set to 0.
void encoder_forward(const denovo_model& m, const float* peaks, int n, float* memory, bool* mask);
// Just the peak encoder (m/z encoding + intensity projection): out (n, d).
void peak_encoder_forward(const denovo_model& m, const float* peaks, int n, float* out);

// Precursor token: mass encoding of `mass` + charge embedding (charge-1). out (d).
void ar_precursor_embedding(const denovo_model& m, float mass, int charge, float* out);
// The NAR decoder's precursor query (its own mass encoder and charge embedding). out (d).
void nar_precursor_embedding(const denovo_model& m, float mass, int charge, float* out);

// NAR (CTC) decoder. logits: (T,V) with T = cfg.nar_length, V = nar_vocab; features
// (T,d) = last-layer hidden states (may be null); layer_logits (n_layers,T,V) may be null.
void nar_forward(const denovo_model& m, const float* memory, const bool* mask, int Tk, float mass, int charge,
                 float* logits, float* features, float* layer_logits);

// Autoregressive decoding state of one beam: per-layer self-attention keys/values for the
// positions fed so far (position 0 = precursor, position j = token j-1).
struct ar_memory {
    // cross-attention keys/values of the (possibly hybrid) memory, per layer: (Tk,d)
    std::vector<std::vector<float>> k, v;
    std::vector<uint8_t> key_valid;  // (Tk) nonzero = attend (core::attention_shape::key_valid)
    int Tk = 0;
};
struct ar_cache {
    int len = 0;                      // positions already fed
    std::vector<std::vector<float>> k, v;  // per layer: (capacity, d)
    std::vector<uint8_t> key_valid;        // per position: 0 = token was padding (not attended)
    int capacity = 0;
};

// Projects the memory for every AR layer. memory: (Tk,d), mask (Tk).
void ar_prepare_memory(const denovo_model& m, const float* memory, const bool* mask, int Tk, ar_memory& out);
// Hybrid memory: [proj(nar_features) (T,d) ; memory (Tk,d)] (+ positional encodings 1..T+Tk
// when cfg.memory_pos_encoding), mask [false x T ; mask].
void hybrid_memory(const denovo_model& m, const float* nar_features, const float* memory, const bool* mask, int Tk,
                   std::vector<float>& out, std::vector<unsigned char>& out_mask);

void ar_cache_init(const denovo_model& m, ar_cache& c, int capacity);
void ar_cache_copy(ar_cache& dst, const ar_cache& src, int d);
// Feeds positions c.len .. c.len+n-1 (the precursor at position 0, then tokens) and writes
// the logits of the last fed position to logits (V) (and of every fed position to
// all_logits (n,V) when non-null). tokens[j] is the token for position c.len + j (for
// position 0 the value is ignored: the precursor embedding is used).
void ar_feed(const denovo_model& m, const ar_memory& mem, ar_cache& c, float mass, int charge, const int* tokens,
             int n, float* logits, float* all_logits);

// Several beams at once (their rows share every matrix product, so the weights are read
// once per step instead of once per beam). all_logits: (n,V) per item.
struct ar_feed_item {
    const ar_memory* mem = nullptr;
    ar_cache* cache = nullptr;
    float mass = 0;
    int charge = 0;
    const int* tokens = nullptr;  // tokens for positions cache->len .. cache->len+n-1
    int n = 0;
    float* all_logits = nullptr;
};
void ar_feed_batch(const denovo_model& m, const std::vector<ar_feed_item>& items);

}  // namespace tranova::denovo_model
