// The fuzz input written to a private temporary file, removed again on scope exit: for
// readers that only take a path. Shared by every fuzz target's body (fuzz/*/fuzz_*.hpp).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tranova_fuzz {

class temp_input {
public:
    temp_input(const uint8_t* data, size_t size, const char* suffix) {
        const char* dir = std::getenv("TMPDIR");
        path_ = std::string(dir && *dir ? dir : "/tmp") + "/tranova_fuzz_" + std::to_string(::getpid()) + suffix;
        std::FILE* f = std::fopen(path_.c_str(), "wb");
        if (!f) throw std::runtime_error("cannot write " + path_);
        if (size) std::fwrite(data, 1, size, f);
        std::fclose(f);
    }
    ~temp_input() { std::remove(path_.c_str()); }
    temp_input(const temp_input&) = delete;
    temp_input& operator=(const temp_input&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace tranova_fuzz
