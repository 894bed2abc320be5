// A toy data-parallel trainer for the MPI test (tests/core/test_dist_mpi.sh): a small MLP
// (8 -> 16 tanh -> 4) fit by SGD with momentum to a fixed synthetic regression task.
// Each step takes a global batch of B items; every rank computes the gradient sum over its
// shard (dist::shard_range), dist::allreduce_sum adds the shards, all ranks apply the same
// update. Run alone or under `mpirun -np N`: rank 0 writes the final parameters, which
// must equal the single-process ones for the same global batch (within float rounding).
//   dist_toy_train STEPS BATCH OUT.txt
#include "core/dist.hpp"

#include "util/error.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr int IN = 8, HID = 16, OUT = 4, N_DATA = 997;
constexpr int n_params = HID * IN + HID + OUT * HID + OUT;

// Deterministic pseudo-random value in [-1, 1) from (item, slot): any rank can make any item.
float hash_unit(uint64_t a, uint64_t b) {
    uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

void make_item(int i, float* x, float* y) {
    for (int k = 0; k < IN; ++k) x[k] = hash_unit(i, k);
    for (int o = 0; o < OUT; ++o) {
        float s = 0;
        for (int k = 0; k < IN; ++k) s += hash_unit(1000 + o, k) * x[k];
        y[o] = std::sin(s);
    }
}

// Adds d(0.5 * |f(x) - y|^2)/d(params) of one item to g; returns that loss.
double item_grad(const float* p, float* g, int item) {
    const float *W1 = p, *b1 = W1 + HID * IN, *W2 = b1 + HID, *b2 = W2 + OUT * HID;
    float *gW1 = g, *gb1 = gW1 + HID * IN, *gW2 = gb1 + HID, *gb2 = gW2 + OUT * HID;
    float x[IN], y[OUT], h[HID], dh[HID] = {0};
    make_item(item, x, y);
    for (int j = 0; j < HID; ++j) {
        float s = b1[j];
        for (int k = 0; k < IN; ++k) s += W1[j * IN + k] * x[k];
        h[j] = std::tanh(s);
    }
    double loss = 0;
    for (int o = 0; o < OUT; ++o) {
        float f = b2[o];
        for (int j = 0; j < HID; ++j) f += W2[o * HID + j] * h[j];
        const float d = f - y[o];
        loss += 0.5 * d * d;
        gb2[o] += d;
        for (int j = 0; j < HID; ++j) {
            gW2[o * HID + j] += d * h[j];
            dh[j] += d * W2[o * HID + j];
        }
    }
    for (int j = 0; j < HID; ++j) {
        const float ds = dh[j] * (1 - h[j] * h[j]);
        gb1[j] += ds;
        for (int k = 0; k < IN; ++k) gW1[j * IN + k] += ds * x[k];
    }
    return loss;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: dist_toy_train STEPS BATCH OUT.txt\n");
        return 2;
    }
    const int steps = std::atoi(argv[1]), batch = std::atoi(argv[2]);
    try {
        namespace dist = tranova::core::dist;
        dist::init();
        std::fprintf(stderr, "dist_toy_train: %s\n", dist::describe().c_str());
        std::vector<float> p(n_params), g(n_params), mom(n_params, 0.0f);
        // Rank 0 initialises, everyone receives: ranks start from the same parameters.
        if (dist::rank() == 0)
            for (int i = 0; i < n_params; ++i) p[i] = 0.3f * hash_unit(7, i);
        dist::broadcast(p.data(), p.size());
        const float lr = 0.05f, beta = 0.9f;
        double loss = 0;
        for (int s = 0; s < steps; ++s) {
            std::fill(g.begin(), g.end(), 0.0f);
            int64_t b0 = 0, b1 = 0;
            dist::shard_range(batch, dist::rank(), dist::size(), b0, b1);
            double l[1] = {0};
            for (int64_t b = b0; b < b1; ++b) l[0] += item_grad(p.data(), g.data(), static_cast<int>((s * batch + b) % N_DATA));
            dist::allreduce_sum(g.data(), g.size());
            dist::allreduce_sum(l, 1);
            loss = l[0] / batch;
            for (int i = 0; i < n_params; ++i) {
                mom[i] = beta * mom[i] + g[i] / static_cast<float>(batch);
                p[i] -= lr * mom[i];
            }
        }
        if (dist::rank() == 0) {
            std::FILE* f = std::fopen(argv[3], "w");
            TRANOVA_CHECK(f, "{}: cannot write", argv[3]);
            std::fprintf(f, "# loss %.9g\n", loss);
            for (float v : p) std::fprintf(f, "%.9g\n", v);
            std::fclose(f);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dist_toy_train: %s\n", e.what());
        return 1;
    }
    return 0;
}
