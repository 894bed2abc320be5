#include "denovo/peptide.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <cctype>
#include <cmath>
#include <unordered_map>

namespace tranova::denovo {

namespace {

// Plain residue masses (spec §2.1; C is the unmodified cysteine, used to derive the
// carbamidomethyl delta and for ProForma parsing, it is not a vocabulary token).
double plain_mass(char aa) {
    switch (aa) {
        case 'G': return 57.021464;
        case 'A': return 71.037114;
        case 'S': return 87.032028;
        case 'P': return 97.052764;
        case 'V': return 99.068414;
        case 'T': return 101.047670;
        case 'C': return 103.009185;
        case 'L': return 113.084064;
        case 'I': return 113.084064;
        case 'N': return 114.042927;
        case 'D': return 115.026943;
        case 'Q': return 128.058578;
        case 'K': return 128.094963;
        case 'E': return 129.042593;
        case 'M': return 131.040485;
        case 'H': return 137.058912;
        case 'F': return 147.068414;
        case 'R': return 156.101111;
        case 'Y': return 163.063329;
        case 'W': return 186.079313;
        default: return 0;
    }
}

residue plain(char aa) {
    residue r;
    r.token = std::string(1, aa);
    r.mass = plain_mass(aa);
    r.aa = aa;
    r.proforma = r.token;
    return r;
}

residue modified(char aa, const char* mod_text, double mass, const char* name, int unimod) {
    residue r;
    r.token = std::string(1, aa) + mod_text;
    r.mass = mass;
    r.aa = aa;
    r.mod_mass = mass - plain_mass(aa);
    r.mod_name = name;
    r.unimod = unimod;
    r.proforma = fmt::format("{}[{}]", aa, name);
    return r;
}

residue nterm(const char* token, double mass, const char* name, int unimod) {
    residue r;
    r.token = token;
    r.mass = mass;
    r.mod_mass = mass;
    r.n_term = true;
    r.mod_name = name;
    r.unimod = unimod;
    r.proforma = *name ? fmt::format("[{}]-", name) : fmt::format("[{:+.6f}]-", mass);
    return r;
}

// Modification names and UNIMOD accessions a ProForma string may use, with their masses.
struct named_mod {
    const char* name;
    int unimod;
    double mass;
};
const named_mod kNamedMods[] = {
    {"Carbamidomethyl", 4, 57.021464}, {"Oxidation", 35, 15.994915},    {"Deamidated", 7, 0.984016},
    {"Deamidation", 7, 0.984016},      {"Acetyl", 1, 42.010565},        {"Carbamyl", 5, 43.005814},
    {"Ammonia-loss", 385, -17.026549}, {"Gln->pyro-Glu", 28, -17.026549},
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Mass of a ProForma/DeepNovo modification: a name, UNIMOD:n / U:name / M:name, or a
// signed number (optionally "Obs:" prefixed). Several `+a-b` terms are summed.
bool mod_mass(std::string_view text, double& out, std::string& why) {
    std::string_view t = trim(text);
    for (std::string_view prefix : {"Obs:", "obs:", "U:", "M:"})
        if (starts_with(t, prefix)) t.remove_prefix(prefix.size());
    if (starts_with(t, "UNIMOD:") || starts_with(t, "unimod:")) {
        long long acc = 0;
        if (parse_int(t.substr(7), acc))
            for (const auto& m : kNamedMods)
                if (m.unimod == acc) { out = m.mass; return true; }
        why = fmt::format("unknown modification '{}'", text);
        return false;
    }
    for (const auto& m : kNamedMods)
        if (iequals(t, m.name)) { out = m.mass; return true; }
    // A sum of signed numbers: "+43.006-17.027", "+.98", "15.995".
    double total = 0;
    size_t i = 0;
    bool any = false;
    while (i < t.size()) {
        size_t j = i + 1;
        while (j < t.size() && t[j] != '+' && t[j] != '-') ++j;
        std::string_view term = t.substr(i, j - i);
        double sign = 1;
        if (term[0] == '+' || term[0] == '-') {
            sign = term[0] == '-' ? -1 : 1;
            term.remove_prefix(1);
        }
        // "+.98": a number without its leading zero.
        std::string digits = !term.empty() && term[0] == '.' ? "0" : "";
        digits += term;
        double v = 0;
        if (term.empty() || digits[0] == '+' || digits[0] == '-' || !parse_double(digits, v) || !std::isfinite(v)) {
            why = fmt::format("unknown modification '{}'", text);
            return false;
        }
        total += sign * v;
        any = true;
        i = j;
    }
    if (!any) {
        why = "empty modification";
        return false;
    }
    out = total;
    return true;
}

}  // namespace

const vocabulary& vocabulary::massivekb() {
    static const vocabulary v({
        plain('G'), plain('A'), plain('S'), plain('P'), plain('V'), plain('T'),
        modified('C', "+57.021", 160.030649, "Carbamidomethyl", 4),
        plain('L'), plain('I'), plain('N'), plain('D'), plain('Q'), plain('K'), plain('E'), plain('M'),
        plain('H'), plain('F'), plain('R'), plain('Y'), plain('W'),
        modified('M', "+15.995", 147.035400, "Oxidation", 35),
        modified('N', "+0.984", 115.026943, "Deamidated", 7),
        modified('Q', "+0.984", 129.042594, "Deamidated", 7),
        nterm("+42.011", 42.010565, "Acetyl", 1),
        nterm("+43.006", 43.005814, "Carbamyl", 5),
        nterm("-17.027", -17.026549, "Ammonia-loss", 385),
        nterm("+43.006-17.027", 25.980265, "", 0),
    });
    return v;
}

vocabulary::vocabulary(std::vector<residue> residues) : residues_(std::move(residues)) {}

int vocabulary::index(std::string_view token) const {
    for (size_t i = 0; i < residues_.size(); ++i)
        if (residues_[i].token == token) return static_cast<int>(i);
    return -1;
}

std::optional<double> vocabulary::mass(std::string_view token) const {
    int i = index(token);
    if (i < 0) return std::nullopt;
    return residues_[i].mass;
}

double vocabulary::mass_or_zero(std::string_view token) const {
    int i = index(token);
    return i < 0 ? 0.0 : residues_[i].mass;
}

int vocabulary::find(char aa, double delta, double tol) const {
    int best = -1;
    double best_err = tol;
    for (size_t i = 0; i < residues_.size(); ++i) {
        const residue& r = residues_[i];
        if (aa == 0 ? !r.n_term : r.aa != aa) continue;
        double err = std::fabs(r.mod_mass - delta);
        if (err <= best_err) {
            best_err = err;
            best = static_cast<int>(i);
        }
    }
    return best;
}

peptide split_tokens(std::string_view s, bool i_to_l) {
    peptide out;
    std::string cur;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (i_to_l && c == 'I') c = 'L';
        if (i > 0 && c >= 'A' && c <= 'Z') {
            out.push_back(std::move(cur));
            cur.clear();
        }
        cur += c;
    }
    if (!s.empty()) out.push_back(std::move(cur));
    return out;
}

namespace {

bool add_residue(peptide& out, char aa, double delta, bool has_mod, bool first, const vocabulary& vocab,
                 std::string& why) {
    if (aa < 'A' || aa > 'Z') {
        why = fmt::format("unexpected character '{}'", aa);
        return false;
    }
    // Cysteine without a modification is carbamidomethylated in this alphabet only when the
    // vocabulary says so; plain C must be in the vocabulary to be accepted.
    int id = vocab.find(aa, has_mod ? delta : 0.0);
    if (id < 0 && has_mod && first) {
        // pyro-Glu written on the residue (Q[Gln->pyro-Glu]) is an N-terminal token here.
        int nt = vocab.find(0, delta);
        int plain_id = vocab.find(aa, 0.0);
        if (nt >= 0 && plain_id >= 0) {
            out.push_back(vocab.residues()[nt].token);
            out.push_back(vocab.residues()[plain_id].token);
            return true;
        }
    }
    if (id < 0) {
        why = has_mod ? fmt::format("no vocabulary token for {} with modification {:+.4f}", aa, delta)
                      : fmt::format("residue '{}' is not in the vocabulary", aa);
        return false;
    }
    out.push_back(vocab.residues()[id].token);
    return true;
}

bool add_nterm(peptide& out, double delta, const vocabulary& vocab, std::string& why) {
    int id = vocab.find(0, delta);
    if (id < 0) {
        why = fmt::format("no N-terminal vocabulary token with mass {:+.4f}", delta);
        return false;
    }
    out.push_back(vocab.residues()[id].token);
    return true;
}

// Reads a bracketed (or parenthesised) group starting at s[i] == open; on success i is past
// the closing character and `content` is the text inside (nesting allowed).
bool read_group(std::string_view s, size_t& i, char open, char close, std::string_view& content) {
    int depth = 0;
    size_t start = i + 1;
    for (size_t j = i; j < s.size(); ++j) {
        if (s[j] == open) ++depth;
        else if (s[j] == close && --depth == 0) {
            content = s.substr(start, j - start);
            i = j + 1;
            return true;
        }
    }
    return false;
}

// Reads consecutive modification groups "[..][..]" (or "(..)") at s[i], summing their
// masses into `total`; `any` tells whether there was at least one group.
bool read_mod_groups(std::string_view s, size_t& i, char open, char close, double& total, bool& any,
                     std::string& why) {
    while (i < s.size() && s[i] == open) {
        std::string_view content;
        if (!read_group(s, i, open, close, content)) {
            why = fmt::format("unbalanced '{}'", open);
            return false;
        }
        double m = 0;
        if (!mod_mass(content, m, why)) return false;
        total += m;
        any = true;
    }
    return true;
}

bool parse_bracketed(std::string_view s, char open, char close, peptide& out, std::string& why,
                     const vocabulary& vocab) {
    size_t i = 0;
    // N-terminal modifications: ProForma "[A][B]-" (hyphen required), DeepNovo "(+42.01)".
    double nt_total = 0;
    bool has_nt = false;
    if (!read_mod_groups(s, i, open, close, nt_total, has_nt, why)) return false;
    if (has_nt) {
        if (open == '[') {
            if (i >= s.size() || s[i] != '-') {
                why = "N-terminal modification without '-'";
                return false;
            }
            ++i;
        }
        if (!add_nterm(out, nt_total, vocab, why)) return false;
    }
    bool first = true;
    while (i < s.size()) {
        char aa = s[i];
        if (aa == '-' && open == '[') {
            why = "C-terminal modifications are not supported";
            return false;
        }
        ++i;
        double delta = 0;
        bool has_mod = false;
        if (!read_mod_groups(s, i, open, close, delta, has_mod, why)) return false;
        if (!add_residue(out, aa, delta, has_mod, first && !has_nt, vocab, why)) return false;
        first = false;
    }
    return true;
}

bool parse_tokens(std::string_view s, peptide& out, std::string& why, const vocabulary& vocab) {
    std::string text(s);
    if (starts_with(text, "pyro-")) text = "-17.027" + text.substr(5);  // ContraNovo's label rewrite
    peptide toks = split_tokens(text);
    for (size_t k = 0; k < toks.size(); ++k) {
        const std::string& t = toks[k];
        if (vocab.index(t) >= 0) {
            out.push_back(t);
            continue;
        }
        // Same residue/modification written with different digits: match by mass.
        double m = 0;
        std::string ignored;
        if (t[0] >= 'A' && t[0] <= 'Z') {
            if (t.size() > 1 && mod_mass(std::string_view(t).substr(1), m, ignored)) {
                if (!add_residue(out, t[0], m, true, k == 0, vocab, why)) return false;
                continue;
            }
            why = fmt::format("unknown token '{}'", t);
            return false;
        }
        if (k == 0 && mod_mass(t, m, ignored)) {
            if (!add_nterm(out, m, vocab, why)) return false;
            continue;
        }
        why = fmt::format("unknown token '{}'", t);
        return false;
    }
    return true;
}

}  // namespace

bool try_parse_peptide(std::string_view s, peptide& out, std::string* why_out, const vocabulary& vocab,
                       bool i_to_l_flag) {
    out.clear();
    std::string why;
    s = trim(s);
    bool ok;
    if (s.find('[') != std::string_view::npos) ok = parse_bracketed(s, '[', ']', out, why, vocab);
    else if (s.find('(') != std::string_view::npos) ok = parse_bracketed(s, '(', ')', out, why, vocab);
    else ok = parse_tokens(s, out, why, vocab);
    if (!ok) {
        out.clear();
        if (why_out) *why_out = why;
        return false;
    }
    if (i_to_l_flag) i_to_l(out);
    return true;
}

bool looks_like_peptide(std::string_view s, std::string* why) {
    s = trim(s);
    int depth = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool ok_outside = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        if (c == '[' || c == '(') {
            ++depth;
        } else if (c == ']' || c == ')') {
            if (--depth < 0) break;
        } else if (depth > 0 ? !(c >= 0x20 && c < 0x7f) : !ok_outside) {
            if (why) *why = fmt::format("character '{}' (0x{:02x}) at position {}", c >= 0x20 && c < 0x7f ? c : '?',
                                        static_cast<unsigned char>(c), i + 1);
            return false;
        }
    }
    if (depth != 0) {
        if (why) *why = "unbalanced brackets";
        return false;
    }
    return true;
}

