#include "util/csv.hpp"
#include "util/error.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
    static const tranova::test::temp_dir dir("csv");
    return dir.write(name, text);
}
}  // namespace

TEST_CASE("csv_reader reads quoted fields, CRLF and reports lines", "[csv]") {
    auto path = write_temp("a.csv", "mutant,DMS_score,note\r\nA1C,0.5,\"x, y\"\r\n\r\nD2E,-1,\"he said \"\"hi\"\"\"\nF3G,2,\"multi\nline\"\n");
    tranova::csv_reader r(path);
    REQUIRE(r.header().size() == 3);
    CHECK(r.column("DMS_score") == 1);
    CHECK(r.column("absent") == -1);
    std::vector<std::string> f;
    REQUIRE(r.next(f));
    CHECK(f[0] == "A1C");
    CHECK(f[2] == "x, y");
    CHECK(r.line() == 2);
    REQUIRE(r.next(f));
    CHECK(f[2] == "he said \"hi\"");
    CHECK(r.line() == 4);
    REQUIRE(r.next(f));
    CHECK(f[2] == "multi\nline");
    CHECK_FALSE(r.next(f));
}

TEST_CASE("csv_reader rejects ragged rows and missing columns with file:line", "[csv]") {
    auto path = write_temp("b.csv", "a,b\n1,2\n3\n");
    tranova::csv_reader r(path);
    std::vector<std::string> f;
    REQUIRE(r.next(f));
    try {
        r.next(f);
        FAIL("expected an error");
    } catch (const tranova::error& e) {
        CHECK(std::string(e.what()).find("b.csv:3: expected 2 fields, found 1") != std::string::npos);
    }
    CHECK_THROWS_WITH(r.require_column("zzz"), Catch::Contains("missing column 'zzz'"));
}

TEST_CASE("csv_reader errors on a missing file and an empty file", "[csv]") {
    CHECK_THROWS_AS(tranova::csv_reader("/nonexistent/x.csv"), tranova::error);
    auto path = write_temp("empty.csv", "");
    CHECK_THROWS_WITH(tranova::csv_reader(path), Catch::Contains("empty file"));
    // a failed open leaks no descriptor (4096 > any usual `ulimit -n`)
    auto quote = write_temp("unterminated.csv", "\"a,b\n");
    for (int i = 0; i < 4096; i++) REQUIRE_THROWS_WITH(tranova::csv_reader(quote), Catch::Contains("unterminated"));
    CHECK_NOTHROW(tranova::csv_reader(write_temp("ok.csv", "a\n")));
}

TEST_CASE("csv_escape quotes only when needed", "[csv]") {
    CHECK(tranova::csv_escape("abc") == "abc");
    CHECK(tranova::csv_escape("a,b") == "\"a,b\"");
    CHECK(tranova::csv_escape("a\"b") == "\"a\"\"b\"");
}
