// Casanovo v4.2.1 autoregressive beam search with the precursor-mass filter: beams end on
// the stop token or when their mass exceeds the precursor beyond the ppm tolerance (for
// every isotope in the range, unless a negative-mass N-terminal token could still rescue
// them); finished peptides are cached per spectrum in a min-heap of n_beams entries keyed
// by (peptide score, NumPy-compatible random tie-breaker); the peptide score is the mean
// of the per-step softmax probabilities of the chosen tokens (stop token included), minus
// 1 when the precursor does not fit; amino-acid scores are (p + peptide score)/2.
// Spectra are decoded in lockstep like the upstream batch, so traces and tie-breakers
// reproduce the reference. Token ids are AR ids (0 pad, 1..27 residues, 28 stop).
#pragma once

#include "denovo/peptide.hpp"
#include "denovo_model/model.hpp"

#include <cstdint>
#include <random>
#include <vector>

namespace tranova::denovo_model {

struct beam_params {
    int n_beams = 1;
    int top_match = 1;
    int max_length = 100;
    int min_peptide_len = 6;
    double precursor_mass_tol = 50;  // ppm
    int isotope_min = 0, isotope_max = 1;
};

// One spectrum to decode: the projected (possibly hybrid) memory and its precursor.
struct ar_input {
    const ar_memory* memory = nullptr;
    float mass = 0;          // neutral precursor mass, float32 as upstream
    int charge = 0;
    float precursor_mz = 0;  // float32
};

struct ar_psm {
    std::vector<int> tokens;         // decoding order (C -> N), no stop token
    double score = 0;                // peptide score (-1 penalty applied when not fitting)
    std::vector<double> aa_scores;   // decoding order, one per token
};

// Optional per-step trace (for parity tests against the upstream trace).
struct beam_trace_step {
    std::vector<std::vector<int>> tokens_in, tokens_out;
    std::vector<bool> finished, fits, discarded;
};

// NumPy legacy RandomState.random_sample() over MT19937 (np.random.seed(s)).
class numpy_random {
public:
    explicit numpy_random(uint32_t seed = 0) : gen_(seed) {}
    double random_sample() {
        uint32_t a = uint32_t(gen_()) >> 5, b = uint32_t(gen_()) >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

private:
    std::mt19937 gen_;
};

// Decodes the spectra in lockstep. Returns per spectrum up to top_match PSMs, best first.
std::vector<std::vector<ar_psm>> ar_beam_search(const denovo_model& m, const std::vector<ar_input>& inputs,
                                                const beam_params& p, numpy_random& rng,
                                                std::vector<beam_trace_step>* trace = nullptr);

// Casanovo's float32 precursor m/z checks live with the other mass functions in
// denovo/peptide.hpp.
using denovo::casanovo_calc_mz;
using denovo::casanovo_ppm_error;

}  // namespace tranova::denovo_model
