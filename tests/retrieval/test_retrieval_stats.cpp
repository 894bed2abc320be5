// Karlin-Altschul lambda of score systems and the scaling of profile PSSMs to BLOSUM62's
// lambda (src/retrieval/scoring.cpp, pssm.cpp).
#include <catch2/catch.hpp>

#include "msa/msa.hpp"
#include "retrieval/scoring.hpp"
#include "retrieval/search.hpp"
#include "util/error.hpp"

#include <cmath>
#include <algorithm>
#include <map>
#include <random>

using namespace tranova;
using namespace tranova::retrieval;

namespace {

// A query whose composition is the background: residue a repeated round(n * p_a) times.
std::vector<std::uint8_t> background_query(int n) {
    std::vector<std::uint8_t> q;
    const auto& bg = background_frequencies();
    for (int a = 0; a < 20; ++a)
        for (long k = 0; k < std::lround(n * bg[static_cast<std::size_t>(a)]); ++k) q.push_back(static_cast<std::uint8_t>(a));
    return q;
}

std::string random_protein(std::mt19937& rng, int n) {
    std::discrete_distribution<int> d(background_frequencies().begin(), background_frequencies().end());
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(msa::amino_acids[static_cast<std::size_t>(d(rng))]);
    return s;
}

}  // namespace

TEST_CASE("karlin_lambda solves sum P(s) exp(lambda s) = 1", "[retrieval][stats]") {
    // -1 with 3/4, +1 with 1/4: 0.75/x + 0.25x = 1 -> x = e^lambda = 3.
    CHECK(karlin_lambda({0.75, 0.0, 0.25}, -1) == Approx(std::log(3.0)).epsilon(1e-9));
    // Unnormalised probabilities are normalised.
    CHECK(karlin_lambda({3.0, 0.0, 1.0}, -1) == Approx(std::log(3.0)).epsilon(1e-9));
    // -2 with 1/2, +1 with 1/2: 0.5 x^-2 + 0.5 x = 1 -> x^3 - 2x^2 + 1 = 0 -> x = golden ratio.
    CHECK(karlin_lambda({0.5, 0.0, 0.0, 0.5}, -2) == Approx(std::log((1 + std::sqrt(5.0)) / 2)).epsilon(1e-9));
    // No positive lambda: expected score >= 0, or no positive score.
    CHECK_THROWS_AS(karlin_lambda({0.5, 0.0, 0.5}, -1), error);
    CHECK_THROWS_AS(karlin_lambda({0.5, 0.5}, -1), error);
}

TEST_CASE("BLOSUM62's ungapped lambda is BLAST's 0.3176", "[retrieval][stats]") {
    CHECK(blosum62_lambda() == Approx(0.3176).margin(5e-4));
    CHECK(lambda_ungapped == Approx(blosum62_lambda()).margin(5e-4));
    // The BLOSUM62 rows of a query of background composition: the same distribution.
    const auto q = background_query(100000);
    CHECK(pssm_lambda(blosum_pssm(q), static_cast<int>(q.size())) == Approx(0.3176).margin(1e-3));
}

TEST_CASE("rescale_pssm reaches the target lambda from any scale", "[retrieval][stats]") {
    std::mt19937 rng(7);
    const int L = 300;
    // Real scores: BLOSUM62 rows of a random query (background composition), in some other
    // unit (x 0.6 or x 1.7), plus noise.
    const std::string seq = random_protein(rng, L);
    const auto codes = encode(seq);
    std::normal_distribution<double> noise(0, 0.4);
    for (double unit : {0.6, 1.7}) {
        std::vector<double> s(static_cast<std::size_t>(L) * 20);
        for (int i = 0; i < L; ++i)
            for (int a = 0; a < 20; ++a) s[static_cast<std::size_t>(i) * 20 + a] = unit * (blosum62(codes[static_cast<std::size_t>(i)], a) + noise(rng));
        for (double target : {0.25, 0.3176, 0.4}) {
            double got = 0;
            const auto p = rescale_pssm(s, L, target, &got);
            INFO("unit " << unit << ", target " << target);
            CHECK(pssm_lambda(p, L) == Approx(got).epsilon(1e-12));
            CHECK(got == Approx(target).epsilon(0.01));
            for (int i = 0; i < L; ++i) CHECK(p[static_cast<std::size_t>(i) * 21 + 20] == -1);
        }
    }
}

TEST_CASE("profile PSSMs have BLOSUM62's ungapped lambda", "[retrieval][stats]") {
    std::mt19937 rng(11);
    const std::string q = random_protein(rng, 200);
    // A family: the query and 40 mutants (30 % substitutions, some gaps), and the query alone.
    msa::alignment family;
    family.rows.push_back(q);
    family.names.push_back("q");
    family.insertions.emplace_back();
    std::uniform_real_distribution<double> u(0, 1);
    for (int r = 0; r < 40; ++r) {
        std::string row = q;
        for (auto& c : row) {
            const double x = u(rng);
            if (x < 0.3) c = random_protein(rng, 1)[0];
            else if (x < 0.35) c = '-';
        }
        family.rows.push_back(row);
        family.names.push_back("m" + std::to_string(r));
        family.insertions.emplace_back();
    }
    msa::alignment alone;
    alone.rows = {q};
    alone.names = {"q"};
    alone.insertions.emplace_back();
    for (const auto* a : {&family, &alone}) {
        const auto p = build_pssm(*a);
        REQUIRE(p.size() == q.size() * 21);
        CHECK(pssm_lambda(p, static_cast<int>(q.size())) == Approx(blosum62_lambda()).epsilon(0.01));
    }
    // The profile favours the query's residues: its diagonal scores are positive on average.
    const auto p = build_pssm(family);
    const auto codes = encode(q);
    double diag = 0;
    for (std::size_t i = 0; i < q.size(); ++i) diag += p[i * 21 + codes[i]];
    CHECK(diag / static_cast<double>(q.size()) > 3);
}

