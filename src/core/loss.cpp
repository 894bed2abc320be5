// Cross-entropy and CTC losses with gradients (contract: core/loss.hpp).
#include "core/loss.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace tranova::core {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) without overflow; -inf is the neutral element.
inline double log_add(double a, double b) {
    if (a == kNegInf) return b;
    if (b == kNegInf) return a;
    return a > b ? a + std::log1p(std::exp(b - a)) : b + std::log1p(std::exp(a - b));
}

// Counts the rows that take part and checks their targets; returns the count.
int check_ce_targets(const int32_t* targets, int N, int V, int ignore_index) {
    int count = 0;
    for (int i = 0; i < N; i++) {
        const int32_t t = targets[i];
        if (t == ignore_index) continue;
        TRANOVA_CHECK(t >= 0 && t < V, "cross_entropy: row {} has target {} outside [0, {})", i, t, V);
        count++;
    }
    return count;
}

void check_ctc_inputs(const int32_t* targets, const int32_t* input_lengths, const int32_t* target_lengths,
                      int B, int T, int C, int S, const ctc_options& opt) {
    TRANOVA_CHECK(opt.blank >= 0 && opt.blank < C, "ctc_loss: blank {} outside [0, {})", opt.blank, C);
    for (int b = 0; b < B; b++) {
        TRANOVA_CHECK(input_lengths[b] >= 0 && input_lengths[b] <= T,
                      "ctc_loss: sample {} has input length {} outside [0, {}]", b, input_lengths[b], T);
        TRANOVA_CHECK(target_lengths[b] >= 0 && target_lengths[b] <= S,
                      "ctc_loss: sample {} has target length {} outside [0, {}]", b, target_lengths[b], S);
        for (int j = 0; j < target_lengths[b]; j++) {
            const int32_t l = targets[(size_t)b * S + j];
            TRANOVA_CHECK(l >= 0 && l < C && l != opt.blank,
                          "ctc_loss: sample {} label {} is {} (must be in [0, {}) and not the blank {})", b, j, l,
                          C, opt.blank);
        }
    }
}

// Per-sample weight of the loss in the reduced result.
double ctc_weight(const ctc_options& opt, int B, int target_length) {
    if (opt.reduction == ctc_reduction::sum) return 1.0;
    return 1.0 / ((double)B * std::max(target_length, 1));
}

// Extended label sequence l' = blank, l1, blank, l2, ..., blank (length 2L+1).
void extend_labels(std::vector<int>& ext, const int32_t* target, int L, int blank) {
    ext.assign((size_t)2 * L + 1, blank);
    for (int j = 0; j < L; j++) ext[(size_t)2 * j + 1] = target[j];
}

// Writes the accumulated gradient of one frame from g = dL/dlog_probs (true derivative).
void ctc_write_frame_grad(float* grad_row, const double* g, const float* lp_row, int C, ctc_grad mode,
                          double scale) {
    if (mode == ctc_grad::log_probs) {
        for (int c = 0; c < C; c++) grad_row[c] += (float)(scale * g[c]);
        return;
    }
    double gsum = 0;
    for (int c = 0; c < C; c++) gsum += g[c];
    for (int c = 0; c < C; c++) grad_row[c] += (float)(scale * (g[c] - std::exp((double)lp_row[c]) * gsum));
}

void ctc_write_nan_grad(float* grad, int Tb, int C) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (size_t i = 0; i < (size_t)Tb * C; i++) grad[i] += nan;
}

