# Issue 12 §3 "never destroy what is not ours", for every output option of every command:
# special files (/dev/null, /dev/full, a FIFO, '-', /dev/stdout) are written directly and
# never replaced by a regular file; an output that is the same file as an input (or as
# another output, also through a symlink) is refused with exit 2 and the input is left
# byte-identical; two queries of one name in retrieve are refused; gym ingest reads only
# files inside --assays. No command may hang (timeout) or leave a temporary behind.
source "$(dirname "$0")/cli_lib.sh" "$@"
export TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR"
export TRANOVA_FIFO_WAIT=1   # a FIFO nobody reads: give up after 1 s, not 30
T="timeout 120 $TRANOVA"

MODEL="$DATA/tranception/models/tiny_ctx64"
TARGET=MKVLAAGIVGLLLAACGQHRSEAPQKPAE
MSA_SRC="$DATA/tranception/msa/SCN5A_HUMAN_b1.0_sub8.a2m"
REF="$DATA/gym/DMS_substitutions_subset.csv"
ASSAYS="$DATA/gym/assays"
DB="$DATA/retrieval/small_db.fasta.gz"
MGF_SRC="$DATA/denovo_model/sample16.mgf"
CKPT="$DATA/denovo_model/casanovo_trained_tiny.ckpt"

