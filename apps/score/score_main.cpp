// `tranova score`: Tranception fitness scores for ProteinGym-style variant tables (or
// every single substitution of a sequence), with the optional MSA retrieval prior; also
// the site-independent baseline of src/msa. Numbers follow the official code (spec
// tranception.md §4); see docs/tranception.md for options and deviations.
#include "cli.hpp"

#include "msa/msa.hpp"
#include "msa/site_independent.hpp"
#include "retrieval/fasta_db.hpp"
#include "tranception/heatmap.hpp"
#include "tranception/indel_align.hpp"
#include "tranception/model.hpp"
#include "tranception/prior.hpp"
#include "tranception/scoring.hpp"
#include "tranception/tokenizer.hpp"
#include "tranception/variants.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace {

namespace tc = tranova::tranception;
namespace po = tranova::cli::po;
namespace fs = std::filesystem;

// The wild-type sequence from a FASTA file (its first record, read by retrieval's FASTA
// reader: plain or gzip, BOM-safe) or given literally. A literal must look like a protein
// so that a mistyped file name is not scored as the protein "TARGETFASTA": no lower case,
// nothing path-like, at least min_literal characters (then check_sequence names any
// character that is not a residue).
std::string read_target(const std::string& arg, const char* what) {
    constexpr size_t min_literal = 8;
    std::error_code ec;
    std::string seq;
    const auto st = fs::status(arg, ec);
    if (!ec && fs::is_directory(st)) {
        TRANOVA_FAIL("{} '{}': is a directory, not a FASTA file or a sequence", what, arg);
    } else if (!ec && fs::exists(st)) {
        tranova::retrieval::fasta_reader reader(arg);
        tranova::retrieval::fasta_record rec;
        TRANOVA_CHECK(reader.next(rec), "{}: no FASTA record", arg);
        TRANOVA_CHECK(!rec.seq.empty(), "{}: record '{}' has no sequence", arg, rec.name);
        if (tranova::retrieval::fasta_record extra; reader.next(extra))
            tranova::log::warn("{}: several records; scoring against the first, '{}'", arg, rec.name);
        seq = std::move(rec.seq);
    } else {
        seq = std::string(tranova::trim(arg));
        // Lower case or path characters: a file name, not a sequence. Other characters are
        // left to check_sequence, which names the offending one.
        const bool pathlike = std::any_of(seq.begin(), seq.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || c == '/' || c == '.' || c == '\\' || c == '~' || c == '_';
        });
        TRANOVA_CHECK(!pathlike && seq.size() >= min_literal,
                      "{} '{}': no such file, and not a protein sequence (a sequence given on the command line is "
                      "upper-case residue letters, at least {})",
                      what, arg.size() > 40 ? arg.substr(0, 40) + "..." : arg, min_literal);
    }
    seq = tranova::to_upper(seq);
    std::string bad = tc::check_sequence(seq);
    TRANOVA_CHECK(bad.empty(), "{} {}: {}", what, arg.size() > 40 ? arg.substr(0, 40) + "..." : arg, bad);
    return seq;
}

