#include "util/threads.hpp"

#include "util/error.hpp"

#include <omp.h>

#include <cstdlib>
#include <string>
#include <thread>

// OpenBLAS exposes this; declared weak so that another CBLAS links too.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace tranova {
namespace {
int g_threads = 1;
}

int resolve_threads(int requested) {
    if (requested < 0) throw usage_error("--threads must be >= 1 (0 = default)");
    if (requested > 0) return requested;
    if (const char* env = std::getenv("OMP_NUM_THREADS")) {
        char* end = nullptr;
        long v = std::strtol(env, &end, 10);
        if (end != env && v > 0) return static_cast<int>(v);
    }
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? static_cast<int>(hw) : 1;
}

void set_threads(int n) {
    g_threads = n < 1 ? 1 : n;
    omp_set_num_threads(g_threads);
    if (openblas_set_num_threads) openblas_set_num_threads(g_threads);
}

int get_threads() { return g_threads; }

}  // namespace tranova
