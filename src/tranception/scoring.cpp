#include "tranception/scoring.hpp"

#include "tranception/tokenizer.hpp"
#include "core/ops.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/threads.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <numeric>

namespace tranova::tranception {

std::pair<int, int> optimal_window(const std::vector<int>& positions, int L, int W) {
    if (L <= W) return {0, L};
    double mean = 0;
    for (int p : positions) mean += p;
    mean /= positions.empty() ? 1 : double(positions.size());
    int c = static_cast<int>(mean), h = W / 2;
    if (c < h) return {0, W};
    if (c >= L - h) return {L - W, L};
    return {c - h, c + h};
}

namespace {

// One slice to score: tokens "[CLS] slice [SEP]" and, per residue of the slice, the row of
// the log-prior to fuse (-1 = none).
struct slice_job {
    int variant = -1;  // -1 = wild type
    std::vector<int> ids;
    std::vector<int> prior_rows;
    int start = 0;     // first token that differs from the wild type's slice
    float S = 0;
};

// A window: the wild type's slice and every variant's slice on it.
struct window_group {
    int wt_a = 0, wt_b = 0;
    std::vector<int> members;           // variant indices
    std::vector<std::pair<int, int>> ranges;  // their slices [a, b) in their own coordinates
};

// pandas group_add on a float32 column: Kahan summation in float32.
float kahan_sum_f32(const std::vector<float>& v) {
    volatile float sum = 0, comp = 0;
    for (float x : v) {
        float y = x - comp;
        float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    return sum;
}

}  // namespace

std::vector<variant_score> score_variants(const model& m, const std::string& target_in,
                                          const std::vector<variant>& variants, const scoring_options& opt,
                                          std::vector<slice_record>* slices, const std::function<void(size_t)>& progress_cb) {
    const int W = m.cfg.n_ctx - 2;
    std::string target = target_in;
    replace_nonstandard(target, opt.seed);
    const int L = static_cast<int>(target.size());
    const size_t N = variants.size();
    std::vector<std::string> seqs(N);
    std::vector<std::vector<int>> tpos(N);  // residue -> target position (-1 = insertion)
    std::vector<char> trivial(N, 0);         // identical to the target: every score is 0
    for (size_t i = 0; i < N; ++i) {
        seqs[i] = variants[i].sequence;
        replace_nonstandard(seqs[i], opt.seed);
        if (variants[i].sequence == target_in) trivial[i] = 1;
        if (!variants[i].indel) {
            tpos[i].resize(seqs[i].size());
            std::iota(tpos[i].begin(), tpos[i].end(), 0);
            // A sequence of the target's length given without a mutant string may carry
            // compensating indels; the official indel mode aligns every sequence, so with
            // retrieval use its alignment when that has gaps (else residue i -> position i).
            if (opt.prior && opt.align_to_target && variants[i].from_sequence && !trivial[i] &&
                variants[i].positions.size() > 1) {
                auto p = opt.align_to_target(variants[i].sequence);
                if (p.size() == seqs[i].size()) tpos[i] = std::move(p);
            }
        } else if (opt.prior) {
            TRANOVA_CHECK(bool(opt.align_to_target), "indel scoring with retrieval needs an aligner");
            tpos[i] = opt.align_to_target(variants[i].sequence);
            TRANOVA_CHECK(tpos[i].size() == seqs[i].size(), "aligner returned {} positions for {} residues",
                          tpos[i].size(), seqs[i].size());
        }
    }
    std::vector<int> wt_pos(L);
    std::iota(wt_pos.begin(), wt_pos.end(), 0);

    // Windows.
    std::vector<window_group> groups;
    if (opt.window == window_mode::optimal) {
        std::map<std::pair<int, int>, int> index;
        auto group_of = [&](int a, int b) {
            auto [it, fresh] = index.emplace(std::make_pair(a, b), int(groups.size()));
            if (fresh) groups.push_back({a, b, {}, {}});
            return it->second;
        };
        for (size_t i = 0; i < N; ++i) {
            if (trivial[i]) continue;
            const auto& v = variants[i];
            if (v.indel) {
                TRANOVA_CHECK(L <= W && int(seqs[i].size()) <= W,
                              "variant {} (length {}) or the target (length {}) exceeds the model context of {} "
                              "residues; indels are scored on the whole sequence (use --window sliding)",
                              i + 1, seqs[i].size(), L, W);
                int g = group_of(0, L);
                groups[g].members.push_back(int(i));
                groups[g].ranges.push_back({0, int(seqs[i].size())});
            } else {
                auto [a, b] = optimal_window(v.positions, L, W);
                int g = group_of(a, b);
                groups[g].members.push_back(int(i));
                groups[g].ranges.push_back({a, b});
            }
        }
    } else {
        int nw = 1 + L / W;
        for (int k = 0; k < nw; ++k) {
            window_group g;
            g.wt_a = std::min(k * W, L);
            g.wt_b = std::min(k * W + W, L);
            for (size_t i = 0; i < N; ++i) {
                if (trivial[i]) continue;
                int len = int(seqs[i].size());
                g.members.push_back(int(i));
                g.ranges.push_back({std::min(k * W, len), std::min(k * W + W, len)});
            }
            groups.push_back(std::move(g));
        }
    }

    const int ndir = opt.mirror ? 2 : 1;
    // S per (variant, direction, group); the WT's per (direction, group).
    std::vector<std::vector<float>> S_var(N * 2), S_wt(2);
    std::vector<std::vector<int>> S_var_group(N * 2);
    size_t total_jobs = 0;
    for (const auto& g : groups) total_jobs += (g.members.size() + 1) * ndir;
    tranova::progress bar("scoring", total_jobs, "slices");

    const float a_ar = static_cast<float>(1.0 - opt.alpha), a_pr = static_cast<float>(opt.alpha);
    auto make_slice = [&](const std::string& s, const std::vector<int>& pos, int a, int b, int dir, slice_job& job) {
        int n = b - a;
        job.ids.resize(n + 2);
        job.ids[0] = tok_cls;
        job.ids[n + 1] = tok_sep;
        job.prior_rows.assign(n, -1);
        for (int i = 0; i < n; ++i) {
            int p = dir == 0 ? a + i : b - 1 - i;
            job.ids[i + 1] = residue_id(s[p]);
            if (opt.prior && !pos.empty()) {
                int tp = pos[p];
                if (tp >= 0 && opt.prior->covers(tp)) job.prior_rows[i] = tp;
            }
        }
    };
    // Summed (fused) log-likelihood of tokens 1..T-1: rows < start from the cache. Token t
    // is predicted by row t-1, so the forward passes stop before the last token ([SEP]):
    // its row predicts nothing (forward length T - 1, forward_len below).
    auto sum_job = [&](const slice_job& job, const prefix_cache* cache, const float* rows) {
        double S = 0;
        int T = int(job.ids.size()), n = T - 2;
        for (int t = 1; t < T; ++t) {
            int r = t - 1, x = job.ids[t];
            float lp = r < job.start ? cache->logprobs[size_t(r) * 25 + x] : rows[size_t(r - job.start) * 25 + x];
            if (r < n && job.prior_rows[r] >= 0) {
                float t1 = a_ar * lp;
                float t2 = a_pr * opt.prior->row(job.prior_rows[r])[x];
                lp = t1 + t2;
            }
            S += lp;
        }
        return static_cast<float>(S);
    };

    auto forward_len = [](const slice_job& job) { return int(job.ids.size()) - 1; };

    // Parallelism is ours: OpenMP over batches of variant slices (the ops run
    // single-threaded inside), and inside the ops for the wild type's pass. BLAS stays
    // single-threaded for the whole run.
    const int threads = get_threads();
    core::blas_single_thread_guard blas_guard;
    // One workspace per thread for the whole run (no re-allocation, no page faults per batch).
    std::vector<workspace> thread_ws(std::max(1, threads));
    std::vector<std::vector<float>> thread_out(thread_ws.size());
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const auto& g = groups[gi];
        // The wild type of this window in each direction: its score, and the prefix cache
        // its variants start from.
        std::vector<slice_job> wt(ndir);
        std::vector<prefix_cache> cache(ndir);
        for (int dir = 0; dir < ndir; ++dir) {
            make_slice(target, wt_pos, g.wt_a, g.wt_b, dir, wt[dir]);
            std::vector<float> lp0;
            model_forward(m, nullptr, {batch_item{wt[dir].ids.data(), forward_len(wt[dir]), 0}}, lp0, thread_ws[0],
                          opt.use_cache ? &cache[dir] : nullptr);
            wt[dir].start = 0;
            wt[dir].S = sum_job(wt[dir], nullptr, lp0.data());
            S_wt[dir].push_back(wt[dir].S);
            bar.add();
            if (slices) slices->push_back({dir, -1, g.wt_a, g.wt_b, wt[dir].S});
        }

        // Every variant slice of both directions; slices equal to the wild type's take its
        // score, the others start at their first token that differs from it.
        const size_t nm = g.members.size();
        std::vector<slice_job> jobs(nm * ndir);  // [dir][member]
        std::vector<int> todo;
        for (int dir = 0; dir < ndir; ++dir)
            for (size_t k = 0; k < nm; ++k) {
                int vi = g.members[k];
                auto& job = jobs[dir * nm + k];
                job.variant = vi;
                make_slice(seqs[vi], tpos[vi], g.ranges[k].first, g.ranges[k].second, dir, job);
                if (job.ids == wt[dir].ids && job.prior_rows == wt[dir].prior_rows) {
                    job.S = wt[dir].S;  // the slice is the wild type's: exactly its score
                    bar.add();
                    continue;
                }
                if (opt.use_cache) {
                    size_t c = 0;
                    while (c < job.ids.size() && c < wt[dir].ids.size() && job.ids[c] == wt[dir].ids[c]) ++c;
                    job.start = static_cast<int>(c);
                }
                if (job.start >= forward_len(job)) {  // every row it needs is the wild type's
                    job.S = sum_job(job, &cache[dir], nullptr);
                    bar.add();
                    continue;
                }
                todo.push_back(int(dir * nm + k));
            }
        auto rows_of = [&](int k) { return forward_len(jobs[k]) - jobs[k].start; };
        // Batches of slices of the same direction and similar start (similar lengths keep
        // the per-slice attention work even), at most max_batch_rows rows, and small
        // enough that every thread gets several (load balance at the end of the window).
        long total_rows = 0;
        for (int k : todo) total_rows += rows_of(k);
        const int cap = int(std::min<long>(std::max<long>(total_rows / (4L * std::max(1, threads)), 256L),
                                           long(std::max(1, opt.max_batch_rows))));
        std::sort(todo.begin(), todo.end(), [&](int x, int y) {
            int dx = x / int(nm), dy = y / int(nm);
            return dx != dy ? dx < dy : jobs[x].start > jobs[y].start;
        });
        std::vector<std::vector<int>> batches;
        std::vector<long> batch_rows;
        int rows = 0;
        for (int k : todo) {
            int r = rows_of(k);
            if (batches.empty() || rows + r > cap || batches.back().size() >= 64 ||
                k / int(nm) != batches.back().front() / int(nm)) {
                batches.emplace_back();
                batch_rows.push_back(0);
                rows = 0;
            }
            batches.back().push_back(k);
            batch_rows.back() += r;
            rows += r;
        }
        // Largest batches first: the short ones fill the gaps at the end.
        std::vector<size_t> order(batches.size());
        std::iota(order.begin(), order.end(), size_t(0));
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return batch_rows[x] > batch_rows[y]; });
        const bool par = threads > 1 && batches.size() > 1;
        std::exception_ptr err;
#pragma omp parallel if (par) num_threads(int(thread_ws.size()))
        {
            const int tid = omp_get_thread_num();  // < thread_ws.size(): one workspace per thread
            workspace& ws = thread_ws[size_t(tid)];
            std::vector<float>& out = thread_out[size_t(tid)];
            std::vector<batch_item> items;
#pragma omp for schedule(dynamic, 1)
            for (size_t oi = 0; oi < order.size(); ++oi) {
                const auto& batch = batches[order[oi]];
                const int dir = batch.front() / int(nm);
                try {
                    items.clear();
                    for (int k : batch) items.push_back({jobs[k].ids.data(), forward_len(jobs[k]), jobs[k].start});
                    model_forward(m, opt.use_cache ? &cache[dir] : nullptr, items, out, ws);
                    size_t off = 0;
                    for (int k : batch) {
                        jobs[k].S = sum_job(jobs[k], &cache[dir], out.data() + off);
                        off += size_t(rows_of(k)) * 25;
                        bar.add();
                    }
                } catch (...) {
#pragma omp critical
                    if (!err) err = std::current_exception();
                }
            }
        }
        if (err) std::rethrow_exception(err);
        for (int dir = 0; dir < ndir; ++dir)
            for (size_t k = 0; k < nm; ++k) {
                const auto& job = jobs[dir * nm + k];
                int vi = job.variant;
                S_var[vi * 2 + dir].push_back(job.S);
                S_var_group[vi * 2 + dir].push_back(int(gi));
                if (slices) slices->push_back({dir, vi, g.ranges[k].first, g.ranges[k].second, job.S});
            }
        if (progress_cb) progress_cb(gi);
    }
    bar.finish();

    std::vector<variant_score> out(N);
    std::vector<float> wt_total(2, 0.f);
    if (opt.window == window_mode::sliding)
        for (int dir = 0; dir < ndir; ++dir) wt_total[dir] = kahan_sum_f32(S_wt[dir]);
    for (size_t i = 0; i < N; ++i) {
        if (trivial[i]) continue;
        double d[2] = {0, 0};
        for (int dir = 0; dir < ndir; ++dir) {
            const auto& s = S_var[i * 2 + dir];
            double len = double(seqs[i].size());
            if (opt.window == window_mode::optimal) {
                float swt = S_wt[dir][S_var_group[i * 2 + dir][0]];
                d[dir] = double(s[0]) / len - double(swt) / double(L);
            } else {
                d[dir] = double(kahan_sum_f32(s)) / len - double(wt_total[dir]) / double(L);
            }
        }
        out[i].l_to_r = d[0];
        out[i].r_to_l = d[1];
        out[i].avg = opt.mirror ? (d[0] + d[1]) / 2 : d[0];
    }
    return out;
}

}  // namespace tranova::tranception
