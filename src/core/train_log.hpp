// The training log every trainer shares (llm.c prints one line per step; HPC users want a
// file they can plot and a job can resume): `<output>.train.tsv` with the columns
//
//   step epoch loss [loss parts...] lr grad_norm val_loss [validation metrics...] <unit>_per_s seconds
//
// (val_loss: mean per-token or per-item negative log-likelihood in nats on the validation
// split, empty on steps without validation; the metrics, e.g. de novo's val_recall, are
// higher-is-better scores of the same validations), the best-validation bookkeeping behind
// "keep the best checkpoint" and early stopping on patience, and `<output>.loss.svg` (the
// training and validation curves) at the end.
//
// The log is appended and flushed row by row, not written at the end: a killed job keeps
// every row up to the kill. On --resume the rows after the resumed step (logged after the
// last checkpoint, so about to be recomputed) are dropped first, so a resumed run's log
// equals an uninterrupted one's.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace tranova::core {

struct train_row {
    int64_t step = 0;                // optimiser steps done (1-based: the row after step 1 says 1)
    double epoch = 0;                // passes over the training set (fractional)
    double loss = 0;                 // training loss of this step (mean over its items)
    std::vector<double> parts;       // the loss's named parts (e.g. loss_ar, loss_nar, lambda)
    double lr = 0, grad_norm = 0;
    double val_loss = 0.0 / 0.0;     // NaN = no validation on this step
    std::vector<double> val_metrics; // the declared validation metrics (NaN or empty = none this step)
    double rate = 0;                 // items (tokens, spectra) per second of this step
    double seconds = 0;              // wall seconds since the run (or the first run) began
};

class train_log {
public:
    // Opens `<output>.train.tsv`. resume_step < 0: a fresh log (an existing one is
    // replaced); otherwise the existing log is kept up to resume_step (it must exist and
    // have the same columns, else tranova::error naming it). part_names are the extra loss
    // columns; unit names the rate column ("tokens" -> tokens_per_s). metric_names are the
    // validation metric columns; best_metric: -1 = the best validation is the lowest
    // val_loss, i >= 0 = the highest metric i (ties: the lower val_loss, then the earlier).
    train_log(const std::string& output, std::vector<std::string> part_names, const std::string& unit,
              int64_t resume_step = -1, std::vector<std::string> metric_names = {}, int best_metric = -1);
    ~train_log();
    train_log(const train_log&) = delete;
    train_log& operator=(const train_log&) = delete;

    void add(const train_row& r);  // appends one row, flushed; updates the best validation
    const std::string& path() const { return path_; }
    const std::vector<train_row>& rows() const { return rows_; }

    // Validation bookkeeping (rows with a val_loss). best_step() is -1 before the first;
    // best_val_loss() is the val_loss of the best validation (by the chosen criterion).
    double best_val_loss() const { return best_val_; }
    int64_t best_step() const { return best_step_; }
    // Whether the last validation improved on every earlier one (then keep its weights).
    bool last_val_improved() const { return last_improved_; }
    // Early stop: the last `patience` validations did not improve on the best (patience
    // 0 = never stop).
    bool should_stop(int patience) const { return patience > 0 && vals_since_best_ >= patience; }

    // Writes `<output>.loss.svg` (training loss, validation loss with markers) atomically.
    void write_loss_curve(const std::string& title) const;

private:
    std::string path_, svg_path_, header_;
    std::vector<std::string> parts_, metrics_;
    int best_metric_ = -1;
    double best_metric_value_ = 0.0 / 0.0;
    std::vector<train_row> rows_;
    std::FILE* fp_ = nullptr;
    double best_val_ = 0.0 / 0.0;
    int64_t best_step_ = -1;
    int vals_since_best_ = 0;
    bool last_improved_ = false;
    void note_validation(const train_row& r);
};

}  // namespace tranova::core