// One sample in log space. Returns -log P (may be +inf). alpha/beta/occ are scratch.
double ctc_sample(float* grad, const float* lp, const int32_t* target, int Tb, int L, int C,
                  const ctc_options& opt, double scale, std::vector<int>& ext, std::vector<double>& alpha,
                  std::vector<double>& beta, std::vector<double>& g) {
    if (Tb == 0) return L == 0 ? 0.0 : std::numeric_limits<double>::infinity();
    extend_labels(ext, target, L, opt.blank);
    const int SP = 2 * L + 1;
    alpha.assign((size_t)Tb * SP, kNegInf);
    beta.assign((size_t)Tb * SP, kNegInf);
    auto emit = [&](int t, int s) { return (double)lp[(size_t)t * C + ext[(size_t)s]]; };
    // may state s be entered from s-2 (skipping the blank between two different labels)?
    auto can_skip = [&](int s) { return s >= 2 && ext[(size_t)s] != opt.blank && ext[(size_t)s] != ext[(size_t)s - 2]; };

    alpha[0] = emit(0, 0);
    if (SP > 1) alpha[1] = emit(0, 1);
    for (int t = 1; t < Tb; t++) {
        const double* prev = &alpha[(size_t)(t - 1) * SP];
        double* cur = &alpha[(size_t)t * SP];
        for (int s = 0; s < SP; s++) {
            double a = prev[s];
            if (s >= 1) a = log_add(a, prev[s - 1]);
            if (can_skip(s)) a = log_add(a, prev[s - 2]);
            cur[s] = a == kNegInf ? kNegInf : a + emit(t, s);
        }
    }
    const double* last = &alpha[(size_t)(Tb - 1) * SP];
    const double logp = SP > 1 ? log_add(last[SP - 1], last[SP - 2]) : last[0];
    const double loss = -logp;
    if (logp == kNegInf) {  // target cannot be produced from these frames
        if (opt.zero_infinity) return 0.0;
        if (grad) ctc_write_nan_grad(grad, Tb, C);
        return loss;
    }
    if (!grad) return loss;

    double* bl = &beta[(size_t)(Tb - 1) * SP];
    bl[SP - 1] = emit(Tb - 1, SP - 1);
    if (SP > 1) bl[SP - 2] = emit(Tb - 1, SP - 2);
    for (int t = Tb - 2; t >= 0; t--) {
        const double* next = &beta[(size_t)(t + 1) * SP];
        double* cur = &beta[(size_t)t * SP];
        for (int s = 0; s < SP; s++) {
            double b = next[s];
            if (s + 1 < SP) b = log_add(b, next[s + 1]);
            if (s + 2 < SP && can_skip(s + 2)) b = log_add(b, next[s + 2]);
            cur[s] = b == kNegInf ? kNegInf : b + emit(t, s);
        }
    }
    // alpha_t(s) beta_t(s) counts frame t's emission twice; dividing once by it gives the
    // probability mass of the alignments through (t, s).
    g.resize((size_t)C);
    std::vector<double>& occ = g;  // log occupancy per class, then the gradient in place
    for (int t = 0; t < Tb; t++) {
        std::fill(occ.begin(), occ.end(), kNegInf);
        for (int s = 0; s < SP; s++) {
            const double ab = alpha[(size_t)t * SP + s] + beta[(size_t)t * SP + s];
            if (ab != kNegInf) occ[(size_t)ext[(size_t)s]] = log_add(occ[(size_t)ext[(size_t)s]], ab);
        }
        const float* lp_row = lp + (size_t)t * C;
        for (int c = 0; c < C; c++)
            occ[(size_t)c] = occ[(size_t)c] == kNegInf ? 0.0 : -std::exp(occ[(size_t)c] - lp_row[c] - logp);
        ctc_write_frame_grad(grad + (size_t)t * C, occ.data(), lp_row, C, opt.grad, scale);
    }
    return loss;
}

}  // namespace

