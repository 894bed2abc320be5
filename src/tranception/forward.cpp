// The Tranception forward, written once (issue 14): inference (model_forward: prefix cache,
// packed linears with fused epilogues, the residual stream updated in place) and training
// (train_forward, train.hpp: the same ops on the arena's tensors, keeping what the
// backward reads) run the same layer routine; every op goes through core::backend.
//
// Items are processed row-concatenated through the position-wise ops (one product over
// all rows of the batch); the convolutions and attention run per item on a full-length
// buffer whose rows before the item's start are copied from the wild type's prefix cache
// (only the rows the ops read: the last 6 pre-convolution rows, and all earlier
// post-convolution K/V rows).
#include "tranception/model.hpp"
#include "tranception/train.hpp"

#include "core/rng.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstring>

namespace tranova::tranception {

namespace {

constexpr int max_k = 7;  // widest convolution kernel

// Item b's positions [start, T) are rows [row0[b], row0[b + 1]) of the batch.
struct row_layout {
    std::vector<int> row0;
    int R = 0, maxT = 0;
};

row_layout layout_rows(const model_config& c, const std::vector<batch_item>& items, const prefix_cache* cache) {
    row_layout rl;
    rl.row0.assign(items.size() + 1, 0);
    for (size_t b = 0; b < items.size(); ++b) {
        const auto& it = items[b];
        TRANOVA_CHECK(it.T >= 1 && it.T <= c.n_ctx, "sequence of {} tokens exceeds the model context of {}", it.T,
                      c.n_ctx);
        TRANOVA_CHECK(it.start >= 0 && it.start < it.T, "bad start position {} for {} tokens", it.start, it.T);
        TRANOVA_CHECK(it.start == 0 || (cache && cache->T >= it.start), "start position {} needs a prefix cache",
                      it.start);
        rl.row0[b + 1] = rl.row0[b] + (it.T - it.start);
        rl.maxT = std::max(rl.maxT, it.T);
    }
    rl.R = rl.row0.back();
    return rl;
}

// A linear layer as a forward reads it: the arena's (out, in) weight and bias, and for
// inference the packed panels derived from it.
struct linear_ref {
    const float* w = nullptr;
    const float* b = nullptr;
    int in = 0, out = 0;
    const core::packed_linear* packed = nullptr;
};

// out (N, out) = epilogue(x W^T + b): on the packed panels (inference), or on the arena's
// tensor (training, which asks for the plain product only).
void linear(core::backend& be, float* out, const float* x, const linear_ref& L, int N,
            core::linear_epilogue e = core::linear_epilogue::store) {
    if (L.packed) return be.linear_packed(out, x, *L.packed, L.b, N, e);
    TRANOVA_CHECK(e == core::linear_epilogue::store, "Tranception forward: a fused epilogue needs packed weights");
    be.linear(out, x, L.w, L.b, N, L.in, L.out);
}

// LayerNorm; with mean/rstd (training) saving the statistics for the backward.
void norm(core::backend& be, float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b,
          int R, const model_config& c) {
    if (mean)
        be.layernorm_train(out, mean, rstd, inp, w, b, R, c.n_embd, c.ln_eps);
    else
        be.layernorm(out, inp, w, b, R, c.n_embd, c.ln_eps);
}

struct layer_params {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    linear_ref qkv, proj, fc, fc2;
    qkv_conv_params conv;
};

layer_params layer_view(const network_params& n, int l) {
    const model_config& c = *n.cfg;
    const int d = c.n_embd, ni = c.n_inner;
    const float* P = n.P;
    const layer_slots& s = n.slots->layers[l];
    const layer_packed* k = n.packed ? &(*n.packed)[l] : nullptr;
    layer_params p;
    p.ln1_w = P + s.ln1_w, p.ln1_b = P + s.ln1_b, p.ln2_w = P + s.ln2_w, p.ln2_b = P + s.ln2_b;
    p.qkv = {P + s.qkv_w, P + s.qkv_b, d, 3 * d, k ? &k->qkv : nullptr};
    p.proj = {P + s.proj_w, P + s.proj_b, d, d, k ? &k->proj : nullptr};
    p.fc = {P + s.fc_w, P + s.fc_b, d, ni, k ? &k->fc : nullptr};
    p.fc2 = {P + s.fc2_w, P + s.fc2_b, ni, d, k ? &k->fc2 : nullptr};
    p.conv = layer_conv_params(P, s);
    return p;
}

// Where one layer reads and writes. Inference: the workspace, in place (h_in == h_mid ==
// h_out; no statistics, probabilities or pre-activation kept). Training: the layer's own
// tensors of the activation arena (train.hpp), so the backward finds them.
struct layer_buffers {
    const float* h_in = nullptr;
    float *h_mid = nullptr, *h_out = nullptr;
    float *ln1 = nullptr, *ln1_mean = nullptr, *ln1_rstd = nullptr;
    float* qkv = nullptr;    // (R, 3d) before the convolutions
    float* qkv_c = nullptr;  // (R, 3d) after them; null: one item at a time in ws.qkv_c
    float* probs = nullptr;  // (B, H, T, T) attention probabilities, or null
    float* att = nullptr;
    float *ln2 = nullptr, *ln2_mean = nullptr, *ln2_rstd = nullptr;
    float* fc_pre = nullptr;  // null: the squared ReLU is fc's epilogue
    float* fc_act = nullptr;
    float dropout = 0;        // p of the residual branches' dropout
    uint64_t site_attn = 0, site_mlp = 0;
};

layer_buffers inference_buffers(workspace& ws) {
    layer_buffers io;
    io.h_in = io.h_mid = io.h_out = ws.h.data();
    io.ln1 = io.ln2 = ws.a.data();
    io.qkv = ws.qkv.data();
    io.att = ws.att.data();
    io.fc_act = ws.fc.data();
    return io;
}

// Dropout sites: 0 the embedding sum, 1 + 2l / 2 + 2l layer l's attention / MLP branch.
uint64_t dropout_site(const train_activations& a, int k) { return core::counter_hash(a.dropout_seed, uint64_t(k)); }

layer_buffers training_buffers(train_activations& a, const model_config& c, int l) {
    const size_t R = size_t(a.B) * a.T, Rd = R * c.n_embd, Rd3 = 3 * Rd, Rni = R * c.n_inner;
    const size_t probs_layer = size_t(a.B) * c.n_head * a.T * a.T;
    layer_buffers io;
    io.h_in = a.h + l * Rd, io.h_mid = a.h_mid + l * Rd, io.h_out = a.h + (l + 1) * Rd;
    io.ln1 = a.ln1 + l * Rd, io.ln1_mean = a.ln1_mean + l * R, io.ln1_rstd = a.ln1_rstd + l * R;
    io.qkv = a.qkv + l * Rd3, io.qkv_c = a.qkv_c + l * Rd3;
    io.probs = a.probs + (a.probs_one_layer ? 0 : l * probs_layer);
    io.att = a.att + l * Rd;
    io.ln2 = a.ln2 + l * Rd, io.ln2_mean = a.ln2_mean + l * R, io.ln2_rstd = a.ln2_rstd + l * R;
    io.fc_pre = a.fc_pre + l * Rni, io.fc_act = a.fc_act + l * Rni;
    io.dropout = a.dropout_used;
    io.site_attn = dropout_site(a, 1 + 2 * l), io.site_mlp = dropout_site(a, 2 + 2 * l);
    return io;
}

// Layer 0 of a mutant batch with a cache: a row's pre-convolution Q|K|V depends only on its
// token (no position embedding; ALiBi acts inside attention), so rows whose token is the
// wild type's at the same position take it from the cache; only the changed rows (one per
// single mutant) go through layernorm and the projection.
void qkv_projection_from_cache(core::backend& be, const model_config& c, const layer_params& p,
                               const layer_buffers& io, const std::vector<batch_item>& items, const row_layout& rl,
                               const prefix_cache& cache, workspace& ws) {
    const int d = c.n_embd, d3 = 3 * d;
    ws.new_rows.clear();
    for (size_t b = 0; b < items.size(); ++b)
        for (int t = items[b].start; t < items[b].T; ++t) {
            const int r = rl.row0[b] + t - items[b].start;
            if (t < cache.T && items[b].ids[t] == cache.ids[t])
                std::memcpy(io.qkv + size_t(r) * d3, &cache.qkv_pre[size_t(t) * d3], sizeof(float) * d3);
            else
                ws.new_rows.push_back(r);
        }
    const int nn = static_cast<int>(ws.new_rows.size());
    if (nn == 0) return;
    ws.gather.resize(size_t(nn) * d);
    ws.gather_qkv.resize(size_t(nn) * d3);
    for (int i = 0; i < nn; ++i)
        std::memcpy(&ws.gather[size_t(i) * d], io.h_in + size_t(ws.new_rows[i]) * d, sizeof(float) * d);
    be.layernorm(ws.gather.data(), ws.gather.data(), p.ln1_w, p.ln1_b, nn, d, c.ln_eps);
    linear(be, ws.gather_qkv.data(), ws.gather.data(), p.qkv, nn);
    for (int i = 0; i < nn; ++i)
        std::memcpy(io.qkv + size_t(ws.new_rows[i]) * d3, &ws.gather_qkv[size_t(i) * d3], sizeof(float) * d3);
}

// Training: every item starts at 0 with the same T and its own rows of the layer's
// tensors, so the convolutions and attention run once over the whole batch (B items per
// call: a fork/join per op and layer instead of one per item, which a loaded machine
// makes expensive). Each (item, head, query block) of attention and each (item, time) of
// the convolutions is computed on its own, so the bits are those of per-item calls.
bool batchable(const std::vector<batch_item>& items, const layer_buffers& io) {
    if (!io.qkv_c) return false;
    for (size_t b = 0; b < items.size(); ++b)
        if (items[b].start != 0 || items[b].T != items[0].T ||
            (items[b].key_valid != (items[0].key_valid ? items[0].key_valid + b * items[0].T : nullptr)))
            return false;
    return true;
}

void batch_attention(core::backend& be, const network_params& net, const layer_params& p, const layer_buffers& io,
                     const std::vector<batch_item>& items, workspace& ws) {
    const model_config& c = *net.cfg;
    const int d = c.n_embd, d3 = 3 * d, B = int(items.size()), T = items[0].T;
    qkv_convolutions_forward(be, io.qkv_c, io.qkv, p.conv, c, B, T, 0, long(T) * d3, long(T) * d3);
    const core::attention_shape s = layer_attention_shape(c, net.slopes, B, T, T, 0, items[0].key_valid);
    be.attention(io.att, io.probs, io.qkv_c, io.qkv_c + d, io.qkv_c + 2 * d, s, ws.scratch.data());
}

// Per item: the causal depthwise convolutions of its new rows, then causal attention with
// grouped ALiBi over keys [0, T) (cached rows before its start).
void item_attention(core::backend& be, const network_params& net, int l, const layer_params& p,
                    const layer_buffers& io, const std::vector<batch_item>& items, const row_layout& rl,
                    workspace& ws, const prefix_cache* cache, prefix_cache* fill) {
    const model_config& c = *net.cfg;
    const int d = c.n_embd, d3 = 3 * d;
    const float* cache_pre = cache ? &cache->qkv_pre[size_t(l) * cache->T * d3] : nullptr;
    const float* cache_kv = cache ? &cache->kv_post[size_t(l) * cache->T * 2 * d] : nullptr;
    for (size_t b = 0; b < items.size(); ++b) {
        const auto& it = items[b];
        const int s0 = it.start, T = it.T, nr = T - s0;
        const float* rows = io.qkv + size_t(rl.row0[b]) * d3;
        // Pre-convolution input at absolute row 0: the batch rows directly, or (cached
        // start) the last max_k-1 cached rows followed by the new rows.
        const float* pre = rows;
        if (s0 > 0) {
            const int c0 = std::max(0, s0 - (max_k - 1));
            std::memcpy(&ws.pre[size_t(c0) * d3], cache_pre + size_t(c0) * d3, sizeof(float) * (s0 - c0) * d3);
            std::memcpy(&ws.pre[size_t(s0) * d3], rows, sizeof(float) * nr * d3);
            pre = ws.pre.data();
        }
        float* post = io.qkv_c ? io.qkv_c + size_t(rl.row0[b]) * d3 : ws.qkv_c.data();
        for (int t = 0; t < s0; ++t)  // cached post-convolution K|V of positions < start
            std::memcpy(post + size_t(t) * d3 + d, cache_kv + size_t(t) * 2 * d, sizeof(float) * 2 * d);
        qkv_convolutions_forward(be, post + size_t(s0) * d3, pre, p.conv, c, 1, nr, s0, 0, 0);
        if (fill) {
            float* kv = &fill->kv_post[size_t(l) * fill->T * 2 * d];
            for (int t = 0; t < T; ++t)
                std::memcpy(kv + size_t(t) * 2 * d, post + size_t(t) * d3 + d, sizeof(float) * 2 * d);
        }
        const core::attention_shape s = layer_attention_shape(c, net.slopes, 1, nr, T, s0, it.key_valid);
        float* probs = io.probs ? io.probs + b * size_t(c.n_head) * T * T : nullptr;
        be.attention(io.att + size_t(rl.row0[b]) * d, probs, post + size_t(s0) * d3, post + d, post + 2 * d, s,
                     ws.scratch.data());
    }
}

// out = res + dropout(x W^T + b). In place (out == res, inference): the add is the packed
// kernel's epilogue. Training keeps res (the backward reads it) and drops out first.
void residual_branch(core::backend& be, float* out, const float* res, const float* x, const linear_ref& L, int R,
                     float p_drop, uint64_t site) {
    if (out == res) return linear(be, out, x, L, R, core::linear_epilogue::accumulate);
    const size_t n = size_t(R) * L.out;
    linear(be, out, x, L, R);
    if (p_drop > 0) be.dropout(out, out, n, p_drop, site, 0);
    be.add(out, out, res, n);
}

// One block: h_mid = h + proj(attn(conv(qkv(ln_1(h))))), h_out = h_mid + fc2(relu(fc(ln_2(h_mid)))^2).
void layer_forward(core::backend& be, const network_params& net, int l, const std::vector<batch_item>& items,
                   const row_layout& rl, workspace& ws, const prefix_cache* cache, prefix_cache* fill,
                   train_activations* save) {
    const model_config& c = *net.cfg;
    const int R = rl.R;
    const layer_params p = layer_view(net, l);
    const layer_buffers io = save ? training_buffers(*save, c, l) : inference_buffers(ws);
    if (l == 0 && cache && !fill) {
        qkv_projection_from_cache(be, c, p, io, items, rl, *cache, ws);
    } else {
        norm(be, io.ln1, io.ln1_mean, io.ln1_rstd, io.h_in, p.ln1_w, p.ln1_b, R, c);
        linear(be, io.qkv, io.ln1, p.qkv, R);
    }
    if (fill) std::memcpy(&fill->qkv_pre[size_t(l) * fill->T * 3 * c.n_embd], io.qkv, sizeof(float) * R * 3 * c.n_embd);
    if (batchable(items, io))
        batch_attention(be, net, p, io, items, ws);
    else
        item_attention(be, net, l, p, io, items, rl, ws, cache, fill);
    residual_branch(be, io.h_mid, io.h_in, io.att, p.proj, R, io.dropout, io.site_attn);

    norm(be, io.ln2, io.ln2_mean, io.ln2_rstd, io.h_mid, p.ln2_w, p.ln2_b, R, c);
    if (io.fc_pre) {  // training keeps the activation's input
        linear(be, io.fc_pre, io.ln2, p.fc, R);
        be.activation(core::activation_kind::squared_relu, io.fc_act, io.fc_pre, size_t(R) * c.n_inner);
    } else {
        linear(be, io.fc_act, io.ln2, p.fc, R, core::linear_epilogue::squared_relu);
    }
    residual_branch(be, io.h_out, io.h_mid, io.fc_act, p.fc2, R, io.dropout, io.site_mlp);
}

// Workspace of an inference forward (training's tensors live in its activation arena).
void size_workspace(workspace& ws, const model_config& c, const row_layout& rl, bool training) {
    const size_t d = c.n_embd, R = rl.R, maxT = rl.maxT;
    ws.ids.resize(R);
    ws.qkv_c.resize(training ? 0 : maxT * 3 * d);  // one item's post-convolution Q|K|V, absolute rows [0, T)
    ws.pre.resize(training ? 0 : maxT * 3 * d);    // one item's pre-convolution rows (cached prefix + new rows)
    if (training) return;
    ws.h.resize(R * d);
    ws.a.resize(R * d);
    ws.qkv.resize(R * 3 * d);
    ws.att.resize(R * d);
    ws.fc.resize(R * c.n_inner);
    ws.logits.resize(R * c.vocab);
}

// h = wte[id] (+ wte[0] at every row: the token-type quirk).
void embed(core::backend& be, const network_params& net, const std::vector<batch_item>& items, const row_layout& rl,
           workspace& ws, float* h) {
    const model_config& c = *net.cfg;
    const int d = c.n_embd;
    for (size_t b = 0; b < items.size(); ++b)
        for (int t = items[b].start; t < items[b].T; ++t) ws.ids[rl.row0[b] + t - items[b].start] = items[b].ids[t];
    const float* wte = net.P + net.slots->wte;
    be.embedding(h, ws.ids.data(), wte, rl.R, d, c.vocab);
    if (net.token_type_quirk)
        for (int r = 0; r < rl.R; ++r) be.add(h + size_t(r) * d, h + size_t(r) * d, wte, d);
}

}  // namespace

network_params network_of(const model& m) {
    network_params n;
    n.cfg = &m.cfg;
    n.P = m.params.params();
    n.slots = &m.slots;
    n.packed = &m.packed;
    n.head = &m.head;
    n.slopes = m.slopes.data();
    n.token_type_quirk = m.token_type_quirk;
    return n;
}

void network_forward(core::backend& be, const network_params& net, const std::vector<batch_item>& items,
                     workspace& ws, const prefix_cache* cache, prefix_cache* fill, train_activations* save) {
    const model_config& c = *net.cfg;
    const row_layout rl = layout_rows(c, items, cache);
    const int R = rl.R, d = c.n_embd;
    TRANOVA_CHECK(!save || (!cache && !fill && size_t(R) == size_t(save->B) * save->T),
                  "training forward: {} rows for an activation arena of {} x {}", R, save->B, save->T);
    size_workspace(ws, c, rl, save != nullptr);
    ws.scratch.resize(core::attention_scratch_floats(layer_attention_shape(c, net.slopes, 1, rl.maxT, rl.maxT, 0)));

    float* h = save ? save->h : ws.h.data();
    embed(be, net, items, rl, ws, h);
    if (save && save->dropout_used > 0) be.dropout(h, h, size_t(R) * d, save->dropout_used, dropout_site(*save, 0), 0);
    for (int l = 0; l < c.n_layer; ++l) layer_forward(be, net, l, items, rl, ws, cache, fill, save);

    // ln_f and the tied head
    const float* h_last = save ? save->h + size_t(c.n_layer) * R * d : ws.h.data();
    float* lnf = save ? save->lnf : ws.a.data();
    norm(be, lnf, save ? save->lnf_mean : nullptr, save ? save->lnf_rstd : nullptr, h_last, net.P + net.slots->lnf_w,
         net.P + net.slots->lnf_b, R, c);
    const linear_ref head{net.P + net.slots->wte, nullptr, d, c.vocab, net.head};
    linear(be, save ? save->logits : ws.logits.data(), lnf, head, R);
}

// ---------------------------------------------------------------------------------------
// Inference

void model_forward(const model& m, const prefix_cache* cache, const std::vector<batch_item>& items,
                   std::vector<float>& logprobs_out, workspace& ws, prefix_cache* fill,
                   std::vector<float>* raw_logits) {
    const auto& c = m.cfg;
    if (fill) {
        TRANOVA_CHECK(items.size() == 1 && items[0].start == 0, "a prefix cache is filled from one full sequence");
        fill->T = items[0].T;
        fill->ids.assign(items[0].ids, items[0].ids + items[0].T);
        fill->qkv_pre.assign(size_t(c.n_layer) * fill->T * 3 * c.n_embd, 0.f);
        fill->kv_post.assign(size_t(c.n_layer) * fill->T * 2 * c.n_embd, 0.f);
    }
    network_forward(*m.be, network_of(m), items, ws, cache, fill, nullptr);
    const size_t R = ws.ids.size(), V = c.vocab;
    if (raw_logits) raw_logits->assign(ws.logits.begin(), ws.logits.begin() + R * V);
    logprobs_out.resize(R * V);
    m.be->log_softmax(logprobs_out.data(), ws.logits.data(), int(R), int(V));
    if (fill) fill->logprobs = logprobs_out;
}

std::vector<float> model_logits(const model& m, const std::vector<int>& ids) {
    workspace ws;
    std::vector<float> lp, logits;
    model_forward(m, nullptr, {batch_item{ids.data(), int(ids.size()), 0}}, lp, ws, nullptr, &logits);
    return logits;
}

prefix_cache model_prefix(const model& m, const std::vector<int>& ids, workspace& ws) {
    prefix_cache pc;
    std::vector<float> lp;
    model_forward(m, nullptr, {batch_item{ids.data(), int(ids.size()), 0}}, lp, ws, &pc);
    return pc;
}

}  // namespace tranova::tranception
