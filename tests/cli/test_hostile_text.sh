# Hostile text inputs (issue "Hardening" §4): byte-order marks and stray text before the
# first record, junk and empty files, invalid peptide strings, file names read as
# sequences, degenerate MSAs and mutants, NaN predictions. Every input is built here.
source "$(dirname "$0")/cli_lib.sh" "$@"
BOM=$'\xEF\xBB\xBF'
MGF="$DATA/denovo/casanovo_v4.2.1_sample_preprocessed_spectra_massivekb_tokens.mgf"
MODEL="$DATA/tranception/models/tiny_ctx64"
TARGET=MKVLAAGIVGLLLAACGQHRSEAPQKPAE

# --- MGF: a BOM changes nothing; stray text and junk are errors, never a shift ----------
cat > preds.csv <<'CSV'
title,sequence,score
0,IAHYNKR,0.9
1,VKEDPDGEHAR,0.8
2,C[Carbamidomethyl]GHTNNIRPK,0.7
CSV
run "$TRANOVA" denovo eval -q -p preds.csv --truth "$MGF" -o plain
expect_rc 0
{ printf '%s' "$BOM"; cat "$MGF"; } > bom.mgf
run "$TRANOVA" denovo eval -q -p preds.csv --truth bom.mgf -o bom
expect_rc 0
if cmp -s plain/summary.json bom/summary.json || diff <(grep -v '"truth"' plain/summary.json) <(grep -v '"truth"' bom/summary.json) >/dev/null; then _pass; else _fail "a BOM changes the MGF evaluation"; fi
grep -q '"peptide_recall": 0.0234375' bom/summary.json && _pass || _fail "BOM MGF: recall is not 3/128"

{ echo "exported by some tool"; cat "$MGF"; } > stray.mgf
run "$TRANOVA" denovo eval -q -p preds.csv --truth stray.mgf -o stray
expect_rc 1; expect_one_line_err; expect_err "stray.mgf:1:"; expect_no_file stray
{ sed -n '1,/END IONS/p' "$MGF"; echo "garbage between records"; sed -n '/END IONS/,$p' "$MGF" | tail -n +2; } > between.mgf
run "$TRANOVA" denovo eval -q -p preds.csv --truth between.mgf -o between
expect_rc 1; expect_err "between.mgf:"; expect_err "outside a BEGIN IONS"

: > empty.mgf
run "$TRANOVA" denovo eval -q -p preds.csv --truth empty.mgf -o e1
expect_rc 1; expect_one_line_err; expect_err "empty.mgf: no MGF record"
head -c 20000 /dev/urandom > junk.mgf
run "$TRANOVA" denovo eval -q -p preds.csv --truth junk.mgf -o e2
expect_rc 1; expect_one_line_err; expect_err "junk.mgf"
run "$TRANOVA" convert -q --arch casanovo --checkpoint "$DATA/denovo_model/casanovo_trained_tiny.ckpt" -o cas.h5
expect_rc 0
run "$TRANOVA" denovo sequence -q -m cas.h5 -s junk.mgf -o junk.mztab
expect_rc 1; expect_err "junk.mgf"; expect_no_file junk.mztab
run "$TRANOVA" denovo sequence -q -m cas.h5 -s empty.mgf -o empty.mztab
expect_rc 1; expect_err "empty.mgf"; expect_no_file empty.mztab

# --- mzTab and CSV predictions ---------------------------------------------------------
: > empty.mztab
run "$TRANOVA" denovo eval -q -p empty.mztab --truth "$MGF" -o m1
expect_rc 1; expect_one_line_err; expect_err "empty.mztab"
head -c 5000 /dev/urandom > junk.mztab
run "$TRANOVA" denovo eval -q -p junk.mztab --truth "$MGF" -o m2
expect_rc 1; expect_one_line_err; expect_err "junk.mztab"
{
  printf '%sMTD\tmzTab-version\t1.0.0\n' "$BOM"
  printf 'PSH\tsequence\tPSM_ID\tsearch_engine_score[1]\tcharge\tspectra_ref\n'
  printf 'PSM\tIAHYNKR\t1\t0.9\t2\tms_run[1]:index=0\n'
} > bom.mztab
run "$TRANOVA" denovo eval -q -p bom.mztab --truth "$MGF" -o m3
expect_rc 0
grep -q '"peptide_recall": 0.0078125' m3/summary.json && _pass || _fail "BOM mzTab: recall is not 1/128"
printf 'title,sequence,score\n0,IAHYNKR,0.9\n1,XYZ@#,0.5\n' > badpep.csv
run "$TRANOVA" denovo eval -q -p badpep.csv --truth "$MGF" -o p1
expect_rc 1; expect_one_line_err; expect_err "badpep.csv:3"; expect_err "not a peptide"; expect_no_file p1

