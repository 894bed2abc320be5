// Fitness scoring exactly as the official Tranception code does it (spec §4): per
// direction, the summed log-likelihood of "[CLS] slice [SEP]" ([SEP] term included),
// fused with the retrieval log-prior at MSA-covered positions, divided by the full
// sequence length, minus the wild type's on the same window (optimal) or over all windows
// (sliding, window sums accumulated in float32 as pandas does); avg_score is the mean of
// the two directions (or L->R alone without the mirror).
//
// Speed (same numbers): the wild type of every window and direction is run once and its
// per-layer prefix cached; each variant runs only from its first token that differs from
// the wild type's slice; variants are batched by start and spread over OpenMP threads.
#pragma once

#include "tranception/model.hpp"
#include "tranception/variants.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tranova::tranception {

// The retrieval log-prior over target positions [start0, end0): rows [end0-start0, 25],
// float32 (log of the float32 prior, spec errata 1).
struct log_prior {
    int start0 = 0, end0 = 0;
    std::vector<float> rows;
    bool covers(int p) const { return p >= start0 && p < end0; }
    const float* row(int p) const { return &rows[size_t(p - start0) * 25]; }
};

enum class window_mode { optimal, sliding };

struct scoring_options {
    window_mode window = window_mode::optimal;
    bool mirror = true;            // also score right-to-left and average
    double alpha = 0.6;            // retrieval_inference_weight
    const log_prior* prior = nullptr;
    bool use_cache = true;         // false: full forward for every slice (reference path)
    int max_batch_rows = 2048;     // rows (tokens) per batched forward
    uint64_t seed = 2021;          // X/B/J/Z replacement
    // Indels with retrieval: maps each residue of `seq` to a target position (-1 =
    // insertion). Required when a prior is given and an indel is scored.
    std::function<std::vector<int>(const std::string& seq)> align_to_target;
};

struct variant_score {
    double l_to_r = 0, r_to_l = 0, avg = 0;
};

// One scored slice (for tests and --debug): direction 0 = L->R, 1 = R->L; variant -1 = WT.
struct slice_record {
    int direction, variant, window_start, window_end;
    float seq_logprob_sum;
};

// The optimal window of a substitution variant (spec §4.2): [start, end) in target coordinates.
std::pair<int, int> optimal_window(const std::vector<int>& positions, int target_len, int context);

// Scores `variants` against `target` (uppercase). Throws tranova::error on sequences that
// do not fit (indel longer than the context in optimal mode) or a missing aligner.
std::vector<variant_score> score_variants(const model& m, const std::string& target,
                                          const std::vector<variant>& variants, const scoring_options& opt,
                                          std::vector<slice_record>* slices = nullptr,
                                          const std::function<void(size_t)>& progress = {});

}  // namespace tranova::tranception
