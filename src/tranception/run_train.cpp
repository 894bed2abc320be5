// `tranova train` as a library call (see run_train.hpp).
#include "tranception/run_train.hpp"

#include "core/dist.hpp"
#include "core/weights.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace tranova::tranception {

namespace {

// The training set and the validation split (decided before training).
void read_data(const train_run_options& opt, sequence_set& train, sequence_set& val) {
    if (!opt.msa.empty()) {
        msa_train_options mo = opt.msa_options;
        if (!opt.use_weights_cache) mo.weights_cache.clear();
        else if (mo.weights_cache.empty())
            mo.weights_cache = (std::filesystem::path(opt.trainer.output).parent_path() /
                                (std::filesystem::path(opt.msa).filename().string() + ".msa_weights.h5"))
                                   .string();
        train = sequences_from_msa(opt.msa, mo);
    } else {
        train = sequences_from_fasta(opt.sequences);
    }
    if (!opt.val_sequences.empty()) val = sequences_from_fasta(opt.val_sequences);
    else split_validation(train, val, opt.val_fraction, opt.trainer.seed);
    log::info("training on {} sequences ({} residues), validating on {}", train.seqs.size(), train.residues(),
              val.seqs.size());
}

// Longest whole validation sequence (tokens) the held-out comparison will score.
int heldout_tokens(const sequence_set& val, size_t val_max, int n_ctx) {
    int tokens = 0;
    for (size_t i = 0; i < std::min(val_max, val.seqs.size()); ++i)
        if (val.seqs[i].size() + 2 <= static_cast<size_t>(n_ctx))
            tokens = std::max(tokens, static_cast<int>(val.seqs[i].size()) + 2);
    return tokens;
}

// The model: fresh (GPT-2 initialisation) or --init weights (on --resume the state file
// replaces the parameters anyway). A shape that cannot fit is refused before anything is
// allocated, rather than being killed mid-run.
trainable_model build_model(const train_run_options& opt, const sequence_set& val, bool compare) {
    core::weights init_weights;
    model_shape shape;
    if (opt.init.empty()) shape = tranception_shape_for_config(opt.config);
    else shape.cfg = model_config_from_weights(init_weights = core::weights_read(opt.init), opt.init);
    const int heldout = compare ? heldout_tokens(val, static_cast<size_t>(opt.task.val_max_sequences), shape.cfg.n_ctx) : 0;
    const int context = opt.task.context > 0 && opt.task.context <= shape.cfg.n_ctx ? opt.task.context : shape.cfg.n_ctx;
    const int64_t shard = (opt.trainer.batch_size + core::dist::size() - 1) / core::dist::size();
    check_memory(training_memory_bytes(shape.cfg, shard, context, heldout, opt.task.recompute_attention),
                 opt.init.empty() ? "--config " + opt.config : opt.init,
                 fmt::format("training a {} x {} Tranception on batches of {} x {} tokens", shape.cfg.n_layer,
                             shape.cfg.n_embd, shard, context));
    trainable_model model = opt.init.empty() ? trainable_create(shape.cfg, std::move(shape.config))
                                             : trainable_from_weights(init_weights, opt.init);
    init_weights = {};
    if (opt.init.empty()) trainable_init(model, opt.trainer.seed);
    log::info("model: {} layers x {} (heads {}, inner {}), {} parameters", model.cfg.n_layer, model.cfg.n_embd,
              model.cfg.n_head, model.cfg.n_inner, model.arena.parameter_count());
    return model;
}

}  // namespace

void check_train_options(const train_run_options& opt) {
    if (opt.msa.empty() == opt.sequences.empty()) throw usage_error("give exactly one of --msa and --sequences");
    if (opt.task.context == 1 || opt.task.context == 2)
        throw usage_error(fmt::format("--context {} is too short (0 = the model's, or at least 3)", opt.task.context));
}

train_run_result run_train(const train_run_options& opt) {
    check_train_options(opt);
    sequence_set train, val;
    read_data(opt, train, val);
    // The held-out comparison (MSA validation split only) scores whole sequences.
    const bool compare = !val.columns.empty() && !val.seqs.empty() && core::dist::rank() == 0;
    trainable_model model = build_model(opt, val, compare);
    // The site-independent baseline is fitted on the training split now, the held-out
    // sequences are kept for the end.
    column_frequencies si;
    sequence_set heldout;
    if (compare) {
        si = fit_column_frequencies(train, opt.si_pseudocount);
        heldout = val;
    }
    train_run_result r;
    {  // the task (and its model) is gone before the held-out pass loads the best weights
        tranception_task task(std::move(model), std::move(train), std::move(val), opt.task);
        r.summary = core::run_training(task, opt.trainer);
    }
    const core::train_summary& s = r.summary;
    if (s.preempted) return r;
    log::info("done: {} steps, last training loss {:.4f}{}", s.steps, s.last_loss,
              s.best_step >= 0 ? fmt::format(", best validation {:.4f} nats/token at step {} (perplexity {:.2f})",
                                             s.best_val_loss, s.best_step, std::exp(s.best_val_loss))
                               : std::string());
    if (compare) {
        // The written model (best validation) on whole held-out sequences, both directions.
        const std::string& out = opt.trainer.output;
        const trainable_model best = trainable_from_weights(core::weights_read(out), out);
        const heldout_nll h =
            compare_heldout_nll(best, si, heldout, static_cast<size_t>(opt.task.val_max_sequences));
        log::info("held-out NLL ({} validation sequences, {} match-column residues{}): model {:.4f} nats/residue, "
                  "site-independent {:.4f} (pseudocount {}): {}",
                  h.sequences, h.residues, h.skipped ? fmt::format(", {} longer than the context skipped", h.skipped) : "",
                  h.model, h.site_independent, opt.si_pseudocount,
                  h.model < h.site_independent ? "the model is better" : "the model is NOT better");
        r.heldout = h;
    }
    return r;
}

}  // namespace tranova::tranception
