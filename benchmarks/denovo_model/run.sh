#!/usr/bin/env bash
# Runs bench_denovo_model (C++) and bench_torch.py (PyTorch baseline, Debian python3-torch)
# with the same shapes on this CPU and prints spectra/s and the speed-up per mode.
# Usage: benchmarks/denovo_model/run.sh [build-dir] [extra args for both, e.g. --spectra 8]
set -euo pipefail
BUILD=${1:-build}; shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${THREADS:-2}
"$BUILD/benchmarks/denovo_model/bench_denovo_model" --threads "$THREADS" "$@" > /tmp/bench_denovo_cpp.tsv
/usr/bin/python3 "$HERE/bench_torch.py" --threads "$THREADS" "$@" 2>/dev/null > /tmp/bench_denovo_torch.tsv
grep '^#' /tmp/bench_denovo_cpp.tsv /tmp/bench_denovo_torch.tsv | sed 's/^[^:]*://'
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
printf "mode\ttranova_spectra_per_s\ttorch_spectra_per_s\tspeedup\n"
join -t $'\t' <(grep -v '^#' /tmp/bench_denovo_cpp.tsv | tail -n +2 | cut -f1,4 | sort) \
              <(grep -v '^#' /tmp/bench_denovo_torch.tsv | tail -n +2 | cut -f1,4 | sort) |
  awk -F'\t' '{printf "%s\t%s\t%s\t%.2fx\n", $1, $2, $3, $2 / $3}'
