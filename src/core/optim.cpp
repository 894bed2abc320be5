// AdamW, schedule, clipping (contract: core/optim.hpp).
#include "core/optim.hpp"

#include "util/error.hpp"

#include <cmath>

namespace tranova::core {

namespace {
std::vector<std::string> components(const std::string& name) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t dot = name.find('.', start);
        out.push_back(name.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) return out;
        start = dot + 1;
    }
}

bool matches_marker(const std::string& component, const std::vector<std::string>& markers) {
    for (const std::string& m : markers) {
        if (!m.empty() && component.find(m) != std::string::npos) return true;
        // "ln_" also matches a component that is exactly "ln"
        std::string bare = m;
        while (!bare.empty() && bare.front() == '_') bare.erase(bare.begin());
        while (!bare.empty() && bare.back() == '_') bare.pop_back();
        if (!bare.empty() && component == bare) return true;
    }
    return false;
}
}  // namespace

bool decay_rule::decays(const std::string& name) const {
    const std::vector<std::string> parts = components(name);
    const std::string& last = parts.back();
    if (exclude_biases && last.size() >= 4 && last.compare(last.size() - 4, 4, "bias") == 0) return false;
    for (const std::string& c : parts) {
        if (exclude_norms && matches_marker(c, norm_markers)) return false;
        if (exclude_embeddings && matches_marker(c, embedding_markers)) return false;
    }
    return true;
}

double lr_schedule::at(int64_t step) const {
    if (step < warmup_steps) return max_lr * (double)(step + 1) / (double)warmup_steps;
    if (decay == lr_decay::constant || total_steps <= 0) return max_lr;
    if (step >= total_steps) return min_lr;
    const double p = (double)(step - warmup_steps) / (double)(total_steps - warmup_steps);
    if (decay == lr_decay::linear) return max_lr - (max_lr - min_lr) * p;
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * p));
}

adamw::adamw(param_arena& arena, const adamw_config& config, const decay_rule& rule,
             std::vector<std::string> frozen_prefixes)
    : arena_(arena), config_(config) {
    TRANOVA_CHECK(arena.allocated(), "adamw: the parameter arena is not allocated");
    const auto& ts = arena.tensors();
    decay_.resize(ts.size());
    frozen_.resize(ts.size());
    for (size_t i = 0; i < ts.size(); i++) decay_[i] = rule.decays(ts[i].name);
    for (const std::string& prefix : frozen_prefixes) {
        bool any = false;
        for (size_t i = 0; i < ts.size(); i++)
            if (ts[i].name.compare(0, prefix.size(), prefix) == 0) frozen_[i] = 1, any = true;
        TRANOVA_CHECK(any, "adamw: frozen prefix '{}' matches no parameter", prefix);
    }
}

double adamw::trainable_grad_norm() const {
    double s = 0;
    for (size_t i = 0; i < frozen_.size(); i++)
        if (!frozen_[i]) s += arena_.grad_sq_sum(i);
    return std::sqrt(s);
}

step_report adamw::step(double lr, double grad_scale, double max_grad_norm) {
    step_report r;
    r.lr = lr;
    r.grad_norm = trainable_grad_norm() * std::fabs(grad_scale);
    if (!std::isfinite(r.grad_norm)) {
        skipped_++;
        return r;
    }
    if (max_grad_norm > 0) r.clip_coef = std::min(1.0, max_grad_norm / (r.grad_norm + 1e-6));
    r.applied = true;
    const int64_t t = ++updates_;

    // Scalars as torch computes them in Python (double), cast once to float.
    const float scale = (float)grad_scale, clip = (float)r.clip_coef;
    const bool clipping = max_grad_norm > 0;
    const float beta1 = (float)config_.beta1, beta2 = (float)config_.beta2;
    const float one_m_beta1 = (float)(1.0 - config_.beta1), one_m_beta2 = (float)(1.0 - config_.beta2);
    const double bc1 = 1.0 - std::pow(config_.beta1, (double)t), bc2 = 1.0 - std::pow(config_.beta2, (double)t);
    const float neg_step_size = (float)(-(lr / bc1)), bc2_sqrt = (float)std::sqrt(bc2);
    const float eps = (float)config_.eps;

    const auto& ts = arena_.tensors();
    float* P = arena_.params();
    const float* G = arena_.grads();
    float* M = arena_.adam_m();
    float* V = arena_.adam_v();
    for (size_t i = 0; i < ts.size(); i++) {
        if (frozen_[i]) continue;
        const size_t off = ts[i].offset, n = ts[i].numel;
        const float decay = (float)(1.0 - lr * (decay_[i] ? config_.weight_decay : 0.0));
        float *p = P + off, *m = M + off, *v = V + off;
        const float* g = G + off;
#pragma omp parallel for schedule(static) if (n > 32768)
        for (size_t k = 0; k < n; k++) {
            float gk = g[k] * scale;
            if (clipping) gk *= clip;
            float pk = p[k] * decay;
            const float mk = m[k] * beta1 + gk * one_m_beta1;
            const float vk = v[k] * beta2 + gk * gk * one_m_beta2;
            const float denom = std::sqrt(vk) / bc2_sqrt + eps;
            pk += neg_step_size * (mk / denom);
            p[k] = pk, m[k] = mk, v[k] = vk;
        }
    }
    return r;
}

}  // namespace tranova::core