# --- score: FASTA/CSV with a BOM, file names that are not sequences --------------------
printf 'mutant,DMS_score\nK2A,1.5\nV3W:L4G,-0.5\n' > ok.csv
printf '>t\n%s\n' "$TARGET" > t.fasta
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target t.fasta -o plain.csv
expect_rc 0
printf '%s>t\n%s\n' "$BOM" "$TARGET" > bom.fasta
{ printf '%s' "$BOM"; cat ok.csv; } > bom.csv
run "$TRANOVA" score -q --model "$MODEL" --dms bom.csv --target bom.fasta -o bom.csv.out
expect_rc 0
cmp -s plain.csv bom.csv.out && _pass || _fail "a BOM in the FASTA or CSV changes the scores"
printf 'some notes\n>t\n%s\n' "$TARGET" > stray.fasta
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target stray.fasta -o s.csv
expect_rc 1; expect_one_line_err; expect_err "stray.fasta:1"; expect_no_file s.csv
for bad in targetfasta target.fasta ./MKVLAAGIV MKV; do
  run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target "$bad" -o s.csv
  expect_rc 1; expect_one_line_err; expect_err "not a protein sequence"; expect_no_file s.csv
done
mkdir adir
run "$TRANOVA" score -q --model "$MODEL" --dms ok.csv --target adir -o s.csv
expect_rc 1; expect_one_line_err; expect_err "is a directory"

# A position given twice is no single variant.
for m in K2A:K2C K2A:K2A; do
  printf 'mutant,DMS_score\n%s,1\n' "$m" > rep.csv
  run "$TRANOVA" score -q --model "$MODEL" --dms rep.csv --target $TARGET -o r.csv
  expect_rc 1; expect_err "position 2 appears more than once"; expect_no_file r.csv
done

# --- A2M: a BOM changes nothing; a query without match columns is an error -------------
A2M="$DATA/msa/P53_HUMAN_b0.1_sub6.a2m"
run "$TRANOVA" msa stats -q "$A2M"
expect_rc 0; plain_stats=$(echo "$OUT" | grep -v '^file:')
{ printf '%s' "$BOM"; cat "$A2M"; } > bom.a2m
run "$TRANOVA" msa stats -q bom.a2m
expect_rc 0
[ "$(echo "$OUT" | grep -v '^file:')" = "$plain_stats" ] && _pass || _fail "a BOM changes msa stats"
printf '>q\nmkvlaag\n>s\nmkvlaag\n' > lower.a2m
run "$TRANOVA" msa stats -q lower.a2m
expect_rc 1; expect_one_line_err; expect_err "no match (upper-case) column"
run "$TRANOVA" score -q --model site-independent --msa lower.a2m --dms ok.csv --target $TARGET -o si.csv
expect_rc 1; expect_err "no match (upper-case) column"; expect_no_file si.csv

# --- gym: NaN predictions are dropped (counted) for every metric; repeated positions ----
REF="$DATA/gym/DMS_substitutions_subset.csv"
ASSAYS="$DATA/gym/assays"
run "$TRANOVA" gym ingest -q --reference "$REF" --assays "$ASSAYS" -o gym.h5 --only-present
expect_rc 0
mkdir nanmodel
for f in "$ASSAYS"/*.csv; do
  awk -F, 'BEGIN{OFS=","} NR==1{print "mutant","avg_score"; next} {print $1, (NR==2 ? "" : $3)}' "$f" >"nanmodel/$(basename "$f")"
done
run "$TRANOVA" gym add gym.h5 --model nanny --scores nanmodel/
expect_rc 0
run "$TRANOVA" gym eval gym.h5 -o rep --bootstrap 0
expect_rc 0
expect_err "model 'nanny': 5 NaN predictions in 5 assays dropped"
# Every metric of every assay is a number (none blanked by the NaN).
if awk -F, 'NR>1 {for (c = 3; c <= 7; c++) if ($c == "") bad = 1} END {exit bad || NR != 6}' rep/per_assay.csv; then _pass; else _fail "a NaN prediction blanks a metric"; fi
mkdir rep_assays
cp "$ASSAYS"/*.csv rep_assays/
sed -i '2s/^\([A-Z]\)\([0-9]*\)\([A-Z]\),/\1\2\3:\1\2\3,/' rep_assays/BLAT_ECOLX_Jacquier_2013.csv
run "$TRANOVA" gym ingest -q --reference "$REF" --assays rep_assays -o rep.h5 --only-present
expect_rc 1; expect_one_line_err; expect_err "BLAT_ECOLX_Jacquier_2013.csv:2"; expect_err "appears more than once"
expect_no_file rep.h5

# Clinical: a model with only NaN scores has no AUC to average (exit 1, not "nan over 0 genes").
awk -F, 'BEGIN{OFS=","; print "DMS_id","mutant","DMS_bin_score"} NR>1 {print "NP_TEST.1",$1,($4==1?"Benign":"Pathogenic")}' \
  "$ASSAYS/BLAT_ECOLX_Jacquier_2013.csv" > clinvar.csv
awk -F, 'BEGIN{OFS=","; print "DMS_id","mutant","avg_score"} NR>1 {print "NP_TEST.1",$1,"nan"}' \
  "$ASSAYS/BLAT_ECOLX_Jacquier_2013.csv" > clin_nan.csv
run "$TRANOVA" gym clinical -q --variants clinvar.csv --scores clin_nan.csv --model nanny -o clin
expect_rc 1; expect_one_line_err; expect_err "no AUC"; expect_no_file clin/clinical_summary.csv

finish
