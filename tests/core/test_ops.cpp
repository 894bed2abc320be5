// Each fast op against its naive twin on random inputs (several shapes incl. odd sizes).
// Tolerances (max abs difference, inputs ~U(-1,1) or N(0,1)-ish):
//   exact ops (embedding, relu, squared_relu, add):            0 (bit-identical)
//   layernorm, softmax, log_softmax, activations (erf/tanh):   1e-5
//   gemm / linear / matmul (K <= 300):                          1e-4
//   attention (incl. cached start, ALiBi, padding, cross):      2e-5
//   conv1d causal depthwise:                                    1e-5
//   sinusoidal (|x / term| <= 100):                             2e-5
#include "core/ops.hpp"
#include "core/detail/attention.hpp"
#include "random_inputs.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

using namespace tranova::core;

namespace {
float maxdiff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    float m = 0;
    for (size_t i = 0; i < a.size(); i++) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
        m = std::max(m, std::fabs(a[i] - b[i]));
    }
    return m;
}
}  // namespace

TEST_CASE("embedding matches naive and rejects bad ids", "[core][ops]") {
    int V = 25, C = 37, N = 13;
    auto table = randv((size_t)V * C, 1);
    std::vector<int32_t> ids(N);
    for (int i = 0; i < N; i++) ids[i] = (i * 7) % V;
    std::vector<float> a((size_t)N * C), b((size_t)N * C);
    embedding_forward(a.data(), ids.data(), table.data(), N, C, V);
    embedding_forward_naive(b.data(), ids.data(), table.data(), N, C, V);
    CHECK(maxdiff(a, b) == 0.0f);
    ids[5] = 25;
    CHECK_THROWS_WITH(embedding_forward(a.data(), ids.data(), table.data(), N, C, V),
                      Catch::Contains("index 5"));
}

TEST_CASE("layernorm matches naive", "[core][ops]") {
    for (auto [N, C] : {std::pair{1, 1}, {3, 7}, {17, 64}, {33, 768}, {5, 1001}}) {
        auto x = randv((size_t)N * C, N + C, -3, 3), w = randv(C, 2), bias = randv(C, 3);
        std::vector<float> a(x.size()), b(x.size());
        layernorm_forward(a.data(), x.data(), w.data(), bias.data(), N, C, 1e-5f);
        layernorm_forward_naive(b.data(), x.data(), w.data(), bias.data(), N, C, 1e-5f);
        CHECK(maxdiff(a, b) < 1e-5f);
        layernorm_forward(a.data(), x.data(), nullptr, nullptr, N, C, 1e-5f);
        layernorm_forward_naive(b.data(), x.data(), nullptr, nullptr, N, C, 1e-5f);
        CHECK(maxdiff(a, b) < 1e-5f);
    }
}

TEST_CASE("gemm, matmul and linear match naive", "[core][ops]") {
    for (auto [M, N, K] : {std::tuple{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 100, 300}, {129, 7, 31}}) {
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                auto A = randv((size_t)M * K, 11), B = randv((size_t)K * N, 12);
                auto c0 = randv((size_t)M * N, 13);
                auto c1 = c0;
                gemm(c0.data(), A.data(), B.data(), M, N, K, ta, tb, 0.5f, 0.25f, ta ? M : K,
                     tb ? K : N, N);
                gemm_naive(c1.data(), A.data(), B.data(), M, N, K, ta, tb, 0.5f, 0.25f,
                           ta ? M : K, tb ? K : N, N);
                CHECK(maxdiff(c0, c1) < 1e-4f);
                matmul_forward(c0.data(), A.data(), B.data(), M, N, K, ta, tb);
                matmul_forward_naive(c1.data(), A.data(), B.data(), M, N, K, ta, tb);
                CHECK(maxdiff(c0, c1) < 1e-4f);
            }
        auto x = randv((size_t)M * K, 21), W = randv((size_t)N * K, 22), bias = randv(N, 23);
        std::vector<float> y0((size_t)M * N), y1((size_t)M * N);
        linear_forward(y0.data(), x.data(), W.data(), bias.data(), M, K, N);
        linear_forward_naive(y1.data(), x.data(), W.data(), bias.data(), M, K, N);
        CHECK(maxdiff(y0, y1) < 1e-4f);
        linear_forward(y0.data(), x.data(), W.data(), nullptr, M, K, N);
        linear_forward_naive(y1.data(), x.data(), W.data(), nullptr, M, K, N);
        CHECK(maxdiff(y0, y1) < 1e-4f);
    }
}

