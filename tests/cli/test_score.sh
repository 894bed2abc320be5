# tranova score: help, every bad-input class (one-line error, exit 1), unwritable output,
# real runs (DMS with retrieval, skip-bad-rows, all-singles + heatmap, site-independent,
# an indel with retrieval).
source "$(dirname "$0")/cli_lib.sh" "$@"
D="$DATA/tranception"
MODEL="$D/models/tiny_ctx64"
TARGET=MKVLAAGIVGLLLAACGQHRSEAPQKPAE
MSA=$D/msa/SCN5A_HUMAN_b1.0_sub8.a2m

run "$TRANOVA" score --help
expect_rc 0; expect_out "Usage: tranova score"; expect_out "Examples:"; expect_out "--alpha"

printf 'mutant,DMS_score\nK2A,1.5\nV3W:L4G,-0.5\nM1M,0\n' > ok.csv
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET -o out.csv
expect_rc 0; expect_file out.csv
if head -1 out.csv | grep -q '^mutant,DMS_score,avg_score_L_to_R,avg_score_R_to_L,avg_score$'; then _pass; else _fail "output header: $(head -1 out.csv)"; fi
if [ "$(wc -l < out.csv)" -eq 4 ]; then _pass; else _fail "expected 3 rows"; fi
if grep -q '^M1M,0,0,0,0$' out.csv; then _pass; else _fail "synonymous row should score 0"; fi

run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --no-mirror --report-spearman -o nm.csv
expect_rc 0; expect_out "Spearman(avg_score, DMS_score)"
if head -1 nm.csv | grep -q ',avg_score_L_to_R,avg_score$'; then _pass; else _fail "no-mirror header"; fi

# The linear-layer kernels (AVX-512 panels when the CPU has them, BLAS) give the same
# scores within float rounding (5e-6 absolute on these ~0.1-sized scores).
run "$TRANOVA" score -v --model "$MODEL" --dms ok.csv --target $TARGET --cpu-kernel blas -o blas.csv
expect_rc 0; expect_err "linear layers on BLAS"
if paste -d, out.csv blas.csv | awk -F, 'NR > 1 { n++; for (c = 3; c <= 5; c++) { d = $c - $(c + 5); if (d < 0) d = -d; if (d > 5e-6) bad = 1 } }
    END { exit !(n == 3 && !bad) }'
then _pass; else _fail "--cpu-kernel blas and auto disagree"; fi
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --cpu-kernel fast -o k.csv
expect_rc 2; expect_err "--cpu-kernel must be auto, avx512 or blas"; expect_no_file k.csv

# Batching and threads do not change a bit: every row's numbers are computed the same way
# whatever batch it lands in (tiny batches, 1 thread vs 2).
run "$TRANOVA" score -q -t 1 --batch-rows 5 --model "$MODEL" --dms ok.csv --target $TARGET -o small_batches.csv
expect_rc 0
if cmp -s out.csv small_batches.csv; then _pass; else _fail "--batch-rows 5 -t 1 changed the scores"; fi

# Bad inputs: one line, exit 1, no output file.
bad() {  # bad NAME CSV_BODY EXPECTED_MESSAGE [extra args]
  printf 'mutant\n%b\n' "$2" > "$1.csv"
  run "$TRANOVA" score -q --model "$MODEL" --dms "$1.csv" --target $TARGET -o "$1.out.csv" "${@:4}"
  expect_rc 1; expect_err "$3"; expect_one_line_err; expect_no_file "$1.out.csv"
}
bad outside "K2A\nA99G" "outside the target sequence"
bad wrongwt "A2G" "expects wild-type A at position 2 but the target sequence has K"
bad malformed "K2" "malformed mutant 'K2'"
bad malformed2 "2KA" "malformed mutant"
bad newres "K2Z" "is not one of the 20 amino acids"
if grep -q "bad.csv:3" <(printf 'mutant\nK2A\nA99G\n' > bad.csv; "$TRANOVA" score -q --model "$MODEL" --dms bad.csv --target $TARGET -o x.csv 2>&1); then _pass; else _fail "error names the row (bad.csv:3)"; fi

run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target MKV1AAGIVG -o t.csv
expect_rc 1; expect_err "non-amino-acid character '1' at position 4"; expect_one_line_err
printf 'mutated_sequence\nMKVLAAG*IVGLLLAACGQHRSEAPQKPAE\n' > seqbad.csv
run "$TRANOVA" score -q --model "$MODEL" --dms seqbad.csv --target $TARGET -o t.csv
expect_rc 1; expect_err "non-amino-acid character '*'"; expect_one_line_err

