// tranova::msa: readers/writers, weights against golden values, frequencies, site-independent model.
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include "msa/msa.hpp"
#include "msa/detail/neighbour_paths.hpp"
#include "msa/site_independent.hpp"
#include "util/error.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>

using namespace tranova;

namespace {

std::string data(const std::string& f) { return std::string(TRANOVA_TEST_DATA) + "/msa/" + f; }

// Minimal .npy reader for 1-D little-endian float64 arrays (the golden weight files).
std::vector<double> read_npy_f64(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::string all((std::istreambuf_iterator<char>(in)), {});
    REQUIRE(all.size() > 10);
    REQUIRE(all.compare(1, 5, "NUMPY") == 0);
    std::size_t hlen = static_cast<unsigned char>(all[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(all[9])) << 8);
    std::string header = all.substr(10, hlen);
    REQUIRE(header.find("'<f8'") != std::string::npos);
    std::size_t off = 10 + hlen, n = (all.size() - off) / 8;
    std::vector<double> v(n);
    std::memcpy(v.data(), all.data() + off, n * 8);
    return v;
}

std::string tmp_path(const std::string& name) {
    static const tranova::test::temp_dir dir("msa_test");
    return dir / name;
}

}  // namespace

TEST_CASE("N_eff golden values on EVE's PTEN and P53 alignments (2 decimals)", "[msa][weights]") {
    struct ref { const char* file; std::size_t rows, cols, kept, l1; double pg; std::size_t l03; double eve03, evc; };
    const ref refs[] = {
        {"PTEN_HUMAN_b1.0.a2m.gz", 1197, 403, 1179, 403, 132.83, 387, 131.55, 146.01},
        {"P53_HUMAN_b0.1.a2m.gz", 3668, 393, 3627, 393, 467.65, 329, 443.49, 484.81},
    };
    for (const auto& r : refs) {
        INFO(r.file);
        auto a = msa::read_alignment(data(r.file));
        CHECK(a.num_rows() == r.rows);
        CHECK(a.num_columns() == r.cols);
        auto pg = msa::eve_weights(a, {});  // ProteinGym: threshold_focus_cols_frac_gaps = 1.0
        CHECK(pg.kept_rows.size() == r.kept);
        CHECK(pg.focus_columns.size() == r.l1);
        CHECK(std::abs(pg.neff - r.pg) < 0.005);
        msa::eve_options eve;
        eve.threshold_focus_cols_frac_gaps = 0.3;
        auto e = msa::eve_weights(a, eve);
        CHECK(e.focus_columns.size() == r.l03);
        CHECK(std::abs(e.neff - r.eve03) < 0.005);
        auto w = msa::evcouplings_weights(a, 0.8);
        CHECK(w.size() == r.rows);
        CHECK(a.focus_columns().size() == r.l03);
        CHECK(std::abs(std::accumulate(w.begin(), w.end(), 0.0) - r.evc) < 0.005);
    }
}

TEST_CASE("EVE weights match the official Tranception MSA_processing weights (abs 1e-6)", "[msa][weights]") {
    struct ref { const char* a2m; const char* npy; std::size_t focus; double neff; };
    const ref refs[] = {
        {"P53_HUMAN_b0.1_sub6.a2m", "P53_HUMAN_b0.1_sub6_theta_0.2.npy", 330, 142.98946104700653},
        {"SCN5A_HUMAN_b1.0_sub8.a2m.gz", "SCN5A_HUMAN_b1.0_sub8_theta_0.2.npy", 275, 78.53380976083018},
    };
    for (const auto& r : refs) {
        INFO(r.a2m);
        auto a = msa::read_alignment(data(r.a2m));
        auto golden = read_npy_f64(data(r.npy));
        msa::eve_options opt;
        opt.threshold_focus_cols_frac_gaps = 0.3;  // Tranception-repo default used for the fixture
        auto e = msa::eve_weights(a, opt);
        REQUIRE(e.weights.size() == golden.size());
        CHECK(e.focus_columns.size() == r.focus);
        double maxdiff = 0;
        for (std::size_t i = 0; i < golden.size(); ++i) maxdiff = std::max(maxdiff, std::abs(e.weights[i] - golden[i]));
        CHECK(maxdiff < 1e-6);
        CHECK(std::abs(e.neff - r.neff) < 1e-6);
    }
}

