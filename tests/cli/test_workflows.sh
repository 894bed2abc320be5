# The Snakemake workflows (workflows/snakemake) run end to end with the just-built tranova on
# tiny cuts of the demo data (data/), --cores 2, and their outputs equal what the same
# tranova commands give when run by hand: the ProteinGym sweep, variant effects from a FASTA,
# the de novo batch, the sharded database search (merged == unsharded) and the two training
# rules, the Tranception one time-sliced (--stop-after 2 + Snakemake restarts, i.e. the
# preemption/requeue path) and still equal to an uninterrupted run. The SLURM profile passes
# a dry run. Needs Debian's snakemake (scripts/install-deps).
source "$(dirname "$0")/cli_lib.sh" "$@"
if ! command -v snakemake >/dev/null; then
  echo "FAIL: snakemake is not installed (scripts/install-deps installs it)"
  exit 1
fi
SNAKEFILE="$SRC/workflows/snakemake/Snakefile"
D="$SRC/data"
export PATH="$(dirname "$TRANOVA"):$PATH"
mkdir -p in

# --- inputs, cut small -----------------------------------------------------------------
# Two "assays": rows 1-60 and 61-120 of the demo DMS, each with its own reference row.
ASSAY="$D/tranception/BLAT_ECOLX_Jacquier_2013.csv"
mkdir -p in/assays
{ head -1 "$ASSAY"; sed -n 2,61p "$ASSAY"; } > in/assays/BLAT_a.csv
{ head -1 "$ASSAY"; sed -n 62,121p "$ASSAY"; } > in/assays/BLAT_b.csv
REF="$D/gym/DMS_reference_BLAT_ECOLX.csv"
{
  head -1 "$REF"
  sed -n 2p "$REF" | sed 's/^DMS_sub_22,BLAT_ECOLX_Jacquier_2013,BLAT_ECOLX_Jacquier_2013.csv,/DMS_sub_a,BLAT_a,BLAT_a.csv,/'
  sed -n 2p "$REF" | sed 's/^DMS_sub_22,BLAT_ECOLX_Jacquier_2013,BLAT_ECOLX_Jacquier_2013.csv,/DMS_sub_b,BLAT_b,BLAT_b.csv,/'
} > in/reference.csv
# Two proteins: 40-residue pieces of TEM-1; the database: the demo MSA's sequences, ungapped.
SEQ=$(grep -v '^>' "$D/tranception/BLAT_ECOLX.fasta" | tr -d '\n')
printf '>frag_a TEM-1 24-63\n%s\n>frag_b TEM-1 150-189\n%s\n' "${SEQ:23:40}" "${SEQ:149:40}" > in/proteins.fasta
printf '>frag_a TEM-1 24-63\n%s\n' "${SEQ:23:40}" > in/query.fasta
awk '/^>/ {print; next} {gsub(/[-.]/, ""); print toupper($0)}' "$D/tranception/BLAT_ECOLX_ColabFold_2202_sub3.a3m" > in/db.fasta
# Two spectrum files of 6 spectra each, cut from the demo MGF.
awk -v out=in/run1.mgf -v out2=in/run2.mgf '/^BEGIN IONS/ {n++} n <= 6 {print > out} n > 6 && n <= 12 {print > out2}' \
  "$D/denovo/casanovo_sample.mgf"
awk '/^BEGIN IONS/ {n++} n <= 8' "$D/denovo/casanovo_sample.mgf" > in/train8.mgf
printf '{"n_layer": 1, "n_embd": 32, "n_head": 4, "n_positions": 66}\n' > in/mini.json

# config_yaml <train args>: the workflow configuration on these inputs.
config_yaml() {
  cat <<EOF
tranova: $TRANOVA
out: results
gym:
  reference: $WORK/in/reference.csv
  assays_dir: $WORK/in/assays
  msa_dir: $WORK/in
  use_msa: false
  model: $D/tranception/blat_family_tiny.h5
  model_name: tiny_family
  alpha: 0.6
  window: optimal
  threads: 1
  bootstrap: 100
variants:
  queries: $WORK/in/proteins.fasta
  db: $WORK/in/db.fasta
  model: $D/tranception/blat_family_tiny.h5
  alpha: 0.6
  evalue: 1e-3
  threads: 1
  report_top: 5
denovo:
  spectra: [$WORK/in/run1.mgf, $WORK/in/run2.mgf]
  checkpoint: $SRC/tests/data/denovo_model/casanovo_trained_tiny.ckpt
  arch: casanovo
  threads: 1
search:
  query: $WORK/in/query.fasta
  db: $WORK/in/db.fasta
  shards: 3
  evalue: 1e-3
  threads: 1
training:
  tranception:
    msa: $D/tranception/BLAT_ECOLX_ColabFold_2202_sub3.a3m
    config: $WORK/in/mini.json
    max_steps: 6
    threads: 1
    args: "--batch-size 4 --val-fraction 0.05 --seed 3 $1"
  denovo:
    arch: casanovo
    init_checkpoint: $SRC/tests/data/denovo_model/casanovo_trained_tiny.ckpt
    train: $WORK/in/train8.mgf
    max_steps: 3
    threads: 1
    args: "--batch-size 4 --seed 5"
EOF
}
config_yaml "" > config.yaml
config_yaml "--stop-after 2" > config_sliced.yaml

