// Packed linear layers (core/linear.hpp): packing, kernel choice, threading, the BLAS
// fallback and the naive twin. The AVX-512 kernel itself is in linear_avx512.cpp.
#include "core/linear.hpp"

#include "core/linear_kernel.hpp"
#include "core/ops.hpp"
#include "util/error.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

namespace tranova::core {

bool cpu_has_avx512() {
    static const bool has = [] {
#if defined(TRANOVA_HAVE_AVX512_KERNEL)
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") != 0;
#else
        return false;
#endif
    }();
    return has;
}

packed_linear pack_linear(const float* weight, int IC, int OC, linear_kernel kernel) {
    TRANOVA_CHECK(IC > 0 && OC > 0, "pack_linear: bad shape ({}, {})", OC, IC);
    if (kernel == linear_kernel::avx512)
        TRANOVA_CHECK(cpu_has_avx512(), "the AVX-512 linear kernel was requested but this CPU has no AVX-512F");
    packed_linear w;
    w.in = IC;
    w.out = OC;
    w.panels = kernel == linear_kernel::avx512 || (kernel == linear_kernel::automatic && cpu_has_avx512());
    if (!w.panels) {
        w.data.assign(weight, weight + size_t(OC) * IC);
        return w;
    }
    constexpr int P = linear_panel_width;
    const int np = (OC + P - 1) / P;
    w.data.resize(size_t(np) * IC * P);
#pragma omp parallel for schedule(static) if (size_t(OC) * IC > (1u << 20))
    for (int p = 0; p < np; ++p) {
        float* dst = &w.data[size_t(p) * IC * P];
        for (int j = 0; j < P; ++j) {
            const int n = p * P + j;
            if (n < OC) {
                const float* src = weight + size_t(n) * IC;
                for (int k = 0; k < IC; ++k) dst[size_t(k) * P + j] = src[k];
            } else {
                for (int k = 0; k < IC; ++k) dst[size_t(k) * P + j] = 0.0f;
            }
        }
    }
    return w;
}

static void apply_epilogue_rows(float* out, const float* y, int N, int OC, linear_epilogue e) {
    const size_t n = size_t(N) * OC;
    if (e == linear_epilogue::squared_relu) squared_relu_forward(out, y, n);
    else if (e == linear_epilogue::accumulate) add_forward(out, out, y, n);
}

void linear_forward_packed(float* out, const float* inp, const packed_linear& w, const float* bias, int N,
                           linear_epilogue epilogue) {
    if (N <= 0) return;
    const int IC = w.in, OC = w.out;
    if (!w.panels) {
        if (epilogue == linear_epilogue::accumulate) {
            // out + (x W^T + b): the product goes to a temporary first, as in h = h + linear(x).
            thread_local std::vector<float> tmp;
            tmp.resize(size_t(N) * OC);
            linear_forward(tmp.data(), inp, w.data.data(), bias, N, IC, OC);
            apply_epilogue_rows(out, tmp.data(), N, OC, epilogue);
        } else {
            linear_forward(out, inp, w.data.data(), bias, N, IC, OC);
            apply_epilogue_rows(out, out, N, OC, epilogue);
        }
        return;
    }
#if defined(TRANOVA_HAVE_AVX512_KERNEL)
    constexpr int P = linear_panel_width, block = 96;
    const int np = (OC + P - 1) / P;
    const int mblocks = (N + block - 1) / block;
    const int e = static_cast<int>(epilogue);
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    // Tasks: row blocks x panel groups; split the panels only when there are too few row
    // blocks to keep every thread busy. Each task owns its output tile: no reduction, the
    // result does not depend on the thread count.
    const double flops = 2.0 * N * double(OC) * IC;
    if (threads <= 1 || flops < 4e6) {
        detail::linear_panels_avx512(out, OC, inp, IC, w.data.data(), bias, N, OC, IC, 0, np, e);
        return;
    }
    const int groups = std::min(np, std::max(1, (2 * threads + mblocks - 1) / mblocks));
    const int tasks = mblocks * groups;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int t = 0; t < tasks; ++t) {
        const int mb = t / groups, g = t % groups;
        const int r0 = mb * block, r1 = std::min(N, r0 + block);
        const int p0 = int(long(np) * g / groups), p1 = int(long(np) * (g + 1) / groups);
        detail::linear_panels_avx512(out + size_t(r0) * OC, OC, inp + size_t(r0) * IC, IC, w.data.data(), bias,
                                     r1 - r0, OC, IC, p0, p1, e);
    }
#else
    TRANOVA_CHECK(false, "AVX-512 packed weights on a build without the AVX-512 kernel");
#endif
}

// ---------------------------------------------------------------------------------------
// Per-call packing for gemm_packed_avx512.

bool linear_force_blas = false;

bool gemm_avx512_applies(int M, int N, int K) {
    return cpu_has_avx512() && !linear_force_blas && M >= 32 && N >= 1 && K >= 1;
}