// ---------------------------------------------------------------------------------------
float cross_entropy_forward_backward(float* dlogits, const float* logits, const int32_t* targets, int N, int V,
                                     int ignore_index, float label_smoothing, float dloss) {
    const int count = check_ce_targets(targets, N, V, ignore_index);
    if (count == 0) return 0.0f;
    const float eps = label_smoothing;
    const float scale = dloss / (float)count;
    // Fixed blocks of rows with their own partial sums: the loss is the same for any
    // number of threads.
    constexpr int kBlock = 64;
    const int blocks = (N + kBlock - 1) / kBlock;
    std::vector<double> partial((size_t)blocks, 0.0);
#pragma omp parallel for schedule(static) if ((long)N * V > (1L << 16))
    for (int blk = 0; blk < blocks; blk++) {
        double sum = 0;
        for (int i = blk * kBlock; i < std::min(N, (blk + 1) * kBlock); i++) {
            const int32_t t = targets[i];
            if (t == ignore_index) continue;
            const float* x = logits + (size_t)i * V;
            float mx = x[0];
            for (int c = 1; c < V; c++) mx = std::max(mx, x[c]);
            double sexp = 0, sx = 0;
            for (int c = 0; c < V; c++) {
                sexp += std::exp((double)(x[c] - mx));
                sx += x[c];
            }
            const double lse = mx + std::log(sexp);
            // -log p_t = lse - x_t; mean_c(-log p_c) = lse - mean_c(x_c)
            sum += (1.0 - eps) * (lse - x[t]) + eps * (lse - sx / V);
            if (dlogits) {
                float* d = dlogits + (size_t)i * V;
                const float lse_f = (float)lse, uniform = eps / (float)V;
                for (int c = 0; c < V; c++) d[c] += scale * (std::exp(x[c] - lse_f) - uniform);
                d[t] -= scale * (1.0f - eps);
            }
        }
        partial[(size_t)blk] = sum;
    }
    double total = 0;
    for (double p : partial) total += p;
    return (float)(total / count);
}

float cross_entropy_forward_backward_naive(float* dlogits, const float* logits, const int32_t* targets, int N,
                                           int V, int ignore_index, float label_smoothing, float dloss) {
    const int count = check_ce_targets(targets, N, V, ignore_index);
    if (count == 0) return 0.0f;
    const double eps = label_smoothing;
    double total = 0;
    std::vector<double> logp((size_t)V), p((size_t)V);
    for (int i = 0; i < N; i++) {
        const int32_t t = targets[i];
        if (t == ignore_index) continue;
        const float* x = logits + (size_t)i * V;
        double mx = x[0], z = 0;
        for (int c = 1; c < V; c++) mx = std::max(mx, (double)x[c]);
        for (int c = 0; c < V; c++) z += std::exp((double)x[c] - mx);
        for (int c = 0; c < V; c++) {
            logp[(size_t)c] = (double)x[c] - mx - std::log(z);
            p[(size_t)c] = std::exp(logp[(size_t)c]);
        }
        double smooth = 0;
        for (int c = 0; c < V; c++) smooth += -logp[(size_t)c];
        total += (1 - eps) * -logp[(size_t)t] + eps * smooth / V;
        if (!dlogits) continue;
        // d/dx_j of -log p_k is p_j - [j == k]; the smoothing term averages it over k.
        for (int j = 0; j < V; j++) {
            double d = (1 - eps) * (p[(size_t)j] - (j == t ? 1.0 : 0.0));
            double ds = 0;
            for (int k = 0; k < V; k++) ds += p[(size_t)j] - (j == k ? 1.0 : 0.0);
            d += eps * ds / V;
            dlogits[(size_t)i * V + j] += (float)(d * dloss / count);
        }
    }
    return (float)(total / count);
}

// ---------------------------------------------------------------------------------------
float ctc_loss_forward_backward(float* grad, float* per_sample, const float* log_probs, const int32_t* targets,
                                const int32_t* input_lengths, const int32_t* target_lengths, int B, int T, int C,
                                int S, const ctc_options& opt, float dloss) {
    check_ctc_inputs(targets, input_lengths, target_lengths, B, T, C, S, opt);
    std::vector<double> losses((size_t)B);
#pragma omp parallel
    {
        std::vector<int> ext;
        std::vector<double> alpha, beta, g;
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < B; b++) {
            const double scale = dloss * ctc_weight(opt, B, target_lengths[b]);
            losses[(size_t)b] = ctc_sample(grad ? grad + (size_t)b * T * C : nullptr,
                                           log_probs + (size_t)b * T * C, targets + (size_t)b * S,
                                           input_lengths[b], target_lengths[b], C, opt, scale, ext, alpha, beta, g);
        }
    }
    double total = 0;
    for (int b = 0; b < B; b++) {
        if (per_sample) per_sample[b] = (float)losses[(size_t)b];
        total += losses[(size_t)b] * ctc_weight(opt, B, target_lengths[b]);
    }
    return (float)total;
}

