// End-to-end scoring parity against the official CSVs (tests/data/tranception/scores):
// both checkpoints, optimal and sliding windows, with and without the retrieval prior
// (the official float32 log-prior, so this test isolates scoring from prior building).
// Tolerances on every score column: 1e-6 absolute (optimal), 2e-6 (sliding). The official
// per-slice sums are float32 sums on the device (a few ulps of |S| ~ 2000, i.e. ~5e-7 after
// dividing by the length); ours are double sums rounded once to float32. Sliding adds the
// official float32 window sums, which quantise deltas to ~2.4e-7.
#include "tranception/model.hpp"
#include "tranception/scoring.hpp"
#include "tranception/variants.hpp"

#include "npy.hpp"
#include "test_data.hpp"
#include "util/csv.hpp"
#include "util/text.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

using namespace tranova::tranception;

namespace {
using tranception_test::data_dir;
using tranception_test::read_fasta;

const model& get_model(const std::string& name) {
    static model tiny = model_load(data_dir + "/models/tiny/model.safetensors");
    static model ctx64 = model_load(data_dir + "/models/tiny_ctx64/model.safetensors");
    return name == "tiny" ? tiny : ctx64;
}

log_prior scn5a_prior() {
    auto a = npy::load(data_dir + "/msa_refs/SCN5A_HUMAN_b1.0_sub8_log_prior_f32.npy");
    log_prior p;
    p.start0 = 1516;
    p.end0 = 1793;
    p.rows.assign(a.data.begin(), a.data.end());
    return p;
}

struct expected {
    std::vector<std::string> mutants;
    std::vector<std::array<double, 3>> scores;
};

expected read_expected(const std::string& path) {
    tranova::csv_reader r(path);
    expected e;
    std::vector<std::string> f;
    while (r.next(f)) {
        e.mutants.push_back(f[0]);
        std::array<double, 3> s{};
        for (int k = 0; k < 3; ++k) tranova::parse_double(f[k + 1], s[k]);
        e.scores.push_back(s);
    }
    return e;
}

double run_case(const std::string& cfg, const std::string& dms, const std::string& window, bool retrieval,
                bool use_cache = true) {
    std::string target = read_fasta(data_dir + "/dms/" + dms.substr(0, dms.find("_oracle")) + ".fasta");
    std::string stem = cfg + "__" + dms + "__" + window + "__" + (retrieval ? "retrieval_0.6" : "no_retrieval");
    auto want = read_expected(data_dir + "/scores/" + stem + ".csv");
    // The n_ctx-1024 model spends its time on 1022-token attention: score rows 0-29 of
    // the real singles and every synthetic/multi-mutant row (140-179), which between them
    // reach every window branch; the n_ctx-64 model scores all 180 rows.
    if (cfg == "tiny" && !std::getenv("TRANOVA_FULL_PARITY")) {
        expected sub;
        for (size_t i = 0; i < want.mutants.size(); ++i)
            if (i < 30 || i >= 140) {
                sub.mutants.push_back(want.mutants[i]);
                sub.scores.push_back(want.scores[i]);
            }
        want = sub;
    }
    std::vector<variant> vars;
    for (auto& m : want.mutants) vars.push_back(variant_from_mutant(m, target, "test"));
    log_prior prior = scn5a_prior();
    scoring_options opt;
    opt.window = window == "optimal" ? window_mode::optimal : window_mode::sliding;
    opt.prior = retrieval ? &prior : nullptr;
    opt.use_cache = use_cache;
    auto got = score_variants(get_model(cfg), target, vars, opt);
    double md = 0;
    for (size_t i = 0; i < vars.size(); ++i) {
        md = std::max(md, std::abs(got[i].l_to_r - want.scores[i][0]));
        md = std::max(md, std::abs(got[i].r_to_l - want.scores[i][1]));
        md = std::max(md, std::abs(got[i].avg - want.scores[i][2]));
    }
    return md;
}
}  // namespace

