// `tranova denovo sequence` behind run_sequence (see sequencer.hpp).
#include "denovo_model/sequencer.hpp"

#include "core/ops.hpp"
#include "denovo/mztab.hpp"
#include "denovo/peptide.hpp"
#include "denovo/spectrum.hpp"
#include "denovo_model/ctc.hpp"
#include "denovo_model/forward.hpp"
#include "tranova/build_info.hpp"
#include "util/error.hpp"
#include "util/chunked_output.hpp"
#include "util/log.hpp"
#include "util/preemption.hpp"
#include "util/progress.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace tranova::denovo_model {

namespace dn = tranova::denovo;

const char* decoder_name(decoder_kind k) {
    return k == decoder_kind::ar ? "ar" : k == decoder_kind::nar ? "nar" : "hybrid";
}

decoder_kind default_decoder(model_arch arch) {
    return arch == model_arch::casanovo ? decoder_kind::ar
           : arch == model_arch::primenovo ? decoder_kind::nar
                                           : decoder_kind::hybrid;
}

sequencer make_sequencer(const sequence_options& o) {
    if (o.beam < 1 || o.beam > 28) throw usage_error("--beam must be in 1..28");
    if (o.ctc_beam < 1) throw usage_error("--ctc-beam must be >= 1");
    if (o.chunk < 1) throw usage_error("--chunk must be >= 1");
    if (o.group < 1) throw usage_error("--group must be >= 1");
    if (o.precursor_tol < 0) throw usage_error("--precursor-tol must be > 0");
    if (o.isotope && (o.isotope->first > o.isotope->second || o.isotope->first < -10 || o.isotope->second > 10))
        throw usage_error(fmt::format("--isotope-error {}:{}: expected MIN:MAX, e.g. 0:1", o.isotope->first,
                                      o.isotope->second));
    if (!o.preset.empty() && o.preset != "casanovo" && o.preset != "primenovo")
        throw usage_error(fmt::format("--preset '{}': expected casanovo or primenovo", o.preset));

    sequencer sq;
    sq.model = model_from_weights(read_weight_file(o.model));
    pack_for_inference(sq.model);
    const auto& cfg = sq.model.cfg;
    sq.kind = o.decoder ? *o.decoder : default_decoder(cfg.arch);
    TRANOVA_CHECK(sq.kind == decoder_kind::nar ? sq.model.has_nar() : sq.model.has_ar(),
                  "{}: a {} model has no {} decoder", o.model, arch_name(cfg.arch),
                  sq.kind == decoder_kind::nar ? "NAR" : "AR");
    TRANOVA_CHECK(sq.kind != decoder_kind::hybrid || cfg.arch == model_arch::crossnovo,
                  "{}: --decoder hybrid needs a crossnovo weight file", o.model);
    sq.beam.isotope_min = o.isotope ? o.isotope->first : cfg.isotope_min;
    sq.beam.isotope_max = o.isotope ? o.isotope->second : cfg.isotope_max;
    sq.beam.n_beams = o.beam;
    sq.beam.top_match = 1;
    sq.beam.max_length = cfg.max_length;
    sq.beam.min_peptide_len = cfg.min_peptide_len;
    sq.beam.precursor_mass_tol = o.precursor_tol > 0 ? o.precursor_tol : cfg.precursor_mass_tol;
    sq.preset = o.preset.empty() ? cfg.preset : o.preset;
    sq.prep = dn::preprocess_options::preset(sq.preset);
    sq.ctc_beam = o.ctc_beam;
    sq.pmc = o.pmc;
    sq.nar_candidate = o.nar_candidate;
    sq.group = o.group;
    return sq;
}

namespace {

// The encoder's input of one spectrum: (n, 2) [m/z, intensity] rows; the precursor as the
// models see it (float32 m/z, M = (m/z - 1.007276) * z in float32) goes into e.
std::vector<float> spectrum_input(const denovo_model& m, const dn::processed_peaks& pk, const dn::spectrum& s,
                                  encoded_spectrum& e) {
    TRANOVA_CHECK(s.charge >= 1 && s.charge <= m.cfg.max_charge, "charge {} outside the model's range 1..{}", s.charge,
                  m.cfg.max_charge);
    const int n = int(pk.mz.size());
    std::vector<float> peaks(size_t(n) * 2);
    for (int i = 0; i < n; ++i) {
        peaks[size_t(2 * i)] = pk.mz[size_t(i)];
        peaks[size_t(2 * i + 1)] = pk.intensity[size_t(i)];
    }
    e.mz = float(s.precursor_mz);
    e.charge = s.charge;
    e.mass = (e.mz - float(dn::kProtonRounded)) * float(s.charge);
    e.rows = n + 1;
    return peaks;
}

}  // namespace

