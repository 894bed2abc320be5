#!/usr/bin/env bash
# The CrossNovo ablation at demo scale (issue 16): AR-only (--arch casanovo), NAR-only
# (--arch primenovo, decoded with precise mass control) and the two-stage hybrid (--arch
# crossnovo --stage both), trained from scratch on the same simulated corpus
# (scripts/make-denovo-corpus) with the same shapes and the same budget (optimiser steps x
# batch), then sequenced and scored by `tranova denovo eval` on the held-out simulated test
# split and on the real annotated spectra (500 MassIVE-KB + 128 Casanovo sample spectra).
#
# Usage: benchmarks/denovo_model/ablation.sh [path/to/tranova] [work-dir]
#   env: CORPUS (default WORK/corpus, made if missing by scripts/make-denovo-corpus CORPUS_OPTS;
#        default none: the shipped demo model's corpus; the third round of docs/training.md used
#        "--min-len 6 --max-len 10 --clean --train 100000"), STEPS (4000), BATCH (16), LR (3e-3),
#        WARMUP (200), CONFIG (tiny), THREADS (1), SEED (1), BEAM (1),
#        ARCHS ("casanovo primenovo crossnovo": which models to train and evaluate),
#        STAGE1 (crossnovo stage-1 steps of the STEPS; default half, i.e. --stage both)
# Trained models are kept in WORK/models and reused when present (delete to retrain).
# Prints the table (Markdown) and writes WORK/ablation.tsv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TRANOVA=$(readlink -f "${1:-$ROOT/build/apps/tranova}")
WORK=$(mkdir -p "${2:-/tmp/denovo-ablation}" && cd "${2:-/tmp/denovo-ablation}" && pwd)
CORPUS=${CORPUS:-$WORK/corpus}
STEPS=${STEPS:-4000} BATCH=${BATCH:-16} LR=${LR:-3e-3} WARMUP=${WARMUP:-200} CONFIG=${CONFIG:-tiny}
THREADS=${THREADS:-1} SEED=${SEED:-1} BEAM=${BEAM:-1} ARCHS=${ARCHS:-casanovo primenovo crossnovo}
CORPUS_OPTS=${CORPUS_OPTS:-} STAGE1=${STAGE1:-$(( (STEPS + 1) / 2 ))}
REAL=("$ROOT/tests/data/denovo/ms2pip_massivekb_selected_500.annotated_massivekb_tokens.mgf"
      "$ROOT/data/denovo/casanovo_sample.mgf")
REAL_NAMES=(massivekb500 casanovo128)

# shellcheck disable=SC2086  # CORPUS_OPTS is a word list
[ -f "$CORPUS/train.mgf" ] || nice "$ROOT/scripts/make-denovo-corpus" $CORPUS_OPTS -o "$CORPUS"
mkdir -p "$WORK/models" "$WORK/runs"

want() { [[ " $ARCHS " == *" $1 "* ]]; }
run_train() {  # run_train <arch> <steps> <out> <log> <extra...>
    local arch=$1 steps=$2 out=$3 log=$4; shift 4
    nice "$TRANOVA" denovo train --arch "$arch" --train "$CORPUS/train.mgf" --val "$CORPUS/val.mgf" \
        --max-steps "$steps" --batch-size "$BATCH" --lr "$LR" --warmup-steps "$WARMUP" --val-every $((steps / 8)) \
        --val-recall 200 --seed "$SEED" -t "$THREADS" "$@" -o "$out" 2> "$log"
}
train() {  # train <arch>: same data, shape and budget for every arch
    local arch=$1 out="$WORK/models/$1.h5" log="$WORK/models/$1.log"
    want "$arch" || return 0
    [ -f "$out" ] && return 0
    local t0=$SECONDS
    if [ "$arch" != crossnovo ]; then
        run_train "$arch" "$STEPS" "$out" "$log" --config "$CONFIG"
    elif [ "$STAGE1" -eq $(( (STEPS + 1) / 2 )) ]; then
        run_train crossnovo "$STEPS" "$out" "$log" --config "$CONFIG" --stage both
    else  # the two stages as two runs, STAGE1 + (STEPS - STAGE1) steps, each with its own schedule
        run_train crossnovo "$STAGE1" "$out.stage1.h5" "$log" --config "$CONFIG" --stage 1
        run_train crossnovo $((STEPS - STAGE1)) "$out" "$WORK/models/$arch.stage2.log" --init "$out.stage1.h5" --stage 2
    fi
    echo "$arch	$((SECONDS - t0))" >> "$WORK/models/train_seconds.tsv"
}
train casanovo
train primenovo
train crossnovo

# row <label> <model> <decoder> [sequence options...]
printf 'budget\tmodel\tdecoder\tdata\tspectra\taa_precision\taa_recall\tpeptide_recall\tauc\n' > "$WORK/ablation.tsv"
row() {  # the decoder column shows ROW_DECODER when set (a decoder run with extra options)
    local label=$1 model=$2 decoder=$3; shift 3
    local shown=${ROW_DECODER:-$decoder}
    want "${label%-stage1}" || return 0
    local sets=("$CORPUS/test.mgf" "${REAL[@]}") names=(sim_test "${REAL_NAMES[@]}")
    for i in "${!sets[@]}"; do
        local run="$WORK/runs/$label.$shown.${names[$i]}"
        nice "$TRANOVA" denovo sequence -q -t "$THREADS" --model "$model" --decoder "$decoder" --beam "$BEAM" "$@" \
            --spectra "${sets[$i]}" -o "$run.mztab"
        nice "$TRANOVA" denovo eval -q -t "$THREADS" -p "$run.mztab" --truth "${sets[$i]}" -o "$run.eval"
        awk -v b="${STEPS}x$BATCH" -v m="$label" -v d="$shown" -v s="${names[$i]}" -F': *' '
            { gsub(/[",]/, "", $1); gsub(/[", ]/, "", $2); gsub(/^ */, "", $1); v[$1] = $2 }
            END { printf "%s\t%s\t%s\t%s\t%s\t%.4f\t%.4f\t%.4f\t%.4f\n", b, m, d, s, v["n_spectra"], v["aa_precision"],
                  v["aa_recall"], v["peptide_recall"], v["pc_auc"] }' "$run.eval/summary.json" >> "$WORK/ablation.tsv"
    done
}
row casanovo "$WORK/models/casanovo.h5" ar
row primenovo "$WORK/models/primenovo.h5" nar
row crossnovo "$WORK/models/crossnovo.h5" hybrid
ROW_DECODER=hybrid-ar-only row crossnovo "$WORK/models/crossnovo.h5" hybrid --no-nar-candidate  # the paper's pipeline
row crossnovo "$WORK/models/crossnovo.h5" nar
row crossnovo-stage1 "$WORK/models/crossnovo.h5.stage1.h5" ar

echo "budget: $STEPS optimiser steps x batch $BATCH (crossnovo: $STAGE1 stage 1 + $(( STEPS - STAGE1 )) stage 2), \
config $CONFIG, lr $LR (warm-up $WARMUP, cosine), seed $SEED, $THREADS thread(s); AR beam $BEAM"
echo "training wall seconds: $(tr '\t\n' '= ' < "$WORK/models/train_seconds.tsv" 2>/dev/null)"
awk -F'\t' 'NR == 1 { print "| steps x batch | model | decoder | data | spectra | AA precision | AA recall | peptide recall | AUC |";
                      print "|---|---|---|---|---|---|---|---|---|"; next }
            { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$WORK/ablation.tsv"
