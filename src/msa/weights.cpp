// Sequence weights (EVE/ProteinGym and EVcouplings/plmc rules) and weighted frequencies.
// The O(N^2 L) neighbour count is bit-sliced: each residue code (5 bits) is split over
// five 64-bit planes, so one word compares 64 columns with 5 XORs, an OR-tree and a
// popcount; a pair stops early once it can no longer reach either row's threshold.
#include "msa/msa.hpp"
#include "msa/detail/neighbour_paths.hpp"
#include "msa/detail/weights_kernels.hpp"

#include "util/error.hpp"

#include <omp.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <limits>

namespace tranova::msa {

namespace {

constexpr int planes = 6;  // 5 code bits + mask
constexpr std::size_t block_words = 4;  // early-exit check every 256 columns

struct packed {
    std::size_t n = 0, l = 0, words = 0, blocks = 0;
    std::vector<std::uint64_t> bits;     // [n][words][planes]
    std::vector<std::int32_t> suffix;    // [n][blocks+1]: mask bits from block b to the end
    // Rows in groups of 4 (lanes), for the AVX2 kernel: [n/4][words][planes][4] and
    // [n/4][blocks+1][4]; padding rows are empty (mask 0).
    std::vector<std::uint64_t> gbits;
    std::vector<std::int64_t> gsuffix;
};

// Column order: least likely to match first (match counts do not depend on the order),
// so unrelated pairs fall below their threshold, and stop, after fewer words.
std::vector<std::size_t> column_order(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l, bool gap_matches) {
    std::vector<std::size_t> order(l);
    {
        std::vector<double> pmatch(l, 0.0);
        std::vector<std::uint32_t> count(32);
        for (std::size_t j = 0; j < l; ++j) {
            std::fill(count.begin(), count.end(), 0);
            for (std::size_t r = 0; r < n; ++r) ++count[codes[r * l + j] & 31];
            double s = 0;
            for (std::size_t a = gap_matches ? 0 : 1; a < 32; ++a) s += static_cast<double>(count[a]) * count[a];
            pmatch[j] = s;
        }
        for (std::size_t j = 0; j < l; ++j) order[j] = j;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pmatch[a] < pmatch[b]; });
    }
    return order;
}

packed pack(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l, bool gap_matches, const std::vector<std::size_t>& order) {
    packed p;
    p.n = n;
    p.l = l;
    p.words = (l + 63) / 64;
    p.blocks = (p.words + block_words - 1) / block_words;
    p.bits.assign(n * p.words * planes, 0);
    p.suffix.assign(n * (p.blocks + 1), 0);
    for (std::size_t r = 0; r < n; ++r) {
        std::uint64_t* row = p.bits.data() + r * p.words * planes;
        const std::uint8_t* c = codes.data() + r * l;
        for (std::size_t j = 0; j < l; ++j) {
            std::uint64_t bit = std::uint64_t{1} << (j & 63);
            std::uint64_t* w = row + (j >> 6) * planes;
            std::uint8_t v = c[order[j]];
            for (int b = 0; b < 5; ++b)
                if (v >> b & 1) w[b] |= bit;
            if (gap_matches || v != 0) w[5] |= bit;
        }
        std::int32_t* suf = p.suffix.data() + r * (p.blocks + 1);
        for (std::size_t b = p.blocks; b-- > 0;) {
            std::int32_t cnt = 0;
            for (std::size_t w = b * block_words; w < std::min(p.words, (b + 1) * block_words); ++w)
                cnt += std::popcount(row[w * planes + 5]);
            suf[b] = suf[b + 1] + cnt;
        }
    }
    const std::size_t groups = (n + 3) / 4;
    p.gbits.assign(groups * p.words * planes * 4, 0);
    p.gsuffix.assign(groups * (p.blocks + 1) * 4, 0);
    for (std::size_t r = 0; r < n; ++r) {
        const std::size_t g = r / 4, lane = r % 4;
        for (std::size_t w = 0; w < p.words; ++w)
            for (int b = 0; b < planes; ++b)
                p.gbits[((g * p.words + w) * planes + static_cast<std::size_t>(b)) * 4 + lane] = p.bits[(r * p.words + w) * planes + static_cast<std::size_t>(b)];
        for (std::size_t b = 0; b <= p.blocks; ++b) p.gsuffix[(g * (p.blocks + 1) + b) * 4 + lane] = p.suffix[r * (p.blocks + 1) + b];
    }
    return p;
}

