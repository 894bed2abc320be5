#!/usr/bin/env bash
# Retrieval benchmark: wall time and family recall of `tranova retrieve` against
# `mmseqs easy-search -s 7.5 --max-seqs 100000` and `phmmer` (Debian packages mmseqs2,
# mmseqs2-examples, hmmer, hmmer-examples) on DB2 = the 20 000-protein UniProt example DB
# + the de-gapped EVE PTEN/P53 homologs (planted families, tests/data/msa) + globins45.
# Usage: benchmarks/retrieval/run_benchmark.sh [path/to/tranova] [workdir] [threads]
set -euo pipefail
TRANOVA=$(readlink -f "${1:-build/apps/tranova}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${2:-$(mktemp -d)}
THREADS=${3:-2}
ED=/usr/share/doc/mmseqs2/example-data
TUT=/usr/share/doc/hmmer/examples/tutorial
for f in "$ED/DB.fasta.gz" "$ED/QUERY.fasta.gz" "$TUT/HBB_HUMAN" "$TUT/globins45.fa"; do
  [ -e "$f" ] || { echo "missing $f: apt-get install mmseqs2 mmseqs2-examples hmmer hmmer-examples" >&2; exit 1; }
done
mkdir -p "$WORK"; cd "$WORK"

# --- inputs (spec retrieval.md §3; SCN5A is not shipped, so DB2 here has PTEN + P53 + globins)
rows() { zcat "$1" | awk '/^>/{if(s)print s; print; s=""; next}{s=s $0}END{print s}'; }
fam() {  # $1 a2m.gz, $2 prefix: every row but the first, de-gapped, >= 30 residues
  rows "$1" | awk -v P="$2" 'NR>2 && /^>/{h=$1; sub(/^>/,"",h); next} NR>2{s=$0; gsub(/[-.]/,"",s); s=toupper(s); if(length(s)>=30){print ">" P "_" h; print s}}'
}
query_of() { rows "$1" | awk -v N="$2" 'NR==2{s=$0; gsub(/[-.]/,"",s); print ">" N; print toupper(s)}'; }
if [ ! -s DB2.fasta ]; then
  fam "$SRC/tests/data/msa/PTEN_HUMAN_b1.0.a2m.gz" PTEN > pten_fam.fa
  fam "$SRC/tests/data/msa/P53_HUMAN_b0.1.a2m.gz" P53 > p53_fam.fa
  (zcat "$ED/DB.fasta.gz"; cat pten_fam.fa p53_fam.fa; awk '/^>/{print ">GLOBIN_" substr($1,2); next}{print}' "$TUT/globins45.fa") > DB2.fasta
  gzip -c DB2.fasta > DB2.fasta.gz
  query_of "$SRC/tests/data/msa/PTEN_HUMAN_b1.0.a2m.gz" PTEN_HUMAN > q_PTEN.fa
  query_of "$SRC/tests/data/msa/P53_HUMAN_b0.1.a2m.gz" P53_HUMAN > q_P53.fa
  cp "$TUT/HBB_HUMAN" q_HBB.fa
  zcat "$ED/QUERY.fasta.gz" | awk '/^>/{p=/A0A0K8VRH7/} p' > q_PLK4.fa
fi
declare -A TRUTH=([PTEN]=PTEN_ [P53]=P53_ [HBB]=GLOBIN_ [PLK4]=NONE)
declare -A NTRUTH=([PTEN]=$(grep -c '^>PTEN_' DB2.fasta) [P53]=$(grep -c '^>P53_' DB2.fasta) [HBB]=$(grep -c '^>GLOBIN_' DB2.fasta) [PLK4]=0)

timed() {  # prints wall seconds and peak RSS (MB) of the command
  local t0 t1; t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o .rss "$@" > /dev/null 2> .stderr || { echo "FAILED: $*" >&2; cat .stderr >&2; return 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v r="$(cat .rss)" 'BEGIN{printf "%.2f %d\n", b - a, r / 1024}'
}
recall() {  # $1 file with one target name per line, $2 prefix
  local n; n=$(sort -u "$1" | grep -c "^$2" || true); echo "$n"
}

printf "%-5s | %-22s | %-22s | %-22s\n" query "tranova (s / MB / hits / family)" "mmseqs -s 7.5 (...)" "phmmer (...)"
for q in HBB PLK4 PTEN P53; do
  Q=q_$q.fa
  read -r tw tm < <(timed "$TRANOVA" retrieve --quiet --threads "$THREADS" --query "$Q" --db DB2.fasta.gz -o tr_$q.a2m --hits tr_$q.tsv)
  tail -n +2 tr_$q.tsv | cut -f2 > tr_$q.names
  rm -rf mmtmp
  read -r mw mm < <(timed mmseqs easy-search "$Q" DB2.fasta.gz mm_$q.m8 mmtmp --threads "$THREADS" -v 1 -s 7.5 --max-seqs 100000)
  cut -f2 mm_$q.m8 | sort -u > mm_$q.names
  read -r pw pm < <(timed phmmer --cpu "$THREADS" --noali --notextw --tblout ph_$q.tbl -o /dev/null "$Q" DB2.fasta)
  awk '!/^#/ && $5 <= 1e-3 {print $1}' ph_$q.tbl | sort -u > ph_$q.names
  P=${TRUTH[$q]}; N=${NTRUTH[$q]}
  printf "%-5s | %6.2f s %5d MB %5d %5d/%d | %6.2f s %5d MB %5d %5d/%d | %6.2f s %5d MB %5d %5d/%d\n" "$q" \
    "$tw" "$tm" "$(sort -u tr_$q.names | wc -l)" "$(recall tr_$q.names "$P")" "$N" \
    "$mw" "$mm" "$(wc -l < mm_$q.names)" "$(recall mm_$q.names "$P")" "$N" \
    "$pw" "$pm" "$(wc -l < ph_$q.names)" "$(recall ph_$q.names "$P")" "$N"
done
if [ "${Q50:-0}" = 1 ]; then  # many queries in one run: the first 50 QUERY records against DB
  zcat "$ED/QUERY.fasta.gz" | awk '/^>/{n++} n<=50' > q50.fa
  read -r tw tm < <(timed "$TRANOVA" retrieve --quiet --threads "$THREADS" --query q50.fa --db "$ED/DB.fasta.gz" -o q50_out --hits tr_q50.tsv)
  rm -rf mmtmp
  read -r mw mm < <(timed mmseqs easy-search q50.fa "$ED/DB.fasta.gz" mm_q50.m8 mmtmp --threads "$THREADS" -v 1 -s 7.5 --max-seqs 100000)
  zcat "$ED/DB.fasta.gz" > DB.fasta
  read -r pw pm < <(timed phmmer --cpu "$THREADS" --noali --notextw --tblout ph_q50.tbl -o /dev/null q50.fa DB.fasta)
  printf "Q50 vs DB | tranova %.2f s %d MB %d pairs | mmseqs %.2f s %d MB %d pairs | phmmer %.2f s %d MB %d pairs (E <= 1e-3)\n" \
    "$tw" "$tm" "$(tail -n +2 tr_q50.tsv | cut -f1,2 | sort -u | wc -l)" "$mw" "$mm" "$(cut -f1,2 mm_q50.m8 | sort -u | wc -l)" \
    "$pw" "$pm" "$(awk '!/^#/ && $5 <= 1e-3 {print $3, $1}' ph_q50.tbl | sort -u | wc -l)"
fi
echo "(hits = distinct targets reported at E <= 1e-3; family = planted family members among them; wall time includes"
echo " mmseqs' database/index build; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