TEST_CASE("bit-sliced neighbour count equals the naive twin", "[msa][weights]") {
    std::mt19937 rng(7);
    for (std::size_t l : {1u, 63u, 64u, 65u, 300u, 517u}) {
        const std::size_t n = 57;
        std::vector<std::uint8_t> codes(n * l);
        // Families: mutate copies of a few ancestors so that many pairs are near the threshold.
        std::vector<std::uint8_t> anc(4 * l);
        for (auto& c : anc) c = static_cast<std::uint8_t>(rng() % 21);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t k = 0; k < l; ++k)
                codes[r * l + k] = rng() % 5 == 0 ? static_cast<std::uint8_t>(rng() % 21) : anc[(r % 4) * l + k];
        std::vector<std::int32_t> need(n);
        for (auto& t : need) t = static_cast<std::int32_t>(rng() % (l + 1));
        for (bool gm : {false, true}) {
            auto fast = msa::count_neighbours(codes, n, l, need, gm);
            auto scalar = msa::count_neighbours(codes, n, l, need, gm, false);
            auto slow = msa::count_neighbours_naive(codes, n, l, need, gm);
            CHECK(fast == slow);
            CHECK(scalar == slow);
        }
    }
}

namespace {

std::int32_t matches(const std::vector<std::uint8_t>& codes, std::size_t l, std::size_t i, std::size_t j, bool gm) {
    std::int32_t m = 0;
    for (std::size_t k = 0; k < l; ++k) m += codes[i * l + k] == codes[j * l + k] && (gm || codes[i * l + k] != 0);
    return m;
}

// Family MSA with all-gap rows, duplicated rows, gappy rows and needs that sit exactly on
// (or one above) the match count of some pair, plus EVE-style needs (> 80 % of non-gaps).
void random_case(std::mt19937& rng, std::size_t n, std::size_t l, int max_code, bool gm, std::vector<std::uint8_t>& codes,
                 std::vector<std::int32_t>& need) {
    codes.assign(n * l, 0);
    const std::size_t fams = 1 + rng() % 4;
    std::vector<std::uint8_t> anc(fams * l);
    for (auto& c : anc) c = static_cast<std::uint8_t>(rng() % static_cast<unsigned>(max_code + 1));
    for (std::size_t r = 0; r < n; ++r) {
        const unsigned kind = rng() % 10;
        for (std::size_t k = 0; k < l; ++k) {
            std::uint8_t& c = codes[r * l + k];
            if (kind == 0)
                c = 0;  // all gaps
            else if (kind == 1 && r > 0)
                c = codes[(r - 1) * l + k];  // identical to the previous row
            else if (kind == 2)
                c = rng() % 2 ? 0 : anc[(r % fams) * l + k];  // half gaps
            else
                c = rng() % 6 == 0 ? static_cast<std::uint8_t>(rng() % static_cast<unsigned>(max_code + 1)) : anc[(r % fams) * l + k];
        }
    }
    need.assign(n, 0);
    for (std::size_t r = 0; r < n; ++r) {
        const std::size_t other = rng() % n;
        const std::int32_t m = matches(codes, l, r, other, gm);
        std::int32_t ng = 0;
        for (std::size_t k = 0; k < l; ++k) ng += gm || codes[r * l + k] != 0;
        switch (rng() % 6) {
            case 0: need[r] = m; break;      // identity equals the cut: passes
            case 1: need[r] = m + 1; break;  // one short: fails
            case 2: need[r] = static_cast<std::int32_t>(rng() % (l + 2)); break;
            case 3: need[r] = rng() % 2 ? 0 : std::numeric_limits<std::int32_t>::max(); break;
            default: need[r] = static_cast<std::int32_t>(0.8 * ng) + 1; break;  // EVE, theta 0.2
        }
    }
}

}  // namespace

