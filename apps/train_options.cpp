#include "train_options.hpp"

#include "util/error.hpp"
#include "util/preemption.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tranova::cli {

void add_trainer_options(parser& p, trainer_flags& f, int64_t default_batch) {
    core::trainer_options& o = f.opt;
    o.batch_size = default_batch;
    p.options().add_options()
        (",o", po::value(&o.output)->value_name("MODEL.h5"),
         "output weights file (best validation, else last step); the training state goes to MODEL.h5.state.h5, the "
         "log to MODEL.h5.train.tsv, the loss curve to MODEL.h5.loss.svg")
        ("max-steps", po::value(&o.max_steps)->default_value(o.max_steps), "optimiser steps (also the schedule's length)")
        ("batch-size", po::value(&o.batch_size)->default_value(default_batch), "items per optimiser step, over all MPI ranks")
        ("lr", po::value(&o.lr)->default_value(o.lr, "0.001"), "peak learning rate (AdamW)")
        ("min-lr", po::value(&o.min_lr)->default_value(0.0, "0"), "learning rate at the end of the decay")
        ("warmup-steps", po::value(&o.warmup_steps)->default_value(0), "linear warm-up steps")
        ("schedule", po::value(&f.schedule)->default_value("cosine"), "decay after the warm-up: cosine, linear or constant")
        ("weight-decay", po::value(&o.adam.weight_decay)->default_value(0.01, "0.01"),
         "AdamW decoupled weight decay (not applied to biases and LayerNorm weights)")
        ("clip", po::value(&o.max_grad_norm)->default_value(1.0, "1.0"), "global gradient-norm clipping (0 = off)")
        ("seed", po::value(&o.seed)->default_value(1), "seed of every random choice (data order, reversal, init)")
        ("val-every", po::value(&o.val_every)->default_value(0), "validate every N steps (0 = at the end only)")
        ("checkpoint-every", po::value(&o.checkpoint_every)->default_value(0),
         "write the training state every N steps (0 = at the end and on SIGTERM/SIGUSR1 only)")
        ("patience", po::value(&o.patience)->default_value(0), "stop after N validations without improvement (0 = never)")
        ("resume", po::bool_switch(&o.resume), "continue from MODEL.h5.state.h5 (same options)")
        ("stop-after", po::value(&o.stop_after)->default_value(0),
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
    const auto positive = [](bool ok, const char* what, auto v) {
        if (!ok) throw usage_error(fmt::format("{} {} is out of range", what, v));
    };
    positive(o.max_steps > 0 && o.max_steps <= (int64_t(1) << 40), "--max-steps", o.max_steps);
    positive(o.batch_size > 0 && o.batch_size <= (int64_t(1) << 24), "--batch-size", o.batch_size);
    positive(std::isfinite(o.lr) && o.lr > 0 && o.lr < 10, "--lr", o.lr);
    positive(std::isfinite(o.min_lr) && o.min_lr >= 0 && o.min_lr <= o.lr, "--min-lr", o.min_lr);
    positive(o.warmup_steps >= 0 && o.warmup_steps <= o.max_steps, "--warmup-steps", o.warmup_steps);
    positive(std::isfinite(o.adam.weight_decay) && o.adam.weight_decay >= 0 && o.adam.weight_decay < 1, "--weight-decay",
             o.adam.weight_decay);
    positive(std::isfinite(o.max_grad_norm) && o.max_grad_norm >= 0, "--clip", o.max_grad_norm);
    positive(o.val_every >= 0, "--val-every", o.val_every);
    positive(o.checkpoint_every >= 0, "--checkpoint-every", o.checkpoint_every);
    positive(o.patience >= 0, "--patience", o.patience);
    positive(o.stop_after >= 0, "--stop-after", o.stop_after);
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