#if defined(__AVX2__)
// Match counts of the 4 rows of group g against row j (per 64-bit lane). Returns false
// when every lane fell below its threshold (need = min(t_lane, t_j)).
inline bool group_matches(const packed& p, std::size_t g, std::size_t j, __m256i need, std::int64_t out[4]) {
    const std::size_t W = p.words, B = p.blocks;
    const std::uint64_t* x = p.gbits.data() + g * W * planes * 4;
    const std::uint64_t* y = p.bits.data() + j * W * planes;
    const std::int64_t* sa = p.gsuffix.data() + g * (B + 1) * 4;
    const std::int32_t* sb = p.suffix.data() + j * (B + 1);
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    auto lane_min = [](__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); };
    // Cheap reject: not enough residues in either row.
    __m256i bound0 = lane_min(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sa)), _mm256_set1_epi64x(sb[0]));
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi64(need, bound0)) == -1) return false;
    __m256i m = zero;
    for (std::size_t blk = 0; blk < B; ++blk) {
        const std::size_t w1 = std::min(W, (blk + 1) * block_words);
        __m256i acc = zero;
        for (std::size_t w = blk * block_words; w < w1; ++w) {
            const std::uint64_t* xw = x + w * planes * 4;
            const std::uint64_t* yw = y + w * planes;
            __m256i diff = zero;
            for (int b = 0; b < 5; ++b)
                diff = _mm256_or_si256(diff, _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xw + b * 4)),
                                                              _mm256_set1_epi64x(static_cast<long long>(yw[b]))));
            __m256i mask = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xw + 5 * 4)),
                                            _mm256_set1_epi64x(static_cast<long long>(yw[5])));
            __m256i eq = _mm256_andnot_si256(diff, mask);
            __m256i lo = _mm256_and_si256(eq, low4), hi = _mm256_and_si256(_mm256_srli_epi16(eq, 4), low4);
            acc = _mm256_add_epi8(acc, _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi)));
        }
        m = _mm256_add_epi64(m, _mm256_sad_epu8(acc, zero));
        __m256i rest = lane_min(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sa + (blk + 1) * 4)),
                                _mm256_set1_epi64x(sb[blk + 1]));
        if (_mm256_movemask_epi8(_mm256_cmpgt_epi64(need, _mm256_add_epi64(m, rest))) == -1) return false;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), m);
    return true;
}
#endif

// The 64-bit-word kernels: scalar (simd = false) or AVX2, 4 rows per 256-bit register.
std::vector<std::int64_t> count_words(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                      std::span<const std::int32_t> min_ge, bool gap_matches, bool simd) {
    std::vector<std::int64_t> total(n, 1);
    if (n == 0) return total;
    const packed p = pack(codes, n, l, gap_matches, column_order(codes, n, l, gap_matches));
    const std::size_t W = p.words, B = p.blocks;
    int nthreads = omp_get_max_threads();
    std::vector<std::vector<std::int32_t>> local(static_cast<std::size_t>(nthreads));
#pragma omp parallel
    {
        std::vector<std::int32_t>& cnt = local[static_cast<std::size_t>(omp_get_thread_num())];
        cnt.assign(n, 0);
        // Tiles of T query rows against every later row: row j's words are loaded once per tile.
        constexpr std::size_t T = 16;
        const std::size_t tiles = (n + T - 1) / T;
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t tt = 0; tt < static_cast<std::int64_t>(tiles); ++tt) {
            const std::size_t i0 = static_cast<std::size_t>(tt) * T, i1 = std::min(n, i0 + T);
            for (std::size_t j = i0 + 1; j < n; ++j) {
#if !defined(__AVX2__)
                (void)simd;
#else
                if (simd && j >= i1) {  // every tile row is before j: 4 rows at a time
                    const std::int32_t tj = min_ge[j];
                    for (std::size_t g = i0 / 4; g * 4 < i1; ++g) {
                        alignas(32) std::int64_t nd[4], m[4];
                        for (std::size_t lane = 0; lane < 4; ++lane) {
                            const std::size_t i = g * 4 + lane;
                            nd[lane] = i < i1 ? std::min(min_ge[i], tj) : std::numeric_limits<std::int64_t>::max();
                        }
                        if (!group_matches(p, g, j, _mm256_load_si256(reinterpret_cast<const __m256i*>(nd)), m)) continue;
                        for (std::size_t lane = 0; lane < 4; ++lane) {
                            const std::size_t i = g * 4 + lane;
                            if (i >= i1) break;
                            if (m[lane] >= min_ge[i]) ++cnt[i];
                            if (m[lane] >= tj) ++cnt[j];
                        }
                    }
                    continue;
                }
#endif
                const std::uint64_t* b = p.bits.data() + j * W * planes;
                const std::int32_t* sb = p.suffix.data() + j * (B + 1);
                const std::int32_t tj = min_ge[j];
                const std::size_t iend = std::min(i1, j);
                for (std::size_t i = i0; i < iend; ++i) {
                    const std::uint64_t* a = p.bits.data() + i * W * planes;
                    const std::int32_t* sa = p.suffix.data() + i * (B + 1);
                    const std::int32_t ti = min_ge[i];
                    const std::int32_t need = std::min(ti, tj);
                    if (std::min(sa[0], sb[0]) < need) continue;
                    std::int32_t m = 0;
                    bool dead = false;
                    for (std::size_t blk = 0; blk < B; ++blk) {
                        const std::size_t w1 = std::min(W, (blk + 1) * block_words);
                        for (std::size_t w = blk * block_words; w < w1; ++w) {
                            const std::uint64_t* x = a + w * planes;
                            const std::uint64_t* y = b + w * planes;
                            std::uint64_t diff = (x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]);
                            m += std::popcount(~diff & x[5] & y[5]);
                        }
                        if (m + std::min(sa[blk + 1], sb[blk + 1]) < need) {
                            dead = true;
                            break;
                        }
                    }
                    if (dead) continue;
                    if (m >= ti) ++cnt[i];
                    if (m >= tj) ++cnt[j];
                }
            }
        }
    }
    for (auto& c : local)
        for (std::size_t r = 0; r < n && !c.empty(); ++r) total[r] += c[r];
    return total;
}