# snake TARGET CONFIG [options]: runs the workflow target, timed, in $WORK.
snake() {
  local target=$1 config=$2 t0=$SECONDS
  shift 2
  run snakemake "$target" -s "$SNAKEFILE" --configfile "$config" --cores 2 "$@" --quiet
  echo "  snakemake $target: exit $RC in $((SECONDS - t0)) s"
}

# The rules' shell commands appear in a dry run (-p), with threads and --resume.
run snakemake -s "$SNAKEFILE" --configfile config.yaml --cores 2 -n -p all
expect_rc 0; expect_out "tranova score --threads 1"; expect_out "gym eval --threads 2"; expect_out "denovo sequence"
expect_out "--shard 2/3"

# --- 1. ProteinGym sweep -----------------------------------------------------------------
snake gym_sweep config.yaml
expect_rc 0
expect_file results/gym/report/summary.csv
[ "$(grep -c '^tiny_family,BLAT_[ab],0\.' results/gym/report/per_assay.csv)" -eq 2 ] && _pass || _fail "per_assay.csv lacks the two assays"
grep -q tiny_family results/gym/report/summary.csv && _pass || _fail "summary.csv lacks the model"
# the workflow's scores are exactly what tranova score writes by hand
"$TRANOVA" score -q -t 1 --model "$D/tranception/blat_family_tiny.h5" --dms in/assays/BLAT_a.csv --target "$SEQ" \
  --alpha 0.6 --window optimal --no-weights-cache -o by_hand_a.csv
cmp -s by_hand_a.csv results/gym/scores/BLAT_a.csv && _pass || _fail "workflow scores differ from tranova score"
expect_no_file results/gym/ingested.h5   # temp() output removed after use

# --- 2. Variant effects --------------------------------------------------------------------
snake variant_effects config.yaml
expect_rc 0
for p in frag_a frag_b; do
  expect_file "results/variants/$p/report.md"
  [ "$(wc -l < "results/variants/$p/all_singles.csv")" -eq $((40 * 19 + 1)) ] && _pass || _fail "$p: not 40 x 19 singles"
  xmllint --noout "results/variants/$p/all_singles.svg" && _pass || _fail "$p: heatmap is not well-formed SVG"
  [ "$(grep -c '^| [A-Z][0-9]*[A-Z] | ' "results/variants/$p/report.md")" -eq 10 ] && _pass || _fail "$p: report lacks 2 x 5 rows"
  grep -q '^    neff_proteingym: [0-9]' "results/variants/$p/report.md" && _pass || _fail "$p: report lacks the MSA N_eff"
  head -1 "results/variants/$p/msa.a2m" | grep -q "^>$p" && _pass || _fail "$p: MSA does not start with the query"
done
"$TRANOVA" retrieve -q -t 1 --query in/query.fasta --db in/db.fasta -e 1e-3 -o by_hand.a2m
cmp -s by_hand.a2m results/variants/frag_a/msa.a2m && _pass || _fail "workflow MSA differs from tranova retrieve"

# --- 3. De novo batch ------------------------------------------------------------------------
snake denovo_batch config.yaml
expect_rc 0
expect_file results/denovo/summary.tsv
[ "$(wc -l < results/denovo/summary.tsv)" -eq 3 ] && _pass || _fail "summary.tsv: header + 2 runs expected"
head -1 results/denovo/summary.tsv | grep -q "^run"$'\t' && _pass || _fail "summary.tsv header"
"$TRANOVA" denovo sequence -q -t 1 --model results/denovo/model.h5 --spectra in/run2.mgf -o by_hand.mztab
diff <(grep -v '^MTD' by_hand.mztab) <(grep -v '^MTD' results/denovo/predictions/run2.mztab) >/dev/null \
  && _pass || _fail "workflow PSMs differ from tranova denovo sequence"

