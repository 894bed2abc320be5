#include "tranception/train.hpp"

#include "core/loss.hpp"
#include "core/ops.hpp"
#include "core/ops_backward.hpp"
#include "core/rng.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tranova::tranception {

namespace {

constexpr int pad_target = -100;  // ignore index of the loss (HF's label for padding)

// The depthwise convolution of head group g (1..3) of Q, K or V over the batch, as
// qkv_convolutions_forward (model.cpp) runs it with start 0.
core::conv1d_shape conv_layout(const model_config& c, int B, int T, int g) {
    const int d3 = 3 * c.n_embd, hd = c.head_dim(), G = c.n_head / 4;
    core::conv1d_shape cs;
    cs.B = B, cs.T = T, cs.start = 0, cs.C = G * hd, cs.WC = hd, cs.K = 2 * g + 1;
    cs.ld_in = cs.ld_out = d3, cs.bs_in = cs.bs_out = long(T) * d3;
    return cs;
}
size_t conv_offset(const model_config& c, int cc, int g) {  // column of group g in block cc
    return size_t(cc) * c.n_embd + size_t(g) * (c.n_head / 4) * c.head_dim();
}

struct layout {  // floats of each activation tensor
    size_t Rd, Rd3, Rni, RV, R, probs_layer;
};
layout sizes(const model_config& c, int B, int T) {
    const size_t R = size_t(B) * T;
    return {R * c.n_embd, R * 3 * c.n_embd, R * c.n_inner, R * c.vocab, R, size_t(B) * c.n_head * T * T};
}

void allocate(train_activations& a, const model_config& c, int B, int T) {
    const int L = c.n_layer;
    const bool rc = a.recompute_attention;
    if (a.B == B && a.T == T && a.L == L && a.probs_one_layer == rc && !a.memory.empty() &&
        a.memory.size() == train_activation_floats(c, B, T, rc))
        return;
    const layout z = sizes(c, B, T);
    a.memory.assign(train_activation_floats(c, B, T, rc), 0.0f);
    a.B = B, a.T = T, a.L = L, a.probs_one_layer = rc;
    float* p = a.memory.data();
    auto take = [&](size_t n) {
        float* r = p;
        p += n;
        return r;
    };
    a.h = take((L + 1) * z.Rd);
    a.h_mid = take(L * z.Rd);
    a.ln1 = take(L * z.Rd);
    a.ln1_mean = take(L * z.R);
    a.ln1_rstd = take(L * z.R);
    a.qkv = take(L * z.Rd3);
    a.qkv_c = take(L * z.Rd3);
    a.probs = take((rc ? 1 : L) * z.probs_layer);
    a.att = take(L * z.Rd);
    a.ln2 = take(L * z.Rd);
    a.ln2_mean = take(L * z.R);
    a.ln2_rstd = take(L * z.R);
    a.fc_pre = take(L * z.Rni);
    a.fc_act = take(L * z.Rni);
    a.lnf = take(z.Rd);
    a.lnf_mean = take(z.R);
    a.lnf_rstd = take(z.R);
    a.logits = take(z.RV);
    a.dlogits = take(z.RV);
    a.dres = take(z.Rd);
    a.dln = take(z.Rd);
    a.datt = take(z.Rd);
    a.dqkv_c = take(z.Rd3);
    a.dqkv = take(z.Rd3);
    a.dfc_act = take(z.Rni);
    a.dfc_pre = take(z.Rni);
    a.att_tmp = rc ? take(z.Rd) : nullptr;
    TRANOVA_CHECK(p == a.memory.data() + a.memory.size(), "train_activations: layout does not add up");
    a.ids.assign(z.R, 0);
    a.targets.assign(z.R, pad_target);
    a.zero_ids.assign(z.R, 0);
    a.key_valid.assign(z.R, 0);
}

}  // namespace

size_t train_activation_floats(const model_config& c, int B, int T, bool recompute_attention) {
    const layout z = sizes(c, B, T);
    const size_t L = c.n_layer;
    return (L + 1) * z.Rd + L * (z.Rd * 4 + z.R * 4 + z.Rd3 * 2 + z.Rni * 2) +
           (recompute_attention ? 1 : L) * z.probs_layer + z.Rd + 2 * z.R + z.RV +  // saved
           z.RV + 3 * z.Rd + 2 * z.Rd3 + 2 * z.Rni + (recompute_attention ? z.Rd : 0);  // gradients
}

size_t trainable_block_floats(const model_config& cfg) {
    core::param_arena a;  // declared only: the layout, no allocation
    declare_params(a, cfg);
    return a.block_floats();
}