#if defined(TRANOVA_MSA_AVX512) || defined(__AVX2__)
#define TRANOVA_MSA_LANES 1
// Packs the 8-lane layout of detail/weights_kernels.hpp (no mask plane: the two sides code gaps
// that must not match, and padding columns, with two different values).
struct lane_pack {
    std::vector<std::uint64_t> gbits, jhead, jtail;
    std::vector<std::int64_t> gsuf, jsuf, gneed, jneed;
    std::vector<unsigned char> check;
    detail::lane_layout lay;
};

// column_order's result, counted in blocks of columns (one block per task): same counts,
// same order, and memory per thread bounded by the block, not by the alignment width (a
// table of l x 32 counters per thread made a 50 MB row need gigabytes).
std::vector<std::size_t> column_order_fast(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l, bool gap_matches) {
    constexpr std::size_t block = 4096;
    const std::size_t blocks = (l + block - 1) / block;
    std::vector<double> pmatch(l, 0.0);
#pragma omp parallel
    {
        std::vector<std::uint32_t> count(block * 32);
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t b = 0; b < static_cast<std::int64_t>(blocks); ++b) {
            const std::size_t j0 = static_cast<std::size_t>(b) * block, j1 = std::min(l, j0 + block);
            std::fill(count.begin(), count.end(), 0);
            for (std::size_t r = 0; r < n; ++r) {
                const std::uint8_t* c = codes.data() + r * l;
                for (std::size_t j = j0; j < j1; ++j) ++count[(j - j0) * 32 + (c[j] & 31)];
            }
            for (std::size_t j = j0; j < j1; ++j) {
                double sum = 0;
                const std::uint32_t* cj = count.data() + (j - j0) * 32;
                for (std::size_t a = gap_matches ? 0 : 1; a < 32; ++a) sum += static_cast<double>(cj[a]) * cj[a];
                pmatch[j] = sum;
            }
        }
    }
    std::vector<std::size_t> order(l);
    for (std::size_t j = 0; j < l; ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pmatch[a] < pmatch[b]; });
    return order;
}

// Bit b of each of the 64 bytes v[0..63] -> one word (bit k = bit b of v[k]).
inline std::uint64_t byte_bits(const std::uint8_t* v, int b) {
#if defined(__AVX2__)
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 32));
    const __m128i sh = _mm_cvtsi32_si128(7 - b);
    const auto m0 = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_sll_epi16(lo, sh)));
    const auto m1 = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_sll_epi16(hi, sh)));
    return m0 | std::uint64_t{m1} << 32;
#else
    std::uint64_t w = 0;
    for (int k = 0; k < 64; ++k) w |= std::uint64_t{(v[k] >> b) & 1u} << k;
    return w;
#endif
}

