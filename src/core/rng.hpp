// A small seeded random generator whose whole state can be saved in a training state
// and restored, so a resumed run draws exactly the numbers an uninterrupted one would.
// xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64 from (seed, stream):
// different streams of one seed (data order, dropout, reversal, ...) are independent.
// Same numbers on every platform (no std:: distributions, whose output is unspecified).
#pragma once

#include "util/error.hpp"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace tranova::core {

class rng {
public:
    using state_type = std::array<uint64_t, 4>;

    explicit rng(uint64_t seed = 0, uint64_t stream = 0) {
        uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
        for (auto& w : s_) w = splitmix64(x);
    }

    uint64_t next_u64() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, 1): 24 random bits for float, 53 for double.
    float uniform() { return (float)(next_u64() >> 40) * 0x1.0p-24f; }
    double uniform_double() { return (double)(next_u64() >> 11) * 0x1.0p-53; }
    // Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method).
    uint64_t below(uint64_t n) {
        unsigned __int128 m = (unsigned __int128)next_u64() * n;
        uint64_t low = (uint64_t)m;
        if (low < n) {
            const uint64_t threshold = -n % n;
            while (low < threshold) {
                m = (unsigned __int128)next_u64() * n;
                low = (uint64_t)m;
            }
        }
        return (uint64_t)(m >> 64);
    }
    // Fisher-Yates shuffle driven by this generator.
    template <class T>
    void shuffle(std::vector<T>& v) {
        for (size_t i = v.size(); i > 1; i--) std::swap(v[i - 1], v[(size_t)below(i)]);
    }

    const state_type& state() const { return s_; }
    // Throws tranova::error for the all-zero state (xoshiro would then output only zeros).
    void set_state(const state_type& s) {
        TRANOVA_CHECK(s[0] | s[1] | s[2] | s[3], "rng: the all-zero state is invalid");
        s_ = s;
    }

private:
    state_type s_{};
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static uint64_t splitmix64(uint64_t& x) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

}  // namespace tranova::core
