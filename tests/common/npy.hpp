// The one .npy reader of the tests (fixture arrays written by the make_*.py scripts):
// NumPy format v1-3, little-endian f4/f8/i4/i8/b1/u1, C order. `data` holds every element
// as a double; `bytes` the raw values, read back typed with f32() / i64(). Test-only.
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
    std::vector<char> bytes;    // raw little-endian values
    std::vector<double> data;   // every element as a double
    size_t size() const {
        size_t n = 1;
        for (auto s : shape) n *= size_t(s);
        return n;
    }
    std::vector<float> f32() const {
        std::vector<float> out(size());
        for (size_t i = 0; i < size(); ++i) {
            if (dtype == "<f4") std::memcpy(&out[i], bytes.data() + 4 * i, 4);
            else if (dtype == "<f8") {
                double d;
                std::memcpy(&d, bytes.data() + 8 * i, 8);
                out[i] = float(d);
            } else throw std::runtime_error("npy: not a float array: " + dtype);
        }
        return out;
    }
    std::vector<int64_t> i64() const {
        std::vector<int64_t> out(size());
        for (size_t i = 0; i < size(); ++i) {
            if (dtype == "<i8") std::memcpy(&out[i], bytes.data() + 8 * i, 8);
            else if (dtype == "<i4") {
                int32_t v;
                std::memcpy(&v, bytes.data() + 4 * i, 4);
                out[i] = v;
            } else if (dtype == "|b1" || dtype == "|u1") out[i] = (unsigned char)bytes[i];
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
    if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error("not a .npy file: " + path);
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
    const size_t item = std::stoul(a.dtype.substr(2));
    a.bytes.resize(a.size() * item);
    in.read(a.bytes.data(), std::streamsize(a.bytes.size()));
    if (size_t(in.gcount()) != a.bytes.size()) throw std::runtime_error("truncated .npy: " + path);
    a.data.resize(a.size());
    for (size_t i = 0; i < a.data.size(); ++i) {
        const char* p = a.bytes.data() + i * item;
        if (a.dtype == "<f4") {
            float v;
            std::memcpy(&v, p, 4);
            a.data[i] = v;
        } else if (a.dtype == "<f8") std::memcpy(&a.data[i], p, 8);
        else if (a.dtype == "<i4") {
            int32_t v;
            std::memcpy(&v, p, 4);
            a.data[i] = v;
        } else if (a.dtype == "<i8") {
            int64_t v;
            std::memcpy(&v, p, 8);
            a.data[i] = double(v);
        } else if (a.dtype == "|b1" || a.dtype == "|u1") a.data[i] = (unsigned char)*p;
        else throw std::runtime_error("npy: unsupported dtype " + a.dtype + ": " + path);
    }
    return a;
}

}  // namespace npy
