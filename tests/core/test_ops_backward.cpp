// Backward ops (core/ops_backward.hpp), three ways:
//  (a) the naive twins in double against central finite differences of the double naive
//      forwards, on tiny odd shapes (with masks, ALiBi, strides, nullptr parameters).
//      Loss L = sum(R * out) for a fixed random R, so dout = R; step h = 1e-5.
//      Tolerance: |fd - analytic| <= 1e-6 * max(1, |analytic|)  (observed ~1e-10).
//      Gradient buffers start at random values and the increment is compared: this also
//      checks the accumulate (+=) convention of every naive twin.
//  (b) the fast ops against their float naive twins on odd and larger shapes, gradient
//      buffers again pre-filled: |fast - naive| <= 1e-4 * (1 + |naive|) (embedding and
//      relu exact); and 1 vs 2 threads bit-identical for every op.
//  (c) accumulate: a fast backward run twice from zero gives exactly 2x one run.
// Plus: the double forwards against the float ones, layernorm_forward_train against
// layernorm_forward (bit-identical), dropout's mask statistics and reproducibility.
#include "core/linear.hpp"
#include "core/ops_backward.hpp"
#include "random_inputs.hpp"
#include "util/threads.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

using namespace tranova::core;

namespace {
using vecd = std::vector<double>;
using vecf = std::vector<float>;

vecd randd(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    vecf f = randv(n, seed, lo, hi);
    return vecd(f.begin(), f.end());
}
vecf tof(const vecd& d) { return vecf(d.begin(), d.end()); }
double dot(const vecd& a, const vecd& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
    return s;
}

// Worst |fd - analytic| / max(1, |analytic|) over the elements of x, where analytic is
// (grad_after - grad_before) of a backward that accumulated into a pre-filled buffer.
double fd_worst(vecd& x, const vecd& grad_after, const vecd& grad_before,
                const std::function<double()>& loss) {
    const double h = 1e-5;
    double worst = 0;
    for (size_t i = 0; i < x.size(); i++) {
        const double x0 = x[i];
        x[i] = x0 + h;
        const double lp = loss();
        x[i] = x0 - h;
        const double lm = loss();
        x[i] = x0;
        const double fd = (lp - lm) / (2 * h), an = grad_after[i] - grad_before[i];
        worst = std::max(worst, std::fabs(fd - an) / std::max(1.0, std::fabs(an)));
    }
    return worst;
}
constexpr double fd_tol = 1e-6;

// Worst |fast - naive| / (1 + |naive|).
double worst_rel(const vecf& fast, const vecf& naive) {
    REQUIRE(fast.size() == naive.size());
    double w = 0;
    for (size_t i = 0; i < fast.size(); i++) {
        if (!std::isfinite(fast[i]) || !std::isfinite(naive[i])) return INFINITY;
        w = std::max(w, std::fabs((double)fast[i] - naive[i]) / (1.0 + std::fabs(naive[i])));
    }
    return w;
}
constexpr double twin_tol = 1e-4;

// Bit-identical (a bool, so that a failure does not print both vectors).
template <typename V>
bool same(const V& a, const V& b) { return a == b; }

// Runs f with 1 and then 2 threads (OpenMP and BLAS); restores the thread count.
template <typename F>
void with_threads(int n, F&& f) {
    const int saved = tranova::get_threads();
    tranova::set_threads(n);
    f();
    tranova::set_threads(saved);
}
}  // namespace

// ---------------------------------------------------------------------------------------
// (a) finite differences in double

TEST_CASE("fd: embedding backward", "[core][backward]") {
    const int N = 7, C = 5, V = 4;
    std::vector<int32_t> ids = {2, 0, 3, 2, 2, 1, 0};
    vecd table = randd((size_t)V * C, 1), R = randd((size_t)N * C, 2), out(R.size());
    auto loss = [&] { embedding_forward_naive(out.data(), ids.data(), table.data(), N, C, V); return dot(R, out); };
    vecd g0 = randd(table.size(), 3), g = g0;
    embedding_backward_naive(g.data(), R.data(), ids.data(), N, C, V);
    CHECK(fd_worst(table, g, g0, loss) < fd_tol);
    ids[3] = V;
    CHECK_THROWS_WITH(embedding_backward_naive(g.data(), R.data(), ids.data(), N, C, V), Catch::Contains("index 3"));
}

TEST_CASE("fd: layernorm backward (affine and plain)", "[core][backward]") {
    const int N = 3, C = 5;
    for (bool affine : {true, false}) {
        vecd x = randd((size_t)N * C, 4, -2, 2), w = randd(C, 5), b = randd(C, 6), R = randd(x.size(), 7);
        vecd out(x.size()), mean(N), rstd(N);
        const double* wp = affine ? w.data() : nullptr;
        const double* bp = affine ? b.data() : nullptr;
        auto loss = [&] {
            layernorm_forward_train_naive(out.data(), mean.data(), rstd.data(), x.data(), wp, bp, N, C, 1e-5);
            return dot(R, out);
        };
        loss();
        vecd gx0 = randd(x.size(), 8), gw0 = randd(C, 9), gb0 = randd(C, 10), gx = gx0, gw = gw0, gb = gb0;
        layernorm_backward_naive(gx.data(), affine ? gw.data() : nullptr, affine ? gb.data() : nullptr, R.data(),
                                 x.data(), wp, mean.data(), rstd.data(), N, C);
        CAPTURE(affine);
        CHECK(fd_worst(x, gx, gx0, loss) < fd_tol);
        if (affine) {
            CHECK(fd_worst(w, gw, gw0, loss) < fd_tol);
            CHECK(fd_worst(b, gb, gb0, loss) < fd_tol);
        } else {
            CHECK(same(gw, gw0));  // nullptr: untouched
        }
    }
}