encoded_spectrum encode_spectrum(const denovo_model& m, const dn::processed_peaks& pk, const dn::spectrum& s) {
    encoded_spectrum e;
    const std::vector<float> peaks = spectrum_input(m, pk, s, e);
    e.memory.resize(size_t(e.rows) * m.cfg.dim_model);
    e.mask.reset(new bool[size_t(e.rows)]);
    encoder_forward(m, peaks.data(), e.rows - 1, e.memory.data(), e.mask.get());
    return e;
}

std::vector<encoded_spectrum> encode_spectra(const denovo_model& m, const std::vector<const dn::processed_peaks*>& pks,
                                             const std::vector<const dn::spectrum*>& spectra, encoded_batch& batch) {
    TRANOVA_CHECK(pks.size() == spectra.size() && !pks.empty(), "encode_spectra: {} peak lists for {} spectra",
                  pks.size(), spectra.size());
    const int d = m.cfg.dim_model;
    std::vector<encoded_spectrum> out(pks.size());
    std::vector<std::vector<float>> peaks(pks.size());
    std::vector<const float*> ptrs;
    std::vector<int> counts;
    for (size_t i = 0; i < pks.size(); ++i) {
        peaks[i] = spectrum_input(m, *pks[i], *spectra[i], out[i]);
        ptrs.push_back(peaks[i].data());
        counts.push_back(out[i].rows - 1);
    }
    encode_batch(m, ptrs, counts, batch);
    for (size_t i = 0; i < out.size(); ++i) {  // row block i truncated to its own rows
        encoded_spectrum& e = out[i];
        const size_t first = i * size_t(batch.Tk);
        e.memory.assign(batch.memory.begin() + long(first) * d, batch.memory.begin() + long(first + size_t(e.rows)) * d);
        e.mask.reset(new bool[size_t(e.rows)]);
        for (int r = 0; r < e.rows; ++r) e.mask[size_t(r)] = batch.valid[first + size_t(r)] == 0;
    }
    return out;
}

decoded_spectrum decode_nar(const denovo_model& m, const encoded_spectrum& e, int ctc_beam, bool pmc) {
    std::vector<float> logits(size_t(m.cfg.nar_length) * m.nar_vocab);
    nar_forward(m, e.memory.data(), e.mask.get(), e.rows, e.mass, e.charge, logits.data(), nullptr, nullptr);
    return decode_nar_logits(m, e, logits.data(), ctc_beam, pmc);
}

decoded_spectrum decode_nar_logits(const denovo_model& m, const encoded_spectrum& e, const float* logits, int ctc_beam,
                                   bool pmc) {
    decoded_spectrum res;
    const auto& vocab = m.cfg.residues;
    const int T = m.cfg.nar_length, V = m.nar_vocab, blank = V - 1;
    std::vector<float> prob(size_t(T) * V), logp(prob.size());
    m.be->softmax(prob.data(), logits, T, V);
    m.be->log_softmax(logp.data(), logits, T, V);
    auto beams = ctc_beam_search(prob.data(), T, V, blank, ctc_beam, 30, 1.0);
    std::vector<int> toks = beams.empty() ? std::vector<int>{} : beams[0].tokens;
    std::vector<int> steps = beams.empty() ? std::vector<int>{} : beams[0].timesteps;
    res.score = beams.empty() ? 0.0 : std::exp(-double(beams[0].score));
    // PrimeNovo's check: the peptide's residue masses within mass_control_tol of the
    // precursor's; -17.027 counts 100000 (never within tolerance)
    const double target = double(e.mass) - dn::kPrimeNovoH2O;
    auto fits = [&](const std::vector<int>& tokens) {
        double sum = 0;
        for (int t : tokens) sum += vocab.masses[size_t(t)] < 0 ? 100000.0 : vocab.masses[size_t(t)];
        return std::fabs(target - sum) < m.cfg.mass_control_tol;
    };
    res.fits = fits(toks);
    if (pmc && !res.fits) {
        auto path = pmc_decode(logp.data(), T, V, vocab.masses, pmc_target(e.mass), float(m.cfg.mass_control_tol));
        auto col = ctc_collapse(path, blank);
        if (!col.empty()) {
            toks = col;
            res.fits = fits(toks);
            steps.clear();
            int prev = -1;
            for (int t = 0; t < T; ++t) {
                if (path[size_t(t)] != prev && path[size_t(t)] != blank) steps.push_back(t);
                prev = path[size_t(t)];
            }
        }
    }
    for (size_t i = 0; i < toks.size(); ++i) {
        res.tokens.push_back(vocab.tokens[size_t(toks[i])]);
        res.aa_scores.push_back(prob[size_t(steps[i]) * V + size_t(toks[i])]);
    }
    std::reverse(res.tokens.begin(), res.tokens.end());
    std::reverse(res.aa_scores.begin(), res.aa_scores.end());
    res.ok = !res.tokens.empty();
    return res;
}

