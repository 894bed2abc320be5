// Minimal .npy reader for the fixture arrays (little-endian f4/f8/i8/i4, C order).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace npy_test {

struct array {
    std::vector<size_t> shape;
    std::vector<double> data;  // converted to double
};

inline array load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (all.size() < 10 || all.compare(1, 5, "NUMPY") != 0) throw std::runtime_error("not npy: " + path);
    const int major = static_cast<unsigned char>(all[6]);
    size_t hlen, off;
    if (major == 1) {
        hlen = static_cast<unsigned char>(all[8]) | (static_cast<unsigned char>(all[9]) << 8);
        off = 10;
    } else {
        uint32_t h;
        std::memcpy(&h, all.data() + 8, 4);
        hlen = h;
        off = 12;
    }
    std::string header = all.substr(off, hlen);
    auto descr_at = header.find("'descr': '") + 10;
    std::string descr = header.substr(descr_at, header.find('\'', descr_at) - descr_at);
    if (header.find("'fortran_order': False") == std::string::npos) throw std::runtime_error("fortran order");
    auto sh = header.find("'shape': (") + 10;
    std::string shape_s = header.substr(sh, header.find(')', sh) - sh);
    array a;
    std::stringstream ss(shape_s);
    std::string tok;
    size_t n = 1;
    while (std::getline(ss, tok, ','))
        if (tok.find_first_not_of(' ') != std::string::npos) {
            a.shape.push_back(std::stoul(tok));
            n *= a.shape.back();
        }
    const char* p = all.data() + off + hlen;
    a.data.resize(n);
    for (size_t i = 0; i < n; ++i) {
        if (descr == "<f4") { float v; std::memcpy(&v, p + 4 * i, 4); a.data[i] = v; }
        else if (descr == "<f8") { double v; std::memcpy(&v, p + 8 * i, 8); a.data[i] = v; }
        else if (descr == "<i8") { int64_t v; std::memcpy(&v, p + 8 * i, 8); a.data[i] = static_cast<double>(v); }
        else if (descr == "<i4") { int32_t v; std::memcpy(&v, p + 4 * i, 4); a.data[i] = v; }
        else if (descr == "|b1") { a.data[i] = p[i] ? 1 : 0; }
        else throw std::runtime_error("unsupported dtype " + descr);
    }
    return a;
}

}  // namespace npy_test