void pack_lanes(lane_pack& lp, std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                std::span<const std::int32_t> min_ge, bool gap_matches) {
    using detail::head_words;
    using detail::lane_rows;
    const std::vector<std::size_t> order = column_order_fast(codes, n, l, gap_matches);
    std::uint8_t maxc = 0;
    for (std::uint8_t c : codes) maxc = std::max<std::uint8_t>(maxc, c & 31);
    const int P = maxc < 30 ? 5 : 6;
    const std::uint8_t pad_i = P == 5 ? 30 : 32, pad_j = P == 5 ? 31 : 33;
    const std::size_t W = std::max((l + 63) / 64, head_words), T = W - head_words, G = (n + lane_rows - 1) / lane_rows;
    const std::size_t Pz = static_cast<std::size_t>(P);
    lp.gbits.resize(G * W * Pz * lane_rows);
    lp.jhead.resize(n * head_words * Pz);
    lp.jtail.resize(n * T * Pz);
    lp.gsuf.resize(G * (W + 1) * lane_rows);
    lp.jsuf.resize(n * (W + 1));
    lp.gneed.resize(G * lane_rows);
    lp.jneed.resize(n);
    lp.check.assign(W + 1, 0);
    std::vector<std::size_t> first(G * lane_rows, W + 1);  // first w with suf[w] < need (W + 1: never)
#pragma omp parallel
    {
        std::vector<std::uint8_t> vi(W * 64), vj(W * 64);
        std::vector<std::int64_t> suf(W + 1);
#pragma omp for schedule(static)
        for (std::int64_t rr = 0; rr < static_cast<std::int64_t>(G * lane_rows); ++rr) {
            const auto r = static_cast<std::size_t>(rr);
            const std::size_t g = r / lane_rows, lane = r % lane_rows;
            std::fill(suf.begin(), suf.end(), 0);
            std::fill(vi.begin(), vi.end(), pad_i);
            std::fill(vj.begin(), vj.end(), pad_j);
            if (r < n) {  // padding rows of the last group: all padding, need INT64_MAX
                const std::uint8_t* c = codes.data() + r * l;
                const std::size_t* ord = order.data();
                std::uint8_t* pi = vi.data();
                std::uint8_t* pj = vj.data();
                std::int64_t* ps = suf.data();
                for (std::size_t k = 0; k < l; ++k) {  // branch-free: gaps are ~random
                    const std::uint8_t v = c[ord[k]] & 31;
                    const bool keep = v != 0 || gap_matches;
                    pi[k] = keep ? v : pad_i;
                    pj[k] = keep ? v : pad_j;
                    ps[k >> 6] += keep;
                }
                for (std::size_t w = W; w-- > 0;) suf[w] += suf[w + 1];
            }
            for (std::size_t w = 0; w < W; ++w)
                for (std::size_t b = 0; b < Pz; ++b) {
                    lp.gbits[((g * W + w) * Pz + b) * lane_rows + lane] = byte_bits(&vi[w * 64], static_cast<int>(b));
                    if (r >= n) continue;
                    const std::uint64_t y = byte_bits(&vj[w * 64], static_cast<int>(b));
                    if (w < head_words)
                        lp.jhead[(r * head_words + w) * Pz + b] = y;
                    else
                        lp.jtail[(r * T + w - head_words) * Pz + b] = y;
                }
            for (std::size_t w = 0; w <= W; ++w) lp.gsuf[(g * (W + 1) + w) * lane_rows + lane] = suf[w];
            if (r >= n) {
                lp.gneed[r] = std::numeric_limits<std::int64_t>::max();
                continue;
            }
            for (std::size_t w = 0; w <= W; ++w) lp.jsuf[r * (W + 1) + w] = suf[w];
            lp.gneed[r] = lp.jneed[r] = min_ge[r];
            std::size_t f = 0;
            while (f <= W && suf[f] >= min_ge[r]) ++f;
            first[r] = f;
        }
    }
    // A pair can stop after w words only if one of its rows has suf[w] < need: no stop test
    // before the earliest such w (rows that fail at w = 0 get the test before the first word).
    std::size_t first_min = W + 1;
    bool first_zero = false;
    for (std::size_t r = 0; r < n; ++r) {
        if (first[r] == 0)
            first_zero = true;
        else
            first_min = std::min(first_min, first[r]);
    }
    lp.check[0] = first_zero;
    for (std::size_t w = first_min; w < W; ++w) lp.check[w] = 1;  // after the last word: the final test
    lp.lay = {n, G, W, P, lp.gbits.data(), lp.jhead.data(), lp.jtail.data(), lp.gsuf.data(), lp.jsuf.data(),
              lp.gneed.data(), lp.jneed.data(), lp.check.data()};
}

