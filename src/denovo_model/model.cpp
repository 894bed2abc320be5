// Forwards of the de novo networks (see model.hpp). Layer math follows torch.nn's
// post-LayerNorm TransformerEncoderLayer / TransformerDecoderLayer (ReLU, eps 1e-5).
#include "denovo_model/model.hpp"

#include "denovo/peptide.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace tranova::denovo_model {

residue_table massivekb_residues() {
    // The one MassIVE-KB table is src/denovo's vocabulary (same tokens, order and masses).
    residue_table r;
    for (const denovo::residue& x : denovo::vocabulary::massivekb().residues()) {
        r.tokens.push_back(x.token);
        r.masses.push_back(x.mass);
    }
    return r;
}

std::string residues_to_string(const residue_table& r) {
    std::string s;
    for (int i = 0; i < r.size(); ++i) {
        if (i) s += ',';
        s += fmt::format("{}={:.9g}", r.tokens[i], r.masses[i]);
    }
    return s;
}

residue_table residues_from_string(const std::string& s) {
    residue_table r;
    for (auto item : split(s, ',')) {
        // the token itself may contain '=' never, but may start with '+'/'-'; split at the last '='
        auto eq = item.rfind('=');
        TRANOVA_CHECK(eq != std::string_view::npos && eq > 0, "bad residue entry '{}' in model config", item);
        double mass = 0;
        TRANOVA_CHECK(parse_double(item.substr(eq + 1), mass), "bad residue mass in '{}'", item);
        r.tokens.emplace_back(item.substr(0, eq));
        r.masses.push_back(mass);
    }
    return r;
}

model_arch arch_from_string(const std::string& s) {
    if (s == "casanovo") return model_arch::casanovo;
    if (s == "primenovo") return model_arch::primenovo;
    if (s == "crossnovo") return model_arch::crossnovo;
    TRANOVA_FAIL("unknown de novo architecture '{}' (expected casanovo, primenovo or crossnovo)", s);
}

const char* arch_name(model_arch a) {
    switch (a) {
        case model_arch::casanovo: return "casanovo";
        case model_arch::primenovo: return "primenovo";
        case model_arch::crossnovo: return "crossnovo";
    }
    return "?";
}

// ---------------------------------------------------------------------------------------
// weights

namespace {

struct binder {
    const tensor_lookup& lookup;
    std::vector<std::string>* bound;  // names read (may be null)
    tensor_view find(const std::string& name) {
        tensor_view v;
        if (!lookup(name, v)) return {};
        if (bound) bound->push_back(name);
        return v;
    }
    tensor_view require(const std::string& name) {
        tensor_view x = find(name);
        TRANOVA_CHECK(x.data, "model weights lack tensor '{}'", name);
        return x;
    }
    const float* ptr(const std::string& name, std::initializer_list<int64_t> shape) {
        tensor_view x = require(name);
        int64_t want = 1;
        for (auto s : shape) want *= s;
        TRANOVA_CHECK(x.numel() == want, "model tensor '{}' has {} values, expected {}", name, x.numel(), want);
        return x.data;
    }
    bool has(const std::string& name) const {
        tensor_view v;
        return lookup(name, v);
    }
    float_encoder enc(const std::string& prefix, int d) {
        float_encoder e;
        tensor_view s = find(prefix + "sin_term"), c = find(prefix + "cos_term");
        TRANOVA_CHECK(s.data && c.data, "model weights lack tensor '{}sin_term'/'cos_term'", prefix);
        e.sin_term = s.data;
        e.cos_term = c.data;
        e.n_sin = int(s.numel());
        e.n_cos = int(c.numel());
        TRANOVA_CHECK(e.n_sin + e.n_cos == d, "'{}sin_term' + cos_term sizes {} + {} != dim_model {}", prefix, e.n_sin,
                      e.n_cos, d);
        return e;
    }
    mha_weights mha(const std::string& p, int d) {
        return {ptr(p + "in_proj_weight", {3 * d, d}), ptr(p + "in_proj_bias", {3 * d}),
                ptr(p + "out_proj.weight", {d, d}), ptr(p + "out_proj.bias", {d})};
    }
    dec_layer dec(const std::string& p, int d, int ff) {
        dec_layer l;
        l.sa = mha(p + "self_attn.", d);
        l.ca = mha(p + "multihead_attn.", d);
        l.l1_w = ptr(p + "linear1.weight", {ff, d});
        l.l1_b = ptr(p + "linear1.bias", {ff});
        l.l2_w = ptr(p + "linear2.weight", {d, ff});
        l.l2_b = ptr(p + "linear2.bias", {d});
        l.n1_w = ptr(p + "norm1.weight", {d});
        l.n1_b = ptr(p + "norm1.bias", {d});
        l.n2_w = ptr(p + "norm2.weight", {d});
        l.n2_b = ptr(p + "norm2.bias", {d});
        l.n3_w = ptr(p + "norm3.weight", {d});
        l.n3_b = ptr(p + "norm3.bias", {d});
        return l;
    }
};

int count_layers(const binder& b, const std::string& prefix) {
    int n = 0;
    while (b.has(prefix + std::to_string(n) + ".linear1.weight")) ++n;
    return n;
}

int cfg_int(const std::map<std::string, std::string>& c, const std::string& key, int def) {
    auto it = c.find(key);
    if (it == c.end()) return def;
    long long v = 0;
    TRANOVA_CHECK(parse_int(it->second, v), "model config '{}' = '{}' is not an integer", key, it->second);
    return int(v);
}
double cfg_double(const std::map<std::string, std::string>& c, const std::string& key, double def) {
    auto it = c.find(key);
    if (it == c.end()) return def;
    double v = 0;
    TRANOVA_CHECK(parse_double(it->second, v), "model config '{}' = '{}' is not a number", key, it->second);
    return v;
}

}  // namespace

