#include "core/dist.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#ifdef TRANOVA_WITH_MPI
// The C API only (OpenMPI's and MPICH's mpi.h pull in the deprecated C++ bindings otherwise).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace tranova::core::dist {

namespace {

bool g_started = false;  // init() ran
int g_rank = 0, g_size = 1;

// Environment variables launchers set; without one of them MPI_Init would start a
// "singleton" (slow, noisy, pointless), so a plain run stays a plain process.
bool launched_by_mpi_launcher() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
        if (std::getenv(v)) return true;
    return false;
}

#ifdef TRANOVA_WITH_MPI
bool g_mpi = false;  // we called MPI_Init

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING] = {0};
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    TRANOVA_FAIL("MPI {} failed on rank {}: {}", what, g_rank, std::string(msg, static_cast<size_t>(len)));
}

void finalize_at_exit() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (g_mpi && !finalized) MPI_Finalize();
}

// Sums chunks gathered from every rank in rank order, in double (see the header).
template <class T, class Acc>
void gather_sum(T* buf, size_t n, MPI_Datatype type) {
    constexpr size_t chunk = size_t(1) << 20;
    std::vector<T> all(std::min(n, chunk) * static_cast<size_t>(g_size));
    for (size_t off = 0; off < n; off += chunk) {
        const size_t m = std::min(chunk, n - off);
        check(MPI_Allgather(buf + off, static_cast<int>(m), type, all.data(), static_cast<int>(m), type, MPI_COMM_WORLD),
              "Allgather");
        for (size_t i = 0; i < m; ++i) {
            Acc s = 0;
            for (int r = 0; r < g_size; ++r) s += static_cast<Acc>(all[static_cast<size_t>(r) * m + i]);
            buf[off + i] = static_cast<T>(s);
        }
    }
}
#endif

}  // namespace

void init() {
    if (g_started) return;
    g_started = true;
#ifdef TRANOVA_WITH_MPI
    if (!launched_by_mpi_launcher()) return;
    int provided = 0;
    // Only the main thread calls MPI (OpenMP threads never do).
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "Init");
    g_mpi = true;
    std::atexit(finalize_at_exit);
    check(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "Comm_size");
#else
    // A launcher started several copies of a build without MPI: each would train alone and
    // write the same files. Refuse rather than do that silently.
    if (launched_by_mpi_launcher()) {
        const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
        if (!n) n = std::getenv("PMI_SIZE");
        TRANOVA_CHECK(!n || std::atoi(n) <= 1,
                      "started by an MPI launcher with {} processes, but this tranova was built without MPI "
                      "(install libopenmpi-dev and rebuild)",
                      n);
    }
#endif
}

bool active() { return g_size > 1; }
int rank() { return g_rank; }
int size() { return g_size; }

bool built_with_mpi() {
#ifdef TRANOVA_WITH_MPI
    return true;
#else
    return false;
#endif
}

std::string describe() {
    if (g_size == 1) return "single process";
#ifdef TRANOVA_WITH_MPI
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
    int len = 0;
    MPI_Get_library_version(lib, &len);
    std::string v(lib, static_cast<size_t>(len));
    v = v.substr(0, v.find(','));
    return fmt::format("MPI rank {} of {} ({})", g_rank, g_size, v);
#else
    return "single process";
#endif
}

void shard_range(int64_t n, int r, int ranks, int64_t& begin, int64_t& end) {
    const int64_t base = n / ranks, extra = n % ranks;
    begin = r * base + std::min<int64_t>(r, extra);
    end = begin + base + (r < extra ? 1 : 0);
}

void allreduce_sum(float* buf, size_t n) {
#ifdef TRANOVA_WITH_MPI
    if (g_size > 1) gather_sum<float, double>(buf, n, MPI_FLOAT);
#else
    (void)buf, (void)n;
#endif
}

void allreduce_sum(double* buf, size_t n) {
#ifdef TRANOVA_WITH_MPI
    if (g_size > 1) gather_sum<double, long double>(buf, n, MPI_DOUBLE);
#else
    (void)buf, (void)n;
#endif
}

#ifdef TRANOVA_WITH_MPI
namespace {
// MPI counts are int: large buffers go in pieces.
template <class T>
void bcast_chunked(T* buf, size_t n, MPI_Datatype type, int root) {
    constexpr size_t chunk = size_t(1) << 28;
    for (size_t off = 0; off < n; off += chunk)
        check(MPI_Bcast(buf + off, static_cast<int>(std::min(chunk, n - off)), type, root, MPI_COMM_WORLD), "Bcast");
}
}  // namespace
#endif

void broadcast(float* buf, size_t n, int root) {
#ifdef TRANOVA_WITH_MPI
    if (g_size > 1) bcast_chunked(buf, n, MPI_FLOAT, root);
#else
    (void)buf, (void)n, (void)root;
#endif
}

void broadcast(uint64_t* buf, size_t n, int root) {
#ifdef TRANOVA_WITH_MPI
    if (g_size > 1) bcast_chunked(buf, n, MPI_UINT64_T, root);
#else
    (void)buf, (void)n, (void)root;
#endif
}

void barrier() {
#ifdef TRANOVA_WITH_MPI
    if (g_size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "Barrier");
#endif
}

}  // namespace tranova::core::dist
