#include "tranception/model.hpp"

#include "core/checkpoint.hpp"
#include "tranception/convert.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"
#include "util/error.hpp"
#include "util/threads.hpp"

#include "core/ops.hpp"

#include <fmt/format.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace tranova::tranception {

// ---------------------------------------------------------------------------------------
// ALiBi slopes (official get_slopes, grouped mode)

static std::vector<double> standard_slopes(int n) {
    auto pow2 = [](int k) {
        double start = std::pow(2.0, -std::pow(2.0, -(std::log2(double(k)) - 3)));
        std::vector<double> r(k);
        for (int i = 0; i < k; ++i) r[i] = start * std::pow(start, i);
        return r;
    };
    double l = std::log2(double(n));
    if (l == std::floor(l)) return pow2(n);
    int c = 1 << int(std::floor(l));
    auto r = pow2(c);
    auto extra = standard_slopes(2 * c);
    for (int i = 0; i < n - c; ++i) r.push_back(extra[2 * i]);
    return r;
}

std::vector<float> grouped_alibi_slopes(int n_head) {
    TRANOVA_CHECK(n_head % 4 == 0 && n_head >= 4, "grouped ALiBi needs n_head divisible by 4 (got {})", n_head);
    auto base = standard_slopes(n_head / 4);
    std::vector<float> out;
    for (int g = 0; g < 4; ++g)
        for (double s : base) out.push_back(static_cast<float>(s));
    return out;
}

// ---------------------------------------------------------------------------------------
// Loading

model_config model_config_from_weights(const core::weights& w, const std::string& src) {
    TRANOVA_CHECK(w.arch == "tranception", "{}: weight file holds arch '{}', expected 'tranception' "
                  "(convert the checkpoint with --arch tranception)", src, w.arch);
    model_config c;
    c.n_layer = int(w.config_int("n_layer"));
    c.n_embd = int(w.config_int("n_embd"));
    c.n_head = int(w.config_int("n_head"));
    c.n_inner = int(w.config_int_or("n_inner", 4 * c.n_embd));
    c.vocab = int(w.config_int_or("vocab_size", 25));
    c.n_ctx = int(w.config_int_or("n_ctx", w.config_int_or("n_positions", 1024)));
    c.ln_eps = float(w.config_double_or("layer_norm_epsilon", 1e-5));
    const int d = c.n_embd, H = c.n_head, ni = c.n_inner, V = c.vocab;
    TRANOVA_CHECK(V == 25, "{}: vocab_size is {}, Tranception uses 25", src, V);
    TRANOVA_CHECK(d > 0 && H > 0 && d % H == 0 && H % 4 == 0 && c.n_layer > 0 && ni > 0 && c.n_ctx > 2,
                  "{}: unsupported Tranception shape (n_embd {}, n_head {}, n_layer {})", src, d, H, c.n_layer);
    return c;
}

std::vector<float> model_slopes_from_weights(const core::weights& w, const model_config& c, const std::string& src) {
    const int H = c.n_head;
    const float* p = w.get("alibi_slopes", {H});
    std::vector<float> slopes(p, p + H);
    auto formula = grouped_alibi_slopes(H);
    for (int h = 0; h < H; ++h)
        TRANOVA_CHECK(slopes[h] == formula[h], "{}: ALiBi slope of head {} is {}, grouped_alibi gives {}", src, h,
                      slopes[h], formula[h]);
    return slopes;
}

model model_from_weights(const core::weights& w, const std::string& src, core::linear_kernel kernel) {
    model m;
    m.cfg = model_config_from_weights(w, src);
    const auto& c = m.cfg;
    m.random_weights = w.config_int_or("tranova_random_weights", 0) != 0;
    const int d = c.n_embd, H = c.n_head, hd = d / H, ni = c.n_inner, V = c.vocab;
    auto vec = [&](const std::string& name, std::vector<int64_t> shape) {
        const float* p = w.get(name, shape);
        size_t n = 1;
        for (auto x : shape) n *= size_t(x);
        return std::vector<float>(p, p + n);
    };
    // Linear weights: the file's (PyTorch) [out, in] layout, packed for this CPU.
    auto lin = [&](const std::string& name, int in, int out) {
        return core::pack_linear(w.get(name, {out, in}), in, out, kernel);
    };
    m.wte = vec("token_embd.weight", {V, d});
    m.head = core::pack_linear(m.wte.data(), d, V, kernel);
    m.lnf_w = vec("ln_f.weight", {d});
    m.lnf_b = vec("ln_f.bias", {d});
    m.slopes = model_slopes_from_weights(w, c, src);
    m.layers.resize(c.n_layer);
    const char* qkv[3] = {"q", "k", "v"};
    for (int l = 0; l < c.n_layer; ++l) {
        auto& L = m.layers[l];
        std::string p = fmt::format("blk.{}.", l);
        L.ln1_w = vec(p + "ln_1.weight", {d});
        L.ln1_b = vec(p + "ln_1.bias", {d});
        L.ln2_w = vec(p + "ln_2.weight", {d});
        L.ln2_b = vec(p + "ln_2.bias", {d});
        L.attn = lin(p + "attn_qkv.weight", d, 3 * d);
        L.attn_b = vec(p + "attn_qkv.bias", {3 * d});
        L.proj = lin(p + "attn_out.weight", d, d);
        L.proj_b = vec(p + "attn_out.bias", {d});
        for (int q = 0; q < 3; ++q)
            for (int g = 0; g < 3; ++g) {
                int k = 2 * g + 3;
                std::string n = fmt::format("{}attn_conv_{}_k{}.", p, qkv[q], k);
                L.conv_w[q][g] = vec(n + "weight", {hd, k});
                L.conv_b[q][g] = vec(n + "bias", {hd});
            }
        L.fc = lin(p + "mlp_fc.weight", d, ni);
        L.fc_b = vec(p + "mlp_fc.bias", {ni});
        L.fc2 = lin(p + "mlp_proj.weight", ni, d);
        L.fc2_b = vec(p + "mlp_proj.bias", {d});
    }
    return m;
}