model_config config_from_weights(const weight_file& wf) { return config_from_fields(wf.arch, wf.config); }

model_config config_from_fields(const std::string& arch, const std::map<std::string, std::string>& k) {
    model_config c;
    c.arch = arch_from_string(arch);
    c.n_head = cfg_int(k, "n_head", 0);
    TRANOVA_CHECK(c.n_head > 0, "model config lacks n_head");
    c.nar_length = cfg_int(k, "nar_length", 40);
    c.max_length = cfg_int(k, "max_length", 100);
    c.min_peptide_len = cfg_int(k, "min_peptide_len", 6);
    c.precursor_mass_tol = cfg_double(k, "precursor_mass_tol", 50);
    c.isotope_min = cfg_int(k, "isotope_error_min", 0);
    c.isotope_max = cfg_int(k, "isotope_error_max", 1);
    c.mass_control_tol = cfg_double(k, "mass_control_tol", 0.1);
    c.memory_pos_encoding = cfg_int(k, "memory_pos_encoding", 1) != 0;
    auto it = k.find("preset");
    c.preset = it != k.end() ? it->second : (c.arch == model_arch::casanovo ? "casanovo" : "primenovo");
    it = k.find("residues");
    c.residues = it != k.end() ? residues_from_string(it->second) : massivekb_residues();
    return c;
}

