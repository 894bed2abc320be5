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

namespace {
template <typename V>
float maxrel(const V& a, const V& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); i++)
        m = std::max(m, std::fabs(a[i] - b[i]) / std::max(1.0f, std::fabs(b[i])));
    return m;
}
}  // namespace

TEST_CASE("cpu backend runs the training ops like their naive twins", "[core][backend]") {
    backend& be = cpu_backend();
    const int N = 13, C = 37, OC = 19;
    auto x = randv2(size_t(N) * C, 11), w = randv2(C, 12), b = randv2(C, 13), dout = randv2(size_t(N) * C, 14);
    {  // layernorm: saved statistics and backward
        std::vector<float> y(x.size()), mean(N), rstd(N), yr(x.size()), meanr(N), rstdr(N);
        be.layernorm_train(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, 1e-5f);
        layernorm_forward_train_naive<float>(yr.data(), meanr.data(), rstdr.data(), x.data(), w.data(), b.data(), N,
                                             C, 1e-5);
        CHECK(maxrel(y, yr) < 1e-5f);
        std::vector<float> dx(x.size()), dw(C), db(C), dxr(x.size()), dwr(C), dbr(C);
        be.layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(),
                              rstd.data(), N, C);
        layernorm_backward_naive<float>(dxr.data(), dwr.data(), dbr.data(), dout.data(), x.data(), w.data(),
                                        mean.data(), rstd.data(), N, C);
        CHECK(maxrel(dx, dxr) < 1e-4f);
        CHECK(maxrel(dw, dwr) < 1e-4f);
        CHECK(maxrel(db, dbr) < 1e-4f);
    }
    {  // linear backward
        auto W = randv2(size_t(OC) * C, 15), dy = randv2(size_t(N) * OC, 16);
        std::vector<float> dx(x.size()), dW(W.size()), dB(OC), dxr(x.size()), dWr(W.size()), dBr(OC);
        be.linear_backward(dx.data(), dW.data(), dB.data(), dy.data(), x.data(), W.data(), N, C, OC);
        linear_backward_naive<float>(dxr.data(), dWr.data(), dBr.data(), dy.data(), x.data(), W.data(), N, C, OC);
        CHECK(maxrel(dx, dxr) < 1e-4f);
        CHECK(maxrel(dW, dWr) < 1e-4f);
        CHECK(maxrel(dB, dBr) < 1e-4f);
    }
    {  // activation backward
        std::vector<float> d(x.size()), dr(x.size());
        be.activation_backward(activation_kind::gelu, d.data(), dout.data(), x.data(), x.size());
        gelu_backward_naive<float>(dr.data(), dout.data(), x.data(), x.size());
        CHECK(maxrel(d, dr) < 1e-5f);
    }
    {  // cross-entropy with label smoothing and an ignored row
        std::vector<int32_t> t(N);
        for (int i = 0; i < N; ++i) t[i] = (i * 7) % C;
        t[3] = -100;
        std::vector<float> g(x.size()), gr(x.size());
        float l = be.cross_entropy(g.data(), x.data(), t.data(), N, C, -100, 0.01f, 1.0f);
        float lr = cross_entropy_forward_backward_naive(gr.data(), x.data(), t.data(), N, C, -100, 0.01f, 1.0f);
        CHECK(std::fabs(l - lr) < 1e-5f * std::max(1.0f, std::fabs(lr)));
        CHECK(maxrel(g, gr) < 1e-5f);
    }
}

namespace {
// A backend with only the mandatory ops, to check that models learn up front what is missing.
class minimal_backend final : public backend {
public:
    std::string name() const override { return "minimal"; }
    bool supports(op_kind op) const override { return op == op_kind::linear; }
    float* alloc(size_t n) override { return new float[n]; }
    void free(float* p) override { delete[] p; }
    void upload(float*, const float*, size_t) override {}
    void download(float*, const float*, size_t) override {}
    void layernorm(float*, const float*, const float*, const float*, int, int, float) override {}
    void gemm(float*, const float*, const float*, int, int, int, bool, bool, float, float, int, int, int) override {}
    void linear(float*, const float*, const float*, const float*, int, int, int) override {}
    void activation(activation_kind, float*, const float*, size_t) override {}
    void add(float*, const float*, const float*, size_t) override {}
    void softmax(float*, const float*, int, int) override {}
    void log_softmax(float*, const float*, int, int) override {}
};
}  // namespace

TEST_CASE("backend::require names the first missing op; unsupported ops throw", "[core][backend]") {
    minimal_backend be;
    CHECK_NOTHROW(be.require("test model", {op_kind::linear}));
    CHECK_THROWS_WITH(be.require("test model", {op_kind::linear, op_kind::attention_backward}),
                      Catch::Contains("test model needs the op attention_backward") && Catch::Contains("minimal"));
    std::vector<float> v(4);
    CHECK_THROWS_WITH(be.dropout(v.data(), v.data(), 4, 0.1f, 1, 0), Catch::Contains("dropout is not supported"));
    for (int op = 0; op <= static_cast<int>(op_kind::ctc_loss); ++op)
        CHECK(std::string(op_name(static_cast<op_kind>(op))) != "?");
    CHECK(cpu_backend().supports(op_kind::ctc_loss));
}
