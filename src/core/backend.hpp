// A small compute-backend interface: the ops of core/ops.hpp, core/ops_backward.hpp and
// core/loss.hpp as its vocabulary, one virtual call per op (never per element), so that a
// model written once against `backend&` runs (and trains) on any device that supports its
// ops (ggml's supports_op idea: a model asks `supports(op)` up front and says which op a
// device lacks, instead of failing half-way through a forward). CPU is the reference and the fallback; a CUDA
// backend exists when built with TRANOVA_WITH_CUDA (cuBLAS GEMM/linear + layernorm,
// softmax, log-softmax and add kernels). Buffers passed to a backend's ops live in that
// backend's memory (alloc/upload/download); for CPU that is ordinary host memory.
// Semantics and shapes of every op: core/ops.hpp.
#pragma once

#include "core/linear.hpp"
#include "core/loss.hpp"
#include "core/ops.hpp"
#include "core/ops_backward.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

namespace tranova::core {

enum class op_kind {
    // forward
    embedding, layernorm, gemm, linear, activation, add, softmax, log_softmax, conv1d, attention,
    sinusoidal, dropout, linear_packed,
    // training: forward with saved statistics, backward twins, losses
    layernorm_train, embedding_backward, layernorm_backward, gemm_backward, linear_backward,
    activation_backward, add_backward, softmax_backward, log_softmax_backward, conv1d_backward,
    attention_backward, dropout_backward, cross_entropy, ctc_loss,
};
// Name of an op for messages ("attention_backward").
const char* op_name(op_kind op);
enum class activation_kind { relu, squared_relu, gelu, gelu_tanh };

class backend {
public:
    virtual ~backend() = default;
    virtual std::string name() const = 0;          // "cpu", "cuda:0 (NVIDIA H100 ...)"
    virtual bool supports(op_kind op) const = 0;    // unsupported ops throw tranova::error

    // memory (floats)
    virtual float* alloc(size_t n) = 0;
    virtual void free(float* p) = 0;
    virtual void upload(float* dst, const float* src_host, size_t n) = 0;
    virtual void download(float* dst_host, const float* src, size_t n) = 0;
    virtual void synchronize() {}

    // ops (same arguments as the free functions in ops.hpp)
    virtual void layernorm(float* out, const float* inp, const float* w, const float* b, int N, int C, float eps) = 0;
    virtual void gemm(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, float alpha,
                      float beta, int lda, int ldb, int ldc) = 0;
    virtual void linear(float* out, const float* inp, const float* w, const float* b, int N, int IC, int OC) = 0;
    virtual void activation(activation_kind k, float* out, const float* inp, size_t n) = 0;
    virtual void add(float* out, const float* a, const float* b, size_t n) = 0;
    virtual void softmax(float* out, const float* inp, int N, int C) = 0;
    virtual void log_softmax(float* out, const float* inp, int N, int C) = 0;
    // CPU-only for now (CUDA: supports() == false):
    virtual void embedding(float* out, const int32_t* ids, const float* table, int N, int C, int V);
    virtual void conv1d_causal_depthwise(float* out, const float* inp, const float* w, const float* b,
                                         const conv1d_shape& s);
    virtual void attention(float* out, float* probs, const float* q, const float* k, const float* v,
                           const attention_shape& s, float* scratch);
    virtual void sinusoidal(float* out, const float* x, int N, const float* sin_term, int n_sin,
                            const float* cos_term, int n_cos);
    virtual void dropout(float* out, const float* inp, size_t n, float p, uint64_t seed, uint64_t offset);
    // Linear layer on weights laid out once at load (core/linear.hpp), with a fused epilogue.
    virtual void linear_packed(float* out, const float* inp, const packed_linear& w, const float* bias, int N,
                               linear_epilogue epilogue);

    // Training ops (same arguments as core/ops_backward.hpp and core/loss.hpp). Backward ops
    // accumulate into parameter gradients and (where ops_backward.hpp says so) into dinp.
    virtual void layernorm_train(float* out, float* mean, float* rstd, const float* inp, const float* w,
                                 const float* b, int N, int C, float eps);
    virtual void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int N, int C, int V);
    virtual void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                    const float* weight, const float* mean, const float* rstd, int N, int C);
    virtual void gemm_backward(float* da, float* db, const float* dc, const float* a, const float* b, int M, int N,
                               int K, bool ta, bool tb, float alpha, int lda, int ldb, int ldc);
    virtual void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                 const float* weight, int N, int IC, int OC);
    virtual void activation_backward(activation_kind k, float* dinp, const float* dout, const float* inp, size_t n);
    virtual void add_backward(float* da, float* db, const float* dout, size_t n);
    virtual void softmax_backward(float* dinp, const float* dout, const float* out, int N, int C);
    virtual void log_softmax_backward(float* dinp, const float* dout, const float* out, int N, int C);
    virtual void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                                  const float* inp, const float* weight, const conv1d_shape& s);
    virtual void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                                    const float* k, const float* v, const float* probs, const attention_shape& s,
                                    float* scratch);
    virtual void dropout_backward(float* dinp, const float* dout, size_t n, float p, uint64_t seed, uint64_t offset);
    virtual float cross_entropy(float* dlogits, const float* logits, const int32_t* targets, int N, int V,
                                int ignore_index, float label_smoothing, float dloss);
    virtual float ctc_loss(float* grad, float* per_sample, const float* log_probs, const int32_t* targets,
                           const int32_t* input_lengths, const int32_t* target_lengths, int B, int T, int C, int S,
                           const ctc_options& opt, float dloss);

    // Throws tranova::error naming `what` (a model, "Tranception forward") and the first op of
    // `ops` this backend lacks; a model calls it once before it runs.
    void require(const char* what, std::initializer_list<op_kind> ops) const;
};

// The CPU backend (OpenMP + OpenBLAS), always available.
std::unique_ptr<backend> make_cpu_backend();
// One process-wide CPU backend: what models run on unless given another.
backend& cpu_backend();
// Whether this build has the CUDA backend, and whether a device is present (a message
// saying why not goes to *why when not).
bool cuda_backend_built();
bool cuda_device_available(std::string* why = nullptr);
// The CUDA backend on `device`; throws tranova::error if not built or no device.
std::unique_ptr<backend> make_cuda_backend(int device = 0);

}  // namespace tranova::core
