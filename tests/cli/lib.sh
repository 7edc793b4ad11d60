# Helpers for CLI tests. Source it: `. "$(dirname "$0")/lib.sh"`.
# Each test runs in its own temp dir, removed at exit. Failures print the
# command, and the script exits non-zero.
set -euo pipefail
: "${CELLA:?CELLA must point to the cella binary}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cella-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
PASSED=0

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); }

# expect_ok CMD...: must exit 0
expect_ok() {
  if ! "$@" >"$TMP/.out" 2>"$TMP/.err"; then
    cat "$TMP/.err" >&2; fail "expected success: $*"
  fi
  ok
}

# expect_fail PATTERN CMD...: must exit non-zero, print exactly one
# 'cella: error: ' line on stderr matching PATTERN, and nothing on stdout.
expect_fail() {
  local pattern=$1; shift
  if "$@" >"$TMP/.out" 2>"$TMP/.err"; then
    fail "expected failure ($pattern): $*"
  fi
  local lines
  lines=$(grep -c '^cella: error: ' "$TMP/.err" || true)
  [[ "$lines" == 1 ]] || { cat "$TMP/.err" >&2; fail "expected one error line: $*"; }
  grep -Eq "$pattern" "$TMP/.err" || { cat "$TMP/.err" >&2; fail "error does not match /$pattern/: $*"; }
  [[ ! -s "$TMP/.out" ]] || { cat "$TMP/.out" >&2; fail "partial output on stdout: $*"; }
  ok
}

finish() { echo "$(basename "$0" .sh): $PASSED checks passed"; }
