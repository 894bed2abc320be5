#!/usr/bin/env bash
# Before/after ratio of `tranova gym eval` in one run: two tranova binaries evaluate the same
# gym file alternately (so both see the same machine load), --threads 2, all models, full
# report; prints each run's wall and CPU (user + sys) time, the medians and the ratios, and
# checks that both wrote identical reports (default and numpy tie order).
#   benchmarks/gym/compare_eval.sh OLD/tranova NEW/tranova /tmp/bench_gym/gym.h5 [repeats=3]
# The gym file comes from bench_gym (--models 100: 217 assays x 100 models).
set -euo pipefail
old=$(readlink -f "$1") new=$(readlink -f "$2") h5=$(readlink -f "$3") repeats=${4:-3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
declare -A wall cpu
for r in $(seq "$repeats"); do
  for v in old new; do
    bin=$old; [ $v = new ] && bin=$new
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$bin" gym eval -q --threads 2 "$h5" -o "$work/rep_$v"
    read -r w u s < "$work/t"
    c=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
    wall[$v]+="$w "; cpu[$v]+="$c "
    echo "run $r $v: ${w} s wall, ${c} s CPU, load average $(cut -d' ' -f1 /proc/loadavg)"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
wo=$(echo "${wall[old]}" | median) wn=$(echo "${wall[new]}" | median)
co=$(echo "${cpu[old]}" | median) cn=$(echo "${cpu[new]}" | median)
echo "median: old ${wo} s wall / ${co} s CPU; new ${wn} s wall / ${cn} s CPU"
awk -v wo="$wo" -v wn="$wn" -v co="$co" -v cn="$cn" 'BEGIN {printf "ratio old/new: wall %.2fx, CPU %.2fx\n", wo / wn, co / cn}'
diff -r "$work/rep_old" "$work/rep_new" > /dev/null && echo "reports identical (stable tie order)" || echo "REPORTS DIFFER"
"$old" gym eval -q --threads 2 --ndcg-ties numpy "$h5" -o "$work/np_old"
"$new" gym eval -q --threads 2 --ndcg-ties numpy "$h5" -o "$work/np_new"
diff -r "$work/np_old" "$work/np_new" > /dev/null && echo "reports identical (numpy tie order)" || echo "REPORTS DIFFER (numpy)"