TEST_CASE("every neighbour-count path equals the naive twin on odd shapes", "[msa][weights]") {
    using msa::detail::neighbour_path;
    std::vector<neighbour_path> paths;
    for (auto p : {neighbour_path::scalar, neighbour_path::avx2, neighbour_path::avx2x8, neighbour_path::avx512, neighbour_path::best}) {
        if (msa::detail::neighbour_path_available(p))
            paths.push_back(p);
        else
            WARN("neighbour path " << msa::detail::neighbour_path_name(p) << " not available on this build or CPU: skipped");
    }
    REQUIRE(msa::detail::neighbour_path_available(msa::detail::neighbour_path_chosen(neighbour_path::best)));
    std::mt19937 rng(11);
    const std::size_t shapes[][2] = {{1, 5},    {2, 1},    {7, 63},  {8, 64},   {9, 65},  {15, 255}, {16, 256}, {17, 257},
                                     {23, 300}, {31, 511}, {33, 512}, {41, 513}, {50, 1030}, {67, 200}, {3, 0}};
    int cases = 0;
    for (const auto& sh : shapes)
        for (int max_code : {20, 31})
            for (bool gm : {false, true}) {
                const std::size_t n = sh[0], l = sh[1];
                std::vector<std::uint8_t> codes;
                std::vector<std::int32_t> need;
                random_case(rng, n, l, max_code, gm, codes, need);
                const auto slow = msa::count_neighbours_naive(codes, n, l, need, gm);
                for (auto p : paths) {
                    INFO("path " << msa::detail::neighbour_path_name(p) << " n " << n << " l " << l << " max code " << max_code
                                 << " gaps match " << gm);
                    CHECK(msa::detail::count_neighbours(codes, n, l, need, gm, p) == slow);
                }
                ++cases;
            }
    CHECK(cases == 60);
    // Unrelated rows, L = 1100 and 2200 (18 and 35 words), cuts near the ~L/21 chance
    // matches: no stop test can fire before the last words, so the byte counters of the
    // avx2x8 kernel run over 16 and more words before the first test.
    for (std::size_t l : {1100u, 2200u}) {
        const std::size_t n = 45;
        std::vector<std::uint8_t> codes(n * l);
        for (auto& c : codes) c = static_cast<std::uint8_t>(rng() % 21);
        std::vector<std::int32_t> need(n);
        for (auto& t : need) t = static_cast<std::int32_t>(l * 36 / 1000 + rng() % (l * 27 / 1000));
        for (bool gm : {false, true}) {
            const auto slow = msa::count_neighbours_naive(codes, n, l, need, gm);
            for (auto p : paths) {
                INFO("path " << msa::detail::neighbour_path_name(p) << " unrelated rows, l " << l << " gaps match " << gm);
                CHECK(msa::detail::count_neighbours(codes, n, l, need, gm, p) == slow);
            }
        }
    }
    // More rows than one block of rows j (2048) and chunk of rows i (64); the scalar path
    // (checked against the naive twin above) is the oracle here to keep the test fast.
    {
        const std::size_t n = 2100, l = 64;
        std::vector<std::uint8_t> codes;
        std::vector<std::int32_t> need;
        random_case(rng, n, l, 20, false, codes, need);
        const auto ref = msa::detail::count_neighbours(codes, n, l, need, false, neighbour_path::scalar);
        for (auto p : paths) {
            INFO("path " << msa::detail::neighbour_path_name(p) << " n " << n);
            CHECK(msa::detail::count_neighbours(codes, n, l, need, false, p) == ref);
        }
    }
    for (auto p : {neighbour_path::avx2, neighbour_path::avx2x8, neighbour_path::avx512})
        if (!msa::detail::neighbour_path_available(p)) {
            std::vector<std::uint8_t> codes(4, 1);
            std::vector<std::int32_t> need(2, 1);
            CHECK_THROWS_AS(msa::detail::count_neighbours(codes, 2, 2, need, false, p), tranova::error);
        }
}