#if defined(__AVX2__)
// The 8-lane layout with AVX2: each group of 8 rows i as two 256-bit halves, loaded from L1
// per word (16 registers cannot hold them); counts mismatches (pads and gaps on both sides
// differ), nibble-LUT popcount into byte counters, summed per lane at each stop test.
template <std::size_t P>
void count_lanes_avx2(const detail::lane_layout& lay, std::size_t g0, std::size_t g1, std::size_t j0, std::size_t j1,
                      std::int32_t* cnt) {
    using detail::head_words;
    using detail::lane_rows;
    const std::size_t W = lay.words, T = W - head_words, n = lay.n;
    const unsigned char* check = lay.check;
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256(), one = _mm256_set1_epi64x(1);
    auto min64 = [](__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); };
    auto lanes = [](__m256i lo, __m256i hi) {  // sign bits of 8 int64 lanes -> 8-bit mask
        return static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(lo))) |
               static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(hi))) << 4;
    };
    for (std::size_t g = g0; g < g1; ++g) {
        const std::size_t base = g * lane_rows;
        const std::size_t jbeg = std::max(j0, base + 1);
        if (jbeg >= j1) continue;
        const std::uint64_t* gx = lay.gbits + g * W * P * lane_rows;
        const std::int64_t* gs = lay.gsuf + g * (W + 1) * lane_rows;
        const __m256i ti0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lay.gneed + g * lane_rows));
        const __m256i ti1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lay.gneed + g * lane_rows + 4));
        const unsigned valid = n - base >= lane_rows ? 0xFFu : (1u << (n - base)) - 1;
        __m256i cv0 = zero, cv1 = zero;
        for (std::size_t j = jbeg; j < j1; ++j) {
            unsigned alive = valid;
            if (j < base + lane_rows) alive &= (1u << (j - base)) - 1;
            const std::int64_t tj = lay.jneed[j];
            const __m256i tjv = _mm256_set1_epi64x(tj);
            const __m256i need0 = min64(ti0, tjv), need1 = min64(ti1, tjv);
            const std::int64_t* js = lay.jsuf + j * (W + 1);
            __m256i mis0 = zero, mis1 = zero, acc0 = zero, acc1 = zero;  // mismatches so far; byte counters
            // Stop test after w words (matches = 64 w - mismatches).
            auto survives = [&](std::size_t w) {
                mis0 = _mm256_add_epi64(mis0, _mm256_sad_epu8(acc0, zero));
                mis1 = _mm256_add_epi64(mis1, _mm256_sad_epu8(acc1, zero));
                acc0 = acc1 = zero;
                const __m256i rj = _mm256_set1_epi64x(js[w]);
                const __m256i done = _mm256_set1_epi64x(static_cast<long long>(64 * w));
                const __m256i r0 = min64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gs + w * lane_rows)), rj);
                const __m256i r1 = min64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(gs + w * lane_rows + 4)), rj);
                const __m256i b0 = _mm256_sub_epi64(_mm256_add_epi64(done, r0), mis0);
                const __m256i b1 = _mm256_sub_epi64(_mm256_add_epi64(done, r1), mis1);
                alive &= ~lanes(_mm256_cmpgt_epi64(need0, b0), _mm256_cmpgt_epi64(need1, b1));
                return alive != 0;
            };
            if (check[0] && !survives(0)) continue;
            bool dead = false;
            const std::uint64_t* yh = lay.jhead + j * head_words * P;
            const std::uint64_t* yt = lay.jtail + j * T * P;
#pragma GCC unroll 4
            for (std::size_t w = 0; w < W; ++w) {
                const std::uint64_t* y = w < head_words ? yh + w * P : yt + (w - head_words) * P;
                const std::uint64_t* x = gx + w * P * lane_rows;
                __m256i yp = _mm256_set1_epi64x(static_cast<long long>(y[0]));
                __m256i d0 = _mm256_xor_si256(yp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
                __m256i d1 = _mm256_xor_si256(yp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4)));
#pragma GCC unroll 8
                for (std::size_t p = 1; p < P; ++p) {
                    yp = _mm256_set1_epi64x(static_cast<long long>(y[p]));
                    d0 = _mm256_or_si256(d0, _mm256_xor_si256(yp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + p * lane_rows))));
                    d1 = _mm256_or_si256(d1, _mm256_xor_si256(yp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + p * lane_rows + 4))));
                }
                acc0 = _mm256_add_epi8(acc0, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(d0, low4)),
                                                             _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(d0, 4), low4))));
                acc1 = _mm256_add_epi8(acc1, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(d1, low4)),
                                                             _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(d1, 4), low4))));
                // Byte counters hold at most 8 per word: flush at every stop test and every 16 words.
                if ((check[w + 1] || (w & 15) == 15) && w + 1 < W) {
                    if (!check[w + 1]) {
                        mis0 = _mm256_add_epi64(mis0, _mm256_sad_epu8(acc0, zero));
                        mis1 = _mm256_add_epi64(mis1, _mm256_sad_epu8(acc1, zero));
                        acc0 = acc1 = zero;
                    } else if (!survives(w + 1)) {
                        dead = true;
                        break;
                    }
                }
            }
            if (dead) continue;
            mis0 = _mm256_add_epi64(mis0, _mm256_sad_epu8(acc0, zero));
            mis1 = _mm256_add_epi64(mis1, _mm256_sad_epu8(acc1, zero));
            const __m256i all = _mm256_set1_epi64x(static_cast<long long>(64 * W));
            const __m256i m0 = _mm256_sub_epi64(all, mis0), m1 = _mm256_sub_epi64(all, mis1);
            // pass: m >= t  <=>  !(t > m)
            const unsigned pi = alive & ~lanes(_mm256_cmpgt_epi64(ti0, m0), _mm256_cmpgt_epi64(ti1, m1));
            const unsigned pj = alive & ~lanes(_mm256_cmpgt_epi64(tjv, m0), _mm256_cmpgt_epi64(tjv, m1));
            const __m256i sel0 = _mm256_setr_epi64x(pi & 1 ? -1 : 0, pi & 2 ? -1 : 0, pi & 4 ? -1 : 0, pi & 8 ? -1 : 0);
            const __m256i sel1 = _mm256_setr_epi64x(pi & 16 ? -1 : 0, pi & 32 ? -1 : 0, pi & 64 ? -1 : 0, pi & 128 ? -1 : 0);
            cv0 = _mm256_add_epi64(cv0, _mm256_and_si256(sel0, one));
            cv1 = _mm256_add_epi64(cv1, _mm256_and_si256(sel1, one));
            cnt[j] += std::popcount(pj);
        }
        alignas(32) std::int64_t c[lane_rows];
        _mm256_store_si256(reinterpret_cast<__m256i*>(c), cv0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(c + 4), cv1);
        for (std::size_t k = 0; k < lane_rows && base + k < n; ++k) cnt[base + k] += static_cast<std::int32_t>(c[k]);
    }
}
#endif

