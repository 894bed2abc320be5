// `tranova gym`: ProteinGym-style evaluation over an HDF5 dataset. Nested commands:
// ingest (official CSV layout -> gym.h5), add (attach one model's predictions),
// eval (metrics, official tables, report), clinical (per-gene AUC benchmark).
// Option parsing only; the work is in src/gym/.
#include "cli.hpp"

#include "gym/dataset.hpp"
#include "gym/metrics.hpp"
#include "gym/report.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <filesystem>
#include <map>

namespace {

namespace po = tranova::cli::po;
namespace gym = tranova::gym;

std::string command_line(int argc, char** argv) {
    std::string s = "tranova gym";
    for (int i = 0; i < argc; ++i) s += std::string(" ") + argv[i];
    return s;
}

std::string first_names(const std::vector<std::string>& v, size_t n = 5) {
    std::string s;
    for (size_t i = 0; i < std::min(n, v.size()); ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > n) s += fmt::format(", … ({} more)", v.size() - n);
    return s;
}

int main_ingest(int argc, char** argv) {
    tranova::cli::parser p({"tranova gym ingest", "--reference DMS_substitutions.csv --assays DIR -o gym.h5",
                            "Build a gym HDF5 file from ProteinGym's official layout: the reference file (substitutions "
                            "or indels) and a folder of <DMS_filename> assay CSVs. Every assay is validated (columns, "
                            "numeric scores, 0/1 bins, mutant strings against target_seq and mutated_sequence); the first "
                            "problem stops the run with FILE:LINE and no output is left behind. By default every assay the "
                            "reference lists must be present; --only-present ingests those found and lists the others.",
                            {"tranova gym ingest --reference DMS_substitutions.csv --assays DMS_ProteinGym_substitutions/ -o gym.h5",
                             "tranova gym ingest --reference DMS_substitutions.csv --assays my_assays/ --only-present -o subset.h5"}});
    gym::ingest_options o;
    p.options().add_options()
        ("reference", po::value<std::string>(&o.reference)->required()->value_name("CSV"), "ProteinGym reference file (DMS_substitutions.csv or DMS_indels.csv)")
        ("assays", po::value<std::string>(&o.assays_dir)->required()->value_name("DIR"), "folder holding the assay CSVs named as DMS_filename")
        ("output,o", po::value<std::string>(&o.output)->required()->value_name("H5"), "gym file to write")
        ("only-present", po::bool_switch(&o.only_present), "ingest the listed assays that have a file; report the missing ones instead of failing");
    if (auto rc = p.parse(argc, argv)) return *rc;
    o.command_line = command_line(argc, argv);
    auto rep = gym::gym_ingest(o);
    for (const auto& w : rep.warnings) tranova::log::warn("{}", w);
    if (!rep.missing.empty())
        tranova::log::warn("{} assays listed in the reference have no file and were skipped: {}", rep.missing.size(),
                           first_names(rep.missing));
    if (!rep.unlisted.empty())
        tranova::log::warn("{} CSV files in '{}' are not in the reference and were ignored: {}", rep.unlisted.size(),
                           o.assays_dir, first_names(rep.unlisted));
    tranova::log::info("wrote {}: {} {} assays, {} variants", o.output, rep.n_assays, rep.mutation_type, rep.n_variants);
    return 0;
}

int main_add(int argc, char** argv) {
    tranova::cli::parser p({"tranova gym add", "gym.h5 --model NAME --scores DIR_or_CSV [options]",
                            "Attach one model's predictions. --scores is a folder of <DMS_id>.csv files (ProteinGym's "
                            "zero-shot score folders, or `tranova score` outputs) or one CSV with a DMS_id column. Scores "
                            "are merged as ProteinGym's merge.py does: on mutant (or mutated_sequence), multiplied by "
                            "--directionality, duplicates averaged; a model whose variants are a strict subset of an assay's "
                            "is dropped for that assay (reported). Only the model's own group is written, staged under a "
                            "hidden name and renamed into place when complete.",
                            {"tranova gym add gym.h5 --model Tranception_L --scores zero_shot_scores/Tranception_L/",
                             "tranova gym add gym.h5 --model EVE --scores EVE/ --column evol_indices --directionality -1",
                             "tranova gym add gym.h5 --model mine --scores all_assays.csv --column score"}});
    gym::add_options o;
    p.options().add_options()
        ("file", po::value<std::string>(&o.file)->required()->value_name("H5"), "gym file (positional)")
        ("model,m", po::value<std::string>(&o.model)->required()->value_name("NAME"), "model name (as shown in the reports)")
        ("scores,s", po::value<std::string>(&o.scores)->required()->value_name("PATH"), "folder of <DMS_id>.csv, or one CSV with a DMS_id column")
        ("column,c", po::value<std::string>(&o.column)->default_value("avg_score"), "score column")
        ("directionality", po::value<int>(&o.directionality)->default_value(1), "+1 if higher = fitter, -1 otherwise")
        ("key", po::value<std::string>(&o.key)->value_name("COL"), "merge key: mutant or mutated_sequence (default: mutant for substitutions when the scores have it)")
        ("model-type", po::value<std::string>(&o.model_type)->default_value(""), "free text for the summary's 'Model type' column")
        ("replace", po::bool_switch(&o.replace), "replace an existing model of that name");
    p.positional("file");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (o.directionality != 1 && o.directionality != -1) throw tranova::usage_error("--directionality must be 1 or -1");
    if (!o.key.empty() && o.key != "mutant" && o.key != "mutated_sequence")
        throw tranova::usage_error("--key must be mutant or mutated_sequence");
    o.command_line = command_line(argc, argv);
    auto rep = gym::gym_add(o);
    if (!rep.subset.empty())
        tranova::log::warn("model '{}' dropped for {} assays whose variants it covers only partly (official rule): {}", o.model,
                           rep.subset.size(), first_names(rep.subset));
    if (!rep.no_overlap.empty())
        tranova::log::warn("no variant in common for {} assays (wrong key or column?): {}", rep.no_overlap.size(),
                           first_names(rep.no_overlap));
    if (!rep.no_file.empty())
        tranova::log::warn("no scores for {} assays: {}", rep.no_file.size(), first_names(rep.no_file));
    if (!rep.unknown.empty())
        tranova::log::warn("{} score sets name assays not in the file (ignored): {}", rep.unknown.size(), first_names(rep.unknown));
    if (rep.n_missing_rows)
        tranova::log::warn("{} assay variants have no score (stored as NaN; gym eval drops them before computing the metrics)", rep.n_missing_rows);
    if (rep.n_duplicates_averaged) tranova::log::info("{} duplicated variants averaged", rep.n_duplicates_averaged);
    tranova::log::info("added model '{}' for {} assays", o.model, rep.n_assays_added);
    return 0;
}

gym::ndcg_ties parse_ties(const std::string& s) {
    if (s == "numpy") return gym::ndcg_ties::numpy;
    if (s == "stable") return gym::ndcg_ties::stable;
    throw tranova::usage_error("--ndcg-ties must be numpy or stable");
}

int main_eval(int argc, char** argv) {
    tranova::cli::parser p({"tranova gym eval", "gym.h5 -o DIR [options]",
                            "Compute Spearman, AUC, MCC, NDCG and top-10% recall for every model and assay exactly as "
                            "ProteinGym's performance_DMS_benchmarks.py, aggregate them (assay -> (UniProt, function) -> "
                            "function -> average; MSA-depth, taxon and mutation-depth breakdowns; bootstrap SE of the "
                            "difference to the top model) and write: per_assay.csv, summary.csv, summary.md, "
                            "gym_summary_mqc.tsv (MultiQC), <Metric>/ with the official table files, and SVG plots.",
                            {"tranova gym eval gym.h5 -o report/",
                             "tranova gym eval gym.h5 -o report/ --models Tranception_L,EVE --scatter Tranception_L,EVE --seed 7"}});
    std::string file, out, models, scatter, ties = "stable";
    gym::eval_options o;
    p.options().add_options()
        ("file", po::value<std::string>(&file)->required()->value_name("H5"), "gym file (positional)")
        ("output,o", po::value<std::string>(&out)->required()->value_name("DIR"), "report folder")
        ("models", po::value<std::string>(&models)->value_name("A,B,..."), "evaluate only these models (default: all)")
        ("bootstrap", po::value<int>(&o.boot.replicates)->default_value(10000), "bootstrap replicates for the standard error")
        ("seed", po::value<uint64_t>(&o.boot.seed)->default_value(0), "bootstrap seed")
        ("ndcg-ties", po::value<std::string>(&ties)->default_value("stable"), "NDCG order among tied predictions: stable (row order; portable) or numpy (numpy 1.24's argsort order, bit-exact with the official script under numpy < 1.25)")
        ("scatter", po::value<std::string>(&scatter)->value_name("A,B"), "models of the per-assay Spearman scatter (default: the top two)")
        ("plot-models", po::value<int>(&o.plot_models)->default_value(12), "models shown in the function bar charts (best first)")
        ("batch", po::value<int>(&o.batch_models)->default_value(8), "models read per batch");
    p.positional("file");
    if (auto rc = p.parse(argc, argv)) return *rc;
    o.ties = parse_ties(ties);
    if (o.boot.replicates < 0) throw tranova::usage_error("--bootstrap must be >= 0");
    if (o.batch_models < 1) throw tranova::usage_error("--batch must be >= 1");
    if (!models.empty())
        for (auto m : tranova::split(models, ',')) o.models.emplace_back(m);
    if (!scatter.empty()) {
        auto v = tranova::split(scatter, ',');
        if (v.size() != 2) throw tranova::usage_error("--scatter takes two model names: A,B");
        o.scatter_a = v[0];
        o.scatter_b = v[1];
    }
    gym::gym_file f(file);
    auto r = gym::gym_evaluate(f, o);
    gym::write_report(r, out, o);
    const auto& s = r.summary[gym::m_spearman];
    tranova::log::info("{} models x {} assays: read {:.2f} s, metrics {:.2f} s, aggregation {:.2f} s", r.models.size(),
                       r.assays.size(), r.seconds_read, r.seconds_metrics, r.seconds_aggregate);
    if (s.top_model >= 0)
        tranova::log::info("top model by Spearman: {} ({:.3f}); report in {}", r.models[s.top_model],
                           gym::round3(s.average[s.top_model]), out);
    return 0;
}

// Clinical benchmark: per-gene ROC-AUC (pathogenic = positive class, lower predicted
// fitness = more pathogenic), then the plain mean over genes (ProteinGym issue #87).
int main_clinical(int argc, char** argv) {
    tranova::cli::parser p({"tranova gym clinical", "--variants CSV --scores CSV_or_DIR --model NAME -o DIR",
                            "Clinical-variant benchmark: one ROC-AUC per gene with pathogenic variants as the positive "
                            "class and the negated fitness prediction as the score (a lower predicted fitness means "
                            "pathogenic), then the plain mean over the genes where the model has an AUC. --variants holds "
                            "columns DMS_id (gene), mutant, and a label column (DMS_bin_score: Pathogenic/Benign, or "
                            "1 = pathogenic / 0 = benign); --scores a CSV (or folder of <DMS_id>.csv) with the score "
                            "column. There is no official script; see docs/gym.md for the convention.",
                            {"tranova gym clinical --variants clinvar.csv --scores scores.csv --model mine -o clinical/"}});
    std::string variants, scores, model, out, column = "avg_score", label = "DMS_bin_score", key = "mutant";
    int directionality = 1;
    p.options().add_options()
        ("variants", po::value<std::string>(&variants)->required()->value_name("CSV"), "labelled variants (DMS_id, mutant, label)")
        ("scores,s", po::value<std::string>(&scores)->required()->value_name("PATH"), "CSV with DMS_id, or folder of <DMS_id>.csv")
        ("model,m", po::value<std::string>(&model)->required(), "model name")
        ("output,o", po::value<std::string>(&out)->required()->value_name("DIR"), "report folder")
        ("column,c", po::value<std::string>(&column)->default_value("avg_score"), "score column")
        ("label", po::value<std::string>(&label)->default_value("DMS_bin_score"), "label column")
        ("key", po::value<std::string>(&key)->default_value("mutant"), "merge key column")
        ("directionality", po::value<int>(&directionality)->default_value(1), "+1 if higher = fitter, -1 otherwise");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (directionality != 1 && directionality != -1) throw tranova::usage_error("--directionality must be 1 or -1");
    // Scores: (gene, key) -> value.
    std::map<std::string, std::map<std::string, double>> sc;
    auto read_scores = [&](const std::string& path, const std::string& gene) {
        tranova::csv_reader in(path);
        int c_key = in.require_column(key), c_s = in.require_column(column);
        int c_id = gene.empty() ? in.require_column("DMS_id") : -1;
        std::vector<std::string> f;
        while (in.next(f)) {
            double v;
            TRANOVA_CHECK(tranova::parse_double(f[c_s], v), "{}: score '{}' is not a number", in.where(), f[c_s]);
            sc[gene.empty() ? f[c_id] : gene][f[c_key]] = v * directionality;
        }
    };
    bool folder = std::filesystem::is_directory(scores);
    if (!folder) read_scores(scores, "");
    std::map<std::string, std::pair<std::vector<int8_t>, std::vector<double>>> genes;
    tranova::csv_reader in(variants);
    int c_id = in.require_column("DMS_id"), c_key = in.require_column(key), c_label = in.require_column(label);
    std::vector<std::string> f;
    int64_t unscored = 0, nan_dropped = 0;
    while (in.next(f)) {
        std::string l = tranova::to_upper(tranova::trim(f[c_label]));
        int8_t patho;
        if (l == "PATHOGENIC" || l == "1") patho = 1;
        else if (l == "BENIGN" || l == "0") patho = 0;
        else TRANOVA_FAIL("{}: label '{}' is neither Pathogenic/1 nor Benign/0", in.where(), f[c_label]);
        if (folder && !sc.count(f[c_id])) {
            auto path = std::filesystem::path(scores) / (f[c_id] + ".csv");
            sc[f[c_id]];
            if (std::filesystem::is_regular_file(path)) read_scores(path.string(), f[c_id]);
        }
        auto g = sc.find(f[c_id]);
        auto v = g == sc.end() ? decltype(g->second.begin()){} : g->second.find(f[c_key]);
        if (g == sc.end() || v == g->second.end()) {
            ++unscored;
            continue;
        }
        if (v->second != v->second) {  // NaN prediction: dropped, counted (the policy of gym eval)
            ++nan_dropped;
            continue;
        }
        genes[f[c_id]].first.push_back(patho);
        genes[f[c_id]].second.push_back(v->second);
    }
    std::string t = "DMS_id,n_variants,n_pathogenic,AUC\n";
    double sum = 0;
    int n = 0;
    for (const auto& [gene, d] : genes) {
        double auc = gym::clinical_auc(d.first.data(), d.second.data(), static_cast<int64_t>(d.first.size()));
        int64_t np = 0;
        for (int8_t x : d.first) np += x;
        t += fmt::format("{},{},{},{}\n", tranova::csv_escape(gene), d.first.size(), np, gym::format_value(gym::round3(auc)));
        if (auc == auc) {
            sum += auc;
            ++n;
        }
    }
    TRANOVA_CHECK(n > 0, "{}: no gene has both pathogenic and benign variants scored by model '{}' ({} genes, {} "
                         "variants without a score, {} NaN scores): no AUC to average",
                  variants, model, genes.size(), unscored, nan_dropped);
    tranova::make_directories(out);
    tranova::output_file per_gene((std::filesystem::path(out) / "clinical_per_gene.csv").string());
    per_gene.write(t);
    per_gene.commit();
    tranova::output_file summary((std::filesystem::path(out) / "clinical_summary.csv").string());
    summary.write(fmt::format("Model_name,Average_AUC,n_genes\n{},{},{}\n", tranova::csv_escape(model),
                              gym::format_value(gym::round3(n ? sum / n : std::nan(""))), n));
    summary.commit();
    if (unscored) tranova::log::warn("{} labelled variants have no score and were left out", unscored);
    if (nan_dropped) tranova::log::warn("{} labelled variants have a NaN score and were left out", nan_dropped);
    tranova::log::info("{}: mean per-gene AUC {:.3f} over {} genes", model, n ? sum / n : std::nan(""), n);
    return 0;
}

int main_gym(int argc, char** argv) {
    static const std::vector<tranova::cli::nested_command> table = {
        {"ingest", "build a gym HDF5 file from ProteinGym reference + assay CSVs", main_ingest},
        {"add", "attach one model's predictions (official merge rules)", main_add},
        {"eval", "metrics, official tables, Markdown/MultiQC/SVG report", main_eval},
        {"clinical", "clinical-variant benchmark (per-gene AUC, mean over genes)", main_clinical},
    };
    return tranova::cli::dispatch_nested("gym", table, argc, argv);
}

}  // namespace

TRANOVA_REGISTER_COMMAND(gym, {"gym", "Evaluation", "ProteinGym-style evaluation over HDF5 datasets", main_gym})
