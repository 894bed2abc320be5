// Training forwards/backwards of the de novo networks (see train.hpp). Each forward below is
// the batched twin of the inference forward in model.cpp (same core ops, same weights
// through the same bound denovo_model, same arithmetic order per row); the backward is the
// forward in reverse, one core backward call per op.
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
// activation layout

namespace {

// Carves named buffers out of one allocation (16-float aligned slots).
struct carver {
    std::vector<std::pair<float**, size_t>> reqs;
    void operator()(float*& p, size_t n) { reqs.emplace_back(&p, n); }
    static size_t round(size_t n) { return (n + 15) & ~size_t(15); }
    void finish(std::vector<float>& buf) {
        size_t total = 0;
        for (auto& r : reqs) total += round(r.second);
        buf.resize(total);
        size_t off = 0;
        for (auto& r : reqs) {
            *r.first = buf.data() + off;
            off += round(r.second);
        }
    }
};

void layout(stack_acts& a, size_t n_layers, bool decoder, int B, int T, int Tk, int d, int ff, int H, int V) {
    a.B = B, a.T = T, a.Tk = Tk;
    const bool drop = a.drop.p > 0.0f;
    const size_t R = size_t(B) * T, Rk = size_t(B) * Tk;
    a.layers.assign(n_layers, layer_acts{});
    carver c;
    c(a.x0, R * d);
    for (layer_acts& l : a.layers) {
        c(l.qkv, R * 3 * d), c(l.sa_probs, size_t(B) * H * T * T), c(l.sa_ctx, R * d);
        if (drop) c(l.sa_pdrop, size_t(B) * H * T * T);
        c(l.sum1, R * d), c(l.mean1, R), c(l.rstd1, R), c(l.x1, R * d);
        if (decoder) c(l.cq, R * d), c(l.ckv, Rk * 2 * d), c(l.ca_probs, size_t(B) * H * T * Tk), c(l.ca_ctx, R * d);
        if (decoder && drop) c(l.ca_pdrop, size_t(B) * H * T * Tk);
        c(l.sum2, R * d), c(l.mean2, R), c(l.rstd2, R), c(l.x2, R * d);
        c(l.h, R * ff), c(l.a, R * ff);
        if (decoder) c(l.sum3, R * d), c(l.mean3, R), c(l.rstd3, R), c(l.x3, R * d);
    }
    if (decoder) c(a.logits, R * V);
    c(a.g, R * d), c(a.g2, R * d), c(a.ds, R * d), c(a.dy, R * d), c(a.dctx, R * d), c(a.dqkv, R * 3 * d);
    c(a.dff, R * ff), c(a.dff2, R * ff);
    if (decoder) c(a.dkv, Rk * 2 * d);
    c.finish(a.buf);
}

void zero(float* p, size_t n) { std::fill(p, p + n, 0.0f); }

// One layer's weights: encoder layers have no cross-attention and two norms (after the
// self-attention and after the FFN); decoder layers three.
struct layer_w {
    const mha_weights* sa = nullptr;
    const mha_weights* ca = nullptr;
    const float *l1_w, *l1_b, *l2_w, *l2_b;
    const float *n_w[3], *n_b[3];
};
layer_w weights_of(const enc_layer& l) {
    return {&l.sa, nullptr, l.l1_w, l.l1_b, l.l2_w, l.l2_b, {l.n1_w, l.n2_w, nullptr}, {l.n1_b, l.n2_b, nullptr}};
}
layer_w weights_of(const dec_layer& l) {
    return {&l.sa, &l.ca, l.l1_w, l.l1_b, l.l2_w, l.l2_b, {l.n1_w, l.n2_w, l.n3_w}, {l.n1_b, l.n2_b, l.n3_b}};
}

// q, k, v are column slices of the fused (B*T, 3d) projection
core::attention_shape self_shape(const stack_acts& a, int H, int d, bool causal, const uint8_t* valid) {
    core::attention_shape s = core::attention_shape_contiguous(a.B, a.T, a.T, H, d / H);
    s.ld_q = s.ld_k = s.ld_v = 3L * d;
    s.bs_q = s.bs_k = s.bs_v = 3L * d * a.T;
    s.causal = causal;
    s.key_valid = valid;
    return s;
}
// q (B*T, d); k, v column slices of the (B*Tk, 2d) memory projection
core::attention_shape cross_shape(const stack_acts& a, int H, int d) {
    core::attention_shape s = core::attention_shape_contiguous(a.B, a.T, a.Tk, H, d / H);
    s.ld_k = s.ld_v = 2L * d;
    s.bs_k = s.bs_v = 2L * d * a.Tk;
    s.key_valid = a.memory_valid;
    return s;
}

struct dims {
    int d, ff, H;
};

// Dropout sites of a layer (seed = counter_hash(stack seed, 8 * layer + site)).
enum site : int { sa_weights = 0, sa_out = 1, ca_weights = 2, ca_out = 3, ffn_inner = 4, ffn_out = 5 };
uint64_t site_seed(const stack_acts& a, int layer, site k) {
    return core::counter_hash(a.drop.seed, uint64_t(8 * layer + int(k)));
}

// Attention with dropout on its weights, as torch's MultiheadAttention: after
// attention_forward wrote P (probs), pdrop = dropout(P) and out = pdrop V per (batch, head).
void attention_dropout_forward(float* out, float* pdrop, const float* probs, const float* v,
                               const core::attention_shape& s, float p, uint64_t seed) {
    const size_t blk = size_t(s.T) * s.TK;
    core::dropout_forward(pdrop, probs, blk * s.B * s.NH, p, seed, 0);
    for (int b = 0; b < s.B; ++b)
        for (int h = 0; h < s.NH; ++h)
            core::gemm(out + b * s.bs_o + long(h) * s.HD, pdrop + (size_t(b) * s.NH + h) * blk,
                       v + b * s.bs_v + long(h) * s.HD, s.T, s.HD, s.TK, false, false, 1.0f, 0.0f, s.TK, int(s.ld_v),
                       int(s.ld_o));
}
// Its backward (core::attention_backward with the dropped weights in the value product):
//   dV += pdrop^T dO,  dP = dropout'(dO V^T),  dS = P (dP - rowsum(dP P)),
//   dQ += scale dS K,  dK += scale dS^T Q.
void attention_dropout_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                                const float* v, const float* probs, const float* pdrop, const core::attention_shape& s,
                                float p, uint64_t seed, std::vector<float>& tmp) {
    const size_t blk = size_t(s.T) * s.TK;
    tmp.resize(3 * blk);
    float *dpd = tmp.data(), *dp = dpd + blk, *dsc = dp + blk;
    const float scale = s.scale != 0.0f ? s.scale : 1.0f / std::sqrt(float(s.HD));
    for (int b = 0; b < s.B; ++b)
        for (int h = 0; h < s.NH; ++h) {
            const size_t off = (size_t(b) * s.NH + h) * blk;
            const long hq = b * s.bs_q + long(h) * s.HD, hk = b * s.bs_k + long(h) * s.HD,
                       hv = b * s.bs_v + long(h) * s.HD, ho = b * s.bs_o + long(h) * s.HD;
            core::gemm(dpd, dout + ho, v + hv, s.T, s.TK, s.HD, false, true, 1.0f, 0.0f, int(s.ld_o), int(s.ld_v), s.TK);
            core::gemm(dv + hv, pdrop + off, dout + ho, s.TK, s.HD, s.T, true, false, 1.0f, 1.0f, s.TK, int(s.ld_o),
                       int(s.ld_v));
            zero(dp, blk);
            core::dropout_backward(dp, dpd, blk, p, seed, off);
            zero(dsc, blk);
            core::softmax_backward(dsc, dp, probs + off, s.T, s.TK);  // masked keys: P = 0, so dS = 0
            core::gemm(dq + hq, dsc, k + hk, s.T, s.HD, s.TK, false, false, scale, 1.0f, s.TK, int(s.ld_k), int(s.ld_q));
            core::gemm(dk + hk, dsc, q + hq, s.TK, s.HD, s.T, true, false, scale, 1.0f, s.TK, int(s.ld_q), int(s.ld_k));
        }
}

