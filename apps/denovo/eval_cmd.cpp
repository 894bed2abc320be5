// `tranova denovo eval`: residue/peptide precision and recall and the precision–coverage
// curve of de novo predictions (mzTab or CSV) against annotated spectra (MGF SEQ=).
#include "cli.hpp"

#include "denovo/eval_report.hpp"
#include "tranova/build_info.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <fmt/format.h>

int main_denovo_eval(int argc, char** argv) {
    namespace po = tranova::cli::po;
    using namespace tranova::denovo;
    tranova::cli::parser p(
        {"tranova denovo eval", "[options] --predictions X.mztab|X.csv --truth Y.mgf -o report/",
         "Compare de novo peptide predictions with the SEQ= annotations of an MGF (or mzML) file. Predictions come "
         "from an mzTab file (Casanovo's or tranova's; matched by spectra_ref index=N or scan=N) or a CSV file with "
         "columns title,sequence,score (matched by TITLE). Writes summary.json, per_spectrum.csv, report.md and "
         "precision_coverage.svg into the output folder.",
         {"tranova denovo eval --predictions casanovo.mztab --truth sample.mgf -o report/",
          "tranova denovo eval --predictions preds.csv --truth annotated.mgf -o report/ --ind-tol 0.05"}});
    std::string predictions, truth, out;
    match_options mo;
    p.options().add_options()
        ("predictions,p", po::value(&predictions)->required(), "predictions: .mztab or .csv (title,sequence,score)")
        ("truth", po::value(&truth)->required(), "annotated spectra (MGF with SEQ=)")
        ("output,o", po::value(&out)->required(), "output folder")
        ("cum-tol", p.number(&mo.cum_mass_tol, 0.0, 1000.0, true)->default_value(0.5, "0.5"), "prefix/suffix mass tolerance, Da")
        ("ind-tol", p.number(&mo.ind_mass_tol, 0.0, 1000.0, true)->default_value(0.1, "0.1"), "per-residue mass tolerance, Da");
    p.input(predictions, "--predictions");
    p.input(truth, "--truth");
    p.output(out, "-o");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (!(mo.cum_mass_tol > 0) || !(mo.ind_mass_tol > 0))
        throw tranova::usage_error("--cum-tol and --ind-tol must be positive");

    auto preds = read_predictions(predictions);
    report_info info;
    // Written into report.md and summary.json: control characters in a name are escaped.
    info.predictions_path = tranova::printable(predictions);
    info.truth_path = tranova::printable(truth);
    info.version = TRANOVA_VERSION;
    info.match = mo;
    auto spectra = pair_predictions(truth, preds, info.pairing);
    TRANOVA_CHECK(!spectra.empty(), "{}: no annotated spectra (SEQ=) to evaluate", truth);
    auto summary = evaluate(spectra, vocabulary::massivekb(), mo);
    for (int i = 0; i < argc; ++i) info.command_line += (i ? " " : "tranova denovo ") + tranova::printable(argv[i]);
    write_eval_report(out, summary, spectra, info);
    tranova::log::info("{} spectra, {} predicted: AA precision {:.4f}, AA recall {:.4f}, peptide precision {:.4f}, "
                       "peptide recall {:.4f}, AUC {:.4f} -> {}",
                       summary.n_spectra, summary.n_predicted, summary.aa_precision, summary.aa_recall,
                       summary.peptide_precision, summary.peptide_recall, summary.pc_auc, out);
    return 0;
}
