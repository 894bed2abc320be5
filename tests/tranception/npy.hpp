// Reads NumPy .npy files (v1/v2 header, little-endian, C order; f4/f8/i8/i4) for the
// parity tests. Test-only helper.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace npy {

struct array {
    std::vector<size_t> shape;
    std::vector<double> data;  // every dtype converted to double
    size_t size() const { return data.size(); }
};

inline array load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    if (s.size() < 10 || s.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error("not npy: " + path);
    size_t hlen, off;
    if (s[6] == 1) {
        hlen = uint8_t(s[8]) | (uint8_t(s[9]) << 8);
        off = 10;
    } else {
        hlen = uint8_t(s[8]) | (uint8_t(s[9]) << 8) | (uint8_t(s[10]) << 16) | (size_t(uint8_t(s[11])) << 24);
        off = 12;
    }
    std::string h = s.substr(off, hlen);
    auto descr_pos = h.find("'descr'");
    auto q1 = h.find('\'', descr_pos + 7);
    auto q2 = h.find('\'', q1 + 1);
    std::string descr = h.substr(q1 + 1, q2 - q1 - 1);
    if (h.find("'fortran_order': False") == std::string::npos) throw std::runtime_error("fortran order: " + path);
    auto sp = h.find("'shape'");
    auto p1 = h.find('(', sp), p2 = h.find(')', sp);
    std::string sh = h.substr(p1 + 1, p2 - p1 - 1);
    array a;
    std::stringstream shs(sh);
    std::string tok;
    while (std::getline(shs, tok, ','))
        if (tok.find_first_of("0123456789") != std::string::npos) a.shape.push_back(std::stoul(tok));
    size_t n = 1;
    for (auto d : a.shape) n *= d;
    const char* p = s.data() + off + hlen;
    a.data.resize(n);
    for (size_t i = 0; i < n; ++i) {
        if (descr == "<f4") {
            float v;
            std::memcpy(&v, p + 4 * i, 4);
            a.data[i] = v;
        } else if (descr == "<f8") {
            double v;
            std::memcpy(&v, p + 8 * i, 8);
            a.data[i] = v;
        } else if (descr == "<i8") {
            int64_t v;
            std::memcpy(&v, p + 8 * i, 8);
            a.data[i] = double(v);
        } else if (descr == "<i4") {
            int32_t v;
            std::memcpy(&v, p + 4 * i, 4);
            a.data[i] = v;
        } else {
            throw std::runtime_error("unsupported dtype " + descr + " in " + path);
        }
    }
    return a;
}

}  // namespace npy
