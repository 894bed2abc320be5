// Catch2 v2's main(), built once for every unit-test binary.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
