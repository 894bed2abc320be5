// Weight binding (model.hpp): one code path points a denovo_model at named tensors, whether
// they live in the model's own storage (model_from_weights: a weight file) or in a
// trainer's parameter arena (model_bind); plus the state_dict conversion and the backend.
#include "denovo_model/model.hpp"

#include "util/error.hpp"

#include <algorithm>

namespace tranova::denovo_model {

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

// A decoder's charge embedding (charges x d, 1 to 100 rows): its data and row count.
int bind_charge(binder& b, const std::string& name, int d, const float*& data) {
    tensor_view charge = b.require(name);
    TRANOVA_CHECK(charge.shape.size() == 2 && charge.shape[1] == d && charge.shape[0] >= 1 && charge.shape[0] <= 100,
                  "{}: bad shape", name);
    data = charge.data;
    return int(charge.shape[0]);
}

int count_layers(const binder& b, const std::string& prefix) {
    int n = 0;
    while (b.has(prefix + std::to_string(n) + ".linear1.weight")) ++n;
    return n;
}

}  // namespace

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
        c.max_charge = bind_charge(b, "ar_decoder.charge_encoder.weight", d, m.ar_charge);
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
        const int mc = bind_charge(b, "nar_decoder.charge_encoder.weight", d, m.nar_charge);
        c.max_charge = c.max_charge ? std::min(c.max_charge, mc) : mc;
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
    m.storage = to_core_weights(wf);  // one allocation, the weight file's slots
    const core::weights& w = m.storage;
    bind_weights(
        m,
        [&w](const std::string& name, tensor_view& out) {
            if (!w.has(name)) return false;
            const core::weight_entry& e = w.entry(name);
            out.data = w.data() + e.offset;
            out.shape = e.shape;
            return true;
        },
        nullptr);
    use_backend(m, core::cpu_backend());
    return m;
}
}  // namespace

denovo_model model_bind(const std::string& arch, const std::map<std::string, std::string>& config,
                        const tensor_lookup& lookup, std::vector<std::string>* bound) {
    denovo_model m;
    m.cfg = config_from_fields(arch, config);
    bind_weights(m, lookup, bound);
    use_backend(m, core::cpu_backend());
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


namespace {
const char* model_label(model_arch a) {
    switch (a) {
        case model_arch::casanovo: return "Casanovo";
        case model_arch::primenovo: return "PrimeNovo";
        case model_arch::crossnovo: return "CrossNovo";
    }
    return "de novo model";
}
}  // namespace

void use_backend(denovo_model& m, core::backend& be) {
    using core::op_kind;
    // the ops of every inference forward (forward.hpp, ar_feed_batch) and of the decoders'
    // probabilities (sequencer)
    be.require(model_label(m.cfg.arch), {op_kind::linear, op_kind::layernorm, op_kind::attention, op_kind::add,
                                         op_kind::activation, op_kind::sinusoidal, op_kind::embedding,
                                         op_kind::softmax, op_kind::log_softmax});
    m.be = &be;
}

void pack_for_inference(denovo_model& m) {
    if (!core::cpu_has_avx512() || !m.packed.empty()) return;
    m.be->require(model_label(m.cfg.arch), {core::op_kind::linear_packed});
    const int d = m.cfg.dim_model, ff = m.cfg.dim_feedforward;
    auto pack = [](const float* w, int IC, int OC) { return core::pack_linear(w, IC, OC, core::linear_kernel::avx512); };
    auto common = [&](layer_packed& p, const mha_weights& sa, const float* l1_w, const float* l2_w) {
        p.sa_in = pack(sa.in_w, d, 3 * d);
        p.sa_out = pack(sa.out_w, d, d);
        p.l1 = pack(l1_w, d, ff);
        p.l2 = pack(l2_w, ff, d);
    };
    // sized first: the layers keep pointers into this vector
    m.packed.resize(m.enc_layers.size() + m.ar_layers.size() + m.nar_layers.size());
    size_t i = 0;
    for (enc_layer& l : m.enc_layers) {
        common(m.packed[i], l.sa, l.l1_w, l.l2_w);
        l.packed = &m.packed[i++];
    }
    for (auto* stack : {&m.ar_layers, &m.nar_layers})
        for (dec_layer& l : *stack) {
            layer_packed& p = m.packed[i++];
            common(p, l.sa, l.l1_w, l.l2_w);
            p.ca_q = pack(l.ca.in_w, d, d);
            p.ca_kv = pack(l.ca.in_w + long(d) * d, d, 2 * d);
            p.ca_out = pack(l.ca.out_w, d, d);
            l.packed = &p;
        }
}

void require_training_ops(const denovo_model& m) {
    using core::op_kind;
    const std::string what = fmt::format("{} training", model_label(m.cfg.arch));
    m.be->require(what.c_str(), {op_kind::layernorm_train, op_kind::layernorm_backward, op_kind::linear_backward,
                                 op_kind::attention_backward, op_kind::activation_backward,
                                 op_kind::embedding_backward, op_kind::gemm,
                                 op_kind::dropout, op_kind::dropout_backward, op_kind::softmax_backward,
                                 op_kind::cross_entropy, op_kind::ctc_loss});
}

}  // namespace tranova::denovo_model
