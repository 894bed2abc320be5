# tranova denovo train: the tiny fixture checkpoints (converted first) train a few steps on
# the annotated sample MGF for each arch and the results run in `denovo sequence`; a run cut
# by --stop-after (exit 75) and resumed equals an uninterrupted one (tensors and
# predictions), also across CrossNovo's two stages; stage 2 leaves every encoder and NAR
# tensor bit-identical while the AR decoder learns; bad inputs are one-line errors (exit
# 1/2) that leave no model file; the validation's greedy peptide recall is a log column
# (val_recall) and can choose the kept weights (--best-by val_recall).
source "$(dirname "$0")/cli_lib.sh" "$@"
D="$DATA/denovo_model"
MGF="$D/sample16.mgf"
COMMON=(--train "$MGF" --batch-size 4 --seed 5 -t 2)

# tensor_text FILE PATTERN: the weight file's tensors whose names match PATTERN (an ERE
# anchored at the name's start), as exact text (9 significant digits round-trip float32)
tensor_text() {
  h5dump -g /tensors -m '%.9g' "$1" | awk -v pat="^DATASET \"($2)" '/DATASET "/ {keep = ($1 " " $2) ~ pat} keep'
}

run "$TRANOVA" denovo train --help
expect_rc 0; expect_out "Usage: tranova denovo train"; expect_out "Examples:"; expect_out "--stage"; expect_out "--resume"

run "$TRANOVA" convert -q --arch casanovo --checkpoint "$D/casanovo_trained_tiny.ckpt" -o cas.h5
expect_rc 0
run "$TRANOVA" convert -q --arch primenovo --checkpoint "$D/primenovo_trained_tiny.ckpt" -o pn.h5
expect_rc 0
printf '{"nar_checkpoint": "%s", "seed": 1}\n' "$D/primenovo_trained_tiny.ckpt" > cross.json
run "$TRANOVA" convert -q --arch crossnovo --checkpoint "$D/casanovo_trained_tiny.ckpt" --config cross.json -o cross.h5
expect_rc 0

# Casanovo fine-tuning: four files, the skipped spectrum counted, a validation loss
CAS=(denovo train --arch casanovo --init cas.h5 "${COMMON[@]}" --max-steps 6 --val-every 3 --checkpoint-every 2)
run "$TRANOVA" "${CAS[@]}" -o full.h5
expect_rc 0
for f in full.h5 full.h5.state.h5 full.h5.train.tsv full.h5.loss.svg; do expect_file "$f"; done
expect_no_temp .
expect_err "15 of 16 spectra used, 1 skipped"
expect_err "1 without a usable charge"
[ "$(wc -l < full.h5.train.tsv)" -eq 7 ] && _pass || _fail "6 log rows"
head -1 full.h5.train.tsv | grep -q $'^step\tepoch\tloss\tlr\tgrad_norm\tval_loss\tval_recall\tspectra_per_s\tseconds$' && _pass || _fail "log header"
awk -F'\t' 'NR == 4 && $6 > 0 {ok = 1} END {exit !ok}' full.h5.train.tsv && _pass || _fail "validation loss at step 3"
awk -F'\t' 'NR == 4 && $7 != "" && $7 >= 0 && $7 <= 1 {ok = 1} NR == 3 && $7 != "" {bad = 1} END {exit !ok || bad}' full.h5.train.tsv &&
  _pass || _fail "val_recall column at validation steps only"
run "$TRANOVA" denovo sequence --model full.h5 --spectra "$MGF" -o full.mztab
expect_rc 0
[ "$(grep -c '^PSM' full.mztab)" -ge 1 ] && _pass || _fail "trained casanovo: no PSM"
# training changed the weights
[ "$(tensor_text cas.h5 'ar_decoder.final.weight')" != "$(tensor_text full.h5 'ar_decoder.final.weight')" ] && _pass || _fail "casanovo weights did not change"

# validation on the fixture's own spectra: the converted Casanovo fixture decodes all 15 (beam 1)
run "$TRANOVA" denovo train --arch casanovo --init cas.h5 "${COMMON[@]}" --val "$MGF" --max-steps 1 --lr 1e-7 -o rec.h5
expect_rc 0
expect_err "peptide recall 1.0000 of 15 spectra (greedy AR beam 1)"
# --best-by val_recall keeps the weights of the highest recall: in this run (one thread) the
# validation loss is lowest at step 2 (0.228), the recall highest at step 4 (11 of 15)
BEST=(denovo train --arch casanovo --init cas.h5 --train "$MGF" --val "$MGF" --batch-size 4 --seed 5 -t 1 --max-steps 6
      --val-every 1 --lr 2e-3 --warmup-steps 0)
