// `tranova gym clinical`: option parsing; the work is gym::clinical_evaluate.
#include "cli.hpp"
#include "gym_cmd.hpp"

#include "gym/clinical.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace tranova::gym_cmd {

namespace po = tranova::cli::po;

// Clinical benchmark (src/gym/clinical.hpp): per-gene ROC-AUC, then the mean over genes.
int main_clinical(int argc, char** argv) {
    tranova::cli::parser p({"tranova gym clinical", "--variants CSV --scores CSV_or_DIR --model NAME -o DIR",
                            "Clinical-variant benchmark: one ROC-AUC per gene with pathogenic variants as the positive "
                            "class and the negated fitness prediction as the score (a lower predicted fitness means "
                            "pathogenic), then the plain mean over the genes where the model has an AUC. --variants holds "
                            "columns DMS_id (gene), mutant, and a label column (DMS_bin_score: Pathogenic/Benign, or "
                            "1 = pathogenic / 0 = benign); --scores a CSV (or folder of <DMS_id>.csv) with the score "
                            "column. There is no official script; see docs/gym.md for the convention.",
                            {"tranova gym clinical --variants clinvar.csv --scores scores.csv --model mine -o clinical/"}});
    gym::clinical_options o;
    p.options().add_options()
        ("variants", po::value<std::string>(&o.variants)->required()->value_name("CSV"), "labelled variants (DMS_id, mutant, label)")
        ("scores,s", po::value<std::string>(&o.scores)->required()->value_name("PATH"), "CSV with DMS_id, or folder of <DMS_id>.csv")
        ("model,m", po::value<std::string>(&o.model)->required(), "model name")
        ("output,o", po::value<std::string>(&o.output)->required()->value_name("DIR"), "report folder")
        ("column,c", po::value<std::string>(&o.column)->default_value("avg_score"), "score column")
        ("label", po::value<std::string>(&o.label)->default_value("DMS_bin_score"), "label column")
        ("key", po::value<std::string>(&o.key)->default_value("mutant"), "merge key column")
        ("directionality", po::value<int>(&o.directionality)->default_value(1), "+1 if higher = fitter, -1 otherwise");
    p.input(o.variants, "--variants");
    p.input(o.scores, "--scores");
    p.output(o.output, "-o");
    if (auto rc = p.parse(argc, argv)) return *rc;
    tranova::cli::check_name(o.model, "--model");
    if (o.directionality != 1 && o.directionality != -1) throw tranova::usage_error("--directionality must be 1 or -1");
    const gym::clinical_result r = gym::clinical_evaluate(o);
    gym::write_clinical_report(r, o);
    if (r.unscored) tranova::log::warn("{} labelled variants have no score and were left out", r.unscored);
    if (r.nan_dropped) tranova::log::warn("{} labelled variants have a NaN score and were left out", r.nan_dropped);
    tranova::log::info("{}: mean per-gene AUC {:.3f} over {} genes", o.model, r.mean_auc, r.n_genes);
    return 0;
}

}  // namespace tranova::gym_cmd
