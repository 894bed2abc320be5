// What `tranova train --arch tranception` trains on, and the core::train_task that feeds
// it to the shared training loop (core/trainer.hpp):
//
//   - a protein database (FASTA, gz, bgzf; retrieval's reader) for pretraining, or
//   - a family MSA (A2M/A3M) for a family model: every row de-gapped, each sequence drawn
//     in proportion to its EVE/ProteinGym weight (the weights `tranova score` computes and
//     caches), the idea of Shin et al. 2021 (family autoregressive models).
//
// Each drawn sequence is read left-to-right or right-to-left (p = 0.5, because scoring
// averages both directions) and cropped at a random offset to the context; the batch
// is "[CLS] residues [SEP]", right-padded, next-token cross-entropy (tranception/train.hpp).
// Every random choice comes from the trainer's `data` stream, so a resumed run draws the
// same batches. Choices the paper leaves open are listed in docs/training.md.
#pragma once

#include "core/trainer.hpp"
#include "tranception/train.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::tranception {

struct sequence_set {
    std::vector<std::string> names;
    std::vector<std::string> seqs;    // upper-case letters (X/B/J/Z replaced, U/O -> [UNK])
    std::vector<double> weights;      // sampling weights (all 1 for a database)
    // From an MSA only (empty for a database): per sequence, per residue, the alignment
    // match column it sits in, or -1 (an insertion); `num_columns` match columns.
    std::vector<std::vector<int32_t>> columns;
    int num_columns = 0;
    std::string source;               // file, for messages
    size_t residues() const;
};

struct msa_train_options {
    double theta = 0.2;               // EVE weights: neighbours at similarity > 1 - theta
    double focus_gaps = 0.3;          // threshold_focus_cols_frac_gaps (as `tranova score`)
    bool focus_only = false;          // keep only the query's match (upper-case) columns
    std::string weights_cache;        // HDF5 weight cache ("" = none), shared with `tranova score`
};

// Sequences of a family MSA: rows EVE preprocessing keeps (weight > 0), gaps removed and
// insert states (lower case in A2M, A3M insertions) kept as residues unless focus_only,
// upper-cased. Throws naming the file when fewer than 2 usable sequences remain.
sequence_set sequences_from_msa(const std::string& path, const msa_train_options& opt);
// Every record of a FASTA database (plain, gzip, bgzip), weight 1. A trailing '*' is
// dropped; any other character that is not a letter is an error naming file and record.
// Empty records are skipped and counted. Throws for an empty database.
sequence_set sequences_from_fasta(const std::string& path);
// Moves a random `fraction` of the sequences (at least 1 when fraction > 0 and there are
// 2 or more) into `val`, seeded; the split is by sequence, decided before training.
void split_validation(sequence_set& train, sequence_set& val, double fraction, uint64_t seed);

struct tranception_task_options {
    int context = 0;                  // max tokens per sequence incl. [CLS]/[SEP]; 0 = the model's n_ctx
    double reverse_p = 0.5;           // probability of reading a sequence right-to-left
    int val_max_sequences = 512;      // validation uses at most this many (the first ones)
    bool recompute_attention = false; // keep one layer's attention probabilities (memory)
    float dropout = 0;                // embedding and residual dropout while training (train_activations)
};

class tranception_task final : public core::train_task {
public:
    tranception_task(trainable_model model, sequence_set train, sequence_set val, const tranception_task_options& opt);
    std::string arch() const override { return "tranception"; }
    std::string config() const override;
    core::param_arena& arena() override { return model_.arena; }
    std::string unit() const override { return "tokens"; }
    core::batch_result train_batch(int64_t step, double progress, int64_t begin, int64_t end, int64_t batch_size,
                                   core::rng& data, core::rng& noise, core::data_cursor& cursor) override;
    // Mean next-token NLL (nats per token) over the validation sequences, both directions.
    double validate() override;
    void write_model(const std::string& path) override;
    double epoch(const core::data_cursor& c) const override;
    const trainable_model& model() const { return model_; }

private:
    trainable_model model_;
    sequence_set train_, val_;
    tranception_task_options opt_;
    std::vector<double> cumulative_;  // sampling: cumulative weights
    train_activations acts_;
    std::vector<int32_t> ids_, lengths_;
    size_t pick(core::rng& data) const;
    // Tokens of one training or validation item into ids_ row b (padded to T).
    static std::vector<int32_t> tokens(const std::string& seq, bool reverse, size_t offset, size_t length);
    core::batch_result run(const std::vector<std::vector<int32_t>>& items, bool backward);
};

// Model shapes by name: tiny (2 x 128, 8 heads), small (12 x 768, 12 heads), medium
// (24 x 1024, 16 heads), large (36 x 1280, 20 heads) (Tranception S/M/L), or a JSON file
// with n_layer, n_embd, n_head and optional n_inner (4 n_embd), n_positions (1024).
struct model_shape {
    model_config cfg;
    std::map<std::string, core::config_value> config;  // the weight file's config
};
model_shape tranception_shape_for_config(const std::string& name_or_json);
// The model of that shape (allocated, zero; trainable_init to initialise).
trainable_model tranception_model_for_config(const std::string& name_or_json);

// Bytes a training run needs at most: the parameter arena (params, grads, AdamW m and v),
// one more copy of the parameters (the weights written at each validation), and the
// largest activation arena among a training shard (`items` x `context` tokens), a
// validation pass (16 x `context`) and the held-out pass (8 x `heldout_tokens`).
uint64_t training_memory_bytes(const model_config& cfg, int64_t items, int context, int heldout_tokens,
                               bool recompute_attention);

}  // namespace tranova::tranception