void ar_score_peptide(const denovo_model& m, const ar_memory& mem, float mass, int charge, decoded_spectrum& pep) {
    const int n = int(pep.tokens.size()), V = m.ar_vocab;
    const auto& names = m.cfg.residues.tokens;
    std::vector<int> ids(size_t(n) + 1, 0);  // [precursor, tokens C -> N]; AR id = residue index + 1
    for (int j = 0; j < n; ++j) {
        const std::string& tok = pep.tokens[size_t(n - 1 - j)];
        const auto it = std::find(names.begin(), names.end(), tok);
        TRANOVA_CHECK(it != names.end(), "residue '{}' is not in the AR decoder's vocabulary", tok);
        ids[size_t(j) + 1] = int(it - names.begin()) + 1;
    }
    ar_cache c;
    ar_cache_init(m, c, n + 1);
    std::vector<float> probs(size_t(n + 1) * V), last(static_cast<size_t>(V));
    ar_feed(m, mem, c, mass, charge, ids.data(), n + 1, last.data(), probs.data());
    m.be->softmax(probs.data(), probs.data(), n + 1, V);
    // row j predicts ids[j + 1]; row n the stop token
    double mean = 0;
    std::vector<double> p(size_t(n) + 1);
    for (int j = 0; j <= n; ++j) {
        p[size_t(j)] = probs[size_t(j) * V + size_t(j < n ? ids[size_t(j) + 1] : m.stop_token())];
        mean += p[size_t(j)];
    }
    mean /= double(n + 1);
    pep.score = pep.fits ? mean : mean - 1.0;
    pep.aa_scores.resize(size_t(n));
    for (int j = 0; j < n; ++j) pep.aa_scores[size_t(n - 1 - j)] = (p[size_t(j)] + mean) / 2;  // N -> C
}

void prepare_ar(const denovo_model& m, decoder_kind kind, const encoded_spectrum& e, ar_memory& am,
                const float* nar_features) {
    if (kind == decoder_kind::hybrid) {
        const int T = m.cfg.nar_length, V = m.nar_vocab, d = m.cfg.dim_model;
        std::vector<float> logits, feats, hm;
        std::vector<unsigned char> hmask;
        if (!nar_features) {
            logits.resize(size_t(T) * V);
            feats.resize(size_t(T) * d);
            nar_forward(m, e.memory.data(), e.mask.get(), e.rows, e.mass, e.charge, logits.data(), feats.data(),
                        nullptr);
            nar_features = feats.data();
        }
        hybrid_memory(m, nar_features, e.memory.data(), e.mask.get(), e.rows, hm, hmask);
        ar_prepare_memory(m, hm.data(), reinterpret_cast<const bool*>(hmask.data()), T + e.rows, am);
    } else {
        ar_prepare_memory(m, e.memory.data(), e.mask.get(), e.rows, am);
    }
}

