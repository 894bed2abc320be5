#!/usr/bin/env bash
# Builds the de novo reader fuzzers with clang + libFuzzer + ASan/UBSan (the top-level
# CMake does not add fuzz/; this script is the build). Usage:
#   fuzz/denovo/build.sh [OUT_DIR]            # default build-fuzz/
#   build-fuzz/fuzz_denovo_mgf  -max_total_time=180 fuzz/denovo/corpus_mgf
#   build-fuzz/fuzz_denovo_mzml -max_total_time=180 -dict=fuzz/denovo/mzml.dict fuzz/denovo/corpus_mzml
# Run on a copy of the corpus folder (libFuzzer adds new inputs to the first folder given)
# or with a scratch folder first: fuzz_denovo_mgf -max_total_time=180 /tmp/new fuzz/denovo/corpus_mgf
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$SRC/build-fuzz}
CXX=${CXX_FUZZ:-clang++}
mkdir -p "$OUT"
FLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$SRC/src" -I"$SRC/fuzz/denovo")
LIB_SRCS=("$SRC"/src/denovo/{source,spectrum,mgf,mzml,peptide,preprocess}.cpp "$SRC"/src/util/{log,text}.cpp)
# Compile the library sources once, as objects with fuzzer instrumentation only.
OBJ=()
for f in "${LIB_SRCS[@]}"; do
  o="$OUT/$(basename "$(dirname "$f")")_$(basename "$f" .cpp).o"
  "$CXX" "${FLAGS[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}" -c "$f" -o "$o"
  OBJ+=("$o")
done
for t in mgf mzml; do
  "$CXX" "${FLAGS[@]}" "$SRC/fuzz/denovo/fuzz_$t.cpp" "${OBJ[@]}" -o "$OUT/fuzz_denovo_$t" -lfmt -lexpat -lz
done
echo "built: $OUT/fuzz_denovo_mgf $OUT/fuzz_denovo_mzml"
