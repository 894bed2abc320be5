// `tranova denovo sequence`: de novo peptide sequencing of MS/MS spectra with a Casanovo
// (AR beam search), PrimeNovo (NAR CTC + precise mass control) or CrossNovo-style hybrid
// weight file. Spectra stream in chunks; each chunk is preprocessed and decoded in
// parallel (OpenMP, one spectrum per task, BLAS single-threaded inside) and written in
// input order to a Casanovo-style mzTab. A spectrum that cannot be decoded is reported and
// skipped; the run goes on.
#include "cli.hpp"

#include "core/ops.hpp"

#include "denovo/mztab.hpp"
#include "denovo/peptide.hpp"
#include "denovo/preprocess.hpp"
#include "denovo/spectrum.hpp"
#include "denovo_model/beam_search.hpp"
#include "denovo_model/ctc.hpp"
#include "denovo_model/model.hpp"
#include "tranova/build_info.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"
#include "util/text.hpp"
#include "util/threads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

namespace {

using namespace tranova;
using namespace tranova::denovo_model;
namespace dn = tranova::denovo;
using model_t = tranova::denovo_model::denovo_model;

enum class decoder_kind { ar, nar, hybrid };

struct sequence_options {
    std::string model, spectra, output, decoder, preset, isotope;
    int beam = 1, ctc_beam = 5, chunk = 256, group = 8;
    double precursor_tol = -1;
    bool no_pmc = false;
};

struct result {
    bool ok = false;
    std::string error;
    std::vector<std::string> tokens;  // N->C
    double score = 0;
    std::vector<double> aa_scores;    // N->C
};

// Softmax / log-softmax of each row (float32, max-shifted).
void softmax_rows(const float* x, int T, int V, float* prob, float* logp) {
    for (int t = 0; t < T; ++t) {
        const float* r = x + size_t(t) * V;
        float mx = *std::max_element(r, r + V), sum = 0.0f;
        for (int v = 0; v < V; ++v) sum += std::exp(r[v] - mx);
        float lse = std::log(sum);
        for (int v = 0; v < V; ++v) {
            prob[size_t(t) * V + v] = std::exp(r[v] - mx) / sum;
            logp[size_t(t) * V + v] = r[v] - mx - lse;
        }
    }
}

// Encodes one spectrum. Returns its peaks' memory (n+1, d) and mask.
struct encoded {
    std::vector<float> memory;
    std::unique_ptr<bool[]> mask;
    int rows = 0;
    float mass = 0, mz = 0;
    int charge = 0;
};

encoded encode_one(const model_t& m, const dn::processed_peaks& pk, const dn::spectrum& s) {
    TRANOVA_CHECK(s.charge >= 1 && s.charge <= m.cfg.max_charge, "charge {} outside the model's range 1..{}", s.charge,
                  m.cfg.max_charge);
    encoded e;
    const int d = m.cfg.dim_model, n = int(pk.mz.size());
    std::vector<float> peaks(size_t(n) * 2);
    for (int i = 0; i < n; ++i) {
        peaks[size_t(2 * i)] = pk.mz[size_t(i)];
        peaks[size_t(2 * i + 1)] = pk.intensity[size_t(i)];
    }
    // precursor as the models see it: float32 m/z, M = (m/z - 1.007276) * z in float32
    e.mz = float(s.precursor_mz);
    e.charge = s.charge;
    e.mass = (e.mz - float(dn::kProtonRounded)) * float(s.charge);
    e.rows = n + 1;
    e.memory.resize(size_t(n + 1) * d);
    e.mask.reset(new bool[size_t(n + 1)]);
    encoder_forward(m, peaks.data(), n, e.memory.data(), e.mask.get());
    return e;
}

result decode_nar(const model_t& m, const encoded& e, int ctc_beam, bool pmc) {
    result res;
    const auto& vocab = m.cfg.residues;
    const int T = m.cfg.nar_length, V = m.nar_vocab, blank = V - 1;
    std::vector<float> logits(size_t(T) * V), prob(logits.size()), logp(logits.size());
    nar_forward(m, e.memory.data(), e.mask.get(), e.rows, e.mass, e.charge, logits.data(), nullptr, nullptr);
    softmax_rows(logits.data(), T, V, prob.data(), logp.data());
    auto beams = ctc_beam_search(prob.data(), T, V, blank, ctc_beam, 30, 1.0);
    std::vector<int> toks = beams.empty() ? std::vector<int>{} : beams[0].tokens;
    std::vector<int> steps = beams.empty() ? std::vector<int>{} : beams[0].timesteps;
    res.score = beams.empty() ? 0.0 : std::exp(-double(beams[0].score));
    // PrimeNovo's check: -17.027 counts 100000 (never within tolerance)
    double sum = 0;
    for (int t : toks) sum += vocab.masses[size_t(t)] < 0 ? 100000.0 : vocab.masses[size_t(t)];
    double target = double(e.mass) - 18.01;
    if (pmc && !(std::fabs(target - sum) < m.cfg.mass_control_tol)) {
        auto path = pmc_decode(logp.data(), T, V, vocab.masses, pmc_target(e.mass), float(m.cfg.mass_control_tol));
        auto col = ctc_collapse(path, blank);
        if (!col.empty()) {
            toks = col;
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

// The AR decoder's memory for one spectrum: the encoder memory, or for the hybrid the
// NAR features concatenated before it.
void prepare_ar(const model_t& m, decoder_kind kind, const encoded& e, ar_memory& am) {
    if (kind == decoder_kind::hybrid) {
        const int T = m.cfg.nar_length, V = m.nar_vocab, d = m.cfg.dim_model;
        std::vector<float> logits(size_t(T) * V), feats(size_t(T) * d), hm;
        std::vector<unsigned char> hmask;
        nar_forward(m, e.memory.data(), e.mask.get(), e.rows, e.mass, e.charge, logits.data(), feats.data(), nullptr);
        hybrid_memory(m, feats.data(), e.memory.data(), e.mask.get(), e.rows, hm, hmask);
        ar_prepare_memory(m, hm.data(), reinterpret_cast<const bool*>(hmask.data()), T + e.rows, am);
    } else {
        ar_prepare_memory(m, e.memory.data(), e.mask.get(), e.rows, am);
    }
}

result ar_result(const model_t& m, const std::vector<ar_psm>& out) {
    result res;
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

int main_denovo_sequence(int argc, char** argv) {
    namespace po = cli::po;
    cli::parser p(
        {"tranova denovo sequence", "[options] --model M.h5 --spectra run.mgf|run.mzML -o out.mztab",
         "De novo peptide sequencing. The model is a tranova weight file made by `tranova convert --arch "
         "casanovo|primenovo|crossnovo`. Decoders: ar (Casanovo beam search with the precursor-mass filter; peptide "
         "score = mean token probability, minus 1 when the precursor does not fit), nar (CTC beam search; when the "
         "best beam misses the precursor mass by more than the model's mass_control_tol, precise mass control "
         "finds the best path that fits; score = CTC beam probability), hybrid (NAR pass, then AR beam search over "
         "[NAR features ; encoder memory]). Spectra without a usable charge or precursor are reported and skipped. "
         "Writes a Casanovo-style mzTab with per-residue scores (N->C).",
         {"tranova denovo sequence --model casanovo.h5 --spectra sample.mgf -o sample.mztab",
          "tranova denovo sequence --model primenovo.h5 --spectra run.mzML -o run.mztab --decoder nar",
          "tranova denovo sequence --model crossnovo.h5 --spectra sample.mgf -o out.mztab --beam 5 --threads 8"}});
    sequence_options o;
    p.options().add_options()
        ("model,m", po::value(&o.model)->required(), "weight file (.h5) from tranova convert")
        ("spectra,s", po::value(&o.spectra)->required(), "MS/MS spectra (.mgf, .mzML, .mzXML; gzip-compressed .gz too; mzML arrays may use MS-Numpress)")
        ("output,o", po::value(&o.output)->required(), "output mzTab")
        ("decoder", po::value(&o.decoder), "ar | nar | hybrid (default: from the model: casanovo ar, primenovo nar, "
                                           "crossnovo hybrid)")
        ("beam", p.number(&o.beam, 1, 28)->default_value(1), "AR beam width (Casanovo v4 default 1)")
        ("ctc-beam", p.number(&o.ctc_beam, 1, 1000)->default_value(5), "CTC beam width of the NAR decoder (PrimeNovo: 5)")
        ("no-pmc", po::bool_switch(&o.no_pmc), "NAR: keep the CTC beam even when it misses the precursor mass")
        ("precursor-tol", p.number(&o.precursor_tol, 0.0, 1e6, true), "precursor m/z tolerance, ppm (default: model, 50)")
        ("isotope-error", po::value(&o.isotope), "isotope error range MIN:MAX (default: model, 0:1)")
        ("preset", po::value(&o.preset), "peak preprocessing: casanovo | primenovo (default: from the model)")
        ("chunk", p.number(&o.chunk, 1, 1000000)->default_value(256), "spectra read and decoded per parallel chunk")
        ("group", p.number(&o.group, 1, 1000000)->default_value(8), "spectra per task whose AR beam searches run together");
    p.input(o.model, "--model");
    p.input(o.spectra, "--spectra");
    p.output(o.output, "-o");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (o.beam < 1 || o.beam > 28) throw usage_error("--beam must be in 1..28");
    if (o.ctc_beam < 1) throw usage_error("--ctc-beam must be >= 1");
    if (o.chunk < 1) throw usage_error("--chunk must be >= 1");
    if (o.group < 1) throw usage_error("--group must be >= 1");
    if (p.has("precursor-tol") && !(o.precursor_tol > 0)) throw usage_error("--precursor-tol must be > 0");
    beam_params bp;
    if (!o.isotope.empty()) {
        auto parts = split(o.isotope, ':');
        long long a = 0, b = 0;
        if (parts.size() != 2 || !parse_int(parts[0], a) || !parse_int(parts[1], b) || a > b || a < -10 || b > 10)
            throw usage_error(fmt::format("--isotope-error '{}': expected MIN:MAX, e.g. 0:1", o.isotope));
        bp.isotope_min = int(a);
        bp.isotope_max = int(b);
    }
    std::optional<decoder_kind> kind;
    if (!o.decoder.empty()) {
        if (o.decoder == "ar") kind = decoder_kind::ar;
        else if (o.decoder == "nar") kind = decoder_kind::nar;
        else if (o.decoder == "hybrid") kind = decoder_kind::hybrid;
        else throw usage_error(fmt::format("--decoder '{}': expected ar, nar or hybrid", o.decoder));
    }
    if (!o.preset.empty() && o.preset != "casanovo" && o.preset != "primenovo")
        throw usage_error(fmt::format("--preset '{}': expected casanovo or primenovo", o.preset));

    model_t m = model_from_weights(read_weight_file(o.model));
    if (!kind) kind = m.cfg.arch == model_arch::casanovo ? decoder_kind::ar
                      : m.cfg.arch == model_arch::primenovo ? decoder_kind::nar
                                                            : decoder_kind::hybrid;
    TRANOVA_CHECK(*kind == decoder_kind::nar ? m.has_nar() : m.has_ar(), "{}: a {} model has no {} decoder", o.model,
                  arch_name(m.cfg.arch), *kind == decoder_kind::nar ? "NAR" : "AR");
    TRANOVA_CHECK(*kind != decoder_kind::hybrid || m.cfg.arch == model_arch::crossnovo,
                  "{}: --decoder hybrid needs a crossnovo weight file", o.model);
    if (o.isotope.empty()) {
        bp.isotope_min = m.cfg.isotope_min;
        bp.isotope_max = m.cfg.isotope_max;
    }
    bp.n_beams = o.beam;
    bp.top_match = 1;
    bp.max_length = m.cfg.max_length;
    bp.min_peptide_len = m.cfg.min_peptide_len;
    bp.precursor_mass_tol = o.precursor_tol > 0 ? o.precursor_tol : m.cfg.precursor_mass_tol;
    const std::string preset = o.preset.empty() ? m.cfg.preset : o.preset;
    const auto prep = dn::preprocess_options::preset(preset);
    const char* kind_name = *kind == decoder_kind::ar ? "ar" : *kind == decoder_kind::nar ? "nar" : "hybrid";
    log::info("model {} ({}, d {}, {} heads, {}+{}+{} layers), decoder {}, preset {}", o.model,
              arch_name(m.cfg.arch), m.cfg.dim_model, m.cfg.n_head, m.cfg.n_enc_layers, m.cfg.n_ar_layers,
              m.cfg.n_nar_layers, kind_name, preset);

    dn::read_options ro;
    ro.max_charge = m.cfg.max_charge;
    auto reader = dn::open_spectra(o.spectra, ro);
    bool is_mgf = dn::spectrum_format_of(o.spectra) == dn::spectrum_format::mgf;

    dn::mztab_metadata meta;
    // Paths go into tab-separated MTD lines: a tab or newline in a name must not split them.
    meta.description = "tranova identification file " + printable(std::filesystem::path(o.output).filename().string());
    meta.software_version = TRANOVA_VERSION;
    std::error_code ec;
    meta.ms_runs.push_back(printable(std::filesystem::absolute(o.spectra, ec).string()));
    meta.settings = {{"model", printable(o.model)},
                     {"arch", arch_name(m.cfg.arch)},
                     {"decoder", kind_name},
                     {"preset", preset},
                     {"n_beams", std::to_string(bp.n_beams)},
                     {"ctc_beam", std::to_string(o.ctc_beam)},
                     {"pmc", o.no_pmc ? "off" : "on"},
                     {"precursor_mass_tol", fmt::format("{}", bp.precursor_mass_tol)},
                     {"isotope_error_range", fmt::format("[{}, {}]", bp.isotope_min, bp.isotope_max)},
                     {"max_length", std::to_string(bp.max_length)},
                     {"min_peptide_len", std::to_string(bp.min_peptide_len)}};
    dn::mztab_writer writer(o.output, meta);

    tranova::progress bar("sequencing", 0, "spectra");
    long n_in = 0, n_psm = 0, n_failed = 0, n_empty = 0;
    std::vector<dn::spectrum> chunk;
    auto flush = [&]() {
        const int B = int(chunk.size());
        std::vector<result> results(static_cast<size_t>(B));
        core::blas_single_thread_guard single_blas;  // one group per OpenMP thread, BLAS inside
        // groups of spectra per task: the AR beam search of a group runs in lockstep, so the
        // beams of all its spectra share every matrix product
        const int G = (B + o.group - 1) / o.group;
#pragma omp parallel for schedule(dynamic, 1)
        for (int g = 0; g < G; ++g) {
            const int lo = g * o.group, hi = std::min(B, lo + o.group);
            std::vector<ar_memory> mems(static_cast<size_t>(hi - lo));
            std::vector<ar_input> inputs;
            std::vector<int> owners;
            for (int i = lo; i < hi; ++i) {
                try {
                    dn::processed_peaks pk;
                    dn::preprocess(chunk[size_t(i)], prep, pk);
                    encoded e = encode_one(m, pk, chunk[size_t(i)]);
                    if (*kind == decoder_kind::nar) {
                        results[size_t(i)] = decode_nar(m, e, o.ctc_beam, !o.no_pmc);
                    } else {
                        ar_memory& am = mems[size_t(i - lo)];
                        prepare_ar(m, *kind, e, am);
                        inputs.push_back({&am, e.mass, e.charge, e.mz});
                        owners.push_back(i);
                    }
                } catch (const std::exception& ex) {
                    results[size_t(i)].error = ex.what();
                }
                if (*kind == decoder_kind::nar) bar.add();
            }
            if (!inputs.empty()) {
                try {
                    numpy_random rng(0);
                    auto out = ar_beam_search(m, inputs, bp, rng);
                    for (size_t k = 0; k < owners.size(); ++k) results[size_t(owners[k])] = ar_result(m, out[k]);
                } catch (const std::exception& ex) {
                    for (int i : owners) results[size_t(i)].error = ex.what();
                }
            }
            if (*kind != decoder_kind::nar) bar.add(uint64_t(hi - lo));
        }
        for (int i = 0; i < B; ++i) {
            const dn::spectrum& s = chunk[size_t(i)];
            result& r = results[size_t(i)];
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
            writer.add(row);
            ++n_psm;
        }
        chunk.clear();
    };
    dn::spectrum s;
    while (reader->next(s)) {
        chunk.push_back(s);
        ++n_in;
        if (int(chunk.size()) >= o.chunk) flush();
    }
    if (!chunk.empty()) flush();
    bar.finish();
    writer.commit();
    const auto& st = reader->stats();
    log::info("{} spectra read ({} skipped by the reader), {} PSMs written, {} without a prediction, {} failed -> {}",
              n_in, st.skipped, n_psm, n_empty, n_failed, o.output);
    return 0;
}

}  // namespace

int main_denovo_sequence_entry(int argc, char** argv) { return main_denovo_sequence(argc, argv); }
