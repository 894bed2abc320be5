// Shared helpers for the denovo_model tests: fixture paths, tolerant comparisons.
#pragma once

#include "denovo_model/model.hpp"
#include "npy.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

inline std::string dm_data(const std::string& name) { return std::string(TRANOVA_TEST_DATA) + "/denovo_model/" + name; }

inline npy::array dm_npy(const std::string& name) { return npy::load(dm_data(name + ".npy")); }

// max |a-b| / max(|b|, floor) over all entries; reports the worst index.
struct diff_stats {
    double max_abs = 0, max_rel = 0;
    size_t worst = 0;
};
inline diff_stats compare(const float* a, const float* b, size_t n, double floor = 1.0) {
    diff_stats s;
    for (size_t i = 0; i < n; ++i) {
        double d = std::fabs(double(a[i]) - double(b[i]));
        double r = d / std::max(std::fabs(double(b[i])), floor);
        if (d > s.max_abs) s.max_abs = d;
        if (r > s.max_rel) {
            s.max_rel = r;
            s.worst = i;
        }
    }
    return s;
}

inline std::vector<std::vector<std::string>> read_tsv(const std::string& name) {
    std::ifstream in(dm_data(name));
    REQUIRE(in);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::stringstream ss(line);
        std::string x;
        while (std::getline(ss, x, '\t')) f.push_back(x);
        if (!line.empty() && line.back() == '\t') f.push_back("");
        rows.push_back(f);
    }
    return rows;
}

inline std::vector<std::string> split_str(const std::string& s, char c) {
    std::vector<std::string> out;
    std::string cur;
    for (char ch : s) {
        if (ch == c) {
            out.push_back(cur);
            cur.clear();
        } else cur += ch;
    }
    out.push_back(cur);
    return out;
}

// Loads a fixture checkpoint (safetensors) as a model (n_head 4 for all fixtures).
inline tranova::denovo_model::denovo_model dm_fixture_model(const std::string& prefix) {
    using namespace tranova::denovo_model;
    // trained fixtures are read from the Lightning .ckpt, random ones from safetensors
    bool trained = prefix.find("trained") != std::string::npos;
    auto sd = read_checkpoint_tensors(dm_data(prefix + (trained ? "_tiny.ckpt" : "_tiny.safetensors")));
    model_arch arch = prefix.rfind("casanovo", 0) == 0 ? model_arch::casanovo : model_arch::primenovo;
    return model_from_weights(weights_from_state_dict(std::move(sd), arch, 4));
}
