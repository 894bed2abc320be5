# Shared helpers for the CLI tests (sourced). Usage in a test script:
#   source "$(dirname "$0")/cli_lib.sh" "$@"
#   run "$TRANOVA" gym --help; expect_rc 0; expect_out "Usage:"
#   finish
# Each script runs in its own fresh temporary folder ($WORK), removed at exit.
set -u
TRANOVA=$(readlink -f "$1")
SRC=$(readlink -f "$2")
DATA="$SRC/tests/data"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
PASSES=0
FAILURES=0
RC=0; OUT=""; ERR=""
LAST_CMD=""

# run CMD...: runs it, capturing exit code (RC), stdout (OUT) and stderr (ERR).
run() {
  LAST_CMD="$*"
  "$@" >"$WORK/.stdout" 2>"$WORK/.stderr"
  RC=$?
  OUT=$(cat "$WORK/.stdout")
  ERR=$(cat "$WORK/.stderr")
}
_pass() { PASSES=$((PASSES + 1)); }
_fail() {
  FAILURES=$((FAILURES + 1))
  echo "FAIL: $1"
  echo "  command: $LAST_CMD"
  echo "  exit code: $RC"
  echo "  stderr: $(echo "$ERR" | head -5)"
}
expect_rc() { if [ "$RC" -eq "$1" ]; then _pass; else _fail "expected exit code $1"; fi; }
expect_out() { if grep -qF -- "$1" "$WORK/.stdout"; then _pass; else _fail "stdout lacks '$1'"; fi; }
expect_err() { if grep -qF -- "$1" "$WORK/.stderr"; then _pass; else _fail "stderr lacks '$1'"; fi; }
expect_no_err() { if grep -qF -- "$1" "$WORK/.stderr"; then _fail "stderr has '$1'"; else _pass; fi; }
# The error is exactly one line on stderr (footer and logs excluded by --quiet callers).
expect_one_line_err() {
  local n; n=$(grep -c . "$WORK/.stderr")
  if [ "$n" -eq 1 ]; then _pass; else _fail "expected a one-line error, got $n lines"; fi
}
expect_file() { if [ -s "$1" ]; then _pass; else _fail "missing or empty file $1"; fi; }
expect_no_file() { if [ -e "$1" ]; then _fail "file $1 should not exist"; else _pass; fi; }
# No hidden temporaries (.NAME.tmp.XXXXXX) left in a folder.
expect_no_temp() {
  if ls -A "${1:-.}" 2>/dev/null | grep -q '\.tmp\.'; then _fail "temporary file left in ${1:-.}"; else _pass; fi
}
finish() {
  echo "$PASSES passed, $FAILURES failed"
  [ "$FAILURES" -eq 0 ]
}
