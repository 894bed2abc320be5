# The dispatcher and the conventions every subcommand shares: bare --version, version,
# help, --help with examples on every (nested) subcommand, usage errors exit 2, write
# errors exit 1.
source "$(dirname "$0")/cli_lib.sh" "$@"

run "$TRANOVA" --version
expect_rc 0
if [[ "$OUT" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then _pass; else _fail "--version is not a bare version: '$OUT'"; fi

run "$TRANOVA" version
expect_rc 0
for key in "compiler:" "BLAS:" "HDF5:" "htslib:" "SeqAn3:" "CUDA:" "OpenMP:"; do expect_out "$key"; done

run "$TRANOVA"
expect_rc 2
expect_err "Usage:"

run "$TRANOVA" help
expect_rc 0
expect_out "Usage:"

run "$TRANOVA" no-such-command
expect_rc 2
expect_err "unknown command 'no-such-command'"

run "$TRANOVA" help no-such-command
expect_rc 2

# Every listed command (and every nested command) has --help with Usage and an example.
commands=$("$TRANOVA" help | awk '/^     [a-z]/ && $1 != "help" && $1 != "--version" {print $1}')
[ -n "$commands" ] && _pass || _fail "no commands listed by 'tranova help'"
# Every command registered in the sources (TRANOVA_REGISTER_COMMAND) is listed, whatever
# its group: a group missing from main.cpp's group_order must not hide a command.
registered=$(grep -rhoP 'TRANOVA_REGISTER_COMMAND\(\w+, \{"\K[^"]+' "$SRC/apps" | sort)
[ "$(echo "$registered" | wc -l)" -ge 8 ] && _pass || _fail "found too few TRANOVA_REGISTER_COMMAND lines in apps/"
for c in $registered; do
  if echo "$commands" | grep -qx "$c"; then _pass; else _fail "registered command '$c' is missing from 'tranova help'"; fi
done
check_help() {
  run "$TRANOVA" "$@" --help
  if [ "$RC" -ne 0 ]; then _fail "'$*' --help exit code"; return; fi
  if grep -q '^Commands:' "$WORK/.stdout"; then
    local subs; subs=$(awk '/^Commands:/{f=1;next} f && /^  [a-z]/{print $1} f && /^$/{f=0}' "$WORK/.stdout")
    for s in $subs; do check_help "$@" "$s"; done
    # a bare group prints its command list and exits 2
    run "$TRANOVA" "$@"; expect_rc 2; expect_err "Usage:"
  else
    expect_out "Usage: tranova $*"
    expect_out "Examples:"
    expect_out "--threads"
    run "$TRANOVA" "$@" --no-such-option
    expect_rc 2
    expect_err "tranova $1"
    run "$TRANOVA" help "$@"
    expect_rc 0
  fi
}
for c in $commands; do check_help "$c"; done

# A bare subcommand that needs input prints its usage (exit 2); 'version' runs bare.
run "$TRANOVA" version --threads -1
expect_rc 2

# A failed write to stdout is an error (exit 1), not a silent success.
if [ -w /dev/full ]; then
  "$TRANOVA" version >/dev/full 2>"$WORK/.stderr"; RC=$?; ERR=$(cat "$WORK/.stderr"); LAST_CMD="version >/dev/full"
  expect_rc 1
  expect_err "cannot write to standard output"
fi

# Footer on stderr after a run, not with --quiet.
run "$TRANOVA" version
expect_err "Peak RSS"
run "$TRANOVA" version --quiet
expect_no_err "Peak RSS"

finish
