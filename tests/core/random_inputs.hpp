// Random test inputs shared by the core tests: n floats ~ U(lo, hi) from a fixed seed.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

inline std::vector<float> randv(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}
