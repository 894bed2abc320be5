// The PrimeNovo-style NAR (CTC) decoder: T = cfg.nar_length queries = (mass encoding +
// charge embedding) + positions, bidirectional self-attention, cross-attention to the encoder
// memory, `final` after the last layer. One forward for training (keep) and inference.
#include "denovo_model/layers.hpp"
#include "denovo_model/train.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <memory>

namespace tranova::denovo_model {

using namespace detail;

void nar_precursor_embedding(const denovo_model& m, float mass, int charge, float* out) {
    precursor_embedding(*m.be, m.nar_mass, m.nar_charge, m.cfg.max_charge, m.cfg.dim_model, mass, charge, out);
}

void nar_forward_batch(const denovo_model& m, stack_acts& a, const float* memory, const uint8_t* memory_valid,
                       int Tk, const float* mass, const int* charge, int B, bool keep, const dropout_config& drop) {
    TRANOVA_CHECK(m.has_nar(), "this model has no NAR (CTC) decoder");
    core::backend& be = *m.be;
    const dims k = dims_of(m);
    const int d = k.d, T = m.cfg.nar_length, V = m.nar_vocab;
    a.drop = drop;
    layout(a, m.nar_layers.size(), true, B, T, Tk, k, V, keep);
    a.memory = memory;
    a.memory_valid = memory_valid;
    a.self_valid.clear();  // every query row is attended (PrimeNovo's mask is all False)
    a.charge.assign(charge, charge + B);
    const std::vector<float> pos = position_table(be, m.nar_pos, 0, T, d);
    for (int b = 0; b < B; ++b) {
        float* rows = a.x0 + size_t(b) * T * d;
        nar_precursor_embedding(m, mass[b], charge[b], rows);
        for (int j = 1; j < T; ++j) std::copy(rows, rows + d, rows + size_t(j) * d);
        be.add(rows, rows, pos.data(), size_t(T) * d);
    }
    stack_forward(be, a, m.nar_layers, false, nullptr, k);
    be.linear(a.logits, a.out(), m.nar_final_w, m.nar_final_b, B * T, d, V);
}

void nar_backward_batch(trainable_model& t, stack_acts& a, const float* dlogits, const float* dfeatures,
                        float* dmemory) {
    const denovo_model& m = t.model;
    core::backend& be = *m.be;
    const dims k = dims_of(m);
    const int d = k.d, T = a.T, V = m.nar_vocab;
    const size_t R = size_t(a.B) * T;
    if (dfeatures) std::copy(dfeatures, dfeatures + R * d, a.g);
    else zero(a.g, R * d);
    be.linear_backward(a.g, t.grad(m.nar_final_w), t.grad(m.nar_final_b), dlogits, a.out(), m.nar_final_w, int(R), d,
                       V);
    stack_backward(t, a, m.nar_layers, false, nullptr, dmemory, k);
    float* gcharge = t.grad(m.nar_charge);
    for (int b = 0; b < a.B; ++b) {
        float* gc = gcharge + size_t(a.charge[size_t(b)] - 1) * d;
        for (int j = 0; j < T; ++j) be.add(gc, gc, a.g + (size_t(b) * T + j) * d, size_t(d));
    }
}

void nar_forward(const denovo_model& m, const float* memory, const bool* mask, int Tk, float mass, int charge,
                 float* logits, float* features, float* layer_logits) {
    TRANOVA_CHECK(m.has_nar(), "this model has no NAR (CTC) decoder");
    const int d = m.cfg.dim_model, T = m.cfg.nar_length, V = m.nar_vocab;
    std::vector<uint8_t> valid(static_cast<size_t>(Tk));
    for (int i = 0; i < Tk; ++i) valid[size_t(i)] = mask[i] ? 0 : 1;
    stack_acts a;
    // per-layer logits need every layer's output: the training layout keeps them
    nar_forward_batch(m, a, memory, valid.data(), Tk, &mass, &charge, 1, layer_logits != nullptr);
    std::copy(a.logits, a.logits + size_t(T) * V, logits);
    if (features) std::copy(a.out(), a.out() + size_t(T) * d, features);
    if (layer_logits)
        for (size_t li = 0; li < a.layers.size(); ++li)
            m.be->linear(layer_logits + li * size_t(T) * V, a.layers[li].out(), m.nar_final_w, m.nar_final_b, T, d, V);
}

void nar_forward_encoded(const denovo_model& m, const encoded_batch& e, const float* mass, const int* charge,
                         float* logits, float* features) {
    const int d = m.cfg.dim_model, T = m.cfg.nar_length, V = m.nar_vocab;
    stack_acts& a = inference_scratch();
    nar_forward_batch(m, a, e.memory.data(), e.valid.data(), e.Tk, mass, charge, e.B, false);
    std::copy(a.logits, a.logits + size_t(e.B) * T * V, logits);
    if (features) std::copy(a.out(), a.out() + size_t(e.B) * T * d, features);
}

}  // namespace tranova::denovo_model
