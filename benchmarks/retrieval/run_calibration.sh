#!/usr/bin/env bash
# Calibration of profile-round E-values (issue 17 §1, "profile iterations with their own
# statistics"): are the E-values of profile hits what they claim? Decoys: every protein of
# the MMseqs2 example DB reversed (DECOY=reversed, default) or shuffled within itself
# (DECOY=shuffled, awk's rand() with seed 17), named rev_*, appended to the DB. Both keep the
# composition of a real protein and have no homolog among the queries; reversing also keeps
# repeats and low-complexity stretches (which then match the queries' own: the known weak
# spot of statistics without composition adjustment), shuffling destroys them. The first NQ records of
# QUERY.fasta.gz are searched with --iterations ITER; the next round's profile is built from
# hits with E <= 1e-3 (--inclusion-evalue), and every hit up to E = 10 is reported
# (--evalue 10), so that decoy hits can be counted at several E thresholds. A decoy hit at
# E <= x is a chance hit: calibrated E-values give about NQ * x * (decoy residues / all
# residues) of them (fewer where the prefilter drops weak targets before the gapped stage).
# Four runs: round 1 only (BLOSUM62, BLAST's gapped lambda and K); profile rounds with the
# default half-bit PSSM ("unscaled"); PSI-BLAST-style, the PSSM scaled to BLOSUM62's
# ungapped lambda + composition-based statistics (--profile-rescale, "rescaled"); and the
# scaled PSSM alone (--profile-rescale --no-profile-comp-stats, "rescaled_nocbs").
# Needs the Debian package mmseqs2-examples (benchmark only; no test uses it).
# Usage: benchmarks/retrieval/run_calibration.sh [path/to/tranova] [workdir] [threads]
# Environment: NQ (default 20), ITER (default 3), DECOY (reversed or shuffled).
set -euo pipefail
TRANOVA=$(readlink -f "${1:-build/apps/tranova}")
DECOY=${DECOY:-reversed}
WORK=${2:-/tmp/tranova_calibration_$DECOY}
THREADS=${3:-2}
NQ=${NQ:-20}
ITER=${ITER:-3}
ED=/usr/share/doc/mmseqs2/example-data
[ -e "$ED/DB.fasta.gz" ] || { echo "missing $ED/DB.fasta.gz: apt-get install mmseqs2-examples" >&2; exit 1; }
mkdir -p "$WORK"; cd "$WORK"
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS; $NQ queries, $ITER rounds, $DECOY decoys"

if [ ! -s db_decoys.tix ]; then
  # One line per record (header TAB sequence), then the reversed copies.
  zcat "$ED/DB.fasta.gz" | awk '/^>/{if (s != "") print h "\t" s; h = $1; s = ""; next} {s = s $0} END{if (s != "") print h "\t" s}' > db.tsv
  { awk -F'\t' '{print $1; print $2}' db.tsv
    if [ "$DECOY" = shuffled ]; then
      awk -F'\t' 'BEGIN{srand(17)} {n = split($2, a, ""); for (i = n; i > 1; i--) {j = int(rand() * i) + 1; t = a[i]; a[i] = a[j]; a[j] = t}
                   r = ""; for (i = 1; i <= n; i++) r = r a[i]; print ">rev_" substr($1, 2); print r}' db.tsv
    else
      awk -F'\t' '{n = length($2); r = ""; for (i = n; i >= 1; i--) r = r substr($2, i, 1); print ">rev_" substr($1, 2); print r}' db.tsv
    fi
  } > db_decoys.fa
  "$TRANOVA" index --quiet db_decoys.fa -o db_decoys.tix
fi
zcat "$ED/QUERY.fasta.gz" | awk -v n="$NQ" '/^>/{k++} k<=n' > queries.fa
read -r real_res decoy_res < <(awk '/^>/{d = ($0 ~ /^>rev_/); next} {if (d) b += length($0); else a += length($0)} END{print a, b}' db_decoys.fa)
frac=$(awk -v a="$real_res" -v b="$decoy_res" 'BEGIN{printf "%.4f", b / (a + b)}')

run() {  # name, extra options... (a run whose hits and time are in WORK already is kept: REUSE=1)
  local name=$1; shift
  if [ "${REUSE:-0}" = 1 ] && [ -s "hits_$name.tsv" ] && [ -s "time_$name" ]; then return 0; fi
  local t0 t1; t0=$(date +%s.%N)
  "$TRANOVA" retrieve --quiet --threads "$THREADS" --query queries.fa --db db_decoys.tix --evalue 10 --inclusion-evalue 1e-3 \
    --out-dir "msa_$name" --hits "hits_$name.tsv" "$@"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}' > "time_$name"
}
run round1 --iterations 1
run rescaled --iterations "$ITER" --profile-rescale
run rescaled_nocbs --iterations "$ITER" --profile-rescale --no-profile-comp-stats
run unscaled --iterations "$ITER"

echo "decoy residues: $decoy_res of $((real_res + decoy_res)) (fraction $frac)"
printf '| run | wall s | decoy hits E<=0.01 | E<=0.1 | E<=1 | E<=10 | real-DB hits E<=1e-3 |\n|---|---|---|---|---|---|---|\n'
printf '| expected if calibrated | | %s | %s | %s | %s | |\n' \
  "$(awk -v n="$NQ" -v f="$frac" 'BEGIN{printf "%.1f", n * 0.01 * f}')" "$(awk -v n="$NQ" -v f="$frac" 'BEGIN{printf "%.1f", n * 0.1 * f}')" \
  "$(awk -v n="$NQ" -v f="$frac" 'BEGIN{printf "%.1f", n * 1 * f}')" "$(awk -v n="$NQ" -v f="$frac" 'BEGIN{printf "%.1f", n * 10 * f}')"
for name in round1 rescaled rescaled_nocbs unscaled; do
  awk -F'\t' -v name="$name" -v t="$(cat "time_$name")" 'NR > 1 {
      if ($2 ~ /^rev_/) { if ($11 <= 0.01) a++; if ($11 <= 0.1) b++; if ($11 <= 1) c++; if ($11 <= 10) d++ }
      else if ($11 <= 1e-3) r++ }
    END{printf "| %s | %s | %d | %d | %d | %d | %d |\n", name, t, a, b, c, d, r}' "hits_$name.tsv"
done
echo
echo "decoy hits at E <= 1 per query (expected $(awk -v f="$frac" 'BEGIN{printf "%.2f", f}') each): round1 / rescaled / rescaled_nocbs / unscaled"
for name in round1 rescaled rescaled_nocbs unscaled; do
  awk -F'\t' 'NR > 1 && $2 ~ /^rev_/ && $11 <= 1 {c[$1]++} END{for (q in c) print q "\t" c[q]}' "hits_$name.tsv" | sort > "perq_$name"
done
grep '^>' queries.fa | awk '{print substr($1, 2)}' | sort > .qids
join -t $'\t' -a 1 -e 0 -o 0,2.2 .qids perq_round1 | join -t $'\t' -a 1 -e 0 -o 0,1.2,2.2 - perq_rescaled |
  join -t $'\t' -a 1 -e 0 -o 0,1.2,1.3,2.2 - perq_rescaled_nocbs | join -t $'\t' -a 1 -e 0 -o 0,1.2,1.3,1.4,2.2 - perq_unscaled |
  sort -t $'\t' -k2,2nr
