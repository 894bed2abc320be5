#include "denovo/eval_report.hpp"

#include "denovo/mztab.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/svg.hpp"
#include "util/text.hpp"

#include <cctype>
#include <filesystem>
#include <unordered_map>

namespace tranova::denovo {

namespace {

bool ends_with_ci(const std::string& s, std::string_view suf) {
    if (s.size() < suf.size()) return false;
    for (size_t i = 0; i < suf.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[s.size() - suf.size() + i])) != suf[i]) return false;
    return true;
}

std::string json_string(std::string_view s) {
    std::string o = "\"";
    for (char c : s) {
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\t': o += "\\t"; break;
            case '\r': o += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) o += fmt::format("\\u{:04x}", c);
                else o += c;
        }
    }
    return o + "\"";
}

std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }


}  // namespace

std::vector<prediction> read_predictions(const std::string& path) {
    std::vector<prediction> out;
    if (ends_with_ci(path, ".mztab")) {
        auto f = read_mztab(path);
        long k = 0;
        for (auto& p : f.psms) {
            prediction q;
            q.title = p.title;
            q.index = p.index;
            q.scan = p.scan;
            q.tokens = std::move(p.tokens);
            q.score = p.score;
            q.where = fmt::format("{}: PSM {}", path, ++k);
            if (p.ms_run != 1 && f.ms_runs.size() > 1)
                TRANOVA_FAIL("{}: spectra from several runs (ms_run[{}]); evaluate one run at a time", q.where, p.ms_run);
            out.push_back(std::move(q));
        }
        return out;
    }
    csv_reader r(path, ends_with_ci(path, ".tsv") ? '\t' : ',');
    // Column names: ours (title,sequence,score), PrimeNovo's denovo.tsv (label,prediction,score),
    // denovo_benchmarks (spectrum_id,sequence,score).
    auto pick = [&](std::initializer_list<const char*> names) {
        for (const char* n : names)
            if (r.column(n) >= 0) return r.column(n);
        return r.require_column(*names.begin());
    };
    const int c_title = pick({"title", "label", "spectrum_id"}), c_seq = pick({"sequence", "prediction", "peptide"}),
              c_score = pick({"score", "peptide_score"});
    std::vector<std::string> fields;
    bool warned = false;
    while (r.next(fields)) {
        prediction q;
        q.where = r.where();
        q.title = fields[c_title];
        std::string_view seq = trim(fields[c_seq]);
        std::string why;
        TRANOVA_CHECK(looks_like_peptide(seq, &why), "{}: '{}' is not a peptide: {}", r.where(), seq.substr(0, 60), why);
        if (!seq.empty() && !try_parse_peptide(seq, q.tokens, &why)) {
            if (!warned) log::warn("{}: peptide '{}': {}; unknown tokens weigh 0", r.where(), seq, why);
            warned = true;
            q.tokens = split_tokens(seq);
        }
        std::string_view sc = trim(fields[c_score]);
        if (sc.empty()) {
            q.score = NAN;
        } else {
            TRANOVA_CHECK(parse_double(sc, q.score), "{}: invalid score '{}'", r.where(), sc);
        }
        out.push_back(std::move(q));
    }
    return out;
}

std::vector<spectrum_eval> pair_predictions(const std::string& truth_path, const std::vector<prediction>& preds,
                                            pairing_stats& stats, bool i_to_l_flag) {
    read_options ro;
    ro.keep_chargeless = true;
    auto reader = open_spectra(truth_path, ro);
    std::vector<spectrum_eval> out;
    std::unordered_map<std::string, long> by_title;
    std::unordered_map<long, long> by_index, by_scan;
    spectrum s;
    while (reader->next(s)) {
        if (s.seq.empty()) {
            ++stats.unannotated;
            continue;
        }
        spectrum_eval e;
        e.title = s.title;
        e.index = s.index;
        std::string why;
        TRANOVA_CHECK(try_parse_peptide(s.seq, e.truth, &why, vocabulary::massivekb(), i_to_l_flag),
                      "{}: record index={} (TITLE={}): SEQ '{}': {}", truth_path, s.index, s.title, s.seq, why);
        const long k = static_cast<long>(out.size());
        auto [it, fresh] = by_title.emplace(s.title, k);
        if (!fresh) it->second = -1;  // duplicate title: ambiguous
        by_index.emplace(s.index, k);
        if (s.scan >= 0) by_scan.emplace(s.scan, k);
        out.push_back(std::move(e));
    }
    stats.truth_records = static_cast<long>(out.size());
    stats.predictions = static_cast<long>(preds.size());
    for (const auto& p : preds) {
        long k = -2;
        if (!p.title.empty()) {
            auto it = by_title.find(p.title);
            if (it != by_title.end()) {
                TRANOVA_CHECK(it->second >= 0, "{}: title '{}' occurs more than once in {}", p.where, p.title,
                              truth_path);
                k = it->second;
            }
        } else if (p.index >= 0) {
            auto it = by_index.find(p.index);
            if (it != by_index.end()) k = it->second;
        } else if (p.scan >= 0) {
            auto it = by_scan.find(p.scan);
            if (it != by_scan.end()) k = it->second;
        }
        if (k < 0) {
            if (stats.unmatched_predictions++ < 5)
                log::warn("{}: no annotated spectrum in {} for this prediction", p.where, truth_path);
            continue;
        }
        spectrum_eval& e = out[k];
        if (e.has_prediction) {
            ++stats.duplicate_predictions;
            if (!(p.score > e.score)) continue;
        }
        e.has_prediction = true;
        e.prediction = p.tokens;
        if (i_to_l_flag) i_to_l(e.prediction);
        e.score = p.score;
    }
    return out;
}