TEST_CASE("A2M and A3M writers round-trip through the reader", "[msa][io]") {
    const std::string a3m_text =
        ">q/1-6 query\nMKV-LA\n>h1/3-9\nMkkV-L-A\n>h2\n--VWLAyy\n>h3\n.MKAILA\n";
    auto a = msa::parse_alignment(a3m_text, msa::format::a3m, "t.a3m");
    REQUIRE(a.num_rows() == 4);
    CHECK(a.num_columns() == 6);
    CHECK(a.rows[1] == "MV-L-A");
    CHECK(a.insertions[1].size() == 1);
    CHECK(a.insertions[2].back().after == 6);
    CHECK(a.insertions[1][0].after == 1);
    CHECK(a.insertions[1][0].residues == "kk");
    CHECK(a.rows[3] == "MKAILA");
    auto back = msa::parse_alignment(msa::to_a3m(a), msa::format::a3m, "back.a3m");
    CHECK(back.rows == a.rows);
    CHECK(back.names == a.names);
    CHECK(msa::to_a3m(back) == msa::to_a3m(a));

    auto pten = msa::read_alignment(data("PTEN_HUMAN_b1.0.a2m.gz"));
    for (int width : {0, 80}) {
        auto t = msa::parse_alignment(msa::to_a2m(pten, width), msa::format::a2m, "pten.a2m");
        CHECK(t.rows == pten.rows);
        CHECK(t.names == pten.names);
    }
    // A3M of a focus-mode alignment: all columns become match columns.
    auto t3 = msa::parse_alignment(msa::to_a3m(pten), msa::format::a3m, "pten.a3m");
    REQUIRE(t3.num_rows() == pten.num_rows());
    for (std::size_t r = 0; r < pten.num_rows(); ++r)
        for (std::size_t j = 0; j < pten.num_columns(); ++j) {
            char c = pten.rows[r][j];
            char want = c == '.' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            if (t3.rows[r][j] != want) FAIL("row " << r << " col " << j);
        }
    // Files, gzip through the same reader.
    std::string p = tmp_path("rt.a2m");
    msa::write_alignment(pten, p);
    CHECK(msa::read_alignment(p).rows == pten.rows);
    std::remove(p.c_str());
}

