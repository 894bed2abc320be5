#!/usr/bin/env bash
# False positives of BLOSUM62 searches and what low-complexity masking and composition-based
# statistics do to them (issue 17 §1). The first NQ records of the MMseqs2 example
# QUERY.fasta.gz reversed (no true homolog in the example DB: every hit at E <= 1e-3 is a
# false positive, expected NQ * 1e-3 of them) and forward (the hits each option loses), each
# searched against DB.fasta.gz (its index) with: defaults, --mask-low-complexity,
# --comp-based-stats, and both. Prints query-target pairs at E <= 1e-3 per setting.
# Needs the Debian package mmseqs2-examples (benchmark only; no test uses it).
# Usage: benchmarks/retrieval/run_false_positives.sh [path/to/tranova] [workdir] [threads]
set -euo pipefail
TRANOVA=$(readlink -f "${1:-build/apps/tranova}")
WORK=${2:-/tmp/tranova_false_positives}
THREADS=${3:-2}
NQ=${NQ:-50}
ED=/usr/share/doc/mmseqs2/example-data
[ -e "$ED/DB.fasta.gz" ] || { echo "missing $ED/DB.fasta.gz: apt-get install mmseqs2-examples" >&2; exit 1; }
mkdir -p "$WORK"; cd "$WORK"
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS; $NQ queries"
[ -s DB.tix ] || "$TRANOVA" index --quiet "$ED/DB.fasta.gz" -o DB.tix
zcat "$ED/QUERY.fasta.gz" | awk -v n="$NQ" '/^>/{k++} k<=n' > forward.fa
awk '/^>/{if (s != "") print h "\t" s; h = $0; s = ""; next} {s = s $0} END{if (s != "") print h "\t" s}' forward.fa |
  awk -F'\t' '{n = length($2); r = ""; for (i = n; i >= 1; i--) r = r substr($2, i, 1); print $1; print r}' > reversed.fa
printf '| queries | defaults | --mask-low-complexity | --comp-based-stats | both |\n|---|---|---|---|---|\n'
for q in reversed forward; do
  row="| $q"
  for opt in "" "--mask-low-complexity" "--comp-based-stats" "--mask-low-complexity --comp-based-stats"; do
    tag=$(echo "x $opt" | tr -d ' -')
    # shellcheck disable=SC2086
    "$TRANOVA" retrieve --quiet --threads "$THREADS" --query "$q.fa" --db DB.tix --out-dir "msa_${q}_$tag" --hits "hits_${q}_$tag.tsv" $opt
    row="$row | $(awk -F'\t' 'NR > 1 && $11 <= 1e-3' "hits_${q}_$tag.tsv" | wc -l)"
  done
  echo "$row |"
done