// sum = x + y; out = LN(sum), saving mean/rstd
void add_ln_forward(float* sum, float* mean, float* rstd, float* out, const float* x, const float* y, const float* w,
                    const float* b, size_t R, int d) {
    core::add_forward(sum, x, y, R * d);
    core::layernorm_forward_train(out, mean, rstd, sum, w, b, int(R), d, 1e-5f);  // torch eps
}

void layer_forward(stack_acts& a, int li, layer_acts& l, const layer_w& w, const float* x, bool causal,
                   const uint8_t* self_valid, dims k) {
    const int d = k.d, ff = k.ff;
    const size_t R = size_t(a.B) * a.T;
    const float p = a.drop.p;
    const bool drop = p > 0.0f;
    float* y = a.ds;  // branch output (gradient scratch is free during the forward)
    // self-attention
    core::linear_forward(l.qkv, x, w.sa->in_w, w.sa->in_b, int(R), d, 3 * d);
    core::attention_shape s = self_shape(a, k.H, d, causal, self_valid);
    a.att_scratch.resize(core::attention_scratch_floats(s));
    core::attention_forward(l.sa_ctx, l.sa_probs, l.qkv, l.qkv + d, l.qkv + 2 * d, s, a.att_scratch.data());
    if (drop) attention_dropout_forward(l.sa_ctx, l.sa_pdrop, l.sa_probs, l.qkv + 2 * d, s, p, site_seed(a, li, sa_weights));
    core::linear_forward(y, l.sa_ctx, w.sa->out_w, w.sa->out_b, int(R), d, d);
    if (drop) core::dropout_forward(y, y, R * d, p, site_seed(a, li, sa_out), 0);
    add_ln_forward(l.sum1, l.mean1, l.rstd1, l.x1, x, y, w.n_w[0], w.n_b[0], R, d);
    const float* cur = l.x1;
    if (w.ca) {  // cross-attention to the memory
        core::linear_forward(l.cq, cur, w.ca->in_w, w.ca->in_b, int(R), d, d);
        core::linear_forward(l.ckv, a.memory, w.ca->in_w + long(d) * d, w.ca->in_b + d, a.B * a.Tk, d, 2 * d);
        core::attention_shape c = cross_shape(a, k.H, d);
        a.att_scratch.resize(core::attention_scratch_floats(c));
        core::attention_forward(l.ca_ctx, l.ca_probs, l.cq, l.ckv, l.ckv + d, c, a.att_scratch.data());
        if (drop) attention_dropout_forward(l.ca_ctx, l.ca_pdrop, l.ca_probs, l.ckv + d, c, p, site_seed(a, li, ca_weights));
        core::linear_forward(y, l.ca_ctx, w.ca->out_w, w.ca->out_b, int(R), d, d);
        if (drop) core::dropout_forward(y, y, R * d, p, site_seed(a, li, ca_out), 0);
        add_ln_forward(l.sum2, l.mean2, l.rstd2, l.x2, cur, y, w.n_w[1], w.n_b[1], R, d);
        cur = l.x2;
    }
    // FFN
    core::linear_forward(l.h, cur, w.l1_w, w.l1_b, int(R), d, ff);
    core::relu_forward(l.a, l.h, R * ff);
    if (drop) core::dropout_forward(l.a, l.a, R * ff, p, site_seed(a, li, ffn_inner), 0);
    core::linear_forward(y, l.a, w.l2_w, w.l2_b, int(R), ff, d);
    if (drop) core::dropout_forward(y, y, R * d, p, site_seed(a, li, ffn_out), 0);
    if (w.ca) add_ln_forward(l.sum3, l.mean3, l.rstd3, l.x3, cur, y, w.n_w[2], w.n_b[2], R, d);
    else add_ln_forward(l.sum2, l.mean2, l.rstd2, l.x2, cur, y, w.n_w[1], w.n_b[1], R, d);
}

