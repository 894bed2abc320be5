#include "core/trainer.hpp"

#include "core/dist.hpp"
#include "core/train_log.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/preemption.hpp"
#include "util/progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

namespace tranova::core {

namespace {

// One decision all ranks share: true if any rank says so (preemption seen by one rank,
// an early stop rank 0 decided).
bool any_rank(bool mine) {
    double v = mine ? 1.0 : 0.0;
    dist::allreduce_sum(&v, 1);
    return v > 0;
}

// Rank 0's value on every rank (others contribute 0).
double from_rank0(double v) {
    double x = dist::rank() == 0 ? v : 0.0;
    dist::allreduce_sum(&x, 1);
    return x;
}

void check_options(const trainer_options& o) {
    TRANOVA_CHECK(!o.output.empty(), "training: no output path (-o)");
    TRANOVA_CHECK(o.max_steps > 0, "training: --max-steps must be positive, not {}", o.max_steps);
    TRANOVA_CHECK(o.batch_size > 0, "training: --batch-size must be positive, not {}", o.batch_size);
    TRANOVA_CHECK(std::isfinite(o.lr) && o.lr > 0, "training: --lr must be a positive number, not {}", o.lr);
    TRANOVA_CHECK(o.warmup_steps >= 0 && o.val_every >= 0 && o.checkpoint_every >= 0 && o.patience >= 0 &&
                      o.stop_after >= 0,
                  "training: --warmup-steps, --val-every, --checkpoint-every, --patience and --stop-after must be >= 0");
    TRANOVA_CHECK(std::isfinite(o.max_grad_norm) && o.max_grad_norm >= 0, "training: --clip must be >= 0, not {}",
                  o.max_grad_norm);
    TRANOVA_CHECK(o.batch_size >= dist::size(), "training: --batch-size {} is smaller than the {} MPI ranks",
                  o.batch_size, dist::size());
}

// The state a run starts from: with --resume the saved one (parameters, optimiser
// counters, rng streams, data cursor), else a fresh one in which every rank takes rank 0's
// parameters (initialisation or --init weights).
train_state start_state(train_task& task, const trainer_options& opt, const std::string& state_path, adamw& optimizer,
                        rng& data, rng& noise) {
    param_arena& arena = task.arena();
    train_state st;
    st.arch = task.arch();
    st.config = task.config();
    if (!opt.resume) {
        dist::broadcast(arena.params(), arena.block_floats());
        return st;
    }
    TRANOVA_CHECK(std::filesystem::exists(state_path), "{}: cannot resume: no training state (run without --resume "
                  "first, or check -o)", state_path);
    st = train_state_read(state_path, arena, task.arch(), task.config());
    TRANOVA_CHECK(st.rngs.count("data") && st.rngs.count("noise"), "{}: the training state lacks its random streams",
                  state_path);
    data.set_state(st.rngs.at("data"));
    noise.set_state(st.rngs.at("noise"));
    optimizer.set_counters(st.adam_updates, st.skipped_steps);
    TRANOVA_CHECK(st.step <= opt.max_steps, "{}: the state is at step {}, beyond --max-steps {}", state_path,
                  st.step, opt.max_steps);
    if (dist::rank() == 0) log::info("resuming from {} at step {} of {}", state_path, st.step, opt.max_steps);
    return st;
}

// The best-validation criterion: -1 for val_loss, else the index of --best-by among the
// task's validation metrics.
int best_metric_index(const std::vector<std::string>& metrics, const std::string& best_by) {
    if (best_by == "val_loss") return -1;
    const auto it = std::find(metrics.begin(), metrics.end(), best_by);
    std::string known = "val_loss";
    for (const auto& m : metrics) known += ", " + m;
    TRANOVA_CHECK(it != metrics.end(), "training: --best-by {}: this run logs no such validation score (it has: {})",
                  best_by, known);
    return int(it - metrics.begin());
}

// One optimiser step over the global batch: the task's forward + backward on this rank's
// shard, gradients and loss sums all-reduced over the ranks, AdamW. Returns the step's log
// row (validation and elapsed time not yet filled in).
train_row train_step(train_task& task, const trainer_options& opt, const lr_schedule& schedule, adamw& optimizer,
                     train_state& st, rng& data, rng& noise) {
    const auto t0 = std::chrono::steady_clock::now();
    param_arena& arena = task.arena();
    const size_t n_parts = task.loss_parts().size();
    arena.zero_grads();
    int64_t begin = 0, end = 0;
    dist::shard_range(opt.batch_size, dist::rank(), dist::size(), begin, end);
    batch_result b = task.train_batch(st.step, static_cast<double>(st.step) / static_cast<double>(opt.max_steps),
                                      begin, end, opt.batch_size, data, noise, st.cursor);
    TRANOVA_CHECK(b.part_sums.size() == n_parts, "training: the model reported {} loss parts, declared {}",
                  b.part_sums.size(), n_parts);
    // Gradients and the loss sums of all ranks (one all-reduce each; no-ops alone).
    dist::allreduce_sum(arena.grads(), arena.block_floats());
    std::vector<double> totals{b.loss_sum, b.loss_items, b.rate_items};
    totals.insert(totals.end(), b.part_sums.begin(), b.part_sums.end());
    dist::allreduce_sum(totals.data(), totals.size());
    const double items = totals[1];
    TRANOVA_CHECK(items > 0, "training: step {} has no loss items (empty batch?)", st.step + 1);
    const double lr = schedule.at(st.step);
    const step_report rep = optimizer.step(lr, 1.0 / items, opt.max_grad_norm);
    ++st.step;
    if (!rep.applied && dist::rank() == 0)
        log::warn("step {}: non-finite gradient, update skipped ({} so far)", st.step, optimizer.skipped());

    train_row row;
    row.step = st.step;
    row.epoch = task.epoch(st.cursor);
    row.loss = totals[0] / items;
    for (size_t i = 0; i < n_parts; ++i) row.parts.push_back(totals[3 + i] / items);
    row.lr = lr;
    row.grad_norm = rep.grad_norm;
    // The rate is the training step's alone (validation excluded).
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row.rate = dt > 0 ? totals[2] / dt : 0;
    return row;
}

// Rank 0 validates; every rank gets its loss and metrics (so that all take the same
// early-stop decision).
void validate_into(train_row& row, train_task& task, size_t n_metrics) {
    const bool lead = dist::rank() == 0;
    row.val_loss = from_rank0(lead ? task.validate() : 0.0);
    const std::vector<double> m = lead ? task.last_val_metrics() : std::vector<double>();
    for (size_t i = 0; i < n_metrics; ++i) row.val_metrics.push_back(from_rank0(i < m.size() ? m[i] : NAN));
}

}  // namespace

train_summary run_training(train_task& task, const trainer_options& opt) {
    dist::init();
    check_options(opt);
    const bool lead = dist::rank() == 0;
    param_arena& arena = task.arena();
    TRANOVA_CHECK(arena.allocated(), "training: the model's parameters are not allocated");
    adamw optimizer(arena, opt.adam, opt.rule, opt.frozen_prefixes);
    const lr_schedule schedule{opt.lr, opt.min_lr, opt.warmup_steps, opt.max_steps, opt.decay};
    const std::string state_path = train_state_path(opt.output);

    // Every file of the run, claimed once (they are rewritten at each checkpoint or gain).
    for (const auto& [path, label] : {std::pair{opt.output, "-o"}, {state_path, "training state"},
                                      {opt.output + ".train.tsv", "training log"}, {opt.output + ".loss.svg", "loss curve"}})
        claim_rewritable_output(path, label);

    rng data(opt.seed, 1), noise(opt.seed, 2);
    train_state st = start_state(task, opt, state_path, optimizer, data, noise);

    const std::vector<std::string> metrics = task.val_metrics();
    const int best_metric = best_metric_index(metrics, opt.best_by);
    std::unique_ptr<train_log> log;
    if (lead)
        log = std::make_unique<train_log>(opt.output, task.loss_parts(), task.unit(), opt.resume ? st.step : -1, metrics,
                                          best_metric);
    if (lead && dist::active()) log::info("data parallel: {} ranks ({})", dist::size(), dist::describe());

    const auto save_state = [&] {
        st.adam_updates = optimizer.updates();
        st.skipped_steps = optimizer.skipped();
        st.rngs["data"] = data.state();
        st.rngs["noise"] = noise.state();
        if (lead) train_state_write(state_path, st, arena);
        dist::barrier();
    };

    train_summary sum;
    bool wrote_model = false;
    // A resumed run whose log already holds a best validation keeps that model file.
    if (lead && log->best_step() >= 0) wrote_model = std::filesystem::exists(opt.output);
    preemption_guard guard;
    progress bar("training", static_cast<uint64_t>(opt.max_steps), "steps");
    bar.add(static_cast<uint64_t>(st.step));
    const auto t_start = std::chrono::steady_clock::now();
    const double seconds_before = lead && !log->rows().empty() ? log->rows().back().seconds : 0.0;
    int64_t steps_this_run = 0;

    while (st.step < opt.max_steps) {
        train_row row = train_step(task, opt, schedule, optimizer, st, data, noise);
        const bool validate_now = (opt.val_every > 0 && st.step % opt.val_every == 0) || st.step == opt.max_steps;
        if (validate_now) validate_into(row, task, metrics.size());
        row.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        sum.last_loss = row.loss;
        bool stop = false;
        if (lead) {
            log->add(row);
            if (log->last_val_improved()) {
                task.write_model(opt.output);
                wrote_model = true;
            }
            stop = log->should_stop(opt.patience);
        }
        bar.add(1);
        const bool last = st.step == opt.max_steps;
        if (opt.checkpoint_every > 0 && st.step % opt.checkpoint_every == 0 && !last) save_state();
        const bool sliced = opt.stop_after > 0 && ++steps_this_run >= opt.stop_after && !last;
        if (any_rank(guard.requested()) || sliced) {
            save_state();
            sum.preempted = true;
            if (lead)
                log::warn("{}: training state saved at step {} to {}; exiting with code {} so the job can be requeued "
                          "(rerun with --resume)",
                          sliced ? fmt::format("--stop-after {}", opt.stop_after)
                                 : fmt::format("signal {} received", preemption_guard::signal_number()),
                          st.step, state_path, exit_code_requeue);
            break;
        }
        if (any_rank(stop)) {
            sum.early_stopped = true;
            if (lead) log::info("early stop at step {}: {} validations without improvement", st.step, opt.patience);
            break;
        }
    }
    bar.finish();
    if (!sum.preempted) {
        save_state();
        if (lead && !wrote_model) task.write_model(opt.output);  // no validation split: the last weights
    }
    if (lead) {
        log->write_loss_curve(fmt::format("{} training", task.arch()));
        sum.best_val_loss = log->best_val_loss();
        sum.best_step = log->best_step();
    }
    sum.steps = st.step;
    sum.skipped_steps = optimizer.skipped();
    return sum;
}

}  // namespace tranova::core
