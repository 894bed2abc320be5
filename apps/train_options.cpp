#include "train_options.hpp"

#include "util/error.hpp"
#include "util/preemption.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tranova::cli {

void add_trainer_options(parser& p, trainer_flags& f, int64_t default_batch) {
    core::trainer_options& o = f.opt;
    o.batch_size = default_batch;
    p.output(o.output, "-o");
    p.options().add_options()
        (",o", po::value(&o.output)->value_name("MODEL.h5"),
         "output weights file (best validation, else last step); the training state goes to MODEL.h5.state.h5, the "
         "log to MODEL.h5.train.tsv, the loss curve to MODEL.h5.loss.svg")
        ("max-steps", p.number(&o.max_steps, int64_t(1), int64_t(1) << 40)->default_value(o.max_steps), "optimiser steps (also the schedule's length)")
        ("batch-size", p.number(&o.batch_size, int64_t(1), int64_t(1) << 24)->default_value(default_batch), "items per optimiser step, over all MPI ranks")
        ("lr", p.number(&o.lr, 0.0, 10.0, true)->default_value(o.lr, "0.001"), "peak learning rate (AdamW)")
        ("min-lr", p.number(&o.min_lr, 0.0, 10.0)->default_value(0.0, "0"), "learning rate at the end of the decay")
        ("warmup-steps", p.number(&o.warmup_steps, int64_t(0), int64_t(1) << 40)->default_value(0), "linear warm-up steps")
        ("schedule", po::value(&f.schedule)->default_value("cosine"), "decay after the warm-up: cosine, linear or constant")
        ("weight-decay", p.number(&o.adam.weight_decay, 0.0, 1.0)->default_value(0.01, "0.01"),
         "AdamW decoupled weight decay (not applied to biases and LayerNorm weights)")
        ("clip", p.number(&o.max_grad_norm, 0.0, 1e9)->default_value(1.0, "1.0"), "global gradient-norm clipping (0 = off)")
        ("seed", p.number(&o.seed, uint64_t(0), ~uint64_t(0))->default_value(1), "seed of every random choice (data order, reversal, init)")
        ("val-every", p.number(&o.val_every, int64_t(0), int64_t(1) << 40)->default_value(0), "validate every N steps (0 = at the end only)")
        ("checkpoint-every", p.number(&o.checkpoint_every, int64_t(0), int64_t(1) << 40)->default_value(0),
         "write the training state every N steps (0 = at the end and on SIGTERM/SIGUSR1 only)")
        ("patience", p.number(&o.patience, 0, 1 << 30)->default_value(0), "stop after N validations without improvement (0 = never)")
        ("best-by", po::value(&o.best_by)->default_value("val_loss"),
         "which validation keeps the weights (and counts for --patience): val_loss (lowest) or a validation score the "
         "model logs (highest; denovo train: val_recall)")
        ("resume", po::bool_switch(&o.resume), "continue from MODEL.h5.state.h5 (same options)")
        ("stop-after", p.number(&o.stop_after, int64_t(0), int64_t(1) << 40)->default_value(0),
         "save the state and exit with code 75 after N steps of this run, for time-sliced jobs (0 = never)");
}

void finish_trainer_options(trainer_flags& f) {
    core::trainer_options& o = f.opt;
    if (o.output.empty()) throw usage_error("missing -o MODEL.h5");
    if (o.output == "-") throw usage_error("-o must name a file (the weights are HDF5)");
    if (f.schedule == "cosine") o.decay = core::lr_decay::cosine;
    else if (f.schedule == "linear") o.decay = core::lr_decay::linear;
    else if (f.schedule == "constant") o.decay = core::lr_decay::constant;
    else throw usage_error(fmt::format("--schedule must be cosine, linear or constant, not '{}'", f.schedule));
    // Ranges are declared with the options; what depends on two options is checked here.
    if (o.min_lr > o.lr) throw usage_error(fmt::format("--min-lr {} is above --lr {}", o.min_lr, o.lr));
    if (o.warmup_steps > o.max_steps)
        throw usage_error(fmt::format("--warmup-steps {} is above --max-steps {}", o.warmup_steps, o.max_steps));
}

std::string trainer_files_help() {
    return fmt::format(
        "Files: MODEL.h5 (an ordinary weights file), MODEL.h5.state.h5 (parameters, AdamW moments, step, random "
        "streams, data position: --resume continues from it bit for bit), MODEL.h5.train.tsv (step, epoch, loss, lr, "
        "grad_norm, val_loss, ...), MODEL.h5.loss.svg. Exit codes: 0 done, 1 error, 2 usage, {} stopped by "
        "SIGTERM/SIGUSR1 with the state saved (requeue the job with --resume). Under mpirun/srun each rank takes a "
        "share of every batch (data parallel).",
        exit_code_requeue);
}

}  // namespace tranova::cli