# Private copies of the inputs (tests may try to overwrite them).
cp "$MSA_SRC" family.a2m
cp "$MGF_SRC" spectra.mgf
cp "$DATA/msa/P53_HUMAN_b0.1_sub6.a2m" stats.a2m
printf 'mutant,DMS_score\nK2A,1.5\nV3W:L4G,-0.5\n' > dms.csv
printf 'mutant,DMS_score\nL1621W,-1\nR1632V,2\n' > scn.csv
cp "$DATA/tranception/dms/SCN5A_HUMAN.fasta" scn.fasta
printf '>q1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n' > q.fasta
run $TRANOVA convert -q --arch casanovo --checkpoint "$CKPT" -o cas.h5; expect_rc 0
run $TRANOVA gym ingest -q --reference "$REF" --assays "$ASSAYS" --only-present -o gym.h5; expect_rc 0
mkdir scores
for f in "$ASSAYS"/*.csv; do awk -F, 'BEGIN{OFS=","} NR==1{print "mutant","avg_score"; next} {print $1, $3}' "$f" > "scores/$(basename "$f")"; done
run $TRANOVA gym add -q gym.h5 --model m1 --scores scores; expect_rc 0
awk -F, 'BEGIN{OFS=","; print "DMS_id","mutant","DMS_bin_score"} NR>1 {print "G1",$1,($4==1?"Benign":"Pathogenic")}' \
  "$ASSAYS/BLAT_ECOLX_Jacquier_2013.csv" > clinvar.csv
awk -F, 'BEGIN{OFS=","; print "DMS_id","mutant","avg_score"} NR>1 {print "G1",$1,$3}' \
  "$ASSAYS/BLAT_ECOLX_Jacquier_2013.csv" > clin_scores.csv
run $TRANOVA denovo sequence -q --model cas.h5 --spectra spectra.mgf -o preds.mztab; expect_rc 0
sums() { cksum family.a2m spectra.mgf stats.a2m dms.csv scn.csv scn.fasta q.fasta cas.h5 gym.h5 clinvar.csv clin_scores.csv preds.mztab; }
BEFORE=$(sums)

# Every command with one output slot, written @OUT@. Kind: text (a file), h5 (written by
# name through a temporary), dir (a folder of files).
CMDS=(
  "text|score -q --model $MODEL --dms dms.csv --target $TARGET -o @OUT@"
  "text|score -q --model $MODEL --all-singles --sequence $TARGET -o sc.csv --heatmap @OUT@"
  "h5|score -q --model $MODEL --dms scn.csv --target scn.fasta --msa family.a2m --msa-start 1517 -o sc2.csv --weights-cache @OUT@"
  "text|msa stats -q stats.a2m -o @OUT@"
  "text|retrieve -q --query q.fasta --db $DB -o @OUT@"
  "text|retrieve -q --query q.fasta --db $DB -o r.a2m --hits @OUT@"
  "h5|gym ingest -q --reference $REF --assays $ASSAYS --only-present -o @OUT@"
  "h5|convert -q --arch casanovo --checkpoint $CKPT -o @OUT@"
  "text|denovo sequence -q --model cas.h5 --spectra spectra.mgf -o @OUT@"
  "text|score --model $MODEL --dms dms.csv --target $TARGET -o s3.csv --log @OUT@"
  "dir|gym eval -q gym.h5 --bootstrap 10 -o @OUT@"
  "dir|gym clinical -q --variants clinvar.csv --scores clin_scores.csv --model m -o @OUT@"
  "dir|denovo eval -q --predictions preds.mztab --truth spectra.mgf -o @OUT@"
)
with_out() { local target=$1; shift; local s=${1//@OUT@/$target}; read -r -a CMD <<<"$s"; }
ftype() { stat -L -c %F "$1" 2>/dev/null; }
reader_pid=""
start_reader() { rm -f "$1"; mkfifo "$1"; cat "$1" > "$1.got" & reader_pid=$!; }
stop_reader() {
  for _ in $(seq 50); do kill -0 "$reader_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$reader_pid" 2>/dev/null; wait "$reader_pid" 2>/dev/null
}

for entry in "${CMDS[@]}"; do
  kind=${entry%%|*}; cmd=${entry#*|}
  # /dev/null: written (or, for a folder, refused) and still the device afterwards.
  with_out /dev/null "$cmd"; run $T "${CMD[@]}"
  if [ "$kind" = dir ]; then expect_rc 1; expect_err "not a folder"; else expect_rc 0; fi
  [ "$(ftype /dev/null)" = "character special file" ] && _pass || _fail "/dev/null replaced by: $cmd"
  [ "$kind" = dir ] && continue
  # /dev/full: a clean error, the device kept.
  with_out /dev/full "$cmd"; run $T "${CMD[@]}"
  case "$cmd" in *--log*) ;; *) expect_rc 1; expect_err "/dev/full"; expect_one_line_err ;; esac
  [ "$(ftype /dev/full)" = "character special file" ] && _pass || _fail "/dev/full replaced by: $cmd"
  # A FIFO with a reader gets the whole output; the FIFO stays a FIFO.
  start_reader pipe; with_out pipe "$cmd"; run $T "${CMD[@]}"; stop_reader
  expect_rc 0
  [ "$(ftype pipe)" = "fifo" ] && _pass || _fail "FIFO replaced by: $cmd"
  [ -s pipe.got ] && _pass || _fail "nothing read from the FIFO: $cmd"
  if [ "$kind" = h5 ]; then head -c 4 pipe.got | od -An -c | grep -q 'H   D   F' && _pass || _fail "FIFO got no HDF5: $cmd"; fi
  # A FIFO nobody reads: a bounded wait, exit 1 naming it, no hang.
  rm -f pipe; mkfifo pipe; with_out pipe "$cmd"; run $T "${CMD[@]}"
  case "$cmd" in *--weights-cache*|*--log*) ;; *) expect_rc 1; expect_err "'pipe'" ;; esac
  [ "$RC" -lt 124 ] && _pass || _fail "hang or signal ($RC): $cmd"
  [ "$(ftype pipe)" = "fifo" ] && _pass || _fail "FIFO replaced by: $cmd"
  rm -f pipe pipe.got
done
expect_no_temp .
expect_no_temp "$TMPDIR"
# Default outputs derived from a device output are not created beside it (in /dev).
run $T score -q --model "$MODEL" --all-singles --sequence $TARGET -o /dev/null; expect_rc 0
expect_no_file /dev/null.svg
run $T score -q --model "$MODEL" --dms scn.csv --target scn.fasta --msa family.a2m --msa-start 1517 -o /dev/null
expect_rc 0; expect_no_file /dev/family.a2m.msa_weights.h5
ls /dev | grep -q 'tmp\.' && _fail "temporary left in /dev" || _pass

# '-' and /dev/stdout: the output goes to standard output.
run $T msa stats -q stats.a2m -o -; expect_rc 0; expect_out "rows: 612"
run $T msa stats -q stats.a2m -o /dev/stdout; expect_rc 0; expect_out "rows: 612"
$T gym ingest -q --reference "$REF" --assays "$ASSAYS" --only-present -o - > ingest.out
[ $? -eq 0 ] && _pass || _fail "gym ingest -o - failed"
head -c 4 ingest.out | od -An -c | grep -q 'H   D   F' && _pass || _fail "gym ingest -o - wrote no HDF5"
# stdout redirected to a file: /dev/stdout writes through it, the file keeps its inode.
: > redirected.txt; ino=$(stat -c %i redirected.txt)
$TRANOVA msa stats -q stats.a2m -o /dev/stdout >> redirected.txt
grep -q "rows: 612" redirected.txt && [ "$(stat -c %i redirected.txt)" = "$ino" ] && _pass || _fail "/dev/stdout renamed over"

# A reader that goes away (closed pipe, FIFO reader quitting): exit 1 with a message,
# never a death by SIGPIPE (141).
S=$(head -c 400 /dev/zero | tr '\0' 'A' | sed 's/AAAA/MKVL/g')
printf '>q\n%s\n>r\n%s\n' "$S" "$S" > wide.a2m
$TRANOVA score -q -m site-independent --msa wide.a2m --all-singles --sequence "$S" -o - 2> bp.err | head -c 1 > /dev/null
rc=${PIPESTATUS[0]}
[ "$rc" -eq 1 ] && grep -q "cannot write to standard output" bp.err && _pass || _fail "closed pipe: exit $rc, $(cat bp.err)"
rm -f pipe; mkfifo pipe; head -c 1 pipe > /dev/null & hpid=$!
run $T score -q -m site-independent --msa wide.a2m --all-singles --sequence "$S" -o pipe
wait $hpid
expect_rc 1; expect_err "cannot write 'pipe'"; [ -p pipe ] && _pass || _fail "FIFO replaced"
rm -f pipe

# /dev/shm is an ordinary folder: a new file there is created (through a temporary).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm=/dev/shm/tranova_cli_test_$$.txt
  run $T msa stats -q stats.a2m -o "$shm"; expect_rc 0; expect_file "$shm"; rm -f "$shm"
fi

# An output that is an input: exit 2, one line naming both; the input is byte-identical.
same_as_input=(
  "score -q --model $MODEL --dms dms.csv --target $TARGET -o dms.csv"
  "score -q --model $MODEL --dms dms.csv --target $TARGET --msa family.a2m -o x.csv --weights-cache family.a2m"
  "score -q --model $MODEL --dms dms.csv --target $TARGET -o x.csv --heatmap dms.csv"
  "msa stats -q stats.a2m -o stats.a2m"
  "retrieve -q --query q.fasta --db $DB -o q.fasta"
  "retrieve -q --query q.fasta --db $DB -o r.a2m --hits q.fasta"
  "gym ingest -q --reference $REF --assays $ASSAYS --only-present -o $REF"
  "gym ingest -q --reference $REF --assays $ASSAYS --only-present -o $ASSAYS/BLAT_ECOLX_Jacquier_2013.csv"
  "convert -q --arch casanovo --checkpoint cas.h5 -o cas.h5"
  "denovo sequence -q --model cas.h5 --spectra spectra.mgf -o spectra.mgf"
  "denovo sequence -q --model cas.h5 --spectra spectra.mgf -o cas.h5"
  "denovo eval -q --predictions preds.mztab --truth spectra.mgf -o spectra.mgf"
  "gym eval -q gym.h5 -o gym.h5"
  "gym clinical -q --variants clinvar.csv --scores clin_scores.csv --model m -o clinvar.csv"
  "msa stats -q stats.a2m --log stats.a2m"
)
for cmd in "${same_as_input[@]}"; do
  read -r -a CMD <<<"$cmd"; run $T "${CMD[@]}"
  expect_rc 2; expect_err "same file"; expect_one_line_err
done
# Through a symlink, and the derived heatmap name (x.svg next to -o x.csv) hitting an input.
ln -s stats.a2m link.a2m
run $T msa stats -q stats.a2m -o link.a2m; expect_rc 2; expect_err "same file"
[ -L link.a2m ] && _pass || _fail "symlink replaced"
printf '>t\n%s\n' "$TARGET" > prot.svg
run $T score -q --model "$MODEL" --all-singles --fasta prot.svg -o prot.csv
expect_rc 2; expect_err "same file"; expect_no_file prot.csv
grep -q "^>t$" prot.svg && _pass || _fail "input overwritten by the derived heatmap"
[ "$(sums)" = "$BEFORE" ] && _pass || _fail "an input changed"

# Two outputs that are the same file: refused before any work.
run $T retrieve -q --query q.fasta --db "$DB" -o same.txt --hits same.txt
expect_rc 2; expect_err "each output needs its own path"; expect_no_file same.txt
run $T score -q --model "$MODEL" --dms dms.csv --target $TARGET -o o.csv --heatmap o.csv
expect_rc 2; expect_no_file o.csv
run $T score -q --model "$MODEL" --all-singles --sequence $TARGET -o x.svg
expect_rc 2; expect_err "written twice"; expect_no_file x.svg
expect_no_temp .

# A folder where a file is needed, and a file where a folder is needed.
mkdir adir
run $T msa stats -q stats.a2m -o adir; expect_rc 1; expect_err "'adir'"; expect_err "folder"; expect_one_line_err
run $T msa stats -q stats.a2m -o newdir/; expect_rc 1; expect_err "'newdir/'"; expect_one_line_err
: > afile
run $T gym eval -q gym.h5 -o afile/sub; expect_rc 1; expect_err "'afile' exists and is not a folder"
run $T msa stats -q stats.a2m -o nodir/x.txt; expect_rc 1; expect_err "folder 'nodir' does not exist"

# retrieve: two query records of one name (or one file name) are refused, nothing written.
printf '>dup\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n>other\nMKVLAAGIVGLLLAACGQHRSEAPQKPAE\n>dup\nMKTAYIAKQRQISFVKSHF\n' > dup.fasta
run $T retrieve -q --query dup.fasta --db "$DB" -o dupdir
expect_rc 2; expect_err "dup.fasta: records 1 and 3 are both named 'dup'"; expect_one_line_err; expect_no_file dupdir
printf '>a|b\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n>a_b\nMKVLAAGIVGLLLAACGQHRSEAPQKPAE\n' > dup2.fasta
run $T retrieve -q --query dup2.fasta --db "$DB" -o dupdir
expect_rc 2; expect_err "would both be written to 'a_b.a2m'"; expect_no_file dupdir

# ... and a per-query file that is the --hits file or an input is refused before the search.
printf '>qa\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n>qb\nMKVLAAGIVGLLLAACGQHRSEAPQKPAE\n' > two.fasta
run $T retrieve -q --query two.fasta --db "$DB" -o two_out --hits two_out/qb.a2m
expect_rc 2; expect_err "written twice"; expect_no_file two_out/qa.a2m; expect_no_file two_out/qb.a2m
mkdir -p two_in; printf '>qa\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n>qb\nMKVLAAGIVGLLLAACGQHRSEAPQKPAE\n' > two_in/qb.a2m
run $T retrieve -q --query two_in/qb.a2m --db "$DB" -o two_in
expect_rc 2; expect_err "same file"; expect_no_file two_in/qa.a2m
run $T retrieve -q --query two.fasta --db "$DB" -o two_ok --hits two_ok.tsv
expect_rc 0; expect_file two_ok/qa.a2m; expect_file two_ok/qb.a2m

# gym ingest: DMS_filename may only name a file inside --assays.
mkdir -p assays_ok; cp "$ASSAYS/BLAT_ECOLX_Jacquier_2013.csv" assays_ok/
ln -s /etc/passwd assays_ok/link.csv
for bad in ../../../../etc/passwd /etc/passwd sub/../../x.csv link.csv; do
  awk -F, -v bad="$bad" 'BEGIN{OFS=","} NR==1{for(i=1;i<=NF;i++) {if($i=="DMS_filename") c=i; if($i=="DMS_id") d=i}; print; next}
    $d=="BLAT_ECOLX_Jacquier_2013"{print; $d="EVIL_X"; $c=bad; print}' "$REF" > ref_evil.csv
  run $T gym ingest -q --reference ref_evil.csv --assays assays_ok --only-present -o evil.h5
  expect_rc 1; expect_err "ref_evil.csv:"; expect_err "not a file name inside the assay folder"; expect_one_line_err
  expect_no_file evil.h5
done

# retrieve: the index files of an indexed database are inputs too; --index-db never
# writes over a device, FIFO or an input.
cp "$DATA/retrieval/small_db.fasta.bgz" db.bgz
run $T retrieve -q --db db.bgz --index-db; expect_rc 0; expect_file db.bgz.fai
fai_sum=$(cksum < db.bgz.fai)
run $T retrieve -q --db db.bgz --query q.fasta -o r.a2m --hits db.bgz.fai; expect_rc 2; expect_err "same file"
[ "$(cksum < db.bgz.fai)" = "$fai_sum" ] && _pass || _fail "index overwritten"
cp "$DATA/retrieval/small_db.fasta.bgz" db2.bgz; ln -s /dev/full db2.bgz.fai
run $T retrieve -q --db db2.bgz --index-db; expect_rc 1; expect_err "not a regular file"
[ -L db2.bgz.fai ] && [ "$(ftype /dev/full)" = "character special file" ] && _pass || _fail "index link replaced"

# gym clinical: a DMS_id names a file in the --scores folder, never a path out of it.
mkdir clin_dir; cp clin_scores.csv clin_dir/G1.csv
for bad in ../../../../etc/passwd /etc/passwd .hidden; do
  printf 'DMS_id,mutant,DMS_bin_score\n%s,A1C,Benign\n' "$bad" > evil_vars.csv
  run $T gym clinical -q --variants evil_vars.csv --scores clin_dir --model m -o clin_out
  expect_rc 1; expect_err "evil_vars.csv:2: DMS_id"; expect_err "cannot name a file"; expect_one_line_err
  expect_no_file clin_out
done

finish
