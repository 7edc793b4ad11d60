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

# skip MSG: the test cannot run here; it passes with "SKIP: MSG", unless
# CELLA_REQUIRE_SDK=1 turns a missing SDK into a failure.
skip() {
  if [[ "${CELLA_REQUIRE_SDK:-0}" == 1 ]]; then fail "$*"; fi
  echo "SKIP: $*"; exit 0
}

# need_iexec_sdk: the real iExec SDK (npm iexec@8), installed once into
# ${CELLA_NPM_CACHE:-~/.cache/cella-npm} and shared by every SDK test. Sets
# CACHE, SDK (the package dir) and IEXEC (its CLI); skips without node/npm or
# when the install fails (offline).
need_iexec_sdk() {
  command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm not installed"
  CACHE=${CELLA_NPM_CACHE:-$HOME/.cache/cella-npm}
  SDK=$CACHE/node_modules/iexec
  IEXEC=$CACHE/node_modules/.bin/iexec
  if [[ $(_sdk_version) != 8.* ]]; then
    mkdir -p "$CACHE"
    echo "installing iexec@8 into $CACHE (once)..."
    # flock: parallel test runs share the cache
    if ! (flock 9; [[ $(_sdk_version) == 8.* ]] ||
          timeout 600 npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error iexec@8 \
            >"$TMP/npm.log" 2>&1) 9>"$CACHE/.lock"; then
      tail -5 "$TMP/npm.log" >&2 || true
      skip "npm install iexec@8 failed (offline?)"
    fi
  fi
  [[ $(_sdk_version) == 8.* ]] || skip "iexec@8 not usable in $CACHE"
  echo "using iexec SDK $(_sdk_version) from $SDK"
}
_sdk_version() { node -p 'require(process.argv[1]).version' "$SDK/package.json" 2>/dev/null || true; }
