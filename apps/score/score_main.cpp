// `tranova score`: Tranception fitness scores for ProteinGym-style variant tables (or
// every single substitution of a sequence), with the optional MSA retrieval prior; also
// the site-independent baseline of src/msa. This file only turns options into a
// tranception::score_options; the run is tranception::run_score (src/tranception/score_run.cpp).
// See docs/tranception.md for options and deviations from the official code.
#include "cli.hpp"

#include "tranception/score_run.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/preemption.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>

namespace {

namespace tc = tranova::tranception;
namespace po = tranova::cli::po;

int main_score(int argc, char** argv) {
    tranova::cli::parser p(
        {"tranova score",
         "--model MODEL (--dms CSV --target SEQ|FASTA | --all-singles --sequence SEQ|--fasta FILE) [options] -o scores.csv",
         "Tranception fitness scores: the log-likelihood ratio of each variant to the wild type, left-to-right, "
         "right-to-left and their average, exactly as the official code computes them (optimal or sliding context "
         "windows, multi-mutants, indels given as mutated_sequence). With --msa the MSA retrieval prior is mixed in "
         "with weight --alpha at the positions the MSA covers. The output keeps every input column and adds "
         "avg_score_L_to_R, avg_score_R_to_L and avg_score. MODEL is a weight file from 'tranova convert --arch "
         "tranception', a checkpoint folder (config.json + model.safetensors/pytorch_model.bin), or "
         "'site-independent' (the per-site MSA baseline; needs --msa).",
         {"tranova score --model Tranception_Small.h5 --dms BLAT_ECOLX.csv --target BLAT_ECOLX.fasta -o scores.csv",
          "tranova score --model m.h5 --dms assay.csv --target target.fasta --msa family.a2m --msa-start 1 --msa-end 286 "
          "--alpha 0.6 -o scores.csv --report-spearman",
          "tranova score --model m.h5 --all-singles --fasta protein.fasta -o dms.csv   # also writes dms.svg",
          "tranova score --model site-independent --msa family.a2m --dms assay.csv --target target.fasta -o si.csv",
          "tranova score --model m.h5 --dms big.csv --target t.fasta -o big.csv --resume   # after exit code 75"}});
    tc::score_options o;
    std::string target_arg, sequence_arg, fasta_arg, window = "optimal", cpu_kernel = "auto";
    bool no_mirror = false, no_token_type = false, no_cache = false, no_weights_cache = false, unweighted = false;
    p.options().add_options()
        ("model,m", po::value(&o.model)->value_name("MODEL"), "weight file (.h5), checkpoint folder, or 'site-independent'")
        ("dms", po::value(&o.dms)->value_name("CSV"), "variants: a CSV with a 'mutant' column (A12G:C34D, 1-based) and/or 'mutated_sequence'")
        ("target", po::value(&target_arg)->value_name("SEQ|FASTA"), "wild-type sequence, or a FASTA file (first record)")
        ("all-singles", po::bool_switch(&o.all_singles), "score every single substitution of the target (in-silico saturation mutagenesis)")
        ("sequence", po::value(&sequence_arg)->value_name("SEQ"), "the target as a sequence (same as --target SEQ)")
        ("fasta", po::value(&fasta_arg)->value_name("FILE"), "the target from a FASTA file (same as --target FILE)")
        ("msa", po::value(&o.msa)->value_name("FILE"), "MSA for the retrieval prior: focus-mode A2M or A3M (first row = target region)")
        ("msa-start", p.number(&o.msa_start, 1LL, 1000000000LL)->value_name("S"), "1-based target position of the MSA's first column (default: from the header /S-E, or found in the target)")
        ("msa-end", p.number(&o.msa_end, 1LL, 1000000000LL)->value_name("E"), "1-based target position of the MSA's last column (checked against the MSA width)")
        ("alpha", p.number(&o.alpha, 0.0, 1.0)->default_value(0.6), "retrieval weight (0 = model only, 1 = prior only at MSA positions)")
        ("theta", p.number(&o.theta, 0.0, 1.0)->default_value(0.2), "MSA sequence-weight threshold (0.01 for viruses)")
        ("focus-gaps", p.number(&o.focus_gaps, 0.0, 1.0)->default_value(0.3), "EVE focus-column gap threshold for the weights (Tranception 0.3, ProteinGym copy 1.0)")
        ("unweighted-msa", po::bool_switch(&unweighted), "prior without sequence weights (every row weight 1)")
        ("weights-cache", po::value(&o.weights_cache)->value_name("FILE"), "HDF5 cache of the MSA weights, keyed by MSA content and options (default: <output folder>/<msa name>.msa_weights.h5)")
        ("no-weights-cache", po::bool_switch(&no_weights_cache), "do not read or write the weight cache")
        ("window", po::value(&window)->default_value("optimal"), "context windows for sequences longer than the model context: optimal or sliding")
        ("no-mirror", po::bool_switch(&no_mirror), "left-to-right only (avg_score = avg_score_L_to_R)")
        ("no-token-type", po::bool_switch(&no_token_type), "do not add embedding row 0 at every position (the official scoring path adds it)")
        ("no-cache", po::bool_switch(&no_cache), "run every variant from its first token (reference path; same numbers, slower)")
        ("batch-rows", p.number(&o.batch_rows, 1, 1 << 24)->default_value(2048), "tokens per batched forward pass")
        ("cpu-kernel", po::value(&cpu_kernel)->default_value("auto"),
         "linear layers: auto (AVX-512 kernel when the CPU has it, else BLAS), avx512 or blas")
        ("seed", p.number(&o.seed, uint64_t(0), ~uint64_t(0))->default_value(2021), "seed for replacing X/B/J/Z residues")
        ("skip-bad-rows", po::bool_switch(&o.skip_bad_rows), "report and skip rows with a bad mutant instead of stopping")
        ("mutant-column", po::value(&o.mutant_column)->default_value("mutant"), "column with mutant strings")
        ("sequence-column", po::value(&o.sequence_column)->default_value("mutated_sequence"), "column with full mutated sequences")
        ("report-spearman", po::value(&o.spearman_column)->implicit_value("DMS_score")->value_name("COLUMN"),
         "print the Spearman correlation of avg_score with COLUMN (default DMS_score)")
        ("heatmap", po::value(&o.heatmap)->value_name("FILE.svg"), "write an SVG heatmap of the single substitutions (default with --all-singles: <output stem>.svg)")
        (",o", po::value(&o.out)->value_name("FILE"), "output CSV ('-' = stdout)")
        ("resume", po::bool_switch(&o.resume), "continue the interrupted run recorded in <output>.progress/ (or start "
                                             "afresh when there is none); SIGTERM/SIGUSR1 stop a run after its current "
                                             "chunk with exit code 75")
        ("chunk-variants", p.number(&o.chunk_variants, int64_t(1), int64_t(100000000))->default_value(1000),
         "variants scored and recorded per chunk (resume granularity)");
    p.input(o.model, "--model");
    p.input(o.dms, "--dms");
    p.input(target_arg, "--target");
    p.input(fasta_arg, "--fasta");
    p.input(o.msa, "--msa");
    p.output(o.out, "-o");
    p.output(o.heatmap, "--heatmap");
    p.output(o.weights_cache, "--weights-cache");
    if (auto rc = p.parse(argc, argv)) return *rc;

    if (window != "optimal" && window != "sliding") throw tranova::usage_error("--window must be optimal or sliding");
    if (cpu_kernel != "auto" && cpu_kernel != "avx512" && cpu_kernel != "blas")
        throw tranova::usage_error(fmt::format("--cpu-kernel must be auto, avx512 or blas, got '{}'", cpu_kernel));
    int n_target = !target_arg.empty() + !sequence_arg.empty() + !fasta_arg.empty();
    if (!o.model.empty() && !o.out.empty() && n_target != 1)
        throw tranova::usage_error("give the wild type with exactly one of --target, --sequence, --fasta");

    o.target = !target_arg.empty() ? target_arg : !sequence_arg.empty() ? sequence_arg : fasta_arg;
    o.weighted_msa = !unweighted;
    o.use_weights_cache = !no_weights_cache;
    o.window = window == "optimal" ? tc::window_mode::optimal : tc::window_mode::sliding;
    o.mirror = !no_mirror;
    o.token_type_quirk = !no_token_type;
    o.use_cache = !no_cache;
    o.cpu_kernel = cpu_kernel == "avx512" ? tranova::core::linear_kernel::avx512
                   : cpu_kernel == "blas" ? tranova::core::linear_kernel::blas
                                          : tranova::core::linear_kernel::automatic;
    o.threads = p.common.threads;

    const tc::score_result r = tc::run_score(o);
    if (r.preempted) {
        tranova::log::warn("stopped by signal {} after {} of {} chunks; progress kept in {}: rerun with --resume to "
                           "continue (exit code {})",
                           r.signal, r.chunks_done, r.chunks, r.record, tranova::exit_code_requeue);
        return tranova::exit_code_requeue;
    }
    if (r.spearman)
        std::printf("Spearman(avg_score, %s) = %.4f over %zu variants [%s%s]\n", o.spearman_column.c_str(), r.spearman->rho,
                    r.spearman->n, r.spearman->label.c_str(), r.spearman->note.c_str());
    tranova::log::info("wrote {} scores to {}{}", r.num_variants, o.out, r.heatmap.empty() ? "" : " and " + r.heatmap);
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(score, {"score", "Fitness", "Tranception fitness scores (with MSA retrieval), saturation mutagenesis", main_score})