peptide parse_peptide(std::string_view s, const vocabulary& vocab, bool i_to_l_flag) {
    peptide out;
    std::string why;
    TRANOVA_CHECK(try_parse_peptide(s, out, &why, vocab, i_to_l_flag), "cannot parse peptide '{}': {}", s, why);
    return out;
}

std::string to_casanovo(const peptide& p) {
    std::string s;
    for (const auto& t : p) s += t;
    return s;
}

std::string to_proforma(const peptide& p, proforma_style style, const vocabulary& vocab) {
    std::string s;
    for (const auto& t : p) {
        int id = vocab.index(t);
        if (id < 0) {
            s += t;
            continue;
        }
        const residue& r = vocab.residues()[id];
        if (r.mod_name.empty() && !r.n_term) {
            s += r.token;
            continue;
        }
        std::string mod;
        if (style == proforma_style::names && !r.mod_name.empty()) mod = r.mod_name;
        else if (style == proforma_style::unimod && r.unimod > 0) mod = fmt::format("UNIMOD:{}", r.unimod);
        else if (style == proforma_style::mass) mod = r.n_term ? r.token : r.token.substr(1);
        else mod = fmt::format("{:+.6f}", r.mod_mass);
        if (r.n_term) s += fmt::format("[{}]-", mod);
        else s += fmt::format("{}[{}]", r.aa, mod);
    }
    return s;
}

