// Evaluation of every (model, assay) pair of a gym file: the five metrics per assay (and
// per mutation depth for substitutions), NaN predictions dropped and counted, then the
// ProteinGym aggregation (aggregate.hpp). OpenMP over (model, assay) pairs; HDF5 reads from
// one thread. The report written from the result is report.hpp.
#pragma once

#include "gym/aggregate.hpp"
#include "gym/dataset.hpp"
#include "gym/metrics.hpp"

#include <string>
#include <vector>

namespace tranova::gym {

struct eval_options {
    // Stable (row-order) NDCG tie-break, the spec's recommendation: portable across numpy
    // versions and CPUs. ndcg_ties::numpy reproduces numpy 1.24's order bit for bit.
    ndcg_ties ties = ndcg_ties::stable;
    bootstrap_options boot;
    std::vector<std::string> models;       // empty = all models in the file
    std::string scatter_a, scatter_b;      // models of the Spearman scatter (default: top two)
    int plot_models = 12;                  // models shown in the function bar charts
    int batch_models = 8;                  // models read per batch (memory vs. parallelism)
};

struct eval_result {
    std::string mutation_type;
    std::vector<std::string> models, model_types;
    std::vector<assay_info> assays;
    std::vector<double> per_assay[n_metrics];  // (assays, models), rounded to 3 dp
    std::vector<double> depth[n_metrics];      // (5, assays, models), rounded; empty for indels
    std::vector<metric_summary> summary;       // one per metric
    // NaN predictions dropped before the metrics (policy in docs/gym.md), per model, and
    // the number of assays they occurred in.
    std::vector<int64_t> nan_dropped, nan_assays;
    double seconds_read = 0, seconds_metrics = 0, seconds_aggregate = 0;
};

eval_result gym_evaluate(const gym_file& file, const eval_options& opt);

}  // namespace tranova::gym
