// The option set every trainer shares (`tranova train`, `tranova denovo train`): declared
// once here so scripts and workflows can rely on the same flags for every model. The
// values land in core::trainer_options (core/trainer.hpp says what each one does).
#pragma once

#include "cli.hpp"
#include "core/trainer.hpp"

#include <string>

namespace tranova::cli {

struct trainer_flags {
    core::trainer_options opt;
    std::string schedule = "cosine";
};

// Adds -o, --max-steps, --batch-size, --lr, --min-lr, --warmup-steps, --schedule, --seed,
// --val-every, --checkpoint-every, --patience, --best-by, --resume, --clip, --weight-decay (with
// their ranges) to `p`. `default_batch` is the trainer's --batch-size default.
void add_trainer_options(parser& p, trainer_flags& f, int64_t default_batch);
// After parsing: --schedule into the option struct, and the output path checks.
void finish_trainer_options(trainer_flags& f);

// Text for --help epilogues: the files a run writes and the exit codes.
std::string trainer_files_help();

}  // namespace tranova::cli
