// Sequence-weight kernel throughput: bit-sliced count_neighbours (OpenMP) on a synthetic
// N x L MSA of mutated families, validated against the naive twin on a subsample first.
// Usage: bench_weights [N=20000] [L=1000] [families=200] [mutation_rate=0.3]
//        bench_weights --a2m FILE   (EVE weights of a real alignment)
#include "msa/msa.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "--a2m") {  // real alignment: EVE weights timing
        auto a = tranova::msa::read_alignment(argv[2]);
        auto t0 = std::chrono::steady_clock::now();
        auto e = tranova::msa::eve_weights(a, {});
        auto t1 = std::chrono::steady_clock::now();
        fmt::print("{}: {} x {} -> {} rows x {} columns, N_eff {:.4f}, {:.3f} s (threads {})\n", argv[2], a.num_rows(), a.num_columns(),
                   e.kept_rows.size(), e.focus_columns.size(), e.neff, std::chrono::duration<double>(t1 - t0).count(), omp_get_max_threads());
        return 0;
    }
    std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
    std::size_t l = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000;
    std::size_t fam = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200;
    double rate = argc > 4 ? std::atof(argv[4]) : 0.3;
    std::mt19937 rng(1);
    std::vector<std::uint8_t> anc(fam * l), codes(n * l);
    for (auto& c : anc) c = static_cast<std::uint8_t>(rng() % 21);
    std::uniform_real_distribution<double> u(0, 1);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t k = 0; k < l; ++k)
            codes[r * l + k] = u(rng) < rate ? static_cast<std::uint8_t>(rng() % 21) : anc[(r % fam) * l + k];
    std::vector<std::int32_t> need(n);
    for (std::size_t r = 0; r < n; ++r) {
        std::int32_t ng = 0;
        for (std::size_t k = 0; k < l; ++k) ng += codes[r * l + k] != 0;
        need[r] = static_cast<std::int32_t>(0.8 * ng) + 1;
    }
    // Validate on the first 500 rows.
    std::size_t nv = std::min<std::size_t>(n, 500);
    std::vector<std::uint8_t> sub(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(nv * l));
    std::vector<std::int32_t> subneed(need.begin(), need.begin() + static_cast<std::ptrdiff_t>(nv));
    auto t0 = std::chrono::steady_clock::now();
    auto slow = tranova::msa::count_neighbours_naive(sub, nv, l, subneed, false);
    auto t1 = std::chrono::steady_clock::now();
    auto fastv = tranova::msa::count_neighbours(sub, nv, l, subneed, false);
    auto t2 = std::chrono::steady_clock::now();
    bool ok = slow == fastv;
    double naive_s = std::chrono::duration<double>(t1 - t0).count(), fast_small = std::chrono::duration<double>(t2 - t1).count();
    auto t3 = std::chrono::steady_clock::now();
    auto full = tranova::msa::count_neighbours(codes, n, l, need, false, true);
    auto t4 = std::chrono::steady_clock::now();
    auto scalar = tranova::msa::count_neighbours(codes, n, l, need, false, false);
    auto t5 = std::chrono::steady_clock::now();
    ok = ok && full == scalar;
    double s = std::chrono::duration<double>(t4 - t3).count(), s_scalar = std::chrono::duration<double>(t5 - t4).count();
    double pairs = 0.5 * static_cast<double>(n) * static_cast<double>(n - 1);
    fmt::print("validation ({} rows): {} | naive {:.3f} s, bit-sliced {:.4f} s, ratio {:.1f}x\n", nv, ok ? "OK" : "MISMATCH", naive_s,
               fast_small, naive_s / fast_small);
    fmt::print("N={} L={} threads={}: {:.2f} s, {:.3g} pair-columns/s ({:.3g} pairs/s)\n", n, l, omp_get_max_threads(), s,
               pairs * static_cast<double>(l) / s, pairs / s);
    fmt::print("scalar bit-sliced kernel: {:.2f} s; AVX2 4-row kernel speed-up {:.2f}x (same counts: {})\n", s_scalar, s_scalar / s,
               full == scalar ? "yes" : "NO");
    return ok ? 0 : 1;
}
