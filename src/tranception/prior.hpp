// The Tranception retrieval prior (spec tranception.md §3): from a focus-mode MSA whose
// first row is the target over [start0, end0), per-position frequencies over the 25
// tokens with a 1e-5 pseudocount, weighted by the ProteinGym/EVE sequence weights
// (src/msa eve_weights), after the official Hamming filter (similarity to the first row
// >= 0.2); log taken of the float32 prior. Also: the on-disk weight cache keyed by the
// MSA content and the weighting options.
#pragma once

#include "msa/msa.hpp"
#include "tranception/scoring.hpp"

#include <string>
#include <vector>

namespace tranova::tranception {

struct prior_options {
    double theta = 0.2;
    double threshold_focus_cols_frac_gaps = 0.3;  // Tranception repo (0.3); ProteinGym copy 1.0
    double threshold_sequence_frac_gaps = 0.5;
    bool weighted = true;                         // false: every row weight 1, no EVE filtering
    double hamming_min = 0.2;
};

// Row weights as the official prior uses them: one per alignment row, 0 for rows that
// EVE preprocessing drops (and for rows with an empty focus vector).
struct prior_weights {
    std::vector<double> row_weight;  // [num_rows]
    std::vector<int> kept_rows;      // EVE-kept rows, file order
    std::vector<double> weights;     // per kept row (what the official .npy holds)
    double neff = 0;
};

prior_weights compute_prior_weights(const msa::alignment& a, const prior_options& opt);

// As compute_prior_weights, through an HDF5 cache file: reused when its key (a hash of
// the alignment rows and names plus the options) matches, else computed and written
// atomically. `cache_path` "" disables the cache. `reused` tells which happened.
prior_weights cached_prior_weights(const msa::alignment& a, const prior_options& opt, const std::string& cache_path,
                                   bool* reused = nullptr);

// Hamming similarity of each row to the first (official one-hot dot product / focus self-dot).
std::vector<double> hamming_similarity(const msa::alignment& a);

// The prior rows [num_columns, 25] in float64 (rows sum to 1).
std::vector<double> msa_prior(const msa::alignment& a, const std::vector<double>& row_weight, const prior_options& opt);

// Checks that the MSA's first row (uppercased, no gaps allowed) equals target[start0, start0 + columns)
// and returns the float32 log-prior for [start0, start0 + columns). Throws naming `msa_path`.
log_prior make_log_prior(const msa::alignment& a, const std::vector<double>& row_weight, const prior_options& opt,
                         const std::string& target, int start0, const std::string& msa_path);

// Where the MSA sits on the target when the user gives no --msa-start: the header's
// "/start-end" if the first row matches there, else the unique occurrence of the first row
// in the target. Throws when neither works.
int locate_msa(const msa::alignment& a, const std::string& target, const std::string& msa_path);

}  // namespace tranova::tranception