run "$TRANOVA" "${BEST[@]}" -o byloss.h5
expect_rc 0
grep -qE "best validation 0\.2[0-9]* at step 2" "$WORK/.stderr" && _pass || _fail "best by val_loss: step 2"
run "$TRANOVA" "${BEST[@]}" --best-by val_recall -o byrecall.h5
expect_rc 0
expect_err "at step 4"
grep -qE "best validation val_recall 0\.7333 \(loss [0-9.]+\) at step 4" byrecall.h5.loss.svg && _pass || _fail "best by val_recall: step 4"
cmp -s <(cut -f1-7 byloss.h5.train.tsv) <(cut -f1-7 byrecall.h5.train.tsv) && _pass || _fail "--best-by changed the training"
[ "$(tensor_text byloss.h5 '.')" != "$(tensor_text byrecall.h5 '.')" ] && _pass || _fail "--best-by val_recall kept the same weights"
run "$TRANOVA" denovo train --arch primenovo --init pn.h5 "${COMMON[@]}" --val "$MGF" --max-steps 1 --lr 1e-7 --val-recall 4 -o rec2.h5
expect_rc 0
expect_err "of 4 spectra (greedy CTC)"

# --stop-after then --resume == uninterrupted (tensors, predictions, log)
run "$TRANOVA" "${CAS[@]}" --stop-after 4 -o cut.h5
expect_rc 75
expect_err "training state saved at step 4"
run "$TRANOVA" "${CAS[@]}" --resume -o cut.h5
expect_rc 0
[ "$(tensor_text full.h5 '.')" == "$(tensor_text cut.h5 '.')" ] && _pass || _fail "resumed casanovo tensors differ"
run "$TRANOVA" denovo sequence --model cut.h5 --spectra "$MGF" -o cut.mztab
cmp -s <(grep '^PSM' full.mztab) <(grep '^PSM' cut.mztab) && _pass || _fail "resumed model predicts differently"
cmp -s <(cut -f1-6 full.h5.train.tsv) <(cut -f1-6 cut.h5.train.tsv) && _pass || _fail "resumed log differs"

# PrimeNovo (CTC), fine-tuned with dropout, and a fresh tiny model
run "$TRANOVA" denovo train --arch primenovo --init pn.h5 "${COMMON[@]}" --max-steps 3 --dropout 0.1 -o pn_t.h5
expect_rc 0
run "$TRANOVA" denovo sequence --model pn_t.h5 --spectra "$MGF" -o pn.mztab
expect_rc 0
[ "$(grep -c '^PSM' pn.mztab)" -ge 1 ] && _pass || _fail "trained primenovo: no PSM"
run "$TRANOVA" denovo train --arch primenovo --config tiny "${COMMON[@]}" --max-steps 2 --split 0 -o pn_fresh.h5
expect_rc 0
expect_err "validating on 0"
expect_file pn_fresh.h5

# CrossNovo: stage 1 (lambda 0 -> 1) then stage 2 (encoder + NAR frozen)
CN=(denovo train --arch crossnovo --init cross.h5 "${COMMON[@]}" --max-steps 6 --val-every 2 --stage both)
run "$TRANOVA" "${CN[@]}" -o cn.h5
expect_rc 0
expect_file cn.h5.stage1.h5
head -1 cn.h5.stage1.h5.train.tsv | grep -q $'^step\tepoch\tloss\tar\tnar\tlambda\t' && _pass || _fail "crossnovo log parts"
[ "$(cut -f6 cn.h5.stage1.h5.train.tsv | tr '\n' ' ')" == "lambda 0 0.333333 0.666667 " ] && _pass || _fail "lambda ramp"
[ "$(cut -f6 cn.h5.train.tsv | sort -u | tr '\n' ' ')" == "1 lambda " ] && _pass || _fail "stage 2 lambda"
FROZEN='encoder\.|nar_decoder\.'
[ -n "$(tensor_text cn.h5 "$FROZEN")" ] && _pass || _fail "no encoder/NAR tensors found"
[ "$(tensor_text cn.h5.stage1.h5 "$FROZEN")" == "$(tensor_text cn.h5 "$FROZEN")" ] && _pass || _fail "stage 2 changed the encoder/NAR"
[ "$(tensor_text cn.h5.stage1.h5 'ar_decoder\.|cross\.')" != "$(tensor_text cn.h5 'ar_decoder\.|cross\.')" ] && _pass || _fail "stage 2 did not train the AR decoder"
[ "$(tensor_text cross.h5 "$FROZEN")" != "$(tensor_text cn.h5 "$FROZEN")" ] && _pass || _fail "stage 1 did not train the encoder/NAR"
run "$TRANOVA" denovo sequence --model cn.h5 --spectra "$MGF" -o cn.mztab --decoder hybrid
expect_rc 0
[ "$(grep -c '^PSM' cn.mztab)" -ge 1 ] && _pass || _fail "trained crossnovo: no PSM"
# stage 2 alone from the stage-1 model
run "$TRANOVA" denovo train --arch crossnovo --init cn.h5.stage1.h5 "${COMMON[@]}" --max-steps 2 --stage 2 -o cn2.h5
expect_rc 0
[ "$(tensor_text cn.h5.stage1.h5 "$FROZEN")" == "$(tensor_text cn2.h5 "$FROZEN")" ] && _pass || _fail "stage 2 alone changed the encoder/NAR"
# stage 2 without positional encodings on the cross memory: recorded in the model, trains
# the AR decoder differently, and `denovo sequence` reads it back
run "$TRANOVA" denovo train --arch crossnovo --init cn.h5.stage1.h5 "${COMMON[@]}" --max-steps 2 --stage 2 \
  --cross-positions off -o cn2np.h5