std::vector<std::int64_t> count_lanes(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                      std::span<const std::int32_t> min_ge, bool gap_matches, bool avx512) {
    std::vector<std::int64_t> total(n, 1);
    if (n == 0) return total;
    lane_pack lp;
    pack_lanes(lp, codes, n, l, min_ge, gap_matches);
    const detail::lane_layout& lay = lp.lay;
    // Chunks of 8 groups (64 rows i) against blocks of 2048 rows j: the j block's first
    // words (2048 x 160 B) stay in L2 while the chunk's groups pass over it.
    constexpr std::size_t chunk_groups = 8, jblock = 2048;
    const std::size_t chunks = (lay.groups + chunk_groups - 1) / chunk_groups;
    std::vector<std::vector<std::int32_t>> local(static_cast<std::size_t>(omp_get_max_threads()));
#pragma omp parallel
    {
        std::vector<std::int32_t>& cnt = local[static_cast<std::size_t>(omp_get_thread_num())];
        cnt.assign(n, 0);
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t c = 0; c < static_cast<std::int64_t>(chunks); ++c) {
            const std::size_t g0 = static_cast<std::size_t>(c) * chunk_groups, g1 = std::min(lay.groups, g0 + chunk_groups);
            for (std::size_t j0 = g0 * detail::lane_rows + 1; j0 < n; j0 += jblock) {
#if defined(TRANOVA_MSA_AVX512)
                if (avx512) {
                    detail::count_lanes_avx512(lay, g0, g1, j0, std::min(n, j0 + jblock), cnt.data());
                    continue;
                }
#endif
#if defined(__AVX2__)
                if (lay.planes == 5)
                    count_lanes_avx2<5>(lay, g0, g1, j0, std::min(n, j0 + jblock), cnt.data());
                else
                    count_lanes_avx2<6>(lay, g0, g1, j0, std::min(n, j0 + jblock), cnt.data());
#endif
            }
        }
    }
    for (auto& c : local)
        for (std::size_t r = 0; r < n && !c.empty(); ++r) total[r] += c[r];
    return total;
}
#endif

}  // namespace

namespace detail {

bool neighbour_path_available(neighbour_path path) {
    switch (path) {
        case neighbour_path::best:
        case neighbour_path::scalar: return true;
        case neighbour_path::avx2:
        case neighbour_path::avx2x8:
#if defined(__AVX2__)
            return true;
#else
            return false;
#endif
        case neighbour_path::avx512:
#if defined(TRANOVA_MSA_AVX512)
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
#else
            return false;
#endif
    }
    return false;
}

neighbour_path neighbour_path_chosen(neighbour_path path) {
    if (path != neighbour_path::best) return path;
    if (neighbour_path_available(neighbour_path::avx512)) return neighbour_path::avx512;
    if (neighbour_path_available(neighbour_path::avx2x8)) return neighbour_path::avx2x8;
    return neighbour_path::scalar;
}

std::string_view neighbour_path_name(neighbour_path path) {
    switch (path) {
        case neighbour_path::best: return "best";
        case neighbour_path::scalar: return "scalar";
        case neighbour_path::avx2: return "avx2";
        case neighbour_path::avx2x8: return "avx2x8";
        case neighbour_path::avx512: return "avx512";
    }
    return "?";
}

std::vector<std::int64_t> count_neighbours(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                           std::span<const std::int32_t> min_ge, bool gap_matches, neighbour_path path) {
    TRANOVA_CHECK(codes.size() == n * l && min_ge.size() == n, "count_neighbours: bad sizes");
    TRANOVA_CHECK(neighbour_path_available(path), "count_neighbours: the {} kernel is not available on this build or CPU",
                  neighbour_path_name(path));
    switch (neighbour_path_chosen(path)) {
#if defined(TRANOVA_MSA_AVX512)
        case neighbour_path::avx512: return count_lanes(codes, n, l, min_ge, gap_matches, true);
#endif
#if defined(__AVX2__)
        case neighbour_path::avx2x8: return count_lanes(codes, n, l, min_ge, gap_matches, false);
#endif
        case neighbour_path::avx2: return count_words(codes, n, l, min_ge, gap_matches, true);
        default: return count_words(codes, n, l, min_ge, gap_matches, false);
    }
}

}  // namespace detail

