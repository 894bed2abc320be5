# The shipped demo CrossNovo (data/denovo/crossnovo_demo.h5, trained by tranova on the
# simulated corpus; data/README.md) stays loadable and runs every decoder on the held-out
# simulated spectra and the real sample spectra; it is a stage-2 model (went through both
# training stages), and its held-out spectra carry labels `denovo eval` reads.
source "$(dirname "$0")/cli_lib.sh" "$@"
M="$SRC/data/denovo/crossnovo_demo.h5"
awk '{print} /^END IONS/ && ++n == 20 {exit}' "$SRC/data/denovo/sim_test300.mgf" > sim20.mgf
[ "$(grep -c '^SEQ=' sim20.mgf)" -eq 20 ] && _pass || _fail "20 labelled held-out spectra"
h5dump -a crossnovo_stage "$M" 2>/dev/null | grep -q '(0): 2$' && _pass || _fail "crossnovo_stage 2 in the demo model"
for dec in ar nar hybrid; do
  run "$TRANOVA" denovo sequence --model "$M" --spectra sim20.mgf --decoder $dec -t 1 -o $dec.mztab
  expect_rc 0
  expect_err "model $M (crossnovo, d 64"
  [ "$(grep -c '^PSM' $dec.mztab)" -ge 15 ] && _pass || _fail "$dec: fewer than 15 PSMs of 20"
  run "$TRANOVA" denovo eval -q --predictions $dec.mztab --truth sim20.mgf -o $dec.eval
  expect_rc 0
  grep -q '"n_spectra": 20' $dec.eval/summary.json && _pass || _fail "$dec: eval of 20 spectra"
done
# the hybrid with and without the NAR decoder's candidate: recorded in the mzTab; the
# candidate can only replace a PSM by one the AR decoder scores higher
grep -q 'nar_candidate = on' hybrid.mztab && _pass || _fail "hybrid.mztab records nar_candidate=on"
run "$TRANOVA" denovo sequence --model "$M" --spectra sim20.mgf --decoder hybrid --no-nar-candidate -t 1 -o ar_only.mztab
expect_rc 0
grep -q 'nar_candidate = off' ar_only.mztab && _pass || _fail "ar_only.mztab records nar_candidate=off"
# spectra_ref -> score of each file; every AR-only PSM has one in hybrid.mztab, scored >= it
scores() { awk -F'\t' '$1 == "PSH" {for (i = 1; i <= NF; ++i) {if ($i == "search_engine_score[1]") c = i
                                                                if ($i == "spectra_ref") r = i}}
                       $1 == "PSM" {print $r "\t" $c}' "$1" | sort; }
join -t $'\t' -a 1 <(scores ar_only.mztab) <(scores hybrid.mztab) |
  awk -F'\t' 'NF < 3 || $3 < $2 - 1e-9 {bad++} END {exit bad > 0 || NR < 15}' \
  && _pass || _fail "a NAR candidate replaced a PSM with a lower-scored one"
run "$TRANOVA" denovo sequence -q --model "$M" --spectra "$SRC/data/denovo/casanovo_sample.mgf" -t 1 -o real.mztab
expect_rc 0
[ "$(grep -c '^PSM' real.mztab)" -ge 100 ] && _pass || _fail "real spectra: fewer than 100 PSMs of 128"
finish
