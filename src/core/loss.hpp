// Training losses with their gradients: softmax cross-entropy (ignore-index, label
// smoothing) and CTC. Same conventions as core/ops.hpp (flat row-major float buffers,
// a `_naive` twin for every function) plus the backward convention of the training core:
//   - Gradients ACCUMULATE (+=) into the caller's buffer, scaled by `dloss` (the
//     gradient of the final objective with respect to the returned loss; 1 for a plain
//     loss, lambda for a weighted part of a joint loss, 1/accum for accumulation).
//   - Passing nullptr as the gradient buffer computes the loss only.
//   - Results do not depend on the number of threads (per-row/per-sample work is
//     independent; the loss sum runs in a fixed order, in double).
// Semantics follow PyTorch (torch.nn.functional.cross_entropy / ctc_loss, v1.13); the
// reference values in tests/data/core/training/ come from it (make_loss_refs.py).
#pragma once

#include <cstdint>

namespace tranova::core {

// ---------------------------------------------------------------------------------------
// Softmax cross-entropy over logits (N, V) with integer targets (N).
//
//   row loss  l_i = (1 - eps) * (-log p_i[t_i]) + eps * mean_c(-log p_i[c]),
//             p_i = softmax(logits_i), eps = label_smoothing
//   returned  sum of l_i over rows with t_i != ignore_index, divided by their count
//             (PyTorch reduction 'mean' without class weights). 0 when every row is
//             ignored (PyTorch returns NaN there; 0 keeps a joint loss finite).
//   gradient  dlogits_i += dloss / count * (p_i - (1 - eps) onehot(t_i) - eps / V);
//             ignored rows get nothing.
// Throws tranova::error naming the row when a target is outside [0, V) and is not the
// ignore index.
float cross_entropy_forward_backward(float* dlogits, const float* logits,
                                     const int32_t* targets, int N, int V, int ignore_index,
                                     float label_smoothing, float dloss = 1.0f);
// Twin: everything in double, the unsimplified smoothing sum, one thread.
float cross_entropy_forward_backward_naive(float* dlogits, const float* logits,
                                           const int32_t* targets, int N, int V,
                                           int ignore_index, float label_smoothing,
                                           float dloss = 1.0f);

// ---------------------------------------------------------------------------------------
// CTC loss (Graves 2006), forward-backward in log space (double inside).
//
// log_probs (B, T, C): per-frame log-probabilities (normally log_softmax of the logits;
//   note the layout is batch-major, PyTorch's ctc_loss takes (T, B, C)).
// targets (B, S): padded label rows, row b holds target_lengths[b] labels in [0, C) other
//   than `blank`; the rest of the row is ignored (PrimeNovo pads with -1).
// input_lengths (B): frames used per sample (<= T); target_lengths (B): labels (<= S).
//
// Per-sample loss L_b = -log sum over alignments of length input_lengths[b] that collapse
// (merge repeats, drop blanks) to the target. It is +inf when the target cannot fit:
// target_length + (number of equal adjacent labels) > input_length. With zero_infinity
// such samples give loss 0 and zero gradient (PyTorch's zero_infinity=True); without it
// the loss is +inf and the sample's gradient NaN (as PyTorch), which the optimizer's
// non-finite check then skips.
//
// Reduction (PyTorch): mean = (1/B) sum_b L_b / max(target_length_b, 1); sum = sum_b L_b;
// none = returns the sum and writes nothing extra (use per_sample). per_sample (B), when
// not nullptr, receives the unreduced L_b (after zero_infinity).
//
// Gradient (dloss-scaled, accumulated into `grad` (B, T, C); frames t >= input_length get
// nothing), one of:
//   ctc_grad::log_probs  the true derivative dL/dlog_probs (valid for any log_probs).
//   ctc_grad::logits     the derivative w.r.t. the logits z when log_probs =
//                        log_softmax(z): g - exp(log_probs) * sum_c g (the log-softmax
//                        backward fused in). PyTorch's ctc_loss returns THIS as the
//                        "gradient w.r.t. log_probs" (it assumes a log_softmax input), so
//                        compare PyTorch's log_probs.grad with ctc_grad::logits.
enum class ctc_reduction { mean, sum };
enum class ctc_grad { log_probs, logits };
struct ctc_options {
    int blank = 0;
    ctc_reduction reduction = ctc_reduction::mean;
    bool zero_infinity = false;
    ctc_grad grad = ctc_grad::log_probs;
};
float ctc_loss_forward_backward(float* grad, float* per_sample, const float* log_probs,
                                const int32_t* targets, const int32_t* input_lengths,
                                const int32_t* target_lengths, int B, int T, int C, int S,
                                const ctc_options& opt, float dloss = 1.0f);
// Twin: the same recursion in probability space (no logs), double, one thread. Valid
// while per-sample path probabilities stay above ~1e-300 (tiny test shapes).
float ctc_loss_forward_backward_naive(float* grad, float* per_sample, const float* log_probs,
                                      const int32_t* targets, const int32_t* input_lengths,
                                      const int32_t* target_lengths, int B, int T, int C,
                                      int S, const ctc_options& opt, float dloss = 1.0f);

}  // namespace tranova::core
