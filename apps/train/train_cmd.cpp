// `tranova train`: train a Tranception model (pretraining on a protein database, a family
// model from an MSA, or fine-tuning converted weights) with the shared training loop.
// The logic lives in src/tranception/run_train.* (and train_task.*, core/trainer.*); this
// file parses options.
#include "cli.hpp"
#include "train_options.hpp"

#include "tranception/run_train.hpp"
#include "util/error.hpp"
#include "util/preemption.hpp"

#include <fmt/format.h>

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
    std::string arch;
    tc::train_run_options o;
    tc::msa_train_options& mo = o.msa_options;
    tc::tranception_task_options& to = o.task;
    bool no_weights_cache = false;
    tranova::cli::trainer_flags tf;
    p.options().add_options()
        ("arch", po::value(&arch)->value_name("tranception"), "model architecture (de novo models: 'tranova denovo train')")
        ("config", po::value(&o.config)->default_value("tiny"),
         "model shape: tiny (2 layers x 128), small, medium, large (Tranception S/M/L) or a JSON file with n_layer, "
         "n_embd, n_head [, n_inner, n_positions]; ignored with --init")
        ("msa", po::value(&o.msa)->value_name("FILE"), "family alignment (A2M/A3M): train a family model")
        ("sequences", po::value(&o.sequences)->value_name("FASTA"), "protein database (FASTA, gzip, bgzip): pretrain")
        ("val-fraction", p.number(&o.val_fraction, 0.0, 0.9)->default_value(0.1, "0.1"), "share of the sequences held out for validation")
        ("val-sequences", po::value(&o.val_sequences)->value_name("FASTA"), "validation sequences instead of a held-out share")
        ("init", po::value(&o.init)->value_name("WEIGHTS.h5"), "start from these Tranception weights (fine-tuning)")
        ("context", p.number(&to.context, 0, 1 << 20)->default_value(0), "tokens per sequence incl. [CLS]/[SEP] (0 = the model's context)")
        ("dropout", p.number(&to.dropout, 0.0f, 0.9f)->default_value(0.0f, "0"),
         "dropout on the embeddings and residual branches while training (official config: 0.1; off at inference)")
        ("theta", p.number(&mo.theta, 0.0, 1.0)->default_value(0.2, "0.2"), "--msa: weight threshold (0.01 for viruses)")
        ("focus-gaps", p.number(&mo.focus_gaps, 0.0, 1.0)->default_value(0.3, "0.3"), "--msa: EVE focus-column gap threshold, as 'score'")
        ("focus-only", po::bool_switch(&mo.focus_only), "--msa: keep only the query's match columns (drop insertions)")
        ("weights-cache", po::value(&mo.weights_cache)->value_name("FILE"),
         "--msa: HDF5 cache of the sequence weights (default: MODEL.h5's folder/<msa name>.msa_weights.h5, as 'score')")
        ("no-weights-cache", po::bool_switch(&no_weights_cache), "do not read or write the weight cache")
        ("si-pseudocount", p.number(&o.si_pseudocount, 0.0, 1e6, true)->default_value(1.0, "1"),
         "--msa: pseudocount (weighted counts per amino acid) of the site-independent baseline of the held-out NLL");
    tranova::cli::add_trainer_options(p, tf, 16);
    p.input(o.msa, "--msa");
    p.input(o.sequences, "--sequences");
    p.input(o.val_sequences, "--val-sequences");
    p.input(o.init, "--init");
    p.output(mo.weights_cache, "--weights-cache");
    if (auto rc = p.parse(argc, argv)) return *rc;
    tranova::cli::finish_trainer_options(tf);
    if (arch != "tranception")
        throw tranova::usage_error(arch.empty() ? "missing --arch (tranception)"
                                                : fmt::format("--arch must be tranception, not '{}' (de novo models: "
                                                              "'tranova denovo train')", arch));
    o.trainer = tf.opt;
    o.use_weights_cache = !no_weights_cache;
    tc::check_train_options(o);
    const tc::train_run_result r = tc::run_train(o);
    return r.summary.preempted ? tranova::exit_code_requeue : 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(train, {"train", "Models", "train a Tranception model (family MSA, database, fine-tuning)", main_train})
