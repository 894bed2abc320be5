// The one Transformer layer of the de novo networks, forward and backward (see layers.hpp).
// The backward is the forward in reverse, one backend backward call per op; it follows the
// core convention (docs/training.md): parameter gradients ACCUMULATE, nullptr skips.
#include "denovo_model/layers.hpp"

#include "denovo_model/train.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cmath>

namespace tranova::denovo_model::detail {

layer_w weights_of(const enc_layer& l) {
    return {&l.sa,       nullptr, l.l1_w, l.l1_b, l.l2_w, l.l2_b, {l.n1_w, l.n2_w, nullptr}, {l.n1_b, l.n2_b, nullptr},
            l.packed};
}
layer_w weights_of(const dec_layer& l) {
    return {&l.sa, &l.ca, l.l1_w, l.l1_b, l.l2_w, l.l2_b, {l.n1_w, l.n2_w, l.n3_w}, {l.n1_b, l.n2_b, l.n3_b}, l.packed};
}

void linear(core::backend& be, float* out, const float* x, const float* w, const float* b,
            const core::packed_linear* p, int R, int IC, int OC) {
    if (p) be.linear_packed(out, x, *p, b, R, core::linear_epilogue::store);
    else be.linear(out, x, w, b, R, IC, OC);
}

void zero(float* p, size_t n) { std::fill(p, p + n, 0.0f); }

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

}  // namespace

stack_acts& inference_scratch() {
    thread_local stack_acts a;
    return a;
}

