// The AVX-512 kernel's entry points (linear_avx512.cpp, compiled with -mavx512f).
// Kept apart from linear.hpp so that the AVX-512 translation unit includes no C++
// library headers: an inline library function instantiated there could otherwise be
// the copy the linker keeps for the whole program, and run AVX-512 code on other CPUs.
#pragma once

namespace tranova::core::detail {

// out rows [0, M) (row stride ld_out) = epilogue(inp (M, IC) (row stride ld_in) @ W^T + bias)
// for the output columns of panels [p0, p1). panels: [P][IC][48] (core/linear.hpp),
// bias (OC) or nullptr, epilogue: 0 store, 1 squared ReLU, 2 accumulate.
void linear_panels_avx512(float* out, int ld_out, const float* inp, int ld_in, const float* panels,
                          const float* bias, int M, int OC, int IC, int p0, int p1, int epilogue);

// c (M, N) = a (M, K) @ b (K, N), all row-major with leading dimensions; the small
// products of attention (Q K^T against a transposed K block, P V). K >= 1.
void gemm_rowmajor_avx512(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int M, int N, int K);

}  // namespace tranova::core::detail
