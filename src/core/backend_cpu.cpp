// CPU backend: forwards each op to the functions in ops.hpp.
#include "core/backend.hpp"

#include "util/error.hpp"

#include <cstdlib>
#include <cstring>

namespace tranova::core {

const char* op_name(op_kind op) {
    switch (op) {
        case op_kind::embedding: return "embedding";
        case op_kind::layernorm: return "layernorm";
        case op_kind::gemm: return "gemm";
        case op_kind::linear: return "linear";
        case op_kind::activation: return "activation";
        case op_kind::add: return "add";
        case op_kind::softmax: return "softmax";
        case op_kind::log_softmax: return "log_softmax";
        case op_kind::conv1d: return "conv1d";
        case op_kind::attention: return "attention";
        case op_kind::sinusoidal: return "sinusoidal";
        case op_kind::dropout: return "dropout";
        case op_kind::linear_packed: return "linear_packed";
        case op_kind::layernorm_train: return "layernorm_train";
        case op_kind::embedding_backward: return "embedding_backward";
        case op_kind::layernorm_backward: return "layernorm_backward";
        case op_kind::gemm_backward: return "gemm_backward";
        case op_kind::linear_backward: return "linear_backward";
        case op_kind::activation_backward: return "activation_backward";
        case op_kind::add_backward: return "add_backward";
        case op_kind::softmax_backward: return "softmax_backward";
        case op_kind::log_softmax_backward: return "log_softmax_backward";
        case op_kind::conv1d_backward: return "conv1d_backward";
        case op_kind::attention_backward: return "attention_backward";
        case op_kind::dropout_backward: return "dropout_backward";
        case op_kind::cross_entropy: return "cross_entropy";
        case op_kind::ctc_loss: return "ctc_loss";
    }
    return "?";
}

void backend::require(const char* what, std::initializer_list<op_kind> ops) const {
    for (op_kind op : ops)
        TRANOVA_CHECK(supports(op), "{} needs the op {}, which backend {} does not support", what, op_name(op), name());
}

// Ops a backend has not implemented: the model asked require() first, so reaching one of
// these is a programming error, still reported as an error rather than a crash.
#define TRANOVA_UNSUPPORTED(op) TRANOVA_FAIL("backend {}: {} is not supported", name(), op)
void backend::embedding(float*, const int32_t*, const float*, int, int, int) { TRANOVA_UNSUPPORTED("embedding"); }
void backend::conv1d_causal_depthwise(float*, const float*, const float*, const float*, const conv1d_shape&) {
    TRANOVA_UNSUPPORTED("conv1d_causal_depthwise");
}
void backend::attention(float*, float*, const float*, const float*, const float*, const attention_shape&, float*) {
    TRANOVA_UNSUPPORTED("attention");
}
void backend::sinusoidal(float*, const float*, int, const float*, int, const float*, int) {
    TRANOVA_UNSUPPORTED("sinusoidal");
}
void backend::dropout(float*, const float*, size_t, float, uint64_t, uint64_t) { TRANOVA_UNSUPPORTED("dropout"); }
void backend::linear_packed(float*, const float*, const packed_linear&, const float*, int, linear_epilogue) {
    TRANOVA_UNSUPPORTED("linear_packed");
}
void backend::layernorm_train(float*, float*, float*, const float*, const float*, const float*, int, int, float) {
    TRANOVA_UNSUPPORTED("layernorm_train");
}
void backend::embedding_backward(float*, const float*, const int32_t*, int, int, int) {
    TRANOVA_UNSUPPORTED("embedding_backward");
}
void backend::layernorm_backward(float*, float*, float*, const float*, const float*, const float*, const float*,
                                 const float*, int, int) {
    TRANOVA_UNSUPPORTED("layernorm_backward");
}
void backend::gemm_backward(float*, float*, const float*, const float*, const float*, int, int, int, bool, bool,
                            float, int, int, int) {
    TRANOVA_UNSUPPORTED("gemm_backward");
}
void backend::linear_backward(float*, float*, float*, const float*, const float*, const float*, int, int, int) {
    TRANOVA_UNSUPPORTED("linear_backward");
}
void backend::activation_backward(activation_kind, float*, const float*, const float*, size_t) {
    TRANOVA_UNSUPPORTED("activation_backward");
}
void backend::add_backward(float*, float*, const float*, size_t) { TRANOVA_UNSUPPORTED("add_backward"); }
void backend::softmax_backward(float*, const float*, const float*, int, int) { TRANOVA_UNSUPPORTED("softmax_backward"); }
void backend::log_softmax_backward(float*, const float*, const float*, int, int) {
    TRANOVA_UNSUPPORTED("log_softmax_backward");
}
void backend::conv1d_causal_depthwise_backward(float*, float*, float*, const float*, const float*, const float*,
                                               const conv1d_shape&) {
    TRANOVA_UNSUPPORTED("conv1d_causal_depthwise_backward");
}
void backend::attention_backward(float*, float*, float*, const float*, const float*, const float*, const float*,
                                 const float*, const attention_shape&, float*) {
    TRANOVA_UNSUPPORTED("attention_backward");
}
void backend::dropout_backward(float*, const float*, size_t, float, uint64_t, uint64_t) {
    TRANOVA_UNSUPPORTED("dropout_backward");
}
float backend::cross_entropy(float*, const float*, const int32_t*, int, int, int, float, float) {
    TRANOVA_UNSUPPORTED("cross_entropy");
}
float backend::ctc_loss(float*, float*, const float*, const int32_t*, const int32_t*, const int32_t*, int, int, int,
                        int, const ctc_options&, float) {
    TRANOVA_UNSUPPORTED("ctc_loss");
}
#undef TRANOVA_UNSUPPORTED

namespace {
class cpu_backend_impl final : public backend {
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
    void sinusoidal(float* out, const float* x, int N, const float* sin_term, int n_sin, const float* cos_term,
                    int n_cos) override {
        sinusoidal_forward(out, x, N, sin_term, n_sin, cos_term, n_cos);
    }
    void dropout(float* out, const float* inp, size_t n, float p, uint64_t seed, uint64_t offset) override {
        dropout_forward(out, inp, n, p, seed, offset);
    }
    void linear_packed(float* out, const float* inp, const packed_linear& w, const float* bias, int N,
                       linear_epilogue epilogue) override {
        linear_forward_packed(out, inp, w, bias, N, epilogue);
    }
    void layernorm_train(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                         int C, float eps) override {
        layernorm_forward_train(out, mean, rstd, inp, w, b, N, C, eps);
    }
    void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int N, int C, int V) override {
        core::embedding_backward(dtable, dout, ids, N, C, V);
    }
    void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                            const float* weight, const float* mean, const float* rstd, int N, int C) override {
        core::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
    }
    void gemm_backward(float* da, float* db, const float* dc, const float* a, const float* b, int M, int N, int K,
                       bool ta, bool tb, float alpha, int lda, int ldb, int ldc) override {
        core::gemm_backward(da, db, dc, a, b, M, N, K, ta, tb, alpha, lda, ldb, ldc);
    }
    void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                         const float* weight, int N, int IC, int OC) override {
        core::linear_backward(dinp, dweight, dbias, dout, inp, weight, N, IC, OC);
    }
    void activation_backward(activation_kind k, float* dinp, const float* dout, const float* inp, size_t n) override {
        switch (k) {
            case activation_kind::relu: relu_backward(dinp, dout, inp, n); break;
            case activation_kind::squared_relu: squared_relu_backward(dinp, dout, inp, n); break;
            case activation_kind::gelu: gelu_backward(dinp, dout, inp, n); break;
            case activation_kind::gelu_tanh: gelu_tanh_backward(dinp, dout, inp, n); break;
        }
    }
    void add_backward(float* da, float* db, const float* dout, size_t n) override { core::add_backward(da, db, dout, n); }
    void softmax_backward(float* dinp, const float* dout, const float* out, int N, int C) override {
        core::softmax_backward(dinp, dout, out, N, C);
    }
    void log_softmax_backward(float* dinp, const float* dout, const float* out, int N, int C) override {
        core::log_softmax_backward(dinp, dout, out, N, C);
    }
    void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                          const float* inp, const float* weight, const conv1d_shape& s) override {
        core::conv1d_causal_depthwise_backward(dinp, dweight, dbias, dout, inp, weight, s);
    }
    void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                            const float* v, const float* probs, const attention_shape& s, float* scratch) override {
        core::attention_backward(dq, dk, dv, dout, q, k, v, probs, s, scratch);
    }
    void dropout_backward(float* dinp, const float* dout, size_t n, float p, uint64_t seed, uint64_t offset) override {
        core::dropout_backward(dinp, dout, n, p, seed, offset);
    }
    float cross_entropy(float* dlogits, const float* logits, const int32_t* targets, int N, int V, int ignore_index,
                        float label_smoothing, float dloss) override {
        return cross_entropy_forward_backward(dlogits, logits, targets, N, V, ignore_index, label_smoothing, dloss);
    }
    float ctc_loss(float* grad, float* per_sample, const float* log_probs, const int32_t* targets,
                   const int32_t* input_lengths, const int32_t* target_lengths, int B, int T, int C, int S,
                   const ctc_options& opt, float dloss) override {
        return ctc_loss_forward_backward(grad, per_sample, log_probs, targets, input_lengths, target_lengths, B, T, C,
                                         S, opt, dloss);
    }
};
}  // namespace

std::unique_ptr<backend> make_cpu_backend() { return std::make_unique<cpu_backend_impl>(); }

backend& cpu_backend() {
    static cpu_backend_impl instance;
    return instance;
}

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
