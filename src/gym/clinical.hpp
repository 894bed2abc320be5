// Clinical-variant benchmark (`tranova gym clinical`): one ROC-AUC per gene with pathogenic
// variants as the positive class and the negated fitness prediction as the score (a lower
// predicted fitness means pathogenic), then the plain mean over the genes where the model
// has an AUC (ProteinGym issue #87; there is no official script, docs/gym.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::gym {

struct clinical_options {
    std::string variants;  // CSV: DMS_id (gene), key, label
    std::string scores;    // CSV with DMS_id, or a folder of <DMS_id>.csv
    std::string model;     // model name for the summary
    std::string output;    // report folder
    std::string column = "avg_score";     // score column
    std::string label = "DMS_bin_score";  // Pathogenic/Benign or 1/0
    std::string key = "mutant";           // merge key column
    int directionality = 1;               // +1 if higher = fitter, -1 otherwise
};

struct clinical_gene {
    std::string gene;
    int64_t n_variants = 0, n_pathogenic = 0;
    double auc = 0;  // NaN when the gene has only one class scored
};

struct clinical_result {
    std::vector<clinical_gene> genes;  // sorted by name
    double mean_auc = 0;               // over genes with an AUC
    int n_genes = 0;                   // genes with an AUC
    int64_t unscored = 0;              // labelled variants without a score
    int64_t nan_dropped = 0;           // labelled variants with a NaN score
};

// Reads the labels and the scores and computes the per-gene AUCs. Throws tranova::error
// on bad input (FILE:LINE) or when no gene has an AUC.
clinical_result clinical_evaluate(const clinical_options& opt);

// Writes clinical_per_gene.csv and clinical_summary.csv under opt.output (created if needed).
void write_clinical_report(const clinical_result& r, const clinical_options& opt);

}  // namespace tranova::gym
