// Tranception checkpoint -> tranova weights (names: docs/weights-format.md, "tranception").
// HF Conv1D weights are stored [in, out]; we store every projection in the nn.Linear
// layout (out, in) so that core::linear_forward applies them directly.
#include "tranception/convert.hpp"

#include "tranception/model.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <cstring>
#include <set>

namespace tranova::tranception {

using core::checkpoint;
using core::checkpoint_tensor;
using core::json_value;

namespace {
int64_t cfg_int(const json_value& c, const char* key, const std::string& label) {
    const json_value* v = c.find(key);
    TRANOVA_CHECK(v && v->kind == json_value::number_v && v->is_integer, "{}: config field '{}' missing or not an integer",
                  label, key);
    return v->integer;
}
}  // namespace

core::weights convert_checkpoint(const checkpoint& ck, const json_value& config, std::vector<std::string>& notes) {
    const std::string& P = ck.path;
    const int64_t L = cfg_int(config, "n_layer", P), d = cfg_int(config, "n_embd", P),
                  H = cfg_int(config, "n_head", P), V = cfg_int(config, "vocab_size", P);
    int64_t inner = 4 * d;
    if (const json_value* ni = config.find("n_inner"); ni && ni->kind == json_value::number_v) inner = ni->integer;
    TRANOVA_CHECK(L > 0 && d > 0 && H > 0 && V > 0 && inner > 0 && d % H == 0 && H % 4 == 0,
                  "{}: config has bad sizes (n_layer {}, n_embd {}, n_head {} must divide n_embd and be a multiple "
                  "of 4, vocab_size {})",
                  P, L, d, H, V);
    const int64_t hd = d / H;

    core::weights w;
    w.arch = "tranception";
    core::config_from_json(w, config);
    w.config["n_inner"] = inner;
    w.config["head_dim"] = hd;

    std::set<std::string> used;
    auto take = [&](const std::string& name, const std::vector<int64_t>& shape) -> const checkpoint_tensor& {
        used.insert(name);
        return core::checkpoint_expect(ck, name, shape);
    };
    auto copy = [&](const std::string& ours, const std::string& theirs, const std::vector<int64_t>& shape) {
        w.add(ours, shape, take(theirs, shape).data.data());
    };
    std::vector<float> tmp;
    auto transposed = [&](const std::string& ours, const std::string& theirs, int64_t in, int64_t out) {
        const checkpoint_tensor& t = take(theirs, {in, out});
        tmp.resize((size_t)(in * out));
        core::transpose_matrix(tmp.data(), t.data.data(), in, out);
        w.add(ours, {out, in}, tmp.data());
    };

    // embedding / tied head: either name may be the stored one
    const bool has_wte = ck.has("transformer.wte.weight"), has_head = ck.has("lm_head.weight");
    TRANOVA_CHECK(has_wte || has_head, "{}: expected tensor 'transformer.wte.weight' [{}, {}] is missing", P, V, d);
    if (has_wte && has_head) {
        const auto& a = take("transformer.wte.weight", {V, d});
        const auto& b = take("lm_head.weight", {V, d});
        TRANOVA_CHECK(std::memcmp(a.data.data(), b.data.data(), a.data.size() * 4) == 0,
                      "{}: lm_head.weight differs from transformer.wte.weight (untied heads are not supported)", P);
        notes.push_back("lm_head.weight is tied to transformer.wte.weight (stored once)");
        w.add("token_embd.weight", {V, d}, a.data.data());
    } else {
        const std::string name = has_wte ? "transformer.wte.weight" : "lm_head.weight";
        notes.push_back(fmt::format("tied embedding/LM head read from '{}'", name));
        w.add("token_embd.weight", {V, d}, take(name, {V, d}).data.data());
    }

    // ALiBi slopes: from the stored buffer alibi[h, 0, j] = slope_h * j, checked against it
    std::vector<float> slopes((size_t)H);
    if (ck.has("transformer.alibi")) {
        const auto& a = ck.at("transformer.alibi");
        used.insert("transformer.alibi");
        TRANOVA_CHECK(a.shape.size() == 3 && a.shape[0] == H && a.shape[1] == 1 && a.shape[2] >= 2,
                      "{}: tensor 'transformer.alibi' has shape {}, expected [{}, 1, n_positions]", P,
                      shape_string(a.shape), H);
        const int64_t np = a.shape[2];
        for (int64_t h = 0; h < H; h++) {
            slopes[h] = a.data[(size_t)(h * np + 1)];
            for (int64_t j = 0; j < np; j++)
                TRANOVA_CHECK(a.data[(size_t)(h * np + j)] == slopes[h] * (float)j,
                              "{}: tensor 'transformer.alibi' is not slope * position at head {}, position {}", P, h, j);
        }
    } else {
        slopes = grouped_alibi_slopes(int(H));
        notes.push_back("transformer.alibi absent: slopes computed with get_slopes(n_head, 'grouped_alibi')");
    }
    w.add("alibi_slopes", {H}, slopes.data());

    int ignored_buffers = 0;
    for (int64_t i = 0; i < L; i++) {
        const std::string t = fmt::format("transformer.h.{}.", i), o = fmt::format("blk.{}.", i);
        copy(o + "ln_1.weight", t + "ln_1.weight", {d});
        copy(o + "ln_1.bias", t + "ln_1.bias", {d});
        transposed(o + "attn_qkv.weight", t + "attn.c_attn.weight", d, 3 * d);
        copy(o + "attn_qkv.bias", t + "attn.c_attn.bias", {3 * d});
        for (const char* qkv : {"q", "k", "v"}) {
            const std::string mod = std::string(qkv[0] == 'q' ? "query" : qkv[0] == 'k' ? "key" : "value") + "_depthwiseconv";
            for (int g = 0; g < 3; g++) {
                const int64_t k = 3 + 2 * g;
                const std::string src = fmt::format("{}attn.{}.{}.conv.", t, mod, g);
                const std::string dst = fmt::format("{}attn_conv_{}_k{}.", o, qkv, k);
                w.add(dst + "weight", {hd, k}, take(src + "weight", {hd, 1, k}).data.data());
                copy(dst + "bias", src + "bias", {hd});
            }
        }
        transposed(o + "attn_out.weight", t + "attn.c_proj.weight", d, d);
        copy(o + "attn_out.bias", t + "attn.c_proj.bias", {d});
        copy(o + "ln_2.weight", t + "ln_2.weight", {d});
        copy(o + "ln_2.bias", t + "ln_2.bias", {d});
        transposed(o + "mlp_fc.weight", t + "mlp.c_fc.weight", d, inner);
        copy(o + "mlp_fc.bias", t + "mlp.c_fc.bias", {inner});
        transposed(o + "mlp_proj.weight", t + "mlp.c_proj.weight", inner, d);
        copy(o + "mlp_proj.bias", t + "mlp.c_proj.bias", {d});
        for (const char* buf : {"attn.bias", "attn.masked_bias"})
            if (ck.has(t + buf)) used.insert(t + buf), ignored_buffers++;
    }
    copy("ln_f.weight", "transformer.ln_f.weight", {d});
    copy("ln_f.bias", "transformer.ln_f.bias", {d});
    if (ignored_buffers)
        notes.push_back(fmt::format("ignored {} constant buffers (attn.bias causal masks, attn.masked_bias)",
                                    ignored_buffers));
    for (const std::string& n : ck.names)
        TRANOVA_CHECK(used.count(n), "{}: unexpected tensor '{}' for arch tranception (wrong --arch?)", P, n);
    return w;
}

}  // namespace tranova::tranception
