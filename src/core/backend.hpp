// A small compute-backend interface: the ops of core/ops.hpp as its vocabulary, one
// virtual call per op (never per element). CPU is the reference and the fallback; a CUDA
// backend exists when built with TRANOVA_WITH_CUDA (cuBLAS GEMM/linear + layernorm,
// softmax, log-softmax and add kernels). Buffers passed to a backend's ops live in that
// backend's memory (alloc/upload/download); for CPU that is ordinary host memory.
// Semantics and shapes of every op: core/ops.hpp.
#pragma once

#include "core/ops.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace tranova::core {

enum class op_kind { embedding, layernorm, gemm, linear, activation, add, softmax, log_softmax, conv1d, attention };
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
};

// The CPU backend (OpenMP + OpenBLAS), always available.
std::unique_ptr<backend> make_cpu_backend();
// Whether this build has the CUDA backend, and whether a device is present (a message
// saying why not goes to *why when not).
bool cuda_backend_built();
bool cuda_device_available(std::string* why = nullptr);
// The CUDA backend on `device`; throws tranova::error if not built or no device.
std::unique_ptr<backend> make_cuda_backend(int device = 0);

}  // namespace tranova::core
