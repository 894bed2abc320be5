// Golden metric vectors (tests/data/gym/golden_metric_*.csv, produced by the official
// ProteinGym metric functions under numpy 1.24.2 / scipy 1.10.1 / sklearn 1.2.1):
// every case, every metric, 1e-12 before rounding and exact after round3. Also the
// fast path (assay_metrics) against the reference functions on random and tied data.
#include <catch2/catch.hpp>

#include "gym/metrics.hpp"
#include "gym/detail/metric_scratch.hpp"
#include "util/csv.hpp"
#include "util/text.hpp"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace tranova;
using namespace tranova::gym;

namespace {

struct golden_case {
    std::vector<double> y, s;
    std::vector<int8_t> b;
    std::map<std::string, std::string> expected;
};

std::map<std::string, golden_case> load_golden() {
    std::map<std::string, golden_case> cases;
    csv_reader in(std::string(TRANOVA_TEST_DATA) + "/gym/golden_metric_inputs.csv");
    int c_id = in.require_column("case_id"), c_y = in.require_column("DMS_score"),
        c_b = in.require_column("DMS_score_bin"), c_s = in.require_column("prediction");
    std::vector<std::string> f;
    while (in.next(f)) {
        auto& gc = cases[f[c_id]];
        double y, s;
        long long b;
        REQUIRE(parse_double(f[c_y], y));
        REQUIRE(parse_double(f[c_s], s));
        REQUIRE(parse_int(f[c_b], b));
        gc.y.push_back(y);
        gc.s.push_back(s);
        gc.b.push_back(static_cast<int8_t>(b));
    }
    csv_reader out(std::string(TRANOVA_TEST_DATA) + "/gym/golden_metric_outputs.csv");
    while (out.next(f)) {
        auto& gc = cases.at(f[out.require_column("case_id")]);
        for (size_t i = 0; i < f.size(); ++i) gc.expected[out.header()[i]] = f[i];
    }
    return cases;
}

double expected_value(const golden_case& gc, const std::string& col) {
    const std::string& v = gc.expected.at(col);
    if (v.empty()) return std::nan("");
    double d;
    REQUIRE(parse_double(v, d));
    return d;
}

void check_close(double got, double want, const std::string& what) {
    INFO(what << ": got " << got << " want " << want);
    if (std::isnan(want)) {
        CHECK(std::isnan(got));
    } else {
        CHECK(std::abs(got - want) <= 1e-12);
    }
}

void check_exact(double got, double want, const std::string& what) {
    INFO(what << ": got " << got << " want " << want);
    if (std::isnan(want))
        CHECK(std::isnan(got));
    else
        CHECK(got == want);
}

}  // namespace

TEST_CASE("golden metric vectors: reference functions", "[gym][metrics]") {
    auto cases = load_golden();
    REQUIRE(cases.size() == 10);
    for (auto& [id, gc] : cases) {
        const int64_t n = static_cast<int64_t>(gc.y.size());
        REQUIRE(n == static_cast<int64_t>(std::stod(gc.expected.at("n"))));
        check_close(spearman_reference(gc.y.data(), gc.s.data(), n), expected_value(gc, "spearman"), id + " spearman");
        check_close(auc_reference(gc.b.data(), gc.s.data(), n), expected_value(gc, "auc"), id + " auc");
        check_close(mcc_reference(gc.b.data(), gc.s.data(), n), expected_value(gc, "mcc"), id + " mcc");
        check_close(ndcg_reference(gc.y.data(), gc.s.data(), n, ndcg_ties::numpy), expected_value(gc, "ndcg"),
                    id + " ndcg (numpy ties)");
        check_close(ndcg_reference(gc.y.data(), gc.s.data(), n, ndcg_ties::stable),
                    expected_value(gc, "ndcg_stable_tiebreak"), id + " ndcg (stable ties)");
        check_close(top_recall_reference(gc.y.data(), gc.s.data(), n), expected_value(gc, "top_recall"),
                    id + " top_recall");
        check_close(pandas_median(gc.s.data(), n), expected_value(gc, "model_median"), id + " median");
        check_close(numpy_percentile(gc.y.data(), n, 90), expected_value(gc, "true_p90"), id + " true p90");
        check_close(numpy_percentile(gc.s.data(), n, 90), expected_value(gc, "model_p90"), id + " model p90");
    }
}

TEST_CASE("golden metric vectors: fast path and rounding", "[gym][metrics]") {
    auto cases = load_golden();
    for (auto& [id, gc] : cases) {
        const int64_t n = static_cast<int64_t>(gc.y.size());
        for (auto ties : {ndcg_ties::numpy, ndcg_ties::stable}) {
            auto ctx = assay_context_build(gc.y.data(), gc.b.data(), nullptr, n, ties);
            detail::metric_scratch sc;
            double out[n_metrics];
            assay_metrics(out, ctx, gc.s.data(), sc);
            const char* cols[n_metrics] = {"spearman", "auc", "mcc", "ndcg", "top_recall"};
            for (int j = 0; j < n_metrics; ++j) {
                std::string col = cols[j];
                if (j == m_ndcg && ties == ndcg_ties::stable) col = "ndcg_stable_tiebreak";
                check_close(out[j], expected_value(gc, col), id + " fast " + col);
                if (col != "ndcg_stable_tiebreak")
                    check_exact(round3(out[j]), expected_value(gc, col + "_r3"), id + " round3 " + col);
            }
        }
    }
}

TEST_CASE("round3 is round-half-even on x*1000", "[gym][metrics]") {
    CHECK(round3(0.9375) == 0.938);
    CHECK(round3(0.0625) == 0.062);
    CHECK(round3(-0.0625) == -0.062);
    CHECK(round3(0.1234) == 0.123);
    CHECK(std::isnan(round3(std::nan(""))));
}

