#include "denovo/mztab.hpp"

#include "denovo/source.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <filesystem>

namespace tranova::denovo {

namespace {

std::string num(double v) {
    if (!std::isfinite(v)) return "null";
    return fmt::format("{}", v);
}

std::string or_null(const std::string& s) { return s.empty() ? "null" : s; }

std::string mod_param(const residue& r) {
    if (r.unimod > 0) return fmt::format("[UNIMOD, UNIMOD:{}, {}, ]", r.unimod, r.mod_name);
    return fmt::format("[CHEMMOD, CHEMMOD:{:+.6f}, , ]", r.mod_mass);
}

std::string no_tabs(std::string s) {
    for (char& c : s)
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    return s;
}

}  // namespace

mztab_writer::mztab_writer(const std::string& path, const mztab_metadata& meta, const vocabulary& vocab)
    : out_(std::make_unique<output_file>(path)), vocab_(vocab), title_column_(meta.title_column) {
    std::string s;
    auto mtd = [&](const std::string& k, const std::string& v) { s += fmt::format("MTD\t{}\t{}\n", k, no_tabs(v)); };
    mtd("mzTab-version", "1.0.0");
    mtd("mzTab-mode", "Summary");
    mtd("mzTab-type", "Identification");
    mtd("description", meta.description.empty()
                           ? fmt::format("{} identification file {}", meta.software,
                                         std::filesystem::path(path).stem().string())
                           : meta.description);
    const std::string engine = fmt::format("[MS, MS:1003281, {}, {}]", meta.software, meta.software_version);
    mtd("software[1]", engine);
    mtd("psm_search_engine_score[1]", "[MS, MS:1001143, search engine specific score for PSMs, ]");
    // Modifications from the alphabet: modified only -> fixed, plain also present -> variable.
    int n_fixed = 0, n_var = 0;
    std::string fixed, variable;
    for (const residue& r : vocab.residues()) {
        if (r.mod_name.empty() && !r.n_term) continue;
        std::string site = r.n_term ? "N-term" : std::string(1, r.aa);
        bool plain_present = r.n_term || vocab.find(r.aa, 0.0) >= 0;
        if (plain_present) {
            ++n_var;
            variable += fmt::format("MTD\tvariable_mod[{}]\t{}\nMTD\tvariable_mod[{}]-site\t{}\n", n_var, mod_param(r),
                                    n_var, site);
        } else {
            ++n_fixed;
            fixed += fmt::format("MTD\tfixed_mod[{}]\t{}\nMTD\tfixed_mod[{}]-site\t{}\n", n_fixed, mod_param(r), n_fixed,
                                 site);
        }
    }
    s += n_fixed ? fixed : "MTD\tfixed_mod[1]\t[MS, MS:1002453, No fixed modifications searched, ]\n";
    s += n_var ? variable : "MTD\tvariable_mod[1]\t[MS, MS:1002454, No variable modifications searched,]\n";
    for (size_t i = 0; i < meta.settings.size(); ++i)
        mtd(fmt::format("software[1]-setting[{}]", i + 1),
            fmt::format("{} = {}", meta.settings[i].first, meta.settings[i].second));
    for (size_t i = 0; i < meta.ms_runs.size(); ++i) {
        std::error_code ec;
        auto abs = std::filesystem::absolute(meta.ms_runs[i], ec);
        mtd(fmt::format("ms_run[{}]-location", i + 1), "file://" + (ec ? meta.ms_runs[i] : abs.string()));
    }
    s += "PSH\tsequence\tPSM_ID\taccession\tunique\tdatabase\tdatabase_version\tsearch_engine\t"
         "search_engine_score[1]\tmodifications\tretention_time\tcharge\texp_mass_to_charge\t"
         "calc_mass_to_charge\tspectra_ref\tpre\tpost\tstart\tend\topt_ms_run[1]_aa_scores\t"
         "opt_global_cv_MS:1003169_proforma_peptidoform_sequence";
    if (title_column_) s += "\topt_global_spectrum_title";
    s += '\n';
    out_->write(s);
    engine_ = engine;
}

mztab_writer::~mztab_writer() = default;

void mztab_writer::add(const psm& p) {
    ++n_;
    double calc = p.calc_mz;
    if (!std::isfinite(calc) && p.charge != 0) {
        bool known = true;
        for (const auto& t : p.tokens) known = known && vocab_.index(t) >= 0;
        if (known && !p.tokens.empty()) calc = peptide_mz(p.tokens, p.charge, vocab_);
    }
    std::string ref = p.spectra_ref;
    if (ref.empty()) {
        if (p.index >= 0) ref = fmt::format("ms_run[{}]:index={}", p.ms_run, p.index);
        else if (p.scan >= 0) ref = fmt::format("ms_run[{}]:scan={}", p.ms_run, p.scan);
    }
    std::string aa;
    for (size_t i = 0; i < p.aa_scores.size(); ++i) aa += fmt::format("{}{:.5f}", i ? "," : "", p.aa_scores[i]);
    std::string seq = to_casanovo(p.tokens);
    std::string row = fmt::format("PSM\t{}\t{}\tnull\tnull\tnull\tnull\t{}\t{}\tnull\tnull\t{}\t{}\t{}\t{}\tnull\tnull\tnull\tnull\t{}\t{}",
                                  or_null(no_tabs(seq)), n_, engine_, num(p.score), p.charge, num(p.exp_mz), num(calc),
                                  or_null(ref), or_null(aa), or_null(no_tabs(to_proforma(p.tokens, proforma_style::names, vocab_))));
    if (title_column_) row += "\t" + or_null(no_tabs(p.title));
    row += '\n';
    out_->write(row);
}

void mztab_writer::commit() { out_->commit(); }

bool parse_spectra_ref(const std::string& ref, int& run, std::string& kind, long& value) {
    // ms_run[K]:KIND=V
    if (!starts_with(ref, "ms_run[")) return false;
    size_t close = ref.find(']');
    if (close == std::string::npos || close + 1 >= ref.size() || ref[close + 1] != ':') return false;
    long long r = 0, v = 0;
    if (!parse_int(std::string_view(ref).substr(7, close - 7), r)) return false;
    size_t eq = ref.find('=', close);
    if (eq == std::string::npos) return false;
    kind = ref.substr(close + 2, eq - close - 2);
    std::string_view val = std::string_view(ref).substr(eq + 1);
    // Some writers list several ids ("scan=5 scan=6"): take the first.
    size_t sp = val.find_first_of(" ,;");
    if (sp != std::string_view::npos) val = val.substr(0, sp);
    if (!parse_int(val, v)) return false;
    run = static_cast<int>(r);
    value = static_cast<long>(v);
    return true;
}

mztab_file read_mztab(const std::string& path, const vocabulary& vocab) {
    mztab_file f;
    line_source lines(open_file_source(path), size_t(1) << 20);
    std::string_view line;
    std::vector<std::string> header;
    int c_seq = -1, c_score = -1, c_charge = -1, c_exp = -1, c_calc = -1, c_ref = -1, c_aa = -1, c_pf = -1,
        c_title = -1;
    bool warned = false;
    while (lines.next(line)) {
        if (line.empty()) continue;
        auto fields = split(line, '\t');
        const std::string_view tag = fields[0];
        if (tag == "MTD") {
            TRANOVA_CHECK(fields.size() >= 3, "{}:{}: MTD row with {} fields", path, lines.line(), fields.size());
            std::string key(fields[1]), value(fields[2]);
            f.metadata.emplace_back(key, value);
            if (starts_with(key, "ms_run[") && key.find("]-location") != std::string::npos) {
                long long k = 0;
                if (parse_int(std::string_view(key).substr(7, key.find(']') - 7), k) && k >= 1 && k < 100000) {
                    if (f.ms_runs.size() < static_cast<size_t>(k)) f.ms_runs.resize(k);
                    f.ms_runs[k - 1] = starts_with(value, "file://") ? value.substr(7) : value;
                }
            }
        } else if (tag == "PSH") {
            // One PSH per file: a second one would leave the column indices of the first
            // pointing past its rows (a fuzz finding).
            TRANOVA_CHECK(header.empty(), "{}:{}: a second PSH header row", path, lines.line());
            header.assign(fields.begin(), fields.end());
            for (size_t i = 0; i < header.size(); ++i) {
                const std::string& h = header[i];
                int c = static_cast<int>(i);
                if (h == "sequence") c_seq = c;
                else if (h == "search_engine_score[1]") c_score = c;
                else if (h == "charge") c_charge = c;
                else if (h == "exp_mass_to_charge") c_exp = c;
                else if (h == "calc_mass_to_charge") c_calc = c;
                else if (h == "spectra_ref") c_ref = c;
                else if (h == "opt_ms_run[1]_aa_scores" || h == "opt_global_aa_scores") c_aa = c;
                else if (h == "opt_global_cv_MS:1003169_proforma_peptidoform_sequence" || h == "opt_ms_run[1]_proforma")
                    c_pf = c;
                else if (h == "opt_global_spectrum_title") c_title = c;
            }
            TRANOVA_CHECK(c_seq >= 0 && c_ref >= 0, "{}:{}: PSH row lacks the sequence or spectra_ref column", path,
                          lines.line());
        } else if (tag == "PSM") {
            TRANOVA_CHECK(!header.empty(), "{}:{}: PSM row before the PSH header", path, lines.line());
            TRANOVA_CHECK(fields.size() == header.size(), "{}:{}: PSM row has {} fields, the PSH header {}", path,
                          lines.line(), fields.size(), header.size());
            psm p;
            auto get = [&](int c) -> std::string {
                if (c < 0) return {};
                std::string v(trim(fields[c]));
                return v == "null" ? std::string() : v;
            };
            std::string seq = get(c_seq), pf = get(c_pf);
            p.sequence_text = pf.empty() ? seq : pf;
            std::string why;
            TRANOVA_CHECK(looks_like_peptide(p.sequence_text, &why), "{}:{}: '{}' is not a peptide: {}", path,
                          lines.line(), std::string_view(p.sequence_text).substr(0, 60), why);
            if (!try_parse_peptide(p.sequence_text, p.tokens, &why, vocab)) {
                if (!warned)
                    log::warn("{}:{}: peptide '{}': {}; unknown tokens weigh 0 in evaluation", path, lines.line(),
                              p.sequence_text, why);
                warned = true;
                p.tokens = split_tokens(p.sequence_text);
            }
            double v = 0;
            if (std::string s = get(c_score); !s.empty()) {
                TRANOVA_CHECK(parse_double(s, v), "{}:{}: invalid search_engine_score[1] '{}'", path, lines.line(), s);
                p.score = v;
            } else {
                p.score = NAN;
            }
            if (std::string s = get(c_charge); !s.empty()) {
                TRANOVA_CHECK(parse_double(s, v), "{}:{}: invalid charge '{}'", path, lines.line(), s);
                p.charge = static_cast<int>(std::lround(v));
            }
            if (std::string s = get(c_exp); !s.empty() && parse_double(s, v)) p.exp_mz = v;
            if (std::string s = get(c_calc); !s.empty() && parse_double(s, v)) p.calc_mz = v;
            p.spectra_ref = get(c_ref);
            int run = 1;
            std::string kind;
            long value = -1;
            if (parse_spectra_ref(p.spectra_ref, run, kind, value)) {
                p.ms_run = run;
                if (kind == "index") p.index = value;
                else if (kind == "scan") p.scan = value;
            }
            if (std::string s = get(c_aa); !s.empty())
                for (auto part : split(s, ','))
                    if (parse_double(part, v)) p.aa_scores.push_back(v);
            p.title = get(c_title);
            f.psms.push_back(std::move(p));
        } else {
            // The other sections of mzTab 1.0 and comments are skipped; anything else means
            // this is not an mzTab file (junk must not read as "no PSMs").
            static const char* const other_tags[] = {"COM", "PRH", "PRT", "PEH", "PEP", "SMH", "SML"};
            bool known = false;
            for (const char* t : other_tags) known = known || tag == t;
            TRANOVA_CHECK(known, "{}:{}: not an mzTab row (expected MTD, PSH, PSM, ... at the line start): '{}'",
                          path, lines.line(), line.substr(0, 40));
        }
    }
    TRANOVA_CHECK(!header.empty(), "{}: no PSM section (PSH header) in {} lines: not an mzTab file of PSMs", path,
                  lines.line());
    return f;
}

}  // namespace tranova::denovo
