// `tranova denovo train`: train a Casanovo (AR), PrimeNovo (CTC) or CrossNovo (both, two
// stages) model on annotated spectra with the shared training loop. The logic lives in
// src/denovo_model/train_data.* and train_task.*; this file parses options.
#include "cli.hpp"
#include "train_options.hpp"

#include "denovo_model/train_task.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/preemption.hpp"

#include <fmt/format.h>

namespace {

using namespace tranova;
namespace dm = tranova::denovo_model;

int main_denovo_train(int argc, char** argv) {
    namespace po = cli::po;
    cli::parser p(
        {"tranova denovo train",
         "--arch casanovo|primenovo|crossnovo --train FILES... [--labels PSMS...] [--val FILES... | --split 0.1] [--init MODEL.h5 | "
         "--config tiny|casanovo|primenovo] [--stage 1|2|both] [options] -o MODEL.h5",
         "Train a de novo sequencing model on annotated spectra (MGF with SEQ=, or mzML/MGF with peptides from "
         "--labels), read by the same readers and peak preprocessing as 'denovo sequence'. casanovo: encoder + AR decoder, cross-entropy with label "
         "smoothing; primenovo: encoder + CTC decoder; crossnovo: stage 1 trains one encoder with both decoders, "
         "L = lambda L_AR + (1 - lambda) L_NAR with lambda rising linearly from 0 to 1 over the stage's steps; stage 2 "
         "trains the AR decoder over [stop-gradient(NAR features) ; encoder memory] with the encoder and NAR decoder "
         "frozen; 'both' runs stage 1 for the first half of --max-steps (to MODEL.h5.stage1.h5) and stage 2 for the "
         "rest. Spectra that cannot train (no label, no usable charge, a peptide the model's vocabulary cannot "
         "tokenise, too long, a precursor mass that disagrees with the peptide) are skipped and counted in the log. "
         "Without --val the validation spectra are a seeded --split of the peptides (no peptide in both sets). " +
             cli::trainer_files_help(),
         {"tranova denovo train --arch casanovo --init casanovo.h5 --train mine.mgf --lr 1e-5 --max-steps 2000 "
          "--val-every 200 -o casanovo_mine.h5",
          "tranova denovo train --arch crossnovo --config casanovo --train a.mgf b.mgf --val v.mgf --stage both "
          "--max-steps 200000 -o crossnovo.h5",
          "tranova denovo train --arch crossnovo --init crossnovo.h5.stage1.h5 --stage 2 --train a.mgf -o cn2.h5"}});
    std::string arch, init, config, preset, stage = "both", cross_positions;
    std::vector<std::string> train_files, val_files, label_files;
    double split = 0.1, mass_tol = 50;
    dm::denovo_task_options to;
    cli::trainer_flags tf;
    p.options().add_options()
        ("arch", po::value(&arch)->value_name("casanovo|primenovo|crossnovo"), "model architecture")
        ("train", po::value(&train_files)->multitoken()->value_name("FILES"), "annotated spectra (.mgf with SEQ=, .mzML)")
        ("val", po::value(&val_files)->multitoken()->value_name("FILES"), "validation spectra instead of a --split")
        ("labels", po::value(&label_files)->multitoken()->value_name("PSMS"),
         "peptides for spectra without SEQ= (mzML, unannotated MGF): mzTab (spectra_ref index=/scan= of the ms_run "
         "file, or the title) or CSV/TSV with columns peptide and index|scan|title [, file]")
        ("split", po::value(&split)->default_value(0.1, "0.1"), "share of the training peptides held out for validation")
        ("init", po::value(&init)->value_name("MODEL.h5"), "start from these weights (tranova convert, or a trained model)")
        ("config", po::value(&config)->value_name("SHAPE"),
         "shape of a fresh model (no --init): tiny (64 x 2 layers), casanovo (512 x 9), primenovo (400 x 9); default: "
         "the arch's (crossnovo: casanovo); weights drawn from --seed")
        ("stage", po::value(&stage)->default_value("both"), "crossnovo: 1, 2 or both")
        ("cross-positions", po::value(&cross_positions)->value_name("on|off"),
         "crossnovo stage 2: positional encodings 1..40+k on the cross-decoder memory [NAR features ; encoder "
         "memory], as the paper describes (on), or none (off; docs/training.md measures both); recorded in the "
         "output (default: the --init model's, on for a fresh one)")
        ("preset", po::value(&preset), "peak preprocessing: casanovo | primenovo (default: the model's; recorded in the "
                                        "output so 'denovo sequence' uses it)")
        ("mass-tol", po::value(&mass_tol)->default_value(50, "50"),
         "precursor vs peptide tolerance, ppm (isotopes of the model's range): other spectra are skipped")
        ("label-smoothing", po::value(&to.label_smoothing)->default_value(0.01f, "0.01"), "AR cross-entropy label smoothing")
        ("val-recall", po::value(&to.val_recall)->default_value(256),
         "validation spectra decoded greedily (AR beam 1 / CTC greedy) at each validation for the peptide recall "
         "(log column val_recall, usable as --best-by val_recall; 0 = off)")
        ("dropout", po::value(&to.dropout)->default_value(0.0f, "0"), "dropout probability (PrimeNovo trains with 0.18)");
    cli::add_trainer_options(p, tf, 32);
    if (auto rc = p.parse(argc, argv)) return *rc;
    cli::finish_trainer_options(tf);
    if (arch != "casanovo" && arch != "primenovo" && arch != "crossnovo")
        throw usage_error(arch.empty() ? "missing --arch (casanovo, primenovo or crossnovo)"
                                       : fmt::format("--arch must be casanovo, primenovo or crossnovo, not '{}'", arch));
    const dm::model_arch a = dm::arch_from_string(arch);
    if (train_files.empty()) throw usage_error("missing --train FILES");
    if (!(split >= 0 && split < 0.9)) throw usage_error(fmt::format("--split {} outside [0, 0.9)", split));
    if (!(mass_tol > 0)) throw usage_error(fmt::format("--mass-tol {} must be > 0", mass_tol));
    if (!(to.label_smoothing >= 0 && to.label_smoothing < 1))
        throw usage_error(fmt::format("--label-smoothing {} outside [0, 1)", to.label_smoothing));
    if (to.val_recall < 0) throw usage_error(fmt::format("--val-recall {} must be >= 0", to.val_recall));
    if (!(to.dropout >= 0 && to.dropout < 1)) throw usage_error(fmt::format("--dropout {} outside [0, 1)", to.dropout));
    if (!preset.empty() && preset != "casanovo" && preset != "primenovo")
        throw usage_error(fmt::format("--preset '{}': expected casanovo or primenovo", preset));
    if (!init.empty() && !config.empty()) throw usage_error("give --init or --config, not both");
    if (p.has("stage") && !p.vm()["stage"].defaulted() && a != dm::model_arch::crossnovo)
        throw usage_error(fmt::format("--stage applies to --arch crossnovo only, not {}", arch));
    if (stage == "1") to.stage = 1;
    else if (stage == "2") to.stage = 2;
    else if (stage == "both") to.stage = 3;
    else throw usage_error(fmt::format("--stage must be 1, 2 or both, not '{}'", stage));
    if (a != dm::model_arch::crossnovo) to.stage = 1;
    if (!cross_positions.empty() && cross_positions != "on" && cross_positions != "off")
        throw usage_error(fmt::format("--cross-positions must be on or off, not '{}'", cross_positions));
    if (!cross_positions.empty() && a != dm::model_arch::crossnovo)
        throw usage_error(fmt::format("--cross-positions applies to --arch crossnovo only, not {}", arch));
    if (to.stage == 2 && init.empty())
        throw usage_error("--stage 2 needs --init with a stage-1 CrossNovo model (a fresh model has no stage-1 weights)");

    // Model: --init weights or a fresh model of a named shape (on --resume the training
    // state replaces the parameters anyway).
    dm::trainable_model model =
        init.empty() ? dm::fresh_model(a, config.empty() ? (a == dm::model_arch::primenovo ? "primenovo" : "casanovo")
                                                         : config,
                                       tf.opt.seed)
                     : dm::make_trainable(dm::read_weight_file(init));
    if (!init.empty()) dm::check_init_model(model, a, to.stage, init);
    if (!preset.empty()) model.config["preset"] = preset;
    if (!cross_positions.empty()) {  // read by hybrid_memory in stage 2 and by `denovo sequence`
        model.config["memory_pos_encoding"] = cross_positions == "on" ? "1" : "0";
        model.model.cfg.memory_pos_encoding = cross_positions == "on";
    }
    const dm::model_config& cfg = model.model.cfg;
    log::info("model: {} d {} ({} heads, ff {}), {}+{}+{} layers, {} parameters{}", arch, cfg.dim_model, cfg.n_head,
              cfg.dim_feedforward, cfg.n_enc_layers, cfg.n_ar_layers, cfg.n_nar_layers, model.arena.parameter_count(),
              init.empty() ? fmt::format(", fresh (seed {})", tf.opt.seed) : ", from " + init);

    // Data: the same readers and preprocessing as `denovo sequence`.
    dm::train_data_options dopt;
    dopt.preset = preset.empty() ? model.config.count("preset") ? model.config.at("preset") : cfg.preset : preset;
    dopt.mass_tol_ppm = mass_tol;
    dopt.need_ar = a != dm::model_arch::primenovo;
    dopt.need_nar = a != dm::model_arch::casanovo;
    dm::psm_labels labels;
    for (const auto& f : label_files) labels.add_file(f);
    if (!label_files.empty()) dopt.labels = &labels;
    dm::spectrum_set train, val;
    const dm::train_data_stats ts = dm::load_training_spectra(train_files, cfg, dopt, train);
    log::info("training files: {}", ts.summary());
    if (!ts.first_untokenisable.empty() && !train.items.empty()) log::warn("first untokenisable peptide: {}", ts.first_untokenisable);
    TRANOVA_CHECK(!train.items.empty(), "{}: no usable training spectra: {}{}", train.source, ts.summary(),
                  ts.first_untokenisable.empty() ? "" : "; first untokenisable peptide: " + ts.first_untokenisable);
    if (!val_files.empty()) {
        const dm::train_data_stats vs = dm::load_training_spectra(val_files, cfg, dopt, val);
        log::info("validation files: {}", vs.summary());
        if (!vs.first_untokenisable.empty()) log::warn("first untokenisable peptide: {}", vs.first_untokenisable);
    } else {
        dm::split_by_peptide(train, val, split, tf.opt.seed);
    }
    if (!label_files.empty()) labels.check_all_used();
    TRANOVA_CHECK(!train.items.empty(), "{}: every spectrum went to the validation split", train.source);
    log::info("training on {} spectra, validating on {}", train.items.size(), val.items.size());

    const core::train_summary s = dm::run_denovo_training(std::move(model), std::move(train), std::move(val), to, tf.opt);
    if (s.preempted) return exit_code_requeue;
    log::info("done: {} steps, last training loss {:.4f}{}", s.steps, s.last_loss,
              s.best_step >= 0 ? fmt::format(", best validation {:.4f} at step {}", s.best_val_loss, s.best_step)
                               : std::string());
    return 0;
}

}  // namespace

int main_denovo_train_entry(int argc, char** argv) { return main_denovo_train(argc, argv); }