TEST_CASE("fd: gemm, matmul and linear backward", "[core][backward]") {
    const int M = 3, N = 5, K = 4;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            CAPTURE(ta, tb);
            // padded leading dimensions, as for column slices of a wider buffer
            const int lda = (ta ? M : K) + 2, ldb = (tb ? K : N) + 1, ldc = N + 3;
            vecd a = randd((size_t)(ta ? K : M) * lda, 11), b = randd((size_t)(tb ? N : K) * ldb, 12);
            vecd R = randd((size_t)M * ldc, 13), c(R.size(), 0.0);
            auto loss = [&] {
                gemm_naive(c.data(), a.data(), b.data(), M, N, K, ta, tb, 0.7, 0.0, lda, ldb, ldc);
                double s = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) s += R[(size_t)i * ldc + j] * c[(size_t)i * ldc + j];
                return s;
            };
            vecd ga0 = randd(a.size(), 14), gb0 = randd(b.size(), 15), ga = ga0, gb = gb0;
            gemm_backward_naive(ga.data(), gb.data(), R.data(), a.data(), b.data(), M, N, K, ta, tb, 0.7, lda, ldb, ldc);
            CHECK(fd_worst(a, ga, ga0, loss) < fd_tol);
            CHECK(fd_worst(b, gb, gb0, loss) < fd_tol);

            vecd a2 = randd((size_t)M * K, 16), b2 = randd((size_t)K * N, 17), R2 = randd((size_t)M * N, 18), c2(R2.size());
            auto loss2 = [&] { matmul_forward_naive(c2.data(), a2.data(), b2.data(), M, N, K, ta, tb); return dot(R2, c2); };
            vecd ga2 = ga0, gb2 = gb0;
            ga2.resize(a2.size()), gb2.resize(b2.size());
            vecd ga20 = ga2, gb20 = gb2;
            matmul_backward_naive(ga2.data(), gb2.data(), R2.data(), a2.data(), b2.data(), M, N, K, ta, tb);
            CHECK(fd_worst(a2, ga2, ga20, loss2) < fd_tol);
            CHECK(fd_worst(b2, gb2, gb20, loss2) < fd_tol);
        }
    const int IC = 5, OC = 4;
    for (bool with_bias : {true, false}) {
        vecd x = randd((size_t)M * IC, 19), W = randd((size_t)OC * IC, 20), bias = randd(OC, 21),
             R = randd((size_t)M * OC, 22), y(R.size());
        auto loss = [&] {
            linear_forward_naive(y.data(), x.data(), W.data(), with_bias ? bias.data() : nullptr, M, IC, OC);
            return dot(R, y);
        };
        vecd gx0 = randd(x.size(), 23), gW0 = randd(W.size(), 24), gb0 = randd(OC, 25), gx = gx0, gW = gW0, gb = gb0;
        linear_backward_naive(gx.data(), gW.data(), with_bias ? gb.data() : nullptr, R.data(), x.data(), W.data(), M, IC, OC);
        CHECK(fd_worst(x, gx, gx0, loss) < fd_tol);
        CHECK(fd_worst(W, gW, gW0, loss) < fd_tol);
        if (with_bias) CHECK(fd_worst(bias, gb, gb0, loss) < fd_tol);
    }
}

TEST_CASE("fd: activations, add, softmax, log_softmax backward", "[core][backward]") {
    const size_t n = 9;
    using fwd_t = void (*)(double*, const double*, size_t);
    using bwd_t = void (*)(double*, const double*, const double*, size_t);
    struct act { const char* name; fwd_t f; bwd_t b; };
    for (act a : {act{"relu", relu_forward_naive, relu_backward_naive<double>},
                  act{"squared_relu", squared_relu_forward_naive, squared_relu_backward_naive<double>},
                  act{"gelu", gelu_forward_naive, gelu_backward_naive<double>},
                  act{"gelu_tanh", gelu_tanh_forward_naive, gelu_tanh_backward_naive<double>}}) {
        CAPTURE(a.name);
        vecd x = randd(n, 31, -3, 3), R = randd(n, 32), y(n);
        auto loss = [&] { a.f(y.data(), x.data(), n); return dot(R, y); };
        vecd g0 = randd(n, 33), g = g0;
        a.b(g.data(), R.data(), x.data(), n);
        CHECK(fd_worst(x, g, g0, loss) < fd_tol);
    }
    {
        vecd x = randd(n, 34), z = randd(n, 35), R = randd(n, 36), y(n);
        auto loss = [&] { add_forward_naive(y.data(), x.data(), z.data(), n); return dot(R, y); };
        vecd gx0 = randd(n, 37), gz0 = randd(n, 38), gx = gx0, gz = gz0;
        add_backward_naive(gx.data(), gz.data(), R.data(), n);
        CHECK(fd_worst(x, gx, gx0, loss) < fd_tol);
        CHECK(fd_worst(z, gz, gz0, loss) < fd_tol);
    }
    const int N = 3, C = 5;
    for (bool logsm : {false, true}) {
        CAPTURE(logsm);
        vecd x = randd((size_t)N * C, 39, -3, 3), R = randd(x.size(), 40), y(x.size());
        auto fwd = [&] {
            if (logsm) log_softmax_forward_naive(y.data(), x.data(), N, C);
            else softmax_forward_naive(y.data(), x.data(), N, C);
        };
        auto loss = [&] { fwd(); return dot(R, y); };
        fwd();
        vecd g0 = randd(x.size(), 41), g = g0;
        if (logsm) log_softmax_backward_naive(g.data(), R.data(), y.data(), N, C);
        else softmax_backward_naive(g.data(), R.data(), y.data(), N, C);
        CHECK(fd_worst(x, g, g0, loss) < fd_tol);
    }
}

TEST_CASE("fd: causal depthwise conv1d backward", "[core][backward]") {
    struct cfg { int B, T, C, WC, K; bool bias; };
    for (cfg c : {cfg{2, 7, 6, 3, 3, true}, cfg{1, 7, 7, 3, 4, true}, cfg{2, 5, 3, 3, 1, false},
                  cfg{1, 3, 2, 2, 5, true}}) {  // last: kernel longer than the sequence
        CAPTURE(c.B, c.T, c.C, c.WC, c.K);
        const long ld_in = c.C + 2, ld_out = c.C + 1;
        conv1d_shape s{c.B, c.T, 0, c.C, c.WC, c.K, ld_in, c.T * ld_in, ld_out, c.T * ld_out};
        vecd x = randd((size_t)c.B * c.T * ld_in, 51), w = randd((size_t)c.WC * c.K, 52), b = randd(c.WC, 53);
        vecd R = randd((size_t)c.B * c.T * ld_out, 54), y(R.size(), 0.0);
        for (int bb = 0; bb < c.B; bb++)  // R = 0 on the padding columns of out
            for (int t = 0; t < c.T; t++)
                for (long ch = c.C; ch < ld_out; ch++) R[bb * s.bs_out + t * ld_out + ch] = 0;
        auto loss = [&] {
            conv1d_causal_depthwise_forward_naive(y.data(), x.data(), w.data(), c.bias ? b.data() : nullptr, s);
            return dot(R, y);
        };
        vecd gx0 = randd(x.size(), 55), gw0 = randd(w.size(), 56), gb0 = randd(b.size(), 57), gx = gx0, gw = gw0, gb = gb0;
        conv1d_causal_depthwise_backward_naive(gx.data(), gw.data(), c.bias ? gb.data() : nullptr, R.data(), x.data(),
                                               w.data(), s);
        CHECK(fd_worst(x, gx, gx0, loss) < fd_tol);
        CHECK(fd_worst(w, gw, gw0, loss) < fd_tol);
        if (c.bias) CHECK(fd_worst(b, gb, gb0, loss) < fd_tol);
    }
    conv1d_shape s{1, 3, 1, 2, 2, 3, 2, 8, 2, 6};
    vecd x(16), g(16), w(6), R(6);
    CHECK_THROWS_WITH(conv1d_causal_depthwise_backward_naive(g.data(), w.data(), (double*)nullptr, R.data(), x.data(),
                                                             w.data(), s),
                      Catch::Contains("start 1"));
}

