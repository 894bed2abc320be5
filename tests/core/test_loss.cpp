// Losses and their gradients (core/loss.hpp). Tolerances:
//   against PyTorch 1.13 (tests/data/core/training/loss_refs.txt):   1e-5 abs (loss relative)
//   fast vs naive twin (random shapes):                              1e-5 abs on gradients,
//                                                                     1e-5 relative on losses
//   against central finite differences of an independent double-precision oracle
//   (direct formula for cross-entropy, brute-force path enumeration for CTC): 2e-6 abs
#include "core/loss.hpp"
#include "random_inputs.hpp"
#include "training_refs.hpp"

#include <catch2/catch.hpp>
#include <omp.h>

#include <cmath>
#include <functional>
#include <vector>

using namespace tranova::core;

namespace {
const std::string kRefs = TRANOVA_TEST_DATA "/core/training/loss_refs.txt";

double maxabs(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (size_t i = 0; i < a.size(); i++) {
        if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
        if (!std::isnan(a[i])) m = std::max(m, (double)std::fabs(a[i] - b[i]));
    }
    return m;
}
double reldiff(double a, double b) { return std::fabs(a - b) / std::max(1.0, std::fabs(b)); }

// Central differences of f at x (double), step h.
std::vector<double> central_diff(const std::function<double(const std::vector<double>&)>& f,
                                 std::vector<double> x, double h) {
    std::vector<double> g(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        const double x0 = x[i];
        x[i] = x0 + h;
        const double fp = f(x);
        x[i] = x0 - h;
        const double fm = f(x);
        x[i] = x0;
        g[i] = (fp - fm) / (2 * h);
    }
    return g;
}

std::vector<double> log_softmax_rows(const std::vector<double>& z, int rows, int C) {
    std::vector<double> out(z.size());
    for (int r = 0; r < rows; r++) {
        double mx = z[(size_t)r * C];
        for (int c = 1; c < C; c++) mx = std::max(mx, z[(size_t)r * C + c]);
        double s = 0;
        for (int c = 0; c < C; c++) s += std::exp(z[(size_t)r * C + c] - mx);
        for (int c = 0; c < C; c++) out[(size_t)r * C + c] = z[(size_t)r * C + c] - mx - std::log(s);
    }
    return out;
}

// PyTorch's label-smoothed cross-entropy, written from its definition, in double.
double ce_oracle(const std::vector<double>& z, const std::vector<int32_t>& t, int N, int V, int ignore, double eps) {
    auto lp = log_softmax_rows(z, N, V);
    double total = 0;
    int count = 0;
    for (int i = 0; i < N; i++) {
        if (t[(size_t)i] == ignore) continue;
        double smooth = 0;
        for (int c = 0; c < V; c++) smooth -= lp[(size_t)i * V + c];
        total += (1 - eps) * -lp[(size_t)i * V + t[(size_t)i]] + eps * smooth / V;
        count++;
    }
    return total / count;
}

// CTC by enumerating every alignment (C^T of them): -log sum of the probabilities of the
// alignments that collapse to the target. One sample; lp (T, C), any values.
double ctc_brute_force(const std::vector<double>& lp, int T, int C, const std::vector<int>& target, int blank) {
    std::vector<int> path((size_t)T, 0);
    double total = 0;
    for (;;) {
        std::vector<int> collapsed;
        int prev = -1;
        for (int t = 0; t < T; t++) {
            if (path[(size_t)t] != prev && path[(size_t)t] != blank) collapsed.push_back(path[(size_t)t]);
            prev = path[(size_t)t];
        }
        if (collapsed == target) {
            double s = 0;
            for (int t = 0; t < T; t++) s += lp[(size_t)t * C + path[(size_t)t]];
            total += std::exp(s);
        }
        int t = 0;
        while (t < T && ++path[(size_t)t] == C) path[(size_t)t++] = 0;
        if (t == T) break;
    }
    return -std::log(total);
}
}  // namespace

