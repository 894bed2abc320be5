// `tranova train`: train a Tranception model (pretraining on a protein database, a family
// model from an MSA, or fine-tuning converted weights) with the shared training loop.
// The logic lives in src/tranception/train_task.* and src/core/trainer.*; this file
// parses options.
#include "cli.hpp"
#include "train_options.hpp"

#include "core/weights.hpp"
#include "tranception/train_task.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/preemption.hpp"

#include <fmt/format.h>

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
    double val_fraction = 0.1;
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
        ("val-fraction", po::value(&val_fraction)->default_value(0.1, "0.1"), "share of the sequences held out for validation")
        ("val-sequences", po::value(&val_sequences)->value_name("FASTA"), "validation sequences instead of a held-out share")
        ("init", po::value(&init)->value_name("WEIGHTS.h5"), "start from these Tranception weights (fine-tuning)")
        ("context", po::value(&to.context)->default_value(0), "tokens per sequence incl. [CLS]/[SEP] (0 = the model's context)")
        ("theta", po::value(&mo.theta)->default_value(0.2, "0.2"), "--msa: weight threshold (0.01 for viruses)")
        ("focus-gaps", po::value(&mo.focus_gaps)->default_value(0.3, "0.3"), "--msa: EVE focus-column gap threshold, as 'score'")
        ("focus-only", po::bool_switch(&mo.focus_only), "--msa: keep only the query's match columns (drop insertions)")
        ("weights-cache", po::value(&mo.weights_cache)->value_name("FILE"),
         "--msa: HDF5 cache of the sequence weights (default: MODEL.h5's folder/<msa name>.msa_weights.h5, as 'score')")
        ("no-weights-cache", po::bool_switch(&no_weights_cache), "do not read or write the weight cache");
    tranova::cli::add_trainer_options(p, tf, 16);
    if (auto rc = p.parse(argc, argv)) return *rc;
    tranova::cli::finish_trainer_options(tf);
    if (arch != "tranception")
        throw tranova::usage_error(arch.empty() ? "missing --arch (tranception)"
                                                : fmt::format("--arch must be tranception, not '{}' (de novo models: "
                                                              "'tranova denovo train')", arch));
    if (msa_path.empty() == sequences.empty()) throw tranova::usage_error("give exactly one of --msa and --sequences");
    if (!(val_fraction >= 0 && val_fraction < 0.9)) throw tranova::usage_error(fmt::format("--val-fraction {} outside [0, 0.9)", val_fraction));
    if (!(mo.theta >= 0 && mo.theta <= 1)) throw tranova::usage_error(fmt::format("--theta {} outside [0, 1]", mo.theta));
    if (!(mo.focus_gaps >= 0 && mo.focus_gaps <= 1))
        throw tranova::usage_error(fmt::format("--focus-gaps {} outside [0, 1]", mo.focus_gaps));
    if (to.context < 0 || to.context == 1 || to.context == 2 || to.context > 1 << 20)
        throw tranova::usage_error(fmt::format("--context {} is out of range (0, or at least 3)", to.context));

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
    tc::trainable_model model = init.empty() ? tc::tranception_model_for_config(config)
                                             : tc::trainable_from_weights(tranova::core::weights_read(init), init);
    if (init.empty()) tc::trainable_init(model, tf.opt.seed);
    tranova::log::info("model: {} layers x {} (heads {}, inner {}), {} parameters", model.cfg.n_layer, model.cfg.n_embd,
                       model.cfg.n_head, model.cfg.n_inner, model.arena.parameter_count());
    tc::tranception_task task(std::move(model), std::move(train), std::move(val), to);
    const tranova::core::train_summary s = tranova::core::run_training(task, tf.opt);
    if (s.preempted) return tranova::exit_code_requeue;
    tranova::log::info("done: {} steps, last training loss {:.4f}{}", s.steps, s.last_loss,
                       s.best_step >= 0 ? fmt::format(", best validation {:.4f} nats/token at step {} (perplexity {:.2f})",
                                                      s.best_val_loss, s.best_step, std::exp(s.best_val_loss))
                                        : std::string());
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(train, {"train", "Models", "train a Tranception model (family MSA, database, fine-tuning)", main_train})
