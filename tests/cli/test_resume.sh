# Resumable batch jobs: `score` and `denovo sequence` stopped at random points (SIGTERM or
# SIGUSR1: exit 75 after the current chunk; SIGKILL: no warning at all) and resumed with
# --resume give byte for byte the output of an uninterrupted run. A progress record of
# another command or other inputs/options is refused with one line (exit 2) and kept; a
# garbled one is exit 1 naming the file and line; a run that fails leaves no record.
source "$(dirname "$0")/cli_lib.sh" "$@"
D="$SRC/data"
MODEL="$D/tranception/blat_family_tiny.h5"
TARGET="$D/tranception/BLAT_ECOLX.fasta"
head -241 "$D/tranception/BLAT_ECOLX_Jacquier_2013.csv" > dms.csv   # 240 variants
SCORE=(score -q -t 1 --model "$MODEL" --dms dms.csv --target "$TARGET" --chunk-variants 20)   # 12 chunks
awk '/^BEGIN IONS/ {n++} n <= 36' "$D/denovo/casanovo_sample.mgf" > spectra.mgf
"$TRANOVA" convert -q --arch casanovo --checkpoint "$SRC/tests/data/denovo_model/casanovo_trained_tiny.ckpt" -o cas.h5
SEQUENCE=(denovo sequence -q -t 1 --model cas.h5 --spectra spectra.mgf --chunk 3)   # 12 chunks

run "$TRANOVA" "${SCORE[@]}" -o ref.csv
expect_rc 0; expect_no_file ref.csv.progress
run "$TRANOVA" "${SEQUENCE[@]}" -o ref.mztab
expect_rc 0; expect_no_file ref.mztab.progress
# The chunk size does not change the scores.
run "$TRANOVA" score -q -t 1 --model "$MODEL" --dms dms.csv --target "$TARGET" --chunk-variants 1000 -o one.csv
cmp -s ref.csv one.csv && _pass || _fail "chunked and unchunked scores differ"

chunks_done() {
  # The record vanishes when the run completes: a failed read counts as 0 chunks.
  local n
  n=$(awk '/^chunk/ {n++} END {print n + 0}' "$1.progress/journal.tsv" 2> /dev/null)
  echo "${n:-0}"
}

# interrupt OUT SIGNAL AFTER CMD...: starts CMD (with --resume) in the background, sends
# SIGNAL once AFTER chunks are recorded, and reruns with --resume until it completes.
interrupt() {
  local out=$1 sig=$2 after=$3 rc tries=0
  shift 3
  rm -rf "$out" "$out.progress"
  "$TRANOVA" "$@" --resume -o "$out" 2> run.err & local pid=$!
  while [ "$(chunks_done "$out")" -lt "$after" ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
  kill -s "$sig" $pid 2>/dev/null
  wait $pid; rc=$?
  case "$sig:$rc" in
    TERM:75 | USR1:75)
      _pass
      [ -d "$out.progress" ] && [ ! -e "$out" ] && _pass || _fail "$sig: no record kept, or an output written" ;;
    KILL:137) _pass ;;
    *:0) _pass ;;  # finished before the signal came
    # finished its work (output committed, record removed) and was then killed on the way
    # out by the default action of the signal: nothing to resume, nothing lost
    TERM:143 | USR1:138)
      [ -s "$out" ] && [ ! -e "$out.progress" ] && _pass || _fail "$sig after the guard: exit $rc with no output" ;;
    *) _fail "$* stopped by $sig after $after chunks: exit $rc ($(head -1 run.err))" ;;
  esac
  until "$TRANOVA" "$@" --resume -o "$out" 2> run.err; do
    rc=$?; tries=$((tries + 1))
    [ $rc -eq 75 ] && [ $tries -lt 5 ] || { _fail "resume of $out: exit $rc ($(head -1 run.err))"; break; }
  done
  [ -e "$out.progress" ] && _fail "record left after the resumed run completed" || _pass
}