# --- 4. Sharded search ---------------------------------------------------------------------------
if "$TRANOVA" retrieve --help 2>&1 | grep -q -- '--shard'; then
  snake sharded_search config.yaml
  expect_rc 0
  "$TRANOVA" retrieve -q -t 1 --query in/query.fasta --db in/db.fasta -e 1e-3 -o unsharded.a2m --hits unsharded.tsv
  cmp -s unsharded.a2m results/search/merged.a2m && _pass || _fail "merged shards' MSA differs from the unsharded one"
  cmp -s unsharded.tsv results/search/merged_hits.tsv && _pass || _fail "merged shards' hits differ from the unsharded ones"
else
  echo "SKIP: sharded_search: this tranova's 'retrieve --help' has no --shard (the sharded search is not built in)"
fi

# --- 5. Training, time-sliced: each slice stops after 2 steps with exit 75 (as a preempted
# job does), Snakemake restarts the rule and it resumes from the state, to step 6.
snake training config_sliced.yaml --restart-times 3
expect_rc 0
expect_file results/training/tranception.h5
expect_file results/training/denovo.h5
grep -q "resuming from .*tranception.h5.state.h5 at step 4" results/training/logs/tranception.log \
  && _pass || _fail "the last slice did not resume at step 4"
"$TRANOVA" train --arch tranception -q -t 1 --msa "$D/tranception/BLAT_ECOLX_ColabFold_2202_sub3.a3m" \
  --config in/mini.json --max-steps 6 --batch-size 4 --val-fraction 0.05 --seed 3 -o straight.h5
printf 'mutant\nM1A\nH24P\n' > two.csv
"$TRANOVA" score -q --model straight.h5 --dms two.csv --target "$SEQ" -o straight.csv
"$TRANOVA" score -q --model results/training/tranception.h5 --dms two.csv --target "$SEQ" -o sliced.csv
cmp -s straight.csv sliced.csv && _pass || _fail "time-sliced training differs from an uninterrupted run"

# --- SLURM profile: a dry run plans every job; the submit script turns a job's threads and
# resources into sbatch options (checked with a stand-in sbatch that prints its arguments).
run snakemake -s "$SNAKEFILE" --configfile config.yaml --profile "$SRC/workflows/snakemake/profiles/slurm" \
  --dry-run --forceall all
expect_rc 0
expect_out "search_shard              3"; expect_out "train_tranception"
mkdir -p fakebin
printf '#!/bin/sh\necho "sbatch $* "\n' > fakebin/sbatch && chmod +x fakebin/sbatch
cat > job.sh <<'EOF'
#!/bin/sh
# properties = {"type": "single", "rule": "train_tranception", "local": false, "threads": 8, "resources": {"_cores": 8, "_nodes": 1, "mem_mb": 16000, "runtime": 1440, "gpu": 1}, "jobid": 3, "cluster": {}}
echo job
EOF
run env PATH="$WORK/fakebin:$PATH" SLURM_ACCOUNT=lab SLURM_GPU_PARTITION=gpu "$SRC/workflows/snakemake/profiles/slurm/slurm-submit.sh" job.sh
expect_rc 0
for o in --cpus-per-task=8 --mem=16000M --time=1440 --gres=gpu:1 --requeue --account=lab --partition=gpu \
  --job-name=tranova-train_tranception; do expect_out " $o "; done
sed -i 's/"gpu": 1/"gpu": 0/' job.sh
run env PATH="$WORK/fakebin:$PATH" "$SRC/workflows/snakemake/profiles/slurm/slurm-submit.sh" job.sh
expect_rc 0
if grep -q -- --gres "$WORK/.stdout"; then _fail "--gres without a GPU"; else _pass; fi
# The status script: a job killed at its time limit or preempted is failed (resubmitted), a
# requeued one still running.
for pair in COMPLETED:success RUNNING:running REQUEUED:running PENDING:running TIMEOUT:failed FAILED:failed \
  PREEMPTED:failed "CANCELLED by 0:failed"; do
  printf '#!/bin/sh\necho "%s"\n' "${pair%:*}" > fakebin/sacct && chmod +x fakebin/sacct
  run env PATH="$WORK/fakebin:$PATH" "$SRC/workflows/snakemake/profiles/slurm/slurm-status.sh" "123;cluster"
  [ "$OUT" = "${pair##*:}" ] && _pass || _fail "slurm-status.sh: ${pair%:*} -> '$OUT', expected ${pair##*:}"
done
finish