namespace {
struct att_cfg {
    int B, T, TK, NH, HD;
    bool causal, alibi, pad;
    float scale;
};
// Key padding: batch b hides its last b keys; batch 1 also hides key 0, so in causal
// self-attention its query 0 sees no key at all (an all-masked row).
std::vector<uint8_t> key_mask(const att_cfg& c) {
    std::vector<uint8_t> valid((size_t)c.B * c.TK, 1);
    for (int b = 0; b < c.B; b++) {
        for (int j = std::max(0, c.TK - b); j < c.TK; j++) valid[(size_t)b * c.TK + j] = 0;
        if (b == 1) valid[(size_t)b * c.TK] = 0;
    }
    return valid;
}
std::vector<float> alibi(int NH) {
    std::vector<float> sl(NH);
    for (int h = 0; h < NH; h++) sl[h] = std::pow(2.0f, -(float)(h + 1)) * 3.0f;
    return sl;
}
}  // namespace

TEST_CASE("fd: attention backward (causal, ALiBi, padding, all-masked rows, cross)", "[core][backward]") {
    for (att_cfg c : {att_cfg{2, 7, 7, 2, 3, true, true, true, 0.0f}, att_cfg{2, 5, 7, 2, 3, false, true, true, 0.4f},
                      att_cfg{1, 6, 6, 1, 4, true, false, false, 0.0f}, att_cfg{2, 4, 3, 3, 2, false, false, false, 0.0f}}) {
        CAPTURE(c.B, c.T, c.TK, c.NH, c.HD, c.causal, c.alibi, c.pad);
        attention_shape s = attention_shape_contiguous(c.B, c.T, c.TK, c.NH, c.HD);
        s.causal = c.causal, s.scale = c.scale;
        auto slopes = alibi(c.NH);
        auto valid = key_mask(c);
        if (c.alibi) s.alibi_slopes = slopes.data();
        if (c.pad) s.key_valid = valid.data();
        const int C = c.NH * c.HD;
        vecd q = randd((size_t)c.B * c.T * C, 61, -2, 2), k = randd((size_t)c.B * c.TK * C, 62, -2, 2),
             v = randd((size_t)c.B * c.TK * C, 63), R = randd(q.size(), 64), o(q.size()),
             P((size_t)c.B * c.NH * c.T * c.TK);
        auto loss = [&] { attention_forward_naive(o.data(), P.data(), q.data(), k.data(), v.data(), s); return dot(R, o); };
        loss();
        vecd gq0 = randd(q.size(), 65), gk0 = randd(k.size(), 66), gv0 = randd(v.size(), 67), gq = gq0, gk = gk0, gv = gv0;
        attention_backward_naive(gq.data(), gk.data(), gv.data(), R.data(), q.data(), k.data(), v.data(), P.data(), s);
        CHECK(fd_worst(q, gq, gq0, loss) < fd_tol);
        CHECK(fd_worst(k, gk, gk0, loss) < fd_tol);
        CHECK(fd_worst(v, gv, gv0, loss) < fd_tol);
        if (c.pad) {  // masked keys and the all-masked query row get exactly zero gradient
            for (int b = 0; b < c.B; b++)
                for (int j = 0; j < c.TK; j++)
                    if (!valid[(size_t)b * c.TK + j])
                        for (int e = 0; e < C; e++) {
                            const size_t at = ((size_t)b * c.TK + j) * C + e;
                            CHECK(gk[at] == gk0[at]);
                            CHECK(gv[at] == gv0[at]);
                        }
            if (c.causal)
                for (int e = 0; e < C; e++) CHECK(gq[(size_t)1 * c.T * C + e] == gq0[(size_t)1 * c.T * C + e]);
        }
    }
}

TEST_CASE("fd: dropout backward; forward scaling", "[core][backward]") {
    const size_t n = 11;
    const float p = 0.3f;
    vecd x = randd(n, 71), R = randd(n, 72), y(n);
    auto loss = [&] { dropout_forward_naive(y.data(), x.data(), n, p, 42, 5); return dot(R, y); };
    loss();
    int kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 0) continue;
        CHECK(y[i] == Approx(x[i] / (1.0 - p)).epsilon(1e-12));
        kept++;
    }
    CHECK(kept > 0);
    CHECK(kept < (int)n);
    vecd g0 = randd(n, 73), g = g0;
    dropout_backward_naive(g.data(), R.data(), n, p, 42, 5);
    CHECK(fd_worst(x, g, g0, loss) < fd_tol);
}

