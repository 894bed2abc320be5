// `tranova score` behind run_score: inputs, scoring, output table, heatmap, Spearman.
#include "tranception/score_run.hpp"

#include "msa/msa.hpp"
#include "msa/site_independent.hpp"
#include "retrieval/fasta_db.hpp"
#include "tranception/heatmap.hpp"
#include "tranception/indel_align.hpp"
#include "tranception/model.hpp"
#include "tranception/prior.hpp"
#include "tranception/tokenizer.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/memory.hpp"
#include "util/chunked_output.hpp"
#include "util/output_file.hpp"
#include "util/preemption.hpp"
#include "util/stats.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

namespace tranova::tranception {

namespace fs = std::filesystem;

namespace {

std::string shorten(const std::string& s) { return s.size() > 40 ? s.substr(0, 40) + "..." : s; }

std::string fmt_score(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

// The MSA and the 0-based target position of its first column.
struct located_msa {
    msa::alignment a;
    int start0 = 0;
};

located_msa read_located_msa(const score_options& opt, const std::string& target) {
    located_msa m;
    m.a = msa::read_alignment(opt.msa);
    const auto& a = m.a;
    TRANOVA_CHECK(a.num_rows() > 0 && a.num_columns() > 0, "{}: the MSA is empty", opt.msa);
    check_memory(msa::weights_memory_bytes(a.num_rows(), a.num_columns(), opt.threads), opt.msa,
                 fmt::format("the sequence weights of {} rows x {} columns", a.num_rows(), a.num_columns()));
    if (opt.msa_start) {
        m.start0 = int(opt.msa_start - 1);
        if (opt.msa_end)
            TRANOVA_CHECK(opt.msa_end - opt.msa_start + 1 == (long long)a.num_columns(),
                          "{}: --msa-start {} --msa-end {} span {} positions but the MSA has {} columns", opt.msa,
                          opt.msa_start, opt.msa_end, opt.msa_end - opt.msa_start + 1, a.num_columns());
    } else {
        m.start0 = locate_msa(a, target, opt.msa);
        if (opt.msa_end)
            TRANOVA_CHECK(opt.msa_end == m.start0 + (long long)a.num_columns(), "{}: --msa-end {} but the MSA covers {}-{}",
                          opt.msa, opt.msa_end, m.start0 + 1, m.start0 + a.num_columns());
    }
    return m;
}

// The per-site MSA baseline. Variants with a mutation outside the MSA columns (or an
// indel) cannot be scored: NaN, written as an empty cell.
std::vector<variant_score> score_site_independent(const score_options& opt, const located_msa& m,
                                                  const std::string& target, const std::vector<variant>& vars) {
    // Check the MSA against the target, then fit the per-site model on it.
    prior_options po;
    std::vector<double> ones(m.a.num_rows(), 1.0);
    make_log_prior(m.a, ones, po, target, m.start0, opt.msa);
    msa::site_independent_options so;
    so.theta = opt.theta;
    auto sim = msa::fit_site_independent(m.a, so);
    sim.first_position = m.start0 + 1;
    log::info("site-independent model: {} sequences, N_eff {:.1f}", sim.num_sequences, sim.neff);
    std::vector<variant_score> scores(vars.size());
    for (size_t i = 0; i < vars.size(); ++i) {
        bool inside = !vars[i].indel;
        for (int q : vars[i].positions) inside = inside && q >= m.start0 && q < m.start0 + int(m.a.num_columns());
        double s = inside ? msa::score_sequence(sim, vars[i].sequence, 1) : std::nan("");
        scores[i].l_to_r = scores[i].r_to_l = scores[i].avg = s;
    }
    return scores;
}

// The retrieval log-prior of the MSA (sequence weights from the cache when it matches).
log_prior build_prior(const score_options& opt, const located_msa& m, const std::string& target) {
    prior_options po;
    po.theta = opt.theta;
    po.threshold_focus_cols_frac_gaps = opt.focus_gaps;
    po.weighted = opt.weighted_msa;
    std::string cache;
    // No default cache beside a device or FIFO output (-o /dev/null would put it in /dev).
    if (opt.use_weights_cache && opt.weighted_msa)
        cache = !opt.weights_cache.empty() ? opt.weights_cache
                : is_direct_output(opt.out)
                    ? ""
                    : (fs::path(opt.out).parent_path() / (fs::path(opt.msa).filename().string() + ".msa_weights.h5"))
                          .string();
    bool reused = false;
    auto pw = cached_prior_weights(m.a, po, cache, &reused);
    log::info("MSA {}: {} rows x {} columns at target {}-{}; {} weighted rows, N_eff {:.2f}{}", opt.msa, m.a.num_rows(),
              m.a.num_columns(), m.start0 + 1, m.start0 + m.a.num_columns(),
              opt.weighted_msa ? pw.kept_rows.size() : m.a.num_rows(), pw.neff,
              reused ? " (weights from " + cache + ")" : "");
    return make_log_prior(m.a, pw.row_weight, po, target, m.start0, opt.msa);
}

// Tranception scores, with the retrieval prior when an MSA is given.
// Loads the model (and builds the prior) for score_variants; `so` and `prior` are filled
// and must outlive the calls.
std::unique_ptr<model> load_scoring_model(const score_options& opt, const located_msa* m, const std::string& target,
                                          log_prior& prior, scoring_options& so, bool* random_model) {
    auto mdl = std::make_unique<model>(model_load(opt.model, opt.cpu_kernel));
    mdl->token_type_quirk = opt.token_type_quirk;
    *random_model = mdl->random_weights;
    if (mdl->random_weights)
        log::warn("{} has RANDOM weights (a demo/test model): its scores carry no biological signal", opt.model);
    log::info("model: {} layers, {} dims, {} heads, context {} residues; linear layers on {}", mdl->cfg.n_layer,
              mdl->cfg.n_embd, mdl->cfg.n_head, mdl->cfg.n_ctx - 2, mdl->head.panels ? "the AVX-512 kernel" : "BLAS");
    if (m) {
        prior = build_prior(opt, *m, target);
        so.prior = &prior;
        so.alpha = opt.alpha;
        so.align_to_target = [&target](const std::string& s) { return align_variant_to_target(s, target); };
    }
    so.window = opt.window;
    so.mirror = opt.mirror;
    so.use_cache = opt.use_cache;
    so.max_batch_rows = opt.batch_rows;
    so.seed = opt.seed;
    return mdl;
}

// Whether the model has random weights, for the heatmap title of a run whose chunks were all
// recorded earlier (the model itself is not needed then).
bool model_has_random_weights(const score_options& opt) { return model_load(opt.model, opt.cpu_kernel).random_weights; }

// The [position x 20 amino acids] grid of single-substitution scores (NaN elsewhere).
std::vector<double> singles_grid(const std::string& target, const std::vector<variant>& vars,
                                 const std::vector<variant_score>& scores, size_t* n) {
    std::vector<double> grid(target.size() * 20, std::nan(""));
    *n = 0;
    for (size_t i = 0; i < vars.size(); ++i)
        if (!vars[i].indel && vars[i].positions.size() == 1) {
            int aa = residue_id(vars[i].sequence[vars[i].positions[0]]) - 5;
            if (aa >= 0) grid[size_t(vars[i].positions[0]) * 20 + aa] = scores[i].avg, ++*n;
        }
    return grid;
}

score_spearman spearman_of(const score_options& opt, const variant_table& t, const std::vector<variant_score>& scores,
                           bool site_independent, bool random_model) {
    TRANOVA_CHECK(!opt.all_singles, "--report-spearman needs a --dms table with a '{}' column", opt.spearman_column);
    int c = -1;
    for (size_t k = 0; k < t.header.size(); ++k)
        if (t.header[k] == opt.spearman_column) c = int(k);
    TRANOVA_CHECK(c >= 0, "{}: no column '{}' for --report-spearman", opt.dms, opt.spearman_column);
    std::vector<double> x, y;
    for (size_t i = 0; i < t.variants.size(); ++i) {
        double v = std::nan("");
        if (!parse_double(trim(t.rows[i][c]), v)) v = std::nan("");
        x.push_back(scores[i].avg);
        y.push_back(v);
    }
    score_spearman s;
    s.rho = spearman_finite(x, y, &s.n);
    const bool with_msa = !opt.msa.empty();
    s.label = site_independent             ? "site-independent"
              : with_msa && opt.alpha == 1.0 ? "retrieval only (alpha 1)"
              : with_msa                     ? fmt::format("Tranception + retrieval (alpha {})", opt.alpha)
                                             : "Tranception";
    s.note = !random_model     ? ""
             : !with_msa       ? "; RANDOM model weights: expect ~0"
             : opt.alpha < 1.0 ? "; RANDOM model weights: the signal comes from the MSA prior"
                               : "";
    return s;
}

}  // namespace

void check_score_options(const score_options& opt) {
    if (opt.model.empty()) throw usage_error("missing --model");
    if (opt.out.empty()) throw usage_error("missing -o (output CSV)");
    if (opt.target.empty()) throw usage_error("give the wild type with exactly one of --target, --sequence, --fasta");
    if (opt.all_singles == !opt.dms.empty()) throw usage_error("give either --dms CSV or --all-singles");
    if (!(opt.alpha >= 0 && opt.alpha <= 1)) throw usage_error(fmt::format("--alpha must be in [0, 1], got {}", opt.alpha));
    if (!(opt.theta >= 0 && opt.theta <= 1)) throw usage_error(fmt::format("--theta must be in [0, 1], got {}", opt.theta));
    if (opt.batch_rows < 1) throw usage_error("--batch-rows must be >= 1");
    if (opt.chunk_variants < 1) throw usage_error("--chunk-variants must be >= 1");
    if ((opt.msa_start || opt.msa_end) && opt.msa.empty()) throw usage_error("--msa-start/--msa-end need --msa");
    const bool site_independent = opt.model == "site-independent";
    {
        // A weight file is read by seeking: a FIFO or device would hang or read garbage.
        std::error_code ec;
        auto st = fs::status(opt.model, ec);
        TRANOVA_CHECK(site_independent || !fs::exists(st) || fs::is_regular_file(st) || fs::is_directory(st),
                      "{}: --model must be a weight file or a checkpoint folder, not a FIFO or device", opt.model);
    }
    if (site_independent && opt.msa.empty()) throw usage_error("--model site-independent needs --msa");
}

std::string read_target(const std::string& arg, const char* what) {
    constexpr size_t min_literal = 8;
    std::error_code ec;
    std::string seq;
    const auto st = fs::status(arg, ec);
    if (!ec && fs::is_directory(st)) {
        TRANOVA_FAIL("{} '{}': is a directory, not a FASTA file or a sequence", what, arg);
    } else if (!ec && fs::exists(st)) {
        // Retrieval's FASTA reader: plain or gzip, BOM-safe.
        retrieval::fasta_reader reader(arg);
        retrieval::fasta_record rec;
        TRANOVA_CHECK(reader.next(rec), "{}: no FASTA record", arg);
        TRANOVA_CHECK(!rec.seq.empty(), "{}: record '{}' has no sequence", arg, rec.name);
        if (retrieval::fasta_record extra; reader.next(extra))
            log::warn("{}: several records; scoring against the first, '{}'", arg, rec.name);
        seq = std::move(rec.seq);
    } else {
        seq = std::string(trim(arg));
        // Lower case or path characters: a file name, not a sequence. Other characters are
        // left to check_sequence, which names the offending one.
        const bool pathlike = std::any_of(seq.begin(), seq.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || c == '/' || c == '.' || c == '\\' || c == '~' || c == '_';
        });
        TRANOVA_CHECK(!pathlike && seq.size() >= min_literal,
                      "{} '{}': no such file, and not a protein sequence (a sequence given on the command line is "
                      "upper-case residue letters, at least {})",
                      what, shorten(arg), min_literal);
    }
    seq = to_upper(seq);
    std::string bad = check_sequence(seq);
    TRANOVA_CHECK(bad.empty(), "{} {}: {}", what, shorten(arg), bad);
    return seq;
}

variant_table read_variant_table(const score_options& opt, const std::string& target) {
    variant_table t;
    if (opt.all_singles) {
        t.variants = all_single_substitutions(target);
        t.header = {"mutant", "mutated_sequence"};
        for (const auto& v : t.variants) t.rows.push_back({v.mutant, v.sequence});
        return t;
    }
    csv_reader r(opt.dms);
    t.header = r.header();
    int cm = r.column(opt.mutant_column), cs = r.column(opt.sequence_column);
    TRANOVA_CHECK(cm >= 0 || cs >= 0, "{}: needs a '{}' or a '{}' column", opt.dms, opt.mutant_column,
                  opt.sequence_column);
    std::vector<std::string> f;
    while (r.next(f)) {
        try {
            variant v;
            std::string m = cm >= 0 ? std::string(trim(f[cm])) : "";
            if (!m.empty()) {
                v = variant_from_mutant(m, target, r.where());
                if (cs >= 0 && !trim(f[cs]).empty())
                    TRANOVA_CHECK(trim(f[cs]) == v.sequence,
                                  "{}: mutated_sequence does not equal the target with mutant '{}' applied", r.where(), m);
            } else {
                TRANOVA_CHECK(cs >= 0 && !trim(f[cs]).empty(), "{}: row has neither a mutant nor a mutated_sequence",
                              r.where());
                v = variant_from_sequence(f[cs], target, r.where());
            }
            t.variants.push_back(std::move(v));
            t.rows.push_back(f);
        } catch (const error& e) {
            if (!opt.skip_bad_rows) throw;
            log::warn("skipped: {}", e.what());
            ++t.skipped;
        }
    }
    TRANOVA_CHECK(!t.variants.empty(), "{}: no variants to score", opt.dms);
    return t;
}

std::string score_table_csv(const variant_table& table, const std::vector<variant_score>& scores, bool site_independent,
                            bool mirror) {
    std::vector<std::string> add = site_independent ? std::vector<std::string>{"avg_score"}
                                   : !mirror        ? std::vector<std::string>{"avg_score_L_to_R", "avg_score"}
                                                    : std::vector<std::string>{"avg_score_L_to_R", "avg_score_R_to_L", "avg_score"};
    std::vector<int> replace_at(add.size(), -1);
    for (size_t k = 0; k < add.size(); ++k)
        for (size_t c = 0; c < table.header.size(); ++c)
            if (table.header[c] == add[k]) replace_at[k] = int(c);
    std::string text;
    auto line = [&](const std::vector<std::string>& f) {
        for (size_t c = 0; c < f.size(); ++c) {
            if (c) text += ',';
            text += csv_escape(f[c]);
        }
        text += '\n';
    };
    std::vector<std::string> h = table.header;
    for (size_t k = 0; k < add.size(); ++k)
        if (replace_at[k] < 0) h.push_back(add[k]);
    line(h);
    for (size_t i = 0; i < table.variants.size(); ++i) {
        std::vector<std::string> f = table.rows[i];
        std::vector<std::string> vals;
        if (site_independent) vals = {fmt_score(scores[i].avg)};
        else if (!mirror) vals = {fmt_score(scores[i].l_to_r), fmt_score(scores[i].avg)};
        else vals = {fmt_score(scores[i].l_to_r), fmt_score(scores[i].r_to_l), fmt_score(scores[i].avg)};
        for (size_t k = 0; k < add.size(); ++k) {
            if (replace_at[k] >= 0) f[replace_at[k]] = vals[k];
            else f.push_back(vals[k]);
        }
        line(f);
    }
    return text;
}

namespace {

// What identifies a score run for --resume: everything that changes the scores or the
// chunk boundaries (not --threads, logging or the heatmap path).
job_fingerprint score_fingerprint(const score_options& opt, const std::string& target) {
    job_fingerprint fp;
    fp.add("command", "tranova score");
    if (opt.model == "site-independent") fp.add("--model", opt.model);
    else if (fs::is_directory(opt.model)) fp.add("--model", fs::absolute(opt.model).string());
    else fp.add_file("--model", opt.model);
    fp.add("target", fmt::format("{} residues, fnv1a64 {:016x}", target.size(), fnv1a64(target)));
    if (opt.all_singles) fp.add("--all-singles", "yes");
    else fp.add_file("--dms", opt.dms);
    fp.add("--mutant-column", opt.mutant_column);
    fp.add("--sequence-column", opt.sequence_column);
    fp.add("--skip-bad-rows", opt.skip_bad_rows ? "yes" : "no");
    if (!opt.msa.empty()) {
        fp.add_file("--msa", opt.msa);
        fp.add("msa options", fmt::format("start {} end {} alpha {} theta {} focus-gaps {} weighted {}", opt.msa_start,
                                          opt.msa_end, opt.alpha, opt.theta, opt.focus_gaps, opt.weighted_msa));
    }
    fp.add("scoring options", fmt::format("window {} mirror {} token-type {} cache {} batch-rows {} cpu-kernel {} seed {}",
                                          opt.window == window_mode::optimal ? "optimal" : "sliding", opt.mirror,
                                          opt.token_type_quirk, opt.use_cache, opt.batch_rows,
                                          static_cast<int>(opt.cpu_kernel), opt.seed));
    fp.add("--chunk-variants", std::to_string(opt.chunk_variants));
    return fp;
}

// A chunk's scores as text, one variant a line, each double in its shortest round-trip form
// (so parsing it back gives the same bits).
std::string scores_text(const variant_score* s, size_t n) {
    std::string t;
    for (size_t i = 0; i < n; ++i) t += fmt::format("{} {} {}\n", s[i].l_to_r, s[i].r_to_l, s[i].avg);
    return t;
}
void parse_scores(const std::string& text, variant_score* s, size_t n, const std::string& where) {
    const char* p = text.c_str();
    for (size_t i = 0; i < n; ++i) {
        double v[3];
        for (double& x : v) {
            char* end = nullptr;
            x = std::strtod(p, &end);
            TRANOVA_CHECK(end != p, "{}: malformed score line {}", where, i + 1);
            p = end;
        }
        TRANOVA_CHECK(*p == '\n', "{}: malformed score line {}", where, i + 1);
        ++p;
        s[i] = {v[0], v[1], v[2]};
    }
    TRANOVA_CHECK(*p == '\0', "{}: more score lines than variants", where);
}

}  // namespace

score_result run_score(const score_options& opt) {
    check_score_options(opt);
    const bool site_independent = opt.model == "site-independent";
    const std::string target = read_target(opt.target, "target");
    const variant_table table = read_variant_table(opt, target);
    if (table.skipped) log::warn("{} rows skipped (--skip-bad-rows)", table.skipped);

    std::unique_ptr<located_msa> m;
    if (!opt.msa.empty()) m = std::make_unique<located_msa>(read_located_msa(opt, target));

    // The variants are scored in chunks recorded in <out>.progress/ (util/chunked_output):
    // --resume skips the recorded ones, SIGTERM/SIGUSR1 stops after the current chunk.
    chunked_output journal(opt.out, score_fingerprint(opt, target), opt.resume);
    const auto n_var = static_cast<int64_t>(table.variants.size());
    const int64_t C = opt.chunk_variants, n_chunks = (n_var + C - 1) / C;
    if (journal.resumed_chunks() > 0)
        log::info("resuming {}: {} of {} chunks of {} variants already scored", journal.record_dir(),
                  journal.resumed_chunks(), n_chunks, C);
    std::vector<variant_score> scores(static_cast<size_t>(n_var));
    bool random_model = false;
    std::unique_ptr<model> mdl;  // loaded when a chunk needs it
    log_prior prior;
    scoring_options so;
    std::vector<variant_score> si_scores;  // site-independent: all at once (cheap)
    preemption_guard guard;
    score_result res;
    for (int64_t k = 0; k < n_chunks; ++k) {
        const int64_t lo = k * C, hi = std::min(n_var, lo + C);
        if (journal.done(k)) {
            parse_scores(journal.read_chunk(k), &scores[lo], static_cast<size_t>(hi - lo),
                         fmt::format("{} chunk {}", journal.record_dir(), k));
            continue;
        }
        if (site_independent) {
            if (si_scores.empty()) si_scores = score_site_independent(opt, *m, target, table.variants);
            std::copy(si_scores.begin() + lo, si_scores.begin() + hi, scores.begin() + lo);
        } else {
            if (!mdl) mdl = load_scoring_model(opt, m.get(), target, prior, so, &random_model);
            const std::vector<variant> part(table.variants.begin() + lo, table.variants.begin() + hi);
            const auto got = score_variants(*mdl, target, part, so);
            std::copy(got.begin(), got.end(), scores.begin() + lo);
        }
        journal.write_chunk(k, scores_text(&scores[lo], static_cast<size_t>(hi - lo)));
        if (preemption_guard::requested() && k + 1 < n_chunks) {
            res.preempted = true;
            res.signal = preemption_guard::signal_number();
            res.chunks_done = k + 1;
            res.chunks = n_chunks;
            res.record = journal.record_dir();
            journal.keep();
            return res;
        }
    }
    if (!site_independent && !mdl) random_model = model_has_random_weights(opt);

    output_file of(opt.out);
    of.write(score_table_csv(table, scores, site_independent, opt.mirror));

    // The heatmap of the single substitutions. The default one sits beside a regular output
    // only (-o /dev/null must not create /dev/null.svg).
    res.num_variants = table.variants.size();
    res.heatmap = opt.heatmap;
    if (res.heatmap.empty() && opt.all_singles && !is_direct_output(opt.out))
        res.heatmap = fs::path(opt.out).replace_extension(".svg").string();
    std::unique_ptr<output_file> svg;
    if (!res.heatmap.empty()) {
        size_t n = 0;
        std::vector<double> grid = singles_grid(target, table.variants, scores, &n);
        TRANOVA_CHECK(n > 0, "{}: no single substitutions to draw", res.heatmap);
        std::string title = fmt::format("{} single-substitution scores: {}{}",
                                        site_independent ? "Site-independent" : "Tranception",
                                        printable(fs::path(opt.model).filename().string()),
                                        !random_model     ? ""
                                        : opt.msa.empty() ? " (RANDOM weights, no biological signal)"
                                                          : " (RANDOM model weights; the signal comes from the MSA prior)");
        svg = std::make_unique<output_file>(res.heatmap);
        svg->write(heatmap_svg(target, grid, title));
    }
    of.commit();
    if (svg) svg->commit();
    journal.remove_record();

    if (!opt.spearman_column.empty())
        res.spearman = spearman_of(opt, table, scores, site_independent, random_model);
    return res;
}

}  // namespace tranova::tranception