TEST_CASE("optimal window rule", "[tranception]") {
    CHECK(optimal_window({5}, 100, 1022) == std::make_pair(0, 100));
    CHECK(optimal_window({10}, 2016, 1022) == std::make_pair(0, 1022));
    CHECK(optimal_window({2015}, 2016, 1022) == std::make_pair(994, 2016));
    CHECK(optimal_window({1000}, 2016, 1022) == std::make_pair(489, 1511));
    CHECK(optimal_window({0, 2015}, 2016, 1022) == std::make_pair(496, 1518));  // int(1007.5) = 1007
}

TEST_CASE("scores equal the official CSVs", "[tranception]") {
    struct c {
        const char *cfg, *dms, *window;
        bool retrieval;
    } cases[] = {
        // n_ctx 1024: by default the two retrieval runs (their windows include ones with
        // no MSA overlap, so they exercise the plain path too); TRANOVA_FULL_PARITY=1 adds
        // the three no-retrieval runs and all rows.
        {"tiny", "SCN5A_HUMAN_oracle", "optimal", true},
        {"tiny", "SCN5A_HUMAN_oracle", "sliding", true},
        {"tiny", "PABP_YEAST_oracle", "optimal", false},
        {"tiny", "SCN5A_HUMAN_oracle", "optimal", false},
        {"tiny", "SCN5A_HUMAN_oracle", "sliding", false},
        {"tiny_ctx64", "PABP_YEAST_oracle", "optimal", false},
        {"tiny_ctx64", "PABP_YEAST_oracle", "sliding", false},
        {"tiny_ctx64", "SCN5A_HUMAN_oracle", "optimal", false},
        {"tiny_ctx64", "SCN5A_HUMAN_oracle", "optimal", true},
        {"tiny_ctx64", "SCN5A_HUMAN_oracle", "sliding", false},
        {"tiny_ctx64", "SCN5A_HUMAN_oracle", "sliding", true},
    };
    const bool full = std::getenv("TRANOVA_FULL_PARITY") != nullptr;
    for (const auto& k : cases) {
        if (!full && std::string(k.cfg) == "tiny" && !k.retrieval) continue;
        double md = run_case(k.cfg, k.dms, k.window, k.retrieval);
        double tol = std::string(k.window) == "optimal" ? 1e-6 : 2e-6;
        INFO(k.cfg << " " << k.dms << " " << k.window << (k.retrieval ? " retrieval" : "") << ": max abs diff " << md);
        CHECK(md <= tol);
    }
}

TEST_CASE("the prefix cache gives the same scores as full forwards", "[tranception]") {
    double a = run_case("tiny_ctx64", "SCN5A_HUMAN_oracle", "optimal", true, false);
    INFO("uncached max abs diff vs official " << a);
    CHECK(a <= 1e-6);
}

TEST_CASE("variant parsing checks the target", "[tranception]") {
    std::string t = "MKVLA";
    auto v = variant_from_mutant("K2A:L4G", t, "x.csv:2");
    CHECK(v.sequence == "MAVGA");
    CHECK(v.positions == std::vector<int>{1, 3});
    CHECK_THROWS_WITH(variant_from_mutant("K9A", t, "x.csv:3"), Catch::Contains("x.csv:3") && Catch::Contains("outside"));
    CHECK_THROWS_WITH(variant_from_mutant("A2K", t, "r"), Catch::Contains("expects wild-type A at position 2"));
    CHECK_THROWS_WITH(variant_from_mutant("K2", t, "r"), Catch::Contains("malformed"));
    CHECK_THROWS_WITH(variant_from_mutant("K2*", t, "r"), Catch::Contains("malformed"));
    auto s = variant_from_sequence("MKVLC", t, "r");
    CHECK(s.mutant == "A5C");
    CHECK_FALSE(s.indel);
    CHECK(variant_from_sequence("MKVA", t, "r").indel);
    CHECK_THROWS_WITH(variant_from_sequence("MK1LA", t, "r"), Catch::Contains("non-amino-acid character '1' at position 3"));
    CHECK(all_single_substitutions(t).size() == 5 * 19);
}