TEST_CASE("double forwards agree with the float naive forwards", "[core][backward]") {
    auto close = [](const vecd& d, const vecf& f) {
        double w = 0;
        for (size_t i = 0; i < d.size(); i++) w = std::max(w, std::fabs(d[i] - f[i]) / (1.0 + std::fabs(d[i])));
        return w;
    };
    const int N = 4, C = 9, K = 6;
    vecd x = randd((size_t)N * C, 81, -3, 3), W = randd((size_t)K * C, 82), b = randd(K, 83);
    vecf xf = tof(x), Wf = tof(W), bf = tof(b);
    vecd yd((size_t)N * K);
    vecf yf(yd.size());
    linear_forward_naive(yd.data(), x.data(), W.data(), b.data(), N, C, K);
    linear_forward_naive(yf.data(), xf.data(), Wf.data(), bf.data(), N, C, K);
    CHECK(close(yd, yf) < 1e-6);
    matmul_forward_naive(yd.data(), x.data(), W.data(), N, K, C, false, true);
    matmul_forward_naive(yf.data(), xf.data(), Wf.data(), N, K, C, false, true);
    CHECK(close(yd, yf) < 1e-6);
    vecd ad(x.size());
    vecf af(x.size());
    using fd_t = void (*)(double*, const double*, size_t);
    using ff_t = void (*)(float*, const float*, size_t);
    for (auto [d, f] : {std::pair<fd_t, ff_t>{relu_forward_naive, relu_forward_naive},
                        {squared_relu_forward_naive, squared_relu_forward_naive},
                        {gelu_forward_naive, gelu_forward_naive}, {gelu_tanh_forward_naive, gelu_tanh_forward_naive}}) {
        d(ad.data(), x.data(), x.size()), f(af.data(), xf.data(), x.size());
        CHECK(close(ad, af) < 1e-6);
    }
    softmax_forward_naive(ad.data(), x.data(), N, C), softmax_forward_naive(af.data(), xf.data(), N, C);
    CHECK(close(ad, af) < 1e-6);
    log_softmax_forward_naive(ad.data(), x.data(), N, C), log_softmax_forward_naive(af.data(), xf.data(), N, C);
    CHECK(close(ad, af) < 1e-6);
    vecd md(N), rd(N);
    vecf mf(N), rf(N), lf(x.size());
    vecd lb = randd(C, 85);  // W's first row is the weight, lb the bias
    vecf lbf = tof(lb);
    layernorm_forward_train_naive(ad.data(), md.data(), rd.data(), x.data(), W.data(), lb.data(), N, C, 1e-5);
    layernorm_forward_naive(lf.data(), xf.data(), Wf.data(), lbf.data(), N, C, 1e-5f);
    CHECK(close(ad, lf) < 1e-6);
    conv1d_shape cs{2, 2, 0, C, 3, 3, C, 2L * C, C, 2L * C};  // x as (B=2, T=2, C)
    vecd wk = randd(9, 84);
    vecf wkf = tof(wk);
    conv1d_causal_depthwise_forward_naive(ad.data(), x.data(), wk.data(), b.data(), cs);
    conv1d_causal_depthwise_forward_naive(af.data(), xf.data(), wkf.data(), bf.data(), cs);
    CHECK(close(ad, af) < 1e-6);
    att_cfg c{2, 2, 2, 3, 3, true, true, true, 0.0f};  // q = k = v = x as (B=2, T=2, 3 heads x 3)
    attention_shape s = attention_shape_contiguous(2, 2, 2, 3, 3);
    auto slopes = alibi(3);
    auto valid = key_mask(c);
    s.causal = true, s.alibi_slopes = slopes.data(), s.key_valid = valid.data();
    vecd Pd(24);
    vecf Pf(24);
    attention_forward_naive(ad.data(), Pd.data(), x.data(), x.data(), x.data(), s);
    attention_forward_naive(af.data(), Pf.data(), xf.data(), xf.data(), xf.data(), s);
    CHECK(close(ad, af) < 1e-6);
    CHECK(close(Pd, Pf) < 1e-6);
    std::vector<int32_t> ids = {1, 0, 1};
    vecd ed(3 * 3);
    vecf ef(9);
    embedding_forward_naive(ed.data(), ids.data(), x.data(), 3, 3, 2);
    embedding_forward_naive(ef.data(), ids.data(), xf.data(), 3, 3, 2);
    CHECK(close(ed, ef) == 0.0);
}

// ---------------------------------------------------------------------------------------
// (b) fast vs naive twin in float, odd and larger shapes; 1 vs 2 threads bit-identical

TEST_CASE("embedding backward: fast equals naive exactly, thread-count independent", "[core][backward]") {
    for (auto [N, C, V] : {std::tuple{1, 1, 1}, {13, 37, 25}, {900, 130, 50}}) {
        std::vector<int32_t> ids(N);
        for (int i = 0; i < N; i++) ids[i] = (i * 7 + i / 3) % V;  // many repeats
        vecf dout = randv((size_t)N * C, 1), g0 = randv((size_t)V * C, 2), a = g0, b = g0;
        embedding_backward(a.data(), dout.data(), ids.data(), N, C, V);
        embedding_backward_naive(b.data(), dout.data(), ids.data(), N, C, V);
        CHECK(same(a, b));
        vecf t1 = g0, t2 = g0;
        with_threads(1, [&] { embedding_backward(t1.data(), dout.data(), ids.data(), N, C, V); });
        with_threads(2, [&] { embedding_backward(t2.data(), dout.data(), ids.data(), N, C, V); });
        CHECK(same(t1, t2));
        ids[N - 1] = -1;
        CHECK_THROWS_WITH(embedding_backward(a.data(), dout.data(), ids.data(), N, C, V),
                          Catch::Contains("index " + std::to_string(N - 1)));
    }
}

TEST_CASE("layernorm training forward and backward match naive", "[core][backward]") {
    for (auto [N, C] : {std::pair{1, 1}, {3, 7}, {17, 64}, {33, 768}, {300, 257}}) {
        CAPTURE(N, C);
        vecf x = randv((size_t)N * C, N + C, -3, 3), w = randv(C, 2), bias = randv(C, 3), dout = randv(x.size(), 4);
        vecf y(x.size()), yi(x.size()), yn(x.size()), m(N), r(N), mn(N), rn(N);
        layernorm_forward_train(y.data(), m.data(), r.data(), x.data(), w.data(), bias.data(), N, C, 1e-5f);
        layernorm_forward(yi.data(), x.data(), w.data(), bias.data(), N, C, 1e-5f);
        CHECK(same(y, yi));  // the training forward is the inference forward plus saved stats
        layernorm_forward_train_naive(yn.data(), mn.data(), rn.data(), x.data(), w.data(), bias.data(), N, C, 1e-5);
        CHECK(worst_rel(y, yn) < 1e-5);
        CHECK(worst_rel(m, mn) < 1e-5);
        CHECK(worst_rel(r, rn) < 1e-5);
        for (bool affine : {true, false}) {
            const float* wp = affine ? w.data() : nullptr;
            vecf gx0 = randv(x.size(), 5), gw0 = randv(C, 6), gb0 = randv(C, 7);
            vecf gx = gx0, gw = gw0, gb = gb0, nx = gx0, nw = gw0, nb = gb0;
            layernorm_backward(gx.data(), gw.data(), gb.data(), dout.data(), x.data(), wp, m.data(), r.data(), N, C);
            layernorm_backward_naive(nx.data(), nw.data(), nb.data(), dout.data(), x.data(), wp, m.data(), r.data(), N, C);
            CHECK(worst_rel(gx, nx) < twin_tol);
            CHECK(worst_rel(gw, nw) < twin_tol);
            CHECK(worst_rel(gb, nb) < twin_tol);
            vecf t1x = gx0, t1w = gw0, t1b = gb0, t2x = gx0, t2w = gw0, t2b = gb0;
            with_threads(1, [&] { layernorm_backward(t1x.data(), t1w.data(), t1b.data(), dout.data(), x.data(), wp, m.data(), r.data(), N, C); });
            with_threads(2, [&] { layernorm_backward(t2x.data(), t2w.data(), t2b.data(), dout.data(), x.data(), wp, m.data(), r.data(), N, C); });
            CHECK(same(t1x, t2x));
            CHECK(same(t1w, t2w));
            CHECK(same(t1b, t2b));
        }
    }
}

