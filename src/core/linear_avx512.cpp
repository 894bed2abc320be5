// AVX-512 kernel of core/linear.hpp. Compiled with -mavx512f (src/core/CMakeLists.txt) and
// only called after cpu_has_avx512(); it includes no C++ library headers (see
// linear_kernel.hpp for why).
//
// Blocking: an 8-row x 48-column output tile lives in 24 zmm accumulators for the whole K
// loop (3 panel loads + 8 broadcasts feed 24 FMAs per k). Rows are taken in blocks of 96
// so that a block of inputs stays in L2 while the panels stream past it; one panel
// (IC x 48 floats) is reused by the 12 tiles of a block. No K blocking: the tile is
// finished in registers and the epilogue (bias, squared ReLU, residual add) costs one
// store. On the development machine (AVX-512, ~188 GFLOP/s FMA peak per core) it runs at
// 160-170 GFLOP/s on one idle core on the Tranception shapes (85-90% of peak), 1.5-2x the
// OpenBLAS Haswell kernel (benchmarks/core).
#include "core/linear_kernel.hpp"

#include <immintrin.h>

namespace tranova::core::detail {

namespace {

constexpr int panel = 48;   // output columns per panel (3 zmm)
constexpr int tile_rows = 8;
constexpr int block_rows = 96;

// Column masks of the 3 vectors of a panel with `valid` (1..48) real columns.
inline void panel_masks(int valid, __mmask16 m[3]) {
    for (int v = 0; v < 3; ++v) {
        int n = valid - 16 * v;
        m[v] = n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
    }
}

// One R x 48 output tile over the whole K loop. B row k (48 columns) is at b + k * ldb.
// MASKED_B: mask the B loads (a row-major B that ends inside this panel); packed panels
// are zero-padded and load unmasked (the masks would cost loads inside the k loop).
template <int R, bool MASKED_B>
inline void tile(float* out, int ld_out, const float* inp, int ld_in, const float* b, long ldb, const float* bias,
                 int K, const __mmask16 m[3], int epilogue) {
    const __mmask16 m0 = m[0], m1 = m[1], m2 = m[2];
    __m512 acc[R][3];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < 3; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; ++k) {
        const float* bk = b + k * ldb;
        // B streams from L2: fetch 8 k-steps ahead (+3% measured; a prefetch past the
        // end of B is harmless, prefetches do not fault).
        _mm_prefetch(reinterpret_cast<const char*>(bk + 8 * ldb), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(bk + 8 * ldb + 16), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(bk + 8 * ldb + 32), _MM_HINT_T0);
        __m512 b0, b1, b2;
        if constexpr (MASKED_B) {
            b0 = _mm512_maskz_loadu_ps(m0, bk), b1 = _mm512_maskz_loadu_ps(m1, bk + 16);
            b2 = _mm512_maskz_loadu_ps(m2, bk + 32);
        } else {
            b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16), b2 = _mm512_loadu_ps(bk + 32);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            __m512 a = _mm512_set1_ps(inp[(long)r * ld_in + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
        }
    }
    __m512 bv[3];
    for (int v = 0; v < 3; ++v) bv[v] = bias ? _mm512_maskz_loadu_ps(m[v], bias + 16 * v) : _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < 3; ++v) {
            float* o = out + (long)r * ld_out + 16 * v;
            __m512 y = _mm512_add_ps(acc[r][v], bv[v]);  // (x W^T) + b, as torch.addmm rounds it
            if (epilogue == 1) {
                // max(0, y): a NaN stays NaN, as std::max(y, 0.0f) in squared_relu_forward.
                // (maskz form: GCC 12 warns on the undefined source of _mm512_max_ps.)
                y = _mm512_maskz_max_ps(__mmask16(0xFFFF), zero, y);
                y = _mm512_mul_ps(y, y);
            } else if (epilogue == 2) {
                y = _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], o), y);  // out + (x W^T + b)
            }
            _mm512_mask_storeu_ps(o, m[v], y);
        }
}

template <bool MASKED_B>
inline void tile_rows_n(int R, float* out, int ld_out, const float* inp, int ld_in, const float* b, long ldb,
                        const float* bias, int K, const __mmask16 m[3], int epilogue) {
    switch (R) {
        case 8: tile<8, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
        case 7: tile<7, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
        case 6: tile<6, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
        case 5: tile<5, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
        case 4: tile<4, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
        case 3: tile<3, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
        case 2: tile<2, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
        default: tile<1, MASKED_B>(out, ld_out, inp, ld_in, b, ldb, bias, K, m, epilogue); break;
    }
}

}  // namespace

void linear_panels_avx512(float* out, int ld_out, const float* inp, int ld_in, const float* panels,
                          const float* bias, int M, int OC, int IC, int p0, int p1, int epilogue) {
    for (int m0 = 0; m0 < M; m0 += block_rows) {
        const int m1 = m0 + block_rows < M ? m0 + block_rows : M;
        for (int p = p0; p < p1; ++p) {
            const int c0 = p * panel;
            __mmask16 m[3];
            panel_masks(OC - c0, m);
            const float* b = panels + (long)p * IC * panel;
            const float* bp = bias ? bias + c0 : nullptr;
            for (int r = m0; r < m1; r += tile_rows) {
                const int R = m1 - r < tile_rows ? m1 - r : tile_rows;
                tile_rows_n<false>(R, out + (long)r * ld_out + c0, ld_out, inp + (long)r * ld_in, ld_in, b, panel, bp,
                                   IC, m, epilogue);
            }
        }
    }
}

void gemm_rowmajor_avx512(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int M, int N, int K) {
    const int np = (N + panel - 1) / panel;
    for (int m0 = 0; m0 < M; m0 += block_rows) {
        const int m1 = m0 + block_rows < M ? m0 + block_rows : M;
        for (int p = 0; p < np; ++p) {
            const int c0 = p * panel;
            __mmask16 m[3];
            panel_masks(N - c0, m);
            const bool partial = N - c0 < panel;
            for (int r = m0; r < m1; r += tile_rows) {
                const int R = m1 - r < tile_rows ? m1 - r : tile_rows;
                if (partial)
                    tile_rows_n<true>(R, c + (long)r * ldc + c0, ldc, a + (long)r * lda, lda, b + c0, ldb, nullptr, K, m, 0);
                else
                    tile_rows_n<false>(R, c + (long)r * ldc + c0, ldc, a + (long)r * lda, lda, b + c0, ldb, nullptr, K, m, 0);
            }
        }
    }
}

}  // namespace tranova::core::detail
