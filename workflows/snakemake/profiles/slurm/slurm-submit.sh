#!/usr/bin/env bash
# Snakemake 7 --cluster submit script: reads the job's properties (threads and the resources
# of its rule) from the job script Snakemake passes last, and submits it with sbatch.
#   threads -> --cpus-per-task, mem_mb -> --mem, runtime (min) -> --time, gpu -> --gres=gpu:N
# Site settings come from the environment: SLURM_ACCOUNT, SLURM_PARTITION (GPU rules use
# SLURM_GPU_PARTITION when set), SBATCH_EXTRA (more options, verbatim).
# --requeue lets SLURM requeue a preempted job (PreemptMode=REQUEUE): the job script runs
# again and the rule resumes from its saved progress. At a time limit or a preemption
# SLURM sends SIGTERM to every process of the job: tranova finishes the current step or
# chunk, saves its progress and exits 75 (within KillWait, else the last saved progress
# counts); slurm-status.sh reports the job failed and Snakemake's restart-times resubmits
# the rule, which resumes.
set -euo pipefail
jobscript=${!#}
props=$(sed -n 's/^# properties = //p' "$jobscript")
field() {  # field NAME DEFAULT: a number from the job properties JSON
  local v
  v=$(printf '%s' "$props" | grep -o "\"$1\": *[0-9]*" | head -1 | grep -o '[0-9]*$' || true)
  echo "${v:-$2}"
}
rule=$(printf '%s' "$props" | grep -o '"rule": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
threads=$(field threads 1)
mem=$(field mem_mb 4000)
runtime=$(field runtime 60)
gpu=$(field gpu 0)
args=(--parsable --job-name="tranova-${rule:-job}" --cpus-per-task="$threads" --mem="${mem}M"
      --time="$runtime" --requeue --output="logs/slurm/${rule:-job}-%j.out")
mkdir -p logs/slurm
[ -n "${SLURM_ACCOUNT:-}" ] && args+=(--account="$SLURM_ACCOUNT")
if [ "$gpu" -gt 0 ]; then
  args+=(--gres="gpu:$gpu")
  partition=${SLURM_GPU_PARTITION:-${SLURM_PARTITION:-}}
else
  partition=${SLURM_PARTITION:-}
fi
[ -n "$partition" ] && args+=(--partition="$partition")
# shellcheck disable=SC2206
[ -n "${SBATCH_EXTRA:-}" ] && args+=($SBATCH_EXTRA)
exec sbatch "${args[@]}" "$jobscript"
