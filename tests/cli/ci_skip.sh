#!/usr/bin/env bash
# scripts/ctest.sh, which `make test` and CI run: a test that exits 77 shows
# as skipped (SKIP_RETURN_CODE), never as passed; under CI=true a skip fails
# the run and names the test; without CI it does not. On a throwaway ctest
# project of two tests (one passes, one skips) built in $TMP.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/cli/lib.sh"
mkdir proj
cat > proj/CMakeLists.txt <<'C'
cmake_minimum_required(VERSION 3.13)
project(skipcheck NONE)
enable_testing()
add_test(NAME passes COMMAND true)
add_test(NAME cannot_run COMMAND sh -c "echo SKIP: no such thing here; exit 77")
set_tests_properties(cannot_run PROPERTIES SKIP_RETURN_CODE 77)
C
cmake -S proj -B proj/build >/dev/null || fail "cmake"
rc=0; CI= bash "$SRC/scripts/ctest.sh" proj/build > out.txt 2>&1 || rc=$?
[[ $rc == 0 ]] || fail "a skip failed the run without CI (exit $rc): $(cat out.txt)"
grep -q 'cannot_run (Skipped)' out.txt || fail "the skip is not shown as skipped: $(cat out.txt)"
ok
rc=0; CI=true bash "$SRC/scripts/ctest.sh" proj/build > out.txt 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "CI=true: a skip did not fail the run (exit $rc)"
grep -q '^cella: error: a test was skipped, and CI must run every test' out.txt || fail "no error line: $(cat out.txt)"
ok
# a failure still fails, with or without CI
sed -i 's/COMMAND true)/COMMAND false)/' proj/CMakeLists.txt
cmake -S proj -B proj/build >/dev/null || fail "cmake"
rc=0; CI= bash "$SRC/scripts/ctest.sh" proj/build > out.txt 2>&1 || rc=$?
[[ $rc != 0 ]] || fail "a failing test passed the run"
ok
finish
