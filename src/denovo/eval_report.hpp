// `tranova denovo eval` building blocks: loading predictions (mzTab or CSV), pairing
// them with annotated spectra, and writing the report folder (summary.json,
// per_spectrum.csv, report.md, precision_coverage.svg).
#pragma once

#include "denovo/evaluate.hpp"
#include "denovo/spectrum.hpp"

#include <string>
#include <vector>

namespace tranova::denovo {

struct prediction {
    std::string title;   // CSV title / mzTab opt_global_spectrum_title ("" if unknown)
    long index = -1;     // mzTab ms_run[1]:index=N
    long scan = -1;      // mzTab ms_run[1]:scan=N
    peptide tokens;
    double score = 0;
    std::string where;   // "FILE:LINE" or "FILE: PSM n", for messages
};

// Reads predictions from an mzTab (.mztab) or CSV file with columns title,sequence,score
// (also accepted: label/spectrum_id, prediction/peptide, peptide_score, so PrimeNovo's
// denovo.tsv reads as is; `.tsv` files are tab-separated; other columns ignored; an empty
// sequence is an empty prediction). Sequences in either
// Casanovo-token or ProForma style; unparsable ones keep Casanovo's raw split (unknown
// tokens weigh 0) with one warning per file.
std::vector<prediction> read_predictions(const std::string& path);

struct pairing_stats {
    long truth_records = 0;    // annotated spectra in the truth file
    long unannotated = 0;      // truth spectra without SEQ (not evaluated)
    long predictions = 0;
    long unmatched_predictions = 0;  // no truth spectrum with that title/index/scan
    long duplicate_predictions = 0;  // extra PSMs for one spectrum (the best score kept)
};

// Pairs predictions with the annotated spectra of `truth` (an MGF/mzML read with every
// charge kept): by title when the prediction has one, else by MGF index, else by scan.
// Every annotated spectrum gives one spectrum_eval (has_prediction false if none).
// Throws on a truth SEQ that cannot be parsed or duplicate truth titles when matching by title.
std::vector<spectrum_eval> pair_predictions(const std::string& truth_path, const std::vector<prediction>& preds,
                                            pairing_stats& stats, bool i_to_l = false);

struct report_info {
    std::string predictions_path, truth_path, command_line, version;
    match_options match;
    pairing_stats pairing;
};

// Writes summary.json, per_spectrum.csv, report.md and precision_coverage.svg into dir
// (created if missing). Each file appears whole or not at all.
void write_eval_report(const std::string& dir, const eval_summary& s, const std::vector<spectrum_eval>& spectra,
                       const report_info& info);

// The precision–coverage plot as a standalone SVG document.
std::string precision_coverage_svg(const eval_summary& s, const std::string& title);

}  // namespace tranova::denovo
