#include "denovo/evaluate.hpp"
#include "util/csv.hpp"

#include <catch2/catch.hpp>

using namespace tranova::denovo;

static const std::string kData = std::string(TRANOVA_TEST_DATA) + "/denovo/";

static std::string bits(const std::vector<bool>& v) {
    std::string s;
    for (bool b : v) s += b ? '1' : '0';
    return s;
}

TEST_CASE("aa_match reproduces Casanovo v4.2.1 on the 32 fixture pairs", "[denovo][evaluate]") {
    tranova::csv_reader pairs(kData + "eval_pairs.csv"), per(kData + "eval_per_pair.csv");
    std::vector<std::string> a, b;
    std::vector<spectrum_eval> evals;
    int n = 0;
    while (pairs.next(a)) {
        REQUIRE(per.next(b));
        INFO("pair " << a[0] << " " << a[1] << ": " << a[2] << " vs " << a[3]);
        peptide pred = split_tokens(a[2]), truth = split_tokens(a[3]);
        CHECK(pred.size() == (a[2].empty() ? 0u : std::stoul(b[2])));  // Casanovo counts "" as one token
        CHECK(truth.size() == std::stoul(b[3]));
        auto best = aa_match(truth, pred);
        CHECK(bits(best.matches) == b[4]);
        CHECK(best.n_matched == std::stol(b[5]));
        CHECK(best.peptide_match == (b[6] == "1"));
        CHECK(bits(aa_match(truth, pred, vocabulary::massivekb(), match_mode::forward).matches) == b[7]);
        CHECK(bits(aa_match(truth, pred, vocabulary::massivekb(), match_mode::backward).matches) == b[8]);
        // The swapped order gives the same answers on these pairs (checked in the fixture JSON).
        CHECK(bits(aa_match(pred, truth).matches) == b[4]);
        spectrum_eval e;
        e.title = a[0];
        e.truth = truth;
        e.prediction = pred;
        e.has_prediction = true;
        e.score = std::stod(a[4]);
        evals.push_back(e);
        ++n;
    }
    REQUIRE(n == 32);
    auto s = evaluate(evals);
    // Fixture: n_aa_true 233, n_aa_pred 217 (Casanovo counts the empty prediction as one
    // residue; we count 0), matched 177, peptide 11/32, AUC 0.33485739471656906.
    CHECK(s.n_spectra == 32);
    CHECK(s.n_aa_true == 233);
    CHECK(s.n_aa_pred == 216);
    CHECK(s.n_aa_matched == 177);
    CHECK(s.aa_recall == Approx(0.7596566523279117).epsilon(1e-9));  // upstream divides by n + 1e-8
    CHECK(s.aa_precision == Approx(177.0 / 216).epsilon(1e-12));
    CHECK(s.n_peptide_matched == 11);
    CHECK(s.peptide_recall == Approx(0.34375).epsilon(1e-12));
    CHECK(s.n_predicted == 31);
    CHECK(s.peptide_precision == Approx(11.0 / 31).epsilon(1e-12));
    // The curve has one point per spectrum; the empty prediction counts as an unscored miss.
    // Its fixture score ranks 18th, so the curve differs from there on: compare the first 17
    // points with the fixture (exact up to 1e-12 relative).
    const double fixture_precision[] = {1.0, 0.5, 0.6666666666666666, 0.5, 0.4, 0.3333333333333333,
                                        0.2857142857142857, 0.25, 0.2222222222222222, 0.2, 0.2727272727272727,
                                        0.3333333333333333, 0.3076923076923077, 0.35714285714285715,
                                        0.3333333333333333, 0.3125, 0.29411764705882354, 0.2777777777777778,
                                        0.2631578947368421, 0.3, 0.2857142857142857, 0.3181818181818182,
                                        0.34782608695652173, 0.3333333333333333, 0.32, 0.3076923076923077,
                                        0.3333333333333333, 0.32142857142857145};
    REQUIRE(s.pc_precision.size() == 32);
    for (int k = 0; k < 17; ++k) CHECK(s.pc_precision[k] == Approx(fixture_precision[k]).epsilon(1e-12));
    CHECK(s.pc_coverage.back() == 1.0);

    // With every pair scored as upstream does (empty prediction kept in place), the AUC is
    // sklearn's 0.33485739471656906.
    std::vector<double> scores;
    std::vector<bool> matched;
    for (const auto& e : evals) scores.push_back(e.score), matched.push_back(e.match.peptide_match);
    std::vector<double> cov, prec;
    double auc = precision_coverage(scores, matched, 32, cov, prec);
    CHECK(auc == Approx(0.33485739471656906).epsilon(1e-12));
    CHECK(prec.back() == Approx(0.34375));
}

