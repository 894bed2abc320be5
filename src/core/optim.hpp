// AdamW over a param_arena, the learning-rate schedule and gradient clipping.
//
// The update is torch.optim.AdamW (PyTorch 1.13, amsgrad off) step for step, in float32
// with the scalar coefficients in double as Python computes them:
//   p <- p * (1 - lr * wd)                          (decoupled weight decay; wd = 0 for
//                                                    tensors the decay rule excludes)
//   m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
//   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with t the number of applied updates (bias correction), g the gradient after scaling
// and clipping (below). Frozen tensors (name prefix) are left alone entirely: parameter,
// moments and gradient stay bit-identical, and they do not count in the gradient norm
// (as parameters with requires_grad = False are not in PyTorch's optimizer).
//
// One step(), in order:
//   1. norm = |grad_scale| * ||g|| over the trainable tensors (double, fixed order);
//   2. if norm is not finite (a NaN/Inf anywhere): nothing changes (not even t), the
//      skip counter goes up and the report says so (PrimeNovo's skip rule);
//   3. g' = g * grad_scale (gradient accumulation: 1 / micro-batches), then if
//      max_grad_norm > 0: g' *= min(1, max_grad_norm / (norm + 1e-6))
//      (torch.nn.utils.clip_grad_norm_); the arena's gradients are not modified;
//   4. the AdamW update above with the given lr.
// Gradients are not zeroed by step(); call param_arena::zero_grads().
#pragma once

#include "core/param_arena.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::core {

struct adamw_config {
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0.01;  // torch.optim.AdamW's default
};

// Which tensors get no weight decay, by name. A name is split at '.' into components.
struct decay_rule {
    bool exclude_biases = true;      // last component ends in "bias"
    bool exclude_norms = true;       // a component contains a norm marker (or is "ln")
    bool exclude_embeddings = false; // a component contains an embedding marker
    std::vector<std::string> norm_markers{"ln_", "_ln", "norm"};
    std::vector<std::string> embedding_markers{"embd", "embed", "wte", "wpe"};
    bool decays(const std::string& name) const;
};

// Learning rate at `step` = the number of optimizer steps taken before this one (0 for
// the first; skipped steps count, so the schedule follows the data, not the updates):
//   step < warmup_steps:       max_lr * (step + 1) / warmup_steps
//   warmup <= step < total:    progress p = (step - warmup) / (total - warmup),
//                              cosine: min_lr + (max_lr - min_lr) * (1 + cos(pi p)) / 2
//                              linear: max_lr - (max_lr - min_lr) * p
//                              constant: max_lr
//   step >= total_steps:       min_lr (constant: max_lr)
// total_steps <= 0 means no decay phase: max_lr after the warm-up.
enum class lr_decay { cosine, linear, constant };
struct lr_schedule {
    double max_lr = 1e-3, min_lr = 0.0;
    int64_t warmup_steps = 0, total_steps = 0;
    lr_decay decay = lr_decay::cosine;
    double at(int64_t step) const;
};

struct step_report {
    bool applied = false;  // false: skipped, non-finite gradient
    double grad_norm = 0;  // of the scaled gradient, before clipping (inf/NaN when skipped)
    double clip_coef = 1;  // factor applied by clipping (1 = no clipping)
    double lr = 0;
};

class adamw {
public:
    // Classifies every arena tensor once (decay / frozen). Throws when a frozen prefix
    // matches no tensor (a typo would silently train everything).
    adamw(param_arena& arena, const adamw_config& config, const decay_rule& rule = {},
          std::vector<std::string> frozen_prefixes = {});

    step_report step(double lr, double grad_scale = 1.0, double max_grad_norm = 0.0);

    // ||g|| over trainable tensors (unscaled), deterministic for any thread count.
    double trainable_grad_norm() const;

    bool frozen(size_t tensor) const { return frozen_[tensor]; }
    bool decays(size_t tensor) const { return decay_[tensor]; }
    const adamw_config& config() const { return config_; }

    // Counters, saved in the training state: applied updates (t) and skipped steps.
    int64_t updates() const { return updates_; }
    int64_t skipped() const { return skipped_; }
    void set_counters(int64_t updates, int64_t skipped) { updates_ = updates, skipped_ = skipped; }

private:
    // A run of one trainable tensor's floats (arena offset, length): the unit of work of
    // step() and trainable_grad_norm() (optim.cpp).
    struct chunk {
        size_t tensor, offset, n;
    };
    static constexpr size_t chunk_floats = size_t(1) << 15;
    void build_chunks();

    param_arena& arena_;
    adamw_config config_;
    std::vector<char> decay_, frozen_;
    std::vector<chunk> chunks_;
    int64_t updates_ = 0, skipped_ = 0;
};

}  // namespace tranova::core