namespace {

decoded_spectrum ar_result(const denovo_model& m, const std::vector<ar_psm>& out) {
    decoded_spectrum res;
    if (out.empty()) return res;  // no peptide: no PSM, as Casanovo
    const ar_psm& best = out[0];
    for (int t : best.tokens) res.tokens.push_back(m.cfg.residues.tokens[size_t(t - 1)]);
    std::reverse(res.tokens.begin(), res.tokens.end());
    res.aa_scores.assign(best.aa_scores.rbegin(), best.aa_scores.rend());
    res.aa_scores.resize(res.tokens.size());
    res.score = best.score;
    res.ok = true;
    return res;
}

// Decodes chunk[lo, hi) into results: the group's spectra encoded together (and, for the
// NAR and the hybrid, NAR-decoded together), then CTC decoding spectrum by spectrum or one
// lockstep AR beam search over the group.
void decode_group(const sequencer& sq, const std::vector<dn::spectrum>& chunk, int lo, int hi,
                  std::vector<decoded_spectrum>& results, progress* bar) {
    const denovo_model& m = sq.model;
    const int n = hi - lo;
    // preprocessing and the charge check, spectrum by spectrum (a bad one is reported alone)
    std::vector<dn::processed_peaks> pks(static_cast<size_t>(n));
    std::vector<const dn::processed_peaks*> live_pk;
    std::vector<const dn::spectrum*> live_sp;
    std::vector<int> live;
    for (int i = lo; i < hi; ++i) {
        try {
            const dn::spectrum& s = chunk[size_t(i)];
            dn::preprocess(s, sq.prep, pks[size_t(i - lo)]);
            TRANOVA_CHECK(s.charge >= 1 && s.charge <= m.cfg.max_charge, "charge {} outside the model's range 1..{}",
                          s.charge, m.cfg.max_charge);
            live_pk.push_back(&pks[size_t(i - lo)]);
            live_sp.push_back(&s);
            live.push_back(i);
        } catch (const std::exception& ex) {
            results[size_t(i)].error = ex.what();
        }
    }
    auto fail_all = [&](const std::exception& ex) {
        for (int i : live) results[size_t(i)].error = ex.what();
    };
    std::vector<encoded_spectrum> enc;
    std::vector<float> nar_logits, nar_feats;
    if (!live.empty()) {
        try {
            encoded_batch batch;
            enc = encode_spectra(m, live_pk, live_sp, batch);
            if (sq.kind != decoder_kind::ar) {
                const size_t L = live.size(), T = size_t(m.cfg.nar_length);
                std::vector<float> mass(L);
                std::vector<int> charge(L);
                for (size_t k = 0; k < L; ++k) mass[k] = enc[k].mass, charge[k] = enc[k].charge;
                nar_logits.resize(L * T * size_t(m.nar_vocab));
                if (sq.kind == decoder_kind::hybrid) nar_feats.resize(L * T * size_t(m.cfg.dim_model));
                nar_forward_encoded(m, batch, mass.data(), charge.data(), nar_logits.data(),
                                    nar_feats.empty() ? nullptr : nar_feats.data());
            }
        } catch (const std::exception& ex) {
            fail_all(ex);
            live.clear();
        }
    }
    const size_t T = size_t(m.cfg.nar_length);
    if (sq.kind == decoder_kind::nar) {
        for (size_t k = 0; k < live.size(); ++k) {
            try {
                results[size_t(live[k])] =
                    decode_nar_logits(m, enc[k], nar_logits.data() + k * T * size_t(m.nar_vocab), sq.ctc_beam, sq.pmc);
            } catch (const std::exception& ex) {
                results[size_t(live[k])].error = ex.what();
            }
        }
        if (bar) bar->add(uint64_t(n));
        return;
    }
    std::vector<ar_memory> mems(live.size());
    std::vector<ar_input> inputs;
    try {
        for (size_t k = 0; k < live.size(); ++k) {
            prepare_ar(m, sq.kind, enc[k], mems[k],
                       nar_feats.empty() ? nullptr : nar_feats.data() + k * T * size_t(m.cfg.dim_model));
            inputs.push_back({&mems[k], enc[k].mass, enc[k].charge, enc[k].mz});
        }
        if (!inputs.empty()) {
            numpy_random rng(0);
            auto out = ar_beam_search(m, inputs, sq.beam, rng);
            for (size_t k = 0; k < live.size(); ++k) {
                decoded_spectrum& r = results[size_t(live[k])];
                r = ar_result(m, out[k]);
                // The hybrid's two decoders together: the NAR decoder's peptide (CTC beam, then
                // precise mass control when it misses the precursor; fits = within the model's
                // mass_control_tol) competes with the AR's best beam, both scored by the AR
                // decoder, so one scale ranks every PSM (precision-coverage).
                if (sq.kind == decoder_kind::hybrid && sq.nar_candidate) {
                    decoded_spectrum nar = decode_nar_logits(m, enc[k], nar_logits.data() + k * T * size_t(m.nar_vocab),
                                                             sq.ctc_beam, sq.pmc);
                    if (nar.ok) {
                        ar_score_peptide(m, mems[k], enc[k].mass, enc[k].charge, nar);
                        if (!r.ok || nar.score > r.score) r = std::move(nar);
                    }
                }
            }
        }
    } catch (const std::exception& ex) {
        fail_all(ex);
    }
    if (bar) bar->add(uint64_t(n));
}

dn::mztab_metadata sequence_metadata(const sequence_options& o, const sequencer& sq) {
    dn::mztab_metadata meta;
    // Paths go into tab-separated MTD lines: a tab or newline in a name must not split them.
    meta.description = "tranova identification file " + printable(std::filesystem::path(o.output).filename().string());
    meta.software_version = TRANOVA_VERSION;
    std::error_code ec;
    meta.ms_runs.push_back(printable(std::filesystem::absolute(o.spectra, ec).string()));
    const beam_params& bp = sq.beam;
    meta.settings = {{"model", printable(o.model)},
                     {"arch", arch_name(sq.model.cfg.arch)},
                     {"decoder", decoder_name(sq.kind)},
                     {"preset", sq.preset},
                     {"n_beams", std::to_string(bp.n_beams)},
                     {"ctc_beam", std::to_string(sq.ctc_beam)},
                     {"pmc", sq.pmc ? "on" : "off"},
                     {"nar_candidate", sq.kind == decoder_kind::hybrid && sq.nar_candidate ? "on" : "off"},
                     {"precursor_mass_tol", fmt::format("{}", bp.precursor_mass_tol)},
                     {"isotope_error_range", fmt::format("[{}, {}]", bp.isotope_min, bp.isotope_max)},
                     {"max_length", std::to_string(bp.max_length)},
                     {"min_peptide_len", std::to_string(bp.min_peptide_len)}};
    return meta;
}

}  // namespace