TEST_CASE("gemm, matmul and linear backward match naive", "[core][backward]") {
    for (auto [M, N, K] : {std::tuple{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 100, 300}, {129, 7, 31}}) {
        CAPTURE(M, N, K);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                CAPTURE(ta, tb);
                const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                vecf a = randv((size_t)(ta ? K : M) * lda, 11), b = randv((size_t)(tb ? N : K) * ldb, 12),
                     dc = randv((size_t)M * ldc, 13), ga0 = randv(a.size(), 14), gb0 = randv(b.size(), 15);
                vecf ga = ga0, gb = gb0, na = ga0, nb = gb0;
                gemm_backward(ga.data(), gb.data(), dc.data(), a.data(), b.data(), M, N, K, ta, tb, 0.5f, lda, ldb, ldc);
                gemm_backward_naive(na.data(), nb.data(), dc.data(), a.data(), b.data(), M, N, K, ta, tb, 0.5, lda, ldb, ldc);
                CHECK(worst_rel(ga, na) < twin_tol);
                CHECK(worst_rel(gb, nb) < twin_tol);
                ga = na = ga0, gb = nb = gb0;
                ga.resize((size_t)M * K), na.resize(ga.size()), gb.resize((size_t)K * N), nb.resize(gb.size());
                vecf a2 = randv(ga.size(), 16), b2 = randv(gb.size(), 17), dc2 = randv((size_t)M * N, 18);
                matmul_backward(ga.data(), gb.data(), dc2.data(), a2.data(), b2.data(), M, N, K, ta, tb);
                matmul_backward_naive(na.data(), nb.data(), dc2.data(), a2.data(), b2.data(), M, N, K, ta, tb);
                CHECK(worst_rel(ga, na) < twin_tol);
                CHECK(worst_rel(gb, nb) < twin_tol);
            }
        // linear: N = M rows, IC = K, OC = N
        vecf x = randv((size_t)M * K, 21), W = randv((size_t)N * K, 22), dy = randv((size_t)M * N, 23);
        vecf gx0 = randv(x.size(), 24), gW0 = randv(W.size(), 25), gb0 = randv(N, 26);
        vecf gx = gx0, gW = gW0, gb = gb0, nx = gx0, nW = gW0, nb = gb0;
        linear_backward(gx.data(), gW.data(), gb.data(), dy.data(), x.data(), W.data(), M, K, N);
        linear_backward_naive(nx.data(), nW.data(), nb.data(), dy.data(), x.data(), W.data(), M, K, N);
        CHECK(worst_rel(gx, nx) < twin_tol);
        CHECK(worst_rel(gW, nW) < twin_tol);
        CHECK(worst_rel(gb, nb) < twin_tol);
        // BLAS products are not thread-count independent (OpenBLAS picks other kernels per
        // thread count), but repeat the same bits with the same threads
        vecf r1x = gx0, r1W = gW0, r2x = gx0, r2W = gW0;
        linear_backward(r1x.data(), r1W.data(), nullptr, dy.data(), x.data(), W.data(), M, K, N);
        linear_backward(r2x.data(), r2W.data(), nullptr, dy.data(), x.data(), W.data(), M, K, N);
        CHECK(same(r1x, r2x));
        CHECK(same(r1W, r2W));
    }
    // a bias reduction over many rows, large enough to run in parallel
    const int N = 2000, IC = 3, OC = 77;
    vecf x = randv((size_t)N * IC, 27), W = randv((size_t)OC * IC, 28), dy = randv((size_t)N * OC, 29);
    vecf b1(OC, 0.0f), b2(OC, 0.0f), bn(OC, 0.0f);
    with_threads(1, [&] { linear_backward(nullptr, nullptr, b1.data(), dy.data(), x.data(), W.data(), N, IC, OC); });
    with_threads(2, [&] { linear_backward(nullptr, nullptr, b2.data(), dy.data(), x.data(), W.data(), N, IC, OC); });
    linear_backward_naive<float>(nullptr, nullptr, bn.data(), dy.data(), x.data(), W.data(), N, IC, OC);
    CHECK(same(b1, b2));
    CHECK(worst_rel(b1, bn) < twin_tol);
}

// linear_forward / linear_backward run training-sized products (>= 32 result rows) on the
// AVX-512 kernel with per-call packing (core/linear.hpp gemm_packed_avx512), smaller ones and
// non-AVX-512 CPUs on BLAS. Both paths against the naive twins on odd shapes (rows not a
// multiple of the 8-row tile or the 96-row block, columns not a multiple of the 48-wide
// panel, a contraction of 1024 rows as the dW of a 4 x 256 batch), and the kernel path
// bit-identical for 1 and 2 threads (no split of the contraction).
TEST_CASE("linear forward and backward: AVX-512 kernel and BLAS paths match naive", "[core][backward][linear]") {
    for (auto [N, IC, OC] : {std::tuple{33, 17, 49}, {97, 65, 7}, {200, 150, 97}, {1024, 40, 50}, {40, 1024, 33}}) {
        CAPTURE(N, IC, OC);
        vecf x = randv((size_t)N * IC, 31), W = randv((size_t)OC * IC, 32), b = randv(OC, 33), dy = randv((size_t)N * OC, 34);
        vecf gx0 = randv(x.size(), 35), gW0 = randv(W.size(), 36);
        vecf ny((size_t)N * OC), nx = gx0, nW = gW0;
        linear_forward_naive(ny.data(), x.data(), W.data(), b.data(), N, IC, OC);
        linear_backward_naive<float>(nx.data(), nW.data(), nullptr, dy.data(), x.data(), W.data(), N, IC, OC);
        for (bool blas : {false, true}) {
            CAPTURE(blas);
            linear_force_blas = blas;
            vecf y((size_t)N * OC), gx = gx0, gW = gW0;
            linear_forward(y.data(), x.data(), W.data(), b.data(), N, IC, OC);
            linear_backward(gx.data(), gW.data(), nullptr, dy.data(), x.data(), W.data(), N, IC, OC);
            CHECK(worst_rel(y, ny) < twin_tol);
            CHECK(worst_rel(gx, nx) < twin_tol);
            CHECK(worst_rel(gW, nW) < twin_tol);
            if (!blas && cpu_has_avx512()) {
                vecf y1 = y, y2 = y, x1 = gx0, x2 = gx0, w1 = gW0, w2 = gW0;
                with_threads(1, [&] {
                    linear_forward(y1.data(), x.data(), W.data(), b.data(), N, IC, OC);
                    linear_backward(x1.data(), w1.data(), nullptr, dy.data(), x.data(), W.data(), N, IC, OC);
                });
                with_threads(2, [&] {
                    linear_forward(y2.data(), x.data(), W.data(), b.data(), N, IC, OC);
                    linear_backward(x2.data(), w2.data(), nullptr, dy.data(), x.data(), W.data(), N, IC, OC);
                });
                CHECK(same(y1, y2));
                CHECK(same(x1, x2));
                CHECK(same(w1, w2));
                CHECK(same(y1, y));  // and the same bits as the default thread count
            }
        }
        linear_force_blas = false;
    }
}

