// ProteinGym aggregation of rounded per-assay metrics into the summary columns:
// assay -> (UniProt, function) -> function -> headline average, the MSA-depth and taxon
// breakdowns (UniProt-level means, not function-balanced), the mutation-depth columns,
// ranking by the unrounded average and the bootstrap standard error of each model's
// difference to the top model (resampling (UniProt, function) rows within each function
// class). Every mean skips NaN, as pandas does. Pure functions over arrays; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::gym {

// The output column labels, in the official order.
inline const char* function_names[5] = {"Activity", "Binding", "Expression", "OrganismalFitness", "Stability"};
inline const char* msa_depth_names[3] = {"Low", "Medium", "High"};
// Reference-file taxon values and the summary column each feeds.
inline const char* taxon_names[4] = {"Human", "Eukaryote", "Prokaryote", "Virus"};
inline const char* taxon_columns[4] = {"Taxa_Human", "Taxa_Other_Eukaryote", "Taxa_Prokaryote", "Taxa_Virus"};

// What the aggregation needs to know about one assay.
struct assay_info {
    std::string dms_id, uniprot, function, msa_depth, taxon;  // msa_depth capitalised (Low/Medium/High)
    int64_t n_mutants = 0;
};

// The summary of one metric for all models (index = model).
struct metric_summary {
    std::vector<double> average, bootstrap_se;  // unrounded
    std::vector<double> function;               // (models, 5) function_names order
    std::vector<double> msa_depth;              // (models, 3)
    std::vector<double> taxon;                  // (models, 4)
    std::vector<double> depth;                  // (models, 5) Depth_1..Depth_5+; NaN without depth data
    std::vector<int> rank;                      // 1-based Model_rank by unrounded average
    int top_model = -1;                         // argmax of the unrounded average
    // The (UniProt, function) table A the bootstrap resamples: groups sorted by (UniProt, function).
    std::vector<std::string> group_uniprot, group_function;
    std::vector<double> group_mean;  // (groups, models)
};

struct bootstrap_options {
    int replicates = 10000;  // < 2: no bootstrap (SE NaN except the top model, 0)
    uint64_t seed = 0;
};

// per_assay: (assays, models) rounded metric, NaN = missing. depth_per_assay: nullptr, or
// (5, assays, models) rounded depth-subset metric. Function classes not present in any
// assay are NaN in `function` and left out of the average (indels have no Binding).
metric_summary aggregate_metric(const std::vector<assay_info>& assays, const double* per_assay, int n_models,
                                const double* depth_per_assay, const bootstrap_options& boot);

// The official `_Uniprot_level.csv` table, quirk included: per-UniProt means of
// the rounded per-assay values (UniProt IDs sorted, pandas groupby), merged left with the
// deduplicated (UniProt, MSA depth) and (UniProt, taxon) lookups and then with the
// NON-deduplicated (UniProt, function) lookup, so a UniProt ID with k assays appears k
// times (once per assay, with that assay's function, in assay order); `average` is the
// plain mean over all those rows, duplicates included (Tranception L Spearman: 0.447, not
// the headline 0.434). Lookups are built from `assays` (the reference rows of the gym file).
struct uniprot_level {
    std::vector<std::string> uniprot, function, msa_depth, taxon;  // one per row
    std::vector<double> values;   // (rows, models), unrounded means
    std::vector<double> average;  // (models), unrounded
};
uniprot_level uniprot_level_table(const std::vector<assay_info>& assays, const double* per_assay, int n_models);

// Standard error of the mean over (UniProt, function) groups of each model's
// per-function value: (models, 5), used for the error bars of the function plot.
std::vector<double> function_standard_error(const metric_summary& s, int n_models);

// NaN-skipping mean (pandas .mean()); NaN when nothing is left.
double nan_mean(const double* x, int64_t n, int64_t stride = 1);

}  // namespace tranova::gym