# MSA problems.
printf '>q/1-5\nMKVLA\n>s\nMKVLC\n' > m1.a2m
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --msa m1.a2m --msa-start 3 -o t.csv
expect_rc 1; expect_err "first row does not match the target"; expect_one_line_err; expect_no_file t.csv
printf '>q\nWWWWW\n' > m2.a2m
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --msa m2.a2m -o t.csv
expect_rc 1; expect_err "does not match the target sequence anywhere"; expect_one_line_err
: > empty.a2m
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --msa empty.a2m -o t.csv
expect_rc 1; expect_one_line_err; expect_no_file t.csv
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --msa m1.a2m --msa-start 1 --msa-end 9 -o t.csv
expect_rc 1; expect_err "span 9 positions but the MSA has 5 columns"

# Usage errors exit 2.
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --window bogus -o t.csv
expect_rc 2
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET --alpha 1.5 -o t.csv
expect_rc 2

# Unwritable output: exit 1, nothing left behind.
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target $TARGET -o no/such/dir/out.csv
expect_rc 1; expect_one_line_err; expect_no_temp .

# --skip-bad-rows reports and skips.
printf 'mutant\nK2A\nA2G\nV3W\n' > mixed.csv
run "$TRANOVA" score --model "$MODEL" --dms mixed.csv --target $TARGET --skip-bad-rows -o skip.csv
expect_rc 0; expect_err "skipped: mixed.csv:3"; expect_err "1 rows skipped"
if [ "$(wc -l < skip.csv)" -eq 3 ]; then _pass; else _fail "skip-bad-rows keeps 2 rows"; fi

# Retrieval on SCN5A (MSA covers 1517-1793 of 2016), weight cache reused on the second run.
printf 'mutant,DMS_score\nL1621W,-1\nR1632V,2\nK100L,0\n' > scn.csv
run "$TRANOVA" score --model "$MODEL" --dms scn.csv --target "$D/dms/SCN5A_HUMAN.fasta" --msa "$MSA" --msa-start 1517 --msa-end 1793 -o scn_out.csv
expect_rc 0; expect_file scn_out.csv; expect_file SCN5A_HUMAN_b1.0_sub8.a2m.msa_weights.h5; expect_err "N_eff 78.53"
run "$TRANOVA" score --model "$MODEL" --dms scn.csv --target "$D/dms/SCN5A_HUMAN.fasta" --msa "$MSA" -o scn_out2.csv
expect_rc 0; expect_err "weights from"
if cmp -s scn_out.csv scn_out2.csv; then _pass; else _fail "cached weights / located MSA give the same scores"; fi

# Indel (mutated_sequence of another length) with retrieval: mapped by alignment.
python_free_seq=$(grep -v '>' "$D/dms/SCN5A_HUMAN.fasta" | tr -d '\n')
printf 'mutated_sequence\n%s\n' "${python_free_seq:0:1600}${python_free_seq:1601:200}" > indel.csv
run "$TRANOVA" score -q --model "$MODEL" --dms indel.csv --target "${python_free_seq:0:1800}" --window sliding -o indel_out.csv
expect_rc 0; expect_file indel_out.csv

# Saturation mutagenesis: CSV + SVG heatmap.
run "$TRANOVA" score -q --model "$MODEL" --all-singles --sequence MKVLAAGIVG -o singles.csv
expect_rc 0; expect_file singles.csv; expect_file singles.svg
if [ "$(wc -l < singles.csv)" -eq 191 ]; then _pass; else _fail "10 x 19 singles"; fi
if grep -q '</svg>' singles.svg; then _pass; else _fail "svg complete"; fi
if xmllint --noout singles.svg && rsvg-convert -o singles.png singles.svg && [ -s singles.png ]; then _pass; else _fail "heatmap svg not well-formed or does not rasterise"; fi

# Site-independent baseline.
run "$TRANOVA" score -q --model site-independent --msa "$MSA" --dms scn.csv --target "$D/dms/SCN5A_HUMAN.fasta" -o si.csv
expect_rc 0
if head -1 si.csv | grep -q '^mutant,DMS_score,avg_score$'; then _pass; else _fail "site-independent header"; fi
if grep -q '^K100L,0,$' si.csv; then _pass; else _fail "outside the MSA: empty score"; fi

finish
