#!/usr/bin/env bash
# Kept for existing instructions: builds the de novo reader fuzzers through fuzz/build.sh.
#   fuzz/denovo/build.sh [OUT_DIR]            # default build-fuzz/
exec "$(dirname "$0")/../build.sh" "${1:-$(cd "$(dirname "$0")/../.." && pwd)/build-fuzz}" mgf mzml
