// `tranova denovo sequence`: de novo peptide sequencing of MS/MS spectra. This file only
// turns options into a denovo_model::sequence_options; the run (chunked parallel decoding,
// mzTab output) is denovo_model::run_sequence (src/denovo_model/sequencer.cpp).
#include "cli.hpp"

#include "denovo_model/sequencer.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/preemption.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace {

using namespace tranova;
using namespace tranova::denovo_model;

int main_denovo_sequence(int argc, char** argv) {
    namespace po = cli::po;
    cli::parser p(
        {"tranova denovo sequence", "[options] --model M.h5 --spectra run.mgf|run.mzML -o out.mztab",
         "De novo peptide sequencing. The model is a tranova weight file made by `tranova convert --arch "
         "casanovo|primenovo|crossnovo`. Decoders: ar (Casanovo beam search with the precursor-mass filter; peptide "
         "score = mean token probability, minus 1 when the precursor does not fit), nar (CTC beam search; when the "
         "best beam misses the precursor mass by more than the model's mass_control_tol, precise mass control "
         "finds the best path that fits; score = CTC beam probability), hybrid (NAR pass, then AR beam search over "
         "[NAR features ; encoder memory]; the NAR decoder's peptide competes with the best beam, scored by the AR "
         "decoder, unless --no-nar-candidate). Spectra without a usable charge or precursor are reported and skipped. "
         "Writes a Casanovo-style mzTab with per-residue scores (N->C).",
         {"tranova denovo sequence --model casanovo.h5 --spectra sample.mgf -o sample.mztab",
          "tranova denovo sequence --model primenovo.h5 --spectra run.mzML -o run.mztab --decoder nar",
          "tranova denovo sequence --model crossnovo.h5 --spectra sample.mgf -o out.mztab --beam 5 --threads 8",
          "tranova denovo sequence --model m.h5 --spectra big.mgf -o big.mztab --resume   # after exit code 75"}});
    sequence_options o;
    std::string decoder, isotope;
    bool no_pmc = false, no_nar_candidate = false;
    p.options().add_options()
        ("model,m", po::value(&o.model)->required(), "weight file (.h5) from tranova convert")
        ("spectra,s", po::value(&o.spectra)->required(), "MS/MS spectra (.mgf, .mzML, .mzXML; gzip-compressed .gz too; mzML arrays may use MS-Numpress)")
        ("output,o", po::value(&o.output)->required(), "output mzTab")
        ("decoder", po::value(&decoder), "ar | nar | hybrid (default: from the model: casanovo ar, primenovo nar, "
                                           "crossnovo hybrid)")
        ("beam", p.number(&o.beam, 1, 28)->default_value(1), "AR beam width (Casanovo v4 default 1)")
        ("ctc-beam", p.number(&o.ctc_beam, 1, 1000)->default_value(5), "CTC beam width of the NAR decoder (PrimeNovo: 5)")
        ("no-pmc", po::bool_switch(&no_pmc), "NAR: keep the CTC beam even when it misses the precursor mass")
        ("no-nar-candidate", po::bool_switch(&no_nar_candidate),
         "hybrid: the AR beams only (the CrossNovo paper's pipeline); by default the NAR decoder's peptide "
         "(CTC + precise mass control) competes with them, scored by the AR decoder")
        ("precursor-tol", p.number(&o.precursor_tol, 0.0, 1e6, true), "precursor m/z tolerance, ppm (default: model, 50)")
        ("isotope-error", po::value(&isotope), "isotope error range MIN:MAX (default: model, 0:1)")
        ("preset", po::value(&o.preset), "peak preprocessing: casanovo | primenovo (default: from the model)")
        ("chunk", p.number(&o.chunk, 1, 1000000)->default_value(256), "spectra read and decoded per parallel chunk")
        ("group", p.number(&o.group, 1, 1000000)->default_value(8), "spectra per task whose AR beam searches run together")
        ("resume", po::bool_switch(&o.resume), "continue the interrupted run recorded in <output>.progress/ (or start "
                                               "afresh when there is none); SIGTERM/SIGUSR1 stop a run after its "
                                               "current chunk with exit code 75");
    p.input(o.model, "--model");
    p.input(o.spectra, "--spectra");
    p.output(o.output, "-o");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (p.has("precursor-tol") && !(o.precursor_tol > 0)) throw usage_error("--precursor-tol must be > 0");
    o.pmc = !no_pmc;
    o.nar_candidate = !no_nar_candidate;
    if (!isotope.empty()) {
        auto parts = split(isotope, ':');
        long long a = 0, b = 0;
        if (parts.size() != 2 || !parse_int(parts[0], a) || !parse_int(parts[1], b) || a > b || a < -10 || b > 10)
            throw usage_error(fmt::format("--isotope-error '{}': expected MIN:MAX, e.g. 0:1", isotope));
        o.isotope = std::make_pair(int(a), int(b));
    }
    if (!decoder.empty()) {
        if (decoder == "ar") o.decoder = decoder_kind::ar;
        else if (decoder == "nar") o.decoder = decoder_kind::nar;
        else if (decoder == "hybrid") o.decoder = decoder_kind::hybrid;
        else throw usage_error(fmt::format("--decoder '{}': expected ar, nar or hybrid", decoder));
    }

    const sequence_stats st = run_sequence(o);
    if (st.preempted) {
        log::warn("stopped by signal {} after {} chunks of {} spectra; progress kept in {}: rerun with --resume to "
                  "continue (exit code {})",
                  st.signal, st.chunks_done, o.chunk, st.record, exit_code_requeue);
        return exit_code_requeue;
    }
    log::info("{} spectra read ({} skipped by the reader), {} PSMs written, {} without a prediction, {} failed -> {}",
              st.spectra, st.reader_skipped, st.psms, st.empty, st.failed, o.output);
    return 0;
}

}  // namespace

int main_denovo_sequence_entry(int argc, char** argv) { return main_denovo_sequence(argc, argv); }