TEST_CASE("composition-based statistics: lambda under the pair's compositions", "[retrieval][stats]") {
    const auto& bg = background_frequencies();
    CHECK(composition_scale(bg, bg) == Approx(1.0).epsilon(1e-9));
    // Poly-A against poly-A: A-A scores +4, the expected score is positive: no lambda.
    CHECK(composition_scale(composition("AAAAAAAA"), composition("AAAA")) == 0);
    // Proline/glutamine-rich pairs score high by chance: their scores count less.
    const std::string pq = "ACDEFGHIKLMNPQRSTVWYACDEFGHIKLMNPQRSTVWYPPPPPQQQQQ";
    const double f = composition_scale(composition(pq), composition(pq));
    CHECK(f > 0);
    CHECK(f < 0.95);
    // A factor above 1 is never applied; no positive score at all: 1.
    CHECK(composition_scale(composition("WCWCHHMMYYFFDEKR"), composition("DEKRDEKRGGPPWCWC")) <= 1.0);
    CHECK(composition_scale(composition("WCWCHHMMYYFF"), composition("DEKRDEKRGGPP")) == 1.0);
    // composition(): 20 residues, X-like letters ignored, the background without any residue.
    const auto c = composition("AAXC");
    CHECK(c[static_cast<std::size_t>(encode_aa('A'))] == Approx(2.0 / 3));
    CHECK(c[static_cast<std::size_t>(encode_aa('C'))] == Approx(1.0 / 3));
    CHECK(composition("XXBZ") == bg);
}

TEST_CASE("composition-based statistics only weaken E-values and leave the default untouched", "[retrieval][stats][search]") {
    const std::string db = std::string(TRANOVA_TEST_DATA) + "/retrieval/small_db.fasta.gz";
    const auto queries = read_queries(std::string(TRANOVA_TEST_DATA) + "/retrieval/two_queries.fasta");
    search_options plain;
    plain.threads = 2;
    plain.evalue = 10;
    search_options cbs = plain;
    cbs.composition_stats = true;
    const auto a = search(queries, db, plain), b = search(queries, db, cbs);
    for (std::size_t q = 0; q < queries.size(); ++q) {
        std::map<std::uint64_t, const search_hit*> before;
        for (const auto& h : a[q].hits) before[h.record] = &h;
        CHECK(b[q].hits.size() <= a[q].hits.size());
        CHECK(!b[q].hits.empty());
        for (const auto& h : b[q].hits) {
            REQUIRE(before.count(h.record));
            CHECK(h.raw_score == before[h.record]->raw_score);
            CHECK(h.evalue >= before[h.record]->evalue * (1 - 1e-12));
        }
    }
}

TEST_CASE("composition-based statistics of a profile: lambda of the PSSM under the target's composition", "[retrieval][stats]") {
    std::mt19937 rng(5);
    const std::string q = random_protein(rng, 150);
    msa::alignment alone;
    alone.rows = {q};
    alone.names = {"q"};
    alone.insertions.emplace_back();
    const auto p = build_pssm(alone);
    const int L = static_cast<int>(q.size());
    // Background targets: the rescaled PSSM's own lambda, i.e. a factor of about 1.
    CHECK(composition_scale(p, L, background_frequencies()) == Approx(std::min(1.0, pssm_lambda(p, L) / blosum62_lambda())).epsilon(1e-9));
    CHECK(composition_scale(p, L, background_frequencies()) > 0.98);
    // A target made of the query's own most favoured residues scores high by chance.
    std::array<double, 20> skewed{};
    for (char c : q) skewed[static_cast<std::size_t>(encode_aa(c))] += 1.0 / L;
    CHECK(composition_scale(p, L, skewed) <= 1.0);
    // A target of one residue that no column scores above 0: factor 1; a PSSM with all
    // scores negative for it.
    std::vector<std::int16_t> neg(p);
    for (int i = 0; i < L; ++i) neg[static_cast<std::size_t>(i) * 21 + static_cast<std::size_t>(encode_aa('W'))] = -3;
    std::array<double, 20> only_w{};
    only_w[static_cast<std::size_t>(encode_aa('W'))] = 1;
    CHECK(composition_scale(neg, L, only_w) == 1.0);
    // ... and all scores +2 for it: the expected score is positive, factor 0.
    for (int i = 0; i < L; ++i) neg[static_cast<std::size_t>(i) * 21 + static_cast<std::size_t>(encode_aa('W'))] = 2;
    CHECK(composition_scale(neg, L, only_w) == 0.0);
}