expect_rc 0
h5dump -a memory_pos_encoding cn2np.h5 2>/dev/null | grep -Eq '\(0\): "?0"?$' && _pass || _fail "memory_pos_encoding 0 in cn2np.h5"
[ "$(tensor_text cn2.h5 'ar_decoder\.')" != "$(tensor_text cn2np.h5 'ar_decoder\.')" ] && _pass || _fail "--cross-positions off trained the same AR decoder"
run "$TRANOVA" denovo sequence --model cn2np.h5 --spectra "$MGF" -o cn2np.mztab --decoder hybrid
expect_rc 0
# cut in stage 1 and again in stage 2, resumed twice == uninterrupted
run "$TRANOVA" "${CN[@]}" --stop-after 2 -o cncut.h5
expect_rc 75
run "$TRANOVA" "${CN[@]}" --stop-after 2 --resume -o cncut.h5
expect_rc 75
expect_err "resuming from cncut.h5.stage1.h5.state.h5 at step 2"
run "$TRANOVA" "${CN[@]}" --resume -o cncut.h5
expect_rc 0
expect_err "resuming from cncut.h5.state.h5 at step 2"
[ "$(tensor_text cn.h5 '.')" == "$(tensor_text cncut.h5 '.')" ] && _pass || _fail "resumed crossnovo tensors differ"
run "$TRANOVA" denovo sequence --model cncut.h5 --spectra "$MGF" -o cncut.mztab --decoder hybrid
cmp -s <(grep '^PSM' cn.mztab) <(grep '^PSM' cncut.mztab) && _pass || _fail "resumed crossnovo predicts differently"

# Data parallel: CrossNovo stage 1 under mpirun -np 2 (uneven shards of 5) logs the losses of
# one process (each term weighted by the global batch's items), within float rounding
if "$TRANOVA" version | grep -q 'MPI: on'; then
  export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
  MP=(denovo train --arch crossnovo --init cross.h5 --train "$MGF" --batch-size 5 --max-steps 3 --stage 1 --val-recall 0 -t 1 -q)
  run "$TRANOVA" "${MP[@]}" -o mp1.h5
  expect_rc 0
  # (OpenMPI's own allocations are reported by LeakSanitizer in sanitizer builds, as in unit.dist_mpi)
  run env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun --allow-run-as-root -np 2 "$TRANOVA" "${MP[@]}" -o mp2.h5
  expect_rc 0
  paste <(cut -f3-5 mp1.h5.train.tsv) <(cut -f3-5 mp2.h5.train.tsv) | awk -F'\t' 'NR > 1 {
    for (i = 1; i <= 3; ++i) { d = $i - $(i + 3); if (d < 0) d = -d; if (d > 1e-4 * (1 + $i)) bad = 1 } }
    END {exit bad}' && _pass || _fail "mpirun -np 2 losses differ from one process"
else
  _fail "tranova built without MPI"
fi

# Labels from PSM files: an mzTab (index= of the MGF; scan= of an mzML), a CSV by title
grep -v '^SEQ=' "$MGF" > unlabelled.mgf
run "$TRANOVA" denovo sequence --model cas.h5 --spectra unlabelled.mgf -o unlabelled.mztab
expect_rc 0
run "$TRANOVA" denovo train --arch casanovo --init cas.h5 --train unlabelled.mgf --batch-size 4 --seed 5 -t 2 --labels unlabelled.mztab --max-steps 1 -o lab.h5
expect_rc 0
expect_err "15 of 16 spectra used, 1 skipped (0 rejected by the reader, 1 unlabelled"
MZML="$DATA/denovo/depthcharge_TMT10-Trial-8.mzML"
run "$TRANOVA" denovo sequence --model cas.h5 --spectra "$MZML" -o mzml.mztab
expect_rc 0
# (the fixture's predictions do not fit these precursors: --mass-tol accepts them)
run "$TRANOVA" denovo train --arch casanovo --init cas.h5 --train "$MZML" --labels mzml.mztab --mass-tol 1e6 --split 0 --max-steps 1 --batch-size 2 -o labz.h5
expect_rc 0
expect_err "4 of 4 spectra used"
run "$TRANOVA" denovo train --arch casanovo --init cas.h5 --train "$MZML" --labels mzml.mztab --split 0 --max-steps 1 -q -o labz2.h5
expect_rc 1
expect_err "4 with a precursor mass that disagrees"
expect_no_file labz2.h5
printf 'Title,Peptide\n0,IAHYNKR\n2,C+57.021GHTNNIRPK\n7,HNSYTC[UNIMOD:4]EATHK\n' > labels.csv
run "$TRANOVA" denovo train --arch casanovo --init cas.h5 --train unlabelled.mgf --labels labels.csv --split 0 --max-steps 1 -o labc.h5
expect_rc 0
expect_err "3 of 16 spectra used"

