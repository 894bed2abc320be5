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

namespace {
const char* const qkv_letter[3] = {"q", "k", "v"};
std::string layer_prefix(int l) { return fmt::format("blk.{}.", l); }
std::string conv_name(int l, int cc, int g) {  // g = 0..2 -> kernel 3, 5, 7
    return fmt::format("blk.{}.attn_conv_{}_k{}.", l, qkv_letter[cc], 2 * g + 3);
}
}  // namespace

void declare_params(core::param_arena& a, const model_config& c) {
    const int64_t d = c.n_embd, hd = c.head_dim(), ni = c.n_inner, V = c.vocab;
    a.add("token_embd.weight", {V, d});
    for (int l = 0; l < c.n_layer; ++l) {
        const std::string p = layer_prefix(l);
        a.add(p + "ln_1.weight", {d});
        a.add(p + "ln_1.bias", {d});
        a.add(p + "attn_qkv.weight", {3 * d, d});
        a.add(p + "attn_qkv.bias", {3 * d});
        for (int cc = 0; cc < 3; ++cc)
            for (int g = 0; g < 3; ++g) {
                a.add(conv_name(l, cc, g) + "weight", {hd, 2 * g + 3});
                a.add(conv_name(l, cc, g) + "bias", {hd});
            }
        a.add(p + "attn_out.weight", {d, d});
        a.add(p + "attn_out.bias", {d});
        a.add(p + "ln_2.weight", {d});
        a.add(p + "ln_2.bias", {d});
        a.add(p + "mlp_fc.weight", {ni, d});
        a.add(p + "mlp_fc.bias", {ni});
        a.add(p + "mlp_proj.weight", {d, ni});
        a.add(p + "mlp_proj.bias", {d});
    }
    a.add("ln_f.weight", {d});
    a.add("ln_f.bias", {d});
}

param_slots resolve_param_slots(const core::param_arena& a, const model_config& c) {
    auto at = [&](const std::string& n) { return a.tensor(n).offset; };
    param_slots ps;
    ps.wte = at("token_embd.weight");
    ps.lnf_w = at("ln_f.weight");
    ps.lnf_b = at("ln_f.bias");
    ps.layers.resize(c.n_layer);
    for (int l = 0; l < c.n_layer; ++l) {
        auto& s = ps.layers[l];
        const std::string p = layer_prefix(l);
        s.ln1_w = at(p + "ln_1.weight"), s.ln1_b = at(p + "ln_1.bias");
        s.qkv_w = at(p + "attn_qkv.weight"), s.qkv_b = at(p + "attn_qkv.bias");
        for (int cc = 0; cc < 3; ++cc)
            for (int g = 0; g < 3; ++g) {
                s.conv_w[cc][g] = at(conv_name(l, cc, g) + "weight");
                s.conv_b[cc][g] = at(conv_name(l, cc, g) + "bias");
            }
        s.proj_w = at(p + "attn_out.weight"), s.proj_b = at(p + "attn_out.bias");
        s.ln2_w = at(p + "ln_2.weight"), s.ln2_b = at(p + "ln_2.bias");
        s.fc_w = at(p + "mlp_fc.weight"), s.fc_b = at(p + "mlp_fc.bias");
        s.fc2_w = at(p + "mlp_proj.weight"), s.fc2_b = at(p + "mlp_proj.bias");
    }
    return ps;
}

void params_from_weights(core::param_arena& a, const core::weights& w) {
    for (const auto& t : a.tensors()) {
        const float* p = w.get(t.name, t.shape);  // throws naming the file and tensor (missing, other shape)
        std::memcpy(a.params() + t.offset, p, sizeof(float) * t.numel);
    }
}

const std::initializer_list<core::op_kind> inference_ops = {
    core::op_kind::embedding, core::op_kind::add,       core::op_kind::layernorm,  core::op_kind::linear_packed,
    core::op_kind::conv1d,    core::op_kind::attention, core::op_kind::log_softmax,
};

void use_backend(model& m, core::backend& be) {
    be.require("Tranception inference", inference_ops);
    m.be = &be;
}

// The arena and everything read from the weight file, before any inference layout.
static model model_params_from_weights(const core::weights& w, const std::string& src) {
    model m;
    m.cfg = model_config_from_weights(w, src);
    m.random_weights = w.config_int_or("tranova_random_weights", 0) != 0;
    declare_params(m.params, m.cfg);
    m.params.allocate_params_only();
    params_from_weights(m.params, w);
    m.slots = resolve_param_slots(m.params, m.cfg);
    m.slopes = model_slopes_from_weights(w, m.cfg, src);
    return m;
}

// The inference-only layouts, derived from the arena: (out, in) tensors packed for this CPU.
static void model_pack(model& m, core::linear_kernel kernel) {
    const auto& c = m.cfg;
    const int d = c.n_embd, ni = c.n_inner, V = c.vocab;
    const float* P = m.params.params();
    m.head = core::pack_linear(P + m.slots.wte, d, V, kernel);
    m.packed.resize(c.n_layer);
    for (int l = 0; l < c.n_layer; ++l) {
        const layer_slots& s = m.slots.layers[l];
        layer_packed& k = m.packed[l];
        k.qkv = core::pack_linear(P + s.qkv_w, d, 3 * d, kernel);
        k.proj = core::pack_linear(P + s.proj_w, d, d, kernel);
        k.fc = core::pack_linear(P + s.fc_w, d, ni, kernel);
        k.fc2 = core::pack_linear(P + s.fc2_w, ni, d, kernel);
        // Inference reads these four from the packed copies only: give the arena's pages
        // back as each layer is packed, so a loaded model holds its linear weights once
        // (the Large model would otherwise keep ~2.8 GB twice). wte stays: the embedding
        // lookup reads it.
        m.params.release_param_pages(s.qkv_w, size_t(3) * d * d);
        m.params.release_param_pages(s.proj_w, size_t(d) * d);
        m.params.release_param_pages(s.fc_w, size_t(ni) * d);
        m.params.release_param_pages(s.fc2_w, size_t(d) * ni);
    }
    use_backend(m, core::cpu_backend());
}

model model_from_weights(const core::weights& w, const std::string& src, core::linear_kernel kernel) {
    model m = model_params_from_weights(w, src);
    model_pack(m, kernel);
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
    // The file's weights are freed before packing: peak memory is two copies of the
    // parameters (file + arena, then arena + panels), never three.
    model m = model_params_from_weights(model_weights_load(path), path);
    model_pack(m, kernel);
    return m;
}

// ---------------------------------------------------------------------------------------
// Layer pieces shared with training

qkv_conv_params layer_conv_params(const float* P, const layer_slots& s) {
    qkv_conv_params p;
    for (int cc = 0; cc < 3; ++cc)
        for (int g = 0; g < 3; ++g) p.w[cc][g] = P + s.conv_w[cc][g], p.b[cc][g] = P + s.conv_b[cc][g];
    return p;
}

void qkv_convolutions_forward(core::backend& be, float* post, const float* pre, const qkv_conv_params& p, const model_config& c, int B,
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
        be.conv1d_causal_depthwise(post + off, pre + off, p.w[cc][g - 1], p.b[cc][g - 1], cs);
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

}  // namespace tranova::tranception

