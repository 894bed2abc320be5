// The spectrum encoder (depthcharge SpectrumEncoder): peak encoding = sin/cos(m/z / term) +
// intensity * int_encoder.weight, the latent token prepended, then the post-LN encoder layers
// with a key padding mask. One forward for training (keep) and inference (see forward.hpp).
#include "denovo_model/layers.hpp"
#include "denovo_model/train.hpp"
#include "util/error.hpp"

#include <algorithm>

namespace tranova::denovo_model {

using namespace detail;

namespace {

// out (n, d) = sin/cos(mz) + intensity * int_w; mz, intensity (n); tmp (n, d)
void peak_rows(core::backend& be, const denovo_model& m, const float* mz, const float* intensity, int n, float* out,
               float* tmp) {
    if (n == 0) return;
    be.sinusoidal(out, mz, n, m.mz_enc.sin_term, m.mz_enc.n_sin, m.mz_enc.cos_term, m.mz_enc.n_cos);
    be.linear(tmp, intensity, m.int_w, nullptr, n, 1, m.cfg.dim_model);  // Linear(1, d, bias=False)
    be.add(out, out, tmp, size_t(n) * m.cfg.dim_model);
}

}  // namespace

void peak_encoder_forward(const denovo_model& m, const float* peaks, int n, float* out) {
    std::vector<float> mz(static_cast<size_t>(n)), in(static_cast<size_t>(n)), tmp(size_t(n) * m.cfg.dim_model);
    for (int i = 0; i < n; ++i) mz[size_t(i)] = peaks[2 * i], in[size_t(i)] = peaks[2 * i + 1];
    peak_rows(*m.be, m, mz.data(), in.data(), n, out, tmp.data());
}

void encoder_forward_batch(const denovo_model& m, stack_acts& a, const float* peaks, int B, int N, bool keep,
                           const dropout_config& drop) {
    core::backend& be = *m.be;
    const dims k = dims_of(m);
    const int d = k.d, T = N + 1;
    TRANOVA_CHECK(B > 0 && N >= 0, "encoder batch needs spectra (B {}, N {})", B, N);
    a.drop = drop;
    layout(a, m.enc_layers.size(), false, B, T, 0, k, 0, keep);
    a.self_valid.assign(size_t(B) * T, 1);
    a.saved.resize(size_t(B) * N);  // intensities: the input of int_encoder (and its gradient)
    std::vector<float> mz(static_cast<size_t>(N)), tmp(size_t(N) * d);
    for (int b = 0; b < B; ++b) {
        float* rows = a.x0 + size_t(b) * T * d;
        const float* p = peaks + size_t(b) * N * 2;
        float* inten = a.saved.data() + size_t(b) * N;
        std::copy(m.latent, m.latent + d, rows);
        for (int i = 0; i < N; ++i) {
            mz[size_t(i)] = p[2 * i];
            inten[i] = p[2 * i + 1];
            a.self_valid[size_t(b) * T + 1 + i] = (p[2 * i] + p[2 * i + 1]) == 0.0f ? 0 : 1;
        }
        peak_rows(be, m, mz.data(), inten, N, rows + d, tmp.data());
    }
    stack_forward(be, a, m.enc_layers, false, a.self_valid.data(), k);
}

void encoder_backward_batch(trainable_model& t, stack_acts& a, const float* dmemory) {
    const denovo_model& m = t.model;
    core::backend& be = *m.be;
    const dims k = dims_of(m);
    const int d = k.d, T = a.T, N = T - 1;
    std::copy(dmemory, dmemory + size_t(a.B) * T * d, a.g);
    stack_backward(t, a, m.enc_layers, false, a.self_valid.data(), nullptr, k);
    float* glat = t.grad(m.latent);
    float* gint = t.grad(m.int_w);
    for (int b = 0; b < a.B; ++b) {
        const float* g = a.g + size_t(b) * T * d;
        be.add(glat, glat, g, size_t(d));
        if (N > 0) be.linear_backward(nullptr, gint, nullptr, g + d, a.saved.data() + size_t(b) * N, m.int_w, N, 1, d);
    }
}

void encoder_forward(const denovo_model& m, const float* peaks, int n, float* memory, bool* mask) {
    stack_acts a;
    encoder_forward_batch(m, a, peaks, 1, n, false);
    const int d = m.cfg.dim_model, T = n + 1;
    std::copy(a.out(), a.out() + size_t(T) * d, memory);
    for (int i = 0; i < T; ++i) {
        mask[i] = a.self_valid[size_t(i)] == 0;
        // masked rows are 0, as torch's fast path returns them
        if (mask[i]) std::fill(memory + long(i) * d, memory + long(i + 1) * d, 0.0f);
    }
}

void encode_batch(const denovo_model& m, const std::vector<const float*>& peaks, const std::vector<int>& n,
                  encoded_batch& out) {
    TRANOVA_CHECK(peaks.size() == n.size() && !peaks.empty(), "encode_batch: {} peak lists for {} counts",
                  peaks.size(), n.size());
    const int B = int(peaks.size()), d = m.cfg.dim_model;
    const int N = *std::max_element(n.begin(), n.end()), T = N + 1;
    std::vector<float> padded(size_t(B) * N * 2, 0.0f);  // zero rows are padding (masked)
    for (int b = 0; b < B; ++b) std::copy(peaks[size_t(b)], peaks[size_t(b)] + 2L * n[size_t(b)],
                                          padded.begin() + long(b) * N * 2);
    stack_acts& a = inference_scratch();
    encoder_forward_batch(m, a, padded.data(), B, N, false);
    out.B = B;
    out.Tk = T;
    out.memory.assign(a.out(), a.out() + size_t(B) * T * d);
    out.valid = a.self_valid;
    out.rows.resize(size_t(B));
    for (int b = 0; b < B; ++b) out.rows[size_t(b)] = n[size_t(b)] + 1;
    for (size_t r = 0; r < out.valid.size(); ++r)
        if (!out.valid[r]) std::fill(out.memory.begin() + long(r) * d, out.memory.begin() + long(r + 1) * d, 0.0f);
}

}  // namespace tranova::denovo_model
