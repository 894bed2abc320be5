// Sequence-weight kernel throughput: every available count_neighbours path (scalar, AVX2,
// AVX-512) on a synthetic N x L MSA of mutated families, each validated against the naive
// twin on a subsample first, then timed in the same process; ratios against the AVX2 path
// (the kernel before the AVX-512 one).
// Usage: bench_weights [N=20000] [L=1000] [families=200] [mutation_rate=0.3] [reps] [paths]
//        bench_weights --a2m FILE   (EVE weights of a real alignment)
// reps: timed runs per path (median reported); default 5 for N <= 30000, else 1. The scalar
// path is timed only for N <= 30000 (minutes at 100 000 rows). paths: comma-separated subset
// of avx2,scalar,avx512 (default: every available one, in that order).
#include "msa/msa.hpp"
#include "msa/detail/neighbour_paths.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

namespace msa = tranova::msa;

namespace {

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    if (!(in >> a >> b >> c)) return "?";
    return a + " " + b + " " + c;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "--a2m") {  // real alignment: EVE weights timing
        auto a = msa::read_alignment(argv[2]);
        auto t0 = std::chrono::steady_clock::now();
        auto e = msa::eve_weights(a, {});
        double s = seconds_since(t0);
        fmt::print("{}: {} x {} -> {} rows x {} columns, N_eff {:.4f}, {:.3f} s (threads {}, path {})\n", argv[2], a.num_rows(),
                   a.num_columns(), e.kept_rows.size(), e.focus_columns.size(), e.neff, s, omp_get_max_threads(),
                   msa::detail::neighbour_path_name(msa::detail::neighbour_path_chosen(msa::detail::neighbour_path::best)));
        return 0;
    }
    std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
    std::size_t l = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000;
    std::size_t fam = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200;
    double rate = argc > 4 ? std::atof(argv[4]) : 0.3;
    int reps = argc > 5 ? std::atoi(argv[5]) : (n <= 30000 ? 5 : 1);
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
        need[r] = static_cast<std::int32_t>(0.8 * ng) + 1;  // EVE, theta 0.2: matches / non-gap > 0.8
    }
    std::string only;
    if (argc > 6) {
        only = ",";
        only += argv[6];
        only += ",";
    }
    std::vector<msa::detail::neighbour_path> paths;
    for (auto p : {msa::detail::neighbour_path::avx2, msa::detail::neighbour_path::scalar, msa::detail::neighbour_path::avx2x8, msa::detail::neighbour_path::avx512}) {
        const std::string name(msa::detail::neighbour_path_name(p));
        if (!msa::detail::neighbour_path_available(p)) continue;
        if (only.empty() ? (p != msa::detail::neighbour_path::scalar || n <= 30000) : only.find("," + name + ",") != std::string::npos)
            paths.push_back(p);
    }

    // Validate every path on the first 500 rows (EVE and EVcouplings gap rules).
    bool ok = true;
    std::size_t nv = std::min<std::size_t>(n, 500);
    std::vector<std::uint8_t> sub(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(nv * l));
    std::vector<std::int32_t> subneed(need.begin(), need.begin() + static_cast<std::ptrdiff_t>(nv));
    std::string verdict;
    for (bool gm : {false, true}) {
        auto slow = msa::count_neighbours_naive(sub, nv, l, subneed, gm);
        for (auto p : paths) {
            bool same = msa::detail::count_neighbours(sub, nv, l, subneed, gm, p) == slow;
            ok = ok && same;
            verdict += fmt::format(" {}{}:{}", msa::detail::neighbour_path_name(p), gm ? "(gap=gap)" : "", same ? "OK" : "MISMATCH");
        }
    }
    fmt::print("validation against the naive twin ({} rows):{}\n", nv, verdict);

    const double pairs = 0.5 * static_cast<double>(n) * static_cast<double>(n - 1);
    const double words = static_cast<double>((l + 63) / 64);
    fmt::print("N={} L={} families={} rate={} threads={} runs/path={} | load average before: {}\n", n, l, fam, rate,
               omp_get_max_threads(), reps, load_average());
    fmt::print("{:<8} {:>9} {:>9} {:>9} {:>9} {:>13} {:>10} {:>11}\n", "path", "median s", "min s", "cpu s", "vs avx2",
               "pair-cols/s", "pairs/s", "GB/s (est)");
    std::vector<std::int64_t> first;
    double base = 0;
    for (auto p : paths) {
        std::vector<double> t, cpu;
        std::vector<std::int64_t> got;
        for (int k = 0; k < std::max(1, reps); ++k) {
            auto t0 = std::chrono::steady_clock::now();
            std::clock_t c0 = std::clock();
            got = msa::detail::count_neighbours(codes, n, l, need, false, p);
            cpu.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
            t.push_back(seconds_since(t0));
        }
        std::sort(cpu.begin(), cpu.end());
        if (first.empty())
            first = got;
        else
            ok = ok && got == first;
        std::sort(t.begin(), t.end());
        const double med = t[t.size() / 2];
        if (p == msa::detail::neighbour_path::avx2) base = med;
        // Bytes of packed planes the kernel loads for the first 256 columns, which every pair
        // compares before it can stop (estimate; pairs that go on load more):
        //   scalar: both rows, 6 planes x 8 B per word;  avx2: a group of 4 rows (i) and row j,
        //   6 planes, per 4 pairs;  avx2x8: 8 rows i and row j, 5 planes, per 8 pairs;
        //   avx512: row j's 5 planes per 8 pairs (rows i stay in registers).
        const double w0 = std::min(words, 4.0);
        double bytes_per_pair = p == msa::detail::neighbour_path::scalar ? w0 * 6 * 8 * 2
                                : p == msa::detail::neighbour_path::avx2   ? w0 * 6 * 8 * 5 / 4.0
                                : p == msa::detail::neighbour_path::avx2x8 ? w0 * 5 * 8 * 9 / 8.0
                                                                   : w0 * 5 * 8 / 8.0;
        fmt::print("{:<8} {:>9.3f} {:>9.3f} {:>9.3f} {:>9} {:>13.3g} {:>10.3g} {:>11.1f}\n", msa::detail::neighbour_path_name(p), med,
                   t.front(), cpu[cpu.size() / 2],
                   base > 0 ? fmt::format("{:.2f}x", base / med) : "-", pairs * static_cast<double>(l) / med, pairs / med,
                   pairs * bytes_per_pair / med / 1e9);
    }
    fmt::print("load average after: {} | all paths same counts: {}\n", load_average(), ok ? "yes" : "NO");
    fmt::print("cpu s: process CPU time, all threads (median); pair-cols/s counts every column of every pair (early exit\n"
               "skips most); GB/s: packed planes loaded for the first 256 columns of each pair (all pairs compare those)\n");
    return ok ? 0 : 1;
}
