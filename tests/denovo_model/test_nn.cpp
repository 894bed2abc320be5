// The nn.MultiheadAttention wiring (mha_forward over core's fast ops) against the same wiring
// over core's naive twins (random inputs, tolerance 1e-5 relative). The ops themselves are
// tested in tests/core.
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

TEST_CASE("mha_forward matches the naive twin (mask, causal)", "[denovo_model][nn]") {
    std::mt19937 g(2);
    int Tq = 6, Tk = 9, d = 16, H = 4;
    auto q = randv(size_t(Tq) * d, g), kv = randv(size_t(Tk) * d, g);
    auto inw = randv(size_t(3) * d * d, g, 0.3f), inb = randv(size_t(3) * d, g, 0.1f);
    auto ow = randv(size_t(d) * d, g, 0.3f), ob = randv(size_t(d), g, 0.1f);
    mha_weights w{inw.data(), inb.data(), ow.data(), ob.data()};
    const uint8_t valid[9] = {1, 1, 0, 1, 1, 1, 1, 0, 1};
    std::vector<float> a(size_t(Tq) * d), r(size_t(Tq) * d), scratch(size_t(mha_scratch_size(Tq, Tk, d, H)));
    for (bool causal : {false, true}) {
        mha_forward(a.data(), q.data(), kv.data(), w, valid, causal, Tq, Tk, d, H, scratch.data());
        mha_forward_naive(r.data(), q.data(), kv.data(), w, valid, causal, Tq, Tk, d, H);
        CHECK(compare(a.data(), r.data(), a.size()).max_rel < 1e-5);
    }
}
