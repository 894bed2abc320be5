// The training state: everything a run needs to continue exactly where it stopped, in
// one HDF5 file (layout: docs/training-core.md):
//   parameters and AdamW moments of a param_arena (per tensor, with its shape),
//   optimizer/schedule counters, named RNG states, the data-loader cursor,
//   the architecture name and config string, and harness extras (best validation
//   loss, patience counters, ...).
//
// Writing is atomic and durable: a temporary beside the target, fsync, rename, fsync of
// the folder. A run killed at any moment (SIGKILL included) leaves either the previous
// complete file or the new complete one; at worst a hidden ".<name>.tmp.XXXXXX" remains.
// Reading validates before touching the arena: format, completeness marker,
// architecture, config, and the exact set of tensors with their shapes; then reads the
// data and verifies a per-tensor checksum. Every error is one line naming the file and
// the mismatch (tranova::error).
#pragma once

#include "core/param_arena.hpp"
#include "core/rng.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace tranova::core {

inline constexpr int64_t train_state_format_version = 1;

struct data_cursor {
    int64_t epoch = 0;     // epochs completed
    int64_t position = 0;  // examples (or batches, as the loader defines) consumed in this epoch
};

struct train_state {
    std::string arch;     // architecture name, e.g. "tranception"
    std::string config;   // the model's config, serialised by the model; compared verbatim
    int64_t step = 0;     // optimizer steps taken, skipped ones included (schedule position)
    int64_t adam_updates = 0, skipped_steps = 0;  // adamw::updates() / skipped()
    data_cursor cursor;
    std::map<std::string, rng::state_type> rngs;  // named streams ("data", "dropout", ...)
    std::map<std::string, double> values;          // harness extras ("best_val_loss", ...)
    std::map<std::string, int64_t> counters;       // harness extras ("evals_without_gain", ...)
};

// Writes `s` and the arena's parameters and moments to `path` atomically. Names in the
// maps must be non-empty and contain no '/'. Throws tranova::error naming the file.
void train_state_write(const std::string& path, const train_state& s, const param_arena& arena);

// Reads `path` into `arena` (parameters and moments; gradients untouched) and returns
// the rest. Checks format and completeness, that the state is for `arch` with exactly
// `config`, and that it holds exactly the arena's tensors with the arena's shapes. Those
// checks run before any arena data is written; if a later read or checksum fails the
// arena's contents are unspecified (the caller stops).
train_state train_state_read(const std::string& path, param_arena& arena, const std::string& arch,
                             const std::string& config);

// Only the header (no tensors): for messages such as "resuming from step N".
train_state train_state_peek(const std::string& path);

}  // namespace tranova::core