namespace {

// Points every weight of m (cfg already read) at the tensors `lookup` finds.
void bind_weights(denovo_model& m, const tensor_lookup& lookup, std::vector<std::string>* bound) {
    binder b{lookup, bound};
    auto& c = m.cfg;
    tensor_view latent = b.require("encoder.latent_spectrum");
    const int64_t d64 = latent.numel();
    TRANOVA_CHECK(d64 > 0 && d64 <= 65536, "encoder.latent_spectrum has {} values (dim_model 1..65536)", d64);
    int d = int(d64);
    c.dim_model = d;
    TRANOVA_CHECK(d % c.n_head == 0, "dim_model {} is not divisible by n_head {}", d, c.n_head);
    m.latent = latent.data;
    m.mz_enc = b.enc(b.has("encoder.peak_encoder.mz_encoder.sin_term") ? "encoder.peak_encoder.mz_encoder."
                                                                       : "encoder.peak_encoder.",
                     d);
    m.int_w = b.ptr("encoder.peak_encoder.int_encoder.weight", {d, 1});
    c.n_enc_layers = count_layers(b, "encoder.transformer_encoder.layers.");
    TRANOVA_CHECK(c.n_enc_layers > 0, "model weights have no encoder layers");
    tensor_view l1 = b.require("encoder.transformer_encoder.layers.0.linear1.weight");
    TRANOVA_CHECK(l1.shape.size() == 2 && l1.shape[0] > 0 && l1.shape[0] <= (int64_t(1) << 20),
                  "encoder.transformer_encoder.layers.0.linear1.weight: bad shape");
    c.dim_feedforward = int(l1.shape[0]);
    const int ff = c.dim_feedforward;
    for (int i = 0; i < c.n_enc_layers; ++i) {
        std::string p = "encoder.transformer_encoder.layers." + std::to_string(i) + ".";
        enc_layer l;
        l.sa = b.mha(p + "self_attn.", d);
        l.l1_w = b.ptr(p + "linear1.weight", {ff, d});
        l.l1_b = b.ptr(p + "linear1.bias", {ff});
        l.l2_w = b.ptr(p + "linear2.weight", {d, ff});
        l.l2_b = b.ptr(p + "linear2.bias", {d});
        l.n1_w = b.ptr(p + "norm1.weight", {d});
        l.n1_b = b.ptr(p + "norm1.bias", {d});
        l.n2_w = b.ptr(p + "norm2.weight", {d});
        l.n2_b = b.ptr(p + "norm2.bias", {d});
        m.enc_layers.push_back(l);
    }
    bool want_ar = c.arch != model_arch::primenovo, want_nar = c.arch != model_arch::casanovo;
    if (want_ar) {
        tensor_view charge = b.require("ar_decoder.charge_encoder.weight");
        TRANOVA_CHECK(charge.shape.size() == 2 && charge.shape[1] == d && charge.shape[0] >= 1 && charge.shape[0] <= 100,
                      "ar_decoder.charge_encoder.weight: bad shape");
        c.max_charge = int(charge.shape[0]);
        m.ar_charge = charge.data;
        m.ar_pos = b.enc("ar_decoder.pos_encoder.", d);
        m.ar_mass = b.enc("ar_decoder.mass_encoder.", d);
        tensor_view fin = b.require("ar_decoder.final.weight");
        TRANOVA_CHECK(fin.shape.size() == 2, "ar_decoder.final.weight: bad shape");
        m.ar_vocab = int(std::min<int64_t>(fin.shape[0], 1 << 20));
        TRANOVA_CHECK(m.ar_vocab == c.residues.size() + 2, "AR vocabulary {} != residues {} + padding + stop",
                      m.ar_vocab, c.residues.size());
        m.ar_final_w = b.ptr("ar_decoder.final.weight", {m.ar_vocab, d});
        m.ar_final_b = b.ptr("ar_decoder.final.bias", {m.ar_vocab});
        m.ar_aa = b.ptr("ar_decoder.aa_encoder.weight", {m.ar_vocab, d});
        c.n_ar_layers = count_layers(b, "ar_decoder.transformer_decoder.layers.");
        TRANOVA_CHECK(c.n_ar_layers > 0, "model weights have no AR decoder layers");
        for (int i = 0; i < c.n_ar_layers; ++i)
            m.ar_layers.push_back(b.dec("ar_decoder.transformer_decoder.layers." + std::to_string(i) + ".", d, ff));
    }
    if (want_nar) {
        tensor_view charge = b.require("nar_decoder.charge_encoder.weight");
        TRANOVA_CHECK(charge.shape.size() == 2 && charge.shape[1] == d && charge.shape[0] >= 1 && charge.shape[0] <= 100,
                      "nar_decoder.charge_encoder.weight: bad shape");
        int mc = int(charge.shape[0]);
        c.max_charge = c.max_charge ? std::min(c.max_charge, mc) : mc;
        m.nar_charge = charge.data;
        m.nar_pos = b.enc("nar_decoder.pos_encoder.", d);
        m.nar_mass = b.enc("nar_decoder.mass_encoder.", d);
        tensor_view fin = b.require("nar_decoder.final.weight");
        TRANOVA_CHECK(fin.shape.size() == 2, "nar_decoder.final.weight: bad shape");
        m.nar_vocab = int(std::min<int64_t>(fin.shape[0], 1 << 20));
        TRANOVA_CHECK(m.nar_vocab == c.residues.size() + 1, "CTC vocabulary {} != residues {} + blank", m.nar_vocab,
                      c.residues.size());
        m.nar_final_w = b.ptr("nar_decoder.final.weight", {m.nar_vocab, d});
        m.nar_final_b = b.ptr("nar_decoder.final.bias", {m.nar_vocab});
        c.n_nar_layers = count_layers(b, "nar_decoder.layers.");
        TRANOVA_CHECK(c.n_nar_layers > 0, "model weights have no NAR decoder layers");
        for (int i = 0; i < c.n_nar_layers; ++i)
            m.nar_layers.push_back(b.dec("nar_decoder.layers." + std::to_string(i) + ".", d, ff));
    }
    if (c.arch == model_arch::crossnovo) {
        m.cross_w = b.ptr("cross.nar_proj.weight", {d, d});
        m.cross_b = b.ptr("cross.nar_proj.bias", {d});
        m.cross_pos = b.enc("cross.pos_encoder.", d);
    }
}

denovo_model bind_from_file(weight_file wf);

}  // namespace