TEST_CASE("activation, add, softmax, log_softmax backward match naive", "[core][backward]") {
    using fast_t = void (*)(float*, const float*, const float*, size_t);
    using naive_t = void (*)(float*, const float*, const float*, size_t);
    struct act { const char* name; fast_t f; naive_t n; double tol; };
    for (size_t n : {1u, 7u, 1000u, 70001u}) {
        vecf x = randv(n, (unsigned)n, -5, 5), dout = randv(n, 99), g0 = randv(n, 98);
        for (act a : {act{"relu", relu_backward, relu_backward_naive<float>, 0.0},
                      act{"squared_relu", squared_relu_backward, squared_relu_backward_naive<float>, twin_tol},
                      act{"gelu", gelu_backward, gelu_backward_naive<float>, twin_tol},
                      act{"gelu_tanh", gelu_tanh_backward, gelu_tanh_backward_naive<float>, twin_tol}}) {
            CAPTURE(a.name, n);
            vecf f = g0, r = g0, t1 = g0, t2 = g0;
            a.f(f.data(), dout.data(), x.data(), n);
            a.n(r.data(), dout.data(), x.data(), n);
            CHECK(worst_rel(f, r) <= a.tol);
            with_threads(1, [&] { a.f(t1.data(), dout.data(), x.data(), n); });
            with_threads(2, [&] { a.f(t2.data(), dout.data(), x.data(), n); });
            CHECK(same(t1, t2));
        }
        vecf da = g0, db = x, na = g0, nb = x;
        add_backward(da.data(), db.data(), dout.data(), n);
        add_backward_naive(na.data(), nb.data(), dout.data(), n);
        CHECK(same(da, na));
        CHECK(same(db, nb));
    }
    // gelu_tanh derivative at extreme inputs: finite, 0 / 1 in the saturated tails
    vecf big = {-200.0f, -30.0f, 30.0f, 200.0f}, one(4, 1.0f), g(4, 0.0f), gn(4, 0.0f);
    gelu_tanh_backward(g.data(), one.data(), big.data(), 4);
    gelu_tanh_backward_naive(gn.data(), one.data(), big.data(), 4);
    CHECK(worst_rel(g, gn) < twin_tol);
    CHECK(g[3] == 1.0f);
    for (auto [N, C] : {std::pair{1, 1}, {3, 25}, {40, 29}, {40, 1025}}) {
        CAPTURE(N, C);
        vecf x = randv((size_t)N * C, N * C, -8, 8), dout = randv(x.size(), 5), g0 = randv(x.size(), 6), y(x.size());
        for (bool logsm : {false, true}) {
            CAPTURE(logsm);
            if (logsm) log_softmax_forward(y.data(), x.data(), N, C);
            else softmax_forward(y.data(), x.data(), N, C);
            auto fast = [&](vecf& g) {
                if (logsm) log_softmax_backward(g.data(), dout.data(), y.data(), N, C);
                else softmax_backward(g.data(), dout.data(), y.data(), N, C);
            };
            vecf f = g0, r = g0, t1 = g0, t2 = g0;
            fast(f);
            if (logsm) log_softmax_backward_naive(r.data(), dout.data(), y.data(), N, C);
            else softmax_backward_naive(r.data(), dout.data(), y.data(), N, C);
            CHECK(worst_rel(f, r) < twin_tol);
            with_threads(1, [&] { fast(t1); });
            with_threads(2, [&] { fast(t2); });
            CHECK(same(t1, t2));
        }
    }
}

TEST_CASE("conv1d backward matches naive", "[core][backward]") {
    for (int K : {1, 3, 5, 7})
        for (auto [B, T, WC, C] : {std::tuple{1, 1, 3, 3}, {2, 13, 16, 48}, {3, 40, 7, 15}, {3, 200, 48, 96}}) {
            CAPTURE(K, B, T, WC, C);
            const long ld_in = C + 5, ld_out = C + 2;
            conv1d_shape s{B, T, 0, C, WC, K, ld_in, T * ld_in, ld_out, T * ld_out};
            vecf x = randv((size_t)B * T * ld_in, K * 100 + T), w = randv((size_t)WC * K, 2),
                 dy = randv((size_t)B * T * ld_out, 3);
            vecf gx0 = randv(x.size(), 4), gw0 = randv(w.size(), 5), gb0 = randv(WC, 6);
            vecf gx = gx0, gw = gw0, gb = gb0, nx = gx0, nw = gw0, nb = gb0;
            conv1d_causal_depthwise_backward(gx.data(), gw.data(), gb.data(), dy.data(), x.data(), w.data(), s);
            conv1d_causal_depthwise_backward_naive(nx.data(), nw.data(), nb.data(), dy.data(), x.data(), w.data(), s);
            CHECK(worst_rel(gx, nx) < twin_tol);
            CHECK(worst_rel(gw, nw) < twin_tol);
            CHECK(worst_rel(gb, nb) < twin_tol);
            vecf t1x = gx0, t1w = gw0, t1b = gb0, t2x = gx0, t2w = gw0, t2b = gb0;
            with_threads(1, [&] { conv1d_causal_depthwise_backward(t1x.data(), t1w.data(), t1b.data(), dy.data(), x.data(), w.data(), s); });
            with_threads(2, [&] { conv1d_causal_depthwise_backward(t2x.data(), t2w.data(), t2b.data(), dy.data(), x.data(), w.data(), s); });
            CHECK(same(t1x, t2x));
            CHECK(same(t1w, t2w));
            CHECK(same(t1b, t2b));
        }
}

