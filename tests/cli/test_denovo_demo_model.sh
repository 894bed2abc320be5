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
run "$TRANOVA" denovo sequence -q --model "$M" --spectra "$SRC/data/denovo/casanovo_sample.mgf" -t 1 -o real.mztab
expect_rc 0
[ "$(grep -c '^PSM' real.mztab)" -ge 100 ] && _pass || _fail "real spectra: fewer than 100 PSMs of 128"
finish
