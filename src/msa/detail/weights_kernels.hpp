// Internal to tranova::msa: the 8-lane packed layout used by the AVX-512 neighbour-count
// kernel (weights_avx512.cpp, built with AVX-512 flags) and packed by weights.cpp.
// Raw pointers and plain integers only: the AVX-512 translation unit must not instantiate
// any inline STL template that the linker could merge into code run on other CPUs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tranova::msa::detail {

constexpr std::size_t lane_rows = 8;   // rows per group = 64-bit lanes of a 512-bit register
constexpr std::size_t head_words = 4;  // first 256 columns: kept in registers across j

// Columns are reordered (least likely to match first) and packed as bit planes: bit k of
// plane p of word w is bit p of the code of column 64 w + k. The row side "i" (groups of 8
// rows, one per lane) and the side "j" (one row, broadcast) code gaps (when gaps do not
// match) and padding columns with two different values, so that a match is simply "all
// planes equal": no mask plane. planes = 5 when every code is < 30, else 6.
struct lane_layout {
    std::size_t n = 0;       // rows
    std::size_t groups = 0;  // ceil(n / 8)
    std::size_t words = 0;   // 64-column words per row (>= head_words; extra words are padding)
    int planes = 5;
    const std::uint64_t* gbits = nullptr;  // [groups][words][planes][8]   side i, lane = row % 8
    const std::uint64_t* jhead = nullptr;  // [n][head_words][planes]      side j, first words
    const std::uint64_t* jtail = nullptr;  // [n][words - head_words][planes]
    const std::int64_t* gsuf = nullptr;    // [groups][words + 1][8]  residues that can match from word w on
    const std::int64_t* jsuf = nullptr;    // [n][words + 1]
    const std::int64_t* gneed = nullptr;   // [groups][8]  min matches (padding lanes: INT64_MAX)
    const std::int64_t* jneed = nullptr;   // [n]
    const unsigned char* check = nullptr;  // [words + 1]: 1 if the stop test after w words can fire
};

// Counts, for groups [g0, g1) against rows j in [j0, j1) with j > i, the pairs whose match
// count reaches each side's need; adds them to cnt[i] and cnt[j] (cnt has n entries).
void count_lanes_avx512(const lane_layout& lay, std::size_t g0, std::size_t g1, std::size_t j0, std::size_t j1,
                        std::int32_t* cnt);

}  // namespace tranova::msa::detail
