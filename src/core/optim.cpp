// AdamW, schedule, clipping (contract: core/optim.hpp).
#include "core/optim.hpp"

#include "util/error.hpp"

#include <algorithm>
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
    build_chunks();
}

// The update and the norm run as ONE OpenMP region each over fixed chunks of the
// trainable tensors (a region per tensor meant ~250 fork/joins per step, each a barrier
// that costs a scheduling quantum when the machine is oversubscribed). Chunks never span
// two tensors and their boundaries depend only on the arena, so the bits do not depend on
// the thread count.
void adamw::build_chunks() {
    chunks_.clear();
    const auto& ts = arena_.tensors();
    for (size_t i = 0; i < ts.size(); i++) {
        if (frozen_[i]) continue;
        for (size_t k = 0; k < ts[i].numel; k += chunk_floats)
            chunks_.push_back({i, ts[i].offset + k, std::min(ts[i].numel - k, chunk_floats)});
        if (ts[i].numel == 0) chunks_.push_back({i, ts[i].offset, 0});
    }
}

double adamw::trainable_grad_norm() const {
    // Each chunk's sum of squares in double, in 8 interleaved lanes (vectorisable, fixed
    // order); chunks add up per tensor and tensors in arena order.
    const float* G = arena_.grads();
    std::vector<double> partial(chunks_.size());
    const size_t total = arena_.block_floats();
#pragma omp parallel for schedule(static) if (total > 65536)
    for (size_t c = 0; c < chunks_.size(); c++) {
        const float* g = G + chunks_[c].offset;
        const size_t n = chunks_[c].n, n8 = n / 8 * 8;
        double lane[8] = {};
        for (size_t k = 0; k < n8; k += 8)
#pragma omp simd
            for (int j = 0; j < 8; j++) lane[j] += (double)g[k + j] * g[k + j];
        double s = 0;
        for (size_t k = n8; k < n; k++) s += (double)g[k] * g[k];
        for (int j = 0; j < 8; j++) s += lane[j];
        partial[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < chunks_.size();) {
        double t = 0;
        const size_t tensor = chunks_[c].tensor;
        for (; c < chunks_.size() && chunks_[c].tensor == tensor; c++) t += partial[c];
        s += t;
    }
    return std::sqrt(s);
}

namespace {
// One chunk of the AdamW update, torch's arithmetic order (optim.hpp).
template <bool Clip>
void adamw_chunk(float* __restrict p, float* __restrict m, float* __restrict v, const float* __restrict g, size_t n,
                 float scale, float clip, float decay, float beta1, float beta2, float one_m_beta1, float one_m_beta2,
                 float neg_step_size, float bc2_sqrt, float eps) {
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        float gk = g[k] * scale;
        if constexpr (Clip) gk *= clip;
        float pk = p[k] * decay;
        const float mk = m[k] * beta1 + gk * one_m_beta1;
        const float vk = v[k] * beta2 + gk * gk * one_m_beta2;
        const float denom = std::sqrt(vk) / bc2_sqrt + eps;
        pk += neg_step_size * (mk / denom);
        p[k] = pk, m[k] = mk, v[k] = vk;
    }
}
}  // namespace

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
    const float decay_on = (float)(1.0 - lr * config_.weight_decay), decay_off = (float)(1.0 - lr * 0.0);

    float* P = arena_.params();
    const float* G = arena_.grads();
    float* M = arena_.adam_m();
    float* V = arena_.adam_v();
    const size_t total = arena_.block_floats();
#pragma omp parallel for schedule(static) if (total > 65536)
    for (size_t c = 0; c < chunks_.size(); c++) {
        const chunk& ch = chunks_[c];
        const float decay = decay_[ch.tensor] ? decay_on : decay_off;
        const size_t o = ch.offset;
        if (clipping)
            adamw_chunk<true>(P + o, M + o, V + o, G + o, ch.n, scale, clip, decay, beta1, beta2, one_m_beta1,
                              one_m_beta2, neg_step_size, bc2_sqrt, eps);
        else
            adamw_chunk<false>(P + o, M + o, V + o, G + o, ch.n, scale, clip, decay, beta1, beta2, one_m_beta1,
                               one_m_beta2, neg_step_size, bc2_sqrt, eps);
    }
    return r;
}

}  // namespace tranova::core
