// Backend ops against the CPU naive twins. The CUDA backend is checked when built with
// TRANOVA_WITH_CUDA and a device is present; otherwise the test says why and skips.
// Tolerances (max abs): layernorm/softmax/log_softmax/activations/add 1e-5, gemm/linear 1e-4
// (cuBLAS with TF32 off).
#include "core/backend.hpp"
#include "random_inputs.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace tranova::core;

namespace {
// Inputs ~U(-2, 2) for the backend comparisons.
std::vector<float> randv2(size_t n, unsigned seed) { return randv(n, seed, -2.0f, 2.0f); }
float maxdiff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); i++) m = std::isfinite(a[i]) ? std::max(m, std::fabs(a[i] - b[i])) : INFINITY;
    return m;
}

// device buffer holding a copy of host data
struct dbuf {
    backend& be;
    float* p;
    size_t n;
    dbuf(backend& b, const std::vector<float>& h) : be(b), p(b.alloc(h.size())), n(h.size()) { b.upload(p, h.data(), n); }
    dbuf(backend& b, size_t count) : be(b), p(b.alloc(count)), n(count) {}
    ~dbuf() { be.free(p); }
    std::vector<float> get() {
        std::vector<float> h(n);
        be.synchronize();
        be.download(h.data(), p, n);
        return h;
    }
};

void check_backend(backend& be) {
    INFO(be.name());
    for (auto [N, C] : {std::pair{1, 1}, {7, 33}, {65, 768}, {3, 1025}}) {
        auto x = randv2((size_t)N * C, N + C), w = randv2(C, 2), b = randv2(C, 3);
        std::vector<float> ref((size_t)N * C);
        dbuf dx(be, x), dw(be, w), db(be, b), dy(be, (size_t)N * C);
        be.layernorm(dy.p, dx.p, dw.p, db.p, N, C, 1e-5f);
        layernorm_forward_naive(ref.data(), x.data(), w.data(), b.data(), N, C, 1e-5f);
        CHECK(maxdiff(dy.get(), ref) < 1e-5f);
        be.softmax(dy.p, dx.p, N, C);
        softmax_forward_naive(ref.data(), x.data(), N, C);
        CHECK(maxdiff(dy.get(), ref) < 1e-5f);
        be.log_softmax(dy.p, dx.p, N, C);
        log_softmax_forward_naive(ref.data(), x.data(), N, C);
        CHECK(maxdiff(dy.get(), ref) < 1e-5f);
        be.activation(activation_kind::gelu, dy.p, dx.p, x.size());
        gelu_forward_naive(ref.data(), x.data(), x.size());
        CHECK(maxdiff(dy.get(), ref) < 1e-5f);
        be.activation(activation_kind::squared_relu, dy.p, dx.p, x.size());
        squared_relu_forward_naive(ref.data(), x.data(), x.size());
        CHECK(maxdiff(dy.get(), ref) < 1e-5f);
        be.add(dy.p, dx.p, dx.p, x.size());
        add_forward_naive(ref.data(), x.data(), x.data(), x.size());
        CHECK(maxdiff(dy.get(), ref) == 0.0f);
    }
    for (auto [M, N, K] : {std::tuple{1, 1, 1}, {17, 33, 65}, {64, 100, 300}}) {
        auto a = randv2((size_t)M * K, 5), w = randv2((size_t)N * K, 6), bias = randv2(N, 7);
        std::vector<float> ref((size_t)M * N);
        dbuf da(be, a), dw(be, w), db(be, bias), dy(be, (size_t)M * N);
        be.linear(dy.p, da.p, dw.p, db.p, M, K, N);
        linear_forward_naive(ref.data(), a.data(), w.data(), bias.data(), M, K, N);
        CHECK(maxdiff(dy.get(), ref) < 1e-4f);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                auto bm = randv2((size_t)K * N, 8);
                dbuf dbm(be, bm);
                be.gemm(dy.p, da.p, dbm.p, M, N, K, ta, tb, 1.0f, 0.0f, ta ? M : K, tb ? K : N, N);
                gemm_naive(ref.data(), a.data(), bm.data(), M, N, K, ta, tb, 1.0f, 0.0f, ta ? M : K, tb ? K : N, N);
                CHECK(maxdiff(dy.get(), ref) < 1e-4f);
            }
    }
}
}  // namespace

TEST_CASE("cpu backend matches the naive ops", "[core][backend]") {
    auto be = make_cpu_backend();
    CHECK(be->name() == "cpu");
    CHECK(be->supports(op_kind::attention));
    check_backend(*be);
}

TEST_CASE("cuda backend matches the naive ops (skips without a device)", "[core][backend][cuda]") {
    std::string why;
    if (!cuda_backend_built()) why = "this build has no CUDA backend (TRANOVA_CUDA=OFF or no nvcc)";
    if (!cuda_backend_built() || !cuda_device_available(&why)) {
        std::printf("SKIPPED: CUDA backend test: %s\n", why.c_str());
        SUCCEED("skipped: " + why);
        return;
    }
    auto be = make_cuda_backend(0);
    std::printf("CUDA backend: %s\n", be->name().c_str());
    CHECK_FALSE(be->supports(op_kind::attention));
    check_backend(*be);
}