denovo_model model_from_weights(weight_file wf) {
    // Every problem below is about the file the weights came from: name it once here.
    const std::string src = wf.source.empty() ? std::string("model weights") : wf.source;
    try {
        return bind_from_file(std::move(wf));
    } catch (const tranova::error& e) {
        throw tranova::error(fmt::format("{}: {}", src, e.what()), e.source_file().c_str(), e.source_line());
    }
}

namespace {
denovo_model bind_from_file(weight_file wf) {
    denovo_model m;
    m.cfg = config_from_weights(wf);
    m.storage = std::move(wf.tensors);
    const tensor_map& t = m.storage;
    bind_weights(
        m,
        [&t](const std::string& name, tensor_view& out) {
            auto it = t.find(name);
            if (it == t.end()) return false;
            out.data = it->second.data.data();
            out.shape = it->second.shape;
            return true;
        },
        nullptr);
    return m;
}
}  // namespace

denovo_model model_bind(const std::string& arch, const std::map<std::string, std::string>& config,
                        const tensor_lookup& lookup, std::vector<std::string>* bound) {
    denovo_model m;
    m.cfg = config_from_fields(arch, config);
    bind_weights(m, lookup, bound);
    return m;
}

weight_file weights_from_state_dict(tensor_map sd, model_arch arch, int n_head) {
    TRANOVA_CHECK(arch != model_arch::crossnovo, "a crossnovo weight file is assembled, not converted");
    weight_file wf;
    wf.arch = arch_name(arch);
    const std::string dec = arch == model_arch::casanovo ? "ar_decoder." : "nar_decoder.";
    for (auto& [name, t] : sd) {
        if (name.rfind("encoder.", 0) == 0) wf.tensors.emplace(name, std::move(t));
        else if (name.rfind("decoder.", 0) == 0) wf.tensors.emplace(dec + name.substr(8), std::move(t));
        // anything else (optimizer state, CLIP parts) is dropped
    }
    wf.config["n_head"] = std::to_string(n_head);
    wf.config["preset"] = arch == model_arch::casanovo ? "casanovo" : "primenovo";
    wf.config["residues"] = residues_to_string(massivekb_residues());
    return wf;
}