trainable_model trainable_create(const model_config& cfg, std::map<std::string, core::config_value> config) {
    trainable_model m;
    m.cfg = cfg;
    m.config = std::move(config);
    m.slopes = grouped_alibi_slopes(cfg.n_head);
    declare_params(m.arena, cfg);
    m.arena.allocate();
    m.slots = resolve_param_slots(m.arena, cfg);
    use_backend(m, core::cpu_backend());
    return m;
}

trainable_model trainable_from_weights(const core::weights& w, const std::string& src) {
    const model_config cfg = model_config_from_weights(w, src);
    trainable_model m = trainable_create(cfg, w.config);
    m.slopes = model_slopes_from_weights(w, cfg, src);
    for (const auto& e : w.entries())
        TRANOVA_CHECK(e.name == "alibi_slopes" || m.arena.has(e.name),
                      "{}: unexpected tensor '{}' (not a parameter of Tranception)", src, e.name);
    for (const auto& t : m.arena.tensors())
        TRANOVA_CHECK(w.has(t.name), "{}: tensor '{}' is missing", src, t.name);
    params_from_weights(m.arena, w);  // throws naming the tensor on a shape mismatch
    return m;
}

core::weights trainable_to_weights(const trainable_model& m) {
    core::weights w = m.arena.to_weights("tranception", m.config);
    w.add("alibi_slopes", {m.cfg.n_head}, m.slopes.data());
    return w;
}

void trainable_init(trainable_model& m, uint64_t seed) {
    core::rng r(seed, 0x7472616eULL);  // stream "tran"
    auto normal = [&](float std) {  // Box-Muller, one value per call (deterministic)
        double u1 = r.uniform_double(), u2 = r.uniform_double();
        if (u1 < 1e-300) u1 = 1e-300;
        return float(std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
    };
    const float proj_std = 0.02f / std::sqrt(2.0f * m.cfg.n_layer);
    for (const auto& t : m.arena.tensors()) {
        float* p = m.arena.params() + t.offset;
        const std::string& n = t.name;
        auto ends = [&](const char* s) { return n.size() >= std::strlen(s) && n.compare(n.size() - std::strlen(s), std::string::npos, s) == 0; };
        if (n.find("attn_conv_") != std::string::npos) {
            const int k = int(n.find("weight") != std::string::npos ? t.shape[1]
                                                                     : std::stoi(n.substr(n.rfind("_k") + 2)));
            const double bound = 1.0 / std::sqrt(double(k));
            for (size_t i = 0; i < t.numel; ++i) p[i] = float((2.0 * r.uniform_double() - 1.0) * bound);
        } else if (n.find("ln_") != std::string::npos) {
            std::fill(p, p + t.numel, ends("weight") ? 1.0f : 0.0f);
        } else if (ends("bias")) {
            std::fill(p, p + t.numel, 0.0f);
        } else {
            const float std = (ends("attn_out.weight") || ends("mlp_proj.weight")) ? proj_std : 0.02f;
            for (size_t i = 0; i < t.numel; ++i) p[i] = normal(std);
        }
    }
}

const std::initializer_list<core::op_kind> training_ops = {
    // forward (forward.cpp's training path)
    core::op_kind::embedding, core::op_kind::add, core::op_kind::layernorm_train, core::op_kind::linear,
    core::op_kind::activation, core::op_kind::conv1d, core::op_kind::attention, core::op_kind::dropout,
    core::op_kind::cross_entropy,
    // backward
    core::op_kind::embedding_backward, core::op_kind::layernorm_backward, core::op_kind::linear_backward,
    core::op_kind::activation_backward, core::op_kind::conv1d_backward, core::op_kind::attention_backward,
    core::op_kind::dropout_backward,
};

void use_backend(trainable_model& m, core::backend& be) {
    be.require("Tranception training", training_ops);
    m.be = &be;
}

// ---------------------------------------------------------------------------------------
// Forward: the network's forward (forward.cpp, the code inference runs) on the arena's
// tensors, keeping its activations, then the loss.

train_result train_forward(const trainable_model& m, const train_batch& batch, train_activations& a) {
    const auto& c = m.cfg;
    const int B = batch.B, T = batch.T, V = c.vocab;
    TRANOVA_CHECK(B >= 1 && T >= 1, "training batch of {} x {} tokens is empty", B, T);
    TRANOVA_CHECK(T <= c.n_ctx, "training batch rows of {} tokens exceed the model context of {}", T, c.n_ctx);
    for (int b = 0; b < B; ++b)
        TRANOVA_CHECK(batch.lengths[b] >= 1 && batch.lengths[b] <= T,
                      "training batch item {}: length {} outside [1, {}]", b, batch.lengths[b], T);
    for (size_t i = 0; i < size_t(B) * T; ++i)
        TRANOVA_CHECK(batch.ids[i] >= 0 && batch.ids[i] < V, "training batch item {}, position {}: token id {} "
                      "outside [0, {})", i / T, i % T, batch.ids[i], V);
    allocate(a, c, B, T);
    const int R = B * T;
    int tokens = 0;
    for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t) {
            const size_t r = size_t(b) * T + t;
            a.ids[r] = batch.ids[r];
            a.key_valid[r] = t < batch.lengths[b];
            a.targets[r] = t + 1 < batch.lengths[b] ? batch.ids[r + 1] : pad_target;
            tokens += a.targets[r] != pad_target;
        }
    a.dropout_used = a.dropout;
    std::vector<batch_item> items(B);
    for (int b = 0; b < B; ++b) items[b] = {a.ids.data() + size_t(b) * T, T, 0, a.key_valid.data() + size_t(b) * T};

    network_params net;
    net.cfg = &c, net.P = m.arena.params(), net.slots = &m.slots, net.slopes = m.slopes.data();
    net.token_type_quirk = m.token_type_quirk;
    network_forward(*m.be, net, items, a.ws, nullptr, nullptr, &a);
    train_result res;
    res.tokens = tokens;
    res.loss = m.be->cross_entropy(nullptr, a.logits, a.targets.data(), R, V, pad_target, 0.0f, 1.0f);
    return res;
}

