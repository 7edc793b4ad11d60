#!/usr/bin/env bash
# Runs the test suite of a build directory with ctest.
# usage: scripts/ctest.sh BUILD_DIR [CTEST_ARGS...]
# A test that cannot run here exits 77 and ctest shows it as skipped. Under CI
# (CI=true) a skipped test fails the run: CI installs everything, so a skip
# there means a check silently did not happen.
set -uo pipefail
build=$1; shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$build" --output-on-failure -j"${JOBS:-$(nproc)}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [[ "${CI:-}" == true ]] && grep -q '(Skipped)$' "$log"; then
  echo "cella: error: a test was skipped, and CI must run every test (CI=true):" >&2
  grep '(Skipped)$' "$log" >&2
  status=1
fi
exit "$status"
