// CPU backend: forwards each op to the functions in ops.hpp.
#include "core/backend.hpp"

#include "util/error.hpp"

#include <cstdlib>
#include <cstring>

namespace tranova::core {

void backend::embedding(float*, const int32_t*, const float*, int, int, int) {
    TRANOVA_FAIL("backend {}: embedding is not supported", name());
}
void backend::conv1d_causal_depthwise(float*, const float*, const float*, const float*, const conv1d_shape&) {
    TRANOVA_FAIL("backend {}: conv1d_causal_depthwise is not supported", name());
}
void backend::attention(float*, float*, const float*, const float*, const float*, const attention_shape&, float*) {
    TRANOVA_FAIL("backend {}: attention is not supported", name());
}

namespace {
class cpu_backend final : public backend {
public:
    std::string name() const override { return "cpu"; }
    bool supports(op_kind) const override { return true; }
    float* alloc(size_t n) override {
        void* p = std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64 + 64);
        TRANOVA_CHECK(p, "cpu backend: out of memory ({} floats)", n);
        return static_cast<float*>(p);
    }
    void free(float* p) override { std::free(p); }
    void upload(float* dst, const float* src, size_t n) override { std::memcpy(dst, src, n * sizeof(float)); }
    void download(float* dst, const float* src, size_t n) override { std::memcpy(dst, src, n * sizeof(float)); }
    void layernorm(float* out, const float* inp, const float* w, const float* b, int N, int C, float eps) override {
        layernorm_forward(out, inp, w, b, N, C, eps);
    }
    void gemm(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, float alpha, float beta,
              int lda, int ldb, int ldc) override {
        core::gemm(c, a, b, M, N, K, ta, tb, alpha, beta, lda, ldb, ldc);
    }
    void linear(float* out, const float* inp, const float* w, const float* b, int N, int IC, int OC) override {
        linear_forward(out, inp, w, b, N, IC, OC);
    }
    void activation(activation_kind k, float* out, const float* inp, size_t n) override {
        switch (k) {
            case activation_kind::relu: relu_forward(out, inp, n); break;
            case activation_kind::squared_relu: squared_relu_forward(out, inp, n); break;
            case activation_kind::gelu: gelu_forward(out, inp, n); break;
            case activation_kind::gelu_tanh: gelu_tanh_forward(out, inp, n); break;
        }
    }
    void add(float* out, const float* a, const float* b, size_t n) override { add_forward(out, a, b, n); }
    void softmax(float* out, const float* inp, int N, int C) override { softmax_forward(out, inp, N, C); }
    void log_softmax(float* out, const float* inp, int N, int C) override { log_softmax_forward(out, inp, N, C); }
    void embedding(float* out, const int32_t* ids, const float* table, int N, int C, int V) override {
        embedding_forward(out, ids, table, N, C, V);
    }
    void conv1d_causal_depthwise(float* out, const float* inp, const float* w, const float* b,
                                 const conv1d_shape& s) override {
        conv1d_causal_depthwise_forward(out, inp, w, b, s);
    }
    void attention(float* out, float* probs, const float* q, const float* k, const float* v, const attention_shape& s,
                   float* scratch) override {
        attention_forward(out, probs, q, k, v, s, scratch);
    }
};
}  // namespace

std::unique_ptr<backend> make_cpu_backend() { return std::make_unique<cpu_backend>(); }

#ifndef TRANOVA_WITH_CUDA
bool cuda_backend_built() { return false; }
bool cuda_device_available(std::string* why) {
    if (why) *why = "this build has no CUDA backend (configure with TRANOVA_CUDA=ON)";
    return false;
}
std::unique_ptr<backend> make_cuda_backend(int) {
    TRANOVA_FAIL("this build has no CUDA backend (configure with -DTRANOVA_CUDA=ON)");
}
#endif

}  // namespace tranova::core