// ds = d sum from the gradient g of LN(sum); parameter gradients accumulate
void ln_backward(trainable_model& t, float* ds, const float* g, const float* sum, const float* w, const float* b,
                 const float* mean, const float* rstd, size_t R, int d) {
    zero(ds, R * d);
    core::layernorm_backward(ds, t.grad(w), t.grad(b), g, sum, w, mean, rstd, int(R), d);
}

// The gradient of a residual branch's output from the gradient ds of the sum: through the
// branch's dropout when on.
const float* branch_grad(stack_acts& a, size_t n, uint64_t seed) {
    if (a.drop.p <= 0.0f) return a.ds;
    zero(a.dy, n);
    core::dropout_backward(a.dy, a.ds, n, a.drop.p, seed, 0);
    return a.dy;
}

// On entry a.g = gradient of the layer's output; on exit a.g = gradient of its input x.
// dmemory (decoders) accumulates the memory's gradient (nullptr: not needed).
void layer_backward(trainable_model& t, stack_acts& a, int li, const layer_acts& l, const layer_w& w, const float* x,
                    bool causal, const uint8_t* self_valid, float* dmemory, dims k) {
    const int d = k.d, ff = k.ff;
    const size_t R = size_t(a.B) * a.T, Rk = size_t(a.B) * a.Tk;
    const float p = a.drop.p;
    const bool drop = p > 0.0f;
    const int last = w.ca ? 2 : 1;
    const float* cur = w.ca ? l.x2 : l.x1;  // FFN input
    // out = LN(cur + FFN(cur))
    ln_backward(t, a.ds, a.g, w.ca ? l.sum3 : l.sum2, w.n_w[last], w.n_b[last], w.ca ? l.mean3 : l.mean2,
                w.ca ? l.rstd3 : l.rstd2, R, d);
    float* d_cur = a.g2;
    std::copy(a.ds, a.ds + R * d, d_cur);  // residual path
    const float* dy = branch_grad(a, R * d, site_seed(a, li, ffn_out));
    zero(a.dff, R * ff);
    core::linear_backward(a.dff, t.grad(w.l2_w), t.grad(w.l2_b), dy, l.a, w.l2_w, int(R), ff, d);
    float* dh = a.dff2;
    if (drop) {  // through the FFN's inner dropout, then the ReLU
        zero(a.dff2, R * ff);
        core::dropout_backward(a.dff2, a.dff, R * ff, p, site_seed(a, li, ffn_inner), 0);
        dh = a.dff;
        zero(dh, R * ff);
        core::relu_backward(dh, a.dff2, l.h, R * ff);
    } else {
        zero(dh, R * ff);
        core::relu_backward(dh, a.dff, l.h, R * ff);
    }
    core::linear_backward(d_cur, t.grad(w.l1_w), t.grad(w.l1_b), dh, cur, w.l1_w, int(R), d, ff);
    float* d_x1 = d_cur;
    if (w.ca) {
        // x2 = LN2(x1 + CA(x1, memory))
        ln_backward(t, a.ds, d_cur, l.sum2, w.n_w[1], w.n_b[1], l.mean2, l.rstd2, R, d);
        d_x1 = a.g;
        std::copy(a.ds, a.ds + R * d, d_x1);
        dy = branch_grad(a, R * d, site_seed(a, li, ca_out));
        zero(a.dctx, R * d);
        core::linear_backward(a.dctx, t.grad(w.ca->out_w), t.grad(w.ca->out_b), dy, l.ca_ctx, w.ca->out_w, int(R), d, d);
        float* dq = a.dqkv;  // (R, d)
        zero(dq, R * d);
        zero(a.dkv, Rk * 2 * d);
        core::attention_shape c = cross_shape(a, k.H, d);
        if (drop) {
            attention_dropout_backward(dq, a.dkv, a.dkv + d, a.dctx, l.cq, l.ckv, l.ckv + d, l.ca_probs, l.ca_pdrop, c, p,
                                       site_seed(a, li, ca_weights), a.att_scratch);
        } else {
            a.att_scratch.resize(core::attention_backward_scratch_floats(c));
            core::attention_backward(dq, a.dkv, a.dkv + d, a.dctx, l.cq, l.ckv, l.ckv + d, l.ca_probs, c,
                                     a.att_scratch.data());
        }
        core::linear_backward(d_x1, t.grad(w.ca->in_w), t.grad(w.ca->in_b), dq, l.x1, w.ca->in_w, int(R), d, d);
        core::linear_backward(dmemory, t.grad(w.ca->in_w) + long(d) * d, t.grad(w.ca->in_b) + d, a.dkv, a.memory,
                              w.ca->in_w + long(d) * d, int(Rk), d, 2 * d);
    }
    // x1 = LN1(x + SA(x))
    ln_backward(t, a.ds, d_x1, l.sum1, w.n_w[0], w.n_b[0], l.mean1, l.rstd1, R, d);
    float* d_x = d_x1 == a.g ? a.g2 : a.g;
    std::copy(a.ds, a.ds + R * d, d_x);
    dy = branch_grad(a, R * d, site_seed(a, li, sa_out));
    zero(a.dctx, R * d);
    core::linear_backward(a.dctx, t.grad(w.sa->out_w), t.grad(w.sa->out_b), dy, l.sa_ctx, w.sa->out_w, int(R), d, d);
    zero(a.dqkv, R * 3 * d);
    core::attention_shape s = self_shape(a, k.H, d, causal, self_valid);
    if (drop) {
        attention_dropout_backward(a.dqkv, a.dqkv + d, a.dqkv + 2 * d, a.dctx, l.qkv, l.qkv + d, l.qkv + 2 * d,
                                   l.sa_probs, l.sa_pdrop, s, p, site_seed(a, li, sa_weights), a.att_scratch);
    } else {
        a.att_scratch.resize(core::attention_backward_scratch_floats(s));
        core::attention_backward(a.dqkv, a.dqkv + d, a.dqkv + 2 * d, a.dctx, l.qkv, l.qkv + d, l.qkv + 2 * d,
                                 l.sa_probs, s, a.att_scratch.data());
    }
    core::linear_backward(d_x, t.grad(w.sa->in_w), t.grad(w.sa->in_b), a.dqkv, x, w.sa->in_w, int(R), d, 3 * d);
    if (d_x != a.g) std::swap(a.g, a.g2);
}