weight_file random_weights(model_arch arch, int d, int n_head, int ff, int n_layers, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    weight_file wf;
    wf.arch = arch_name(arch);
    wf.config["n_head"] = std::to_string(n_head);
    wf.config["preset"] = arch == model_arch::primenovo ? "primenovo" : "casanovo";
    wf.config["residues"] = residues_to_string(massivekb_residues());
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float fill = NAN) {
        tensor t;
        t.shape = std::move(shape);
        t.data.resize(size_t(t.numel()));
        for (auto& x : t.data) x = std::isnan(fill) ? nd(gen) : fill;
        wf.tensors[name] = std::move(t);
    };
    auto terms = [&](const std::string& prefix, double lmin, double lmax) {
        int n_sin = (d + 1) / 2, n_cos = d - n_sin;
        auto mk = [&](int n) {
            tensor t;
            t.shape = {n};
            for (int k = 0; k < n; ++k)
                t.data.push_back(float(lmin / (2 * M_PI) * std::pow(lmax / lmin, double(k) / double(std::max(n - 1, 1)))));
            return t;
        };
        wf.tensors[prefix + "sin_term"] = mk(n_sin);
        wf.tensors[prefix + "cos_term"] = mk(n_cos);
    };
    auto mha = [&](const std::string& p) {
        add(p + "in_proj_weight", {3 * d, d});
        add(p + "in_proj_bias", {3 * d}, 0.0f);
        add(p + "out_proj.weight", {d, d});
        add(p + "out_proj.bias", {d}, 0.0f);
    };
    auto ffn_norms = [&](const std::string& p, int n_norms) {
        add(p + "linear1.weight", {ff, d});
        add(p + "linear1.bias", {ff}, 0.0f);
        add(p + "linear2.weight", {d, ff});
        add(p + "linear2.bias", {d}, 0.0f);
        for (int k = 1; k <= n_norms; ++k) {
            add(p + "norm" + std::to_string(k) + ".weight", {d}, 1.0f);
            add(p + "norm" + std::to_string(k) + ".bias", {d}, 0.0f);
        }
    };
    add("encoder.latent_spectrum", {1, 1, d});
    terms("encoder.peak_encoder.mz_encoder.", 0.001, 10000);
    add("encoder.peak_encoder.int_encoder.weight", {d, 1});
    for (int l = 0; l < n_layers; ++l) {
        std::string p = "encoder.transformer_encoder.layers." + std::to_string(l) + ".";
        mha(p + "self_attn.");
        ffn_norms(p, 2);
    }
    const int R = massivekb_residues().size();
    if (arch != model_arch::primenovo) {
        terms("ar_decoder.pos_encoder.", 1.0, 10000);
        terms("ar_decoder.mass_encoder.", 0.001, 10000);
        add("ar_decoder.charge_encoder.weight", {10, d});
        add("ar_decoder.aa_encoder.weight", {R + 2, d});
        std::fill(wf.tensors["ar_decoder.aa_encoder.weight"].data.begin(),
                  wf.tensors["ar_decoder.aa_encoder.weight"].data.begin() + d, 0.0f);
        add("ar_decoder.final.weight", {R + 2, d});
        add("ar_decoder.final.bias", {R + 2}, 0.0f);
        for (int l = 0; l < n_layers; ++l) {
            std::string p = "ar_decoder.transformer_decoder.layers." + std::to_string(l) + ".";
            mha(p + "self_attn.");
            mha(p + "multihead_attn.");
            ffn_norms(p, 3);
        }
    }
    if (arch != model_arch::casanovo) {
        terms("nar_decoder.pos_encoder.", 1.0, 10000);
        terms("nar_decoder.mass_encoder.", 0.001, 10000);
        add("nar_decoder.charge_encoder.weight", {10, d});
        add("nar_decoder.final.weight", {R + 1, d});
        add("nar_decoder.final.bias", {R + 1}, 0.0f);
        for (int l = 0; l < n_layers; ++l) {
            std::string p = "nar_decoder.layers." + std::to_string(l) + ".";
            mha(p + "self_attn.");
            mha(p + "multihead_attn.");
            ffn_norms(p, 3);
        }
    }
    if (arch == model_arch::crossnovo) {
        add("cross.nar_proj.weight", {d, d});
        add("cross.nar_proj.bias", {d}, 0.0f);
        terms("cross.pos_encoder.", 1.0, 10000);
    }
    return wf;
}

// ---------------------------------------------------------------------------------------
// forwards

