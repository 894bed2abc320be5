// The kernel paths of msa::count_neighbours (msa/msa.hpp), not part of msa's interface:
// the tests force each path to check it against the naive twin. Defined in
// msa/weights.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tranova::msa::detail {

// Kernel paths of count_neighbours (all exact, same results): `best` picks avx512 when the
// build has it and the CPU has AVX-512F + VPOPCNTDQ (8 rows per 512-bit register, chosen at
// run time), else avx2x8 (the same 8-row layout as two 256-bit halves, x86-64-v3 builds),
// else scalar (one 64-bit word at a time). avx2 is the earlier AVX2 kernel (4 rows per
// register, mask plane), kept as a fallback and benchmark baseline. Forcing a path the
// build or CPU lacks throws tranova::error.
enum class neighbour_path { best, scalar, avx2, avx2x8, avx512 };
bool neighbour_path_available(neighbour_path path);
neighbour_path neighbour_path_chosen(neighbour_path path);  // what `best` resolves to
std::string_view neighbour_path_name(neighbour_path path);
std::vector<std::int64_t> count_neighbours(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                           std::span<const std::int32_t> min_matches_ge, bool count_gap_matches,
                                           neighbour_path path);

}  // namespace tranova::msa::detail