TEST_CASE("metrics on hand-computed cases", "[denovo][evaluate]") {
    auto ev = [](const char* truth, const char* pred, double score, bool has = true) {
        spectrum_eval e;
        e.truth = parse_peptide(truth);
        e.prediction = has ? split_tokens(pred) : peptide{};
        e.has_prediction = has;
        e.score = score;
        return e;
    };
    std::vector<spectrum_eval> v{
        ev("PEPTLDEK", "PEPTIDEK", 0.9),                   // I/L: full match, 8/8
        ev("C+57.021GM+15.995K", "C+57.021GM+15.995K", 0.8),  // modified residues, 4/4
        ev("LLMAK", "LLM+15.995AK", 0.7),                  // modification missing in truth: 4/5 matched
        ev("PEPTIDEK", "PEPTIDEKK", 0.6),                  // longer prediction: 8 matched of 9, no peptide match
        ev("GASPK", "", 0.5),                              // empty prediction
        ev("AAAA", "", 0.0, false),                        // no prediction at all
    };
    auto s = evaluate(v);
    CHECK(v[0].match.peptide_match);
    CHECK(v[1].match.peptide_match);
    CHECK(v[2].match.n_matched == 4);
    CHECK_FALSE(v[2].match.peptide_match);
    CHECK(v[3].match.n_matched == 8);
    CHECK_FALSE(v[3].match.peptide_match);
    CHECK(v[4].match.n_matched == 0);
    CHECK_FALSE(v[4].match.peptide_match);
    CHECK(s.n_spectra == 6);
    CHECK(s.n_predicted == 4);
    CHECK(s.n_aa_true == 8 + 4 + 5 + 8 + 5 + 4);
    CHECK(s.n_aa_pred == 8 + 4 + 5 + 9);
    CHECK(s.n_aa_matched == 8 + 4 + 4 + 8);
    CHECK(s.aa_precision == Approx(24.0 / 26));
    CHECK(s.aa_recall == Approx(24.0 / 34));
    CHECK(s.peptide_precision == Approx(2.0 / 4));
    CHECK(s.peptide_recall == Approx(2.0 / 6));
    // Curve: sorted 0.9 (hit) 0.8 (hit) 0.7 (miss) 0.6 (miss), then two unscored misses.
    const std::vector<double> prec{1, 1, 2.0 / 3, 0.5, 0.4, 1.0 / 3};
    REQUIRE(s.pc_precision.size() == 6);
    for (int k = 0; k < 6; ++k) {
        CHECK(s.pc_precision[k] == Approx(prec[k]));
        CHECK(s.pc_coverage[k] == Approx((k + 1) / 6.0));
    }
    double auc = 0;
    for (int k = 1; k < 6; ++k) auc += (prec[k] + prec[k - 1]) / 2 / 6;
    CHECK(s.pc_auc == Approx(auc));

    // Nothing to evaluate: zeros, no division by zero.
    std::vector<spectrum_eval> none;
    auto z = evaluate(none);
    CHECK(z.aa_precision == 0);
    CHECK(z.pc_auc == 0);
}

TEST_CASE("aa_match corner cases", "[denovo][evaluate]") {
    // GG vs N: cumulative agreement but individual mismatch.
    auto r = aa_match(parse_peptide("NPEK"), split_tokens("GGPEK"));
    CHECK(bits(r.matches) == "00111");
    // Unknown tokens weigh zero.
    r = aa_match(parse_peptide("PEPTK"), split_tokens("PEPXK"));
    CHECK(bits(r.matches) == "11101");
    // Both empty: a vacuous full match (callers treat empty predictions as misses).
    CHECK(aa_match({}, {}).peptide_match);
}
