// `tranova denovo train`: the core::train_task of the de novo models (core/trainer.hpp runs
// the loop) and the CrossNovo stage logic.
//
//   casanovo:  encoder + AR decoder, teacher-forced cross-entropy with label smoothing
//              (casanovo_loss); loss item = AR token (residues + stop).
//   primenovo: encoder + CTC decoder (primenovo_loss, plain CTC, no curriculum); loss
//              item = spectrum.
//   crossnovo: stage 1 = lambda L_AR + (1 - lambda) L_NAR over one encoder pass, lambda =
//              the stage's progress (step / steps of the stage: 0 -> 1, linear); stage 2 =
//              AR cross-entropy over [stop-gradient(NAR features) ⊕ encoder memory] with
//              the encoder and NAR decoder frozen (core::adamw frozen prefixes, so their
//              tensors stay bit-identical). Loss item = spectrum; the log's loss parts are
//              ar, nar (both means) and lambda.
//
// Data order: epochs over the training spectra, each a permutation drawn from (seed,
// epoch), so a resumed run (the cursor is in the training state) draws the same batches;
// every rank draws the whole batch and keeps its [begin, end). Dropout (default off) is
// seeded per step from the trainer's `noise` stream.
#pragma once

#include "core/trainer.hpp"
#include "denovo_model/train.hpp"
#include "denovo_model/train_data.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::denovo_model {

struct denovo_task_options {
    int stage = 1;                   // crossnovo: 1 or 2
    float label_smoothing = 0.01f;   // AR cross-entropy (Casanovo v4)
    float dropout = 0.0f;
    uint64_t seed = 1;               // epoch permutations
    int val_batch = 16;
    int val_recall = 256;            // validation spectra decoded for the peptide recall note (0 = off)
};

// Peptide recall of greedy decoding (AR beam 1 with Casanovo's precursor filter; CTC greedy
// collapse without mass control) on the first `max_spectra` items: the share whose
// prediction is the label (I = L). CrossNovo: stage 1 decodes the AR over the encoder
// memory, stage 2 over the hybrid memory.
double greedy_peptide_recall(const denovo_model& m, const spectrum_set& s, int stage, int max_spectra);

using spectra_batch = train_batch;  // (the task's train_batch method hides the type's name)

class denovo_task final : public core::train_task {
public:
    denovo_task(trainable_model model, spectrum_set train, spectrum_set val, const denovo_task_options& opt);
    std::string arch() const override { return model_.arch; }
    std::string config() const override;
    core::param_arena& arena() override { return model_.arena; }
    std::vector<std::string> loss_parts() const override;
    std::string unit() const override { return "spectra"; }
    core::batch_result train_batch(int64_t step, double progress, int64_t begin, int64_t end, int64_t batch_size,
                                   core::rng& data, core::rng& noise, core::data_cursor& cursor) override;
    // Mean loss per item over the validation spectra (also logs the greedy peptide recall of
    // opt.val_recall of them): Casanovo CE per token, PrimeNovo CTC
    // per spectrum, CrossNovo the AR cross-entropy of the current stage per spectrum
    // (lambda changes during stage 1, so the AR part is what is comparable between steps).
    double validate() override;
    // val_recall: that greedy peptide recall, as a log column (when --val-recall > 0 and
    // there are validation spectra) and a --best-by criterion.
    std::vector<std::string> val_metrics() const override;
    std::vector<double> last_val_metrics() const override { return {last_recall_}; }
    void write_model(const std::string& path) override;
    double epoch(const core::data_cursor& c) const override;
    // Tensors core::adamw must leave untouched: trainable_model::fixed, plus the encoder and
    // NAR decoder in CrossNovo stage 2.
    std::vector<std::string> frozen_prefixes() const;
    const trainable_model& model() const { return model_; }

private:
    trainable_model model_;
    spectrum_set train_, val_;
    denovo_task_options opt_;
    model_arch arch_;
    train_workspace ws_;
    int64_t perm_epoch_ = -1;
    double last_recall_ = 0.0 / 0.0;
    std::vector<size_t> perm_;
    struct losses {
        double loss = 0, items = 0, ar = 0, nar = 0;
    };
    struct batch_totals {
        double spectra = 0, tokens = 0;  // of the global batch (0: this batch is the whole one)
    };
    losses run(const spectra_batch& b, float lambda, bool backward, const dropout_config& drop, batch_totals global);
};

// A fresh model of a named shape, weights drawn from `seed` (random_weights: N(0, 0.02)
// matrices, LayerNorm 1/0, zero biases): tiny (d 64, 4 heads, ff 128, 2 layers: tests),
// casanovo (512, 8, 1024, 9 + 9), primenovo (400, 8, 1024, 9 + 9).
trainable_model fresh_model(model_arch arch, const std::string& shape, uint64_t seed);

// The --init model checked for the run: its arch must be `arch`; CrossNovo stage 2 needs
// a weight file that went through stage 1 (config crossnovo_stage >= 1, written by this
// trainer), not one assembled from two checkpoints. Throws tranova::error naming `path`.
void check_init_model(const trainable_model& t, model_arch arch, int stage, const std::string& path);

// Runs the training (one stage, or CrossNovo's stage 1 then stage 2 for stage = 3 ("both"):
// the first ceil(max_steps / 2) steps are stage 1, written to OUTPUT.stage1.h5 with its own
// state and log; stage 2 starts from that file's weights (the best validation's) and
// writes OUTPUT; --resume continues whichever stage was cut, --stop-after counts per stage).
core::train_summary run_denovo_training(trainable_model model, spectrum_set train, spectrum_set val,
                                        denovo_task_options opt, core::trainer_options topt);

}  // namespace tranova::denovo_model
