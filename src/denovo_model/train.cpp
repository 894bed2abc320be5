// The trainable de novo model and its losses (see train.hpp). The forwards and backwards
// are forward.hpp's (the same code inference runs); every op goes through the model's
// core::backend.
#include "denovo_model/train.hpp"

#include "core/loss.hpp"
#include "core/ops_backward.hpp"
#include "denovo_model/tensors.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

namespace tranova::denovo_model {

// ---------------------------------------------------------------------------------------
// the trainable model

trainable_model make_trainable(const weight_file& wf) {
    trainable_model t;
    t.arch = wf.arch;
    t.config = wf.config;
    t.arena = core::param_arena::from_weights(to_core_weights(wf));
    std::vector<std::string> bound;
    const core::param_arena& arena = t.arena;
    t.model = model_bind(
        wf.arch, wf.config,
        [&arena](const std::string& name, tensor_view& out) {
            if (!arena.has(name)) return false;
            out.data = arena.param(name);
            out.shape = arena.tensor(name).shape;
            return true;
        },
        &bound);
    require_training_ops(t.model);
    const std::set<std::string> read(bound.begin(), bound.end());
    auto ends = [](const std::string& s, const std::string& suffix) {
        return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    for (const core::param_tensor& p : t.arena.tensors())
        if (ends(p.name, "sin_term") || ends(p.name, "cos_term") || !read.count(p.name)) t.fixed.push_back(p.name);
    return t;
}

float* trainable_model::grad(const float* param) {
    TRANOVA_CHECK(param >= arena.params() && param < arena.params() + arena.block_floats(),
                  "trainable_model: a weight outside the parameter arena (model not bound to it)");
    return arena.grads() + (param - arena.params());
}

weight_file trainable_weights(const trainable_model& t) {
    weight_file header;  // config only: to_core_weights types the text fields
    header.arch = t.arch;
    header.config = t.config;
    return from_core_weights(t.arena.to_weights(t.arch, to_core_weights(header).config));
}

// ---------------------------------------------------------------------------------------
// losses

namespace {

// Shapes of a batch against its sizes (the forwards take raw pointers and trust them).
void check_batch(const train_batch& b, bool ar, bool ctc) {
    TRANOVA_CHECK(b.B > 0 && b.N > 0, "training batch: {} spectra of {} peaks (both must be positive)", b.B, b.N);
    TRANOVA_CHECK(b.peaks.size() == size_t(b.B) * b.N * 2, "training batch: {} peak values, expected B {} x N {} x 2",
                  b.peaks.size(), b.B, b.N);
    TRANOVA_CHECK(b.mass.size() == size_t(b.B) && b.charge.size() == size_t(b.B),
                  "training batch: {} masses and {} charges for {} spectra", b.mass.size(), b.charge.size(), b.B);
    if (ar)
        TRANOVA_CHECK(b.L > 0 && b.ar_tokens.size() == size_t(b.B) * b.L,
                      "training batch: {} AR tokens, expected B {} x L {} (L > 0)", b.ar_tokens.size(), b.B, b.L);
    if (ctc)
        TRANOVA_CHECK(b.S >= 0 && b.ctc_targets.size() == size_t(b.B) * b.S && b.ctc_lengths.size() == size_t(b.B),
                      "training batch: {} CTC targets and {} lengths, expected B {} x S {} and B", b.ctc_targets.size(),
                      b.ctc_lengths.size(), b.B, b.S);
}

}  // namespace

namespace {
dropout_config stack_dropout(const dropout_config& d, uint64_t stack) { return {d.p, core::counter_hash(d.seed, stack)}; }

// CTC loss (and, when dlogits, its logits gradient) of NAR logits (B, T, V)
float ctc_of(const denovo_model& m, train_workspace& ws, const train_batch& b, const float* logits, float* dlogits,
             float dloss) {
    const int T = m.cfg.nar_length, V = m.nar_vocab;
    const size_t R = size_t(b.B) * T;
    ws.log_probs.resize(R * V);
    m.be->log_softmax(ws.log_probs.data(), logits, int(R), V);
    ws.input_lengths.assign(size_t(b.B), T);
    core::ctc_options o;
    o.blank = V - 1;
    o.reduction = core::ctc_reduction::mean;
    o.zero_infinity = true;
    o.grad = core::ctc_grad::logits;  // the log-softmax backward fused in
    return m.be->ctc_loss(dlogits, nullptr, ws.log_probs.data(), b.ctc_targets.data(),
                                           ws.input_lengths.data(), b.ctc_lengths.data(), b.B, T, V, b.S, o, dloss);
}

// CE targets of the AR rows: row j predicts token j, the last row (after the stop token) has none
void ar_targets(train_workspace& ws, const train_batch& b) {
    const int T = b.L + 1;
    ws.targets.assign(size_t(b.B) * T, 0);
    for (int i = 0; i < b.B; ++i)
        for (int j = 0; j < b.L; ++j) ws.targets[size_t(i) * T + j] = b.ar_tokens[size_t(i) * b.L + j];
}
}  // namespace

float casanovo_loss(trainable_model& t, train_workspace& ws, const train_batch& b, float label_smoothing,
                    bool backward, float dloss, const dropout_config& drop) {
    const denovo_model& m = t.model;
    check_batch(b, true, false);
    const int d = m.cfg.dim_model, Tk = b.N + 1, T = b.L + 1, V = m.ar_vocab;
    encoder_train_forward(t, ws.enc, b.peaks.data(), b.B, b.N, stack_dropout(drop, 0));
    ar_train_forward(t, ws.dec, ws.enc.out(), ws.enc.self_valid.data(), Tk, b.mass.data(), b.charge.data(),
                     b.ar_tokens.data(), b.B, b.L, stack_dropout(drop, 1));
    const size_t R = size_t(b.B) * T;
    ar_targets(ws, b);
    if (!backward)
        return m.be->cross_entropy(nullptr, ws.dec.logits, ws.targets.data(), int(R), V, 0,
                                                    label_smoothing, dloss);
    ws.dlogits.assign(R * V, 0.0f);
    const float loss = m.be->cross_entropy(ws.dlogits.data(), ws.dec.logits, ws.targets.data(), int(R),
                                                            V, 0, label_smoothing, dloss);
    ws.dmemory.assign(size_t(b.B) * Tk * d, 0.0f);
    ar_train_backward(t, ws.dec, ws.dlogits.data(), ws.dmemory.data());
    encoder_train_backward(t, ws.enc, ws.dmemory.data());
    return loss;
}

float primenovo_loss(trainable_model& t, train_workspace& ws, const train_batch& b, bool backward, float dloss,
                     const dropout_config& drop) {
    const denovo_model& m = t.model;
    check_batch(b, false, true);
    const int d = m.cfg.dim_model, Tk = b.N + 1, T = m.cfg.nar_length, V = m.nar_vocab;
    encoder_train_forward(t, ws.enc, b.peaks.data(), b.B, b.N, stack_dropout(drop, 0));
    nar_train_forward(t, ws.dec, ws.enc.out(), ws.enc.self_valid.data(), Tk, b.mass.data(), b.charge.data(), b.B,
                      stack_dropout(drop, 1));
    const size_t R = size_t(b.B) * T;
    if (backward) ws.dlogits.assign(R * V, 0.0f);
    const float loss = ctc_of(m, ws, b, ws.dec.logits, backward ? ws.dlogits.data() : nullptr, dloss);
    if (!backward) return loss;
    ws.dmemory.assign(size_t(b.B) * Tk * d, 0.0f);
    nar_train_backward(t, ws.dec, ws.dlogits.data(), nullptr, ws.dmemory.data());
    encoder_train_backward(t, ws.enc, ws.dmemory.data());
    return loss;
}

double casanovo_loss_items(const train_batch& b) {
    return double(std::count_if(b.ar_tokens.begin(), b.ar_tokens.end(), [](int32_t t) { return t != 0; }));
}

double primenovo_loss_items(const train_batch& b) { return double(b.B); }

crossnovo_losses crossnovo_loss(trainable_model& t, train_workspace& ws, const train_batch& b, int stage,
                                float lambda, float label_smoothing, bool backward, float dloss,
                                const dropout_config& drop, float dloss_nar) {
    if (dloss_nar < 0.0f) dloss_nar = dloss;
    const denovo_model& m = t.model;
    TRANOVA_CHECK(m.has_ar() && m.has_nar() && m.cross_w, "crossnovo_loss needs a crossnovo model (arch '{}')",
                  arch_name(m.cfg.arch));
    TRANOVA_CHECK(stage == 1 || stage == 2, "CrossNovo training stage {} (expected 1 or 2)", stage);
    TRANOVA_CHECK(lambda >= 0.0f && lambda <= 1.0f, "CrossNovo loss weight {} outside [0, 1]", lambda);
    check_batch(b, true, true);
    const int d = m.cfg.dim_model, Tk = b.N + 1, Tn = m.cfg.nar_length, V = m.ar_vocab, Vn = m.nar_vocab;
    const size_t R = size_t(b.B) * (b.L + 1), Rn = size_t(b.B) * Tn;
    crossnovo_losses out;
    encoder_train_forward(t, ws.enc, b.peaks.data(), b.B, b.N, stack_dropout(drop, 0));
    nar_train_forward(t, ws.nar, ws.enc.out(), ws.enc.self_valid.data(), Tk, b.mass.data(), b.charge.data(), b.B,
                      stack_dropout(drop, 2));
    const float* memory = ws.enc.out();
    const uint8_t* memory_valid = ws.enc.self_valid.data();
    int Tm = Tk;
    if (stage == 2) {  // [proj(NAR features) ⊕ memory] per spectrum, by the inference function
        Tm = Tn + Tk;
        ws.hybrid.resize(size_t(b.B) * Tm * d);
        ws.hybrid_valid.resize(size_t(b.B) * Tm);
        std::vector<float> hm;
        std::vector<unsigned char> hmask;
        std::unique_ptr<bool[]> mask(new bool[size_t(Tk)]);
        for (int i = 0; i < b.B; ++i) {
            for (int k = 0; k < Tk; ++k) mask[size_t(k)] = ws.enc.self_valid[size_t(i) * Tk + k] == 0;
            hybrid_memory(m, ws.nar.out() + size_t(i) * Tn * d, ws.enc.out() + size_t(i) * Tk * d, mask.get(), Tk, hm,
                          hmask);
            std::copy(hm.begin(), hm.end(), ws.hybrid.begin() + long(i) * Tm * d);
            for (int k = 0; k < Tm; ++k) ws.hybrid_valid[size_t(i) * Tm + k] = hmask[size_t(k)] ? 0 : 1;
        }
        memory = ws.hybrid.data();
        memory_valid = ws.hybrid_valid.data();
    }
    ar_train_forward(t, ws.dec, memory, memory_valid, Tm, b.mass.data(), b.charge.data(), b.ar_tokens.data(), b.B,
                     b.L, stack_dropout(drop, 1));
    ar_targets(ws, b);
    const float w_ar = stage == 1 ? lambda : 1.0f, w_nar = stage == 1 ? 1.0f - lambda : 0.0f;
    if (backward) {
        ws.dlogits.assign(R * V, 0.0f);
        ws.dlogits_nar.assign(Rn * Vn, 0.0f);
    }
    out.ar = m.be->cross_entropy(backward ? ws.dlogits.data() : nullptr, ws.dec.logits,
                                                  ws.targets.data(), int(R), V, 0, label_smoothing, dloss * w_ar);
    out.nar = ctc_of(m, ws, b, ws.nar.logits, backward && stage == 1 ? ws.dlogits_nar.data() : nullptr,
                     dloss_nar * w_nar);
    out.total = stage == 1 ? lambda * out.ar + (1.0f - lambda) * out.nar : out.ar;
    if (!backward) return out;
    if (stage == 1) {
        ws.dmemory.assign(size_t(b.B) * Tk * d, 0.0f);
        ar_train_backward(t, ws.dec, ws.dlogits.data(), ws.dmemory.data());
        nar_train_backward(t, ws.nar, ws.dlogits_nar.data(), nullptr, ws.dmemory.data());
        encoder_train_backward(t, ws.enc, ws.dmemory.data());
        return out;
    }
    // stage 2: the AR decoder, then the projection rows of the memory gradient; the NAR
    // features are a stop-gradient and the encoder is frozen, so nothing flows further
    ws.dhybrid.assign(size_t(b.B) * Tm * d, 0.0f);
    ar_train_backward(t, ws.dec, ws.dlogits.data(), ws.dhybrid.data());
    for (int i = 0; i < b.B; ++i)
        m.be->linear_backward(nullptr, t.grad(m.cross_w), t.grad(m.cross_b), ws.dhybrid.data() + size_t(i) * Tm * d,
                              ws.nar.out() + size_t(i) * Tn * d, m.cross_w, Tn, d, d);
    return out;
}

}  // namespace tranova::denovo_model