// ---------------------------------------------------------------------------------------
// Backward: the forward in reverse. The residual stream's gradient lives in dres: each
// branch reads it as its output gradient and its input layernorm adds into it, which is
// the gradient of the residual add.

namespace {

void zero(float* p, size_t n) { std::fill(p, p + n, 0.0f); }

// The output gradient of residual branch / dropout site k: dres, or with dropout dres
// through the site's mask (in ddrop).
const float* dropped_gradient(core::backend& be, train_activations& a, int k, size_t Rd) {
    if (!(a.dropout_used > 0)) return a.dres;
    a.ddrop.resize(Rd);
    zero(a.ddrop.data(), Rd);
    be.dropout_backward(a.ddrop.data(), a.dres, Rd, a.dropout_used, core::counter_hash(a.dropout_seed, uint64_t(k)), 0);
    return a.ddrop.data();
}

// The six activation-gradient buffers of a layer (~50 MB at the Small shape), zeroed in
// one parallel pass rather than by one thread while the other waits.
void zero_layer_grads(train_activations& a, size_t Rni, size_t Rd, size_t Rd3) {
    float* const bufs[6] = {a.dfc_act, a.dfc_pre, a.dln, a.datt, a.dqkv_c, a.dqkv};
    const size_t lens[6] = {Rni, Rni, Rd, Rd, Rd3, Rd3};
    constexpr size_t piece = size_t(1) << 16;
    size_t first[7] = {0};
    for (int i = 0; i < 6; ++i) first[i + 1] = first[i] + (lens[i] + piece - 1) / piece;
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < first[6]; ++t) {
        int i = 0;
        while (t >= first[i + 1]) ++i;
        const size_t k = t - first[i];
        std::fill(bufs[i] + k * piece, bufs[i] + std::min(lens[i], (k + 1) * piece), 0.0f);
    }
}

