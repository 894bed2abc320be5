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