TEST_CASE("degenerate inputs", "[gym][metrics]") {
    std::vector<double> y{1, 2, 3, 4}, s{1, 1, 1, 1};
    std::vector<int8_t> b{0, 0, 1, 1}, ones{1, 1, 1, 1};
    CHECK(std::isnan(spearman_reference(y.data(), s.data(), 4)));  // constant prediction
    CHECK(auc_reference(b.data(), s.data(), 4) == 0.5);
    CHECK(mcc_reference(b.data(), s.data(), 4) == 0.0);            // denominator 0 -> 0
    CHECK(std::isnan(auc_reference(ones.data(), y.data(), 4)));    // single class
    CHECK(ndcg_reference(y.data(), y.data(), 4, ndcg_ties::numpy) == 0.0);  // k = floor(0.4) = 0
    std::vector<double> with_nan{1, std::nan(""), 3, 4};
    CHECK(std::isnan(spearman_reference(y.data(), with_nan.data(), 4)));
    CHECK(std::isnan(auc_reference(b.data(), with_nan.data(), 4)));
    // Clinical orientation: a lower fitness prediction means pathogenic.
    std::vector<int8_t> patho{1, 1, 0, 0};
    std::vector<double> fitness{-5, -4, 0, 1};
    CHECK(clinical_auc(patho.data(), fitness.data(), 4) == 1.0);
}

TEST_CASE("fast path equals the reference functions (random, tied, depth subsets)", "[gym][metrics]") {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> N01;
    for (int trial = 0; trial < 40; ++trial) {
        int64_t n = 5 + static_cast<int64_t>(rng() % 700);
        std::vector<double> y(n), s(n);
        std::vector<int8_t> b(n), depth(n);
        bool tied = trial % 2;
        for (int64_t i = 0; i < n; ++i) {
            y[i] = std::round(N01(rng) * 4) / 4;
            s[i] = y[i] + N01(rng);
            if (tied) s[i] = std::round(s[i] * 2) / 2;
            if (trial % 5 == 0) s[i] = -s[i];
            b[i] = y[i] >= 0;
            depth[i] = static_cast<int8_t>(1 + rng() % 7);
        }
        for (auto ties : {ndcg_ties::numpy, ndcg_ties::stable}) {
            auto ctx = assay_context_build(y.data(), b.data(), depth.data(), n, ties);
            detail::metric_scratch sc;
            std::vector<double> out(n_metrics * (1 + n_depths));
            assay_metrics(out.data(), ctx, s.data(), sc);
            // whole-assay MCC binarisation, reused by the depth subsets
            double med = pandas_median(s.data(), n);
            for (int d = 0; d <= n_depths; ++d) {
                std::vector<double> ys, ss;
                std::vector<int8_t> bs, ps;
                for (int64_t i = 0; i < n; ++i)
                    if (d == 0 || std::min<int>(depth[i], 5) == d) {
                        ys.push_back(y[i]);
                        ss.push_back(s[i]);
                        bs.push_back(b[i]);
                        ps.push_back(s[i] >= med);
                    }
                int64_t m = static_cast<int64_t>(ys.size());
                const double* o = &out[n_metrics * d];
                INFO("trial " << trial << " depth slice " << d << " n " << m);
                check_close(o[0], spearman_reference(ys.data(), ss.data(), m), "spearman");
                check_close(o[1], auc_reference(bs.data(), ss.data(), m), "auc");
                check_close(o[2], mcc_binary(bs.data(), ps.data(), m), "mcc");
                check_close(o[3], ndcg_reference(ys.data(), ss.data(), m, ties), "ndcg");
                check_close(o[4], top_recall_reference(ys.data(), ss.data(), m), "top_recall");
            }
        }
    }
}

TEST_CASE("numpy_argsort_top agrees with the full numpy argsort on its prefix", "[gym][metrics]") {
    std::mt19937_64 rng(5);
    for (int trial = 0; trial < 30; ++trial) {
        int64_t n = 1 + static_cast<int64_t>(rng() % 5000);
        std::vector<double> x(n);
        for (auto& v : x) v = static_cast<double>(rng() % (trial % 3 == 0 ? 5 : 50));
        std::vector<int64_t> full(n), top(n);
        numpy_argsort(full.data(), x.data(), n);
        int64_t limit = static_cast<int64_t>(rng() % (n + 1));
        numpy_argsort_top(top.data(), x.data(), n, limit);
        for (int64_t i = 0; i < limit; ++i) REQUIRE(full[i] == top[i]);
    }
}

TEST_CASE("an assay of single mutants: Depth_1 equals the whole assay, other depths NaN", "[gym][metrics]") {
    std::mt19937_64 rng(9);
    std::normal_distribution<double> N01;
    const int64_t n = 300;
    std::vector<double> y(n), s(n);
    std::vector<int8_t> b(n), depth(n, 1);
    for (int64_t i = 0; i < n; ++i) {
        y[i] = N01(rng);
        s[i] = std::round((y[i] + N01(rng)) * 4) / 4;
        b[i] = y[i] > 0;
    }
    auto ctx = assay_context_build(y.data(), b.data(), depth.data(), n, ndcg_ties::numpy);
    detail::metric_scratch sc;
    std::vector<double> out(n_metrics * (1 + n_depths));
    assay_metrics(out.data(), ctx, s.data(), sc);
    for (int j = 0; j < n_metrics; ++j) {
        CHECK(out[n_metrics + j] == out[j]);
        for (int d = 2; d <= n_depths; ++d) CHECK(std::isnan(out[n_metrics * d + j]));
    }
    CHECK(out[m_ndcg] == Approx(ndcg_reference(y.data(), s.data(), n, ndcg_ties::numpy)).margin(1e-12));
}