std::string fmt_score(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

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
          "tranova score --model site-independent --msa family.a2m --dms assay.csv --target target.fasta -o si.csv"}});
    std::string model_path, dms, target_arg, sequence_arg, fasta_arg, msa_path, window = "optimal", out, heatmap,
        weights_cache, mutant_col = "mutant", seq_col = "mutated_sequence", spearman_col;
    long long msa_start = 0, msa_end = 0;
    double alpha = 0.6, theta = 0.2, focus_gaps = 0.3;
    bool all_singles = false, no_mirror = false, skip_bad = false, no_token_type = false, no_cache = false,
         no_weights_cache = false, unweighted = false;
    unsigned long long seed = 2021;
    int batch_rows = 2048;
    std::string cpu_kernel = "auto";
    p.options().add_options()
        ("model,m", po::value(&model_path)->value_name("MODEL"), "weight file (.h5), checkpoint folder, or 'site-independent'")
        ("dms", po::value(&dms)->value_name("CSV"), "variants: a CSV with a 'mutant' column (A12G:C34D, 1-based) and/or 'mutated_sequence'")
        ("target", po::value(&target_arg)->value_name("SEQ|FASTA"), "wild-type sequence, or a FASTA file (first record)")
        ("all-singles", po::bool_switch(&all_singles), "score every single substitution of the target (in-silico saturation mutagenesis)")
        ("sequence", po::value(&sequence_arg)->value_name("SEQ"), "the target as a sequence (same as --target SEQ)")
        ("fasta", po::value(&fasta_arg)->value_name("FILE"), "the target from a FASTA file (same as --target FILE)")
        ("msa", po::value(&msa_path)->value_name("FILE"), "MSA for the retrieval prior: focus-mode A2M or A3M (first row = target region)")
        ("msa-start", po::value(&msa_start)->value_name("S"), "1-based target position of the MSA's first column (default: from the header /S-E, or found in the target)")
        ("msa-end", po::value(&msa_end)->value_name("E"), "1-based target position of the MSA's last column (checked against the MSA width)")
        ("alpha", po::value(&alpha)->default_value(0.6), "retrieval weight (0 = model only, 1 = prior only at MSA positions)")
        ("theta", po::value(&theta)->default_value(0.2), "MSA sequence-weight threshold (0.01 for viruses)")
        ("focus-gaps", po::value(&focus_gaps)->default_value(0.3), "EVE focus-column gap threshold for the weights (Tranception 0.3, ProteinGym copy 1.0)")
        ("unweighted-msa", po::bool_switch(&unweighted), "prior without sequence weights (every row weight 1)")
        ("weights-cache", po::value(&weights_cache)->value_name("FILE"), "HDF5 cache of the MSA weights, keyed by MSA content and options (default: <output folder>/<msa name>.msa_weights.h5)")
        ("no-weights-cache", po::bool_switch(&no_weights_cache), "do not read or write the weight cache")
        ("window", po::value(&window)->default_value("optimal"), "context windows for sequences longer than the model context: optimal or sliding")
        ("no-mirror", po::bool_switch(&no_mirror), "left-to-right only (avg_score = avg_score_L_to_R)")
        ("no-token-type", po::bool_switch(&no_token_type), "do not add embedding row 0 at every position (the official scoring path adds it)")
        ("no-cache", po::bool_switch(&no_cache), "run every variant from its first token (reference path; same numbers, slower)")
        ("batch-rows", po::value(&batch_rows)->default_value(2048), "tokens per batched forward pass")
        ("cpu-kernel", po::value(&cpu_kernel)->default_value("auto"),
         "linear layers: auto (AVX-512 kernel when the CPU has it, else BLAS), avx512 or blas")
        ("seed", po::value(&seed)->default_value(2021), "seed for replacing X/B/J/Z residues")
        ("skip-bad-rows", po::bool_switch(&skip_bad), "report and skip rows with a bad mutant instead of stopping")
        ("mutant-column", po::value(&mutant_col)->default_value("mutant"), "column with mutant strings")
        ("sequence-column", po::value(&seq_col)->default_value("mutated_sequence"), "column with full mutated sequences")
        ("report-spearman", po::value(&spearman_col)->implicit_value("DMS_score")->value_name("COLUMN"),
         "print the Spearman correlation of avg_score with COLUMN (default DMS_score)")
        ("heatmap", po::value(&heatmap)->value_name("FILE.svg"), "write an SVG heatmap of the single substitutions (default with --all-singles: <output stem>.svg)")
        (",o", po::value(&out)->value_name("FILE"), "output CSV ('-' = stdout)");
    if (auto rc = p.parse(argc, argv)) return *rc;

    if (model_path.empty()) throw tranova::usage_error("missing --model");
    if (out.empty()) throw tranova::usage_error("missing -o (output CSV)");
    int n_target = !target_arg.empty() + !sequence_arg.empty() + !fasta_arg.empty();
    if (n_target != 1) throw tranova::usage_error("give the wild type with exactly one of --target, --sequence, --fasta");
    if (all_singles == !dms.empty()) throw tranova::usage_error("give either --dms CSV or --all-singles");
    if (window != "optimal" && window != "sliding") throw tranova::usage_error("--window must be optimal or sliding");
    if (!(alpha >= 0 && alpha <= 1)) throw tranova::usage_error(fmt::format("--alpha must be in [0, 1], got {}", alpha));
    if (!(theta >= 0 && theta <= 1)) throw tranova::usage_error(fmt::format("--theta must be in [0, 1], got {}", theta));
    if (batch_rows < 1) throw tranova::usage_error("--batch-rows must be >= 1");
    if (cpu_kernel != "auto" && cpu_kernel != "avx512" && cpu_kernel != "blas")
        throw tranova::usage_error(fmt::format("--cpu-kernel must be auto, avx512 or blas, got '{}'", cpu_kernel));
    if ((msa_start || msa_end) && msa_path.empty()) throw tranova::usage_error("--msa-start/--msa-end need --msa");
    const bool site_independent = model_path == "site-independent";
    if (site_independent && msa_path.empty()) throw tranova::usage_error("--model site-independent needs --msa");

    std::string target = read_target(!target_arg.empty() ? target_arg : !sequence_arg.empty() ? sequence_arg : fasta_arg,
                                     "target");

    // Variants and the input table.
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::vector<tc::variant> vars;
    size_t skipped = 0;
    if (all_singles) {
        vars = tc::all_single_substitutions(target);
        header = {"mutant", "mutated_sequence"};
        for (const auto& v : vars) rows.push_back({v.mutant, v.sequence});
    } else {
        tranova::csv_reader r(dms);
        header = r.header();
        int cm = r.column(mutant_col), cs = r.column(seq_col);
        TRANOVA_CHECK(cm >= 0 || cs >= 0, "{}: needs a '{}' or a '{}' column", dms, mutant_col, seq_col);
        std::vector<std::string> f;
        while (r.next(f)) {
            try {
                tc::variant v;
                std::string m = cm >= 0 ? std::string(tranova::trim(f[cm])) : "";
                if (!m.empty()) {
                    v = tc::variant_from_mutant(m, target, r.where());
                    if (cs >= 0 && !tranova::trim(f[cs]).empty())
                        TRANOVA_CHECK(tranova::trim(f[cs]) == v.sequence,
                                      "{}: mutated_sequence does not equal the target with mutant '{}' applied", r.where(), m);
                } else {
                    TRANOVA_CHECK(cs >= 0 && !tranova::trim(f[cs]).empty(), "{}: row has neither a mutant nor a mutated_sequence",
                                  r.where());
                    v = tc::variant_from_sequence(f[cs], target, r.where());
                }
                vars.push_back(std::move(v));
                rows.push_back(f);
            } catch (const tranova::error& e) {
                if (!skip_bad) throw;
                tranova::log::warn("skipped: {}", e.what());
                ++skipped;
            }
        }
        TRANOVA_CHECK(!vars.empty(), "{}: no variants to score", dms);
    }
    if (skipped) tranova::log::warn("{} rows skipped (--skip-bad-rows)", skipped);

    // MSA and prior.
    tranova::msa::alignment a;
    int start0 = 0;
    if (!msa_path.empty()) {
        a = tranova::msa::read_alignment(msa_path);
        TRANOVA_CHECK(a.num_rows() > 0 && a.num_columns() > 0, "{}: the MSA is empty", msa_path);
        if (msa_start) {
            start0 = int(msa_start - 1);
            if (msa_end)
                TRANOVA_CHECK(msa_end - msa_start + 1 == (long long)a.num_columns(),
                              "{}: --msa-start {} --msa-end {} span {} positions but the MSA has {} columns", msa_path,
                              msa_start, msa_end, msa_end - msa_start + 1, a.num_columns());
        } else {
            start0 = tc::locate_msa(a, target, msa_path);
            if (msa_end)
                TRANOVA_CHECK(msa_end == start0 + (long long)a.num_columns(), "{}: --msa-end {} but the MSA covers {}-{}",
                              msa_path, msa_end, start0 + 1, start0 + a.num_columns());
        }
    }

    std::vector<tc::variant_score> scores(vars.size());
    std::vector<double> si_scores;
    bool random_model = false;
    if (site_independent) {
        // Check the MSA against the target, then fit the per-site model on it.
        tc::prior_options po_;
        std::vector<double> ones(a.num_rows(), 1.0);
        tc::make_log_prior(a, ones, po_, target, start0, msa_path);
        tranova::msa::site_independent_options so;
        so.theta = theta;
        auto sim = tranova::msa::fit_site_independent(a, so);
        sim.first_position = start0 + 1;
        tranova::log::info("site-independent model: {} sequences, N_eff {:.1f}", sim.num_sequences, sim.neff);
        for (size_t i = 0; i < vars.size(); ++i) {
            // Variants with a mutation outside the MSA columns cannot be scored (empty).
            bool inside = !vars[i].indel;
            for (int q : vars[i].positions) inside = inside && q >= start0 && q < start0 + int(a.num_columns());
            double s = inside ? tranova::msa::score_sequence(sim, vars[i].sequence, 1) : std::nan("");
            scores[i].l_to_r = scores[i].r_to_l = scores[i].avg = s;
        }
    } else {
        const auto kernel = cpu_kernel == "avx512" ? tranova::core::linear_kernel::avx512
                            : cpu_kernel == "blas" ? tranova::core::linear_kernel::blas
                                                   : tranova::core::linear_kernel::automatic;
        tc::model m = tc::model_load(model_path, kernel);
        m.token_type_quirk = !no_token_type;
        random_model = m.random_weights;
        if (random_model)
            tranova::log::warn("{} has RANDOM weights (a demo/test model): its scores carry no biological signal",
                               model_path);
        tranova::log::info("model: {} layers, {} dims, {} heads, context {} residues; linear layers on {}",
                           m.cfg.n_layer, m.cfg.n_embd, m.cfg.n_head, m.cfg.n_ctx - 2,
                           m.head.panels ? "the AVX-512 kernel" : "BLAS");
        tc::log_prior prior;
        tc::score_options opt;
        if (!msa_path.empty()) {
            tc::prior_options po_;
            po_.theta = theta;
            po_.threshold_focus_cols_frac_gaps = focus_gaps;
            po_.weighted = !unweighted;
            std::string cache;
            if (!no_weights_cache && !unweighted)
                cache = !weights_cache.empty() ? weights_cache
                        : out == "-"           ? ""
                                               : (fs::path(out).parent_path() / (fs::path(msa_path).filename().string() +
                                                                                 ".msa_weights.h5")).string();
            bool reused = false;
            auto pw = tc::cached_prior_weights(a, po_, cache, &reused);
            tranova::log::info("MSA {}: {} rows x {} columns at target {}-{}; {} weighted rows, N_eff {:.2f}{}", msa_path,
                               a.num_rows(), a.num_columns(), start0 + 1, start0 + a.num_columns(),
                               unweighted ? a.num_rows() : pw.kept_rows.size(), pw.neff,
                               reused ? " (weights from " + cache + ")" : "");
            prior = tc::make_log_prior(a, pw.row_weight, po_, target, start0, msa_path);
            opt.prior = &prior;
            opt.alpha = alpha;
            opt.align_to_target = [&](const std::string& s) { return tc::align_variant_to_target(s, target); };
        }
        opt.window = window == "optimal" ? tc::window_mode::optimal : tc::window_mode::sliding;
        opt.mirror = !no_mirror;
        opt.use_cache = !no_cache;
        opt.max_batch_rows = batch_rows;
        opt.seed = seed;
        scores = tc::score_variants(m, target, vars, opt);
    }

    // Output table.
    std::vector<std::string> add = site_independent ? std::vector<std::string>{"avg_score"}
                                   : no_mirror     ? std::vector<std::string>{"avg_score_L_to_R", "avg_score"}
                                                   : std::vector<std::string>{"avg_score_L_to_R", "avg_score_R_to_L", "avg_score"};
    std::vector<int> replace_at(add.size(), -1);
    for (size_t k = 0; k < add.size(); ++k)
        for (size_t c = 0; c < header.size(); ++c)
            if (header[c] == add[k]) replace_at[k] = int(c);
    std::string text;
    auto line = [&](const std::vector<std::string>& f) {
        for (size_t c = 0; c < f.size(); ++c) {
            if (c) text += ',';
            text += tranova::csv_escape(f[c]);
        }
        text += '\n';
    };
    std::vector<std::string> h = header;
    for (size_t k = 0; k < add.size(); ++k)
        if (replace_at[k] < 0) h.push_back(add[k]);
    line(h);
    for (size_t i = 0; i < vars.size(); ++i) {
        std::vector<std::string> f = rows[i];
        std::vector<std::string> vals;
        if (site_independent) vals = {fmt_score(scores[i].avg)};
        else if (no_mirror) vals = {fmt_score(scores[i].l_to_r), fmt_score(scores[i].avg)};
        else vals = {fmt_score(scores[i].l_to_r), fmt_score(scores[i].r_to_l), fmt_score(scores[i].avg)};
        for (size_t k = 0; k < add.size(); ++k) {
            if (replace_at[k] >= 0) f[replace_at[k]] = vals[k];
            else f.push_back(vals[k]);
        }
        line(f);
    }
    tranova::output_file of(out);
    of.write(text);

    // Heatmap of the single substitutions.
    if (heatmap.empty() && all_singles && out != "-") heatmap = fs::path(out).replace_extension(".svg").string();
    std::unique_ptr<tranova::output_file> svg;
    if (!heatmap.empty()) {
        std::vector<double> grid(target.size() * 20, std::nan(""));
        size_t n = 0;
        for (size_t i = 0; i < vars.size(); ++i)
            if (!vars[i].indel && vars[i].positions.size() == 1) {
                int a_ = tc::residue_id(vars[i].sequence[vars[i].positions[0]]) - 5;
                if (a_ >= 0) grid[size_t(vars[i].positions[0]) * 20 + a_] = scores[i].avg, ++n;
            }
        TRANOVA_CHECK(n > 0, "{}: no single substitutions to draw", heatmap);
        std::string title = fmt::format("{} single-substitution scores: {}{}",
                                        site_independent ? "Site-independent" : "Tranception",
                                        fs::path(model_path).filename().string(),
                                        !random_model ? ""
                                        : msa_path.empty() ? " (RANDOM weights, no biological signal)"
                                                           : " (RANDOM model weights; the signal comes from the MSA prior)");
        svg = std::make_unique<tranova::output_file>(heatmap);
        svg->write(tc::heatmap_svg(target, grid, title));
    }
    of.commit();
    if (svg) svg->commit();

    if (!spearman_col.empty()) {
        TRANOVA_CHECK(!all_singles, "--report-spearman needs a --dms table with a '{}' column", spearman_col);
        int c = -1;
        for (size_t k = 0; k < header.size(); ++k)
            if (header[k] == spearman_col) c = int(k);
        TRANOVA_CHECK(c >= 0, "{}: no column '{}' for --report-spearman", dms, spearman_col);
        std::vector<double> x, y;
        for (size_t i = 0; i < vars.size(); ++i) {
            double v = std::nan("");
            if (!tranova::parse_double(tranova::trim(rows[i][c]), v)) v = std::nan("");
            x.push_back(scores[i].avg);
            y.push_back(v);
        }
        size_t n = 0;
        double rho = tc::spearman(x, y, &n);
        std::string label = site_independent ? "site-independent" : !msa_path.empty() && alpha == 1.0 ? "retrieval only (alpha 1)"
                            : !msa_path.empty() ? fmt::format("Tranception + retrieval (alpha {})", alpha) : "Tranception";
        const char* note = !random_model                           ? ""
                           : msa_path.empty()                      ? "; RANDOM model weights: expect ~0"
                           : alpha < 1.0                           ? "; RANDOM model weights: the signal comes from the MSA prior"
                                                                   : "";
        std::printf("Spearman(avg_score, %s) = %.4f over %zu variants [%s%s]\n", spearman_col.c_str(), rho, n,
                    label.c_str(), note);
    }
    tranova::log::info("wrote {} scores to {}{}", vars.size(), out, heatmap.empty() ? "" : " and " + heatmap);
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(score, {"score", "Fitness", "Tranception fitness scores (with MSA retrieval), saturation mutagenesis", main_score})
