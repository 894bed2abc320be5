# Issue 12 §2 "unbounded options": every numeric option of every command rejects NaN, inf,
# negative, zero where meaningless and huge values with exit 2 and one line naming the
# option and the value (before any input is read); --threads 99999 and a huge
# $OMP_NUM_THREADS are capped with a warning and the run finishes; an alignment whose
# sequence weights cannot fit in memory is refused up front (exit 1), and one 4 MB row
# is handled in bounded memory.
source "$(dirname "$0")/cli_lib.sh" "$@"
T="timeout 60 $TRANOVA"
printf '>q\nMKVLAAGIVG\n>h\nMKVLAAGIVA\n' > m.a2m

# command prefix (required options filled with placeholders) | option | bad values
CASES=(
  "score -m M --dms d.csv --target MKV -o o.csv|--alpha|nan inf -inf -0.1 1.5 1e400"
  "score -m M --dms d.csv --target MKV -o o.csv|--theta|nan inf -1 2"
  "score -m M --dms d.csv --target MKV -o o.csv|--focus-gaps|nan -3 1.01 inf"
  "score -m M --dms d.csv --target MKV -o o.csv|--msa-start|0 -5 99999999999 nan"
  "score -m M --dms d.csv --target MKV -o o.csv|--msa-end|0 -1"
  "score -m M --dms d.csv --target MKV -o o.csv|--batch-rows|0 -1 2147483648 99999999"
  "score -m M --dms d.csv --target MKV -o o.csv|--seed|-1 nan"
  "msa stats m.a2m|--theta|nan -0.5 1.5 inf"
  "msa stats m.a2m|--focus-gaps|-3 nan 2"
  "retrieve --db db.fa --query q.fa -o o.a2m|--evalue|0 -1 nan inf"
  "retrieve --db db.fa --query q.fa -o o.a2m|--bits-per-residue|nan -1 inf 1000"
  "retrieve --db db.fa --query q.fa -o o.a2m|--max-hits|0 -3 1000000000000"
  "retrieve --db db.fa --query q.fa -o o.a2m|--min-coverage|nan -0.1 1.1"
  "retrieve --db db.fa --query q.fa -o o.a2m|--max-column-gaps|nan 2 -1"
  "retrieve --db db.fa --query q.fa -o o.a2m|--iterations|0 -1 21 99999"
  "retrieve --db db.fa --query q.fa -o o.a2m|--word-threshold|-5 0 1000"
  "retrieve --db db.fa --query q.fa -o o.a2m|--min-ungapped|-1 99999999"
  "retrieve --db db.fa --query q.fa -o o.a2m|--ungapped-excess|nan inf 1e9"
  "retrieve --db db.fa --query q.fa -o o.a2m|--two-hit-window|-5 1000000"
  "gym add g.h5 --model m --scores s.csv|--directionality|0 2 -2 nan"
  "gym eval g.h5 -o r|--bootstrap|-1 999999999 nan"
  "gym eval g.h5 -o r|--seed|-1 nan"
  "gym eval g.h5 -o r|--plot-models|-1 0 9999999"
  "gym eval g.h5 -o r|--batch|0 -4 9999999"
  "gym clinical --variants v.csv --scores s.csv --model m -o r|--directionality|0 5"
  "denovo sequence -m m.h5 -s x.mgf -o o.mztab|--beam|0 -1 29 99999"
  "denovo sequence -m m.h5 -s x.mgf -o o.mztab|--ctc-beam|0 -2 9999999"
  "denovo sequence -m m.h5 -s x.mgf -o o.mztab|--precursor-tol|0 -10 nan inf 1e9"
  "denovo sequence -m m.h5 -s x.mgf -o o.mztab|--chunk|0 -1 99999999"
  "denovo sequence -m m.h5 -s x.mgf -o o.mztab|--group|0 -1 99999999"
  "denovo sequence -m m.h5 -s x.mgf -o o.mztab|--isotope-error|5:1 -20:0 0:99 x"
  "denovo eval -p p.csv --truth t.mgf -o r|--cum-tol|0 -1 nan inf 1e6"
  "denovo eval -p p.csv --truth t.mgf -o r|--ind-tol|0 -0.1 nan inf"
  "msa stats m.a2m|--threads|-1 -99999 nan"
)
for c in "${CASES[@]}"; do
  IFS='|' read -r prefix opt values <<<"$c"
  read -r -a P <<<"$prefix"
  for v in $values; do
    run $T "${P[@]}" -q "$opt" "$v"
    expect_rc 2; expect_one_line_err; expect_err "$opt"
  done
done
# The message names the value too.
run $T msa stats m.a2m --focus-gaps -3; expect_err "--focus-gaps -3: must be"
run $T retrieve --db db.fa --query q.fa -o o.a2m --two-hit-window -5; expect_err "--two-hit-window -5"
run $T gym eval g.h5 -o r --plot-models -1; expect_err "--plot-models -1"
run $T retrieve --db db.fa --query q.fa -o o.a2m --bits-per-residue nan; expect_err "--bits-per-residue nan"
# Values in range still work (the boundaries included).
run $T msa stats -q m.a2m --theta 0 --focus-gaps 1; expect_rc 0
run $T msa stats -q m.a2m --theta 1 --focus-gaps 0; expect_rc 0

# --threads 99999 / OMP_NUM_THREADS=99999: capped with a warning, the run finishes.
run $T msa stats m.a2m -t 99999 -o /dev/null
expect_rc 0; expect_err "warning: --threads 99999 is more than 4 x"
OMP_NUM_THREADS=99999 run $T msa stats m.a2m -o /dev/null
expect_rc 0; expect_err "warning: OMP_NUM_THREADS 99999"
run $T score -q --model "$DATA/tranception/models/tiny_ctx64" --all-singles --sequence MKVLAAGIVG -t 99999 -o s.csv
expect_rc 0; expect_file s.csv

# Memory: an alignment whose weights would not fit is refused up front with the size.
(printf '>q\n'; head -c 4000000 /dev/zero | tr '\0' 'A'; printf '\n>h\n'; head -c 4000000 /dev/zero | tr '\0' 'C'; printf '\n') > wide.a2m
TRANOVA_MEMORY_LIMIT=50000000 run $T msa stats -q wide.a2m
expect_rc 1; expect_one_line_err; expect_err "wide.a2m: needs about"; expect_err "of memory for the sequence weights"
TRANOVA_MEMORY_LIMIT=5000000 run $T msa stats -q wide.a2m
expect_rc 1; expect_err "reading the alignment"
# ... and handled in bounded memory when it fits (it took ~1.5 GB per 4 M columns before).
# (1 GB of address space; the per-thread l x 32 count tables needed 1.6 GB here).
# (AddressSanitizer builds reserve terabytes of address space: the limit cannot apply.)
if grep -qa __asan_init "$TRANOVA"; then
  run $T msa stats -q wide.a2m
else
  run bash -c "ulimit -v 1000000; exec $T msa stats -q wide.a2m"
fi
expect_rc 0; expect_out "columns: 4000000"
finish
