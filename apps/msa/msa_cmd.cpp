// `tranova msa`: MSA utilities. `msa stats` prints size and N_eff (ProteinGym/EVE and
// EVcouplings rules, docs/msa.md) one `key: value` a line.
#include "cli.hpp"

#include "msa/msa.hpp"
#include "util/error.hpp"
#include "util/memory.hpp"
#include "util/output_file.hpp"

#include <fmt/format.h>

#include <numeric>

namespace {

namespace msa = tranova::msa;

msa::format parse_format(const std::string& s) {
    if (s == "auto") return msa::format::automatic;
    if (s == "a2m") return msa::format::a2m;
    if (s == "a3m") return msa::format::a3m;
    throw tranova::usage_error(fmt::format("--format must be auto, a2m or a3m, not '{}'", s));
}

int main_msa_stats(int argc, char** argv) {
    tranova::cli::parser p({"tranova msa stats", "[options] FILE.a2m",
                            "Print rows, columns, focus columns and N_eff of an alignment, one 'key: value' a line. "
                            "neff_proteingym follows ProteinGym/EVE (gaps never match, similarity > 1-theta over the "
                            "query's non-gap columns, rows with > 50% gaps or non-20-AA letters dropped); "
                            "neff_evcouplings follows EVcouplings (identity incl. gap==gap >= 1-theta over the "
                            "query's uppercase columns, all rows).",
                            {"tranova msa stats PTEN_HUMAN_b1.0.a2m", "tranova msa stats --theta 0.01 virus.a2m.gz",
                             "tranova msa stats --format a3m colabfold.a3m -o stats.txt"}});
    std::string input, format = "auto", out_path = "-";
    double theta = 0.2, focus_gaps = 1.0;
    p.options().add_options()
        ("input", tranova::cli::po::value(&input), "alignment (A2M focus mode or A3M; plain, gzip or bgzip)")
        ("theta", p.number(&theta, 0.0, 1.0)->default_value(0.2, "0.2"), "weight threshold: similarity > 1-theta (0.01 for viruses)")
        ("focus-gaps", p.number(&focus_gaps, 0.0, 1.0)->default_value(1.0, "1.0"),
         "ProteinGym rule: columns with a larger gap fraction are not used (1.0 ProteinGym, 0.3 EVE)")
        ("format", tranova::cli::po::value(&format)->default_value("auto"), "auto (from the name), a2m or a3m")
        (",o", tranova::cli::po::value(&out_path)->default_value("-"), "output file ('-' = stdout)");
    p.positional("input");
    p.input(input, "alignment");
    p.output(out_path, "-o");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (input.empty()) throw tranova::usage_error("missing input alignment");
    if (!(theta >= 0 && theta <= 1)) throw tranova::usage_error(fmt::format("--theta must be in [0,1], got {}", theta));
    if (!(focus_gaps >= 0 && focus_gaps <= 1))
        throw tranova::usage_error(fmt::format("--focus-gaps must be in [0,1], got {}", focus_gaps));
    msa::format fmt_ = parse_format(format);
    auto a = msa::read_alignment(input, fmt_);
    tranova::check_memory(msa::weights_memory_bytes(a.num_rows(), a.num_columns(), p.common.threads), input,
                          fmt::format("the sequence weights of {} rows x {} columns", a.num_rows(), a.num_columns()));
    msa::eve_options eo;
    eo.theta = theta;
    eo.threshold_focus_cols_frac_gaps = focus_gaps;
    auto e = msa::eve_weights(a, eo);
    auto w = msa::evcouplings_weights(a, 1.0 - theta);
    double nevc = std::accumulate(w.begin(), w.end(), 0.0);
    std::string s;
    s += fmt::format("file: {}\n", input);
    s += fmt::format("rows: {}\n", a.num_rows());
    s += fmt::format("columns: {}\n", a.num_columns());
    s += fmt::format("focus_columns: {}\n", a.focus_columns().size());
    s += fmt::format("start: {}\n", msa::header_start(a.names[0]));
    s += fmt::format("theta: {}\n", theta);
    s += fmt::format("proteingym_rows: {}\n", e.kept_rows.size());
    s += fmt::format("proteingym_columns: {}\n", e.focus_columns.size());
    s += fmt::format("neff_proteingym: {:.6f}\n", e.neff);
    s += fmt::format("neff_evcouplings: {:.6f}\n", nevc);
    s += fmt::format("neff_per_column: {:.6f}\n", e.focus_columns.empty() ? 0.0 : e.neff / static_cast<double>(e.focus_columns.size()));
    tranova::output_file out(out_path);
    out.write(s);
    out.commit();
    return 0;
}

int main_msa(int argc, char** argv) {
    return tranova::cli::dispatch_nested("msa", {{"stats", "rows, columns and N_eff of an A2M/A3M alignment", main_msa_stats}},
                                         argc, argv);
}

}  // namespace

TRANOVA_REGISTER_COMMAND(msa, {"msa", "Retrieval", "MSA utilities (stats: N_eff and size)", main_msa})