# Bad inputs: one line, exit 1 (runtime) or 2 (usage), no model file.
bad() {  # bad <rc> <expected stderr text> <args...>
  local rc=$1 text=$2; shift 2
  run "$TRANOVA" "$@" -q -o bad.h5
  expect_rc "$rc"; expect_no_file bad.h5; expect_no_temp .
  expect_one_line_err
  head -1 "$WORK/.stderr" | grep -qF -- "$text" && _pass || _fail "first stderr line lacks '$text'"
}
bad 1 "unlabelled.mgf: no spectrum has a SEQ= label" denovo train --arch casanovo --init cas.h5 --train unlabelled.mgf
sed 's/^SEQ=.*/SEQ=PEPS[Phospho]TIDEK/' "$MGF" > phospho.mgf
bad 1 "cannot tokenise" denovo train --arch casanovo --init cas.h5 --train phospho.mgf
bad 1 "phospho.mgf: record 0" denovo train --arch casanovo --init cas.h5 --train phospho.mgf
printf 'index,peptide,file\n0,IAHYNKR,other.mgf\n' > other.csv
bad 1 "other.csv: no label matches a spectrum" denovo train --arch casanovo --init cas.h5 --train "$MGF" --labels other.csv
printf 'index,pep\n0,IAHYNKR\n' > nopep.csv
bad 1 "nopep.csv:1: the header needs a 'peptide'" denovo train --arch casanovo --init cas.h5 --train "$MGF" --labels nopep.csv
printf 'index,peptide\nx,IAHYNKR\n' > badidx.csv
bad 1 "badidx.csv:2: index 'x' is not a number" denovo train --arch casanovo --init cas.h5 --train "$MGF" --labels badidx.csv
bad 1 "no stage-1 training" denovo train --arch crossnovo --init cross.h5 --train "$MGF" --stage 2
bad 1 "a casanovo model, not crossnovo" denovo train --arch crossnovo --init cas.h5 --train "$MGF" --stage 2
bad 1 "a primenovo model, not casanovo" denovo train --arch casanovo --init pn.h5 --train "$MGF"
bad 1 "missing.mgf" denovo train --arch casanovo --init cas.h5 --train missing.mgf
bad 1 "cannot resume" denovo train --arch casanovo --init cas.h5 --train "$MGF" --resume
bad 1 "bad.h5.stage1.h5.state.h5: cannot resume" denovo train --arch crossnovo --init cross.h5 --train "$MGF" --resume
bad 2 "--stage applies to --arch crossnovo only" denovo train --arch casanovo --init cas.h5 --train "$MGF" --stage 2
bad 2 "--stage 2 needs --init" denovo train --arch crossnovo --train "$MGF" --stage 2
bad 2 "--cross-positions must be on or off" denovo train --arch crossnovo --init cross.h5 --train "$MGF" --cross-positions 1
bad 2 "--cross-positions applies to --arch crossnovo only" denovo train --arch casanovo --init cas.h5 --train "$MGF" --cross-positions off
bad 2 "--stage must be 1, 2 or both" denovo train --arch crossnovo --init cross.h5 --train "$MGF" --stage 3
bad 2 "--arch must be" denovo train --arch tranception --train "$MGF"
bad 2 "missing --train" denovo train --arch casanovo --init cas.h5
bad 2 "--split" denovo train --arch casanovo --init cas.h5 --train "$MGF" --split 2
bad 2 "--init or --config" denovo train --arch casanovo --init cas.h5 --config tiny --train "$MGF"
bad 1 "unknown model shape" denovo train --arch casanovo --config huge --train "$MGF"
bad 1 "--best-by val_bogus: this run logs no such validation score (it has: val_loss, val_recall)" denovo train --arch casanovo --init cas.h5 --train "$MGF" --best-by val_bogus
bad 1 "(it has: val_loss)" denovo train --arch casanovo --init cas.h5 --train "$MGF" --val-recall 0 --best-by val_recall

finish