std::string precision_coverage_svg(const eval_summary& s, const std::string& title) {
    line_plot p;
    p.title = title;
    p.x_label = "Coverage";
    p.y_label = "Peptide precision";
    p.x_min = p.y_min = 0;
    p.x_max = p.y_max = 1;
    p.series.push_back({"", s.pc_coverage, s.pc_precision});
    p.note = fmt::format("AUC = {:.4f}, n = {}", s.pc_auc, s.n_spectra);
    return svg_line_plot(p);
}

void write_eval_report(const std::string& dir, const eval_summary& s, const std::vector<spectrum_eval>& spectra,
                       const report_info& info) {
    make_directories(dir);
    const auto path = [&](const char* name) { return (std::filesystem::path(dir) / name).string(); };
    // Open all four first so an unwritable folder fails before anything is written.
    output_file json(path("summary.json")), csv(path("per_spectrum.csv")), md(path("report.md")),
        svg(path("precision_coverage.svg"));

    std::string j = "{\n";
    j += fmt::format("  \"aa_precision\": {},\n  \"aa_recall\": {},\n", json_number(s.aa_precision),
                     json_number(s.aa_recall));
    j += fmt::format("  \"peptide_precision\": {},\n  \"peptide_recall\": {},\n", json_number(s.peptide_precision),
                     json_number(s.peptide_recall));
    j += fmt::format("  \"pc_auc\": {},\n  \"n_spectra\": {},\n  \"n_predicted\": {},\n", json_number(s.pc_auc),
                     s.n_spectra, s.n_predicted);
    j += fmt::format("  \"n_aa_true\": {},\n  \"n_aa_pred\": {},\n  \"n_aa_matched\": {},\n  \"n_peptide_matched\": {},\n",
                     s.n_aa_true, s.n_aa_pred, s.n_aa_matched, s.n_peptide_matched);
    j += fmt::format("  \"cum_mass_tol_da\": {},\n  \"ind_mass_tol_da\": {},\n", info.match.cum_mass_tol,
                     info.match.ind_mass_tol);
    j += fmt::format("  \"unannotated_spectra\": {},\n  \"unmatched_predictions\": {},\n  \"duplicate_predictions\": {},\n",
                     info.pairing.unannotated, info.pairing.unmatched_predictions, info.pairing.duplicate_predictions);
    j += fmt::format("  \"predictions\": {},\n  \"truth\": {},\n  \"tranova_version\": {}\n}}\n",
                     json_string(info.predictions_path), json_string(info.truth_path), json_string(info.version));
    json.write(j);

    std::string c = "index,title,truth,prediction,score,n_true,n_pred,n_matched,peptide_match,aa_matches\n";
    for (const auto& e : spectra) {
        std::string bits;
        for (bool b : e.match.matches) bits += b ? '1' : '0';
        c += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", e.index, csv_escape(e.title), csv_escape(to_casanovo(e.truth)),
                         csv_escape(to_casanovo(e.prediction)), e.has_prediction ? json_number(e.score) : "",
                         e.truth.size(), e.prediction.size(), e.match.n_matched, e.match.peptide_match ? 1 : 0, bits);
    }
    csv.write(c);

    std::string m = "# De novo evaluation\n\n";
    m += fmt::format("Predictions: `{}`  \nTruth: `{}`  \ntranova {}{}\n\n", info.predictions_path, info.truth_path,
                     info.version, info.command_line.empty() ? "" : fmt::format(" — `{}`", info.command_line));
    m += "| metric | value | definition |\n|---|---|---|\n";
    m += fmt::format("| AA precision | {:.4f} | {} matched / {} predicted residues |\n", s.aa_precision, s.n_aa_matched,
                     s.n_aa_pred);
    m += fmt::format("| AA recall | {:.4f} | {} matched / {} true residues |\n", s.aa_recall, s.n_aa_matched, s.n_aa_true);
    m += fmt::format("| Peptide precision | {:.4f} | {} correct / {} spectra with a prediction |\n",
                     s.peptide_precision, s.n_peptide_matched, s.n_predicted);
    m += fmt::format("| Peptide recall | {:.4f} | {} correct / {} annotated spectra |\n", s.peptide_recall,
                     s.n_peptide_matched, s.n_spectra);
    m += fmt::format("| Precision–coverage AUC | {:.4f} | trapezoid over spectra sorted by score |\n\n", s.pc_auc);
    m += fmt::format(
        "A residue matches when its mass agrees within {} Da and the prefix (or suffix) masses up to it agree within "
        "{} Da (DeepNovo/Casanovo criterion); a peptide matches when every residue does. I and L are the same "
        "mass.\n\n",
        info.match.ind_mass_tol, info.match.cum_mass_tol);
    m += fmt::format("Spectra: {} annotated, {} unannotated (ignored); predictions: {}, {} without a matching "
                     "spectrum, {} extra PSMs for one spectrum (best score kept).\n\n",
                     s.n_spectra, info.pairing.unannotated, info.pairing.predictions, info.pairing.unmatched_predictions,
                     info.pairing.duplicate_predictions);
    m += "![precision–coverage](precision_coverage.svg)\n\nFiles: `summary.json`, `per_spectrum.csv`, "
         "`precision_coverage.svg`.\n";
    md.write(m);

    svg.write(precision_coverage_svg(s, "Peptide precision–coverage"));
    json.commit();
    csv.commit();
    md.commit();
    svg.commit();
}

}  // namespace tranova::denovo
