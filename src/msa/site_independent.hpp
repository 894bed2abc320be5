// Site-independent (ProteinGym "Site-Independent") model fitted on a focus-mode MSA, and
// mutant scoring. Spec: ../specs/retrieval.md §1.5, docs/msa.md.
//
//   model = fit_site_independent(msa::read_alignment("family.a2m"), {});
//   std::vector<double> s = score_mutants(model, {"A123V", "K5R:L7P"});
//
// Per focus column i (the query's uppercase columns) the fit solves
//   h_i = argmin_x  N_eff (log sum_a e^{x_a} - sum_a f_i(a) x_a) + lambda_h |x|^2
// with f_i the plmc gap-ignored weighted frequencies (weights: identity >= 1 - theta over
// focus columns, gap==gap counted; rows with a non-20-AA letter in a focus column ignored)
// and N_eff the sum of those weights. A mutant scores sum_{i in M} h_i(mut) - h_i(wt).
#pragma once

#include "msa/msa.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace tranova::msa {

struct site_independent_options {
    double theta = 0.2;      // plmc -t: identity threshold 1 - theta for the weights
    double lambda_h = 0.01;  // L2 regularisation of the fields
};

struct site_independent_model {
    std::string target;            // query row, uppercase with gaps kept (one char per alignment column)
    long long first_position = 1;  // position (1-based, protein numbering) of alignment column 0, from "ID/start-end"
    std::vector<bool> modelled;    // per alignment column: true for focus (uppercase) columns
    std::vector<double> h;         // num_columns x 20 fields (order msa::amino_acids); 0 where not modelled
    double neff = 0;
    std::size_t num_sequences = 0; // rows used in the fit

    std::size_t num_columns() const { return modelled.size(); }
    // Field of amino acid `aa` at protein position `pos`; NaN if not modelled.
    double field(long long pos, char aa) const;
};

site_independent_model fit_site_independent(const alignment& a, const site_independent_options& opt = {});

// "A123V" or "A123V:K125R" (protein positions, 1-based, as in the MSA header range). Throws
// tranova::error if the wild-type letter disagrees with the target or the string is malformed;
// returns NaN if a mutated position is outside the modelled columns.
double score_mutant(const site_independent_model& m, std::string_view mutant);
std::vector<double> score_mutants(const site_independent_model& m, const std::vector<std::string>& mutants);

// Scores a full mutated sequence whose first residue has protein position `seq_first_position`
// (1 for a whole protein): sum over modelled positions where it differs from the target.
// Differences outside the modelled columns are ignored (ProteinGym cannot score them either).
double score_sequence(const site_independent_model& m, std::string_view sequence, long long seq_first_position = 1);

}  // namespace tranova::msa
