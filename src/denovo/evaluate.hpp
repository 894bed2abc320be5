// De novo evaluation: the DeepNovo/Casanovo residue-matching criterion and the
// metrics built on it, with their names the right way round:
//   aa_precision      = matched residues / predicted residues
//   aa_recall         = matched residues / true residues
//   peptide_precision = fully matched peptides / spectra with a prediction
//   peptide_recall    = fully matched peptides / all annotated spectra
// and the peptide precision–coverage curve (spectra sorted by score, descending;
// precision_k = matches in the top k / k, coverage_k = k / N) with its trapezoidal AUC.
#pragma once

#include "denovo/peptide.hpp"

#include <string>
#include <vector>

namespace tranova::denovo {

struct match_options {
    double cum_mass_tol = 0.5;  // Da, prefix/suffix cumulative mass agreement
    double ind_mass_tol = 0.1;  // Da, individual residue agreement
};

enum class match_mode { best, forward, backward };  // prefix+suffix, prefix only, suffix only

struct aa_match_result {
    std::vector<bool> matches;  // length max(len1, len2); indexed by max(i1, i2) as Casanovo does
    bool peptide_match = false;
    long n_matched = 0;
};

// Casanovo v4.2.1 `evaluate.aa_match(peptide1, peptide2, ...)`: tokens outside `vocab`
// weigh 0. Casanovo's evaluation calls it as (truth, prediction); the result is not
// exactly symmetric (ties of cumulative mass advance peptide2).
aa_match_result aa_match(const peptide& peptide1, const peptide& peptide2, const vocabulary& vocab = vocabulary::massivekb(),
                         match_mode mode = match_mode::best, const match_options& opt = {});

// One spectrum's evaluation.
struct spectrum_eval {
    std::string title;       // the truth record's TITLE
    long index = -1;         // the truth record's 0-based MGF index
    peptide truth;
    peptide prediction;      // empty when there is no prediction (or it is empty)
    bool has_prediction = false;
    double score = 0;        // prediction score (higher = more confident)
    aa_match_result match;   // aa_match(truth, prediction)
};

struct eval_summary {
    long n_spectra = 0;        // annotated spectra evaluated
    long n_predicted = 0;      // with a non-empty prediction
    long n_aa_true = 0, n_aa_pred = 0, n_aa_matched = 0, n_peptide_matched = 0;
    double aa_precision = 0, aa_recall = 0, peptide_precision = 0, peptide_recall = 0;
    std::vector<double> pc_coverage, pc_precision;  // one point per spectrum
    double pc_auc = 0;
};

// Fills `match` of every entry and returns the summary. Spectra without a prediction
// count as unmatched and are placed after all predicted ones in the precision–coverage
// ordering (ties of score keep input order). Ratios with a zero denominator are 0.
eval_summary evaluate(std::vector<spectrum_eval>& spectra, const vocabulary& vocab = vocabulary::massivekb(),
                      const match_options& opt = {});

// Precision–coverage curve for spectra with these scores and peptide matches (sorted by
// score descending, stable); `n_total` >= scores.size() is N (unscored spectra appended as
// misses). Returns the AUC (trapezoid, sklearn.metrics.auc).
double precision_coverage(const std::vector<double>& scores, const std::vector<bool>& matched, long n_total,
                          std::vector<double>& coverage, std::vector<double>& precision);

}  // namespace tranova::denovo
