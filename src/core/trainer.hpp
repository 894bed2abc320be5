// The training loop every tranova trainer shares (`tranova train`, `tranova denovo
// train`): the model supplies a train_task (its parameter arena, one batch's forward +
// backward, validation, how to write an ordinary weights file); run_training does the
// rest the same way for every model:
//
//   per step: zero grads -> task.train_batch (this rank's shard, gradient SUMS) ->
//   all-reduce over MPI ranks -> AdamW step with grad_scale = 1 / (loss items in the global
//   batch), lr from the warm-up + decay schedule, global-norm clipping, non-finite steps
//   skipped and counted -> log row (rank 0) -> validation every val_every steps (the best
//   weights are written to the output) -> training state every checkpoint_every steps ->
//   preemption (SIGTERM/SIGUSR1: state written, exit code 75) -> early stop on patience.
//
// Files (rank 0): the weights at `output` (an ordinary weights file that score / denovo
// sequence read: the best validation's when validation runs, else the last step's), the
// training state at `output.state.h5` (core/train_state.hpp), the log at
// `output.train.tsv` and `output.loss.svg` (core/train_log.hpp).
//
// Determinism: the data order, dropout and any other randomness come from the rng
// streams passed to train_batch, which are saved in the state; with the same threads a
// run interrupted at any point and resumed with `resume` ends with bit-identical
// parameters to an uninterrupted run (tests/core/test_trainer.cpp).
#pragma once

#include "core/optim.hpp"
#include "core/param_arena.hpp"
#include "core/rng.hpp"
#include "core/train_state.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::core {

// The option set every trainer shares (the command-line flags of the same names).
struct trainer_options {
    std::string output;              // -o model.h5
    int64_t max_steps = 1000;        // --max-steps: optimiser steps in all (also the schedule's length)
    int64_t batch_size = 8;          // --batch-size: items (sequences, spectra) per step, over all ranks
    double lr = 1e-3;                // --lr: peak learning rate
    double min_lr = 0;               // end of the decay
    int64_t warmup_steps = 0;        // --warmup-steps
    lr_decay decay = lr_decay::cosine;
    uint64_t seed = 1;               // --seed
    int64_t val_every = 0;           // --val-every: 0 = validate only at the end
    int64_t checkpoint_every = 0;    // --checkpoint-every: 0 = state only at the end / on preemption
    int patience = 0;                // --patience: validations without improvement before stopping; 0 = never
    std::string best_by = "val_loss";  // --best-by: val_loss (lowest) or a task's validation metric (highest)
    bool resume = false;             // --resume: continue from output.state.h5
    int64_t stop_after = 0;          // --stop-after: save the state and stop (as on SIGTERM) after this many
                                     // steps of this run (time-sliced batch jobs); 0 = never
    double max_grad_norm = 1.0;      // --clip: 0 = no clipping
    adamw_config adam;               // --weight-decay etc.
    decay_rule rule;
    std::vector<std::string> frozen_prefixes;  // tensors left untouched (CrossNovo stage 2)
};

// What one call of train_batch did on this rank.
struct batch_result {
    double loss_sum = 0;             // sum of the per-item losses over this rank's shard
    std::vector<double> part_sums;   // sums of the named loss parts (task.loss_parts())
    double loss_items = 0;           // what the loss is averaged over (tokens, spectra) in this shard
    double rate_items = 0;           // what the speed column counts (tokens, spectra) in this shard
};

class train_task {
public:
    virtual ~train_task() = default;
    virtual std::string arch() const = 0;     // saved in and checked against the training state
    virtual std::string config() const = 0;   // serialised model config, compared verbatim on resume
    virtual param_arena& arena() = 0;         // allocated and initialised (or loaded for fine-tuning)
    virtual std::vector<std::string> loss_parts() const { return {}; }
    virtual std::string unit() const { return "tokens"; }
    // Forward + backward of items [begin, end) of step `step`'s global batch: ADDS the
    // gradient sums (not means) to arena().grads(). The task draws its batch from `data`
    // and `cursor` (advancing both identically on every rank; e.g. every rank draws the
    // whole batch's item ids and computes only its slice) and its dropout from `noise`.
    // `progress` in [0, 1] is step / max_steps (for loss ramps such as CrossNovo's λ).
    virtual batch_result train_batch(int64_t step, double progress, int64_t begin, int64_t end, int64_t batch_size,
                                     rng& data, rng& noise, data_cursor& cursor) = 0;
    // Mean validation loss per loss item (nats), NaN when there is no validation split.
    // Called on rank 0 only; must not touch the training rngs.
    virtual double validate() = 0;
    // Extra validation scores (higher is better; log columns after val_loss, and what
    // --best-by may choose): their names, and their values at the last validate().
    virtual std::vector<std::string> val_metrics() const { return {}; }
    virtual std::vector<double> last_val_metrics() const { return {}; }
    // Writes the current parameters as an ordinary weights file (atomically).
    virtual void write_model(const std::string& path) = 0;
    // Epochs done, fractional, for the log (from the cursor).
    virtual double epoch(const data_cursor& c) const { return static_cast<double>(c.epoch); }
};

struct train_summary {
    int64_t steps = 0;               // optimiser steps taken in all (resumed ones included)
    int64_t skipped_steps = 0;       // non-finite gradients
    bool preempted = false;          // stopped by SIGTERM/SIGUSR1 with the state saved (exit code 75)
    bool early_stopped = false;
    double best_val_loss = 0.0 / 0.0;
    int64_t best_step = -1;
    double last_loss = 0.0 / 0.0;
};

train_summary run_training(train_task& task, const trainer_options& opt);

// Paths of the files beside the output.
inline std::string train_state_path(const std::string& output) { return output + ".state.h5"; }

}  // namespace tranova::core
