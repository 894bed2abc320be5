# tranova denovo sequence (+ tranova convert --arch casanovo|primenovo|crossnovo): help,
# conversion of the fixture Lightning checkpoints, real AR / NAR / hybrid runs on MGF and
# mzML, a chargeless spectrum reported and skipped, evaluation of the output, bad inputs
# (one-line errors), usage errors (exit 2), an unwritable output (no partial file).
source "$(dirname "$0")/cli_lib.sh" "$@"
D="$DATA/denovo_model"
MGF="$D/sample16.mgf"

run "$TRANOVA" denovo sequence --help
expect_rc 0
expect_out "Usage: tranova denovo sequence"
expect_out "Examples:"
expect_out "--decoder"

run "$TRANOVA" convert --arch casanovo --checkpoint "$D/casanovo_trained_tiny.ckpt" -o cas.h5
expect_rc 0
expect_file cas.h5
run "$TRANOVA" convert --arch primenovo --checkpoint "$D/primenovo_trained_tiny.ckpt" -o pn.h5
expect_rc 0
printf '{"nar_checkpoint": "%s", "seed": 1}\n' "$D/primenovo_trained_tiny.ckpt" > cross.json
run "$TRANOVA" convert --arch crossnovo --checkpoint "$D/casanovo_trained_tiny.ckpt" --config cross.json -o cross.h5
expect_rc 0
expect_file cross.h5

# AR (Casanovo): 16 records, one without CHARGE is reported and skipped -> 15 PSMs
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MGF" -o ar.mztab --threads 2
expect_rc 0
expect_file ar.mztab
expect_no_temp .
expect_err "nocharge"
if [ "$(grep -c '^PSM' ar.mztab)" -eq 15 ]; then _pass; else _fail "ar.mztab: expected 15 PSM rows"; fi
# spectrum 0: the reference beam search gives LAHYNKR, score 0.98914 (fixture casanovo_trained n_beams1)
if grep -P '^PSM\tLAHYNKR\t1\t.*\t0\.98913[0-9]*\t' ar.mztab | grep -q 'index=0'; then _pass; else _fail "ar.mztab row 1"; fi
# records 2 and 7 are fixture spectra too (reference peptides and scores to 1e-5)
if grep -P '^PSM\tC\+57\.021GHTNNLRPK\t.*\t0\.98999[0-9]*\t.*index=2\t' ar.mztab > /dev/null; then _pass; else _fail "ar.mztab index=2"; fi
if grep -P '^PSM\tHNSYTC\+57\.021EATHK\t.*\t0\.99069[0-9]*\t.*index=7\t' ar.mztab > /dev/null; then _pass; else _fail "ar.mztab index=7"; fi
run "$TRANOVA" denovo eval --predictions ar.mztab --truth "$MGF" -o rep_ar --quiet
expect_rc 0
if grep -q '"peptide_precision": 1' rep_ar/summary.json; then _pass; else _fail "AR peptide precision != 1"; fi

