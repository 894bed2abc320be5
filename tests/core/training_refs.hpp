// Reader for the PyTorch reference arrays in tests/data/core/training/*.txt (written by
// make_loss_refs.py): one array per line, "name ndim d0 .. values".
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

struct ref_array {
    std::vector<int64_t> shape;
    std::vector<double> values;
    std::vector<float> f() const { return {values.begin(), values.end()}; }
    std::vector<int32_t> i() const { return {values.begin(), values.end()}; }
};

inline std::map<std::string, ref_array> read_refs(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::map<std::string, ref_array> refs;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string name, tok;
        int ndim = 0;
        ls >> name >> ndim;
        ref_array a;
        size_t n = 1;
        for (int d = 0; d < ndim; d++) {
            int64_t v;
            ls >> v;
            a.shape.push_back(v);
            n *= (size_t)v;
        }
        while (ls >> tok) a.values.push_back(std::stod(tok));  // stod reads inf/nan too
        REQUIRE(a.values.size() == n);
        refs[name] = std::move(a);
    }
    return refs;
}

inline const ref_array& ref(const std::map<std::string, ref_array>& refs, const std::string& name) {
    auto it = refs.find(name);
    INFO("reference array " << name);
    REQUIRE(it != refs.end());
    return it->second;
}
