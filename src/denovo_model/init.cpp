// Random weights of a given shape (model.hpp random_weights): benchmarks and tests.
#include "denovo_model/model.hpp"

#include <cmath>
#include <random>

namespace tranova::denovo_model {

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

}  // namespace tranova::denovo_model
