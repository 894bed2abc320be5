// CUDA backend: cuBLAS for gemm/linear (row-major mapped onto column-major cuBLAS by
// computing C^T = B^T A^T), small kernels for layernorm, softmax, log-softmax, bias
// broadcast, activations and add. TF32 is off (CUBLAS_DEFAULT_MATH) so results stay
// within fp32 rounding of the CPU reference.
#include "core/backend.hpp"
#include "core/cuda/cuda_check.cuh"

#include <cmath>
#include <string>

namespace tranova::core {

namespace {

constexpr int kBlock = 256;

// block reduction (sum or max) over kBlock threads
template <bool Max>
__device__ float block_reduce(float v, float* sh) {
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffff, v, o);
        v = Max ? fmaxf(v, w) : v + w;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x >> 5) ? sh[lane] : (Max ? -INFINITY : 0.0f);
        for (int o = 16; o > 0; o >>= 1) {
            float w = __shfl_xor_sync(0xffffffff, v, o);
            v = Max ? fmaxf(v, w) : v + w;
        }
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    float r = sh[0];
    __syncthreads();
    return r;
}

__global__ void layernorm_kernel(float* out, const float* inp, const float* w, const float* b, int C, float eps) {
    __shared__ float sh[32];
    const float* x = inp + (size_t)blockIdx.x * C;
    float* y = out + (size_t)blockIdx.x * C;
    float s = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    float mean = block_reduce<false>(s, sh) / C;
    float v = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) v += (x[c] - mean) * (x[c] - mean);
    float rstd = rsqrtf(block_reduce<false>(v, sh) / C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float t = (x[c] - mean) * rstd;
        if (w) t *= w[c];
        if (b) t += b[c];
        y[c] = t;
    }
}

template <bool Log>
__global__ void softmax_kernel(float* out, const float* inp, int C) {
    __shared__ float sh[32];
    const float* x = inp + (size_t)blockIdx.x * C;
    float* y = out + (size_t)blockIdx.x * C;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < C; c += blockDim.x) m = fmaxf(m, x[c]);
    m = block_reduce<true>(m, sh);
    float s = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += expf(x[c] - m);
    s = block_reduce<false>(s, sh);
    if (Log) {
        float lse = m + logf(s);
        for (int c = threadIdx.x; c < C; c += blockDim.x) y[c] = x[c] - lse;
    } else {
        float inv = 1.0f / s;
        for (int c = threadIdx.x; c < C; c += blockDim.x) y[c] = expf(x[c] - m) * inv;
    }
}

__global__ void bias_rows_kernel(float* out, const float* bias, size_t N, int OC) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N * OC) out[i] = bias[i % OC];
}

__global__ void add_kernel(float* out, const float* a, const float* b, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

__global__ void activation_kernel(int kind, float* out, const float* inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i], r;
    switch (kind) {
        case 0: r = fmaxf(x, 0.0f); break;
        case 1: r = fmaxf(x, 0.0f); r *= r; break;
        case 2: r = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); break;
        default: r = 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); break;
    }
    out[i] = r;
}

unsigned grid_for(size_t n) { return (unsigned)((n + kBlock - 1) / kBlock); }

class cuda_backend final : public backend {
public:
    explicit cuda_backend(int device) : device_(device) {
        TRANOVA_CUDA_CHECK(cudaSetDevice(device));
        cudaDeviceProp prop;
        TRANOVA_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
        name_ = "cuda:" + std::to_string(device) + " (" + prop.name + ")";
        TRANOVA_CUBLAS_CHECK(cublasCreate(&handle_));
        TRANOVA_CUBLAS_CHECK(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));
    }
    ~cuda_backend() override {
        if (handle_) cublasDestroy(handle_);
    }
    std::string name() const override { return name_; }
    bool supports(op_kind op) const override {
        switch (op) {  // the ops this file implements; the rest throw (backend.hpp)
            case op_kind::layernorm: case op_kind::gemm: case op_kind::linear: case op_kind::activation:
            case op_kind::add: case op_kind::softmax: case op_kind::log_softmax: return true;
            default: return false;
        }
    }
    float* alloc(size_t n) override {
        void* p = nullptr;
        TRANOVA_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float)));
        return static_cast<float*>(p);
    }
    void free(float* p) override { cudaFree(p); }
    void upload(float* dst, const float* src, size_t n) override {
        TRANOVA_CUDA_CHECK(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyHostToDevice));
    }
    void download(float* dst, const float* src, size_t n) override {
        TRANOVA_CUDA_CHECK(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost));
    }
    void synchronize() override { TRANOVA_CUDA_CHECK(cudaDeviceSynchronize()); }

    void layernorm(float* out, const float* inp, const float* w, const float* b, int N, int C, float eps) override {
        if (N <= 0) return;
        layernorm_kernel<<<N, kBlock>>>(out, inp, w, b, C, eps);
        TRANOVA_CUDA_CHECK(cudaGetLastError());
    }
    // Row-major C (M,N) = op(A) op(B)  <=>  column-major C^T (N,M) = op(B)^T op(A)^T.
    void gemm(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, float alpha,
              float beta, int lda, int ldb, int ldc) override {
        if (M <= 0 || N <= 0) return;
        TRANOVA_CUBLAS_CHECK(cublasSgemm(handle_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M,
                                         K, &alpha, b, ldb, a, lda, &beta, c, ldc));
    }
    void linear(float* out, const float* inp, const float* w, const float* b, int N, int IC, int OC) override {
        if (b) {
            size_t n = (size_t)N * OC;
            bias_rows_kernel<<<grid_for(n), kBlock>>>(out, b, (size_t)N, OC);
            TRANOVA_CUDA_CHECK(cudaGetLastError());
        }
        gemm(out, inp, w, N, OC, IC, false, true, 1.0f, b ? 1.0f : 0.0f, IC, IC, OC);
    }
    void activation(activation_kind k, float* out, const float* inp, size_t n) override {
        if (!n) return;
        activation_kernel<<<grid_for(n), kBlock>>>((int)k, out, inp, n);
        TRANOVA_CUDA_CHECK(cudaGetLastError());
    }
    void add(float* out, const float* a, const float* b, size_t n) override {
        if (!n) return;
        add_kernel<<<grid_for(n), kBlock>>>(out, a, b, n);
        TRANOVA_CUDA_CHECK(cudaGetLastError());
    }
    void softmax(float* out, const float* inp, int N, int C) override {
        if (N <= 0) return;
        softmax_kernel<false><<<N, kBlock>>>(out, inp, C);
        TRANOVA_CUDA_CHECK(cudaGetLastError());
    }
    void log_softmax(float* out, const float* inp, int N, int C) override {
        if (N <= 0) return;
        softmax_kernel<true><<<N, kBlock>>>(out, inp, C);
        TRANOVA_CUDA_CHECK(cudaGetLastError());
    }

private:
    int device_;
    std::string name_;
    cublasHandle_t handle_ = nullptr;
};

}  // namespace

bool cuda_backend_built() { return true; }

bool cuda_device_available(std::string* why) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why) *why = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e);
        return false;
    }
    if (n == 0) {
        if (why) *why = "no CUDA device present";
        return false;
    }
    return true;
}

std::unique_ptr<backend> make_cuda_backend(int device) {
    std::string why;
    TRANOVA_CHECK(cuda_device_available(&why), "CUDA backend unavailable: {}", why);
    return std::make_unique<cuda_backend>(device);
}

}  // namespace tranova::core
