// Optimised ops against their naive twins (random inputs, tolerance 1e-5 relative).
#include "denovo_model/nn.hpp"
#include "test_util.hpp"

#include <random>

using namespace tranova::denovo_model;

static std::vector<float> randv(size_t n, std::mt19937& g, float scale = 1.0f) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

TEST_CASE("linear_forward matches the naive twin", "[denovo_model][nn]") {
    std::mt19937 g(1);
    int N = 7, I = 33, O = 19;
    auto x = randv(size_t(N) * I, g), w = randv(size_t(O) * I, g), b = randv(size_t(O), g);
    std::vector<float> a(size_t(N) * O), r(size_t(N) * O);
    linear_forward(a.data(), x.data(), w.data(), b.data(), N, I, O);
    linear_forward_naive(r.data(), x.data(), w.data(), b.data(), N, I, O);
    CHECK(compare(a.data(), r.data(), a.size()).max_rel < 1e-5);
}

TEST_CASE("mha_forward matches the naive twin (mask, causal)", "[denovo_model][nn]") {
    std::mt19937 g(2);
    int Tq = 6, Tk = 9, d = 16, H = 4;
    auto q = randv(size_t(Tq) * d, g), kv = randv(size_t(Tk) * d, g);
    auto inw = randv(size_t(3) * d * d, g, 0.3f), inb = randv(size_t(3) * d, g, 0.1f);
    auto ow = randv(size_t(d) * d, g, 0.3f), ob = randv(size_t(d), g, 0.1f);
    mha_weights w{inw.data(), inb.data(), ow.data(), ob.data()};
    bool pad[9] = {false, false, true, false, false, false, false, true, false};
    std::vector<float> a(size_t(Tq) * d), r(size_t(Tq) * d), scratch(size_t(mha_scratch_size(Tq, Tk, d)));
    for (bool causal : {false, true}) {
        mha_forward(a.data(), q.data(), kv.data(), w, pad, causal, Tq, Tk, d, H, scratch.data());
        mha_forward_naive(r.data(), q.data(), kv.data(), w, pad, causal, Tq, Tk, d, H);
        CHECK(compare(a.data(), r.data(), a.size()).max_rel < 1e-5);
    }
}

TEST_CASE("layernorm_forward normalises rows", "[denovo_model][nn]") {
    std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 1, 1}, b = {0, 0, 0, 0}, y(4);
    layernorm_forward(y.data(), x.data(), w.data(), b.data(), 1, 4);
    CHECK(y[0] == Approx(-1.3416355).epsilon(1e-5));
    CHECK(y[3] == Approx(1.3416355).epsilon(1e-5));
}