TEST_CASE("cross-entropy matches PyTorch (label smoothing, ignore index)", "[core][loss]") {
    auto refs = read_refs(kRefs);
    for (int k = 0; k < 3; k++) {
        const std::string p = "ce" + std::to_string(k) + "_";
        auto shape = ref(refs, p + "shape").i();
        const int N = shape[0], V = shape[1], ignore = shape[2];
        const float eps = (float)ref(refs, p + "eps").values[0];
        auto logits = ref(refs, p + "logits").f();
        auto targets = ref(refs, p + "targets").i();
        const double want = ref(refs, p + "loss").values[0];
        std::vector<float> grad(logits.size(), 0.0f), grad_naive(logits.size(), 0.0f);
        const float loss = cross_entropy_forward_backward(grad.data(), logits.data(), targets.data(), N, V, ignore, eps);
        const float loss_naive = cross_entropy_forward_backward_naive(grad_naive.data(), logits.data(), targets.data(),
                                                                      N, V, ignore, eps);
        INFO("case " << k);
        CHECK(reldiff(loss, want) < 1e-5);
        CHECK(reldiff(loss_naive, want) < 1e-5);
        CHECK(maxabs(grad, ref(refs, p + "grad").f()) < 1e-5);
        CHECK(maxabs(grad_naive, ref(refs, p + "grad").f()) < 1e-5);
    }
}

TEST_CASE("cross-entropy gradient: finite differences, accumulation, dloss, bad targets", "[core][loss]") {
    const int N = 6, V = 7, ignore = -100;
    auto logits = randv((size_t)N * V, 11, -3, 3);
    std::vector<int32_t> t = {3, ignore, 0, 6, 2, ignore};
    for (double eps : {0.0, 0.01, 0.25}) {
        std::vector<double> z(logits.begin(), logits.end());
        auto fd = central_diff([&](const std::vector<double>& x) { return ce_oracle(x, t, N, V, ignore, eps); }, z, 1e-5);
        std::vector<float> g((size_t)N * V, 0.0f), gn((size_t)N * V, 0.0f);
        cross_entropy_forward_backward(g.data(), logits.data(), t.data(), N, V, ignore, (float)eps);
        cross_entropy_forward_backward_naive(gn.data(), logits.data(), t.data(), N, V, ignore, (float)eps);
        CHECK(maxabs(g, {fd.begin(), fd.end()}) < 2e-6);
        CHECK(maxabs(gn, {fd.begin(), fd.end()}) < 2e-6);
        CHECK(std::fabs(cross_entropy_forward_backward(nullptr, logits.data(), t.data(), N, V, ignore, (float)eps) -
                        ce_oracle(z, t, N, V, ignore, eps)) < 1e-6);
    }
    // accumulate with dloss: g0 + 0.5 * grad
    std::vector<float> base = randv((size_t)N * V, 12), acc = base, once((size_t)N * V, 0.0f);
    cross_entropy_forward_backward(acc.data(), logits.data(), t.data(), N, V, ignore, 0.01f, 0.5f);
    cross_entropy_forward_backward(once.data(), logits.data(), t.data(), N, V, ignore, 0.01f);
    for (size_t i = 0; i < acc.size(); i++) CHECK(acc[i] == Approx(base[i] + 0.5f * once[i]).margin(1e-6));
    // every row ignored: loss 0, no gradient
    std::vector<int32_t> all_ignored((size_t)N, ignore);
    std::vector<float> zero((size_t)N * V, 0.0f);
    CHECK(cross_entropy_forward_backward(zero.data(), logits.data(), all_ignored.data(), N, V, ignore, 0.1f) == 0.0f);
    CHECK(maxabs(zero, std::vector<float>(zero.size(), 0.0f)) == 0.0);
    t[4] = 7;
    CHECK_THROWS_WITH(cross_entropy_forward_backward(nullptr, logits.data(), t.data(), N, V, ignore, 0.0f),
                      Catch::Contains("row 4") && Catch::Contains("target 7"));
}

TEST_CASE("cross-entropy: fast equals naive on large shapes, any thread count", "[core][loss]") {
    for (auto [N, V] : {std::pair{1, 1}, {3, 2}, {257, 29}, {3000, 25}}) {
        auto logits = randv((size_t)N * V, N + V, -8, 8);
        std::vector<int32_t> t((size_t)N);
        for (int i = 0; i < N; i++) t[(size_t)i] = i % 5 == 1 ? 0 : (i * 7) % V;
        std::vector<float> a((size_t)N * V, 0.0f), b = a, c = a;
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        const float l1 = cross_entropy_forward_backward(a.data(), logits.data(), t.data(), N, V, 0, 0.01f);
        omp_set_num_threads(2);
        const float l2 = cross_entropy_forward_backward(c.data(), logits.data(), t.data(), N, V, 0, 0.01f);
        omp_set_num_threads(threads);
        const float ln = cross_entropy_forward_backward_naive(b.data(), logits.data(), t.data(), N, V, 0, 0.01f);
        CHECK(l1 == l2);
        CHECK(maxabs(a, c) == 0.0);
        if (N * V > 1) CHECK(reldiff(l1, ln) < 1e-5);
        CHECK(maxabs(a, b) < 1e-5);
    }
}

