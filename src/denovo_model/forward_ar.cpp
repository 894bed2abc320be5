// The Casanovo-style autoregressive (AR) peptide decoder: position 0 = mass encoding(M) +
// charge embedding(z-1), position j = token embedding, + positions, causal self-attention,
// cross-attention to the (encoder or hybrid) memory. Two entry points over the same layer
// pieces (layers.hpp): the batched teacher-forced forward of training (and of the goldens),
// and the incremental, key/value-cached step of beam search (ar_feed_batch).
#include "denovo_model/layers.hpp"
#include "denovo_model/train.hpp"
#include "util/error.hpp"

#include <algorithm>

namespace tranova::denovo_model {

using namespace detail;

void ar_precursor_embedding(const denovo_model& m, float mass, int charge, float* out) {
    precursor_embedding(*m.be, m.ar_mass, m.ar_charge, m.cfg.max_charge, m.cfg.dim_model, mass, charge, out);
}

namespace {
// Token embeddings of n rows; key_valid[j] = 0 where the token is padding (id 0 or a row
// summing to 0: depthcharge masks keys whose input row sums to 0).
void token_rows(core::backend& be, const denovo_model& m, const int32_t* tokens, int n, float* rows,
                uint8_t* key_valid) {
    const int d = m.cfg.dim_model, V = m.ar_vocab;
    for (int j = 0; j < n; ++j)
        TRANOVA_CHECK(tokens[j] >= 0 && tokens[j] < V, "AR token {} outside the vocabulary", tokens[j]);
    be.embedding(rows, tokens, m.ar_aa, n, d, V);
    for (int j = 0; j < n; ++j) {
        const float* row = rows + size_t(j) * d;
        float sum = 0.0f;
        for (int c = 0; c < d; ++c) sum += row[c];
        key_valid[j] = (tokens[j] == 0 || sum == 0.0f) ? 0 : 1;
    }
}
}  // namespace

void ar_forward_batch(const denovo_model& m, stack_acts& a, const float* memory, const uint8_t* memory_valid, int Tk,
                      const float* mass, const int* charge, const int32_t* tokens, int B, int L, bool keep,
                      const dropout_config& drop) {
    TRANOVA_CHECK(m.has_ar(), "this model has no autoregressive decoder");
    core::backend& be = *m.be;
    const dims k = dims_of(m);
    const int d = k.d, T = L + 1, V = m.ar_vocab;
    a.drop = drop;
    layout(a, m.ar_layers.size(), true, B, T, Tk, k, V, keep);
    a.memory = memory;
    a.memory_valid = memory_valid;
    a.self_valid.assign(size_t(B) * T, 1);
    a.tokens.assign(tokens, tokens + size_t(B) * L);
    a.charge.assign(charge, charge + B);
    const std::vector<float> pos = position_table(be, m.ar_pos, 0, T, d);
    for (int b = 0; b < B; ++b) {
        float* rows = a.x0 + size_t(b) * T * d;
        ar_precursor_embedding(m, mass[b], charge[b], rows);
        token_rows(be, m, tokens + size_t(b) * L, L, rows + d, a.self_valid.data() + size_t(b) * T + 1);
        be.add(rows, rows, pos.data(), size_t(T) * d);
    }
    stack_forward(be, a, m.ar_layers, true, a.self_valid.data(), k);
    be.linear(a.logits, a.out(), m.ar_final_w, m.ar_final_b, B * T, d, V);
}

void ar_backward_batch(trainable_model& t, stack_acts& a, const float* dlogits, float* dmemory) {
    const denovo_model& m = t.model;
    core::backend& be = *m.be;
    const dims k = dims_of(m);
    const int d = k.d, T = a.T, L = T - 1, V = m.ar_vocab;
    const size_t R = size_t(a.B) * T;
    zero(a.g, R * d);
    be.linear_backward(a.g, t.grad(m.ar_final_w), t.grad(m.ar_final_b), dlogits, a.out(), m.ar_final_w, int(R), d, V);
    stack_backward(t, a, m.ar_layers, true, a.self_valid.data(), dmemory, k);
    float* gcharge = t.grad(m.ar_charge);
    float* gaa = t.grad(m.ar_aa);
    // padding_idx 0: the padding embedding never learns (as torch): its row is restored
    std::vector<float> pad_row(gaa, gaa + d);
    for (int b = 0; b < a.B; ++b) {
        const float* g = a.g + size_t(b) * T * d;
        float* gc = gcharge + size_t(a.charge[size_t(b)] - 1) * d;
        be.add(gc, gc, g, size_t(d));
        be.embedding_backward(gaa, g + d, a.tokens.data() + size_t(b) * L, L, d, V);
    }
    std::copy(pad_row.begin(), pad_row.end(), gaa);
}

// ---------------------------------------------------------------------------------------
// incremental decoding (beam search)

void ar_prepare_memory(const denovo_model& m, const float* memory, const bool* mask, int Tk, ar_memory& out) {
    core::backend& be = *m.be;
    const int d = m.cfg.dim_model;
    out.Tk = Tk;
    out.key_valid.resize(size_t(Tk));
    for (int i = 0; i < Tk; ++i) out.key_valid[size_t(i)] = mask[i] ? 0 : 1;
    out.k.resize(m.ar_layers.size());
    out.v.resize(m.ar_layers.size());
    std::vector<float> kv;  // (Tk, 2d) key | value rows of the packed projection
    for (size_t l = 0; l < m.ar_layers.size(); ++l) {
        const mha_weights& w = m.ar_layers[l].ca;
        out.k[l].resize(size_t(Tk) * d);
        out.v[l].resize(size_t(Tk) * d);
        if (const layer_packed* pk = m.ar_layers[l].packed) {
            kv.resize(size_t(Tk) * 2 * d);
            be.linear_packed(kv.data(), memory, pk->ca_kv, w.in_b + d, Tk, core::linear_epilogue::store);
            for (int r = 0; r < Tk; ++r) {
                const float* row = kv.data() + size_t(r) * 2 * d;
                std::copy(row, row + d, out.k[l].begin() + long(r) * d);
                std::copy(row + d, row + 2 * d, out.v[l].begin() + long(r) * d);
            }
            continue;
        }
        be.linear(out.k[l].data(), memory, w.in_w + long(d) * d, w.in_b + d, Tk, d, d);
        be.linear(out.v[l].data(), memory, w.in_w + 2L * d * d, w.in_b + 2 * d, Tk, d, d);
    }
}

void hybrid_memory(const denovo_model& m, const float* nar_features, const float* memory, const bool* mask, int Tk,
                   std::vector<float>& out, std::vector<unsigned char>& out_mask) {
    core::backend& be = *m.be;
    const int d = m.cfg.dim_model, T = m.cfg.nar_length;
    out.assign(size_t(T + Tk) * d, 0.0f);
    be.linear(out.data(), nar_features, m.cross_w, m.cross_b, T, d, d);
    std::copy(memory, memory + long(Tk) * d, out.begin() + long(T) * d);
    if (m.cfg.memory_pos_encoding) {
        const std::vector<float> pos = position_table(be, m.cross_pos, 1, T + Tk, d);
        be.add(out.data(), out.data(), pos.data(), out.size());
    }
    out_mask.assign(size_t(T + Tk), 0);
    for (int i = 0; i < Tk; ++i) out_mask[size_t(T + i)] = mask[i] ? 1 : 0;
}

void ar_cache_init(const denovo_model& m, ar_cache& c, int capacity) {
    const int d = m.cfg.dim_model;
    c.len = 0;
    c.capacity = capacity;
    c.k.assign(m.ar_layers.size(), std::vector<float>(size_t(capacity) * d));
    c.v.assign(m.ar_layers.size(), std::vector<float>(size_t(capacity) * d));
    c.key_valid.assign(size_t(capacity), 1);
}

void ar_cache_copy(ar_cache& dst, const ar_cache& src, int d) {
    dst.len = src.len;
    dst.capacity = src.capacity;
    if (dst.k.size() != src.k.size()) {
        dst.k.resize(src.k.size());
        dst.v.resize(src.v.size());
    }
    for (size_t l = 0; l < src.k.size(); ++l) {
        dst.k[l].resize(src.k[l].size());
        dst.v[l].resize(src.v[l].size());
        std::copy(src.k[l].begin(), src.k[l].begin() + long(src.len) * d, dst.k[l].begin());
        std::copy(src.v[l].begin(), src.v[l].begin() + long(src.len) * d, dst.v[l].begin());
    }
    dst.key_valid = src.key_valid;
}

void ar_feed(const denovo_model& m, const ar_memory& mem, ar_cache& c, float mass, int charge, const int* tokens,
             int n, float* logits, float* all_logits) {
    const int V = m.ar_vocab;
    std::vector<float> tmp;
    if (!all_logits) {
        tmp.resize(size_t(n) * V);
        all_logits = tmp.data();
    }
    ar_feed_item it;
    it.mem = &mem;
    it.cache = &c;
    it.mass = mass;
    it.charge = charge;
    it.tokens = tokens;
    it.n = n;
    it.all_logits = all_logits;
    ar_feed_batch(m, {it});
    if (logits) std::copy(all_logits + long(n - 1) * V, all_logits + long(n) * V, logits);
}

// The decoder layer of ar_forward_batch, one step at a time: the self-attention keys/values
// of each beam are appended to its cache, the cross-attention keys/values come projected
// once (ar_memory); the projections, norms and FFN are the layer's own pieces.
void ar_feed_batch(const denovo_model& m, const std::vector<ar_feed_item>& items) {
    TRANOVA_CHECK(m.has_ar(), "this model has no autoregressive decoder");
    core::backend& be = *m.be;
    const int d = m.cfg.dim_model, ff = m.cfg.dim_feedforward, V = m.ar_vocab, H = m.cfg.n_head;
    int R = 0, max_k = 0;
    std::vector<int> row0(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        const ar_feed_item& it = items[i];
        TRANOVA_CHECK(it.cache->len + it.n <= it.cache->capacity, "AR decoding past the cache capacity {}",
                      it.cache->capacity);
        row0[i] = R;
        R += it.n;
        max_k = std::max({max_k, it.cache->len + it.n, it.mem->Tk});
    }
    if (R == 0) return;
    std::vector<float> x(size_t(R) * d), y(size_t(R) * d), qkv(size_t(R) * 3 * d), ctx(size_t(R) * d);
    std::vector<float> tmp(size_t(R) * std::max(ff, d));
    // attention scratch: sized for the longest key range of this batch
    std::vector<float> scores(core::attention_scratch_floats(core::attention_shape_contiguous(1, R, max_k, H, d / H)));
    // embeddings + positions
    for (size_t i = 0; i < items.size(); ++i) {
        const ar_feed_item& it = items[i];
        ar_cache& c = *it.cache;
        for (int j = 0; j < it.n; ++j) {
            const int pos = c.len + j;
            float* row = x.data() + long(row0[i] + j) * d;
            if (pos == 0) {
                ar_precursor_embedding(m, it.mass, it.charge, row);
                c.key_valid[0] = 1;
            } else {
                const int32_t tok = it.tokens[j];
                token_rows(be, m, &tok, 1, row, &c.key_valid[size_t(pos)]);
            }
        }
        const std::vector<float> pos = position_table(be, m.ar_pos, c.len, it.n, d);
        be.add(x.data() + long(row0[i]) * d, x.data() + long(row0[i]) * d, pos.data(), size_t(it.n) * d);
    }
    for (size_t li = 0; li < m.ar_layers.size(); ++li) {
        const dec_layer& l = m.ar_layers[li];
        const layer_w w = weights_of(l);
        const layer_packed* pk = l.packed;
        // self-attention: one projection for all rows, attention per beam against its cache
        linear(be, qkv.data(), x.data(), l.sa.in_w, l.sa.in_b, pk ? &pk->sa_in : nullptr, R, d, 3 * d);
        for (size_t i = 0; i < items.size(); ++i) {
            const ar_feed_item& it = items[i];
            ar_cache& c = *it.cache;
            float* K = c.k[li].data();
            float* Vv = c.v[li].data();
            for (int j = 0; j < it.n; ++j) {
                const float* r = qkv.data() + long(row0[i] + j) * 3 * d;
                std::copy(r + d, r + 2 * d, K + long(c.len + j) * d);
                std::copy(r + 2 * d, r + 3 * d, Vv + long(c.len + j) * d);
            }
            // queries: the q columns of the fused projection (row stride 3d), positions
            // c.len .. c.len+n-1 against the cached keys 0 .. c.len+n-1 (causal, start c.len)
            core::attention_shape s = core::attention_shape_contiguous(1, it.n, c.len + it.n, H, d / H);
            s.ld_q = 3L * d;
            s.start = c.len;
            s.causal = true;
            s.key_valid = c.key_valid.data();
            be.attention(ctx.data() + long(row0[i]) * d, nullptr, qkv.data() + long(row0[i]) * 3 * d, K, Vv, s,
                         scores.data());
        }
        linear(be, y.data(), ctx.data(), l.sa.out_w, l.sa.out_b, pk ? &pk->sa_out : nullptr, R, d, d);
        add_ln(be, x.data(), nullptr, nullptr, x.data(), x.data(), y.data(), l.n1_w, l.n1_b, size_t(R), d);
        // cross-attention: rows of consecutive items sharing a memory attend together
        linear(be, qkv.data(), x.data(), l.ca.in_w, l.ca.in_b, pk ? &pk->ca_q : nullptr, R, d, d);
        for (size_t i = 0; i < items.size();) {
            size_t j = i;
            int rows = 0;
            while (j < items.size() && items[j].mem == items[i].mem) rows += items[j++].n;
            const ar_memory& mem = *items[i].mem;
            core::attention_shape s = core::attention_shape_contiguous(1, rows, mem.Tk, H, d / H);
            s.key_valid = mem.key_valid.data();
            be.attention(ctx.data() + long(row0[i]) * d, nullptr, qkv.data() + long(row0[i]) * d, mem.k[li].data(),
                         mem.v[li].data(), s, scores.data());
            i = j;
        }
        linear(be, y.data(), ctx.data(), l.ca.out_w, l.ca.out_b, pk ? &pk->ca_out : nullptr, R, d, d);
        add_ln(be, x.data(), nullptr, nullptr, x.data(), x.data(), y.data(), l.n2_w, l.n2_b, size_t(R), d);
        ffn_add_ln(be, x.data(), w, 2, size_t(R), d, ff, tmp.data(), y.data());
    }
    std::vector<float> logits(size_t(R) * V);
    be.linear(logits.data(), x.data(), m.ar_final_w, m.ar_final_b, R, d, V);
    for (size_t i = 0; i < items.size(); ++i) {
        items[i].cache->len += items[i].n;
        std::copy(logits.begin() + long(row0[i]) * V, logits.begin() + long(row0[i] + items[i].n) * V,
                  items[i].all_logits);
    }
}

}  // namespace tranova::denovo_model