std::string to_plain(const peptide& p, const vocabulary& vocab) {
    std::string s;
    for (const auto& t : p) {
        int id = vocab.index(t);
        if (id >= 0) {
            if (vocab.residues()[id].aa) s += vocab.residues()[id].aa;
        } else if (!t.empty() && t[0] >= 'A' && t[0] <= 'Z') {
            s += t[0];
        }
    }
    return s;
}

void i_to_l(peptide& p) {
    for (auto& t : p)
        for (auto& c : t)
            if (c == 'I') c = 'L';
}

double residue_mass_sum(const peptide& p, const vocabulary& vocab) {
    double m = 0;
    for (const auto& t : p) {
        auto r = vocab.mass(t);
        TRANOVA_CHECK(r.has_value(), "unknown peptide token '{}'", t);
        m += *r;
    }
    return m;
}

double peptide_neutral_mass(const peptide& p, const vocabulary& vocab) { return residue_mass_sum(p, vocab) + kH2O; }

double peptide_mz(const peptide& p, int charge, const vocabulary& vocab) {
    TRANOVA_CHECK(charge != 0, "peptide m/z needs a non-zero charge");
    return neutral_mass_to_mz(peptide_neutral_mass(p, vocab), charge);
}

double precursor_ppm_error(double calc_mz, double obs_mz, int charge, int isotope) {
    double shifted = obs_mz - isotope * kC13Spacing / charge;
    return (calc_mz - shifted) / obs_mz * 1e6;
}

