// `tranova train` as a library call: the command file fills a train_run_options from its
// options and calls run_train, which reads the training data (a family MSA or a protein
// database) and decides the validation split, builds the model (a named shape or --init
// weights), refuses up front a run that cannot fit in memory, runs the shared training
// loop (core/trainer.hpp) and, for a family MSA, compares the written model's held-out
// NLL with the site-independent baseline fitted on the training split.
#pragma once

#include "core/trainer.hpp"
#include "tranception/heldout.hpp"
#include "tranception/train_task.hpp"

#include <optional>
#include <string>

namespace tranova::tranception {

struct train_run_options {
    core::trainer_options trainer;   // the options every trainer shares (-o, --max-steps, ...)
    std::string config = "tiny";     // model shape (tranception_shape_for_config); ignored with init
    std::string msa;                 // family alignment: train a family model ...
    std::string sequences;           // ... or a protein database: pretrain (exactly one of the two)
    std::string val_sequences;       // validation sequences instead of a held-out share
    double val_fraction = 0.1;       // share of the sequences held out for validation
    std::string init;                // start from these weights (fine-tuning)
    msa_train_options msa_options;   // weights_cache "" = <output folder>/<msa name>.msa_weights.h5
    bool use_weights_cache = true;   // false: no weight cache at all
    double si_pseudocount = 1.0;     // the site-independent baseline of the held-out NLL
    tranception_task_options task;
};

struct train_run_result {
    core::train_summary summary;          // summary.preempted: the command exits with exit_code_requeue
    std::optional<heldout_nll> heldout;   // family MSA runs with a validation split (rank 0)
};

// Throws tranova::usage_error for contradictory or out-of-range options.
void check_train_options(const train_run_options& opt);

// The whole `tranova train` run; logs its progress and results. Throws tranova::error on
// bad input.
train_run_result run_train(const train_run_options& opt);

}  // namespace tranova::tranception