std::vector<decoded_spectrum> decode_chunk(const sequencer& sq, const std::vector<dn::spectrum>& chunk, progress* bar) {
    const int B = int(chunk.size());
    std::vector<decoded_spectrum> results(static_cast<size_t>(B));
    core::blas_single_thread_guard single_blas;  // one group per OpenMP thread, BLAS inside
    // groups of spectra per task: the AR beam search of a group runs in lockstep, so the
    // beams of all its spectra share every matrix product
    const int G = (B + sq.group - 1) / sq.group;
#pragma omp parallel for schedule(dynamic, 1)
    for (int g = 0; g < G; ++g) decode_group(sq, chunk, g * sq.group, std::min(B, (g + 1) * sq.group), results, bar);
    return results;
}

namespace {

// A PSM as one line of a chunk record: tab-separated fields, doubles in their shortest
// round-trip form (parsing gives the same bits), text escaped (\\ \t \n \r and space).
std::string psm_line(const dn::psm& p) {
    std::string tokens, aa;
    for (size_t i = 0; i < p.tokens.size(); ++i) tokens += (i ? " " : "") + tsv_escape(p.tokens[i], true);
    for (size_t i = 0; i < p.aa_scores.size(); ++i) aa += fmt::format("{}{}", i ? " " : "", p.aa_scores[i]);
    return fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", tokens, p.score, p.charge, p.exp_mz, p.index, p.scan, aa,
                       tsv_escape(p.title, true));
}
double parse_num(std::string_view f, const std::string& where) {
    const std::string t(f);
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    TRANOVA_CHECK(!t.empty() && *end == '\0', "{}: malformed number '{}'", where, t);
    return v;
}
dn::psm parse_psm_line(std::string_view line, const std::string& where) {
    auto f = split(line, '\t');
    TRANOVA_CHECK(f.size() == 8, "{}: malformed PSM line", where);
    dn::psm p;
    if (!f[0].empty())
        for (auto t : split(f[0], ' ')) p.tokens.push_back(tsv_unescape(t));
    p.score = parse_num(f[1], where);
    p.charge = static_cast<int>(parse_num(f[2], where));
    p.exp_mz = parse_num(f[3], where);
    p.index = static_cast<long>(parse_num(f[4], where));
    p.scan = static_cast<long>(parse_num(f[5], where));
    if (!f[6].empty())
        for (auto t : split(f[6], ' ')) p.aa_scores.push_back(parse_num(t, where));
    p.title = tsv_unescape(f[7]);
    p.ms_run = 1;
    return p;
}

job_fingerprint sequence_fingerprint(const sequence_options& o, const sequencer& sq) {
    job_fingerprint fp;
    fp.add("command", "tranova denovo sequence");
    fp.add_file("--model", o.model);
    fp.add_file("--spectra", o.spectra);
    fp.add("decoding", fmt::format("decoder {} preset {} beam {} ctc-beam {} pmc {} precursor-tol {} isotope {}:{}",
                                   decoder_name(sq.kind), sq.preset, sq.beam.n_beams, sq.ctc_beam, sq.pmc,
                                   sq.beam.precursor_mass_tol, sq.beam.isotope_min, sq.beam.isotope_max));
    fp.add("--chunk --group", fmt::format("{} {}", o.chunk, o.group));
    return fp;
}

}  // namespace

