// Checkpoint -> weight file for the de novo archs (see convert.hpp).
#include "denovo_model/convert.hpp"

#include "denovo_model/model.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <cmath>
#include <random>

namespace tranova::denovo_model {

namespace {

const std::string* meta(const core::checkpoint& ck, const std::string& key) {
    auto it = ck.meta.find("hyper_parameters." + key);
    return it == ck.meta.end() ? nullptr : &it->second;
}

int resolve_n_head(const core::checkpoint& ck, const core::json_value& config) {
    if (config.kind == core::json_value::object_v) {
        if (auto* v = config.find("n_head"); v && v->kind == core::json_value::number_v) return int(v->num);
    }
    if (auto* s = meta(ck, "n_head")) {
        long long v = 0;
        if (parse_int(*s, v)) return int(v);
    }
    TRANOVA_FAIL("{}: the number of attention heads is not in the checkpoint (no hyper_parameters.n_head); pass "
                 "--config with {{\"n_head\": N}}",
                 ck.path);
}

// Checks that the checkpoint's residue alphabet is the MassIVE-KB one (its order in the
// YAML config is not recoverable from the flattened metadata, so only that table is accepted).
void check_residues(const core::checkpoint& ck, std::vector<std::string>& notes) {
    residue_table r = massivekb_residues();
    int found = 0;
    const std::string prefix = "hyper_parameters.residues.";
    for (auto& [k, v] : ck.meta) {
        if (k.rfind(prefix, 0) != 0) continue;
        std::string tok = k.substr(prefix.size());
        double mass = 0;
        TRANOVA_CHECK(parse_double(v, mass), "{}: residue '{}' has mass '{}'", ck.path, tok, v);
        bool ok = false;
        for (int i = 0; i < r.size(); ++i)
            if (r.tokens[size_t(i)] == tok && std::fabs(r.masses[size_t(i)] - mass) < 1e-5) ok = true;
        TRANOVA_CHECK(ok, "{}: residue '{}' ({}) is not in the MassIVE-KB alphabet; custom alphabets are not supported",
                      ck.path, tok, v);
        ++found;
    }
    if (found == 0) notes.push_back("no residue table in the checkpoint: assuming the MassIVE-KB alphabet");
    else TRANOVA_CHECK(found == r.size(), "{}: {} residues in the checkpoint, expected the {} of MassIVE-KB", ck.path,
                       found, r.size());
}

void copy_meta(const core::checkpoint& ck, weight_file& wf, const char* from, const char* to) {
    if (auto* s = meta(ck, from)) wf.config[to] = *s;
}

void copy_decoding_meta(const core::checkpoint& ck, weight_file& wf, bool nar) {
    if (nar) {
        copy_meta(ck, wf, "max_length", "nar_length");
        copy_meta(ck, wf, "mass_control_tol", "mass_control_tol");
        copy_meta(ck, wf, "n_beams", "ctc_beam");
    } else {
        copy_meta(ck, wf, "max_length", "max_length");
        copy_meta(ck, wf, "min_peptide_len", "min_peptide_len");
        copy_meta(ck, wf, "n_beams", "n_beams");
    }
    copy_meta(ck, wf, "precursor_mass_tol", "precursor_mass_tol");
    if (auto* s = meta(ck, "isotope_error_range")) {  // "[0, 1]"
        std::string t = *s;
        for (char& c : t)
            if (c == '[' || c == ']' || c == '(' || c == ')') c = ' ';
        auto parts = split(t, ',');
        long long a = 0, b = 0;
        if (parts.size() == 2 && parse_int(trim(parts[0]), a) && parse_int(trim(parts[1]), b)) {
            wf.config["isotope_error_min"] = std::to_string(a);
            wf.config["isotope_error_max"] = std::to_string(b);
        }
    }
}

weight_file convert_single(const core::checkpoint& ck, const core::json_value& config, model_arch arch,
                           std::vector<std::string>& notes) {
    check_residues(ck, notes);
    weight_file wf = weights_from_state_dict(tensors_from_checkpoint(ck), arch, resolve_n_head(ck, config));
    copy_decoding_meta(ck, wf, arch == model_arch::primenovo);
    for (auto& name : ck.names)
        if (name.rfind("encoder.", 0) != 0 && name.rfind("decoder.", 0) != 0)
            notes.push_back("dropped tensor " + name);
    require_finite(wf.tensors, ck.path);
    // validate by binding (names, shapes)
    weight_file probe = wf;
    probe.source = ck.path;
    (void)model_from_weights(std::move(probe));
    return wf;
}

}  // namespace

core::weights convert_casanovo(const core::checkpoint& ck, const core::json_value& config,
                               std::vector<std::string>& notes) {
    return to_core_weights(convert_single(ck, config, model_arch::casanovo, notes));
}

core::weights convert_primenovo(const core::checkpoint& ck, const core::json_value& config,
                                std::vector<std::string>& notes) {
    return to_core_weights(convert_single(ck, config, model_arch::primenovo, notes));
}

core::weights convert_crossnovo(const core::checkpoint& ck, const core::json_value& config,
                                std::vector<std::string>& notes) {
    TRANOVA_CHECK(config.kind == core::json_value::object_v,
                  "{}: crossnovo needs --config with {{\"nar_checkpoint\": \"primenovo.ckpt\"}}", ck.path);
    const core::json_value* nar = config.find("nar_checkpoint");
    TRANOVA_CHECK(nar && nar->kind == core::json_value::string_v, "crossnovo config lacks \"nar_checkpoint\"");
    uint32_t seed = 1;
    if (auto* s = config.find("seed"); s && s->kind == core::json_value::number_v) seed = uint32_t(s->num);
    int mem_pe = 1;
    if (auto* s = config.find("memory_pos_encoding"); s && s->kind == core::json_value::number_v) mem_pe = int(s->num);
    std::string init = "xavier";
    if (auto* s = config.find("cross_init"); s && s->kind == core::json_value::string_v) init = s->str;
    TRANOVA_CHECK(init == "xavier" || init == "identity", "crossnovo config: cross_init '{}' (expected xavier or identity)",
                  init);

    weight_file ar = convert_single(ck, config, model_arch::casanovo, notes);
    core::checkpoint nck = core::checkpoint_read(nar->str);
    weight_file na = convert_single(nck, config, model_arch::primenovo, notes);
    weight_file wf;
    wf.arch = "crossnovo";
    wf.config = ar.config;
    for (auto& [k, v] : na.config)
        if (k == "nar_length" || k == "mass_control_tol" || k == "ctc_beam") wf.config[k] = v;
    wf.config["preset"] = "casanovo";
    wf.config["memory_pos_encoding"] = std::to_string(mem_pe);
    wf.config["cross_seed"] = std::to_string(seed);
    wf.config["cross_init"] = init;
    wf.config["nar_source"] = nar->str;
    for (auto& [name, t] : ar.tensors) wf.tensors.emplace(name, t);
    for (auto& [name, t] : na.tensors)
        if (name.rfind("nar_decoder.", 0) == 0) wf.tensors.emplace(name, t);
    int64_t d = wf.tensors.at("encoder.latent_spectrum").numel();
    TRANOVA_CHECK(wf.tensors.at("nar_decoder.final.weight").shape.back() == d,
                  "{}: NAR decoder dim_model differs from the Casanovo encoder's {}", nar->str, d);
    // cross-decoder parameters: Xavier-uniform projection of the NAR features, zero bias,
    // and the AR decoder's positional encoder terms for memory positions 1..40+k
    std::mt19937 gen(seed);
    float lim = std::sqrt(6.0f / float(2 * d));
    std::uniform_real_distribution<float> u(-lim, lim);
    tensor w{{d, d}, std::vector<float>(size_t(d * d))}, b{{d}, std::vector<float>(size_t(d), 0.0f)};
    for (auto& x : w.data) x = u(gen);
    if (init == "identity") {
        std::fill(w.data.begin(), w.data.end(), 0.0f);
        for (int64_t i = 0; i < d; ++i) w.data[size_t(i * d + i)] = 1.0f;
    }
    wf.tensors["cross.nar_proj.weight"] = std::move(w);
    wf.tensors["cross.nar_proj.bias"] = std::move(b);
    wf.tensors["cross.pos_encoder.sin_term"] = wf.tensors.at("ar_decoder.pos_encoder.sin_term");
    wf.tensors["cross.pos_encoder.cos_term"] = wf.tensors.at("ar_decoder.pos_encoder.cos_term");
    notes.push_back(fmt::format("crossnovo: NAR decoder from {}, cross-decoder projection {} (seed {})", nar->str, init,
                                seed));
    weight_file probe = wf;
    probe.source = ck.path;
    (void)model_from_weights(std::move(probe));
    return to_core_weights(wf);
}

}  // namespace tranova::denovo_model
