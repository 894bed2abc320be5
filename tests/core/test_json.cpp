// The JSON reader on hostile input: nesting, value count, surrogates, truncation. Each
// must be a one-line tranova::error naming the label and byte offset.
#include "core/json.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>

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
    CHECK_THAT(err_of(R"(["\ud800"])"), Catch::Contains("lone high surrogate"));
    CHECK_THAT(err_of(R"(["\udc00"])"), Catch::Contains("lone low surrogate"));
    CHECK_THAT(err_of(R"(["\ud800\u0041"])"), Catch::Contains("not followed by a low one"));
    // truncations of a valid document
    std::string good = R"({"x": [1, 2, {"y": "z\n"}], "n": -0.5})";
    for (size_t cut = 0; cut < good.size(); cut++) {
        std::string e = err_of(good.substr(0, cut));
        INFO(cut << ": " << e);
        CHECK(e.rfind("t.json: invalid JSON at byte ", 0) == 0);
    }
}
