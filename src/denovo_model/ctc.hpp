// CTC decoding for the NAR (PrimeNovo-style) decoder: greedy collapse, the prefix beam
// search of parlance/ctcdecode (no language model; same trie, pruning and tie-breaking, so
// beams and scores match the library PrimeNovo calls), and PrimeNovo's precise mass
// control (PMC) dynamic program that finds the best CTC path whose residue masses sum to
// the precursor mass within a tolerance. All token ids here are CTC vocabulary ids:
// 0..V-2 = residues, V-1 = blank. Sequences are in decoding order (C -> N terminus).
#pragma once

#include <vector>

namespace tranova::denovo_model {

// Collapses a frame-level path: merge repeats, drop blanks.
std::vector<int> ctc_collapse(const std::vector<int>& path, int blank);

// Greedy decoding: per-frame argmax (first maximum), collapsed. scores: (T,V).
std::vector<int> ctc_greedy(const float* scores, int T, int V, int blank);

struct ctc_beam {
    std::vector<int> tokens;     // collapsed
    std::vector<int> timesteps;  // frame at which each token was emitted (best frame)
    float score = 0;             // -log(approximate prefix probability), ctcdecode's score
};

// ctcdecode CTCBeamDecoder.decode for one sequence. probs: (T,V) probabilities (not logs),
// as PrimeNovo passes softmax outputs. Returns up to beam_width beams, best first.
std::vector<ctc_beam> ctc_beam_search(const float* probs, int T, int V, int blank, int beam_width,
                                      int cutoff_top_n = 40, double cutoff_prob = 1.0);

// Precise mass control. log_probs: (T,V) log-softmax; masses: residue masses of ids
// 0..V-2 (negative masses are disabled, as PrimeNovo disables -17.027); target =
// float32(precursor_mass - 18.01) is computed by the caller (pmc_target). Returns the raw
// T-frame path in vocabulary ids (blank = V-1); all blanks = no feasible path.
std::vector<int> pmc_decode(const float* log_probs, int T, int V, const std::vector<double>& masses, float target,
                            float tol);
// The reference twin: PrimeNovo's loop structure as written (bin-major arrays). Same path.
std::vector<int> pmc_decode_naive(const float* log_probs, int T, int V, const std::vector<double>& masses,
                                  float target, float tol);
// CTC negative log-likelihood -log p(target | log_probs) (torch CTCLoss, reduction none;
// +inf when the target cannot be aligned in T frames). log_probs: (T,V) log-softmax.
double ctc_loss(const float* log_probs, int T, int V, const std::vector<int>& target, int blank);

// PrimeNovo's PMC target: float32(double(M) - 18.01), M = neutral precursor mass.
float pmc_target(double precursor_mass);

}  // namespace tranova::denovo_model