// Layer l in reverse. On entry dres is d h_out; on exit d h_in.
void layer_backward(core::backend& be, trainable_model& m, train_activations& a, int l,
                    const core::attention_shape& as) {
    const auto& c = m.cfg;
    const int B = a.B, T = a.T, R = B * T, d = c.n_embd, d3 = 3 * d, ni = c.n_inner;
    const size_t Rd = size_t(R) * d, Rd3 = size_t(R) * d3, Rni = size_t(R) * ni;
    const float* P = m.arena.params();
    float* Gp = m.arena.grads();
    const auto& s = m.slots.layers[l];
    const float* qkv = a.qkv + l * Rd3;
    const float* qkv_c = a.qkv_c + l * Rd3;
    float* probs = a.probs + (a.probs_one_layer ? 0 : l * size_t(B) * c.n_head * T * T);
    zero_layer_grads(a, Rni, Rd, Rd3);

    // MLP branch: after ln_2's backward dres is d h_mid.
    be.linear_backward(a.dfc_act, Gp + s.fc2_w, Gp + s.fc2_b, dropped_gradient(be, a, 2 + 2 * l, Rd),
                       a.fc_act + l * Rni, P + s.fc2_w, R, ni, d);
    be.activation_backward(core::activation_kind::squared_relu, a.dfc_pre, a.dfc_act, a.fc_pre + l * Rni, Rni);
    be.linear_backward(a.dln, Gp + s.fc_w, Gp + s.fc_b, a.dfc_pre, a.ln2 + l * Rd, P + s.fc_w, R, d, ni);
    be.layernorm_backward(a.dres, Gp + s.ln2_w, Gp + s.ln2_b, a.dln, a.h_mid + l * Rd, P + s.ln2_w,
                          a.ln2_mean + size_t(l) * R, a.ln2_rstd + size_t(l) * R, R, d);

    // Attention branch: after ln_1's backward dres is d h_in.
    if (a.probs_one_layer)  // the same op on the same inputs: the forward's bits
        be.attention(a.att_tmp, probs, qkv_c, qkv_c + d, qkv_c + 2 * d, as, a.scratch.data());
    be.linear_backward(a.datt, Gp + s.proj_w, Gp + s.proj_b, dropped_gradient(be, a, 1 + 2 * l, Rd), a.att + l * Rd,
                       P + s.proj_w, R, d, d);
    be.attention_backward(a.dqkv_c, a.dqkv_c + d, a.dqkv_c + 2 * d, a.datt, qkv_c, qkv_c + d, qkv_c + 2 * d, probs,
                          as, a.scratch.data());
    const int G0 = (c.n_head / 4) * c.head_dim();  // group 0: copied in the forward
    for (int r = 0; r < R; ++r)
        for (int cc = 0; cc < 3; ++cc) {
            const size_t o = size_t(r) * d3 + size_t(cc) * d;
            be.add(a.dqkv + o, a.dqkv + o, a.dqkv_c + o, G0);
        }
    // The nine convolution backwards as tasks of one parallel region, largest kernels
    // first (each runs serially inside it, with the bits of a standalone call: its
    // reductions are per call and in a fixed order); one barrier instead of eighteen.
#pragma omp parallel for schedule(dynamic, 1)
    for (int task = 0; task < 9; ++task) {
        const int g = 3 - task / 3, cc = task % 3;
        const size_t off = conv_offset(c, cc, g);
        be.conv1d_causal_depthwise_backward(a.dqkv + off, Gp + s.conv_w[cc][g - 1], Gp + s.conv_b[cc][g - 1],
                                            a.dqkv_c + off, qkv + off, P + s.conv_w[cc][g - 1],
                                            conv_layout(c, B, T, g));
    }
    zero(a.dln, Rd);
    be.linear_backward(a.dln, Gp + s.qkv_w, Gp + s.qkv_b, a.dqkv, a.ln1 + l * Rd, P + s.qkv_w, R, d, d3);
    be.layernorm_backward(a.dres, Gp + s.ln1_w, Gp + s.ln1_b, a.dln, a.h + l * Rd, P + s.ln1_w,
                          a.ln1_mean + size_t(l) * R, a.ln1_rstd + size_t(l) * R, R, d);
}

}  // namespace

void train_backward(trainable_model& m, train_activations& a, float dloss) {
    const auto& c = m.cfg;
    const int B = a.B, T = a.T, L = c.n_layer, d = c.n_embd, V = c.vocab;
    TRANOVA_CHECK(B > 0 && a.L == L, "train_backward without a train_forward of this model");
    const int R = B * T;
    const size_t Rd = size_t(R) * d;
    const float* P = m.arena.params();
    float* Gp = m.arena.grads();
    core::backend& be = *m.be;

    // loss, tied head, ln_f
    zero(a.dlogits, size_t(R) * V);
    zero(a.dres, Rd);
    be.cross_entropy(a.dlogits, a.logits, a.targets.data(), R, V, pad_target, 0.0f, dloss);
    zero(a.dln, Rd);
    be.linear_backward(a.dln, Gp + m.slots.wte, nullptr, a.dlogits, a.lnf, P + m.slots.wte, R, d, V);
    be.layernorm_backward(a.dres, Gp + m.slots.lnf_w, Gp + m.slots.lnf_b, a.dln, a.h + L * Rd, P + m.slots.lnf_w,
                          a.lnf_mean, a.lnf_rstd, R, d);

    const core::attention_shape as = layer_attention_shape(c, m.slopes.data(), B, T, T, 0, a.key_valid.data());
    a.scratch.resize(std::max(core::attention_scratch_floats(as), core::attention_backward_scratch_floats(as)));
    for (int l = L - 1; l >= 0; --l) layer_backward(be, m, a, l, as);

    // Embedding: wte[id] at every row, and wte[0] at every row (the token-type quirk).
    const float* demb = dropped_gradient(be, a, 0, Rd);
    be.embedding_backward(Gp + m.slots.wte, demb, a.ids.data(), R, d, V);
    if (m.token_type_quirk) be.embedding_backward(Gp + m.slots.wte, demb, a.zero_ids.data(), R, d, V);
}

}  // namespace tranova::tranception
