// `tranova gym eval`: option parsing; the work is gym::gym_evaluate and gym::write_report.
#include "cli.hpp"
#include "gym_cmd.hpp"

#include "gym/report.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace tranova::gym_cmd {

namespace po = tranova::cli::po;

namespace {

gym::ndcg_ties parse_ties(const std::string& s) {
    if (s == "numpy") return gym::ndcg_ties::numpy;
    if (s == "stable") return gym::ndcg_ties::stable;
    throw tranova::usage_error("--ndcg-ties must be numpy or stable");
}

}  // namespace

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
        ("bootstrap", p.number(&o.boot.replicates, 0, 10000000)->default_value(10000), "bootstrap replicates for the standard error")
        ("seed", p.number<uint64_t>(&o.boot.seed, 0, UINT64_MAX)->default_value(0), "bootstrap seed")
        ("ndcg-ties", po::value<std::string>(&ties)->default_value("stable"), "NDCG order among tied predictions: stable (row order; portable) or numpy (numpy 1.24's argsort order, bit-exact with the official script under numpy < 1.25)")
        ("scatter", po::value<std::string>(&scatter)->value_name("A,B"), "models of the per-assay Spearman scatter (default: the top two)")
        ("plot-models", p.number(&o.plot_models, 1, 100000)->default_value(12), "models shown in the function bar charts (best first)")
        ("batch", p.number(&o.batch_models, 1, 100000)->default_value(8), "models read per batch");
    p.positional("file");
    p.input(file, "gym file");
    p.output(out, "-o");
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
    for (const auto& m : o.models) tranova::cli::check_name(m, "--models");
    if (!scatter.empty()) {
        tranova::cli::check_name(o.scatter_a, "--scatter");
        tranova::cli::check_name(o.scatter_b, "--scatter");
    }
    gym::gym_file f(file);
    auto r = gym::gym_evaluate(f, o);
    // Names in the file (written by another tool or an older tranova) go into Markdown and
    // MultiQC tables too.
    for (const auto& m : r.models) {
        std::string why = tranova::cli::name_problem(m);
        TRANOVA_CHECK(why.empty(), "{}: model name '{}': {}; re-add it under a plain name", file, m, why);
    }
    for (size_t j = 0; j < r.model_types.size(); ++j) {
        std::string why = tranova::cli::report_text_problem(r.model_types[j]);
        TRANOVA_CHECK(why.empty(), "{}: model_type of '{}': {}", file, r.models[j], why);
    }
    gym::write_report(r, out, o);
    const auto& s = r.summary[gym::m_spearman];
    tranova::log::info("{} models x {} assays: read {:.2f} s, metrics {:.2f} s, aggregation {:.2f} s", r.models.size(),
                       r.assays.size(), r.seconds_read, r.seconds_metrics, r.seconds_aggregate);
    if (s.top_model >= 0)
        tranova::log::info("top model by Spearman: {} ({:.3f}); report in {}", r.models[s.top_model],
                           gym::round3(s.average[s.top_model]), out);
    return 0;
}

}  // namespace tranova::gym_cmd