core::weights model_weights_load(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    TRANOVA_CHECK(fs::exists(path, ec), "{}: model not found", path);
    bool is_h5 = false;
    if (fs::is_regular_file(path, ec)) {
        std::ifstream f(path, std::ios::binary);
        char sig[8] = {};
        f.read(sig, 8);
        is_h5 = std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
    }
    if (is_h5) return core::weights_read(path);
    fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    fs::path cfg = dir / "config.json";
    TRANOVA_CHECK(fs::exists(cfg, ec), "{}: not a tranova weight file, and no config.json beside it for a checkpoint",
                  path);
    core::checkpoint ck = core::checkpoint_read(path);
    std::vector<std::string> notes;
    core::weights w = convert_checkpoint(ck, core::json_parse_file(cfg.string()), notes);
    w.source = ck.path;
    w.require_finite(ck.path);  // a NaN weight would only show up as NaN scores later
    return w;
}

model model_load(const std::string& path, core::linear_kernel kernel) {
    return model_from_weights(model_weights_load(path), path, kernel);
}

// ---------------------------------------------------------------------------------------
// Layer pieces shared with training

qkv_conv_params layer_conv_params(const layer_weights& L) {
    qkv_conv_params p;
    for (int cc = 0; cc < 3; ++cc)
        for (int g = 0; g < 3; ++g) p.w[cc][g] = L.conv_w[cc][g].data(), p.b[cc][g] = L.conv_b[cc][g].data();
    return p;
}

void qkv_convolutions_forward(float* post, const float* pre, const qkv_conv_params& p, const model_config& c, int B,
                              int T, int start, long bs_pre, long bs_post) {
    const int d = c.n_embd, d3 = 3 * d, G = c.n_head / 4, hd = c.head_dim();
    for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t)
            for (int cc = 0; cc < 3; ++cc)
                std::memcpy(post + b * bs_post + size_t(t) * d3 + cc * d,
                            pre + b * bs_pre + size_t(start + t) * d3 + cc * d, sizeof(float) * G * hd);
    // The nine convolutions (Q, K, V x groups 1..3) as tasks of one parallel region, each
    // conv on one thread (the op runs serially inside a region; every output is the same
    // sum in the same order, so the bits are those of nine parallel calls): nine regions
    // were nine fork/join barriers per layer, costly on a shared machine. Largest kernels
    // first, so that two threads end together.
    const bool parallel = long(B) * T * G * hd * 9 > 16384 * 4 && !omp_in_parallel();
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int task = 0; task < 9; ++task) {
        const int g = 3 - task / 3, cc = task % 3;
        core::conv1d_shape cs;
        cs.B = B, cs.T = T, cs.start = start, cs.C = G * hd, cs.WC = hd, cs.K = 2 * g + 1;
        cs.ld_in = cs.ld_out = d3, cs.bs_in = bs_pre, cs.bs_out = bs_post;
        const int off = cc * d + g * G * hd;
        core::conv1d_causal_depthwise_forward(post + off, pre + off, p.w[cc][g - 1], p.b[cc][g - 1], cs);
    }
}

core::attention_shape layer_attention_shape(const model_config& c, const float* slopes, int B, int T, int TK,
                                            int start, const uint8_t* key_valid) {
    const int d = c.n_embd, d3 = 3 * d;
    core::attention_shape s;
    s.B = B, s.T = T, s.TK = TK, s.start = start, s.NH = c.n_head, s.HD = c.head_dim();
    s.causal = true, s.alibi_slopes = slopes, s.key_valid = key_valid;
    s.scale = 1.0f / std::sqrt(float(c.head_dim()));
    s.ld_q = s.ld_k = s.ld_v = d3, s.bs_q = s.bs_k = s.bs_v = long(TK) * d3;
    s.ld_o = d, s.bs_o = long(T) * d;
    return s;
}

