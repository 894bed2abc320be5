# tranova msa stats: N_eff reference values (2 decimals), errors, unwritable output.
source "$(dirname "$0")/cli_lib.sh" "$@"

run "$TRANOVA" msa stats --help
expect_rc 0
expect_out "Usage: tranova msa stats"

val() { echo "$OUT" | awk -F': ' -v k="$1" '$1 == k {printf "%.2f", $2}'; }
check() { if [ "$(val "$1")" = "$2" ]; then _pass; else _fail "$1 = '$(val "$1")', expected $2"; fi; }

run "$TRANOVA" msa stats --quiet "$DATA/msa/PTEN_HUMAN_b1.0.a2m.gz"
expect_rc 0
expect_out "rows: 1197"
expect_out "columns: 403"
expect_out "focus_columns: 387"
check neff_proteingym 132.83
check neff_evcouplings 146.01

run "$TRANOVA" msa stats --quiet --theta 0.2 "$DATA/msa/P53_HUMAN_b0.1.a2m.gz"
expect_rc 0
expect_out "rows: 3668"
check neff_proteingym 467.65
check neff_evcouplings 484.81

# Written to a file.
run "$TRANOVA" msa stats --quiet "$DATA/msa/P53_HUMAN_b0.1_sub6.a2m" -o stats.txt
expect_rc 0
expect_file stats.txt
grep -q "^rows: 612$" stats.txt && _pass || _fail "stats.txt rows"

# Bad inputs: one-line errors, exit 1.
printf '>q\nMKV\n>h\nMKVL\n' > bad.a2m
run "$TRANOVA" msa stats --quiet bad.a2m
expect_rc 1
expect_one_line_err
expect_err "bad.a2m:3"
head -c 20000 "$DATA/msa/PTEN_HUMAN_b1.0.a2m.gz" > trunc.a2m.gz
run "$TRANOVA" msa stats --quiet trunc.a2m.gz
expect_rc 1
expect_one_line_err
expect_err "truncated"
run "$TRANOVA" msa stats --quiet missing.a2m
expect_rc 1
expect_err "cannot open"
run "$TRANOVA" msa stats --quiet --theta 2 "$DATA/msa/P53_HUMAN_b0.1_sub6.a2m"
expect_rc 2

# Unwritable output: exit 1, no partial file.
run "$TRANOVA" msa stats --quiet "$DATA/msa/P53_HUMAN_b0.1_sub6.a2m" -o no/such/dir/stats.txt
expect_rc 1
expect_no_file no/such/dir/stats.txt
expect_no_temp .
finish
