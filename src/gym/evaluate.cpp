// The evaluation driver (see evaluate.hpp).
#include "gym/evaluate.hpp"

#include "gym/detail/metric_scratch.hpp"

#include "util/error.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <exception>
#include <numeric>
#include <thread>

namespace tranova::gym {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

eval_result gym_evaluate(const gym_file& file, const eval_options& opt) {
    eval_result r;
    r.mutation_type = file.mutation_type();
    r.models = opt.models.empty() ? file.models() : opt.models;
    for (const auto& m : r.models) {
        TRANOVA_CHECK(std::find(file.models().begin(), file.models().end(), m) != file.models().end(),
                      "no predictions for model '{}' in the file (add them with 'tranova gym add')", m);
        r.model_types.push_back(file.model_attr(m, "model_type"));
    }
    TRANOVA_CHECK(!r.models.empty(), "the file has no model predictions yet (add some with 'tranova gym add')");
    const auto& ids = file.assay_ids();
    const int A = static_cast<int>(ids.size()), M = static_cast<int>(r.models.size());
    auto t0 = std::chrono::steady_clock::now();
    std::vector<gym_assay> assays(A);
    for (int a = 0; a < A; ++a) assays[a] = file.read_assay(ids[a]);
    const bool by_depth = r.mutation_type != "indels";
    std::vector<assay_context> ctx(A);
#pragma omp parallel for schedule(dynamic)
    for (int a = 0; a < A; ++a)
        ctx[a] = assay_context_build(assays[a].y.data(), assays[a].b.data(), by_depth ? assays[a].depth.data() : nullptr,
                                     assays[a].n, opt.ties);
    for (auto& a : assays) r.assays.push_back(a.info);
    const int S = by_depth ? 1 + n_depths : 1;
    // raw[(a * M + j) * S * 5 + k]: unrounded metric k of slice s for model j on assay a
    std::vector<double> raw(static_cast<size_t>(A) * M * S * n_metrics, nan_v);
    r.seconds_read += seconds_since(t0);
    // Largest assays first: better load balance for the dynamic schedule.
    std::vector<int> by_size(A);
    std::iota(by_size.begin(), by_size.end(), 0);
    std::stable_sort(by_size.begin(), by_size.end(), [&](int x, int y) { return assays[x].n > assays[y].n; });
    int64_t total_n = 0;
    std::vector<int64_t> offset(A);
    for (int a = 0; a < A; ++a) {
        offset[a] = total_n;
        total_n += assays[a].n;
    }
    const int B = std::max(1, opt.batch_models);
    // Two batch buffers: a reader thread fills the next batch (HDF5 is used by that thread
    // only while it runs) while the OpenMP threads compute the metrics of the current one.
    std::vector<double> buf[2] = {std::vector<double>(static_cast<size_t>(B) * total_n),
                                  std::vector<double>(static_cast<size_t>(B) * total_n)};
    std::vector<char> present[2] = {std::vector<char>(static_cast<size_t>(B) * A), std::vector<char>(static_cast<size_t>(B) * A)};
    auto read_batch = [&](int j0, int slot) {
        const int nb = std::min(B, M - j0);
        for (int jb = 0; jb < nb; ++jb)
            for (int a = 0; a < A; ++a)
                present[slot][jb * A + a] = file.read_predictions(
                    r.models[j0 + jb], ids[a], &buf[slot][static_cast<size_t>(jb) * total_n + offset[a]], assays[a].n);
    };
    progress bar("evaluating", static_cast<uint64_t>(M), "models");
    std::vector<detail::metric_scratch> scratch(omp_get_max_threads());
    r.nan_dropped.assign(M, 0);
    r.nan_assays.assign(M, 0);
    std::vector<int64_t> nan_count(static_cast<size_t>(B) * A);
    {
        auto tr = std::chrono::steady_clock::now();
        read_batch(0, 0);
        r.seconds_read += seconds_since(tr);
    }
    for (int j0 = 0, slot = 0; j0 < M; j0 += B, slot ^= 1) {
        const int nb = std::min(B, M - j0);
        std::exception_ptr read_error;
        std::thread reader;
        if (j0 + B < M)
            reader = std::thread([&, next = j0 + B, other = slot ^ 1] {
                try {
                    read_batch(next, other);
                } catch (...) {
                    read_error = std::current_exception();
                }
            });
        auto tm = std::chrono::steady_clock::now();
        const int pairs = nb * A;
        const auto& bs = buf[slot];
        const auto& pr = present[slot];
#pragma omp parallel for schedule(dynamic, 1)
        for (int p = 0; p < pairs; ++p) {
            int a = by_size[p / nb], jb = p % nb;
            nan_count[jb * A + a] = 0;
            if (!pr[jb * A + a]) continue;
            const double* s = &bs[static_cast<size_t>(jb) * total_n + offset[a]];
            nan_count[jb * A + a] = std::count_if(s, s + assays[a].n, [](double v) { return v != v; });
            double* out = &raw[(static_cast<size_t>(a) * M + j0 + jb) * S * n_metrics];
            assay_metrics(out, ctx[a], s, scratch[omp_get_thread_num()]);
        }
        r.seconds_metrics += seconds_since(tm);
        for (int jb = 0; jb < nb; ++jb)
            for (int a = 0; a < A; ++a) {
                r.nan_dropped[j0 + jb] += nan_count[jb * A + a];
                r.nan_assays[j0 + jb] += nan_count[jb * A + a] > 0;
            }
        if (reader.joinable()) {
            auto tr = std::chrono::steady_clock::now();
            reader.join();  // the wait is read time not hidden behind the metrics
            r.seconds_read += seconds_since(tr);
        }
        if (read_error) std::rethrow_exception(read_error);
        bar.add(nb);
    }
    bar.finish();
    for (int j = 0; j < M; ++j)
        if (r.nan_dropped[j])
            log::warn("model '{}': {} NaN predictions in {} assays dropped before computing the metrics", r.models[j],
                      r.nan_dropped[j], r.nan_assays[j]);
    auto ta = std::chrono::steady_clock::now();
    for (int k = 0; k < n_metrics; ++k) {
        r.per_assay[k].assign(static_cast<size_t>(A) * M, nan_v);
        if (by_depth) r.depth[k].assign(static_cast<size_t>(n_depths) * A * M, nan_v);
        for (int a = 0; a < A; ++a)
            for (int j = 0; j < M; ++j) {
                const double* o = &raw[(static_cast<size_t>(a) * M + j) * S * n_metrics];
                r.per_assay[k][static_cast<size_t>(a) * M + j] = round3(o[k]);
                for (int d = 0; d + 1 < S; ++d)
                    r.depth[k][(static_cast<size_t>(d) * A + a) * M + j] = round3(o[(1 + d) * n_metrics + k]);
            }
        r.summary.push_back(aggregate_metric(r.assays, r.per_assay[k].data(), M,
                                             by_depth ? r.depth[k].data() : nullptr, opt.boot));
    }
    r.seconds_aggregate = seconds_since(ta);
    return r;
}

}  // namespace tranova::gym
