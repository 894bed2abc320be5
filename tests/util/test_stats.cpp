// Rank statistics (util/stats.hpp) against scipy values.
#include "util/stats.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace tranova;

TEST_CASE("rank_average is scipy's rankdata 'average' (NaN last)", "[util][stats]") {
    const double x[] = {3, 1, 3, std::nan(""), 2, 3};
    double r[6];
    rank_average(r, x, 6);
    CHECK(r[0] == 4.0);
    CHECK(r[1] == 1.0);
    CHECK(r[2] == 4.0);
    CHECK(r[3] == 6.0);
    CHECK(r[4] == 2.0);
    CHECK(r[5] == 4.0);
}

TEST_CASE("Spearman with ties and missing values", "[util][stats]") {
    // scipy.stats.spearmanr([1,2,2,4,5],[5,6,7,8,7]) = 0.7631578947368421
    size_t n = 0;
    double r = spearman_finite({1, 2, 2, 4, 5, std::nan("")}, {5, 6, 7, 8, 7, 1}, &n);
    CHECK(n == 5);
    CHECK(std::abs(r - 0.7631578947368421) < 1e-12);
    CHECK(spearman_finite({1, 2, 3}, {3, 2, 1}) == Approx(-1.0));
    CHECK(spearman_finite({1, 2, INFINITY}, {3, 2, 1}, &n) == Approx(-1.0));
    CHECK(n == 2);
    // constant input, a NaN, fewer than two pairs: NaN (scipy's answer)
    const double c[] = {1, 1, 1}, y[] = {1, 2, 3}, yn[] = {1, std::nan(""), 3};
    CHECK(std::isnan(spearman(c, y, 3)));
    CHECK(std::isnan(spearman(y, yn, 3)));
    CHECK(std::isnan(spearman_finite({1}, {2})));
}
