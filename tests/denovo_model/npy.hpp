// Tiny .npy reader for the fixture arrays (little-endian f4/f8/i4/i8/b1, C order, v1-3).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace npy {

struct array {
    std::vector<int64_t> shape;
    std::string dtype;          // e.g. "<f4"
    std::vector<char> bytes;
    int64_t size() const {
        int64_t n = 1;
        for (auto s : shape) n *= s;
        return n;
    }
    std::vector<float> f32() const {
        std::vector<float> out(static_cast<size_t>(size()));
        for (int64_t i = 0; i < size(); ++i) {
            if (dtype == "<f4") std::memcpy(&out[size_t(i)], bytes.data() + 4 * i, 4);
            else if (dtype == "<f8") { double d; std::memcpy(&d, bytes.data() + 8 * i, 8); out[size_t(i)] = float(d); }
            else throw std::runtime_error("npy: not a float array: " + dtype);
        }
        return out;
    }
    std::vector<int64_t> i64() const {
        std::vector<int64_t> out(static_cast<size_t>(size()));
        for (int64_t i = 0; i < size(); ++i) {
            if (dtype == "<i8") std::memcpy(&out[size_t(i)], bytes.data() + 8 * i, 8);
            else if (dtype == "<i4") { int32_t v; std::memcpy(&v, bytes.data() + 4 * i, 4); out[size_t(i)] = v; }
            else if (dtype == "|b1" || dtype == "|u1") out[size_t(i)] = (unsigned char)bytes[size_t(i)];
            else throw std::runtime_error("npy: not an integer array: " + dtype);
        }
        return out;
    }
};

inline array load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    char magic[8];
    in.read(magic, 8);
    if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error("not a .npy file: " + path);
    uint32_t hlen = 0;
    if (magic[6] == 1) {
        unsigned char b[2];
        in.read(reinterpret_cast<char*>(b), 2);
        hlen = b[0] | (b[1] << 8);
    } else {
        unsigned char b[4];
        in.read(reinterpret_cast<char*>(b), 4);
        hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
    }
    std::string h(hlen, '\0');
    in.read(h.data(), hlen);
    array a;
    auto q = h.find("'descr':");
    auto s1 = h.find('\'', q + 8), s2 = h.find('\'', s1 + 1);
    a.dtype = h.substr(s1 + 1, s2 - s1 - 1);
    if (h.find("'fortran_order': True") != std::string::npos) throw std::runtime_error("fortran order: " + path);
    auto p1 = h.find('(', h.find("'shape':")), p2 = h.find(')', p1);
    std::string dims = h.substr(p1 + 1, p2 - p1 - 1);
    size_t pos = 0;
    while (pos < dims.size()) {
        size_t c = dims.find(',', pos);
        std::string tok = dims.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
        if (tok.find_first_of("0123456789") != std::string::npos) a.shape.push_back(std::stoll(tok));
        if (c == std::string::npos) break;
        pos = c + 1;
    }
    size_t item = std::stoul(a.dtype.substr(2));
    a.bytes.resize(size_t(a.size()) * item);
    in.read(a.bytes.data(), std::streamsize(a.bytes.size()));
    if (size_t(in.gcount()) != a.bytes.size()) throw std::runtime_error("truncated .npy: " + path);
    return a;
}

}  // namespace npy