for sig in TERM USR1 KILL TERM USR1 KILL; do
  after=$((RANDOM % 10 + 1))
  interrupt cut.csv $sig $after "${SCORE[@]}"
  cmp -s ref.csv cut.csv && _pass || _fail "score: $sig after $after chunks, resumed: output differs"
  interrupt cut.mztab $sig $after "${SEQUENCE[@]}"
  # the description line names the output file
  cmp -s <(sed 's/ref\.mztab$/cut.mztab/' ref.mztab) cut.mztab && _pass \
    || _fail "denovo sequence: $sig after $after chunks, resumed: output differs"
done

# A record left by a stopped run: refused without --resume, and by another job; kept intact.
"$TRANOVA" score -t 1 --model "$MODEL" --dms dms.csv --target "$TARGET" --chunk-variants 20 --resume -o part.csv \
  2> part.err & pid=$!   # without -q: the warning
while [ "$(chunks_done part.csv)" -lt 2 ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 75 ] && [ -d part.csv.progress ] && _pass || _fail "SIGTERM: exit $rc, no record"
grep -q "stopped by signal 15 after [0-9]* of 12 chunks; progress kept in part.csv.progress: rerun with --resume" part.err \
  && _pass || _fail "no resume hint: $(cat part.err)"
before=$(cat part.csv.progress/* | cksum)
run "$TRANOVA" "${SCORE[@]}" -o part.csv
expect_rc 2; expect_one_line_err; expect_err "part.csv.progress' holds the progress of an interrupted run"
run "$TRANOVA" score -q -t 1 --model "$MODEL" --dms dms.csv --target "$TARGET" --chunk-variants 30 --resume -o part.csv
expect_rc 2; expect_one_line_err; expect_err "--chunk-variants was '20', now '30'"
sed 's/,-1.0,/,-2.0,/' dms.csv > dms2.csv
run "$TRANOVA" score -q -t 1 --model "$MODEL" --dms dms2.csv --target "$TARGET" --chunk-variants 20 --resume -o part.csv
expect_rc 2; expect_one_line_err; expect_err "--dms was '"
run "$TRANOVA" "${SEQUENCE[@]}" --resume -o part.csv
expect_rc 2; expect_one_line_err; expect_err "command was 'tranova score', now 'tranova denovo sequence'"
[ "$(cat part.csv.progress/* | cksum)" = "$before" ] && _pass || _fail "a refused resume changed the record"
expect_no_file part.csv
# Garbled record: exit 1 naming the journal and line, record kept.
cp -r part.csv.progress saved.progress
printf 'chunk\tx\n' >> part.csv.progress/journal.tsv
run "$TRANOVA" "${SCORE[@]}" --resume -o part.csv
expect_rc 1; expect_one_line_err; expect_err "journal.tsv:"
expect_file part.csv.progress/journal.tsv
rm -rf part.csv.progress && mv saved.progress part.csv.progress
run "$TRANOVA" "${SCORE[@]}" --resume -o part.csv
expect_rc 0; cmp -s ref.csv part.csv && _pass || _fail "resume after refusals differs"
expect_no_file part.csv.progress
# --resume needs a file output; a failed run (bad row mid-table) leaves no record.
run "$TRANOVA" "${SCORE[@]}" --resume -o -
expect_rc 2; expect_one_line_err; expect_err "--resume needs an output file"
# (From an empty folder: the SIGKILLed runs above may have left their own temporary files
# here, which no process can remove at SIGKILL; this run must add none.)
mkdir failed_run && cd failed_run
run "$TRANOVA" score -q -t 1 --model "$MODEL" --dms ../dms.csv --target "$TARGET" --chunk-variants 20 -o /nonexistent/x.csv
expect_rc 1; expect_no_file /nonexistent/x.csv.progress
expect_no_temp .
cd ..
finish
