// Replays every fuzz seed corpus (fuzz/formats/corpus_* and fuzz/denovo/corpus_*, including
// every input a fuzzer once crashed on) through the fuzz target bodies, so that
// regressions on those inputs are caught by ctest without clang/libFuzzer: each seed
// whole and 64 truncations of it.
#include "fuzz_formats.hpp"
#include "fuzz_targets.hpp"
#include "fuzz_replay.hpp"
#include "util/log.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

using tranova::test::replay_corpus;

TEST_CASE("fuzz seed corpus replay: file formats", "[fuzz]") {
    tranova::log::set_level(tranova::log::level::quiet);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_checkpoint", tranova_fuzz::fuzz_checkpoint_one) >= 8);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_pickle", tranova_fuzz::fuzz_pickle_one) >= 5);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_safetensors", tranova_fuzz::fuzz_safetensors_one) >= 2);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_hdf5", tranova_fuzz::fuzz_hdf5_one) >= 3);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_json", tranova_fuzz::fuzz_json_one) >= 3);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_fasta", tranova_fuzz::fuzz_fasta_one) >= 3);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_msa", tranova_fuzz::fuzz_msa_one) >= 3);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_csv", tranova_fuzz::fuzz_csv_one) >= 3);
    CHECK(replay_corpus(TRANOVA_FUZZ_DIR, "corpus_mztab", tranova_fuzz::fuzz_mztab_one) >= 2);
}

// The seeds themselves are valid files: each reads without error (so the fuzzers start
// from inputs that reach deep into the readers, and the replay above is not vacuous).
TEST_CASE("fuzz seed corpus replay: MGF", "[denovo][fuzz]") {
    tranova::log::set_level(tranova::log::level::quiet);
    CHECK(replay_corpus(TRANOVA_FUZZ_DENOVO_DIR, "corpus_mgf", tranova_fuzz::fuzz_mgf_one) >= 4);
}

TEST_CASE("fuzz seed corpus replay: mzML", "[denovo][fuzz]") {
    tranova::log::set_level(tranova::log::level::quiet);
    CHECK(replay_corpus(TRANOVA_FUZZ_DENOVO_DIR, "corpus_mzml", tranova_fuzz::fuzz_mzml_one) >= 3);
}

TEST_CASE("fuzz seeds of the binary formats are valid files", "[fuzz]") {
    auto bytes = [](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
    };
    for (const auto& e : fs::directory_iterator(fs::path(TRANOVA_FUZZ_DIR) / "corpus_checkpoint")) {
        const std::string name = e.path().filename().string();
        // hostile seeds and saved fuzzer findings (crash-*, oom-*, slow-*) are meant to fail
        bool hostile = false;
        for (const char* p : {"hostile", "unsupported", "crash-", "oom-", "slow-", "timeout-"})
            hostile = hostile || name.rfind(p, 0) == 0;
        if (hostile) continue;
        INFO(name);
        auto b = bytes(e.path());
        CHECK_NOTHROW(tranova::core::checkpoint_read_memory(b.data(), b.size(), name));
    }
    for (const char* h5 : {"tranception_small.h5", "casanovo_scalar_empty.h5", "no_tensors.h5"}) {
        INFO(h5);
        CHECK_NOTHROW(tranova::core::weights_read((fs::path(TRANOVA_FUZZ_DIR) / "corpus_hdf5" / h5).string()));
    }
}
