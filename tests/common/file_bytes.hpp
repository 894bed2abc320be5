// Small helpers every test area uses: a whole file as a string, and the message a call
// throws.
#pragma once

#include "util/error.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

namespace tranova::test {

// The whole file, bytes as stored ("" when it cannot be opened).
inline std::string file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The tranova::error message f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const tranova::error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace tranova::test
