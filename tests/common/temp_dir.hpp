// The one temporary folder of the unit tests: a fresh, private folder under the system's
// temp directory (mkdtemp: unique even when test binaries run in parallel), removed with
// everything in it when the object goes. Test-only.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tranova::test {

class temp_dir {
public:
    // `prefix` names the folder (tranova_<prefix>_XXXXXX) so that a leftover is traceable.
    explicit temp_dir(const std::string& prefix = "test") {
        std::string tmpl = (std::filesystem::temp_directory_path() / ("tranova_" + prefix + "_XXXXXX")).string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary folder " + tmpl);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    // `name` inside the folder, as a string (the library's APIs take paths as strings).
    std::string operator/(const std::string& name) const { return (path / name).string(); }
    // Writes `text` to `name` inside the folder (creating sub-folders); returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        const std::filesystem::path p = path / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }

    std::filesystem::path path;
};

}  // namespace tranova::test
