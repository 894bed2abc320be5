// Farrar's striped SIMD local alignment (score only; Bioinformatics 23:156, 2007), 16 int16
// lanes (AVX2): the query profile is built once per query and reused for every target of
// the gapped stage. The same recurrences as profile_align (Gotoh, a gap of k costs
// gap_open + (k - 1) * gap_extend), so it returns the same optimum; the unit test checks it
// against profile_align and SeqAn3. A score that saturates int16 is recomputed by
// profile_align; builds without AVX2 use profile_align throughout.
#include "retrieval/align.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>

namespace tranova::retrieval {

namespace {
constexpr int alphabet = 21;
}

struct striped_query::impl {
    int L = 0, seg = 0;
    std::vector<std::int16_t> pssm;
    std::vector<std::int16_t> storage;  // alphabet x seg vectors of 16 lanes (+ alignment slack)
    const std::int16_t* profile = nullptr;
};

striped_query::striped_query(const std::vector<std::int16_t>& pssm, int query_length) : p_(std::make_unique<impl>()) {
    p_->L = query_length;
    p_->pssm = pssm;
#if defined(__AVX2__)
    const int seg = (query_length + 15) / 16;
    p_->seg = seg;
    p_->storage.assign(static_cast<std::size_t>(alphabet * seg * 16 + 16), 0);
    auto* prof = reinterpret_cast<std::int16_t*>((reinterpret_cast<std::uintptr_t>(p_->storage.data()) + 31) & ~std::uintptr_t{31});
    p_->profile = prof;
    for (int a = 0; a < alphabet; ++a)
        for (int s = 0; s < seg; ++s) {
            std::int16_t* lane = prof + static_cast<std::size_t>(a * seg + s) * 16;
            for (int k = 0; k < 16; ++k) {
                const int i = s + k * seg;
                // Padding positions score 0: they lie after the query's end, so an alignment
                // through them cannot reach a real position and the maximum is unchanged.
                lane[k] = i < query_length ? pssm[static_cast<std::size_t>(i) * alphabet + static_cast<std::size_t>(a)] : 0;
            }
        }
#endif
}

striped_query::~striped_query() = default;

#if defined(__AVX2__)
namespace {
// Shifts the 16 int16 lanes up by one (lane 0 gets 0), across the two 128-bit halves.
inline __m256i shift_lanes(__m256i v) {
    return _mm256_alignr_epi8(v, _mm256_permute2x128_si256(v, v, 0x08), 14);
}
inline int hmax(__m256i v) {
    __m128i m = _mm_max_epi16(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epi16(m, _mm_srli_si128(m, 8));
    m = _mm_max_epi16(m, _mm_srli_si128(m, 4));
    m = _mm_max_epi16(m, _mm_srli_si128(m, 2));
    return static_cast<std::int16_t>(_mm_extract_epi16(m, 0));
}
}  // namespace
#endif

int striped_query::score(const std::uint8_t* target, int n, std::vector<std::int16_t>& work, int* qend, int* tend) const {
    if (qend) *qend = 0;
    if (tend) *tend = 0;
    if (n <= 0 || p_->L <= 0) return 0;
#if defined(__AVX2__)
    const int seg = p_->seg;
    // work holds H (two columns) and E, 3 x seg vectors.
    work.resize(static_cast<std::size_t>(3 * seg * 16) + 16);
    auto* base = reinterpret_cast<__m256i*>((reinterpret_cast<std::uintptr_t>(work.data()) + 31) & ~std::uintptr_t{31});
    __m256i *hstore = base, *hload = base + seg, *ev = base + 2 * seg;
    const __m256i zero = _mm256_setzero_si256();
    for (int s = 0; s < 3 * seg; ++s) base[s] = zero;
    const __m256i vopen = _mm256_set1_epi16(static_cast<std::int16_t>(gap_open)), vext = _mm256_set1_epi16(static_cast<std::int16_t>(gap_extend));
    __m256i vmax = zero;
    int best = 0;
    for (int j = 0; j < n; ++j) {
        const __m256i before = vmax;
        const auto* prof = reinterpret_cast<const __m256i*>(p_->profile) + static_cast<std::size_t>(target[j]) * static_cast<std::size_t>(seg);
        __m256i vf = zero;
        __m256i vh = shift_lanes(hstore[seg - 1]);
        std::swap(hstore, hload);
        for (int s = 0; s < seg; ++s) {
            vh = _mm256_adds_epi16(vh, prof[s]);
            __m256i e = ev[s];
            vh = _mm256_max_epi16(vh, e);
            vh = _mm256_max_epi16(vh, vf);
            vh = _mm256_max_epi16(vh, zero);
            vmax = _mm256_max_epi16(vmax, vh);
            hstore[s] = vh;
            const __m256i hopen = _mm256_subs_epi16(vh, vopen);
            ev[s] = _mm256_max_epi16(_mm256_subs_epi16(e, vext), hopen);
            vf = _mm256_max_epi16(_mm256_subs_epi16(vf, vext), hopen);
            vh = hload[s];
        }
        // Lazy F: carry vertical gaps across the segment boundary until they no longer
        // improve any H (then they cannot improve E or F either).
        for (int k = 0; k < 16; ++k) {
            vf = shift_lanes(vf);
            bool done = false;
            for (int s = 0; s < seg; ++s) {
                __m256i h = hstore[s];
                const __m256i hopen = _mm256_subs_epi16(h, vopen);
                if (_mm256_movemask_epi8(_mm256_cmpgt_epi16(vf, hopen)) == 0) {
                    done = true;
                    break;
                }
                h = _mm256_max_epi16(h, vf);
                hstore[s] = h;
                ev[s] = _mm256_max_epi16(ev[s], _mm256_subs_epi16(h, vopen));
                vmax = _mm256_max_epi16(vmax, h);
                vf = _mm256_subs_epi16(vf, vext);
            }
            if (done) break;
        }
        // The end cell of the best alignment: the first column (and in it the first query
        // position) where the maximum rose to its final value.
        if (_mm256_movemask_epi8(_mm256_cmpgt_epi16(vmax, before)) != 0) {
            const int column_best = hmax(vmax);  // a lane may rise without the maximum rising
            if (column_best <= best) continue;
            best = column_best;
            if (qend || tend) {
                const auto* h = reinterpret_cast<const std::int16_t*>(hstore);
                int first = p_->L;
                for (int s = 0; s < seg; ++s)
                    for (int k = 0; k < 16; ++k)
                        if (h[s * 16 + k] == best && s + k * seg < first) first = s + k * seg;
                if (qend) *qend = first + 1;
                if (tend) *tend = j + 1;
            }
        }
    }
    if (best < 32767) return best;
#endif
    // Saturated (or no AVX2): the scalar kernel.
    std::vector<std::uint8_t> t(target, target + n);
    const local_alignment a = profile_align(p_->pssm, p_->L, {}, t, {}, false);
    if (qend) *qend = a.qend;
    if (tend) *tend = a.tend;
    return a.score;
}

}  // namespace tranova::retrieval