namespace {

// x (T,d) <- LN(x + y)
void add_norm(float* x, const float* y, const float* w, const float* b, int T, int d) {
    core::add_forward(x, x, y, size_t(T) * d);
    core::layernorm_forward(x, x, w, b, T, d, 1e-5f);  // torch nn.LayerNorm default eps
}

// x (T,d) <- LN(x + FFN(x)); tmp (T,ff), tmp2 (T,d)
void ffn_block(float* x, const float* l1_w, const float* l1_b, const float* l2_w, const float* l2_b,
               const float* n_w, const float* n_b, int T, int d, int ff, float* tmp, float* tmp2) {
    core::linear_forward(tmp, x, l1_w, l1_b, T, d, ff);
    core::relu_forward(tmp, tmp, size_t(T) * ff);
    core::linear_forward(tmp2, tmp, l2_w, l2_b, T, ff, d);
    add_norm(x, tmp2, n_w, n_b, T, d);
}

void add_positions(float* x, const float_encoder& e, int first_pos, int T, int d) {
    std::vector<float> pos(T), enc(size_t(T) * d);
    for (int i = 0; i < T; ++i) pos[i] = float(first_pos + i);
    core::sinusoidal_forward(enc.data(), pos.data(), T, e.sin_term, e.n_sin, e.cos_term, e.n_cos);
    core::add_forward(x, x, enc.data(), size_t(T) * d);
}

// (n) true = ignore  ->  (n) nonzero = attend (core's key_valid)
std::vector<uint8_t> key_valid_from_mask(const bool* mask, int n) {
    std::vector<uint8_t> valid(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) valid[size_t(i)] = mask[i] ? 0 : 1;
    return valid;
}

}  // namespace

void peak_encoder_forward(const denovo_model& m, const float* peaks, int n, float* out) {
    const int d = m.cfg.dim_model;
    std::vector<float> mz(n);
    for (int i = 0; i < n; ++i) mz[i] = peaks[2 * i];
    core::sinusoidal_forward(out, mz.data(), n, m.mz_enc.sin_term, m.mz_enc.n_sin, m.mz_enc.cos_term, m.mz_enc.n_cos);
    for (int i = 0; i < n; ++i) {
        float inten = peaks[2 * i + 1];
        for (int c = 0; c < d; ++c) out[long(i) * d + c] += inten * m.int_w[c];
    }
}

void encoder_forward(const denovo_model& m, const float* peaks, int n, float* memory, bool* mask) {
    const int d = m.cfg.dim_model, ff = m.cfg.dim_feedforward, T = n + 1;
    mask[0] = false;
    for (int i = 0; i < n; ++i) mask[i + 1] = (peaks[2 * i] + peaks[2 * i + 1]) == 0.0f;
    std::copy(m.latent, m.latent + d, memory);
    peak_encoder_forward(m, peaks, n, memory + d);
    const std::vector<uint8_t> valid = key_valid_from_mask(mask, T);
    std::vector<float> y(size_t(T) * d), tmp(size_t(T) * std::max(ff, d)),
        scratch(size_t(mha_scratch_size(T, T, d, m.cfg.n_head)));
    for (const enc_layer& l : m.enc_layers) {
        mha_forward(y.data(), memory, memory, l.sa, valid.data(), false, T, T, d, m.cfg.n_head, scratch.data());
        add_norm(memory, y.data(), l.n1_w, l.n1_b, T, d);
        ffn_block(memory, l.l1_w, l.l1_b, l.l2_w, l.l2_b, l.n2_w, l.n2_b, T, d, ff, tmp.data(), y.data());
    }
    for (int i = 0; i < T; ++i)
        if (mask[i]) std::fill(memory + long(i) * d, memory + long(i + 1) * d, 0.0f);
}

static void precursor_embedding(const float_encoder& mass_enc, const float* charge_emb, int max_charge, int d,
                                float mass, int charge, float* out) {
    TRANOVA_CHECK(charge >= 1 && charge <= max_charge, "precursor charge {} outside the model's range 1..{}", charge,
                  max_charge);
    core::sinusoidal_forward(out, &mass, 1, mass_enc.sin_term, mass_enc.n_sin, mass_enc.cos_term, mass_enc.n_cos);
    for (int c = 0; c < d; ++c) out[c] += charge_emb[long(charge - 1) * d + c];
}

