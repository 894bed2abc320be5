#!/usr/bin/env bash
# Builds every libFuzzer target with clang 14 + libFuzzer + ASan + UBSan (the top-level
# CMake does not add fuzz/; this script is the build, `cmake --build build --target fuzz`
# runs it when TRANOVA_BUILD_FUZZERS=ON). Usage:
#   fuzz/build.sh [OUT_DIR] [TARGET...]        # default build-fuzz/, all targets
# Targets (fuzz_<name>; seed corpus fuzz/<area>/corpus_<name>):
#   denovo:  mgf mzml
#   formats: checkpoint pickle safetensors hdf5 json fasta msa csv mztab
#   retrieval: shard tix
# Run on a scratch folder first so that new inputs do not land in the saved corpus:
#   build-fuzz/fuzz_pickle -max_total_time=180 -dict=fuzz/formats/pickle.dict /tmp/new fuzz/formats/corpus_pickle
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$SRC/build-fuzz}
shift || true
CXX=${CXX_FUZZ:-clang++}
mkdir -p "$OUT/obj"
H5INC=$(pkg-config --cflags-only-I hdf5-serial 2>/dev/null || echo -I/usr/include/hdf5/serial)
H5LIB=$(pkg-config --libs hdf5-serial 2>/dev/null || echo "-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5")
FLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$SRC/src" -I"$SRC/fuzz/denovo" -I"$SRC/fuzz/formats" -I"$SRC/fuzz/retrieval" -I/usr/include/libmsnumpress $H5INC)
LIB_SRCS=("$SRC"/src/denovo/{source,spectrum,mgf,mzml,peptide,preprocess,mztab}.cpp
          "$SRC"/src/util/{error,log,memory,text,csv,h5,output_file}.cpp
          "$SRC"/src/core/{checkpoint,checkpoint_zip,checkpoint_pickle,checkpoint_torch,checkpoint_safetensors,json,weights}.cpp
          "$SRC"/src/msa/msa_io.cpp "$SRC"/src/retrieval/{fasta_db,db_index,scoring,shard,results}.cpp)
# The library sources are compiled once, as objects with fuzzer instrumentation only,
# and recompiled when the source or any header under src/ is newer than the object.
NEWEST_HDR=$(find "$SRC/src" -name '*.hpp' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
OBJ=()
for f in "${LIB_SRCS[@]}"; do
  o="$OUT/obj/$(basename "$(dirname "$f")")_$(basename "$f" .cpp).o"
  if [[ ! -e $o || $f -nt $o || $NEWEST_HDR -nt $o ]]; then
    "$CXX" "${FLAGS[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}" -c "$f" -o "$o"
  fi
  OBJ+=("$o")
done
declare -A AREA=([mgf]=denovo [mzml]=denovo [shard]=retrieval [tix]=retrieval)
ALL=(mgf mzml checkpoint pickle safetensors hdf5 json fasta msa csv mztab shard tix)
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
  area=${AREA[$t]:-formats}
  "$CXX" "${FLAGS[@]}" "$SRC/fuzz/$area/fuzz_$t.cpp" "${OBJ[@]}" -o "$OUT/fuzz_$t" -lfmt -lexpat -lmsnumpress -lz -lhts $H5LIB
  echo "built: $OUT/fuzz_$t"
done
