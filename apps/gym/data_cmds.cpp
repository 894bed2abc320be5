// `tranova gym ingest` (official CSV layout -> gym.h5) and `tranova gym add` (attach one
// model's predictions): option parsing; the work is gym::gym_ingest / gym::gym_add.
#include "cli.hpp"
#include "gym_cmd.hpp"

#include "gym/dataset.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace tranova::gym_cmd {

namespace po = tranova::cli::po;

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
    p.input(o.reference, "--reference");
    p.input(o.assays_dir, "--assays");
    p.output(o.output, "-o");
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
    p.input(o.scores, "--scores");
    if (auto rc = p.parse(argc, argv)) return *rc;
    tranova::cli::check_name(o.model, "--model");
    if (auto why = tranova::cli::report_text_problem(o.model_type); !why.empty())
        throw tranova::usage_error(fmt::format("--model-type '{}': {}", o.model_type, why));
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

}  // namespace tranova::gym_cmd
