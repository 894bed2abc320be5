// The one mutant-string parser (util/mutant.hpp).
#include "util/error.hpp"
#include "util/mutant.hpp"

#include <catch2/catch.hpp>

using namespace tranova;

TEST_CASE("parse_mutant: substitutions checked against the target", "[util][mutant]") {
    auto s = parse_mutant(" K2E : A7G", "MKTAYIAK", "f:1");
    REQUIRE(s.size() == 2);
    CHECK((s[0].wt == 'K' && s[0].pos == 1 && s[0].mt == 'E'));
    CHECK((s[1].wt == 'A' && s[1].pos == 6 && s[1].mt == 'G'));
    CHECK_THROWS_WITH(parse_mutant("Q2E", "MKTAYIAK", "f:3", "target_seq"),
                      Catch::Equals("f:3: mutant 'Q2E' expects wild-type Q at position 2 but target_seq has K"));
    CHECK_THROWS_WITH(parse_mutant("K20E", "MKTAYIAK", "f:4"),
                      Catch::Equals("f:4: mutant 'K20E' position 20 is outside the target sequence (length 8)"));
    CHECK_THROWS_WITH(parse_mutant("K0E", "MKTAYIAK", "f"), Catch::Contains("position 0 is outside"));
    for (const char* bad : {"2E", "K2", "K2E:", "1K2E", "K2E7", "K2.5E"})
        CHECK_THROWS_WITH(parse_mutant(bad, "MKTAYIAK", "f:5"), Catch::StartsWith("f:5: malformed mutant"));
    CHECK_THROWS_WITH(parse_mutant("", "MKTAYIAK", "f:6"), Catch::Equals("f:6: empty mutant"));
    CHECK_THROWS_WITH(parse_mutant("K2E:K2D", "MKTAYIAK", "f:7"), Catch::Contains("position 2 appears more than once"));
}