namespace {

// Scratch the calling thread keeps between calls: grown, never shrunk, never zeroed
// (the packers write every float the kernel reads).
float* scratch(std::unique_ptr<float[]>& buf, size_t& cap, size_t n) {
    if (n > cap) {
        buf.reset(new float[n]);
        cap = n;
    }
    return buf.get();
}

// Panel p of op(b) (K, N): dst[k][j] = op(b)(k, 48 p + j), zero past N.
void pack_b_panel(float* dst, const float* b, int ldb, bool trans_b, int K, int N, int p) {
    constexpr int P = linear_panel_width;
    const int c0 = p * P, nv = std::min(P, N - c0);
    if (!trans_b) {
        for (int k = 0; k < K; ++k) {
            const float* src = b + size_t(k) * ldb + c0;
            float* d = dst + size_t(k) * P;
            std::memcpy(d, src, sizeof(float) * nv);
            std::fill(d + nv, d + P, 0.0f);
        }
        return;
    }
    // b (N, K): read runs of 16 along each of the panel's rows of b, write 16 rows of dst
    constexpr int KB = 16;
    for (int k0 = 0; k0 < K; k0 += KB) {
        const int kn = std::min(KB, K - k0);
        for (int j = 0; j < nv; ++j) {
            const float* src = b + size_t(c0 + j) * ldb + k0;
            for (int kk = 0; kk < kn; ++kk) dst[size_t(k0 + kk) * P + j] = src[kk];
        }
        for (int kk = 0; kk < kn; ++kk) std::fill(dst + size_t(k0 + kk) * P + nv, dst + size_t(k0 + kk) * P + P, 0.0f);
    }
}

// Rows [m0, m1) of op(a) = a^T for a (K, M): dst[m * ldd + k] = a[k][m].
void transpose_a_rows(float* dst, int ldd, const float* a, int lda, int K, int m0, int m1) {
    constexpr int KB = 16;
    for (int k0 = 0; k0 < K; k0 += KB) {
        const int kn = std::min(KB, K - k0);
        for (int kk = 0; kk < kn; ++kk) {
            const float* src = a + size_t(k0 + kk) * lda;
            for (int m = m0; m < m1; ++m) dst[size_t(m) * ldd + k0 + kk] = src[m];
        }
    }
}

}  // namespace

void gemm_packed_avx512(float* c, int ldc, const float* a, int lda, bool trans_a, const float* b, int ldb,
                        bool trans_b, int M, int N, int K, const float* bias, bool accumulate) {
    TRANOVA_CHECK(cpu_has_avx512(), "the AVX-512 linear kernel was requested but this CPU has no AVX-512F");
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {  // an empty product: c = bias (0 without), or c += bias
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
                float& v = c[size_t(i) * ldc + j];
                const float y = bias ? bias[j] : 0.0f;
                v = accumulate ? v + y : y;
            }
        return;
    }
#if defined(TRANOVA_HAVE_AVX512_KERNEL)
    constexpr int P = linear_panel_width, block = 96, arows = 64;
    const int np = (N + P - 1) / P;
    thread_local std::unique_ptr<float[]> panels_buf, at_buf;
    thread_local size_t panels_cap = 0, at_cap = 0;
    float* panels = scratch(panels_buf, panels_cap, size_t(np) * K * P);
    // op(a) transposed into rows of stride K rounded up to 16 floats plus 16: a row stride
    // of a power of two (K = 1024 tokens: 4 KiB) would put the 8 rows a tile reads in the
    // same L1 sets (measured: dW at 2/3 of the speed of the other products).
    const int ldT = (K + 15) / 16 * 16 + 16;
    float* at = trans_a ? scratch(at_buf, at_cap, size_t(M) * ldT) : nullptr;
    const float* A = trans_a ? at : a;
    const int ldA = trans_a ? ldT : lda;
    const int e = accumulate ? 2 : 0;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const double flops = 2.0 * M * double(N) * K;
    const int mblocks = (M + block - 1) / block;
    // Tasks: row blocks x panel groups, each owning its tiles (as linear_forward_packed), at
    // least 8 per thread where the panels allow: 1024 rows are 11 row blocks, and 11 tasks
    // on 2 threads leave one idle for a twelfth of the product (more when the machine is
    // shared and a thread loses its core). The grouping does not change any bit.
    const int groups = threads <= 1 ? 1 : std::min(np, std::max(1, (8 * threads + mblocks - 1) / mblocks));
    const int tasks = mblocks * groups;
    const int ablocks = trans_a ? (M + arows - 1) / arows : 0;
#pragma omp parallel num_threads(threads) if (threads > 1 && flops >= 4e6)
    {
#pragma omp for schedule(static) nowait
        for (int p = 0; p < np; ++p) pack_b_panel(panels + size_t(p) * K * P, b, ldb, trans_b, K, N, p);
#pragma omp for schedule(static)
        for (int blk = 0; blk < ablocks; ++blk)
            transpose_a_rows(at, ldT, a, lda, K, blk * arows, std::min(M, (blk + 1) * arows));
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tasks; ++t) {
            const int mb = t / groups, g = t % groups;
            const int r0 = mb * block, r1 = std::min(M, r0 + block);
            const int p0 = int(long(np) * g / groups), p1 = int(long(np) * (g + 1) / groups);
            detail::linear_panels_avx512(c + size_t(r0) * ldc, ldc, A + size_t(r0) * ldA, ldA, panels, bias,
                                         r1 - r0, N, K, p0, p1, e);
        }
    }
#else
    (void)c, (void)ldc, (void)a, (void)lda, (void)trans_a, (void)b, (void)ldb, (void)trans_b, (void)K, (void)bias,
        (void)accumulate;
#endif
}

void linear_forward_epilogue_naive(float* out, const float* inp, const float* weight, const float* bias, int N,
                                   int IC, int OC, linear_epilogue epilogue) {
    for (int i = 0; i < N; ++i)
        for (int o = 0; o < OC; ++o) {
            double s = 0;
            for (int k = 0; k < IC; ++k) s += double(inp[size_t(i) * IC + k]) * weight[size_t(o) * IC + k];
            float y = float(s) + (bias ? bias[o] : 0.0f);
            float& dst = out[size_t(i) * OC + o];
            if (epilogue == linear_epilogue::squared_relu) {
                float r = std::max(y, 0.0f);
                dst = r * r;
            } else if (epilogue == linear_epilogue::accumulate) {
                dst = dst + y;
            } else {
                dst = y;
            }
        }
}

}  // namespace tranova::core
