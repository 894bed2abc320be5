// The machine's AVX-512 FMA peak per thread: 24 independent FMA chains in registers (no
// memory traffic), the ceiling for core/linear_avx512.cpp. Compiled with -mavx512f and
// called (and timed, by bench_core.cpp) only when core::cpu_has_avx512(). No C++ library
// headers here, for the reason given in src/core/linear_kernel.hpp.
#include <immintrin.h>

// Runs iterations x 24 x 16 FMAs (x 2 flops); returns a value to keep them alive.
float fma_chains_avx512(long iterations) {
    __m512 acc[24];
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
    float lanes[16];
    _mm512_storeu_ps(lanes, s);
    float sum = 0.0f;
    for (int i = 0; i < 16; ++i) sum += lanes[i];
    return sum;
}
