#!/usr/bin/env bash
# Runs bench_core twice: with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as set in the
# environment, then with both unset (OpenBLAS picks its kernels for the real CPU).
# Usage: benchmarks/core/run.sh BUILD_DIR [bench_core args]
set -euo pipefail
build=${1:-build}; shift || true
bin="$build/benchmarks/core/bench_core"
echo "== as set: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}"
"$bin" "$@"
echo
echo "== OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" "$@"