TEST_CASE("CTC matches PyTorch (PrimeNovo blank, repeats, too-long targets)", "[core][loss]") {
    auto refs = read_refs(kRefs);
    for (int k = 0; k < 3; k++) {
        const std::string p = "ctc" + std::to_string(k) + "_";
        auto sh = ref(refs, p + "shape").i();
        const int B = sh[0], T = sh[1], C = sh[2], S = sh[3];
        ctc_options opt;
        opt.blank = sh[4];
        opt.reduction = sh[5] ? ctc_reduction::mean : ctc_reduction::sum;
        opt.zero_infinity = sh[6] != 0;
        opt.grad = ctc_grad::logits;
        auto lp = ref(refs, p + "log_probs").f();
        auto tg = ref(refs, p + "targets").i();
        auto il = ref(refs, p + "input_lengths").i();
        auto tl = ref(refs, p + "target_lengths").i();
        const double want = ref(refs, p + "loss").values[0];
        auto want_per = ref(refs, p + "per_sample").values;
        std::vector<float> g(lp.size(), 0.0f), gn = g, per((size_t)B), pern((size_t)B);
        const float loss = ctc_loss_forward_backward(g.data(), per.data(), lp.data(), tg.data(), il.data(), tl.data(),
                                                     B, T, C, S, opt);
        const float loss_n = ctc_loss_forward_backward_naive(gn.data(), pern.data(), lp.data(), tg.data(), il.data(),
                                                             tl.data(), B, T, C, S, opt);
        INFO("case " << k);
        for (int b = 0; b < B; b++) {
            if (std::isinf(want_per[(size_t)b])) {
                CHECK(std::isinf(per[(size_t)b]));
                CHECK(std::isinf(pern[(size_t)b]));
                continue;
            }
            CHECK(reldiff(per[(size_t)b], want_per[(size_t)b]) < 1e-5);
            CHECK(reldiff(pern[(size_t)b], want_per[(size_t)b]) < 1e-5);
        }
        if (std::isinf(want)) {
            CHECK(std::isinf(loss));
            CHECK(std::isinf(loss_n));
            // the infeasible sample's frames get NaN, the feasible one's finite values
            CHECK(std::isnan(g[0]));
            CHECK(std::isfinite(g[(size_t)T * C]));
            continue;
        }
        CHECK(reldiff(loss, want) < 1e-5);
        CHECK(reldiff(loss_n, want) < 1e-5);
        CHECK(maxabs(g, ref(refs, p + "grad_torch").f()) < 1e-5);
        CHECK(maxabs(g, ref(refs, p + "grad_logits").f()) < 1e-5);
        CHECK(maxabs(gn, ref(refs, p + "grad_logits").f()) < 1e-5);
    }
}

TEST_CASE("CTC gradient against finite differences of brute-force path enumeration", "[core][loss]") {
    struct sample { int T, C, blank; std::vector<int> target; };
    for (const sample& s : {sample{5, 3, 0, {1, 2}}, sample{6, 4, 3, {1, 1, 2}}, sample{5, 3, 2, {}},
                            sample{6, 3, 0, {2, 2, 2}}, sample{4, 4, 0, {1, 2, 3, 1}}}) {
        const int T = s.T, C = s.C, L = (int)s.target.size(), S = std::max(L, 1);
        // unnormalised log-probabilities for the log_probs gradient, logits for the other
        auto raw = randv((size_t)T * C, T * 10 + C, -2, 1);
        std::vector<int32_t> tg((size_t)S, -1);
        for (int j = 0; j < L; j++) tg[(size_t)j] = s.target[(size_t)j];
        const int32_t il = T, tl = L;
        ctc_options opt;
        opt.blank = s.blank;
        opt.reduction = ctc_reduction::sum;
        INFO("T " << T << " C " << C << " L " << L);

        std::vector<double> x(raw.begin(), raw.end());
        auto f_lp = [&](const std::vector<double>& v) { return ctc_brute_force(v, T, C, s.target, s.blank); };
        auto fd = central_diff(f_lp, x, 1e-6);
        std::vector<float> g(raw.size(), 0.0f), gn = g;
        const float loss = ctc_loss_forward_backward(g.data(), nullptr, raw.data(), tg.data(), &il, &tl, 1, T, C, S, opt);
        ctc_loss_forward_backward_naive(gn.data(), nullptr, raw.data(), tg.data(), &il, &tl, 1, T, C, S, opt);
        CHECK(reldiff(loss, f_lp(x)) < 1e-6);
        CHECK(maxabs(g, {fd.begin(), fd.end()}) < 2e-6);
        CHECK(maxabs(gn, {fd.begin(), fd.end()}) < 2e-6);

        // logits mode: lp = log_softmax(z), gradient w.r.t. z
        auto lpd = log_softmax_rows(x, T, C);
        std::vector<float> lpf(lpd.begin(), lpd.end()), gz(raw.size(), 0.0f);
        opt.grad = ctc_grad::logits;
        ctc_loss_forward_backward(gz.data(), nullptr, lpf.data(), tg.data(), &il, &tl, 1, T, C, S, opt);
        auto fdz = central_diff([&](const std::vector<double>& v) { return f_lp(log_softmax_rows(v, T, C)); }, x, 1e-6);
        CHECK(maxabs(gz, {fdz.begin(), fdz.end()}) < 2e-6);
    }
}

