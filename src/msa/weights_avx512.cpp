// AVX-512 neighbour-count kernel (built with -mavx512f -mavx512vpopcntdq; called only when
// the CPU has both). One group of 8 rows i (one per 64-bit lane) against one row j
// (broadcast): per 64-column word, one XOR and P-1 ternary-logic ops give the equal-columns
// mask, VPOPCNTQ counts it. The first 4 words of the group stay in registers while j runs
// over a cache block, two rows j per step. Plain loops and raw pointers only (see
// detail/weights_kernels.hpp).
#include "msa/detail/weights_kernels.hpp"

#include <immintrin.h>

namespace tranova::msa::detail {

namespace {

constexpr std::size_t prefetch_rows = 8;  // prefetch distance in rows j (prefetches never fault)
constexpr int or_xor = 0xF6;   // a | (b ^ c)
constexpr int nor_xor = 0x09;  // ~(a | (b ^ c))

// _mm512_min_epi64 through its zero-masked form: GCC 12 warns about the "undefined" source
// operand of the plain one (-Wmaybe-uninitialized).
inline __m512i min_epi64(__m512i a, __m512i b) { return _mm512_maskz_min_epi64(__mmask8(0xFF), a, b); }

template <int P>
inline __m512i equal_columns(const __m512i* x, const std::uint64_t* y) {
    __m512i d = _mm512_xor_si512(x[0], _mm512_set1_epi64(static_cast<long long>(y[0])));
#pragma GCC unroll 8
    for (int p = 1; p < P - 1; ++p) d = _mm512_ternarylogic_epi64(d, x[p], _mm512_set1_epi64(static_cast<long long>(y[p])), or_xor);
    return _mm512_ternarylogic_epi64(d, x[P - 1], _mm512_set1_epi64(static_cast<long long>(y[P - 1])), nor_xor);
}

template <int P>
void count_lanes(const lane_layout& lay, std::size_t g0, std::size_t g1, std::size_t j0, std::size_t j1, std::int32_t* cnt) {
    constexpr std::size_t H = head_words;
    const std::size_t W = lay.words, T = W - H, n = lay.n;
    const unsigned char* check = lay.check;
    const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
    for (std::size_t g = g0; g < g1; ++g) {
        const std::size_t base = g * lane_rows;
        const std::size_t jbeg = j0 > base + 1 ? j0 : base + 1;
        if (jbeg >= j1) continue;
        const std::uint64_t* gx = lay.gbits + g * W * P * lane_rows;
        const std::int64_t* gs = lay.gsuf + g * (W + 1) * lane_rows;
        __m512i xr[H * P];
#pragma GCC unroll 32
        for (std::size_t k = 0; k < H * P; ++k) xr[k] = _mm512_loadu_si512(gx + k * lane_rows);
        const __m512i ti = _mm512_loadu_si512(lay.gneed + g * lane_rows);
        const __mmask8 valid = n - base >= lane_rows ? __mmask8(0xFF) : __mmask8((1u << (n - base)) - 1);
        __m512i cv = zero;
        // Words w..W-1 for a pair still alive after w words, then the final test.
        auto finish = [&](std::size_t j, __mmask8 alive, __m512i m, std::size_t w) {
            const __m512i tjv = _mm512_set1_epi64(lay.jneed[j]);
            const __m512i need = min_epi64(ti, tjv);
            const std::int64_t* js = lay.jsuf + j * (W + 1);
            const std::uint64_t* yt = lay.jtail + j * T * P;
            for (; w < W; ++w) {
                __m512i x[P];
#pragma GCC unroll 8
                for (int p = 0; p < P; ++p) x[p] = _mm512_loadu_si512(gx + (w * P + static_cast<std::size_t>(p)) * lane_rows);
                m = _mm512_add_epi64(m, _mm512_popcnt_epi64(equal_columns<P>(x, yt + (w - H) * P)));
                if (check[w + 1]) {
                    const __m512i rest = min_epi64(_mm512_loadu_si512(gs + (w + 1) * lane_rows), _mm512_set1_epi64(js[w + 1]));
                    alive = _mm512_mask_cmpge_epi64_mask(alive, _mm512_add_epi64(m, rest), need);
                    if (!alive) return;
                }
            }
            cv = _mm512_mask_add_epi64(cv, _mm512_mask_cmpge_epi64_mask(alive, m, ti), cv, one);
            cnt[j] += __builtin_popcount(static_cast<unsigned>(_mm512_mask_cmpge_epi64_mask(alive, m, tjv)));
        };
        // Two rows j per step (independent chains, one loop branch); row B may be absent.
        for (std::size_t j = jbeg; j < j1; j += 2) {
            const std::size_t jb = j + 1 < j1 ? j + 1 : j;
            __mmask8 aa = valid, ab = j + 1 < j1 ? valid : __mmask8(0);
            if (j < base + lane_rows) aa &= __mmask8((1u << (j - base)) - 1);  // lanes i < j only
            if (jb < base + lane_rows) ab &= __mmask8((1u << (jb - base)) - 1);
            const __m512i need_a = min_epi64(ti, _mm512_set1_epi64(lay.jneed[j]));
            const __m512i need_b = min_epi64(ti, _mm512_set1_epi64(lay.jneed[jb]));
            const std::int64_t* jsa = lay.jsuf + j * (W + 1);
            const std::int64_t* jsb = lay.jsuf + jb * (W + 1);
            auto test = [&](__m512i ma, __m512i mb, std::size_t w) {  // stop test after w words, both rows
                const __m512i gsw = _mm512_loadu_si512(gs + w * lane_rows);
                aa = _mm512_mask_cmpge_epi64_mask(aa, _mm512_add_epi64(ma, min_epi64(gsw, _mm512_set1_epi64(jsa[w]))), need_a);
                ab = _mm512_mask_cmpge_epi64_mask(ab, _mm512_add_epi64(mb, min_epi64(gsw, _mm512_set1_epi64(jsb[w]))), need_b);
                return (aa | ab) != 0;
            };
            __m512i ma = zero, mb = zero;
            if (check[0] && !test(ma, mb, 0)) continue;
            const std::uint64_t* ya = lay.jhead + j * H * P;
            const std::uint64_t* yb = lay.jhead + jb * H * P;
            if (j + 2 * prefetch_rows < n) {  // rows j + 16, j + 17: first words, the suffix the test reads
                const char* pf = reinterpret_cast<const char*>(ya + 2 * prefetch_rows * H * P);
                _mm_prefetch(pf, _MM_HINT_T0);
                _mm_prefetch(pf + 64, _MM_HINT_T0);
                _mm_prefetch(pf + 128, _MM_HINT_T0);
                _mm_prefetch(pf + 192, _MM_HINT_T0);
                _mm_prefetch(pf + 256, _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(jsa + 2 * prefetch_rows * (W + 1) + H), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(jsa + (2 * prefetch_rows + 1) * (W + 1) + H), _MM_HINT_T0);
            }
            bool dead = false;
#pragma GCC unroll 4
            for (std::size_t w = 0; w < H; ++w) {
                ma = _mm512_add_epi64(ma, _mm512_popcnt_epi64(equal_columns<P>(xr + w * P, ya + w * P)));
                mb = _mm512_add_epi64(mb, _mm512_popcnt_epi64(equal_columns<P>(xr + w * P, yb + w * P)));
                if (check[w + 1] && !test(ma, mb, w + 1)) {
                    dead = true;
                    break;
                }
            }
            if (dead) continue;
            if (aa) finish(j, aa, ma, H);
            if (ab) finish(jb, ab, mb, H);
        }
        alignas(64) std::int64_t c[lane_rows];
        _mm512_store_si512(c, cv);
        for (std::size_t k = 0; k < lane_rows && base + k < n; ++k) cnt[base + k] += static_cast<std::int32_t>(c[k]);
    }
}

}  // namespace

void count_lanes_avx512(const lane_layout& lay, std::size_t g0, std::size_t g1, std::size_t j0, std::size_t j1,
                        std::int32_t* cnt) {
    if (lay.planes == 5)
        count_lanes<5>(lay, g0, g1, j0, j1, cnt);
    else
        count_lanes<6>(lay, g0, g1, j0, j1, cnt);
}

}  // namespace tranova::msa::detail
