// `tranova denovo sequence` as a library: de novo peptide sequencing of MS/MS spectra with a
// Casanovo (AR beam search), PrimeNovo (NAR CTC + precise mass control) or CrossNovo-style
// hybrid weight file. Spectra stream in chunks; each chunk is preprocessed and decoded in
// parallel (OpenMP over groups of spectra, BLAS single-threaded inside; the AR beam
// searches of a group run in lockstep) and written in input order to a Casanovo-style
// mzTab. A spectrum that cannot be decoded is reported and skipped; the run goes on.
#pragma once

#include "denovo/preprocess.hpp"
#include "denovo/spectrum.hpp"
#include "denovo_model/beam_search.hpp"
#include "denovo_model/forward.hpp"
#include "denovo_model/model.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tranova {
class progress;
}

namespace tranova::denovo_model {

enum class decoder_kind { ar, nar, hybrid };
const char* decoder_name(decoder_kind k);
// The decoder a model is made for: casanovo ar, primenovo nar, crossnovo hybrid.
decoder_kind default_decoder(model_arch arch);

struct sequence_options {
    std::string model, spectra, output;   // weight file, .mgf/.mzML, mzTab
    std::optional<decoder_kind> decoder;  // default: default_decoder(the model's arch)
    std::string preset;                   // casanovo | primenovo; empty = the model's
    int beam = 1;                         // AR beam width, 1..28
    int ctc_beam = 5;                     // NAR CTC beam width
    bool pmc = true;                      // NAR precise mass control
    bool nar_candidate = true;            // hybrid: the NAR peptide competes with the AR beams
    double precursor_tol = 0;             // ppm; 0 = the model's
    std::optional<std::pair<int, int>> isotope;  // isotope error range; default the model's
    int chunk = 256;                      // spectra read and decoded per parallel chunk
    int group = 8;                        // spectra per task whose AR beam searches run together
    bool resume = false;                  // continue the run recorded in <output>.progress/
};

// A loaded model with everything decided for decoding.
struct sequencer {
    denovo_model model;
    decoder_kind kind = decoder_kind::ar;
    beam_params beam;
    std::string preset;
    denovo::preprocess_options prep;
    int ctc_beam = 5;
    bool pmc = true;
    bool nar_candidate = true;
    int group = 8;
};

// Checks the options (tranova::usage_error), loads the model and checks it has the decoder
// asked for (tranova::error).
sequencer make_sequencer(const sequence_options& opt);

// One spectrum's prediction. tokens / aa_scores run N -> C.
struct decoded_spectrum {
    bool ok = false;     // a peptide was predicted
    std::string error;   // non-empty: the spectrum could not be decoded (why)
    std::vector<std::string> tokens;
    double score = 0;
    std::vector<double> aa_scores;
    bool fits = false;  // NAR: the peptide's mass is within the model's mass_control_tol of the precursor
};

// Scores a peptide (pep.tokens N -> C, pep.fits set) with the AR decoder over mem, as
// Casanovo scores its beams: teacher-forced, the mean softmax probability of its tokens in
// decoding order (C -> N) and of the stop token, minus 1 when it does not fit; aa scores
// (p + mean) / 2, N -> C. The hybrid decoder scores the NAR decoder's peptide this way so
// that the AR decoder chooses between it and its own best beam (decode_chunk).
void ar_score_peptide(const denovo_model& m, const ar_memory& mem, float mass, int charge, decoded_spectrum& pep);

// The encoder memory (n_peaks + 1 rows) of one preprocessed spectrum and the precursor as
// the models see it: float32 m/z, M = (m/z - 1.007276) * z in float32.
struct encoded_spectrum {
    std::vector<float> memory;
    std::unique_ptr<bool[]> mask;  // one per row
    int rows = 0;
    float mass = 0, mz = 0;
    int charge = 0;
};
// Throws for a charge outside the model's range.
encoded_spectrum encode_spectrum(const denovo_model& m, const denovo::processed_peaks& pk, const denovo::spectrum& s);
// Several spectra encoded together (forward.hpp encode_batch: their rows share every matrix
// product); each result equals encode_spectrum's up to float rounding. `batch` keeps the
// padded memory for nar_forward_encoded.
std::vector<encoded_spectrum> encode_spectra(const denovo_model& m,
                                             const std::vector<const denovo::processed_peaks*>& pks,
                                             const std::vector<const denovo::spectrum*>& spectra, encoded_batch& batch);

// NAR decoding: CTC beam search, then, when the best beam misses the precursor mass by
// more than the model's mass_control_tol (and pmc is on), precise mass control.
decoded_spectrum decode_nar(const denovo_model& m, const encoded_spectrum& e, int ctc_beam, bool pmc);
// The same from NAR logits (T, V) already computed (e.g. by nar_forward_encoded).
decoded_spectrum decode_nar_logits(const denovo_model& m, const encoded_spectrum& e, const float* logits, int ctc_beam,
                                   bool pmc);

// The AR decoder's memory for one spectrum: the encoder memory, or for the hybrid the NAR
// features concatenated before it.
// nar_features (T, d): the hybrid's NAR features when already computed (else nar_forward runs).
void prepare_ar(const denovo_model& m, decoder_kind kind, const encoded_spectrum& e, ar_memory& am,
                const float* nar_features = nullptr);

// Decodes a chunk of spectra in parallel; results in input order. `bar` (optional) counts
// decoded spectra.
std::vector<decoded_spectrum> decode_chunk(const sequencer& sq, const std::vector<denovo::spectrum>& chunk,
                                           progress* bar = nullptr);

struct sequence_stats {
    long spectra = 0;         // read and decoded
    long reader_skipped = 0;  // skipped by the spectrum reader
    long psms = 0, empty = 0, failed = 0;
    // Stopped by SIGTERM/SIGUSR1 after a chunk (only the progress record written): the
    // command exits with exit_code_requeue.
    bool preempted = false;
    int signal = 0;
    long chunks_done = 0;
    std::string record;
};

// The whole run: spectra -> mzTab (written through a temporary name, committed at the end),
// in chunks of opt.chunk spectra recorded for --resume (util/chunked_output).
sequence_stats run_sequence(const sequence_options& opt);

}  // namespace tranova::denovo_model
