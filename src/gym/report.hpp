// The report written from an evaluation (evaluate.hpp): the official ProteinGym table files
// and column names, per_assay.csv / summary.csv, a Markdown summary, a MultiQC
// custom-content table and SVG plots.
#pragma once

#include "gym/evaluate.hpp"

#include <string>
#include <vector>

namespace tranova::gym {

// Writes everything under `dir` (created if needed). Each file is written whole or not at all.
void write_report(const eval_result& r, const std::string& dir, const eval_options& opt);

// Formats a value as pandas writes a float64 to CSV: shortest round-trip repr, "0.5",
// "1.0", empty for NaN.
std::string format_value(double v);

}  // namespace tranova::gym
