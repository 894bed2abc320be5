// `tranova train`: train a Tranception model (pretraining on a protein database, a family
// model from an MSA, or fine-tuning converted weights) with the shared training loop.
// The logic lives in src/tranception/train_task.* and src/core/trainer.*; this file
// parses options.
#include "cli.hpp"
#include "train_options.hpp"

#include "core/dist.hpp"
#include "core/weights.hpp"
#include "tranception/heldout.hpp"
#include "tranception/train_task.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/memory.hpp"
#include "util/preemption.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace {

namespace tc = tranova::tranception;
namespace po = tranova::cli::po;

int main_train(int argc, char** argv) {
    tranova::cli::parser p(
        {"tranova train",
         "--arch tranception (--msa FAMILY.a2m|a3m | --sequences DB.fasta[.gz]) [--config tiny|small|medium|large|FILE.json] "
         "[--init WEIGHTS.h5] [options] -o MODEL.h5",
         "Train a Tranception model: a family model from an MSA (its sequences de-gapped and drawn in proportion to "
         "their EVE/ProteinGym weights), pretraining on a protein database, or fine-tuning of converted weights "
         "(--init). Both reading directions are trained (random reversal, p = 0.5) and sequences longer than the "
         "context are cropped at random offsets. A validation split by sequence (--val-fraction) is held out before "
         "training. The output is an ordinary weights file for 'tranova score --model'. " +
             tranova::cli::trainer_files_help(),
         {"tranova train --arch tranception --msa BLAT_ECOLX.a3m --config tiny --max-steps 3000 --val-every 250 -o blat.h5",
          "tranova train --arch tranception --sequences uniref50.fasta.gz --config small --batch-size 32 "
          "--checkpoint-every 1000 -o small.h5",
          "tranova train --arch tranception --msa family.a2m --init Tranception_Small.h5 --lr 1e-4 -o small_family.h5",
          "tranova train ... -o m.h5 --resume   # after a preemption (exit code 75)",
          "mpirun -np 4 tranova train --arch tranception --sequences db.fasta --batch-size 64 -o m.h5"}});
    std::string arch, config = "tiny", msa_path, sequences, val_sequences, init;
    double val_fraction = 0.1, si_pseudocount = 1.0;
    tc::msa_train_options mo;
    tc::tranception_task_options to;
    bool no_weights_cache = false;
    tranova::cli::trainer_flags tf;
    p.options().add_options()
        ("arch", po::value(&arch)->value_name("tranception"), "model architecture (de novo models: 'tranova denovo train')")
        ("config", po::value(&config)->default_value("tiny"),
         "model shape: tiny (2 layers x 128), small, medium, large (Tranception S/M/L) or a JSON file with n_layer, "
         "n_embd, n_head [, n_inner, n_positions]; ignored with --init")
        ("msa", po::value(&msa_path)->value_name("FILE"), "family alignment (A2M/A3M): train a family model")
        ("sequences", po::value(&sequences)->value_name("FASTA"), "protein database (FASTA, gzip, bgzip): pretrain")
        ("val-fraction", p.number(&val_fraction, 0.0, 0.9)->default_value(0.1, "0.1"), "share of the sequences held out for validation")
        ("val-sequences", po::value(&val_sequences)->value_name("FASTA"), "validation sequences instead of a held-out share")
        ("init", po::value(&init)->value_name("WEIGHTS.h5"), "start from these Tranception weights (fine-tuning)")
        ("context", p.number(&to.context, 0, 1 << 20)->default_value(0), "tokens per sequence incl. [CLS]/[SEP] (0 = the model's context)")
        ("dropout", p.number(&to.dropout, 0.0f, 0.9f)->default_value(0.0f, "0"),
         "dropout on the embeddings and residual branches while training (official config: 0.1; off at inference)")
        ("theta", p.number(&mo.theta, 0.0, 1.0)->default_value(0.2, "0.2"), "--msa: weight threshold (0.01 for viruses)")
        ("focus-gaps", p.number(&mo.focus_gaps, 0.0, 1.0)->default_value(0.3, "0.3"), "--msa: EVE focus-column gap threshold, as 'score'")
        ("focus-only", po::bool_switch(&mo.focus_only), "--msa: keep only the query's match columns (drop insertions)")
        ("weights-cache", po::value(&mo.weights_cache)->value_name("FILE"),
         "--msa: HDF5 cache of the sequence weights (default: MODEL.h5's folder/<msa name>.msa_weights.h5, as 'score')")
        ("no-weights-cache", po::bool_switch(&no_weights_cache), "do not read or write the weight cache")
        ("si-pseudocount", p.number(&si_pseudocount, 0.0, 1e6, true)->default_value(1.0, "1"),
         "--msa: pseudocount (weighted counts per amino acid) of the site-independent baseline of the held-out NLL");
    tranova::cli::add_trainer_options(p, tf, 16);
    p.input(msa_path, "--msa");
    p.input(sequences, "--sequences");
    p.input(val_sequences, "--val-sequences");
    p.input(init, "--init");
    p.output(mo.weights_cache, "--weights-cache");
    if (auto rc = p.parse(argc, argv)) return *rc;
    tranova::cli::finish_trainer_options(tf);
    if (arch != "tranception")
        throw tranova::usage_error(arch.empty() ? "missing --arch (tranception)"
                                                : fmt::format("--arch must be tranception, not '{}' (de novo models: "
                                                              "'tranova denovo train')", arch));
    if (msa_path.empty() == sequences.empty()) throw tranova::usage_error("give exactly one of --msa and --sequences");
    if (to.context == 1 || to.context == 2)
        throw tranova::usage_error(fmt::format("--context {} is too short (0 = the model's, or at least 3)", to.context));

    // Data: the training set and the validation split (decided before training).
    tc::sequence_set train, val;
    if (!msa_path.empty()) {
        if (!no_weights_cache && mo.weights_cache.empty())
            mo.weights_cache = (std::filesystem::path(tf.opt.output).parent_path() /
                                (std::filesystem::path(msa_path).filename().string() + ".msa_weights.h5"))
                                   .string();
        if (no_weights_cache) mo.weights_cache.clear();
        train = tc::sequences_from_msa(msa_path, mo);
    } else {
        train = tc::sequences_from_fasta(sequences);
    }
    if (!val_sequences.empty()) val = tc::sequences_from_fasta(val_sequences);
    else tc::split_validation(train, val, val_fraction, tf.opt.seed);
    tranova::log::info("training on {} sequences ({} residues), validating on {}", train.seqs.size(), train.residues(),
                       val.seqs.size());

    // Model: fresh (GPT-2 initialisation) or --init weights. On --resume the state file
    // replaces the parameters anyway.
    tranova::core::weights init_weights;
    tc::model_shape shape;
    if (init.empty()) shape = tc::tranception_shape_for_config(config);
    else shape.cfg = tc::model_config_from_weights(init_weights = tranova::core::weights_read(init), init);

    // The held-out comparison (MSA validation split only) scores whole sequences.
    const bool compare = !val.columns.empty() && !val.seqs.empty() && tranova::core::dist::rank() == 0;
    const size_t val_max = static_cast<size_t>(to.val_max_sequences);
    int heldout_tokens = 0;
    if (compare)
        for (size_t i = 0; i < std::min(val_max, val.seqs.size()); ++i)
            if (val.seqs[i].size() + 2 <= static_cast<size_t>(shape.cfg.n_ctx))
                heldout_tokens = std::max(heldout_tokens, static_cast<int>(val.seqs[i].size()) + 2);
    // Refuse up front a shape that cannot fit rather than being killed mid-run.
    const int context = to.context > 0 && to.context <= shape.cfg.n_ctx ? to.context : shape.cfg.n_ctx;
    const int64_t shard = (tf.opt.batch_size + tranova::core::dist::size() - 1) / tranova::core::dist::size();
    tranova::check_memory(tc::training_memory_bytes(shape.cfg, shard, context, heldout_tokens, to.recompute_attention),
                          init.empty() ? "--config " + config : init,
                          fmt::format("training a {} x {} Tranception on batches of {} x {} tokens", shape.cfg.n_layer,
                                      shape.cfg.n_embd, shard, context));
    tc::trainable_model model = init.empty() ? tc::trainable_create(shape.cfg, std::move(shape.config))
                                             : tc::trainable_from_weights(init_weights, init);
    init_weights = {};
    if (init.empty()) tc::trainable_init(model, tf.opt.seed);
    tranova::log::info("model: {} layers x {} (heads {}, inner {}), {} parameters", model.cfg.n_layer, model.cfg.n_embd,
                       model.cfg.n_head, model.cfg.n_inner, model.arena.parameter_count());
    // The site-independent baseline is fitted on the training split now, the held-out
    // sequences are kept for the end.
    tc::column_frequencies si;
    tc::sequence_set heldout;
    if (compare) {
        si = tc::fit_column_frequencies(train, si_pseudocount);
        heldout = val;
    }
    tranova::core::train_summary s;
    {  // the task (and its model) is gone before the held-out pass loads the best weights
        tc::tranception_task task(std::move(model), std::move(train), std::move(val), to);
        s = tranova::core::run_training(task, tf.opt);
    }
    if (s.preempted) return tranova::exit_code_requeue;
    tranova::log::info("done: {} steps, last training loss {:.4f}{}", s.steps, s.last_loss,
                       s.best_step >= 0 ? fmt::format(", best validation {:.4f} nats/token at step {} (perplexity {:.2f})",
                                                      s.best_val_loss, s.best_step, std::exp(s.best_val_loss))
                                        : std::string());
    if (compare) {
        // The written model (best validation) on whole held-out sequences, both directions.
        const tc::trainable_model best = tc::trainable_from_weights(tranova::core::weights_read(tf.opt.output), tf.opt.output);
        const tc::heldout_nll h = tc::compare_heldout_nll(best, si, heldout, val_max);
        tranova::log::info("held-out NLL ({} validation sequences, {} match-column residues{}): model {:.4f} nats/residue, "
                           "site-independent {:.4f} (pseudocount {}): {}",
                           h.sequences, h.residues, h.skipped ? fmt::format(", {} longer than the context skipped", h.skipped) : "",
                           h.model, h.site_independent, si_pseudocount,
                           h.model < h.site_independent ? "the model is better" : "the model is NOT better");
    }
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(train, {"train", "Models", "train a Tranception model (family MSA, database, fine-tuning)", main_train})