TEST_CASE("bad alignments give one-line errors", "[msa][io]") {
    CHECK_THROWS_WITH(msa::parse_alignment(">q\nMKV\n>h\nMKVL\n", msa::format::a2m, "x.a2m"),
                      Catch::Contains("x.a2m:3") && Catch::Contains("A3M"));
    CHECK_THROWS_WITH(msa::parse_alignment(">q\nMK1\n", msa::format::a2m, "x.a2m"), Catch::Contains("invalid character"));
    CHECK_THROWS_WITH(msa::parse_alignment("MKV\n", msa::format::a2m, "x.a2m"), Catch::Contains("before the first"));
    CHECK_THROWS_WITH(msa::parse_alignment("", msa::format::a2m, "x.a2m"), Catch::Contains("no records"));
    CHECK_THROWS_WITH(msa::read_alignment("/nonexistent/file.a2m"), Catch::Contains("cannot open"));
    // Truncated gzip.
    std::ifstream in(data("PTEN_HUMAN_b1.0.a2m.gz"), std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    std::string p = tmp_path("trunc.a2m.gz");
    std::ofstream(p, std::ios::binary).write(all.data(), static_cast<std::streamsize>(all.size() / 2));
    CHECK_THROWS_WITH(msa::read_alignment(p), Catch::Contains("truncated"));
    std::remove(p.c_str());
}

TEST_CASE("weighted frequencies", "[msa][freq]") {
    auto a = msa::parse_alignment(">q\nAC-\n>b\nAD-\n>c\nCd.\n", msa::format::a2m);
    std::vector<double> w{1.0, 0.5, 0.25};
    auto f = msa::weighted_frequencies(a, w, "-AC", msa::normalise::total_weight);
    REQUIRE(f.size() == 9);
    CHECK(f[0 * 3 + 1] == Approx(1.5 / 1.75));
    CHECK(f[0 * 3 + 2] == Approx(0.25 / 1.75));
    CHECK(f[1 * 3 + 2] == Approx(1.0 / 1.75));  // C in row q only ('d' is D)
    CHECK(f[2 * 3 + 0] == Approx(1.0));         // '-' and '.' are gaps
    auto g = msa::weighted_frequencies(a, w, msa::amino_acids, msa::normalise::non_gap);
    CHECK(g[2 * 20 + 0] == Approx(1.0 / 20));   // empty column: flat
    double s = 0;
    for (int k = 0; k < 20; ++k) s += g[1 * 20 + k];
    CHECK(s == Approx(1.0));
}

TEST_CASE("site-independent model", "[msa][site]") {
    auto a = msa::read_alignment(data("PTEN_HUMAN_b1.0.a2m.gz"));
    auto m = msa::fit_site_independent(a, {});
    CHECK(m.first_position == 1);
    CHECK(m.num_columns() == 403);
    // plmc drops rows with X in focus columns, so N_eff is a little below EVcouplings' 146.01.
    std::vector<bool> used;
    auto pw = msa::plmc_weights(a, 0.2, &used);
    CHECK(m.neff == Approx(std::accumulate(pw.begin(), pw.end(), 0.0)));
    CHECK(m.neff < 146.01);
    CHECK(m.neff > 130.0);
    // Stationarity: neff (softmax(h) - f) + 2 lambda h = 0 at every modelled column.
    std::vector<double> w = msa::plmc_weights(a, 0.2);
    auto cols = a.focus_columns();
    auto f = msa::weighted_frequencies(a, w, msa::amino_acids, msa::normalise::non_gap, cols);
    double worst = 0;
    for (std::size_t c = 0; c < cols.size(); ++c) {
        const double* h = &m.h[static_cast<std::size_t>(cols[c]) * 20];
        double mx = *std::max_element(h, h + 20), z = 0;
        for (int k = 0; k < 20; ++k) z += std::exp(h[k] - mx);
        for (int k = 0; k < 20; ++k) {
            double g = m.neff * (std::exp(h[k] - mx) / z - f[c * 20 + k]) + 2 * 0.01 * h[k];
            worst = std::max(worst, std::abs(g));
        }
    }
    CHECK(worst < 1e-6);
    // Scores: a double mutant is the sum of its singles; WT->WT is 0; wrong WT throws.
    double s1 = msa::score_mutant(m, "M1A"), s2 = msa::score_mutant(m, "T2K");
    CHECK(msa::score_mutant(m, "M1A:T2K") == Approx(s1 + s2));
    CHECK(msa::score_mutant(m, "M1M") == 0.0);
    CHECK(msa::score_mutant(m, "M1A") == Approx(m.field(1, 'A') - m.field(1, 'M')));
    CHECK_THROWS_WITH(msa::score_mutant(m, "K1A"), Catch::Contains("not 'K'"));
    CHECK_THROWS(msa::score_mutant(m, "M1"));
    CHECK(std::isnan(msa::score_mutant(m, "M999A")));
    std::string seq;
    for (std::size_t j = 0; j < m.target.size(); ++j) seq.push_back(m.target[j]);
    seq[0] = 'A';
    seq[1] = 'K';
    CHECK(msa::score_sequence(m, seq) == Approx(s1 + s2));
    // A lowercase (non-modelled) column yields NaN.
    for (std::size_t j = 0; j < m.modelled.size(); ++j)
        if (!m.modelled[j]) {
            long long p = m.first_position + static_cast<long long>(j);
            std::string mut(1, m.target[j]);
            mut.append(std::to_string(p));
            mut.push_back(m.target[j] == 'A' ? 'C' : 'A');
            CHECK(std::isnan(msa::score_mutant(m, mut)));
            break;
        }
}
