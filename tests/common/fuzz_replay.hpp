// Replays a fuzz corpus folder through a fuzz target body without clang/libFuzzer: each file
// whole and 64 truncations of it (truncated files are the commonest real-world damage), so
// that ctest catches regressions on the seeds and on every input a fuzzer once crashed on.
// Used by tests/fuzz (file formats, de novo) and tests/retrieval (shard files, indexes).
#pragma once

#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace tranova::test {

// Returns how many files of dir/corpus were replayed.
inline int replay_corpus(const std::filesystem::path& dir, const char* corpus, int (*fn)(const uint8_t*, size_t)) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir / corpus)) {
        if (!e.is_regular_file()) continue;
        const std::string data = file_bytes(e.path());
        INFO(e.path().string());
        CHECK_NOTHROW(fn(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
        for (size_t cut = 1; cut < data.size(); cut += std::max<size_t>(1, data.size() / 64))
            CHECK_NOTHROW(fn(reinterpret_cast<const uint8_t*>(data.data()), cut));
        ++n;
    }
    return n;
}

}  // namespace tranova::test
