// Replays the retrieval fuzz corpora (fuzz/retrieval/corpus_shard, corpus_tix: the seeds and
// every input a fuzzer once crashed on) through the fuzz target bodies, each file whole and
// 64 truncations of it, so that ctest catches regressions without clang/libFuzzer; and checks
// that the seeds are valid files (the replay reaches past the header checks).
#include <catch2/catch.hpp>

#include "fuzz_retrieval.hpp"
#include "fuzz_replay.hpp"
#include "util/log.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace tranova;

namespace {

using tranova::test::file_bytes;
int replay(const char* corpus, int (*fn)(const uint8_t*, size_t)) {
    return tranova::test::replay_corpus(TRANOVA_FUZZ_RETRIEVAL_DIR, corpus, fn);
}

bool saved_finding(const std::string& name) {
    for (const char* p : {"crash-", "oom-", "slow-", "timeout-", "leak-"})
        if (name.rfind(p, 0) == 0) return true;
    return false;
}

}  // namespace

TEST_CASE("retrieval fuzz corpora replay (shard files, .tix indexes)", "[retrieval][fuzz]") {
    log::set_level(log::level::quiet);
    CHECK(replay("corpus_shard", tranova_fuzz_retrieval::fuzz_shard_one) >= 4);
    CHECK(replay("corpus_tix", tranova_fuzz_retrieval::fuzz_tix_one) >= 2);
}

TEST_CASE("retrieval fuzz seeds are valid files", "[retrieval][fuzz]") {
    log::set_level(log::level::quiet);
    int shards = 0, indexes = 0;
    for (const auto& e : fs::directory_iterator(fs::path(TRANOVA_FUZZ_RETRIEVAL_DIR) / "corpus_shard")) {
        const std::string name = e.path().filename().string();
        if (saved_finding(name)) continue;
        INFO(name);
        const std::string text = file_bytes(e.path());
        tranova_fuzz_retrieval::temp_input f(reinterpret_cast<const uint8_t*>(text.data()), text.size(), ".shard");
        if (text.find("\nshard\t0\t1\n") != std::string::npos) {
            CHECK_NOTHROW(retrieval::merge_shards({f.path()}));  // a whole database in one shard
            ++shards;
        } else {
            CHECK_THROWS_AS(retrieval::merge_shards({f.path()}), usage_error);  // read, then found incomplete
        }
    }
    for (const auto& e : fs::directory_iterator(fs::path(TRANOVA_FUZZ_RETRIEVAL_DIR) / "corpus_tix")) {
        const std::string name = e.path().filename().string();
        if (saved_finding(name)) continue;
        INFO(name);
        retrieval::db_index idx(e.path().string());
        CHECK(idx.records() > 0);
        for (std::uint64_t r = 0; r < idx.records(); ++r) CHECK_NOTHROW(idx.check_words(r));
        ++indexes;
    }
    CHECK(shards >= 3);
    CHECK(indexes >= 2);
}

TEST_CASE("a corrupt word id in an index is refused before the prefilter uses it", "[retrieval][fuzz]") {
    // tiny.tix with one word id set past the 20^3 table (the prefilter would read out of bounds).
    std::string data = file_bytes(fs::path(TRANOVA_FUZZ_RETRIEVAL_DIR) / "corpus_tix" / "tiny.tix");
    retrieval::db_index good((fs::path(TRANOVA_FUZZ_RETRIEVAL_DIR) / "corpus_tix" / "tiny.tix").string());
    const std::uint16_t* w0 = good.words(0);
    // Find the words section: the first record's word ids as bytes, located in the file.
    const std::string first(reinterpret_cast<const char*>(w0), 2 * good.seq(0).size());
    const size_t at = data.find(first);
    REQUIRE(at != std::string::npos);
    data[at] = static_cast<char>(0x41);  // 0x1F41 = 8001 (little-endian): not a 3-mer id, not no_word
    data[at + 1] = static_cast<char>(0x1F);
    tranova_fuzz_retrieval::temp_input f(reinterpret_cast<const uint8_t*>(data.data()), data.size(), ".tix");
    retrieval::db_index bad(f.path());
    CHECK_THROWS_WITH(bad.check_words(0), Catch::Contains("corrupt index") && Catch::Contains("record 1"));
    CHECK_NOTHROW(bad.check_words(1));
}

TEST_CASE("a refused index is unmapped again (fuzz_tix: resident memory grew with every bad file)", "[retrieval][fuzz]") {
    // The constructor mapped the file, then threw on a failed check: a throwing constructor
    // runs no destructor, so every refused file stayed mapped.
    auto mappings = [] {
        std::ifstream maps("/proc/self/maps");
        std::string line;
        int n = 0;
        while (std::getline(maps, line)) ++n;
        return n;
    };
    std::string data = file_bytes(fs::path(TRANOVA_FUZZ_RETRIEVAL_DIR) / "corpus_tix" / "tiny.tix");
    data.back() ^= 0x5A;  // names section: still opens
    data.push_back('\0');  // one byte more than the header says: refused after mapping
    tranova_fuzz_retrieval::temp_input f(reinterpret_cast<const uint8_t*>(data.data()), data.size(), ".tix");
    CHECK_THROWS_WITH(retrieval::db_index(f.path()), Catch::Contains("truncated or corrupt index"));
    const int before = mappings();
    for (int i = 0; i < 200; ++i) CHECK_THROWS_AS(retrieval::db_index(f.path()), error);
    CHECK(mappings() <= before + 2);
}
