// Thread count policy: --threads N, else $OMP_NUM_THREADS, else all cores. OpenMP loops
// use it; BLAS is called single-threaded from inside our own parallel regions.
#pragma once

namespace tranova {

// 0 = default (OMP_NUM_THREADS or hardware concurrency). Throws usage_error for < 0.
int resolve_threads(int requested);
// Applies n to OpenMP and to the BLAS library (openblas_set_num_threads when present).
void set_threads(int n);
int get_threads();

}  // namespace tranova