template <typename Layer>
void stack_forward(stack_acts& a, const std::vector<Layer>& layers, bool causal, const uint8_t* self_valid, dims k) {
    const float* x = a.x0;
    for (size_t i = 0; i < layers.size(); ++i) {
        layer_forward(a, int(i), a.layers[i], weights_of(layers[i]), x, causal, self_valid, k);
        x = a.layers[i].out();
    }
}

// a.g = gradient of the stack's output -> gradient of x0
template <typename Layer>
void stack_backward(trainable_model& t, stack_acts& a, const std::vector<Layer>& layers, bool causal,
                    const uint8_t* self_valid, float* dmemory, dims k) {
    for (size_t i = layers.size(); i-- > 0;) {
        const float* x = i == 0 ? a.x0 : a.layers[i - 1].out();
        layer_backward(t, a, int(i), a.layers[i], weights_of(layers[i]), x, causal, self_valid, dmemory, k);
    }
}

dims dims_of(const denovo_model& m) { return {m.cfg.dim_model, m.cfg.dim_feedforward, m.cfg.n_head}; }

// x (T, d) += sinusoidal positions 0..T-1 (as model.cpp's add_positions)
void add_positions(float* rows, const float* enc, int T, int d) { core::add_forward(rows, rows, enc, size_t(T) * d); }
std::vector<float> position_table(const float_encoder& e, int T, int d) {
    std::vector<float> pos(static_cast<size_t>(T)), enc(size_t(T) * d);
    for (int i = 0; i < T; ++i) pos[size_t(i)] = float(i);
    core::sinusoidal_forward(enc.data(), pos.data(), T, e.sin_term, e.n_sin, e.cos_term, e.n_cos);
    return enc;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// encoder

void encoder_train_forward(const trainable_model& t, stack_acts& a, const float* peaks, int B, int N,
                           const dropout_config& drop) {
    const denovo_model& m = t.model;
    const dims k = dims_of(m);
    const int d = k.d, T = N + 1;
    TRANOVA_CHECK(B > 0 && N > 0, "encoder training batch needs spectra with peaks (B {}, N {})", B, N);
    a.drop = drop;
    layout(a, m.enc_layers.size(), false, B, T, 0, d, k.ff, k.H, 0);
    a.self_valid.assign(size_t(B) * T, 1);
    a.saved.resize(size_t(B) * N);
    for (int b = 0; b < B; ++b) {
        float* rows = a.x0 + size_t(b) * T * d;
        const float* p = peaks + size_t(b) * N * 2;
        std::copy(m.latent, m.latent + d, rows);
        peak_encoder_forward(m, p, N, rows + d);
        for (int i = 0; i < N; ++i) {
            a.self_valid[size_t(b) * T + 1 + i] = (p[2 * i] + p[2 * i + 1]) == 0.0f ? 0 : 1;
            a.saved[size_t(b) * N + i] = p[2 * i + 1];  // intensity, for int_encoder's gradient
        }
    }
    stack_forward(a, m.enc_layers, false, a.self_valid.data(), k);
}

void encoder_train_backward(trainable_model& t, stack_acts& a, const float* dmemory) {
    const denovo_model& m = t.model;
    const dims k = dims_of(m);
    const int d = k.d, T = a.T, N = T - 1;
    std::copy(dmemory, dmemory + size_t(a.B) * T * d, a.g);
    stack_backward(t, a, m.enc_layers, false, a.self_valid.data(), nullptr, k);
    float* glat = t.grad(m.latent);
    float* gint = t.grad(m.int_w);
    for (int b = 0; b < a.B; ++b) {
        const float* g = a.g + size_t(b) * T * d;
        for (int c = 0; c < d; ++c) glat[c] += g[c];
        for (int i = 0; i < N; ++i) {
            const float inten = a.saved[size_t(b) * N + i];
            for (int c = 0; c < d; ++c) gint[c] += inten * g[size_t(i + 1) * d + c];
        }
    }
}

// ---------------------------------------------------------------------------------------
// AR decoder

void ar_train_forward(const trainable_model& t, stack_acts& a, const float* memory, const uint8_t* memory_valid,
                      int Tk, const float* mass, const int* charge, const int32_t* tokens, int B, int L,
                      const dropout_config& drop) {
    const denovo_model& m = t.model;
    TRANOVA_CHECK(m.has_ar(), "this model has no autoregressive decoder");
    const dims k = dims_of(m);
    const int d = k.d, T = L + 1, V = m.ar_vocab;
    a.drop = drop;
    layout(a, m.ar_layers.size(), true, B, T, Tk, d, k.ff, k.H, V);
    a.memory = memory;
    a.memory_valid = memory_valid;
    a.self_valid.assign(size_t(B) * T, 1);
    a.tokens.assign(tokens, tokens + size_t(B) * L);
    a.charge.assign(charge, charge + B);
    const std::vector<float> pos = position_table(m.ar_pos, T, d);
    for (int b = 0; b < B; ++b) {
        float* rows = a.x0 + size_t(b) * T * d;
        ar_precursor_embedding(m, mass[b], charge[b], rows);
        for (int j = 1; j < T; ++j) {
            const int tok = tokens[size_t(b) * L + j - 1];
            TRANOVA_CHECK(tok >= 0 && tok < V, "AR token {} outside the vocabulary (batch row {})", tok, b);
            float* row = rows + size_t(j) * d;
            std::copy(m.ar_aa + long(tok) * d, m.ar_aa + long(tok + 1) * d, row);
            float sum = 0.0f;
            for (int c = 0; c < d; ++c) sum += row[c];
            // depthcharge masks keys whose input row sums to 0 (the zero padding embedding)
            a.self_valid[size_t(b) * T + j] = (tok == 0 || sum == 0.0f) ? 0 : 1;
        }
        add_positions(rows, pos.data(), T, d);
    }
    stack_forward(a, m.ar_layers, true, a.self_valid.data(), k);
    core::linear_forward(a.logits, a.out(), m.ar_final_w, m.ar_final_b, B * T, d, V);
}

void ar_train_backward(trainable_model& t, stack_acts& a, const float* dlogits, float* dmemory) {
    const denovo_model& m = t.model;
    const dims k = dims_of(m);
    const int d = k.d, T = a.T, L = T - 1, V = m.ar_vocab;
    const size_t R = size_t(a.B) * T;
    zero(a.g, R * d);
    core::linear_backward(a.g, t.grad(m.ar_final_w), t.grad(m.ar_final_b), dlogits, a.out(), m.ar_final_w, int(R), d, V);
    stack_backward(t, a, m.ar_layers, true, a.self_valid.data(), dmemory, k);
    float* gcharge = t.grad(m.ar_charge);
    float* gaa = t.grad(m.ar_aa);
    for (int b = 0; b < a.B; ++b) {
        const float* g = a.g + size_t(b) * T * d;
        float* gc = gcharge + size_t(a.charge[size_t(b)] - 1) * d;
        for (int c = 0; c < d; ++c) gc[c] += g[c];
        for (int j = 1; j < T; ++j) {
            const int tok = a.tokens[size_t(b) * L + j - 1];
            if (tok == 0) continue;  // padding_idx 0: the padding embedding never learns (as torch)
            for (int c = 0; c < d; ++c) gaa[size_t(tok) * d + c] += g[size_t(j) * d + c];
        }
    }
}

// ---------------------------------------------------------------------------------------
// NAR decoder

void nar_train_forward(const trainable_model& t, stack_acts& a, const float* memory, const uint8_t* memory_valid,
                       int Tk, const float* mass, const int* charge, int B, const dropout_config& drop) {
    const denovo_model& m = t.model;
    TRANOVA_CHECK(m.has_nar(), "this model has no NAR (CTC) decoder");
    const dims k = dims_of(m);
    const int d = k.d, T = m.cfg.nar_length, V = m.nar_vocab;
    a.drop = drop;
    layout(a, m.nar_layers.size(), true, B, T, Tk, d, k.ff, k.H, V);
    a.memory = memory;
    a.memory_valid = memory_valid;
    a.self_valid.clear();  // every query row is attended (PrimeNovo's mask is all False)
    a.charge.assign(charge, charge + B);
    const std::vector<float> pos = position_table(m.nar_pos, T, d);
    for (int b = 0; b < B; ++b) {
        float* rows = a.x0 + size_t(b) * T * d;
        nar_precursor_embedding(m, mass[b], charge[b], rows);
        for (int j = 1; j < T; ++j) std::copy(rows, rows + d, rows + size_t(j) * d);
        add_positions(rows, pos.data(), T, d);
    }
    stack_forward(a, m.nar_layers, false, nullptr, k);
    core::linear_forward(a.logits, a.out(), m.nar_final_w, m.nar_final_b, B * T, d, V);
}

void nar_train_backward(trainable_model& t, stack_acts& a, const float* dlogits, const float* dfeatures,
                        float* dmemory) {
    const denovo_model& m = t.model;
    const dims k = dims_of(m);
    const int d = k.d, T = a.T, V = m.nar_vocab;
    const size_t R = size_t(a.B) * T;
    if (dfeatures) std::copy(dfeatures, dfeatures + R * d, a.g);
    else zero(a.g, R * d);
    core::linear_backward(a.g, t.grad(m.nar_final_w), t.grad(m.nar_final_b), dlogits, a.out(), m.nar_final_w, int(R),
                          d, V);
    stack_backward(t, a, m.nar_layers, false, nullptr, dmemory, k);
    float* gcharge = t.grad(m.nar_charge);
    for (int b = 0; b < a.B; ++b) {
        float* gc = gcharge + size_t(a.charge[size_t(b)] - 1) * d;
        for (int j = 0; j < T; ++j)
            for (int c = 0; c < d; ++c) gc[c] += a.g[(size_t(b) * T + j) * d + c];
    }
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
    core::log_softmax_forward(ws.log_probs.data(), logits, int(R), V);
    ws.input_lengths.assign(size_t(b.B), T);
    core::ctc_options o;
    o.blank = V - 1;
    o.reduction = core::ctc_reduction::mean;
    o.zero_infinity = true;
    o.grad = core::ctc_grad::logits;  // the log-softmax backward fused in
    return core::ctc_loss_forward_backward(dlogits, nullptr, ws.log_probs.data(), b.ctc_targets.data(),
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
        return core::cross_entropy_forward_backward(nullptr, ws.dec.logits, ws.targets.data(), int(R), V, 0,
                                                    label_smoothing, dloss);
    ws.dlogits.assign(R * V, 0.0f);
    const float loss = core::cross_entropy_forward_backward(ws.dlogits.data(), ws.dec.logits, ws.targets.data(), int(R),
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
    out.ar = core::cross_entropy_forward_backward(backward ? ws.dlogits.data() : nullptr, ws.dec.logits,
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
        core::linear_backward(nullptr, t.grad(m.cross_w), t.grad(m.cross_b), ws.dhybrid.data() + size_t(i) * Tm * d,
                              ws.nar.out() + size_t(i) * Tn * d, m.cross_w, Tn, d, d);
    return out;
}

}  // namespace tranova::denovo_model
