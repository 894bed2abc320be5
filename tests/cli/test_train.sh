# tranova train --arch tranception: a small family model trains, writes its four files and
# scores; a run cut by --stop-after (exit 75) and resumed gives the same model as one
# uninterrupted run; bad inputs are one-line errors (exit 1/2) that leave no model file.
source "$(dirname "$0")/cli_lib.sh" "$@"
MSA="$DATA/msa/P53_HUMAN_b0.1_sub6.a2m"
# A very small shape and context so the test takes seconds.
printf '{"n_layer": 1, "n_embd": 32, "n_head": 4, "n_positions": 66}\n' > mini.json
TRAIN=(train --arch tranception --msa "$MSA" --config mini.json --batch-size 4 --val-fraction 0.05 --seed 3 -t 2)

run "$TRANOVA" train --help
expect_rc 0; expect_out "Usage: tranova train"; expect_out "Examples:"; expect_out "--resume"; expect_out "--stop-after"

run "$TRANOVA" "${TRAIN[@]}" --max-steps 6 --val-every 3 --checkpoint-every 2 -o full.h5
expect_rc 0
# The held-out comparison with the site-independent model is in the summary.
expect_err "held-out NLL ("; expect_err "match-column residues"; expect_err "site-independent"
for f in full.h5 full.h5.state.h5 full.h5.train.tsv full.h5.loss.svg; do expect_file "$f"; done
expect_no_temp .
[ "$(wc -l < full.h5.train.tsv)" -eq 7 ] && _pass || _fail "6 log rows"
head -1 full.h5.train.tsv | grep -q $'^step\tepoch\tloss\tlr\tgrad_norm\tval_loss\ttokens_per_s\tseconds$' && _pass || _fail "log header"
awk -F'\t' 'NR == 4 && $6 > 0 {ok = 1} END {exit !ok}' full.h5.train.tsv && _pass || _fail "validation loss at step 3"
xmllint --noout full.h5.loss.svg && _pass || _fail "loss curve is not well-formed"
# An ordinary weights file: score reads it.
printf 'mutant\nM1A\n' > one.csv
run "$TRANOVA" score -q --model full.h5 --dms one.csv --target "$(sed -n 2p "$MSA" | tr -d '.-' | tr a-z A-Z)" -o full.csv
expect_rc 0; expect_file full.csv

# Time-sliced: 4 steps, exit 75 with the state saved, then --resume to the end.
run "$TRANOVA" "${TRAIN[@]}" --max-steps 6 --val-every 3 --checkpoint-every 2 --stop-after 4 -o cut.h5
expect_rc 75
expect_err "training state saved at step 4"
[ "$(wc -l < cut.h5.train.tsv)" -eq 5 ] && _pass || _fail "4 log rows before the cut"
run "$TRANOVA" "${TRAIN[@]}" --max-steps 6 --val-every 3 --checkpoint-every 2 --resume -o cut.h5
expect_rc 0
expect_err "resuming from cut.h5.state.h5 at step 4"
run "$TRANOVA" score -q --model cut.h5 --dms one.csv --target "$(sed -n 2p "$MSA" | tr -d '.-' | tr a-z A-Z)" -o cut.csv
cmp -s full.csv cut.csv && _pass || _fail "resumed model scores differ from the uninterrupted one"
cmp -s <(cut -f1-6 full.h5.train.tsv) <(cut -f1-6 cut.h5.train.tsv) && _pass || _fail "resumed log differs"

# Bad inputs: one line, exit 1 (runtime) or 2 (usage), no model file.
bad() {  # bad <rc> <expected stderr text> <args...>
  local rc=$1 text=$2; shift 2
  run "$TRANOVA" "$@" -q -o bad.h5
  expect_rc "$rc"; expect_one_line_err; expect_err "$text"; expect_no_file bad.h5; expect_no_temp .
}
bad 2 "--arch" train --msa "$MSA"
bad 2 "--arch must be tranception" train --arch casanovo --msa "$MSA"
bad 2 "exactly one of --msa and --sequences" train --arch tranception
bad 2 "--max-steps" "${TRAIN[@]}" --max-steps 0
bad 2 "--lr" "${TRAIN[@]}" --lr nan
bad 2 "--schedule" "${TRAIN[@]}" --schedule wavy
cp "$MSA" family.a2m
run "$TRANOVA" train --arch tranception --msa family.a2m --config mini.json -q -o family.a2m
expect_rc 2; expect_one_line_err; expect_err "same file as the input --msa"
cmp -s "$MSA" family.a2m && _pass || _fail "the input MSA was touched"
printf '>q\nMKV\n' > one_row.a2m
bad 1 "usable sequences" train --arch tranception --msa one_row.a2m
printf '>a\nMKVLA\n>b\nMK1LA\n' > digits.fasta
bad 1 "digits.fasta: record 2 'b'" train --arch tranception --sequences digits.fasta
: > empty.fasta
bad 1 "empty.fasta" train --arch tranception --sequences empty.fasta
bad 1 "cannot resume" "${TRAIN[@]}" --resume
printf '{"n_layer": 1, "n_embd": 64, "n_head": 4, "n_positions": 66}\n' > other.json
run "$TRANOVA" train --arch tranception --msa "$MSA" --config other.json --batch-size 4 --seed 3 --resume -q -o full.h5
expect_rc 1; expect_one_line_err; expect_err "full.h5.state.h5"
printf '>q\n----\n>a\nMKVL\n>b\nMRVL\n' > no_query.a2m
bad 1 "no_query.a2m: the query record 'q' has no match" train --arch tranception --msa no_query.a2m
printf '>q\nMKVL\n>a\nMK1L\n>b\nMRVL\n' > digit.a2m
bad 1 "digit.a2m:4: invalid character '1' in record 'a'" train --arch tranception --msa digit.a2m
# A truncated gzip database (cut in its middle).
awk 'BEGIN {srand(5); for (i = 0; i < 3000; ++i) {s = ""; for (j = 0; j < 60; ++j) s = s substr("ACDEFGHIKLMNPQRSTVWY", int(rand() * 20) + 1, 1); printf ">r%d\n%s\n", i, s}}' \
  | gzip -c > db.fasta.gz
head -c $(( $(wc -c < db.fasta.gz) / 2 )) db.fasta.gz > cut.fasta.gz
bad 1 "cut.fasta.gz: read error after line" train --arch tranception --sequences cut.fasta.gz --config mini.json
# A shape that does not fit memory is refused before allocating anything.
export TRANOVA_MEMORY_LIMIT=1000000
bad 1 "mini.json: needs about" "${TRAIN[@]}" --max-steps 2
unset TRANOVA_MEMORY_LIMIT
printf '{"n_layer": 1, "n_embd": 30, "n_head": 4}\n' > odd.json
bad 1 "unsupported Tranception shape" train --arch tranception --msa "$MSA" --config odd.json
run "$TRANOVA" convert -q --arch casanovo --checkpoint "$DATA/denovo_model/casanovo_trained_tiny.ckpt" -o cas.h5
bad 1 "cas.h5" train --arch tranception --msa "$MSA" --init cas.h5

finish
