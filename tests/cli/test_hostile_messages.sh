# Issue 12 §5 messages and §4 names: every error is one line naming the file, whatever
# bytes the file name or content carries (NUL, newline, ESC, invalid UTF-8 are escaped);
# a failed write to stdout says so; a folder or FIFO where a file is needed is named as
# such; model names that would break the CSV/Markdown/MultiQC reports are refused (exit 2)
# and paths written into reports cannot split their lines.
source "$(dirname "$0")/cli_lib.sh" "$@"
T="timeout 60 $TRANOVA"
REF="$DATA/gym/DMS_substitutions_subset.csv"
ASSAYS="$DATA/gym/assays"
lines() { grep -c '' "$WORK/.stderr"; }
one_physical_line() { [ "$(lines)" -eq 1 ] && _pass || _fail "expected one stderr line, got $(lines)"; }

# Bytes in file content and file names.
printf '>q\nMK\000V\n>r\nMKVV\n' > nul.a2m
run $T msa stats -q nul.a2m; expect_rc 1; one_physical_line; expect_err "nul.a2m:2: invalid character '\\0'"
printf '>q\nMK\377V\n' > hi.a2m
run $T msa stats -q hi.a2m; expect_rc 1; one_physical_line; expect_err "'\\xFF'"
weird=$(printf 'new\nline\033[31m\377.a2m')
run $T msa stats -q "$weird"; expect_rc 1; one_physical_line; expect_err 'new\nline\x1B[31m\xFF.a2m: cannot open'
printf '>q\nMKV\n' > "$weird"
run $T msa stats -q "$weird" -o "$weird"; expect_rc 2; one_physical_line; expect_err "same file"
run $T score -q --model "$(printf 'bad\tname\001')" --sequence MKVLAAGIVG --all-singles -o x.csv; expect_rc 1; one_physical_line
expect_err 'bad\tname\x01'
# Valid UTF-8 is kept as is.
run $T msa stats -q "protéine.a2m"; expect_rc 1; expect_err "protéine.a2m"
# Unknown commands with control characters.
run $T "$(printf 'x\ny')"; expect_rc 2; one_physical_line; expect_err 'x\ny'

# A full stdout is an error with a message, for --version, help and a real command.
run bash -c "$TRANOVA --version > /dev/full"; expect_rc 1; expect_err "cannot write to standard output"
run bash -c "$TRANOVA help > /dev/full"; expect_rc 1; expect_err "cannot write to standard output"
run bash -c "$TRANOVA msa stats --help > /dev/full"; expect_rc 1; expect_err "tranova msa stats: cannot write to standard output"
run bash -c "$TRANOVA msa stats -q hi.a2m -o - > /dev/full"; expect_rc 1; one_physical_line
printf '>q\nMKVL\n>r\nMKVA\n' > ok.a2m
run bash -c "$TRANOVA msa stats -q ok.a2m > /dev/full"; expect_rc 1; expect_err "standard output"; one_physical_line

# Folders and FIFOs named as what they are.
run $T msa stats -q ok.a2m -o out/; expect_rc 1; one_physical_line; expect_err "'out/'"; expect_err "a file name is needed"
mkdir adir
run $T msa stats -q ok.a2m -o adir; expect_rc 1; expect_err "'adir': it is a folder"
mkfifo fifo.h5
run $T gym eval -q fifo.h5 -o rep; expect_rc 1; one_physical_line; expect_err "'fifo.h5': it is a FIFO"
run $T gym add -q fifo.h5 --model m --scores s.csv; expect_rc 1; expect_err "it is a FIFO"
run $T denovo sequence -q --model fifo.h5 --spectra x.mgf -o o.mztab; expect_rc 1; expect_err "it is a FIFO"
run $T score -q --model fifo.h5 --sequence MKVLAAGIVG --all-singles -o o.csv; expect_rc 1; expect_err "not a FIFO or device"
run $T convert -q --arch casanovo --checkpoint fifo.h5 -o c.h5; expect_rc 1; expect_err "FIFO"
run $T gym eval -q adir -o rep; expect_rc 1; expect_err "'adir': it is a folder"
run $T gym eval -q missing.h5 -o rep; expect_rc 1; expect_err "'missing.h5': No such file"
[ -p fifo.h5 ] && _pass || _fail "input FIFO replaced"

# Model names (gym add / clinical / eval --models): control characters and table syntax refused.
run $T gym ingest -q --reference "$REF" --assays "$ASSAYS" --only-present -o gym.h5; expect_rc 0
mkdir scores
for f in "$ASSAYS"/*.csv; do awk -F, 'BEGIN{OFS=","} NR==1{print "mutant","avg_score"; next} {print $1, $3}' "$f" > "scores/$(basename "$f")"; done
for name in "$(printf 'two\nlines')" "$(printf 'tab\there')" "pipe|name" 'back`tick' "a,b" "$(printf 'esc\033[0m')" "$(printf 'bad\377utf8')" ""; do
  run $T gym add -q gym.h5 --model "$name" --scores scores; expect_rc 2; one_physical_line; expect_err "--model"
  run $T gym clinical -q --variants v.csv --scores s.csv --model "$name" -o clin; expect_rc 2; one_physical_line
  expect_no_file clin
done
run $T gym eval -q gym.h5 -o rep --models "$(printf 'a\nb')"; expect_rc 2; one_physical_line
run $T gym add -q gym.h5 --model fine --model-type "$(printf 'line\nbreak')" --scores scores; expect_rc 2; one_physical_line
expect_err "--model-type"
run $T gym add -q gym.h5 --model "ok name é" --scores scores; expect_rc 0
run $T gym eval -q gym.h5 -o rep --bootstrap 10; expect_rc 0
grep -q "ok name é" rep/gym_summary_mqc.tsv && _pass || _fail "plain name missing from the MultiQC table"
# A name already in a file (written by another tool) with a newline: refused before the report.
# (tranova itself can no longer write one; h5 tools are not available to tests.)

# Paths with tabs/newlines cannot split mzTab or report lines.
CKPT="$DATA/denovo_model/casanovo_trained_tiny.ckpt"
run $T convert -q --arch casanovo --checkpoint "$CKPT" -o cas.h5; expect_rc 0
tabbed=$(printf 'spec\ttab\nnl.mgf')
cp "$DATA/denovo_model/sample16.mgf" "$tabbed"
run $T denovo sequence -q --model cas.h5 --spectra "$tabbed" -o out.mztab; expect_rc 0
awk -F'\t' '/^MTD/ && NF != 3 {bad=1} END {exit bad}' out.mztab && _pass || _fail "an MTD line split by a path"
run $T denovo eval -q --predictions out.mztab --truth "$tabbed" -o rep_dn; expect_rc 0
grep -q 'spec\\ttab\\nnl.mgf' rep_dn/report.md && _pass || _fail "path not escaped in report.md"

finish