TEST_CASE("CTC: fast equals naive on PrimeNovo shapes; mean reduction, dloss, bad input", "[core][loss]") {
    const int B = 6, T = 40, C = 28, S = 22;
    auto logits = randv((size_t)B * T * C, 5, -3, 3);
    std::vector<double> z(logits.begin(), logits.end());
    auto lpd = log_softmax_rows(z, B * T, C);
    std::vector<float> lp(lpd.begin(), lpd.end());
    std::vector<int32_t> tg((size_t)B * S, -1), il = {40, 40, 33, 40, 12, 40}, tl = {7, 22, 15, 1, 12, 0};
    for (int b = 0; b < B; b++)
        for (int j = 0; j < tl[(size_t)b]; j++) tg[(size_t)b * S + j] = (b * 5 + j * j / 3) % 27;  // some repeats
    for (bool zero_inf : {false, true})
        for (auto mode : {ctc_grad::log_probs, ctc_grad::logits}) {
            ctc_options opt{27, ctc_reduction::mean, zero_inf, mode};
            std::vector<float> g(lp.size(), 0.0f), gn = g, per((size_t)B), pern((size_t)B);
            const float a = ctc_loss_forward_backward(g.data(), per.data(), lp.data(), tg.data(), il.data(), tl.data(),
                                                      B, T, C, S, opt, 0.75f);
            const float b = ctc_loss_forward_backward_naive(gn.data(), pern.data(), lp.data(), tg.data(), il.data(),
                                                            tl.data(), B, T, C, S, opt, 0.75f);
            // sample 4 needs more than 12 frames (repeats): infinite unless zero_infinity
            CHECK(std::isinf(per[4]) == !zero_inf);
            if (zero_inf) {
                CHECK(reldiff(a, b) < 1e-5);
                double mean = 0;
                for (int i = 0; i < B; i++) mean += per[(size_t)i] / std::max(tl[(size_t)i], 1) / B;
                CHECK(reldiff(a, mean) < 1e-6);
                CHECK(maxabs(g, gn) < 1e-5);
                // zeroed sample: no gradient at all; frames past input_length: none either
                for (size_t i = 4 * (size_t)T * C; i < 5 * (size_t)T * C; i++) REQUIRE(g[i] == 0.0f);
                for (size_t i = (2 * (size_t)T + 33) * C; i < 3 * (size_t)T * C; i++) REQUIRE(g[i] == 0.0f);
            }
            for (int i = 0; i < B; i++)
                if (i != 4) CHECK(reldiff(per[(size_t)i], pern[(size_t)i]) < 1e-5);
        }
    ctc_options opt{27};
    tg[3] = 27;  // the blank as a label
    CHECK_THROWS_WITH(ctc_loss_forward_backward(nullptr, nullptr, lp.data(), tg.data(), il.data(), tl.data(), B, T, C,
                                                S, opt),
                      Catch::Contains("sample 0 label 3"));
    tg[3] = 1;
    il[2] = 41;
    CHECK_THROWS_WITH(ctc_loss_forward_backward(nullptr, nullptr, lp.data(), tg.data(), il.data(), tl.data(), B, T, C,
                                                S, opt),
                      Catch::Contains("sample 2 has input length 41"));
}
