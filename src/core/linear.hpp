// Linear layers with weights packed once at model load, for the hot path of inference.
//
// core::linear_forward (ops.hpp) calls BLAS on the PyTorch (OC, IC) layout every time.
// Here the weight is laid out once, at load, for the CPU it will run on:
//   - AVX-512 CPUs: column panels of 48 output features, panel p holding
//     W[48p + j][k] at [p][k][j] (zero-padded past OC). Our own kernel (linear_avx512.cpp)
//     keeps an 8 x 48 output tile in registers over the whole K loop, so bias, residual
//     add and activation are applied in registers (one pass over the output, no
//     separate elementwise sweeps). It does not go through BLAS, so its speed does not
//     depend on which kernels OpenBLAS picks (OPENBLAS_CORETYPE).
//   - Other CPUs: the PyTorch layout as is, and BLAS (core::gemm) followed by the epilogue.
// Both give the same numbers within float rounding; the naive twin is the oracle in
// tests/core/test_linear.cpp.
//
// The epilogue mirrors PyTorch's order of operations: y = (x W^T) + b first, then either
// y is stored, stored as relu(y)^2, or added to the output (out = out + y, a residual
// connection written as h = h + linear(x)).
#pragma once

#include <cstddef>
#include <vector>

namespace tranova::core {

enum class linear_epilogue {
    store,         // out = x W^T + b
    squared_relu,  // out = max(x W^T + b, 0)^2
    accumulate,    // out = out + (x W^T + b)
};

enum class linear_kernel {
    automatic,  // AVX-512 panels when the CPU has AVX-512F, else BLAS
    avx512,     // panels (throws tranova::error when the CPU lacks AVX-512F)
    blas,       // PyTorch layout + core::gemm
};

struct packed_linear {
    int in = 0, out = 0;
    bool panels = false;      // true: AVX-512 panel layout; false: (out, in) row-major
    std::vector<float> data;  // the weights in that layout
};

// Width of one AVX-512 panel (output features).
constexpr int linear_panel_width = 48;

// True when this CPU can run the AVX-512 kernel (checked once).
bool cpu_has_avx512();

// Packs weight (OC, IC) (PyTorch nn.Linear layout) for linear_forward_packed.
packed_linear pack_linear(const float* weight, int IC, int OC, linear_kernel kernel = linear_kernel::automatic);

// out (N, OC) = epilogue(inp (N, IC) @ W^T + bias); bias (OC) or nullptr. Parallel over
// row blocks and panels with OpenMP when called outside a parallel region; single-threaded
// inside one (so callers can parallelise over batches themselves).
void linear_forward_packed(float* out, const float* inp, const packed_linear& w, const float* bias, int N,
                           linear_epilogue epilogue = linear_epilogue::store);

// ---------------------------------------------------------------------------------------
// Products of training-sized layers on the same AVX-512 kernel, packing per call
// (core::linear_forward and core::linear_backward route here when gemm_avx512_applies).
//
// c (M, N) = op(a) (M, K) @ op(b) (K, N) + bias, or with accumulate c += (op(a) op(b) + bias);
// op(a) is a (M, K) with row stride lda, or a^T for a (K, M); op(b) is b (K, N) with row
// stride ldb, or b^T for b (N, K); bias (N) or nullptr; c has row stride ldc.
// op(b) is copied into zero-padded 48-column panels (the layout of pack_linear) and a
// transposed op(a) into rows, in scratch the calling thread keeps (grown once): the
// copies cost (M + N) K float moves against 2 M N K flops, so they pay when M (the
// result's rows, which reuse each panel) is not tiny; gemm_avx512_applies draws that line.
// Each output tile is summed by one thread over the whole K loop (no split-K): the bits do
// not depend on the thread count. Parallel inside when called outside an OpenMP region,
// single-threaded inside one. Throws tranova::error on a CPU without AVX-512F.
void gemm_packed_avx512(float* c, int ldc, const float* a, int lda, bool trans_a, const float* b, int ldb,
                        bool trans_b, int M, int N, int K, const float* bias, bool accumulate);
// True when this CPU has the kernel, linear_force_blas is off, and the product is large
// enough (M >= 32 rows, N and K >= 1) for the per-call packing to pay.
bool gemm_avx512_applies(int M, int N, int K);
// Tests set this to check the BLAS path of linear_forward/linear_backward on AVX-512 CPUs.
extern bool linear_force_blas;

// Naive twin: weight in the PyTorch layout, plain loops (double accumulation).
void linear_forward_epilogue_naive(float* out, const float* inp, const float* weight, const float* bias, int N,
                                   int IC, int OC, linear_epilogue epilogue);

}  // namespace tranova::core
