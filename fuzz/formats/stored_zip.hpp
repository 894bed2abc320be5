// A minimal zip writer with stored (uncompressed) entries and CRC 0, which tranova's zip
// reader does not check: builds torch.save-style archives for the pickle fuzzer and for
// the checkpoint tests. Header only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tranova_fuzz {

inline std::vector<uint8_t> make_stored_zip(const std::vector<std::pair<std::string, std::string>>& files) {
    std::vector<uint8_t> z, cd;
    auto put = [](std::vector<uint8_t>& v, uint64_t x, int n) {
        for (int i = 0; i < n; i++) v.push_back((uint8_t)(x >> (8 * i)));
    };
    for (auto& [name, data] : files) {
        uint64_t off = z.size();
        put(z, 0x04034b50, 4), put(z, 20, 2), put(z, 0, 2), put(z, 0, 2), put(z, 0, 4), put(z, 0, 4);
        put(z, data.size(), 4), put(z, data.size(), 4), put(z, name.size(), 2), put(z, 0, 2);
        z.insert(z.end(), name.begin(), name.end());
        z.insert(z.end(), data.begin(), data.end());
        put(cd, 0x02014b50, 4), put(cd, 20, 2), put(cd, 20, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 4);
        put(cd, 0, 4), put(cd, data.size(), 4), put(cd, data.size(), 4), put(cd, name.size(), 2), put(cd, 0, 2);
        put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 2), put(cd, 0, 4), put(cd, off, 4);
        cd.insert(cd.end(), name.begin(), name.end());
    }
    uint64_t cd_off = z.size();
    z.insert(z.end(), cd.begin(), cd.end());
    put(z, 0x06054b50, 4), put(z, 0, 2), put(z, 0, 2), put(z, files.size(), 2), put(z, files.size(), 2);
    put(z, cd.size(), 4), put(z, cd_off, 4), put(z, 0, 2);
    return z;
}

}  // namespace tranova_fuzz
