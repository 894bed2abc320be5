# Hostile model and container files (issue 12, §2 deep nesting, §4 invalid containers and
# NaN/inf weights, §5 messages): every case exits 1 with ONE stderr line naming the file,
# never a signal, and leaves no output file. All inputs are built here with printf/dd.
source "$(dirname "$0")/cli_lib.sh" "$@"
M="$DATA/tranception/models/tiny_ctx64"  # config.json + model.safetensors
DN="$DATA/denovo_model"
MGF="$DN/sample16.mgf"

# --- byte helpers -----------------------------------------------------------------------
# le N VALUE: VALUE as N little-endian bytes (as printf escapes)
le() { local n=$1 v=$2 s="" i; for ((i = 0; i < n; i++)); do s+=$(printf '\\%03o' $(((v >> (8 * i)) & 255))); done; printf "$s"; }
# zip_stored OUT NAME FILE [NAME FILE ...]: a stored zip (CRC 0: tranova does not check it)
zip_stored() {
  local out=$1; shift
  local cd="$WORK/.cd" off=0 n=0 name file size
  : > "$out"; : > "$cd"
  while [ $# -gt 0 ]; do
    name=$1 file=$2; shift 2
    size=$(stat -c %s "$file")
    { le 4 0x04034b50; le 2 20; le 2 0; le 2 0; le 4 0; le 4 0; le 4 "$size"; le 4 "$size"; le 2 ${#name}; le 2 0
      printf '%s' "$name"; cat "$file"; } >> "$out"
    { le 4 0x02014b50; le 2 20; le 2 20; le 2 0; le 2 0; le 4 0; le 4 0; le 4 "$size"; le 4 "$size"; le 2 ${#name}
      le 2 0; le 2 0; le 2 0; le 2 0; le 4 0; le 4 "$off"; printf '%s' "$name"; } >> "$cd"
    off=$(stat -c %s "$out"); n=$((n + 1))
  done
  local cdsize; cdsize=$(stat -c %s "$cd")
  cat "$cd" >> "$out"
  { le 4 0x06054b50; le 2 0; le 2 0; le 2 $n; le 2 $n; le 4 "$cdsize"; le 4 "$off"; le 2 0; } >> "$out"
}
repeat() { head -c "$2" /dev/zero | tr '\0' "$1"; }  # repeat CHAR COUNT
# safetensors OUT JSON DATAFILE
safetensors() { { le 8 ${#2}; printf '%s' "$2"; cat "$3"; } > "$1"; }
# expect_clean_failure FILE-NAMED-IN-ERROR TEXT [OUTPUT]: exit 1, one line, names the file
expect_clean_failure() {
  expect_rc 1; expect_one_line_err; expect_err "$1"; expect_err "$2"
  [ -z "${3:-}" ] || expect_no_file "$3"
  expect_no_temp .
}

# --- §2 deep nesting: a data.pkl of 200,000 nested lists / dicts (was SIGSEGV) ----------
{ printf '\200\002}(X\001\000\000\000w'; repeat ']' 200000; repeat 'a' 199999; printf 'u.'; } > lists.pkl
{ printf '\200\002}'; for ((i = 0; i < 200000; i++)); do printf 'X\001\000\000\000k}'; done; repeat 's' 200000; printf '.'; } > dicts.pkl
zip_stored deep_lists.pt archive/data.pkl lists.pkl
mkdir -p deepfolder && cp "$M/config.json" deepfolder/
zip_stored deepfolder/pytorch_model.bin archive/data.pkl dicts.pkl
run "$TRANOVA" convert --arch tranception --checkpoint deep_lists.pt --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "deep_lists.pt:archive/data.pkl: bad pickle at offset" "nested deeper than 1000 levels" out.h5
run "$TRANOVA" convert --arch tranception --checkpoint deepfolder -o out.h5 --quiet
expect_clean_failure "deepfolder/pytorch_model.bin" "nested deeper than 1000 levels" out.h5
printf 'mutant,DMS_score\nK2A,1.5\n' > dms.csv
run "$TRANOVA" score -q --model deepfolder --target MKVLAAGIVGLLLAACGQHRSEAPQKPAE --dms dms.csv -o scores.csv
expect_clean_failure "deepfolder/pytorch_model.bin" "nested deeper than 1000 levels" scores.csv
# deep JSON (config.json / safetensors header): bounded at 64 levels
repeat '[' 200000 > deep.json
run "$TRANOVA" convert --arch tranception --checkpoint "$M/model.safetensors" --config deep.json -o out.h5 --quiet
expect_clean_failure "deep.json: invalid JSON at byte 64" "nesting deeper than 64 levels" out.h5
printf 'x' > one.bin
safetensors deep.safetensors "$(printf '{"a":%.0s' $(seq 50000))" one.bin
run "$TRANOVA" convert --arch tranception --checkpoint deep.safetensors --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "deep.safetensors (safetensors header): invalid JSON at byte" "nesting deeper" out.h5

# --- §4 invalid containers: safetensors ranges overlapping / wrong size / gaps; dtypes ----
head -c 16 /dev/zero > z16.bin
safetensors overlap.safetensors '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"c":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}' z16.bin
run "$TRANOVA" convert --arch tranception --checkpoint overlap.safetensors --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "overlap.safetensors" "tensor 'b' data [4, 12) overlaps tensor 'a'" out.h5
safetensors dtype.safetensors '{"a":{"dtype":"F64","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[16,16]}}' z16.bin
run "$TRANOVA" convert --arch tranception --checkpoint dtype.safetensors --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "dtype.safetensors" "tensor 'a' has 16 data bytes, shape [4] x float64 needs 32" out.h5
safetensors gap.safetensors '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' z16.bin
run "$TRANOVA" convert --arch tranception --checkpoint gap.safetensors --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "gap.safetensors" "trailing bytes" out.h5
safetensors q4.safetensors '{"a":{"dtype":"Q4_K","shape":[32],"data_offsets":[0,16]}}' z16.bin
run "$TRANOVA" convert --arch tranception --checkpoint q4.safetensors --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "q4.safetensors" "unsupported dtype 'Q4_K'" out.h5
# zip/pickle storage reads: a view past its storage, a storage shorter than declared
{ printf '\200\002}(X\001\000\000\000wctorch._utils\n_rebuild_tensor_v2\n((X\007\000\000\000storagectorch\nFloatStorage\nX\001\000\000\0000X\003\000\000\000cpuK\004tQK\002K\004\205K\001\205\211ccollections\nOrderedDict\n)RtRu.'; } > past.pkl
head -c 16 /dev/zero > s16.bin
zip_stored past.pt archive/data.pkl past.pkl archive/data/0 s16.bin
run "$TRANOVA" convert --arch tranception --checkpoint past.pt --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "past.pt" "tensor 'w' (shape [4], offset 2) reads past its storage data/0 of 4 elements" out.h5
head -c 8 /dev/zero > s8.bin
zip_stored short.pt archive/data.pkl past.pkl archive/data/0 s8.bin
run "$TRANOVA" convert --arch tranception --checkpoint short.pt --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "short.pt" "storage data/0 has 8 bytes, needs 16" out.h5

# --- §4 NaN/inf weights: refused at load, naming the tensor and the file ------------------
# safetensors -> convert: transformer.ln_f.bias's first value becomes NaN
HLEN=$(od -An -t u8 -N8 "$M/model.safetensors" | tr -d ' ')
LNF=$(grep -ao '"transformer.ln_f.bias":{[^}]*}' "$M/model.safetensors" | sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
cp "$M/model.safetensors" nan.safetensors
printf '\000\000\300\177' | dd of=nan.safetensors bs=1 seek=$((8 + HLEN + LNF)) conv=notrunc status=none
run "$TRANOVA" convert --arch tranception --checkpoint nan.safetensors --config "$M/config.json" -o out.h5 --quiet
expect_clean_failure "nan.safetensors: tensor 'ln_f.bias' holds a non-finite value" "at flat index 0" out.h5
mkdir -p nanfolder && cp "$M/config.json" nanfolder/ && cp nan.safetensors nanfolder/model.safetensors
run "$TRANOVA" score -q --model nanfolder --target MKVLAAGIVGLLLAACGQHRSEAPQKPAE --dms dms.csv -o scores.csv
expect_clean_failure "nanfolder/model.safetensors: tensor 'ln_f.bias' holds a non-finite value" "refusing" scores.csv
# HDF5 weight file: convert the clean model, then make the same values +inf in the .h5
run "$TRANOVA" convert --arch tranception --checkpoint "$M" -o good.h5 --quiet
expect_rc 0
PAT=$(tail -c +$((8 + HLEN + LNF + 1)) "$M/model.safetensors" | head -c 16 | od -An -tx1 | tr -d ' \n' | sed 's/../\\x&/g')
AT=$(LC_ALL=C grep -obUaP "$PAT" good.h5 | head -1 | cut -d: -f1)
if [ -n "$AT" ]; then _pass; else _fail "ln_f.bias bytes not found in good.h5"; AT=0; fi
cp good.h5 inf.h5
printf '\000\000\200\177' | dd of=inf.h5 bs=1 seek=$((AT + 4)) conv=notrunc status=none
run "$TRANOVA" score -q --model inf.h5 --target MKVLAAGIVGLLLAACGQHRSEAPQKPAE --dms dms.csv -o scores.csv
expect_clean_failure "inf.h5: tensor 'ln_f.bias' holds a non-finite value (inf at flat index 1)" "refusing" scores.csv
# de novo: a NaN in the Casanovo checkpoint (convert) and in its weight file (sequence)
CAS="$DN/casanovo_tiny.safetensors"
echo '{"n_head": 4}' > heads.json
CH=$(od -An -t u8 -N8 "$CAS" | tr -d ' ')
LAT=$(grep -ao '"encoder.latent_spectrum":{[^}]*}' "$CAS" | sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
cp "$CAS" cas_nan.safetensors
printf '\000\000\300\377' | dd of=cas_nan.safetensors bs=1 seek=$((8 + CH + LAT + 8)) conv=notrunc status=none
run "$TRANOVA" convert --arch casanovo --checkpoint cas_nan.safetensors --config heads.json -o out.h5 --quiet
expect_clean_failure "cas_nan.safetensors: tensor 'encoder.latent_spectrum' holds a non-finite value" "at flat index 2" out.h5
run "$TRANOVA" convert --arch casanovo --checkpoint "$CAS" --config heads.json -o cas.h5 --quiet
expect_rc 0
PAT=$(tail -c +$((8 + CH + LAT + 1)) "$CAS" | head -c 16 | od -An -tx1 | tr -d ' \n' | sed 's/../\\x&/g')
AT=$(LC_ALL=C grep -obUaP "$PAT" cas.h5 | head -1 | cut -d: -f1)
if [ -n "$AT" ]; then _pass; else _fail "latent_spectrum bytes not found in cas.h5"; AT=0; fi
cp cas.h5 cas_nan.h5
printf '\000\000\300\177' | dd of=cas_nan.h5 bs=1 seek=$((AT + 8)) conv=notrunc status=none
run "$TRANOVA" denovo sequence --model cas_nan.h5 --spectra "$MGF" -o nan.mztab --quiet
expect_clean_failure "cas_nan.h5: tensor 'encoder.latent_spectrum' holds a non-finite value" "at flat index 2" nan.mztab

# --- §5 messages from weight binding name the file -----------------------------------------
LC_ALL=C sed 's/"encoder.latent_spectrum"/"encoder.latent_spectrux"/' "$CAS" > cas_nolatent.safetensors
run "$TRANOVA" convert --arch casanovo --checkpoint cas_nolatent.safetensors --config heads.json -o out.h5 --quiet
expect_clean_failure "cas_nolatent.safetensors: model weights lack tensor 'encoder.latent_spectrum'" "lack" out.h5

# --- mzML: 200,000 nested elements, entity declarations -------------------------------------
{ printf '<?xml version="1.0"?>\n<mzML>'; for ((i = 0; i < 20000; i++)); do printf '<a><a><a><a><a><a><a><a><a><a>'; done; } > deep.mzML
run "$TRANOVA" denovo sequence --model cas.h5 --spectra deep.mzML -o deep.mztab --quiet
expect_clean_failure "deep.mzML:2: XML elements nested deeper than 256 levels" "nested" deep.mztab
printf '<?xml version="1.0"?>\n<!DOCTYPE mzML [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<mzML>&b;</mzML>\n' > bomb.mzML
run "$TRANOVA" denovo sequence --model cas.h5 --spectra bomb.mzML -o bomb.mztab --quiet
expect_clean_failure "bomb.mzML:2: entity declaration 'a' is not accepted" "entity" bomb.mztab

finish