std::vector<std::int64_t> count_neighbours(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                           std::span<const std::int32_t> min_ge, bool gap_matches, bool simd) {
    using detail::neighbour_path;
    return detail::count_neighbours(codes, n, l, min_ge, gap_matches, simd ? neighbour_path::best : neighbour_path::scalar);
}

std::vector<std::int64_t> count_neighbours_naive(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                                 std::span<const std::int32_t> min_ge, bool gap_matches) {
    std::vector<std::int64_t> total(n, 0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            std::int32_t m = 0;
            for (std::size_t k = 0; k < l; ++k) {
                std::uint8_t x = codes[i * l + k], y = codes[j * l + k];
                if (x == y && (gap_matches || x != 0)) ++m;
            }
            if (m >= min_ge[i] || i == j) ++total[i];
        }
    return total;
}

// Smallest integer d with double(d) / double(n) > cut (strict) or >= cut.
static std::int32_t min_count(std::int64_t n, double cut, bool strict) {
    if (n <= 0) return std::numeric_limits<std::int32_t>::max();
    auto ok = [&](std::int64_t d) {
        double r = static_cast<double>(d) / static_cast<double>(n);
        return strict ? r > cut : r >= cut;
    };
    std::int64_t d = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(cut * static_cast<double>(n))) - 2);
    while (!ok(d)) ++d;
    return static_cast<std::int32_t>(d);
}

std::uint64_t weights_memory_bytes(std::size_t rows, std::size_t columns, int threads) {
    const std::uint64_t n = rows, l = columns, t = static_cast<std::uint64_t>(threads < 1 ? 1 : threads);
    const std::uint64_t groups = (n + 7) / 8;
    // codes (eve + identity + kept copy) and bit planes ~5 B/cell; per column: order,
    // pmatch, sort buffer, column lists (~40 B); per group of 8 rows the padded planes and
    // suffix counts (~6 B/column); per thread two byte rows.
    return 5 * n * l + 48 * l + 6 * groups * l + 2 * t * l + (std::uint64_t{64} << 20);
}

eve_result eve_weights(const alignment& a, const eve_options& opt) {
    TRANOVA_CHECK(opt.theta >= 0 && opt.theta <= 1, "theta must be in [0,1], got {}", opt.theta);
    eve_result res;
    const std::size_t N = a.num_rows();
    if (N == 0) return res;
    auto up = [](char c) { return c == '.' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))); };
    std::vector<int> cols;
    for (std::size_t j = 0; j < a.num_columns(); ++j)
        if (up(a.rows[0][j]) != '-') cols.push_back(static_cast<int>(j));
    const std::size_t C = cols.size();
    TRANOVA_CHECK(C > 0, "the query row of the alignment has no residues");
    // Rows with too many gaps.
    std::vector<int> rows;
    for (std::size_t r = 0; r < N; ++r) {
        std::size_t gaps = 0;
        for (int j : cols) gaps += up(a.rows[r][static_cast<std::size_t>(j)]) == '-';
        if (static_cast<double>(gaps) / static_cast<double>(C) <= opt.threshold_sequence_frac_gaps) rows.push_back(static_cast<int>(r));
    }
    // Focus columns by gap fraction among the remaining rows.
    for (int j : cols) {
        std::size_t gaps = 0;
        for (int r : rows) gaps += up(a.rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(j)]) == '-';
        double frac = rows.empty() ? 1.0 : static_cast<double>(gaps) / static_cast<double>(rows.size());
        if (frac <= opt.threshold_focus_cols_frac_gaps) res.focus_columns.push_back(j);
    }
    const std::size_t L = res.focus_columns.size();
    // Rows with an indeterminate letter in a focus column.
    for (int r : rows) {
        bool bad = false;
        if (opt.remove_indeterminate)
            for (int j : res.focus_columns) {
                char c = up(a.rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(j)]);
                if (c != '-' && aa_index1(c) == 0) {
                    bad = true;
                    break;
                }
            }
        if (!bad) res.kept_rows.push_back(r);
    }
    const std::size_t K = res.kept_rows.size();
    std::vector<std::uint8_t> codes(K * L);
    std::vector<std::int32_t> need(K);
    std::vector<std::int64_t> nongap(K);
    for (std::size_t k = 0; k < K; ++k) {
        const std::string& s = a.rows[static_cast<std::size_t>(res.kept_rows[k])];
        std::int64_t ng = 0;
        for (std::size_t c = 0; c < L; ++c) {
            auto v = static_cast<std::uint8_t>(aa_index1(s[static_cast<std::size_t>(res.focus_columns[c])]));
            codes[k * L + c] = v;
            ng += v != 0;
        }
        nongap[k] = ng;
        need[k] = min_count(ng, 1.0 - opt.theta, true);
    }
    auto cnt = count_neighbours(codes, K, L, need, false);
    res.weights.resize(K);
    for (std::size_t k = 0; k < K; ++k) {
        // EVE counts self only if it passes its own test (always, unless theta = 0).
        std::int64_t c = cnt[k] - 1 + (nongap[k] >= need[k] ? 1 : 0);
        res.weights[k] = nongap[k] > 0 && c > 0 ? 1.0 / static_cast<double>(c) : 0.0;
        res.neff += res.weights[k];
    }
    return res;
}

