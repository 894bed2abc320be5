// Replays the fuzz seed corpora (fuzz/denovo/corpus_*) through the fuzz target bodies, so
// reader regressions on those inputs are caught by ctest without clang/libFuzzer.
#include "fuzz_targets.hpp"
#include "util/log.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

static int replay(const char* corpus, int (*fn)(const uint8_t*, size_t)) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(fs::path(TRANOVA_FUZZ_DIR) / corpus)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string data = ss.str();
        INFO(e.path().string());
        CHECK_NOTHROW(fn(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
        // Every prefix of a seed too (truncated files are the commonest real-world damage).
        for (size_t cut = 1; cut < data.size(); cut += std::max<size_t>(1, data.size() / 64))
            CHECK_NOTHROW(fn(reinterpret_cast<const uint8_t*>(data.data()), cut));
        ++n;
    }
    return n;
}

TEST_CASE("fuzz seed corpus replay: MGF", "[denovo][fuzz]") {
    tranova::log::set_level(tranova::log::level::quiet);
    CHECK(replay("corpus_mgf", tranova_fuzz::fuzz_mgf_one) >= 4);
}

TEST_CASE("fuzz seed corpus replay: mzML", "[denovo][fuzz]") {
    tranova::log::set_level(tranova::log::level::quiet);
    CHECK(replay("corpus_mzml", tranova_fuzz::fuzz_mzml_one) >= 3);
}
