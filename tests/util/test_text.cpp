#include "util/text.hpp"

#include <catch2/catch.hpp>

#include <cmath>

TEST_CASE("parse_double accepts whole numbers only", "[text]") {
    double v = 0;
    CHECK(tranova::parse_double(" 1.5 ", v));
    CHECK(v == 1.5);
    CHECK(tranova::parse_double("+2e-3", v));
    CHECK(v == 0.002);
    CHECK(tranova::parse_double("NaN", v));
    CHECK(std::isnan(v));
    CHECK_FALSE(tranova::parse_double("1.5x", v));
    CHECK_FALSE(tranova::parse_double("", v));
    long long i = 0;
    CHECK(tranova::parse_int("42", i));
    CHECK(i == 42);
    CHECK_FALSE(tranova::parse_int("4.2", i));
}

TEST_CASE("split and trim", "[text]") {
    auto parts = tranova::split("a:b::c", ':');
    REQUIRE(parts.size() == 4);
    CHECK(parts[2].empty());
    CHECK(tranova::trim("  x y \n") == "x y");
    CHECK(tranova::to_upper("acD") == "ACD");
}

TEST_CASE("tsv_escape keeps a field on one tab-separated line; tsv_unescape reverses it", "[util][text]") {
    const std::string raw = "a\tb\nc\rd\\e f";
    CHECK(tranova::tsv_escape(raw) == "a\\tb\\nc\\rd\\\\e f");
    CHECK(tranova::tsv_escape(raw, true) == "a\\tb\\nc\\rd\\\\e\\sf");
    CHECK(tranova::tsv_unescape(tranova::tsv_escape(raw)) == raw);
    CHECK(tranova::tsv_unescape(tranova::tsv_escape(raw, true)) == raw);
    CHECK(tranova::tsv_unescape("trailing\\") == "trailing\\");
}
