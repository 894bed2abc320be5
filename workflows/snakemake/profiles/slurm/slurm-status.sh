#!/usr/bin/env bash
# Snakemake 7 --cluster-status script: prints running, success or failed for a SLURM job id.
# A requeued (preempted) job counts as running: SLURM runs it again and the rule resumes.
set -uo pipefail
jobid=${1%%;*}   # sbatch --parsable prints ID or ID;CLUSTER
state=$(sacct -j "$jobid" -X -n -P -o State 2>/dev/null | head -1 | cut -d' ' -f1)
[ -z "$state" ] && state=$(squeue -h -j "$jobid" -o %T 2>/dev/null | head -1)
case "$state" in
  COMPLETED) echo success ;;
  PENDING | RUNNING | REQUEUED | REQUEUE_HOLD | REQUEUE_FED | RESIZING | SUSPENDED | CONFIGURING | COMPLETING | \
  STAGE_OUT | SIGNALING | "") echo running ;;
  *) echo failed ;;  # PREEMPTED (not requeued), FAILED (e.g. exit 75), TIMEOUT, CANCELLED, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE
esac