void ar_precursor_embedding(const denovo_model& m, float mass, int charge, float* out) {
    precursor_embedding(m.ar_mass, m.ar_charge, m.cfg.max_charge, m.cfg.dim_model, mass, charge, out);
}

void nar_precursor_embedding(const denovo_model& m, float mass, int charge, float* out) {
    precursor_embedding(m.nar_mass, m.nar_charge, m.cfg.max_charge, m.cfg.dim_model, mass, charge, out);
}

void nar_forward(const denovo_model& m, const float* memory, const bool* mask, int Tk, float mass, int charge,
                 float* logits, float* features, float* layer_logits) {
    TRANOVA_CHECK(m.has_nar(), "this model has no NAR (CTC) decoder");
    const int d = m.cfg.dim_model, ff = m.cfg.dim_feedforward, T = m.cfg.nar_length, V = m.nar_vocab;
    std::vector<float> x(size_t(T) * d), y(size_t(T) * d), tmp(size_t(T) * std::max(ff, d));
    std::vector<float> scratch(
        size_t(std::max(mha_scratch_size(T, T, d, m.cfg.n_head), mha_scratch_size(T, Tk, d, m.cfg.n_head))));
    const std::vector<uint8_t> valid = key_valid_from_mask(mask, Tk);
    precursor_embedding(m.nar_mass, m.nar_charge, m.cfg.max_charge, d, mass, charge, x.data());
    for (int t = 1; t < T; ++t) std::copy(x.begin(), x.begin() + d, x.begin() + long(t) * d);
    add_positions(x.data(), m.nar_pos, 0, T, d);
    for (size_t li = 0; li < m.nar_layers.size(); ++li) {
        const dec_layer& l = m.nar_layers[li];
        mha_forward(y.data(), x.data(), x.data(), l.sa, nullptr, false, T, T, d, m.cfg.n_head, scratch.data());
        add_norm(x.data(), y.data(), l.n1_w, l.n1_b, T, d);
        mha_forward(y.data(), x.data(), memory, l.ca, valid.data(), false, T, Tk, d, m.cfg.n_head, scratch.data());
        add_norm(x.data(), y.data(), l.n2_w, l.n2_b, T, d);
        ffn_block(x.data(), l.l1_w, l.l1_b, l.l2_w, l.l2_b, l.n3_w, l.n3_b, T, d, ff, tmp.data(), y.data());
        if (layer_logits)
            core::linear_forward(layer_logits + li * size_t(T) * V, x.data(), m.nar_final_w, m.nar_final_b, T, d, V);
    }
    core::linear_forward(logits, x.data(), m.nar_final_w, m.nar_final_b, T, d, V);
    if (features) std::copy(x.begin(), x.end(), features);
}

void ar_prepare_memory(const denovo_model& m, const float* memory, const bool* mask, int Tk, ar_memory& out) {
    const int d = m.cfg.dim_model;
    out.Tk = Tk;
    out.key_valid = key_valid_from_mask(mask, Tk);
    out.k.resize(m.ar_layers.size());
    out.v.resize(m.ar_layers.size());
    for (size_t l = 0; l < m.ar_layers.size(); ++l) {
        out.k[l].resize(size_t(Tk) * d);
        out.v[l].resize(size_t(Tk) * d);
        mha_project_kv(out.k[l].data(), out.v[l].data(), memory, m.ar_layers[l].ca, Tk, d);
    }
}

