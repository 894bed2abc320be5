// `tranova score` as a library call: the command file fills a score_options from its
// options and calls run_score, which reads the target and the variant table, scores them
// (Tranception with the optional MSA retrieval prior, or the site-independent baseline),
// writes the output CSV (input columns kept, score columns added or replaced) and the
// optional heatmap, and computes the optional Spearman correlation.
#pragma once

#include "core/linear.hpp"
#include "tranception/scoring.hpp"
#include "tranception/variants.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tranova::tranception {

struct score_options {
    std::string model;          // weight file, checkpoint folder, or "site-independent"
    std::string target;         // wild type: a FASTA file (first record) or a literal sequence
    std::string dms;            // variant CSV; empty with all_singles
    bool all_singles = false;   // score every single substitution of the target
    std::string out;            // output CSV ("-" = stdout)
    std::string heatmap;        // SVG heatmap; empty = <out stem>.svg with all_singles, else none

    // Variant table.
    std::string mutant_column = "mutant";
    std::string sequence_column = "mutated_sequence";
    bool skip_bad_rows = false;  // warn and skip rows with a bad mutant instead of stopping

    // MSA retrieval prior (or the data of the site-independent model).
    std::string msa;
    long long msa_start = 0, msa_end = 0;  // 1-based target span of the MSA; 0 = from the MSA
    double alpha = 0.6, theta = 0.2, focus_gaps = 0.3;
    bool weighted_msa = true;
    std::string weights_cache;  // empty = <out folder>/<msa name>.msa_weights.h5
    bool use_weights_cache = true;

    // Model and scoring.
    window_mode window = window_mode::optimal;
    bool mirror = true;
    bool token_type_quirk = true;
    bool use_cache = true;
    int batch_rows = 2048;
    core::linear_kernel cpu_kernel = core::linear_kernel::automatic;
    uint64_t seed = 2021;
    int threads = 1;  // for the memory check of the MSA weights

    std::string spearman_column;  // non-empty: correlate avg_score with this column

    // Resumable runs (util/chunked_output): variants are scored in chunks of this many and
    // recorded in <out>.progress/; resume continues a record of the same run.
    int64_t chunk_variants = 1000;
    bool resume = false;
};

struct score_spearman {
    double rho = 0;
    size_t n = 0;          // pairs where both values are finite
    std::string label;     // which scores ("Tranception + retrieval (alpha 0.6)", ...)
    std::string note;      // caveat for random-weight models, or empty
};

struct score_result {
    // Stopped by SIGTERM/SIGUSR1 after a chunk (nothing written but the progress record):
    // the command exits with exit_code_requeue.
    bool preempted = false;
    int signal = 0;
    int64_t chunks_done = 0, chunks = 0;
    std::string record;
    size_t num_variants = 0;
    std::string heatmap;                    // path written, or empty
    std::optional<score_spearman> spearman;  // with spearman_column
};

// Throws tranova::usage_error for contradictory or out-of-range options.
void check_score_options(const score_options& opt);

// The whole `tranova score` run (stops early with preempted = true on SIGTERM/SIGUSR1,
// see util/preemption.hpp). Throws tranova::error on bad input (nothing written) and
// tranova::usage_error on bad options.
score_result run_score(const score_options& opt);

// The wild-type sequence from a FASTA file (its first record) or given literally; `what`
// names it in messages. A literal must be upper-case residues, at least 8 of them, so
// that a mistyped file name is not scored as a protein.
std::string read_target(const std::string& arg, const char* what);

// The variants of a DMS table and its rows (header + fields), in table order.
struct variant_table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::vector<variant> variants;
    size_t skipped = 0;  // bad rows skipped with skip_bad_rows
};
variant_table read_variant_table(const score_options& opt, const std::string& target);

// The output CSV text: `table` with the score columns (avg_score_L_to_R, avg_score_R_to_L,
// avg_score; the L->R and average only without the mirror; avg_score only for the
// site-independent model) replacing same-named input columns or appended.
std::string score_table_csv(const variant_table& table, const std::vector<variant_score>& scores, bool site_independent,
                            bool mirror);

}  // namespace tranova::tranception