TEST_CASE("attention backward matches naive (incl. fused dQKV strides)", "[core][backward]") {
    for (att_cfg c : {att_cfg{1, 1, 1, 1, 8, true, false, false, 0.0f}, att_cfg{2, 13, 13, 3, 16, true, true, true, 0.0f},
                      att_cfg{1, 130, 130, 4, 64, true, true, false, 0.0f}, att_cfg{3, 7, 29, 2, 5, false, false, true, 0.3f},
                      att_cfg{2, 70, 70, 2, 9, false, true, true, 0.0f}, att_cfg{1, 100, 300, 2, 64, false, true, false, 0.0f}}) {
        CAPTURE(c.B, c.T, c.TK, c.NH, c.HD, c.causal, c.alibi, c.pad);
        attention_shape s = attention_shape_contiguous(c.B, c.T, c.TK, c.NH, c.HD);
        s.causal = c.causal, s.scale = c.scale;
        auto slopes = alibi(c.NH);
        auto valid = key_mask(c);
        if (c.alibi) s.alibi_slopes = slopes.data();
        if (c.pad) s.key_valid = valid.data();
        const int C = c.NH * c.HD;
        vecf q = randv((size_t)c.B * c.T * C, 1, -2, 2), k = randv((size_t)c.B * c.TK * C, 2, -2, 2),
             v = randv((size_t)c.B * c.TK * C, 3), dout = randv(q.size(), 4), o(q.size()),
             P((size_t)c.B * c.NH * c.T * c.TK), scratch(attention_scratch_floats(s)),
             bscratch(attention_backward_scratch_floats(s));
        attention_forward(o.data(), P.data(), q.data(), k.data(), v.data(), s, scratch.data());
        vecf gq0 = randv(q.size(), 5), gk0 = randv(k.size(), 6), gv0 = randv(v.size(), 7);
        vecf gq = gq0, gk = gk0, gv = gv0, nq = gq0, nk = gk0, nv = gv0;
        attention_backward(gq.data(), gk.data(), gv.data(), dout.data(), q.data(), k.data(), v.data(), P.data(), s, bscratch.data());
        attention_backward_naive(nq.data(), nk.data(), nv.data(), dout.data(), q.data(), k.data(), v.data(), P.data(), s);
        CHECK(worst_rel(gq, nq) < twin_tol);
        CHECK(worst_rel(gk, nk) < twin_tol);
        CHECK(worst_rel(gv, nv) < twin_tol);
        vecf t1q = gq0, t1k = gk0, t1v = gv0, t2q = gq0, t2k = gk0, t2v = gv0;
        with_threads(1, [&] {
            vecf sc(attention_backward_scratch_floats(s));
            attention_backward(t1q.data(), t1k.data(), t1v.data(), dout.data(), q.data(), k.data(), v.data(), P.data(), s, sc.data());
        });
        with_threads(2, [&] {
            vecf sc(attention_backward_scratch_floats(s));
            attention_backward(t2q.data(), t2k.data(), t2v.data(), dout.data(), q.data(), k.data(), v.data(), P.data(), s, sc.data());
        });
        CHECK(same(t1q, t2q));
        CHECK(same(t1k, t2k));
        CHECK(same(t1v, t2v));
    }
    // self-attention on a fused QKV buffer: q/k/v and dq/dk/dv are column slices
    const int B = 2, T = 21, NH = 3, HD = 8, C = NH * HD;
    attention_shape s = attention_shape_contiguous(B, T, T, NH, HD);
    s.causal = true;
    s.ld_q = s.ld_k = s.ld_v = 3 * C;
    s.bs_q = s.bs_k = s.bs_v = (long)T * 3 * C;
    vecf qkv = randv((size_t)B * T * 3 * C, 8, -2, 2), dout = randv((size_t)B * T * C, 9), o(dout.size()),
         P((size_t)B * NH * T * T), scratch(attention_scratch_floats(s)), bscratch(attention_backward_scratch_floats(s));
    attention_forward(o.data(), P.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C, s, scratch.data());
    vecf g0 = randv(qkv.size(), 10), g = g0, n = g0;
    attention_backward(g.data(), g.data() + C, g.data() + 2 * C, dout.data(), qkv.data(), qkv.data() + C,
                       qkv.data() + 2 * C, P.data(), s, bscratch.data());
    attention_backward_naive(n.data(), n.data() + C, n.data() + 2 * C, dout.data(), qkv.data(), qkv.data() + C,
                             qkv.data() + 2 * C, P.data(), s);
    CHECK(worst_rel(g, n) < twin_tol);
    // dk/dv nullptr (a stop-gradient memory): only dq changes
    vecf h = g0;
    attention_backward(h.data(), nullptr, nullptr, dout.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C,
                       P.data(), s, bscratch.data());
    for (int r = 0; r < B * T; r++)
        for (int e = C; e < 3 * C; e++) CHECK(h[(size_t)r * 3 * C + e] == g0[(size_t)r * 3 * C + e]);
    s.start = 1;
    CHECK_THROWS_WITH(attention_backward(h.data(), nullptr, nullptr, dout.data(), qkv.data(), qkv.data() + C,
                                         qkv.data() + 2 * C, P.data(), s, bscratch.data()),
                      Catch::Contains("start 1"));
}