double best_ppm_error(double calc_mz, double obs_mz, int charge, int min_isotope, int max_isotope) {
    double best = precursor_ppm_error(calc_mz, obs_mz, charge, min_isotope);
    for (int iso = min_isotope + 1; iso <= max_isotope; ++iso) {
        double e = precursor_ppm_error(calc_mz, obs_mz, charge, iso);
        if (std::fabs(e) < std::fabs(best)) best = e;
    }
    return best;
}

float casanovo_calc_mz(double residue_mass_sum, float charge) {
    // PeptideMass.mass(seq, charge) with a float32 tensor charge: (1/charge) * mass + proton
    float inv = 1.0f / charge;
    float mz = inv * float(residue_mass_sum + kH2O);
    return mz + float(kProton);
}

float casanovo_ppm_error(float calc_mz, float obs_mz, float charge, int isotope) {
    float shift = (1.0f / charge) * float(isotope * kC13Spacing);
    float ref = obs_mz - shift;
    return (calc_mz - ref) / obs_mz * 1e6f;
}

bool precursor_fits(double calc_mz, double obs_mz, int charge, double tol_ppm, int min_isotope, int max_isotope) {
    return std::fabs(best_ppm_error(calc_mz, obs_mz, charge, min_isotope, max_isotope)) < tol_ppm;
}

}  // namespace tranova::denovo
