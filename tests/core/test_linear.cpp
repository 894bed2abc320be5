// Packed linear layers (core/linear.hpp) against their naive twin: every kernel this CPU
// can run (BLAS always; AVX-512 panels when the CPU has AVX-512F), every epilogue, odd
// shapes (rows not a multiple of the 8-row tile or the 96-row block, output columns not a
// multiple of the 48-column panel), one thread and several.
// Tolerance: max |difference| <= 1e-4 * (1 + |naive|), inputs ~U(-1, 1), K <= 800 (the
// GEMM family's bound in test_ops.cpp, relative for the squared outputs).
#include "core/linear.hpp"
#include "random_inputs.hpp"

#include <catch2/catch.hpp>
#include <omp.h>

#include <cmath>
#include <random>
#include <vector>

using namespace tranova::core;

namespace {
double worst(const std::vector<float>& got, const std::vector<float>& want) {
    double w = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        w = std::max(w, std::fabs(double(got[i]) - want[i]) / (1.0 + std::fabs(double(want[i]))));
    }
    return w;
}
}  // namespace

TEST_CASE("packed linear matches naive for every kernel, epilogue and odd shape", "[core][linear]") {
    std::vector<linear_kernel> kernels{linear_kernel::blas};
    if (cpu_has_avx512()) kernels.push_back(linear_kernel::avx512);
    else WARN("this CPU has no AVX-512F: only the BLAS path of the packed linear is tested");
    const linear_epilogue epilogues[] = {linear_epilogue::store, linear_epilogue::squared_relu,
                                         linear_epilogue::accumulate};
    struct shape { int N, IC, OC; };
    const shape shapes[] = {{1, 1, 1}, {1, 7, 25}, {7, 33, 47}, {8, 64, 48}, {9, 65, 49},
                            {95, 100, 96}, {97, 31, 145}, {200, 768, 25}, {193, 128, 200}};
    for (auto kernel : kernels)
        for (auto e : epilogues)
            for (auto s : shapes)
                for (bool with_bias : {true, false})
                    for (int threads : {1, 2}) {
                        CAPTURE(int(kernel), int(e), s.N, s.IC, s.OC, with_bias, threads);
                        auto x = randv(size_t(s.N) * s.IC, s.N * 7 + s.IC);
                        auto w = randv(size_t(s.OC) * s.IC, s.OC * 3 + 1);
                        auto b = randv(size_t(s.OC), s.OC + 5);
                        auto init = randv(size_t(s.N) * s.OC, 99);  // the residual for accumulate
                        std::vector<float> got = init, want = init;
                        auto pw = pack_linear(w.data(), s.IC, s.OC, kernel);
                        CHECK(pw.panels == (kernel == linear_kernel::avx512));
                        const int saved = omp_get_max_threads();
                        omp_set_num_threads(threads);
                        linear_forward_packed(got.data(), x.data(), pw, with_bias ? b.data() : nullptr, s.N, e);
                        omp_set_num_threads(saved);
                        linear_forward_epilogue_naive(want.data(), x.data(), w.data(), with_bias ? b.data() : nullptr,
                                                      s.N, s.IC, s.OC, e);
                        CHECK(worst(got, want) <= 1e-4);
                    }
}

TEST_CASE("packed linear: the thread count does not change a single bit", "[core][linear]") {
    const int N = 300, IC = 96, OC = 150;
    auto x = randv(size_t(N) * IC, 1), w = randv(size_t(OC) * IC, 2), b = randv(size_t(OC), 3);
    auto pw = pack_linear(w.data(), IC, OC);
    std::vector<float> one(size_t(N) * OC), two(size_t(N) * OC);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    linear_forward_packed(one.data(), x.data(), pw, b.data(), N);
    omp_set_num_threads(2);
    linear_forward_packed(two.data(), x.data(), pw, b.data(), N);
    omp_set_num_threads(saved);
    CHECK(one == two);
}

TEST_CASE("packed linear rejects an impossible request", "[core][linear]") {
    float w[4] = {1, 2, 3, 4};
    CHECK_THROWS(pack_linear(w, 0, 4));
    if (!cpu_has_avx512()) CHECK_THROWS_WITH(pack_linear(w, 2, 2, linear_kernel::avx512), Catch::Contains("AVX-512"));
}
