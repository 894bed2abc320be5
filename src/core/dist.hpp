// Data parallelism across processes (llm.c's multi-node path): MPI when tranova was built
// with it (TRANOVA_WITH_MPI, Debian's OpenMPI) AND the process was started by a launcher
// (`mpirun -np N`, `srun`), otherwise one process and every call below is a no-op.
//
// How a trainer uses it: each rank computes the gradient SUM over its shard of the global
// batch (shard_range), allreduce_sum adds the shards in a fixed order, every rank divides
// by the global number of items and applies the same optimizer step, so all ranks keep
// identical parameters; rank 0 alone writes logs and checkpoints. No home-made networking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tranova::core::dist {

// Starts MPI if this build has it and a launcher started the process (OpenMPI, PMI/PMIx
// or Slurm environment variables); otherwise a single process. Idempotent; finalize() at
// exit is registered automatically. Throws tranova::error when MPI fails to start.
void init();
bool active();   // more than one process takes part
int rank();      // 0 when single
int size();      // 1 when single
bool built_with_mpi();
std::string describe();  // "single process" / "MPI rank 0 of 2 (Open MPI v4.1.4)"

// [begin, end) of items 0..n-1 that rank r of `ranks` takes: contiguous blocks, the first
// n % ranks ranks one item more, so the union over ranks is exactly 0..n-1 in order.
void shard_range(int64_t n, int r, int ranks, int64_t& begin, int64_t& end);

// In-place element-wise sums over all ranks; every rank gets the same bits. The float sum
// is done in double and in rank order (gathered, not MPI_SUM), so the result does not
// depend on MPI's reduction tree and a run is reproducible for a fixed number of ranks.
void allreduce_sum(float* buf, size_t n);
void allreduce_sum(double* buf, size_t n);
// Rank `root`'s buffer to every rank (initial parameters, resumed state).
void broadcast(float* buf, size_t n, int root = 0);
void broadcast(uint64_t* buf, size_t n, int root = 0);
void barrier();

}  // namespace tranova::core::dist