# NAR (PrimeNovo, CTC beam + PMC), beam 5 AR, hybrid
run "$TRANOVA" denovo sequence --model pn.h5 --spectra "$MGF" -o nar.mztab --threads 2
expect_rc 0
if [ "$(grep -c '^PSM' nar.mztab)" -eq 15 ]; then _pass; else _fail "nar.mztab: expected 15 PSM rows"; fi
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MGF" -o ar5.mztab --beam 5 --precursor-tol 20 --isotope-error 0:2
expect_rc 0
if grep -q 'isotope_error_range = \[0, 2\]' ar5.mztab; then _pass; else _fail "settings not recorded"; fi
run "$TRANOVA" denovo sequence --model cross.h5 --spectra "$MGF" -o hyb.mztab --beam 2
expect_rc 0
expect_file hyb.mztab
run "$TRANOVA" denovo eval --predictions hyb.mztab --truth "$MGF" -o rep_hyb --quiet
expect_rc 0
expect_file rep_hyb/summary.json
# the hybrid weight file also runs its decoders alone
run "$TRANOVA" denovo sequence --model cross.h5 --spectra "$MGF" -o hyb_nar.mztab --decoder nar
expect_rc 0
# mzML input (scan-numbered spectra_ref)
run "$TRANOVA" denovo sequence --model pn.h5 --spectra "$DATA/denovo/depthcharge_TMT10-Trial-8.mzML" -o mzml.mztab
expect_rc 0
if grep -q 'ms_run\[1\]:scan=' mzml.mztab; then _pass; else _fail "mzML spectra_ref not scan="; fi
# gzip-compressed MGF and mzML give the same PSMs as the plain files (only the MTD run path differs)
gzip -c "$MGF" > sample.mgf.gz
gzip -c "$DATA/denovo/depthcharge_TMT10-Trial-8.mzML" > tmt.mzML.gz
run "$TRANOVA" denovo sequence --model cas.h5 --spectra sample.mgf.gz -o ar_gz.mztab --threads 2
expect_rc 0
if diff <(grep '^PS[MH]' ar.mztab) <(grep '^PS[MH]' ar_gz.mztab) > /dev/null; then _pass; else _fail "gzip MGF PSMs differ"; fi
run "$TRANOVA" denovo sequence --model pn.h5 --spectra tmt.mzML.gz -o mzml_gz.mztab
expect_rc 0
if diff <(grep '^PS[MH]' mzml.mztab) <(grep '^PS[MH]' mzml_gz.mztab) > /dev/null; then _pass; else _fail "gzip mzML PSMs differ"; fi
head -c 3000 sample.mgf.gz > cut.mgf.gz
run "$TRANOVA" denovo sequence --model cas.h5 --spectra cut.mgf.gz -o cut.mztab --quiet
expect_rc 1
expect_err "cut.mgf.gz: truncated gzip data"
expect_no_file cut.mztab

# the random-weight fixture checkpoints (safetensors: n_head from --config) convert and run
echo '{"n_head": 4}' > heads.json
run "$TRANOVA" convert --arch casanovo --checkpoint "$D/casanovo_tiny.safetensors" --config heads.json -o cas_rand.h5
expect_rc 0
run "$TRANOVA" convert --arch primenovo --checkpoint "$D/primenovo_tiny.safetensors" --config heads.json -o pn_rand.h5
expect_rc 0
run "$TRANOVA" denovo sequence --model cas_rand.h5 --spectra "$MGF" -o ar_rand.mztab --beam 5
expect_rc 0
expect_file ar_rand.mztab
run "$TRANOVA" denovo sequence --model pn_rand.h5 --spectra "$MGF" -o nar_rand.mztab
expect_rc 0
if [ "$(grep -c '^PSM' nar_rand.mztab)" -eq 15 ]; then _pass; else _fail "nar_rand.mztab: expected 15 PSM rows"; fi

# bad inputs: exit 1, one line
run "$TRANOVA" denovo sequence --model missing.h5 --spectra "$MGF" -o x.mztab --quiet
expect_rc 1
expect_one_line_err
expect_no_file x.mztab
run "$TRANOVA" denovo sequence --model "$MGF" --spectra "$MGF" -o x.mztab --quiet
expect_rc 1
expect_one_line_err
run "$TRANOVA" denovo sequence --model cas.h5 --spectra missing.mgf -o x.mztab --quiet
expect_rc 1
expect_one_line_err
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MGF" -o x.mztab --decoder nar --quiet
expect_rc 1
expect_err "no NAR decoder"
# usage errors: exit 2
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MGF" -o x.mztab --decoder fast
expect_rc 2
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MGF" -o x.mztab --isotope-error 2
expect_rc 2
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MGF" -o x.mztab --beam 0
expect_rc 2
run "$TRANOVA" convert --arch casanovo --checkpoint "$D/casanovo_tiny.safetensors" -o y.h5 --quiet
expect_rc 1
expect_err "n_head"
# unwritable output: exit 1, nothing left behind
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MGF" -o no_such_dir/out.mztab --quiet
expect_rc 1
expect_one_line_err
expect_no_file no_such_dir/out.mztab
expect_no_temp .
finish
