#!/usr/bin/env bash
# MGF and mzML parsing throughput on >= 1 GB synthetic files made by repeating the test
# spectra (tests/data/denovo), generated into /tmp and deleted afterwards.
# Usage: benchmarks/denovo/run_readers.sh [BUILD_DIR] [SIZE_MB]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
SIZE_MB=${2:-1100}
BIN="$BUILD/benchmarks/denovo/bench_denovo_readers"
[ -x "$BIN" ] || { echo "build bench_denovo_readers first (cmake --build $BUILD --target bench_denovo_readers)"; exit 1; }
TMP=$(mktemp -d /tmp/tranova_bench_denovo.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
python3 - "$SRC/tests/data/denovo" "$TMP" "$SIZE_MB" <<'PY'
import re, sys
data, tmp, size_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
target = size_mb * 1_000_000
# MGF: the 500 raw MassIVE-KB spectra (raw intensities, 7-27 residue peptides) repeated.
mgf = open(f"{data}/ms2pip_massivekb_selected_500.annotated_massivekb_tokens.mgf").read()
reps = target // len(mgf) + 1
with open(f"{tmp}/big.mgf", "w") as f:
    for _ in range(reps):
        f.write(mgf)
# mzML: the <spectrum> elements of the TMT10 file (MS1, MS2, MS3) repeated inside one run.
x = open(f"{data}/depthcharge_TMT10-Trial-8.mzML").read()
spectra = "".join(re.findall(r"<spectrum .*?</spectrum>\s*", x, re.S))
reps = target // len(spectra) + 1
with open(f"{tmp}/big.mzML", "w") as f:
    f.write('<?xml version="1.0" encoding="utf-8"?>\n<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1.0">'
            '<run id="bench"><spectrumList count="0">\n')
    for _ in range(reps):
        f.write(spectra)
    f.write("</spectrumList></run></mzML>\n")
PY
ls -l "$TMP"
echo "# one core (the readers are single-threaded); median of 3 runs; baseline = fread + memchr line scan"
"$BIN" --repeat 3 "$TMP/big.mgf" "$TMP/big.mzML"