void hybrid_memory(const denovo_model& m, const float* nar_features, const float* memory, const bool* mask, int Tk,
                   std::vector<float>& out, std::vector<unsigned char>& out_mask) {
    const int d = m.cfg.dim_model, T = m.cfg.nar_length;
    out.assign(size_t(T + Tk) * d, 0.0f);
    core::linear_forward(out.data(), nar_features, m.cross_w, m.cross_b, T, d, d);
    std::copy(memory, memory + long(Tk) * d, out.begin() + long(T) * d);
    if (m.cfg.memory_pos_encoding) add_positions(out.data(), m.cross_pos, 1, T + Tk, d);
    out_mask.assign(size_t(T + Tk), 0);
    for (int i = 0; i < Tk; ++i) out_mask[T + i] = mask[i] ? 1 : 0;
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

void ar_feed_batch(const denovo_model& m, const std::vector<ar_feed_item>& items) {
    TRANOVA_CHECK(m.has_ar(), "this model has no autoregressive decoder");
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
    // core attention scratch: sized for the longest key range of this batch
    std::vector<float> scores(core::attention_scratch_floats(core::attention_shape_contiguous(1, R, max_k, H, d / H)));
    // embeddings + positions
    for (size_t i = 0; i < items.size(); ++i) {
        const ar_feed_item& it = items[i];
        ar_cache& c = *it.cache;
        for (int j = 0; j < it.n; ++j) {
            int pos = c.len + j;
            float* row = x.data() + long(row0[i] + j) * d;
            if (pos == 0) {
                ar_precursor_embedding(m, it.mass, it.charge, row);
                c.key_valid[0] = 1;
            } else {
                int tok = it.tokens[j];
                TRANOVA_CHECK(tok >= 0 && tok < V, "AR token {} outside the vocabulary", tok);
                std::copy(m.ar_aa + long(tok) * d, m.ar_aa + long(tok + 1) * d, row);
                float sum = 0.0f;
                for (int k = 0; k < d; ++k) sum += row[k];
                c.key_valid[size_t(pos)] = (tok == 0 || sum == 0.0f) ? 0 : 1;
            }
        }
        add_positions(x.data() + long(row0[i]) * d, m.ar_pos, c.len, it.n, d);
    }
    for (size_t li = 0; li < m.ar_layers.size(); ++li) {
        const dec_layer& l = m.ar_layers[li];
        // self-attention: one projection for all rows, attention per beam against its cache
        core::linear_forward(qkv.data(), x.data(), l.sa.in_w, l.sa.in_b, R, d, 3 * d);
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
            core::attention_forward(ctx.data() + long(row0[i]) * d, nullptr, qkv.data() + long(row0[i]) * 3 * d, K,
                                    Vv, s, scores.data());
        }
        core::linear_forward(y.data(), ctx.data(), l.sa.out_w, l.sa.out_b, R, d, d);
        add_norm(x.data(), y.data(), l.n1_w, l.n1_b, R, d);
        // cross-attention: rows of consecutive items sharing a memory attend together
        core::linear_forward(qkv.data(), x.data(), l.ca.in_w, l.ca.in_b, R, d, d);
        for (size_t i = 0; i < items.size();) {
            size_t j = i;
            int rows = 0;
            while (j < items.size() && items[j].mem == items[i].mem) rows += items[j++].n;
            const ar_memory& mem = *items[i].mem;
            core::attention_shape s = core::attention_shape_contiguous(1, rows, mem.Tk, H, d / H);
            s.key_valid = mem.key_valid.data();
            core::attention_forward(ctx.data() + long(row0[i]) * d, nullptr, qkv.data() + long(row0[i]) * d,
                                    mem.k[li].data(), mem.v[li].data(), s, scores.data());
            i = j;
        }
        core::linear_forward(y.data(), ctx.data(), l.ca.out_w, l.ca.out_b, R, d, d);
        add_norm(x.data(), y.data(), l.n2_w, l.n2_b, R, d);
        ffn_block(x.data(), l.l1_w, l.l1_b, l.l2_w, l.l2_b, l.n3_w, l.n3_b, R, d, ff, tmp.data(), y.data());
    }
    std::vector<float> logits(size_t(R) * V);
    core::linear_forward(logits.data(), x.data(), m.ar_final_w, m.ar_final_b, R, d, V);
    for (size_t i = 0; i < items.size(); ++i) {
        items[i].cache->len += items[i].n;
        std::copy(logits.begin() + long(row0[i]) * V, logits.begin() + long(row0[i] + items[i].n) * V,
                  items[i].all_logits);
    }
}

}  // namespace tranova::denovo_model
