# tranova denovo eval: help, bad inputs (one-line errors), unwritable output, real runs on
# CSV and mzTab predictions against the Casanovo sample MGF.
source "$(dirname "$0")/cli_lib.sh" "$@"
D="$DATA/denovo"
TRUTH="$D/casanovo_v4.2.1_sample_preprocessed_spectra_massivekb_tokens.mgf"

run "$TRANOVA" denovo --help
expect_rc 0
expect_out "eval"

run "$TRANOVA" denovo eval --help
expect_rc 0
expect_out "Usage: tranova denovo eval"
expect_out "Examples:"

# Predictions: the truth itself for 3 spectra (one in ProForma), one wrong, one empty.
cat > preds.csv <<'CSV'
title,sequence,score
0,IAHYNKR,0.9
1,VKEDPDGEHAR,0.8
2,C[Carbamidomethyl]GHTNNIRPK,0.7
3,PEPTIDEK,0.6
4,,0.5
CSV
run "$TRANOVA" denovo eval --predictions preds.csv --truth "$TRUTH" -o report --quiet
expect_rc 0
for f in summary.json per_spectrum.csv report.md precision_coverage.svg; do expect_file "report/$f"; done
expect_no_temp report
if grep -q '"n_spectra": 128' report/summary.json; then _pass; else _fail "n_spectra != 128"; fi
if grep -q '"peptide_recall": 0.0234375' report/summary.json; then _pass; else _fail "peptide_recall != 3/128"; fi
if grep -q '"peptide_precision": 0.75' report/summary.json; then _pass; else _fail "peptide_precision != 3/4"; fi
for k in aa_precision aa_recall pc_auc; do
  if grep -q "\"$k\": " report/summary.json; then _pass; else _fail "summary lacks $k"; fi
done
if [ "$(wc -l < report/per_spectrum.csv)" -eq 129 ]; then _pass; else _fail "per_spectrum.csv rows"; fi
if grep -q '^<svg' report/precision_coverage.svg && grep -q '</svg>' report/precision_coverage.svg; then _pass; else _fail "svg"; fi
# The SVG is well-formed XML and rasterises (xmllint and rsvg-convert come from scripts/install-deps).
if xmllint --noout report/precision_coverage.svg; then _pass; else _fail "svg is not well-formed XML"; fi
if rsvg-convert -o pc.png report/precision_coverage.svg && [ -s pc.png ]; then _pass; else _fail "svg does not rasterise"; fi

# mzTab predictions (Casanovo v4 layout, spectra_ref index=N).
{
  printf 'MTD\tmzTab-version\t1.0.0\n'
  printf 'PSH\tsequence\tPSM_ID\taccession\tunique\tdatabase\tdatabase_version\tsearch_engine\tsearch_engine_score[1]\tmodifications\tretention_time\tcharge\texp_mass_to_charge\tcalc_mass_to_charge\tspectra_ref\tpre\tpost\tstart\tend\topt_ms_run[1]_aa_scores\n'
  printf 'PSM\tIAHYNKR\t1\tnull\tnull\tnull\tnull\t[MS, MS:1003281, Casanovo, 4.2.1]\t0.9\tnull\tnull\t2.0\t451.25\t451.25\tms_run[1]:index=0\tnull\tnull\tnull\tnull\tnull\n'
  printf 'PSM\tC+57.021GHTNNLRPK\t2\tnull\tnull\tnull\tnull\t[MS, MS:1003281, Casanovo, 4.2.1]\t0.5\tnull\tnull\t2.0\t1.0\t1.0\tms_run[1]:index=2\tnull\tnull\tnull\tnull\tnull\n'
} > preds.mztab
run "$TRANOVA" denovo eval -p preds.mztab --truth "$TRUTH" -o report2
expect_rc 0
if grep -q '"peptide_recall": 0.015625' report2/summary.json; then _pass; else _fail "mzTab peptide_recall != 2/128"; fi
expect_err "128 spectra, 2 predicted"

# PrimeNovo's denovo.tsv layout (label, ProForma-like prediction with masses, charge, score).
printf 'label\tprediction\tcharge\tscore\n0\tIAHYNKR\t2\t0.9\n2\tC[+57.021]GHTNNIRPK\t2\t0.8\n' > denovo.tsv
run "$TRANOVA" denovo eval -p denovo.tsv --truth "$TRUTH" -o report3 --quiet
expect_rc 0
if grep -q '"n_peptide_matched": 2' report3/summary.json; then _pass; else _fail "denovo.tsv: 2 matches expected"; fi

# Bad inputs: one-line errors, exit 1, nothing written.
run "$TRANOVA" denovo eval -p missing.csv --truth "$TRUTH" -o bad1 --quiet
expect_rc 1
expect_one_line_err
expect_err "missing.csv"
expect_no_file bad1/summary.json

printf 'title,sequence\n0,PEPTIDEK\n' > noscore.csv
run "$TRANOVA" denovo eval -p noscore.csv --truth "$TRUTH" -o bad2 --quiet
expect_rc 1
expect_one_line_err
expect_err "score"

printf 'BEGIN IONS\nTITLE=x\nPEPMASS=500\nCHARGE=2+\nSEQ=PEPZZK\n100 1\nEND IONS\n' > badseq.mgf
run "$TRANOVA" denovo eval -p preds.csv --truth badseq.mgf -o bad3 --quiet
expect_rc 1
expect_one_line_err
expect_err "badseq.mgf: record index=0"

run "$TRANOVA" denovo eval -p preds.csv -o bad4
expect_rc 2

run "$TRANOVA" denovo eval -p preds.csv --truth "$TRUTH" -o bad5 --ind-tol -1
expect_rc 2

# Unwritable output folder: exit 1, no partial files.
mkdir ro && chmod 555 ro
if [ "$(id -u)" -ne 0 ]; then
  run "$TRANOVA" denovo eval -p preds.csv --truth "$TRUTH" -o ro/report --quiet
  expect_rc 1
  expect_one_line_err
fi
touch blocker
run "$TRANOVA" denovo eval -p preds.csv --truth "$TRUTH" -o blocker/report --quiet
expect_rc 1
expect_one_line_err
chmod 755 ro
finish
