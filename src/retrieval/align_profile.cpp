// Scalar Gotoh local alignment with a position-specific score matrix (profile rounds).
// Gap of length k costs gap_open + (k - 1) * gap_extend, as in align_seqan.cpp.
#include "retrieval/align.hpp"

#include <algorithm>
#include <limits>

namespace tranova::retrieval {

namespace {

// Follows the trace bits (per cell: 2 bits H source 0 stop / 1 diagonal / 2 E / 3 F, bit 2 E
// opened, bit 3 F opened; rows of BW band cells, cell (i, j) at j - i - dlo) from the end
// cell (bi, bj) and fills out's begin coordinates and gapped strings.
void trace_back(const std::vector<std::uint8_t>& tr, int BW, int dlo, int bi, int bj, std::string_view qletters, std::string_view tletters,
                local_alignment& out) {
    // State 0 = H, 1 = E (gap in query: target residue vs '-'), 2 = F.
    std::string qa, ta;
    int i = bi, j = bj, state = 0;
    while (i >= 0 && j >= 0) {
        const int off = j - i - dlo;  // index in the band row
        if (off < 0 || off >= BW) break;
        std::uint8_t b = tr[static_cast<std::size_t>(i) * static_cast<std::size_t>(BW) + static_cast<std::size_t>(off)];
        if (state == 0) {
            int src = b & 3;
            if (src == 0) break;
            if (src == 1) {
                qa.push_back(qletters[static_cast<std::size_t>(i)]);
                ta.push_back(tletters[static_cast<std::size_t>(j)]);
                --i;
                --j;
                continue;
            }
            state = src == 2 ? 1 : 2;
            continue;
        }
        if (state == 1) {  // E at (i, j): came from column j-1
            qa.push_back('-');
            ta.push_back(tletters[static_cast<std::size_t>(j)]);
            bool opened = (b & 4) != 0;
            --j;
            if (opened) state = 0;
            continue;
        }
        // F at (i, j): came from row i-1
        qa.push_back(qletters[static_cast<std::size_t>(i)]);
        ta.push_back('-');
        bool opened = (b & 8) != 0;
        --i;
        if (opened) state = 0;
    }
    std::reverse(qa.begin(), qa.end());
    std::reverse(ta.begin(), ta.end());
    out.qbegin = i + 1;
    out.tbegin = j + 1;
    out.qaln = std::move(qa);
    out.taln = std::move(ta);
}

}  // namespace

local_alignment profile_align(const std::vector<std::int16_t>& pssm, int L, std::string_view qletters,
                              const std::vector<std::uint8_t>& t, std::string_view tletters, bool traceback, int dlo, int dhi) {
    constexpr int A = 21;
    constexpr int NEG = std::numeric_limits<int>::min() / 4;
    const int T = static_cast<int>(t.size());
    local_alignment out;
    if (L == 0 || T == 0) return out;
    dlo = std::max(dlo, -(L - 1));
    dhi = std::min(dhi, T - 1);
    if (dlo > dhi) return out;
    const int BW = dhi - dlo + 1;  // band width: cells per row
    // Rows over query i, columns over target j. H/E along j (kept per row), F along i (per column).
    std::vector<int> Hprev(static_cast<std::size_t>(T + 1), 0), Hcur(static_cast<std::size_t>(T + 1), 0),
        F(static_cast<std::size_t>(T + 1), NEG);
    // Trace bits per cell: 2 bits H source (0 stop, 1 diag, 2 E, 3 F), bit 2: E opened, bit 3: F opened.
    std::vector<std::uint8_t> tr;
    if (traceback) tr.assign(static_cast<std::size_t>(L) * static_cast<std::size_t>(BW), 0);
    int best = 0, bi = -1, bj = -1;
    for (int i = 0; i < L; ++i) {
        const std::int16_t* row = &pssm[static_cast<std::size_t>(i) * A];
        int E = NEG;
        // Columns j (1-based target) of row i inside the band: j - 1 - i in [dlo, dhi].
        const int jlo = std::max(1, i + dlo + 1), jhi = std::min(T, i + dhi + 1);
        if (jlo > jhi) {
            std::swap(Hprev, Hcur);
            continue;
        }
        Hcur[static_cast<std::size_t>(jlo - 1)] = 0;
        if (jhi > i - 1 + dhi + 1 || i == 0) {  // column entering the band: nothing above it
            Hprev[static_cast<std::size_t>(jhi)] = 0;
            F[static_cast<std::size_t>(jhi)] = NEG;
        }
        std::uint8_t* trow = traceback ? &tr[static_cast<std::size_t>(i) * static_cast<std::size_t>(BW)] : nullptr;
        const int toff = i + dlo + 1;  // trow[j - toff] is cell (i, j)
        for (int j = jlo; j <= jhi; ++j) {
            std::uint8_t bits = 0;
            int eo = Hcur[static_cast<std::size_t>(j - 1)] - gap_open, ee = E - gap_extend;
            if (eo >= ee) {
                E = eo;
                bits |= 4;
            } else {
                E = ee;
            }
            int fo = Hprev[static_cast<std::size_t>(j)] - gap_open, fe = F[static_cast<std::size_t>(j)] - gap_extend;
            int f;
            if (fo >= fe) {
                f = fo;
                bits |= 8;
            } else {
                f = fe;
            }
            F[static_cast<std::size_t>(j)] = f;
            int d = Hprev[static_cast<std::size_t>(j - 1)] + row[t[static_cast<std::size_t>(j - 1)]];
            int h = 0, src = 0;
            if (d > h) { h = d; src = 1; }
            if (E > h) { h = E; src = 2; }
            if (f > h) { h = f; src = 3; }
            Hcur[static_cast<std::size_t>(j)] = h;
            if (trow) trow[j - toff] = static_cast<std::uint8_t>(bits | src);
            if (h > best) {
                best = h;
                bi = i;
                bj = j - 1;
            }
        }
        std::swap(Hprev, Hcur);
    }
    out.score = best;
    if (best <= 0) return out;
    out.qend = bi + 1;
    out.tend = bj + 1;
    if (!traceback) return out;
    trace_back(tr, BW, dlo, bi, bj, qletters, tletters, out);
    return out;
}

}  // namespace tranova::retrieval