float ctc_loss_forward_backward_naive(float* grad, float* per_sample, const float* log_probs,
                                      const int32_t* targets, const int32_t* input_lengths,
                                      const int32_t* target_lengths, int B, int T, int C, int S,
                                      const ctc_options& opt, float dloss) {
    check_ctc_inputs(targets, input_lengths, target_lengths, B, T, C, S, opt);
    double total = 0;
    for (int b = 0; b < B; b++) {
        const int Tb = input_lengths[b], L = target_lengths[b], SP = 2 * L + 1;
        const float* lp = log_probs + (size_t)b * T * C;
        std::vector<int> ext((size_t)SP, opt.blank);
        for (int j = 0; j < L; j++) ext[(size_t)2 * j + 1] = targets[(size_t)b * S + j];
        auto y = [&](int t, int s) { return std::exp((double)lp[(size_t)t * C + ext[(size_t)s]]); };
        auto skip = [&](int s) { return s >= 2 && ext[(size_t)s] != opt.blank && ext[(size_t)s] != ext[(size_t)s - 2]; };
        // alpha[t][s]: probability of the prefixes of length t+1 that end in state s
        std::vector<std::vector<double>> a((size_t)std::max(Tb, 1), std::vector<double>((size_t)SP, 0.0)),
            be = a;
        double P = Tb == 0 ? (L == 0 ? 1.0 : 0.0) : 0.0;
        if (Tb > 0) {
            a[0][0] = y(0, 0);
            if (SP > 1) a[0][1] = y(0, 1);
            for (int t = 1; t < Tb; t++)
                for (int s = 0; s < SP; s++)
                    a[(size_t)t][(size_t)s] = (a[(size_t)t - 1][(size_t)s] + (s ? a[(size_t)t - 1][(size_t)s - 1] : 0) +
                                               (skip(s) ? a[(size_t)t - 1][(size_t)s - 2] : 0)) * y(t, s);
            P = a[(size_t)Tb - 1][(size_t)SP - 1] + (SP > 1 ? a[(size_t)Tb - 1][(size_t)SP - 2] : 0);
        }
        double loss = -std::log(P);
        const double scale = dloss * ctc_weight(opt, B, L);
        float* gb = grad ? grad + (size_t)b * T * C : nullptr;
        if (P == 0) {
            if (opt.zero_infinity) loss = 0;
            else if (gb) ctc_write_nan_grad(gb, Tb, C);
        } else if (gb && Tb > 0) {
            // beta[t][s]: probability of the suffixes from frame t in state s to the end
            be[(size_t)Tb - 1][(size_t)SP - 1] = y(Tb - 1, SP - 1);
            if (SP > 1) be[(size_t)Tb - 1][(size_t)SP - 2] = y(Tb - 1, SP - 2);
            for (int t = Tb - 2; t >= 0; t--)
                for (int s = 0; s < SP; s++)
                    be[(size_t)t][(size_t)s] =
                        (be[(size_t)t + 1][(size_t)s] + (s + 1 < SP ? be[(size_t)t + 1][(size_t)s + 1] : 0) +
                         (s + 2 < SP && skip(s + 2) ? be[(size_t)t + 1][(size_t)s + 2] : 0)) * y(t, s);
            std::vector<double> g((size_t)C);
            for (int t = 0; t < Tb; t++) {
                std::fill(g.begin(), g.end(), 0.0);
                for (int s = 0; s < SP; s++)
                    g[(size_t)ext[(size_t)s]] -= a[(size_t)t][(size_t)s] * be[(size_t)t][(size_t)s] / y(t, s) / P;
                ctc_write_frame_grad(gb + (size_t)t * C, g.data(), lp + (size_t)t * C, C, opt.grad, scale);
            }
        }
        if (per_sample) per_sample[b] = (float)loss;
        total += loss * ctc_weight(opt, B, L);
    }
    return (float)total;
}

}  // namespace tranova::core
