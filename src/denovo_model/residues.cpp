// The model's residue vocabulary, architecture names and config fields (model.hpp).
#include "denovo_model/model.hpp"

#include "denovo/peptide.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

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

namespace {

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
}  // namespace tranova::denovo_model