static std::vector<double> identity_weights(const alignment& a, double threshold, bool drop_bad, std::vector<bool>* used) {
    const std::size_t N = a.num_rows();
    std::vector<int> cols = a.focus_columns();
    const std::size_t L = cols.size();
    std::vector<std::uint8_t> codes(N * L);
    std::vector<bool> ok(N, true);
    for (std::size_t r = 0; r < N; ++r)
        for (std::size_t c = 0; c < L; ++c) {
            char ch = a.rows[r][static_cast<std::size_t>(cols[c])];
            int v = std::isupper(static_cast<unsigned char>(ch)) ? aa_index1(ch) : 0;
            if (v == 0 && ch != '-' && ch != '.' && drop_bad) ok[r] = false;
            codes[r * L + c] = static_cast<std::uint8_t>(v);
        }
    std::vector<std::uint8_t> kept_codes;
    std::vector<std::size_t> kept;
    for (std::size_t r = 0; r < N; ++r)
        if (ok[r]) {
            kept.push_back(r);
            kept_codes.insert(kept_codes.end(), codes.begin() + static_cast<std::ptrdiff_t>(r * L),
                              codes.begin() + static_cast<std::ptrdiff_t>((r + 1) * L));
        }
    const std::int32_t need = L == 0 ? 0 : min_count(static_cast<std::int64_t>(L), threshold, false);
    std::vector<std::int32_t> needs(kept.size(), need);
    auto cnt = count_neighbours(kept_codes, kept.size(), L, needs, true);
    std::vector<double> w(N, 0.0);
    for (std::size_t k = 0; k < kept.size(); ++k) w[kept[k]] = 1.0 / static_cast<double>(cnt[k]);
    if (used) *used = ok;
    return w;
}

std::vector<double> evcouplings_weights(const alignment& a, double identity_threshold) {
    return identity_weights(a, identity_threshold, false, nullptr);
}

std::vector<double> plmc_weights(const alignment& a, double theta, std::vector<bool>* used) {
    return identity_weights(a, 1.0 - theta, true, used);
}

std::vector<double> weighted_counts(const alignment& a, std::span<const double> weights, std::string_view alphabet,
                                    std::span<const int> columns) {
    TRANOVA_CHECK(weights.size() == a.num_rows(), "weighted_counts: {} weights for {} rows", weights.size(), a.num_rows());
    std::vector<int> all;
    if (columns.empty()) {
        all.resize(a.num_columns());
        for (std::size_t j = 0; j < all.size(); ++j) all[j] = static_cast<int>(j);
        columns = all;
    }
    std::int8_t lut[256];
    std::fill(std::begin(lut), std::end(lut), static_cast<std::int8_t>(-1));
    for (std::size_t k = 0; k < alphabet.size(); ++k) {
        auto c = static_cast<unsigned char>(alphabet[k]);
        lut[std::toupper(c)] = lut[std::tolower(c)] = static_cast<std::int8_t>(k);
        if (c == '-') lut[static_cast<unsigned char>('.')] = static_cast<std::int8_t>(k);
    }
    const std::size_t A = alphabet.size(), C = columns.size();
    std::vector<double> out(C * A, 0.0);
    for (std::size_t r = 0; r < a.num_rows(); ++r) {
        if (weights[r] == 0) continue;
        const std::string& s = a.rows[r];
        for (std::size_t c = 0; c < C; ++c) {
            int k = lut[static_cast<unsigned char>(s[static_cast<std::size_t>(columns[c])])];
            if (k >= 0) out[c * A + static_cast<std::size_t>(k)] += weights[r];
        }
    }
    return out;
}

std::vector<double> weighted_frequencies(const alignment& a, std::span<const double> weights, std::string_view alphabet,
                                         normalise norm, std::span<const int> columns) {
    std::vector<double> f = weighted_counts(a, weights, alphabet, columns);
    const std::size_t A = alphabet.size();
    if (A == 0) return f;
    double total = 0;
    for (double w : weights) total += w;
    for (std::size_t c = 0; c < f.size() / A; ++c) {
        double* row = &f[c * A];
        double den = total;
        if (norm == normalise::non_gap) {
            den = 0;
            for (std::size_t k = 0; k < A; ++k) den += row[k];
        }
        if (den > 0) {
            for (std::size_t k = 0; k < A; ++k) row[k] /= den;
        } else {
            for (std::size_t k = 0; k < A; ++k) row[k] = norm == normalise::non_gap ? 1.0 / static_cast<double>(A) : 0.0;
        }
    }
    return f;
}

}  // namespace tranova::msa