TEST_CASE("activations, add, softmax, log_softmax match naive", "[core][ops]") {
    for (size_t n : {1u, 7u, 1000u, 70001u}) {
        auto x = randv(n, (unsigned)n, -5, 5), y = randv(n, 99);
        std::vector<float> a(n), b(n);
        relu_forward(a.data(), x.data(), n), relu_forward_naive(b.data(), x.data(), n);
        CHECK(maxdiff(a, b) == 0.0f);
        squared_relu_forward(a.data(), x.data(), n), squared_relu_forward_naive(b.data(), x.data(), n);
        CHECK(maxdiff(a, b) == 0.0f);
        gelu_forward(a.data(), x.data(), n), gelu_forward_naive(b.data(), x.data(), n);
        CHECK(maxdiff(a, b) < 1e-5f);
        gelu_tanh_forward(a.data(), x.data(), n), gelu_tanh_forward_naive(b.data(), x.data(), n);
        CHECK(maxdiff(a, b) < 1e-5f);
        add_forward(a.data(), x.data(), y.data(), n), add_forward_naive(b.data(), x.data(), y.data(), n);
        CHECK(maxdiff(a, b) == 0.0f);
    }
    for (auto [N, C] : {std::pair{1, 1}, {3, 25}, {40, 29}, {7, 1025}}) {
        auto x = randv((size_t)N * C, N * C, -20, 20);
        std::vector<float> a(x.size()), b(x.size());
        softmax_forward(a.data(), x.data(), N, C), softmax_forward_naive(b.data(), x.data(), N, C);
        CHECK(maxdiff(a, b) < 1e-5f);
        log_softmax_forward(a.data(), x.data(), N, C), log_softmax_forward_naive(b.data(), x.data(), N, C);
        CHECK(maxdiff(a, b) < 1e-5f);
        a = x;  // in place
        softmax_forward(a.data(), a.data(), N, C);
        softmax_forward_naive(b.data(), x.data(), N, C);
        CHECK(maxdiff(a, b) < 1e-5f);
    }
}

TEST_CASE("exp_shift_sum: relative error < 1e-6, flush below -87, -inf gives 0", "[core][ops]") {
    for (int n : {1, 7, 8, 9, 1003}) {
        std::vector<float> x(n), y(n);
        for (int i = 0; i < n; i++) x[i] = -100.0f * (float)i / (float)std::max(1, n - 1) + 0.5f;
        if (n > 3) x[2] = -INFINITY;
        float sum = exp_shift_sum(y.data(), x.data(), n, 0.5f);
        double ref = 0, worst = 0;
        for (int i = 0; i < n; i++) {
            double z = (double)x[i] - 0.5, e = z < -87.0 ? 0.0 : std::exp(z);
            ref += e;
            if (z < -87.0) CHECK(y[i] == 0.0f);
            else worst = std::max(worst, std::fabs(y[i] - e) / e);
        }
        CHECK(worst < 1e-6);
        CHECK(std::fabs(sum - ref) <= 1e-6 * ref);
    }
}

TEST_CASE("sinusoidal encodings", "[core][ops]") {
    int n_sin = 32, n_cos = 32;
    std::vector<float> st(n_sin), ct(n_cos);
    sinusoidal_terms(st.data(), n_sin, ct.data(), n_cos, 1.0f, 10000.0f);
    CHECK(st[0] == Approx(1.0 / (2 * M_PI)));
    CHECK(st[n_sin - 1] == Approx(10000.0 / (2 * M_PI)).epsilon(1e-5));
    auto x = randv(13, 5, 0, 60);
    std::vector<float> a(13 * 64), b(13 * 64);
    sinusoidal_forward(a.data(), x.data(), 13, st.data(), n_sin, ct.data(), n_cos);
    sinusoidal_forward_naive(b.data(), x.data(), 13, st.data(), n_sin, ct.data(), n_cos);
    CHECK(maxdiff(a, b) < 2e-5f);
    std::vector<float> pos(5 * 6);
    sinusoidal_positions_forward(pos.data(), 3, 5, 6);
    CHECK(pos[0] == Approx(std::sin(3.0)));
    CHECK(pos[1] == Approx(std::cos(3.0)));
}

TEST_CASE("causal depthwise conv matches naive, also from a start position", "[core][ops]") {
    for (int K : {1, 3, 5, 7}) {
        for (auto [B, T, WC, heads] : {std::tuple{1, 1, 3, 1}, {2, 13, 16, 3}, {3, 40, 7, 2}}) {
            int C = WC * heads;
            long ld = C + 5;  // padded rows, as in a fused buffer
            auto x = randv((size_t)B * T * ld, K * 100 + T);
            auto w = randv((size_t)WC * K, 2), bias = randv(WC, 3);
            conv1d_shape s{B, T, 0, C, WC, K, ld, T * ld, C, (long)T * C};
            std::vector<float> a((size_t)B * T * C), b((size_t)B * T * C);
            conv1d_causal_depthwise_forward(a.data(), x.data(), w.data(), bias.data(), s);
            conv1d_causal_depthwise_forward_naive(b.data(), x.data(), w.data(), bias.data(), s);
            CHECK(maxdiff(a, b) < 1e-5f);
            // tail from `start` using the cached earlier inputs equals the full run's rows
            for (int start : {1, T / 2, T - 1}) {
                if (start <= 0 || start >= T) continue;
                conv1d_shape s2 = s;
                s2.start = start, s2.T = T - start, s2.bs_out = (long)(T - start) * C;
                std::vector<float> c((size_t)B * (T - start) * C);
                conv1d_causal_depthwise_forward(c.data(), x.data(), w.data(), bias.data(), s2);
                float m = 0;
                for (int bb = 0; bb < B; bb++)
                    for (int t = 0; t < T - start; t++)
                        for (int ch = 0; ch < C; ch++)
                            m = std::max(m, std::fabs(c[((size_t)bb * (T - start) + t) * C + ch] -
                                                      a[((size_t)bb * T + start + t) * C + ch]));
                CHECK(m == 0.0f);
            }
        }
    }
}

