# shellcheck shell=bash
# Helpers for cluster tests (tests/cluster/*.sh, run by ctest as root): a cella cluster of
# scripts/cluster.sh for one test. Source it: `. "$(dirname "$0")/lib.sh"`.
#
# Each test has its own cluster name, cella-t<test> (namespaces cella-t<test>-h1...), and
# folder /tmp/cella-t<test>: tests do not see each other's, and a run that was killed has
# its leftovers removed by the next run of the same test. At exit, however the test ends
# (a failure, a signal, its time limit), the cluster is torn down; on a failure the end of
# every server's log is shown first. Traffic stays inside the cluster's namespaces: tests
# reach servers only with `on HOST CMD` (never from the root namespace).
set -euo pipefail
: "${CELLA:?CELLA must point to the cella binary}"
SRC=${CELLA_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# the helpers beside this file (lib.d/), before the test moves to its folder
# shellcheck disable=SC2034  # for the tests that source this file
CLUSTER_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.d
CLUSTER_SH=$SRC/scripts/cluster.sh
TEST=$(basename "$0" .sh)
export CELLA CLUSTER_NAME=cella-t${TEST//_/-}
export CLUSTER_DIR=/tmp/$CLUSTER_NAME
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cella-ctest.XXXXXX")
cd "$TMP"
PASSED=0
_WATCHDOG=

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); }
finish() { echo "$TEST: $PASSED checks passed in ${SECONDS} s"; }
# skip MSG: this machine cannot run the test (exit 77: skipped, never passed).
skip() { echo "SKIP: $*"; exit 77; }

_at_exit() {
  local rc=$? f
  [[ -z $_WATCHDOG ]] || kill "$_WATCHDOG" 2>/dev/null || true
  if ((rc != 0)) && [[ -d $CLUSTER_DIR/logs ]]; then
    for f in "$CLUSTER_DIR"/logs/*.log "$CLUSTER_DIR"/pg/postgres.log; do
      [[ -s $f ]] && { echo "---- $f" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  "$CLUSTER_SH" down >/dev/null 2>&1 || echo "cluster down failed: $CLUSTER_NAME may be left" >&2
  rm -rf "$TMP"
}
trap _at_exit EXIT
trap 'echo "FAIL: $TEST: interrupted" >&2; exit 1' INT TERM

# need_cluster SECONDS: skip unless root with network namespaces; then the whole test, up
# and down included, must end within SECONDS (a watchdog fails it, and the cluster goes).
need_cluster() {
  [[ $(id -u) == 0 ]] || skip "cluster tests need root (network namespaces)"
  command -v ip >/dev/null || skip "no ip command (iproute2) for network namespaces"
  local probe=cella-probe-$$
  ip netns add "$probe" 2>/dev/null || skip "this machine cannot create network namespaces"
  ip netns del "$probe"
  local limit=$1 me=$$
  # its sleep holds no output of the test's (ctest waits for those) and goes with it
  (trap 'kill "$s" 2>/dev/null; exit 0' TERM
   sleep "$limit" </dev/null >/dev/null 2>&1 & s=$!
   wait "$s"
   echo "FAIL: $TEST took more than $limit s" >&2
   kill -TERM "$me") &
  _WATCHDOG=$!
}

# cl ARGS...: scripts/cluster.sh for this test's cluster.
cl() { "$CLUSTER_SH" "$@"; }
# on HOST CMD...: CMD inside HOST's namespace.
on() { "$CLUSTER_SH" exec "$@"; }

# cluster_up ARGS...: `cluster.sh up ARGS` (its output in $TMP/up.log), then the cluster's
# variables (cluster.env: URL_hub1, HUB_FP, HOST_cas2, POOL...) in this shell.
cluster_up() {
  export CLUSTER_DB=${CLUSTER_DB:-postgres}
  [[ $CLUSTER_DB == postgres ]] ||
    echo "NOTE: CLUSTER_DB=$CLUSTER_DB: hubs and cas on their own SQLite files (test only, nothing shared)"
  cl up "$@" > "$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; fail "cluster up $*"; }
  . "$CLUSTER_DIR/cluster.env"
}

# expect_ok CMD...: CMD must succeed; its output in $TMP/.out.
expect_ok() {
  "$@" >"$TMP/.out" 2>"$TMP/.err" || { cat "$TMP/.out" "$TMP/.err" >&2; fail "expected success: $*"; }
  ok
}
# expect_fail PATTERN CMD...: CMD must fail with PATTERN in its output.
expect_fail() {
  local pattern=$1; shift
  ! "$@" >"$TMP/.out" 2>&1 || fail "expected failure ($pattern): $*"
  grep -Eq "$pattern" "$TMP/.out" || { cat "$TMP/.out" >&2; fail "failure without /$pattern/: $*"; }
  ok
}

# another_host ROLE: a host of the cluster other than ROLE's (the first one).
another_host() {
  local v="HOST_$1" k
  for ((k = 1; k <= CLUSTER_HOSTS; k++)); do [[ h$k == "${!v}" ]] || { echo "h$k"; return; }; done
  fail "no host other than ${!v}"
}

# pinned ROLE: curl's options to reach a hub or cas replica through its key only (the
# SHA-256 of its public key, base64, from its certificate); nothing for the others.
pinned() {
  [[ -f $CLUSTER_DIR/$1/tls.crt ]] || return 0
  echo "-k --pinnedpubkey sha256//$(openssl x509 -in "$CLUSTER_DIR/$1/tls.crt" -pubkey -noout |
    openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64)"
}

# root_net: the root namespace's interfaces and addresses, to compare before and after.
root_net() { ip -o link | awk '{print $2}'; ip -o addr | awk '{print $2, $4}'; }

# no_leaks: after down, nothing of the cluster is left: no namespace, no process whose
# command line names its folder, no folder.
no_leaks() {
  local left
  left=$(ip netns list | awk '{print $1}' | grep "^$CLUSTER_NAME-" || true)
  [[ -z $left ]] || fail "namespaces left: $left"
  left=$(grep -laF -f <(echo "$CLUSTER_DIR/") /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true)
  [[ -z $left ]] || fail "processes left: $(for p in $left; do tr '\0' ' ' < "/proc/$p/cmdline"; echo; done)"
  [[ ! -e $CLUSTER_DIR ]] || fail "$CLUSTER_DIR left"
  ok
}