// ---------------------------------------------------------------------------------------
// Forward: every op is a core op (core/ops.hpp). Items are processed row-concatenated
// through the position-wise ops (one GEMM over all rows of the batch); the convolutions
// and attention run per item on a full-length buffer whose rows before the item's start
// are copied from the wild type's prefix cache (only the rows the ops read: the last 6
// pre-convolution rows, and all earlier post-convolution K/V rows).

void model_forward(const model& m, const prefix_cache* cache, const std::vector<batch_item>& items,
                   std::vector<float>& logprobs_out, workspace& ws, prefix_cache* fill,
                   std::vector<float>* raw_logits) {
    const auto& c = m.cfg;
    const int d = c.n_embd, ni = c.n_inner, V = c.vocab, d3 = 3 * d;
    const int B = static_cast<int>(items.size());
    constexpr int max_k = 7;  // widest convolution kernel
    std::vector<int> row0(B + 1, 0);
    int maxT = 0;
    for (int b = 0; b < B; ++b) {
        const auto& it = items[b];
        TRANOVA_CHECK(it.T >= 1 && it.T <= c.n_ctx, "sequence of {} tokens exceeds the model context of {}", it.T,
                      c.n_ctx);
        TRANOVA_CHECK(it.start >= 0 && it.start < it.T, "bad start position {} for {} tokens", it.start, it.T);
        TRANOVA_CHECK(it.start == 0 || (cache && cache->T >= it.start), "start position {} needs a prefix cache",
                      it.start);
        row0[b + 1] = row0[b] + (it.T - it.start);
        maxT = std::max(maxT, it.T);
    }
    const int R = row0[B];
    if (fill) {
        TRANOVA_CHECK(B == 1 && items[0].start == 0, "a prefix cache is filled from one full sequence");
        fill->T = items[0].T;
        fill->ids.assign(items[0].ids, items[0].ids + items[0].T);
        fill->qkv_pre.assign(size_t(c.n_layer) * fill->T * d3, 0.f);
        fill->kv_post.assign(size_t(c.n_layer) * fill->T * 2 * d, 0.f);
    }
    ws.h.resize(size_t(R) * d);
    ws.a.resize(size_t(R) * d);
    ws.qkv.resize(size_t(R) * d3);
    ws.qkv_c.resize(size_t(maxT) * d3);   // one item's post-convolution Q|K|V, absolute rows [0, T)
    ws.pre.resize(size_t(maxT) * d3);     // one item's pre-convolution rows (cached prefix + new rows)
    ws.att.resize(size_t(R) * d);
    ws.fc.resize(size_t(R) * ni);
    ws.logits.resize(size_t(R) * V);

    // Embedding (+ the token-type row 0).
    ws.ids.resize(R);
    for (int b = 0; b < B; ++b)
        for (int t = items[b].start; t < items[b].T; ++t) ws.ids[row0[b] + t - items[b].start] = items[b].ids[t];
    core::embedding_forward(ws.h.data(), ws.ids.data(), m.wte.data(), R, d, V);
    if (m.token_type_quirk)
        for (int r = 0; r < R; ++r) core::add_forward(&ws.h[size_t(r) * d], &ws.h[size_t(r) * d], m.wte.data(), d);

    ws.scratch.resize(core::attention_scratch_floats(layer_attention_shape(c, m.slopes.data(), 1, maxT, maxT, 0)));
    for (int l = 0; l < c.n_layer; ++l) {
        const auto& L = m.layers[l];
        if (l == 0 && cache && !fill) {
            // Layer 0: a row's pre-convolution Q|K|V depends only on its token (no position
            // embedding; ALiBi acts inside attention), so rows whose token is the wild
            // type's at the same position take it from the cache; only the changed rows
            // (one per single mutant) go through layernorm and the projection.
            ws.new_rows.clear();
            for (int b = 0; b < B; ++b)
                for (int t = items[b].start; t < items[b].T; ++t) {
                    const int r = row0[b] + t - items[b].start;
                    if (t < cache->T && items[b].ids[t] == cache->ids[t])
                        std::memcpy(&ws.qkv[size_t(r) * d3], &cache->qkv_pre[size_t(t) * d3], sizeof(float) * d3);
                    else
                        ws.new_rows.push_back(r);
                }
            const int nn = static_cast<int>(ws.new_rows.size());
            if (nn > 0) {
                ws.gather.resize(size_t(nn) * d);
                ws.gather_qkv.resize(size_t(nn) * d3);
                for (int i = 0; i < nn; ++i)
                    std::memcpy(&ws.gather[size_t(i) * d], &ws.h[size_t(ws.new_rows[i]) * d], sizeof(float) * d);
                core::layernorm_forward(ws.gather.data(), ws.gather.data(), L.ln1_w.data(), L.ln1_b.data(), nn, d,
                                        c.ln_eps);
                core::linear_forward_packed(ws.gather_qkv.data(), ws.gather.data(), L.attn, L.attn_b.data(), nn);
                for (int i = 0; i < nn; ++i)
                    std::memcpy(&ws.qkv[size_t(ws.new_rows[i]) * d3], &ws.gather_qkv[size_t(i) * d3], sizeof(float) * d3);
            }
        } else {
            core::layernorm_forward(ws.a.data(), ws.h.data(), L.ln1_w.data(), L.ln1_b.data(), R, d, c.ln_eps);
            core::linear_forward_packed(ws.qkv.data(), ws.a.data(), L.attn, L.attn_b.data(), R);
        }
        const qkv_conv_params conv = layer_conv_params(L);
        const float* cache_pre = cache ? &cache->qkv_pre[size_t(l) * cache->T * d3] : nullptr;
        const float* cache_kv = cache ? &cache->kv_post[size_t(l) * cache->T * 2 * d] : nullptr;
        if (fill) std::memcpy(&fill->qkv_pre[size_t(l) * fill->T * d3], ws.qkv.data(), sizeof(float) * R * d3);

        for (int b = 0; b < B; ++b) {
            const auto& it = items[b];
            const int s0 = it.start, T = it.T, nr = T - s0;
            const float* rows = &ws.qkv[size_t(row0[b]) * d3];
            // Pre-convolution input at absolute row 0: the batch rows directly, or (cached
            // start) the last max_k-1 cached rows followed by the new rows.
            const float* pre = rows;
            if (s0 > 0) {
                const int c0 = std::max(0, s0 - (max_k - 1));
                std::memcpy(&ws.pre[size_t(c0) * d3], cache_pre + size_t(c0) * d3, sizeof(float) * (s0 - c0) * d3);
                std::memcpy(&ws.pre[size_t(s0) * d3], rows, sizeof(float) * nr * d3);
                pre = ws.pre.data();
            }
            float* post = ws.qkv_c.data();
            // Cached post-convolution K|V of positions < start.
            for (int t = 0; t < s0; ++t)
                std::memcpy(post + size_t(t) * d3 + d, cache_kv + size_t(t) * 2 * d, sizeof(float) * 2 * d);
            // Causal depthwise convolutions of the new rows.
            qkv_convolutions_forward(post + size_t(s0) * d3, pre, conv, c, 1, nr, s0, 0, 0);
            if (fill) {
                float* kv = &fill->kv_post[size_t(l) * fill->T * 2 * d];
                for (int t = 0; t < T; ++t)
                    std::memcpy(kv + size_t(t) * 2 * d, post + size_t(t) * d3 + d, sizeof(float) * 2 * d);
            }
            // Causal attention with grouped ALiBi (+slope * key index) over keys [0, T).
            const core::attention_shape s = layer_attention_shape(c, m.slopes.data(), 1, nr, T, s0);
            core::attention_forward(&ws.att[size_t(row0[b]) * d], nullptr, post + size_t(s0) * d3,
                                    post + d, post + 2 * d, s, ws.scratch.data());
        }
        // h = h + proj(att), h = h + fc2(relu(fc(ln_2(h)))^2): residual adds and the
        // activation are the kernels' epilogues.
        core::linear_forward_packed(ws.h.data(), ws.att.data(), L.proj, L.proj_b.data(), R,
                                    core::linear_epilogue::accumulate);

        core::layernorm_forward(ws.a.data(), ws.h.data(), L.ln2_w.data(), L.ln2_b.data(), R, d, c.ln_eps);
        core::linear_forward_packed(ws.fc.data(), ws.a.data(), L.fc, L.fc_b.data(), R,
                                    core::linear_epilogue::squared_relu);
        core::linear_forward_packed(ws.h.data(), ws.fc.data(), L.fc2, L.fc2_b.data(), R,
                                    core::linear_epilogue::accumulate);
    }
    core::layernorm_forward(ws.a.data(), ws.h.data(), m.lnf_w.data(), m.lnf_b.data(), R, d, c.ln_eps);
    core::linear_forward_packed(ws.logits.data(), ws.a.data(), m.head, nullptr, R);  // tied head
    if (raw_logits) raw_logits->assign(ws.logits.begin(), ws.logits.begin() + size_t(R) * V);
    logprobs_out.resize(size_t(R) * V);
    core::log_softmax_forward(logprobs_out.data(), ws.logits.data(), R, V);
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