TEST_CASE("attention matches naive: causal, ALiBi, padding, cached start, cross", "[core][ops]") {
    struct cfg { int B, T, TK, NH, HD; bool causal, alibi, pad; };
    // Both product paths: the AVX-512 kernel (when the CPU has it) and BLAS.
    for (bool force_blas : {false, true})
    for (cfg c : {cfg{1, 1, 1, 1, 8, true, false, false}, cfg{2, 13, 13, 3, 16, true, true, true},
                  cfg{1, 130, 130, 4, 64, true, true, false}, cfg{3, 7, 29, 2, 5, false, false, true},
                  cfg{2, 70, 70, 2, 9, false, true, true}, cfg{1, 100, 300, 2, 64, false, true, false}}) {
        attention_force_blas = force_blas;
        CAPTURE(force_blas, attention_uses_avx512(), c.B, c.T, c.TK, c.NH, c.HD);
        attention_shape s = attention_shape_contiguous(c.B, c.T, c.TK, c.NH, c.HD);
        s.causal = c.causal;
        int C = c.NH * c.HD;
        auto q = randv((size_t)c.B * c.T * C, 1, -2, 2), k = randv((size_t)c.B * c.TK * C, 2, -2, 2),
             v = randv((size_t)c.B * c.TK * C, 3);
        std::vector<float> slopes(c.NH);
        for (int h = 0; h < c.NH; h++) slopes[h] = std::pow(2.0f, -(float)(h + 1));
        if (c.alibi) s.alibi_slopes = slopes.data();
        std::vector<uint8_t> valid((size_t)c.B * c.TK, 1);
        if (c.pad) {
            for (int b = 0; b < c.B; b++)
                for (int j = c.TK - b * 2; j < c.TK; j++) valid[(size_t)b * c.TK + j] = 0;
            s.key_valid = valid.data();
        }
        std::vector<float> a(q.size()), b(q.size()), pa((size_t)c.B * c.NH * c.T * c.TK),
            pb(pa.size()), scratch(attention_scratch_floats(s));
        attention_forward(a.data(), pa.data(), q.data(), k.data(), v.data(), s, scratch.data());
        attention_forward_naive(b.data(), pb.data(), q.data(), k.data(), v.data(), s);
        CHECK(maxdiff(a, b) < 2e-5f);
        CHECK(maxdiff(pa, pb) < 2e-5f);
        if (c.causal && c.T > 2) {
            // compute only rows [start, T) with the full K/V as cache: must equal the tail
            int start = c.T / 2 + 1;
            attention_shape s2 = s;
            s2.T = c.T - start, s2.start = start, s2.bs_q = s2.bs_o = (long)s2.T * C;
            std::vector<float> q2((size_t)c.B * s2.T * C), o2(q2.size());
            for (int bb = 0; bb < c.B; bb++)
                std::copy(q.begin() + ((size_t)bb * c.T + start) * C, q.begin() + ((size_t)bb + 1) * c.T * C,
                          q2.begin() + (size_t)bb * s2.T * C);
            attention_forward(o2.data(), nullptr, q2.data(), k.data(), v.data(), s2, scratch.data());
            float m = 0;
            for (int bb = 0; bb < c.B; bb++)
                for (size_t i = 0; i < (size_t)s2.T * C; i++)
                    m = std::max(m, std::fabs(o2[(size_t)bb * s2.T * C + i] - a[((size_t)bb * c.T + start) * C + i]));
            CHECK(m < 2e-5f);
        }
    }
    attention_force_blas = false;
}

TEST_CASE("attention on a fused QKV buffer with strides", "[core][ops]") {
    int B = 2, T = 21, NH = 3, HD = 8, C = NH * HD;
    auto qkv = randv((size_t)B * T * 3 * C, 7, -2, 2);
    attention_shape s = attention_shape_contiguous(B, T, T, NH, HD);
    s.causal = true;
    s.ld_q = s.ld_k = s.ld_v = 3 * C;
    s.bs_q = s.bs_k = s.bs_v = (long)T * 3 * C;
    std::vector<float> a((size_t)B * T * C), b(a.size()), scratch(attention_scratch_floats(s));
    attention_forward(a.data(), nullptr, qkv.data(), qkv.data() + C, qkv.data() + 2 * C, s, scratch.data());
    attention_forward_naive(b.data(), nullptr, qkv.data(), qkv.data() + C, qkv.data() + 2 * C, s);
    CHECK(maxdiff(a, b) < 2e-5f);
}