TEST_CASE("dropout: twin, reproducible, chunkable, thread-independent, keep rate", "[core][backward]") {
    const size_t n = 200001;
    vecf x = randv(n, 1), dy = randv(n, 2);
    for (float p : {0.0f, 0.1f, 0.5f, 1.0f}) {
        CAPTURE(p);
        vecf a(n), b(n), t1(n), t2(n);
        dropout_forward(a.data(), x.data(), n, p, 7, 100);
        dropout_forward_naive(b.data(), x.data(), n, p, 7, 100);
        CHECK(worst_rel(a, b) < 1e-6);
        size_t kept = 0, same_mask = 0;
        for (size_t i = 0; i < n; i++) kept += a[i] != 0, same_mask += (a[i] != 0) == (b[i] != 0);
        CHECK(same_mask == n);
        CHECK(std::fabs((double)kept / n - (1.0 - p)) < 0.005);
        if (p == 0.0f) CHECK(same(a, x));
        with_threads(1, [&] { dropout_forward(t1.data(), x.data(), n, p, 7, 100); });
        with_threads(2, [&] { dropout_forward(t2.data(), x.data(), n, p, 7, 100); });
        CHECK(same(t1, a));
        CHECK(same(t2, a));
        // two chunks with their offsets give the same result as one call
        vecf c(n);
        dropout_forward(c.data(), x.data(), 1000, p, 7, 100);
        dropout_forward(c.data() + 1000, x.data() + 1000, n - 1000, p, 7, 1100);
        CHECK(same(c, a));
        // backward: same mask and scale, accumulated
        vecf g0 = randv(n, 3), g = g0, gn = g0;
        dropout_backward(g.data(), dy.data(), n, p, 7, 100);
        dropout_backward_naive(gn.data(), dy.data(), n, p, 7, 100);
        CHECK(worst_rel(g, gn) < 1e-6);
        size_t mask_agrees = 0;
        for (size_t i = 0; i < n; i++) mask_agrees += (g[i] != g0[i]) == (a[i] != 0);
        CHECK(mask_agrees == n);
    }
    // another seed gives another mask (agreement ~ p^2 + (1-p)^2 = 0.5 at p = 0.5)
    vecf a(n), b(n);
    dropout_forward(a.data(), x.data(), n, 0.5f, 7, 0);
    dropout_forward(b.data(), x.data(), n, 0.5f, 8, 0);
    size_t agree = 0;
    for (size_t i = 0; i < n; i++) agree += (a[i] != 0) == (b[i] != 0);
    CHECK(std::fabs((double)agree / n - 0.5) < 0.01);
    CHECK_THROWS_WITH(dropout_forward(a.data(), x.data(), n, 1.5f, 7, 0), Catch::Contains("outside [0, 1]"));
    CHECK_THROWS(dropout_forward(a.data(), x.data(), n, -0.1f, 7, 0));
}

// ---------------------------------------------------------------------------------------
// (c) accumulate convention: run twice from zero == 2 x one run, exactly

TEST_CASE("every fast backward accumulates (+=)", "[core][backward]") {
    auto twice_is_double = [](size_t size, const std::function<void(float*)>& run) {
        vecf once(size, 0.0f), twice(size, 0.0f);
        run(once.data());
        run(twice.data()), run(twice.data());
        bool ok = true;
        for (size_t i = 0; i < size; i++) ok = ok && twice[i] == 2.0f * once[i];
        return ok;
    };
    const int N = 5, C = 11, OC = 6, V = 7;
    vecf x = randv((size_t)N * C, 1), dy = randv((size_t)N * C, 2), w = randv(C, 3), W = randv((size_t)OC * C, 4),
         dyo = randv((size_t)N * OC, 5), m(N), r(N), y(x.size());
    std::vector<int32_t> ids = {0, 2, 4, 1, 6};  // distinct: repeats add in another order
    CHECK(twice_is_double((size_t)V * C, [&](float* g) { embedding_backward(g, dy.data(), ids.data(), N, C, V); }));
    layernorm_forward_train(y.data(), m.data(), r.data(), x.data(), w.data(), nullptr, N, C, 1e-5f);
    CHECK(twice_is_double(x.size(), [&](float* g) { layernorm_backward(g, nullptr, nullptr, dy.data(), x.data(), w.data(), m.data(), r.data(), N, C); }));
    CHECK(twice_is_double(C, [&](float* g) { layernorm_backward(nullptr, g, nullptr, dy.data(), x.data(), w.data(), m.data(), r.data(), N, C); }));
    CHECK(twice_is_double(C, [&](float* g) { layernorm_backward(nullptr, nullptr, g, dy.data(), x.data(), w.data(), m.data(), r.data(), N, C); }));
    CHECK(twice_is_double(x.size(), [&](float* g) { linear_backward(g, nullptr, nullptr, dyo.data(), x.data(), W.data(), N, C, OC); }));
    CHECK(twice_is_double(W.size(), [&](float* g) { linear_backward(nullptr, g, nullptr, dyo.data(), x.data(), W.data(), N, C, OC); }));
    CHECK(twice_is_double(OC, [&](float* g) { linear_backward(nullptr, nullptr, g, dyo.data(), x.data(), W.data(), N, C, OC); }));
    const size_t n = x.size();
    for (auto f : {relu_backward, squared_relu_backward, gelu_backward, gelu_tanh_backward})
        CHECK(twice_is_double(n, [&](float* g) { f(g, dy.data(), x.data(), n); }));
    CHECK(twice_is_double(n, [&](float* g) { add_backward(g, nullptr, dy.data(), n); }));
    softmax_forward(y.data(), x.data(), N, C);
    CHECK(twice_is_double(n, [&](float* g) { softmax_backward(g, dy.data(), y.data(), N, C); }));
    CHECK(twice_is_double(n, [&](float* g) { log_softmax_backward(g, dy.data(), y.data(), N, C); }));
    CHECK(twice_is_double(n, [&](float* g) { dropout_backward(g, dy.data(), n, 0.3f, 1, 0); }));
    conv1d_shape cs{1, N, 0, C, C, 3, C, (long)N * C, C, (long)N * C};
    vecf kw = randv((size_t)C * 3, 6);
    CHECK(twice_is_double(n, [&](float* g) { conv1d_causal_depthwise_backward(g, nullptr, nullptr, dy.data(), x.data(), kw.data(), cs); }));
    CHECK(twice_is_double(kw.size(), [&](float* g) { conv1d_causal_depthwise_backward(nullptr, g, nullptr, dy.data(), x.data(), kw.data(), cs); }));
    CHECK(twice_is_double(C, [&](float* g) { conv1d_causal_depthwise_backward(nullptr, nullptr, g, dy.data(), x.data(), kw.data(), cs); }));
    // attention: 1 batch, T = N, 1 head of HD = C
    attention_shape as = attention_shape_contiguous(1, N, N, 1, C);
    as.causal = true;
    vecf P((size_t)N * N), sc(attention_scratch_floats(as)), bsc(attention_backward_scratch_floats(as)), o(n);
    attention_forward(o.data(), P.data(), x.data(), x.data(), dy.data(), as, sc.data());
    CHECK(twice_is_double(n, [&](float* g) { attention_backward(g, nullptr, nullptr, o.data(), x.data(), x.data(), dy.data(), P.data(), as, bsc.data()); }));
    CHECK(twice_is_double(n, [&](float* g) { attention_backward(nullptr, g, nullptr, o.data(), x.data(), x.data(), dy.data(), P.data(), as, bsc.data()); }));
    CHECK(twice_is_double(n, [&](float* g) { attention_backward(nullptr, nullptr, g, o.data(), x.data(), x.data(), dy.data(), P.data(), as, bsc.data()); }));
}