sequence_stats run_sequence(const sequence_options& o) {
    const sequencer sq = make_sequencer(o);
    const auto& cfg = sq.model.cfg;
    log::info("model {} ({}, d {}, {} heads, {}+{}+{} layers), decoder {}, preset {}", o.model, arch_name(cfg.arch),
              cfg.dim_model, cfg.n_head, cfg.n_enc_layers, cfg.n_ar_layers, cfg.n_nar_layers, decoder_name(sq.kind),
              sq.preset);

    dn::read_options ro;
    ro.max_charge = cfg.max_charge;
    auto reader = dn::open_spectra(o.spectra, ro);
    const bool is_mgf = dn::spectrum_format_of(o.spectra) == dn::spectrum_format::mgf;
    // Chunks of o.chunk spectra are recorded in <output>.progress/ (util/chunked_output):
    // --resume skips the recorded ones, SIGTERM/SIGUSR1 stops after the current chunk. The
    // mzTab is written from the records at the end.
    chunked_output journal(o.output, sequence_fingerprint(o, sq), o.resume);
    if (journal.resumed_chunks() > 0)
        log::info("resuming {}: {} chunks of {} spectra already sequenced", journal.record_dir(), journal.resumed_chunks(),
                  o.chunk);

    progress bar("sequencing", 0, "spectra");
    sequence_stats st;
    preemption_guard guard;
    std::vector<dn::spectrum> chunk;
    int64_t k = 0;
    auto flush = [&]() {
        long n_psm = 0, n_empty = 0, n_failed = 0;
        if (journal.done(k)) {
            // Recorded by an earlier run: its counters from the record, no decoding.
            const auto state = journal.state(k);
            TRANOVA_CHECK(std::sscanf(state.c_str(), "psms=%ld empty=%ld failed=%ld", &n_psm, &n_empty, &n_failed) == 3,
                          "{}: malformed state of chunk {}", journal.record_dir(), k);
        } else {
            std::string text;
            const std::vector<decoded_spectrum> results = decode_chunk(sq, chunk, &bar);
            for (size_t i = 0; i < chunk.size(); ++i) {
                const dn::spectrum& s = chunk[i];
                const decoded_spectrum& r = results[i];
                if (!r.error.empty()) {
                    ++n_failed;
                    log::warn("{}: spectrum {} ({}): skipped: {}", o.spectra, s.index, s.title, r.error);
                    continue;
                }
                if (!r.ok) {
                    ++n_empty;
                    continue;
                }
                dn::psm row;
                row.tokens = r.tokens;
                row.score = r.score;
                row.charge = s.charge;
                row.exp_mz = s.precursor_mz;
                row.ms_run = 1;
                if (is_mgf || s.scan < 0) row.index = s.index;
                else row.scan = s.scan;
                row.aa_scores = r.aa_scores;
                row.title = s.title;
                text += psm_line(row);
                ++n_psm;
            }
            journal.write_chunk(k, text, fmt::format("psms={} empty={} failed={}", n_psm, n_empty, n_failed));
        }
        st.psms += n_psm;
        st.empty += n_empty;
        st.failed += n_failed;
        chunk.clear();
        ++k;
    };
    dn::spectrum s;
    while (reader->next(s)) {
        chunk.push_back(s);
        ++st.spectra;
        if (int(chunk.size()) >= o.chunk) {
            flush();
            if (preemption_guard::requested()) {
                st.preempted = true;
                st.signal = preemption_guard::signal_number();
                st.chunks_done = k;
                st.record = journal.record_dir();
                journal.keep();
                return st;
            }
        }
    }
    if (!chunk.empty()) flush();
    bar.finish();
    dn::mztab_writer writer(o.output, sequence_metadata(o, sq));
    for (int64_t i = 0; i < k; ++i) {
        const std::string text = journal.read_chunk(i);
        const std::string where = fmt::format("{} chunk {}", journal.record_dir(), i);
        size_t pos = 0;
        while (pos < text.size()) {
            const size_t nl = text.find('\n', pos);
            writer.add(parse_psm_line(std::string_view(text).substr(pos, nl - pos), where));
            pos = nl + 1;
        }
    }
    writer.commit();
    journal.remove_record();
    st.reader_skipped = long(reader->stats().skipped);
    return st;
}

}  // namespace tranova::denovo_model