void layout(stack_acts& a, size_t n_layers, bool decoder, int B, int T, int Tk, dims k, int V, bool keep) {
    TRANOVA_CHECK(keep || a.drop.p <= 0.0f, "dropout needs the training layout of the activations");
    a.B = B, a.T = T, a.Tk = Tk;
    a.keep = keep;
    const int d = k.d, ff = k.ff, H = k.H;
    const bool drop = a.drop.p > 0.0f;
    const size_t R = size_t(B) * T, Rk = size_t(B) * Tk;
    a.layers.assign(n_layers, layer_acts{});
    carver c;
    c(a.x0, R * d);
    if (!keep) {  // one scratch, outputs over x0, nothing kept
        layer_acts& l = a.layers.front();
        c(l.qkv, R * 3 * d), c(l.sa_ctx, R * d), c(l.sum1, R * d), c(l.x1, R * d);
        if (decoder) c(l.cq, R * d), c(l.ckv, Rk * 2 * d), c(l.ca_ctx, R * d), c(l.sum2, R * d), c(l.x2, R * d);
        else c(l.sum2, R * d);
        c(l.h, R * ff), c(l.a, R * ff);
        if (decoder) c(l.sum3, R * d);
        if (decoder) c(a.logits, R * V);
        c(a.ds, R * d);
        c.finish(a.buf);
        if (decoder) l.x3 = a.x0;
        else l.x2 = a.x0;
        for (layer_acts& o : a.layers) o = l;
        return;
    }
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

namespace {

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

// Dropout sites of a layer (seed = counter_hash(stack seed, 8 * layer + site)).
enum site : int { sa_weights = 0, sa_out = 1, ca_weights = 2, ca_out = 3, ffn_inner = 4, ffn_out = 5 };
uint64_t site_seed(const stack_acts& a, int layer, site k) {
    return core::counter_hash(a.drop.seed, uint64_t(8 * layer + int(k)));
}

// Attention with dropout on its weights, as torch's MultiheadAttention: after the attention
// wrote P (probs), pdrop = dropout(P) and out = pdrop V per (batch, head).
void attention_dropout_forward(core::backend& be, float* out, float* pdrop, const float* probs, const float* v,
                               const core::attention_shape& s, float p, uint64_t seed) {
    const size_t blk = size_t(s.T) * s.TK;
    be.dropout(pdrop, probs, blk * s.B * s.NH, p, seed, 0);
    for (int b = 0; b < s.B; ++b)
        for (int h = 0; h < s.NH; ++h)
            be.gemm(out + b * s.bs_o + long(h) * s.HD, pdrop + (size_t(b) * s.NH + h) * blk,
                    v + b * s.bs_v + long(h) * s.HD, s.T, s.HD, s.TK, false, false, 1.0f, 0.0f, s.TK, int(s.ld_v),
                    int(s.ld_o));
}
// Its backward (core::attention_backward with the dropped weights in the value product):
//   dV += pdrop^T dO,  dP = dropout'(dO V^T),  dS = P (dP - rowsum(dP P)),
//   dQ += scale dS K,  dK += scale dS^T Q.
void attention_dropout_backward(core::backend& be, float* dq, float* dk, float* dv, const float* dout, const float* q,
                                const float* k, const float* v, const float* probs, const float* pdrop,
                                const core::attention_shape& s, float p, uint64_t seed, std::vector<float>& tmp) {
    const size_t blk = size_t(s.T) * s.TK;
    tmp.resize(3 * blk);
    float *dpd = tmp.data(), *dp = dpd + blk, *dsc = dp + blk;
    const float scale = s.scale != 0.0f ? s.scale : 1.0f / std::sqrt(float(s.HD));
    for (int b = 0; b < s.B; ++b)
        for (int h = 0; h < s.NH; ++h) {
            const size_t off = (size_t(b) * s.NH + h) * blk;
            const long hq = b * s.bs_q + long(h) * s.HD, hk = b * s.bs_k + long(h) * s.HD,
                       hv = b * s.bs_v + long(h) * s.HD, ho = b * s.bs_o + long(h) * s.HD;
            be.gemm(dpd, dout + ho, v + hv, s.T, s.TK, s.HD, false, true, 1.0f, 0.0f, int(s.ld_o), int(s.ld_v), s.TK);
            be.gemm(dv + hv, pdrop + off, dout + ho, s.TK, s.HD, s.T, true, false, 1.0f, 1.0f, s.TK, int(s.ld_o),
                    int(s.ld_v));
            zero(dp, blk);
            be.dropout_backward(dp, dpd, blk, p, seed, off);
            zero(dsc, blk);
            be.softmax_backward(dsc, dp, probs + off, s.T, s.TK);  // masked keys: P = 0, so dS = 0
            be.gemm(dq + hq, dsc, k + hk, s.T, s.HD, s.TK, false, false, scale, 1.0f, s.TK, int(s.ld_k), int(s.ld_q));
            be.gemm(dk + hk, dsc, q + hq, s.TK, s.HD, s.T, true, false, scale, 1.0f, s.TK, int(s.ld_q), int(s.ld_k));
        }
}

}  // namespace

void add_ln(core::backend& be, float* sum, float* mean, float* rstd, float* out, const float* x, const float* y,
            const float* w, const float* b, size_t R, int d) {
    be.add(sum, x, y, R * d);
    if (mean) be.layernorm_train(out, mean, rstd, sum, w, b, int(R), d, 1e-5f);  // torch eps
    else be.layernorm(out, sum, w, b, int(R), d, 1e-5f);
}

void layer_forward(core::backend& be, stack_acts& a, int li, const layer_w& w, const float* x, bool causal,
                   const uint8_t* self_valid, dims k) {
    layer_acts& l = a.layers[size_t(li)];
    const int d = k.d, ff = k.ff;
    const size_t R = size_t(a.B) * a.T;
    const float p = a.drop.p;
    const bool drop = p > 0.0f;
    float* y = a.ds;  // branch output (gradient scratch is free during the forward)
    // self-attention
    const layer_packed* pk = w.packed;
    linear(be, l.qkv, x, w.sa->in_w, w.sa->in_b, pk ? &pk->sa_in : nullptr, int(R), d, 3 * d);
    core::attention_shape s = self_shape(a, k.H, d, causal, self_valid);
    a.att_scratch.resize(core::attention_scratch_floats(s));
    be.attention(l.sa_ctx, l.sa_probs, l.qkv, l.qkv + d, l.qkv + 2 * d, s, a.att_scratch.data());
    if (drop)
        attention_dropout_forward(be, l.sa_ctx, l.sa_pdrop, l.sa_probs, l.qkv + 2 * d, s, p, site_seed(a, li, sa_weights));
    linear(be, y, l.sa_ctx, w.sa->out_w, w.sa->out_b, pk ? &pk->sa_out : nullptr, int(R), d, d);
    if (drop) be.dropout(y, y, R * d, p, site_seed(a, li, sa_out), 0);
    add_ln(be, l.sum1, l.mean1, l.rstd1, l.x1, x, y, w.n_w[0], w.n_b[0], R, d);
    const float* cur = l.x1;
    if (w.ca) {  // cross-attention to the memory
        linear(be, l.cq, cur, w.ca->in_w, w.ca->in_b, pk ? &pk->ca_q : nullptr, int(R), d, d);
        linear(be, l.ckv, a.memory, w.ca->in_w + long(d) * d, w.ca->in_b + d, pk ? &pk->ca_kv : nullptr, a.B * a.Tk, d,
               2 * d);
        core::attention_shape c = cross_shape(a, k.H, d);
        a.att_scratch.resize(core::attention_scratch_floats(c));
        be.attention(l.ca_ctx, l.ca_probs, l.cq, l.ckv, l.ckv + d, c, a.att_scratch.data());
        if (drop)
            attention_dropout_forward(be, l.ca_ctx, l.ca_pdrop, l.ca_probs, l.ckv + d, c, p,
                                      site_seed(a, li, ca_weights));
        linear(be, y, l.ca_ctx, w.ca->out_w, w.ca->out_b, pk ? &pk->ca_out : nullptr, int(R), d, d);
        if (drop) be.dropout(y, y, R * d, p, site_seed(a, li, ca_out), 0);
        add_ln(be, l.sum2, l.mean2, l.rstd2, l.x2, cur, y, w.n_w[1], w.n_b[1], R, d);
        cur = l.x2;
    }
    // FFN
    linear(be, l.h, cur, w.l1_w, w.l1_b, pk ? &pk->l1 : nullptr, int(R), d, ff);
    be.activation(core::activation_kind::relu, l.a, l.h, R * ff);
    if (drop) be.dropout(l.a, l.a, R * ff, p, site_seed(a, li, ffn_inner), 0);
    linear(be, y, l.a, w.l2_w, w.l2_b, pk ? &pk->l2 : nullptr, int(R), ff, d);
    if (drop) be.dropout(y, y, R * d, p, site_seed(a, li, ffn_out), 0);
    if (w.ca) add_ln(be, l.sum3, l.mean3, l.rstd3, l.x3, cur, y, w.n_w[2], w.n_b[2], R, d);
    else add_ln(be, l.sum2, l.mean2, l.rstd2, l.x2, cur, y, w.n_w[1], w.n_b[1], R, d);
}

void ffn_add_ln(core::backend& be, float* x, const layer_w& w, int norm, size_t R, int d, int ff, float* h, float* y) {
    const layer_packed* pk = w.packed;
    linear(be, h, x, w.l1_w, w.l1_b, pk ? &pk->l1 : nullptr, int(R), d, ff);
    be.activation(core::activation_kind::relu, h, h, R * ff);
    linear(be, y, h, w.l2_w, w.l2_b, pk ? &pk->l2 : nullptr, int(R), ff, d);
    add_ln(be, x, nullptr, nullptr, x, x, y, w.n_w[norm], w.n_b[norm], R, d);
}

namespace {

// ds = d sum from the gradient g of LN(sum); parameter gradients accumulate
void ln_backward(core::backend& be, trainable_model& t, float* ds, const float* g, const float* sum, const float* w,
                 const float* b, const float* mean, const float* rstd, size_t R, int d) {
    zero(ds, R * d);
    be.layernorm_backward(ds, t.grad(w), t.grad(b), g, sum, w, mean, rstd, int(R), d);
}

// The gradient of a residual branch's output from the gradient ds of the sum: through the
// branch's dropout when on.
const float* branch_grad(core::backend& be, stack_acts& a, size_t n, uint64_t seed) {
    if (a.drop.p <= 0.0f) return a.ds;
    zero(a.dy, n);
    be.dropout_backward(a.dy, a.ds, n, a.drop.p, seed, 0);
    return a.dy;
}

}  // namespace

void layer_backward(trainable_model& t, stack_acts& a, int li, const layer_w& w, const float* x, bool causal,
                    const uint8_t* self_valid, float* dmemory, dims k) {
    TRANOVA_CHECK(a.keep, "a backward needs a forward that kept its activations");
    core::backend& be = *t.model.be;
    const layer_acts& l = a.layers[size_t(li)];
    const int d = k.d, ff = k.ff;
    const size_t R = size_t(a.B) * a.T, Rk = size_t(a.B) * a.Tk;
    const float p = a.drop.p;
    const bool drop = p > 0.0f;
    const int last = w.ca ? 2 : 1;
    const float* cur = w.ca ? l.x2 : l.x1;  // FFN input
    // out = LN(cur + FFN(cur))
    ln_backward(be, t, a.ds, a.g, w.ca ? l.sum3 : l.sum2, w.n_w[last], w.n_b[last], w.ca ? l.mean3 : l.mean2,
                w.ca ? l.rstd3 : l.rstd2, R, d);
    float* d_cur = a.g2;
    std::copy(a.ds, a.ds + R * d, d_cur);  // residual path
    const float* dy = branch_grad(be, a, R * d, site_seed(a, li, ffn_out));
    zero(a.dff, R * ff);
    be.linear_backward(a.dff, t.grad(w.l2_w), t.grad(w.l2_b), dy, l.a, w.l2_w, int(R), ff, d);
    float* dh = a.dff2;
    if (drop) {  // through the FFN's inner dropout, then the ReLU
        zero(a.dff2, R * ff);
        be.dropout_backward(a.dff2, a.dff, R * ff, p, site_seed(a, li, ffn_inner), 0);
        dh = a.dff;
        zero(dh, R * ff);
        be.activation_backward(core::activation_kind::relu, dh, a.dff2, l.h, R * ff);
    } else {
        zero(dh, R * ff);
        be.activation_backward(core::activation_kind::relu, dh, a.dff, l.h, R * ff);
    }
    be.linear_backward(d_cur, t.grad(w.l1_w), t.grad(w.l1_b), dh, cur, w.l1_w, int(R), d, ff);
    float* d_x1 = d_cur;
    if (w.ca) {
        // x2 = LN2(x1 + CA(x1, memory))
        ln_backward(be, t, a.ds, d_cur, l.sum2, w.n_w[1], w.n_b[1], l.mean2, l.rstd2, R, d);
        d_x1 = a.g;
        std::copy(a.ds, a.ds + R * d, d_x1);
        dy = branch_grad(be, a, R * d, site_seed(a, li, ca_out));
        zero(a.dctx, R * d);
        be.linear_backward(a.dctx, t.grad(w.ca->out_w), t.grad(w.ca->out_b), dy, l.ca_ctx, w.ca->out_w, int(R), d, d);
        float* dq = a.dqkv;  // (R, d)
        zero(dq, R * d);
        zero(a.dkv, Rk * 2 * d);
        core::attention_shape c = cross_shape(a, k.H, d);
        if (drop) {
            attention_dropout_backward(be, dq, a.dkv, a.dkv + d, a.dctx, l.cq, l.ckv, l.ckv + d, l.ca_probs, l.ca_pdrop,
                                       c, p, site_seed(a, li, ca_weights), a.att_scratch);
        } else {
            a.att_scratch.resize(core::attention_backward_scratch_floats(c));
            be.attention_backward(dq, a.dkv, a.dkv + d, a.dctx, l.cq, l.ckv, l.ckv + d, l.ca_probs, c,
                                  a.att_scratch.data());
        }
        be.linear_backward(d_x1, t.grad(w.ca->in_w), t.grad(w.ca->in_b), dq, l.x1, w.ca->in_w, int(R), d, d);
        be.linear_backward(dmemory, t.grad(w.ca->in_w) + long(d) * d, t.grad(w.ca->in_b) + d, a.dkv, a.memory,
                           w.ca->in_w + long(d) * d, int(Rk), d, 2 * d);
    }
    // x1 = LN1(x + SA(x))
    ln_backward(be, t, a.ds, d_x1, l.sum1, w.n_w[0], w.n_b[0], l.mean1, l.rstd1, R, d);
    float* d_x = d_x1 == a.g ? a.g2 : a.g;
    std::copy(a.ds, a.ds + R * d, d_x);
    dy = branch_grad(be, a, R * d, site_seed(a, li, sa_out));
    zero(a.dctx, R * d);
    be.linear_backward(a.dctx, t.grad(w.sa->out_w), t.grad(w.sa->out_b), dy, l.sa_ctx, w.sa->out_w, int(R), d, d);
    zero(a.dqkv, R * 3 * d);
    core::attention_shape s = self_shape(a, k.H, d, causal, self_valid);
    if (drop) {
        attention_dropout_backward(be, a.dqkv, a.dqkv + d, a.dqkv + 2 * d, a.dctx, l.qkv, l.qkv + d, l.qkv + 2 * d,
                                   l.sa_probs, l.sa_pdrop, s, p, site_seed(a, li, sa_weights), a.att_scratch);
    } else {
        a.att_scratch.resize(core::attention_backward_scratch_floats(s));
        be.attention_backward(a.dqkv, a.dqkv + d, a.dqkv + 2 * d, a.dctx, l.qkv, l.qkv + d, l.qkv + 2 * d,
                              l.sa_probs, s, a.att_scratch.data());
    }
    be.linear_backward(d_x, t.grad(w.sa->in_w), t.grad(w.sa->in_b), a.dqkv, x, w.sa->in_w, int(R), d, 3 * d);
    if (d_x != a.g) std::swap(a.g, a.g2);
}

std::vector<float> position_table(core::backend& be, const float_encoder& e, int first, int T, int d) {
    std::vector<float> pos(static_cast<size_t>(T)), enc(size_t(T) * d);
    for (int i = 0; i < T; ++i) pos[size_t(i)] = float(first + i);
    be.sinusoidal(enc.data(), pos.data(), T, e.sin_term, e.n_sin, e.cos_term, e.n_cos);
    return enc;
}

void precursor_embedding(core::backend& be, const float_encoder& mass_enc, const float* charge_emb, int max_charge,
                         int d, float mass, int charge, float* out) {
    TRANOVA_CHECK(charge >= 1 && charge <= max_charge, "precursor charge {} outside the model's range 1..{}", charge,
                  max_charge);
    be.sinusoidal(out, &mass, 1, mass_enc.sin_term, mass_enc.n_sin, mass_enc.cos_term, mass_enc.n_cos);
    be.add(out, out, charge_emb + long(charge - 1) * d, size_t(d));
}

}  // namespace tranova::denovo_model::detail
