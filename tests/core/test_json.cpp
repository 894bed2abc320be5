// The JSON reader on hostile input: nesting, value count, surrogates, truncation. Each
// must be a one-line tranova::error naming the label and byte offset.
#include "core/json.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

using namespace tranova::core;

namespace {
std::string err_of(const std::string& text) {
    try {
        json_parse(text.data(), text.size(), "t.json");
    } catch (const tranova::error& e) {
        return e.what();
    }
    return "(no error)";
}
}  // namespace

TEST_CASE("json: well-formed values", "[core][json]") {
    json_value v = json_parse(R"({"a": [1, -2.5e3, "x\u00e9\ud83d\ude00", true, null], "b": {}})", 62, "t");
    REQUIRE(v.kind == json_value::object_v);
    const json_value* a = v.find("a");
    REQUIRE(a);
    REQUIRE(a->items.size() == 5);
    CHECK(a->items[0].is_integer);
    CHECK(a->items[0].integer == 1);
    CHECK(a->items[1].num == -2500.0);
    CHECK(a->items[2].str == "x\xc3\xa9\xf0\x9f\x98\x80");
    std::string deep64 = std::string(64, '[') + std::string(64, ']');
    CHECK(err_of(deep64) == "(no error)");
}

TEST_CASE("json: hostile input gives one-line errors with the offset", "[core][json]") {
    // 200,000 nested arrays / objects: stopped at level 65, no deep recursion
    CHECK(err_of(std::string(200000, '[')) == "t.json: invalid JSON at byte 64: nesting deeper than 64 levels");
    std::string objs;
    for (int i = 0; i < 200000; i++) objs += "{\"k\":";
    CHECK_THAT(err_of(objs), Catch::Contains("nesting deeper than 64 levels"));
    // value count: 5 million zeros in one array
    std::string zeros = "[0";
    for (int i = 0; i < 5000000; i++) zeros += ",0";
    zeros += "]";
    CHECK_THAT(err_of(zeros), Catch::Contains("more than 4194304 values"));
    // surrogates: lone high, lone low, high + non-low
    CHECK_THAT(err_of(R"(["\ud800"])"), Catch::StartsWith("t.json: invalid JSON at byte 8:") &&
                                             Catch::Contains("surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF"));
    CHECK_THAT(err_of(R"(["\udc00"])"), Catch::Contains("surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF"));
    CHECK_THAT(err_of(R"(["\ud800\u0041"])"), Catch::Contains("must be followed by U+DC00..U+DFFF"));
    // invalid UTF-8 in a string; a NUL byte; the message stays one printable line
    CHECK_THAT(err_of(std::string("[\"a\xff\"]")), Catch::Contains("invalid JSON at byte"));
    std::string nul = err_of(std::string("[\"a\0\"]", 6));
    CHECK_THAT(nul, Catch::Contains("invalid JSON at byte"));
    CHECK(nul.find('\0') == std::string::npos);
    CHECK(nul.find('\n') == std::string::npos);
    // truncations of a valid document
    std::string good = R"({"x": [1, 2, {"y": "z\n"}], "n": -0.5})";
    for (size_t cut = 0; cut < good.size(); cut++) {
        std::string e = err_of(good.substr(0, cut));
        INFO(cut << ": " << e);
        CHECK(e.rfind("t.json: invalid JSON at byte ", 0) == 0);
    }
}

TEST_CASE("json: Python's NaN and Infinity literals", "[core][json]") {
    std::string text = R"({"a": NaN, "b": [Infinity, -Infinity], "N": "N", "c": "++++++", "d": 1.5e300})";
    json_value v = json_parse(text.data(), text.size(), "t");
    REQUIRE(v.kind == json_value::object_v);
    CHECK(v.find("a")->kind == json_value::number_v);
    CHECK(std::isnan(v.find("a")->num));
    CHECK(v.find("b")->items[0].num == std::numeric_limits<double>::infinity());
    CHECK(v.find("b")->items[1].num == -std::numeric_limits<double>::infinity());
    // genuine strings that look like the placeholders stay strings
    CHECK(v.find("N")->kind == json_value::string_v);
    CHECK(v.find("N")->str == "N");
    CHECK(v.find("c")->str == "++++++");
    CHECK(v.find("d")->num == 1.5e300);
    CHECK(v.dump() == R"({"a": nan, "b": [inf, -inf], "N": "N", "c": "++++++", "d": 1.5e300})");
    // not as a key, not glued to other tokens
    CHECK_THAT(err_of("{NaN: 1}"), Catch::Contains("t.json: invalid JSON at byte 1"));
    CHECK_THAT(err_of("[NaNa]"), Catch::Contains("invalid JSON"));
    CHECK_THAT(err_of("[1 Infinity]"), Catch::Contains("invalid JSON"));
}

TEST_CASE("json: integers, big integers and raw number tokens", "[core][json]") {
    std::string text = R"([0, -7, 9223372036854775807, 18446744073709551615, 2.50, 1E3])";
    json_value v = json_parse(text.data(), text.size(), "t");
    REQUIRE(v.items.size() == 6);
    CHECK(v.items[1].is_integer);
    CHECK(v.items[1].integer == -7);
    CHECK(v.items[2].integer == 9223372036854775807LL);
    CHECK_FALSE(v.items[3].is_integer);  // beyond int64
    CHECK(v.items[3].num == 18446744073709551615.0);
    CHECK_FALSE(v.items[4].is_integer);
    CHECK(v.items[4].str == "2.50");
    CHECK(v.items[5].num == 1000.0);
    CHECK(v.dump() == "[0, -7, 9223372036854775807, 18446744073709551615, 2.50, 1E3]");
}
