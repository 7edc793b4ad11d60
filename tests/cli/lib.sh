# Helpers for CLI tests. Source it: `. "$(dirname "$0")/lib.sh"`.
# Each test runs in its own temp dir, removed at exit. Failures print the
# command, and the script exits non-zero.
set -euo pipefail
: "${CELLA:?CELLA must point to the cella binary}"
# The vectors from real tools live in the repository (tests/vectors/PROVENANCE.md).
CELLA_VECTORS=${CELLA_VECTORS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../vectors" && pwd)}
export CELLA_VECTORS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cella-test.XXXXXX")
cd "$TMP"
PASSED=0

# ---- at exit ----
# The EXIT trap belongs to this lib: it runs the commands registered with
# on_exit (the last registered first), stops every server the start_* helpers
# below started, then removes $TMP. A test never sets its own EXIT trap (that
# would leave the servers running); it registers its cleanup with on_exit.
_ON_EXIT=()
_SERVERS=()
_at_exit() {
  local c p
  for c in "${_ON_EXIT[@]}"; do eval "$c" || true; done
  for p in "${_SERVERS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${_SERVERS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap _at_exit EXIT
# on_exit CMD: eval CMD at exit, before the servers stop and $TMP goes.
on_exit() { _ON_EXIT=("$1" "${_ON_EXIT[@]}"); }

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); }
# rss_checked: true unless $CELLA is an AddressSanitizer build, whose quarantine keeps freed
# blocks (256 MB by default) and whose shadow grows with the heap: an RSS bound then measures
# ASan, not cella. Tests of RSS bounds check them in the normal build (make test) only.
rss_checked() {
  # not `ldd | grep -q`: grep leaving early makes ldd die of SIGPIPE, a failure under pipefail
  if [[ $(ldd "$CELLA" 2>/dev/null) == *libasan* ]]; then
    echo "note: RSS bound not checked: $CELLA is an ASan build" >&2
    return 1
  fi
}

# flip_byte FILE OFFSET: XORs one bit of the byte at OFFSET (inside FILE), so
# the file always changes (writing a constant leaves it as it was 1 time in 256)
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  [[ -n "$b" ]] || fail "flip_byte: $1 has no byte at offset $2"
  printf "\\x$(printf %02x $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

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
    cat "$TMP/.err" "$TMP/.out" >&2; fail "expected failure ($pattern): $*"
  fi
  local lines
  lines=$(grep -c '^cella: error: ' "$TMP/.err" || true)
  [[ "$lines" == 1 ]] || { cat "$TMP/.err" >&2; fail "expected one error line: $*"; }
  grep -Eq "$pattern" "$TMP/.err" || { cat "$TMP/.err" >&2; fail "error does not match /$pattern/: $*"; }
  [[ ! -s "$TMP/.out" ]] || { cat "$TMP/.out" >&2; fail "partial output on stdout: $*"; }
  ok
}

finish() { echo "$(basename "$0" .sh): $PASSED checks passed"; }

# skip MSG: the test cannot run here; it prints "SKIP: MSG" and exits 77, which
# ctest shows as skipped (SKIP_RETURN_CODE), never as passed. .ci/run fails
# on any skip; CELLA_REQUIRE_SDK=1 makes a skip a failure right away.
skip() {
  if [[ "${CELLA_REQUIRE_SDK:-0}" == 1 ]]; then fail "$*"; fi
  echo "SKIP: $*"; exit 77
}

# need_iexec_sdk [MAJOR]: the real iExec SDK (npm iexec@MAJOR; 8 unless given,
# or $CELLA_SDK_VERSION), installed once into ${CELLA_NPM_CACHE:-~/.cache/cella-npm}
# for 8 and into that path with MAJOR appended (~/.cache/cella-npm9) for
# others, and shared by every SDK test. Sets SDK_MAJOR, CACHE, SDK (the package
# dir) and IEXEC (its CLI); skips without node/npm or when the install fails
# (offline).
need_iexec_sdk() {
  SDK_MAJOR=${1:-${CELLA_SDK_VERSION:-8}}
  command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm not installed"
  CACHE=${CELLA_NPM_CACHE:-$HOME/.cache/cella-npm}
  [[ $SDK_MAJOR == 8 ]] || CACHE=$CACHE$SDK_MAJOR
  SDK=$CACHE/node_modules/iexec
  IEXEC=$CACHE/node_modules/.bin/iexec
  if [[ $(_sdk_version) != "$SDK_MAJOR".* ]]; then
    mkdir -p "$CACHE"
    echo "installing iexec@$SDK_MAJOR into $CACHE (once)..."
    # flock: parallel test runs share the cache
    if ! (flock 9; [[ $(_sdk_version) == "$SDK_MAJOR".* ]] ||
          timeout 600 npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "iexec@$SDK_MAJOR" \
            >"$TMP/npm.log" 2>&1) 9>"$CACHE/.lock"; then
      tail -5 "$TMP/npm.log" >&2 || true
      skip "npm install iexec@$SDK_MAJOR failed (offline?)"
    fi
  fi
  [[ $(_sdk_version) == "$SDK_MAJOR".* ]] || skip "iexec@$SDK_MAJOR not usable in $CACHE"
  echo "using iexec SDK $(_sdk_version) from $SDK"
}
_sdk_version() { node -p 'require(process.argv[1]).version' "$SDK/package.json" 2>/dev/null || true; }

# doc_script PAGE MIN_SH [JSFILE]: a bash script made of PAGE's ```sh blocks
# in order (at least MIN_SH of them), for a test that runs a doc as written;
# with JSFILE, the page's one ```js block becomes `cat > JSFILE` where it
# stands. The script stops at the first failure and interrupts the servers it
# started in the background (cella up) when it ends.
doc_script() {
  echo 'set -euo pipefail'
  echo 'trap '"'"'for j in $(jobs -p); do kill -INT "$j" 2>/dev/null; done; wait'"'"' EXIT'
  python3 - "$@" <<'PY2'
import re, sys
page, min_sh = sys.argv[1], int(sys.argv[2])
js = sys.argv[3] if len(sys.argv) > 3 else None
blocks = re.findall(r"^```(sh|js)\n(.*?)^```", open(page).read(), re.S | re.M)
kinds = [k for k, _ in blocks]
assert kinds.count("sh") >= min_sh, page + " lost its sh blocks"
assert js is None or kinds.count("js") == 1, page + ": one js block (" + str(js) + ")"
for kind, b in blocks:
    if kind == "js" and js:
        sys.stdout.write("cat > " + js + " <<'CELLA_JS'\n" + b + "CELLA_JS\n")
    elif kind == "sh":
        sys.stdout.write(b)
PY2
}

# ---- servers ----
# free_port: a TCP port free on 127.0.0.1 right now (for servers other than
# cella's: these take --listen 127.0.0.1:0 and print the port they bound).
# static_busybox: /bin/busybox is a static executable (busybox-static), so it
# runs in a hand-made image root that holds no libc
static_busybox() { [[ -x /bin/busybox ]] && command -v readelf >/dev/null && ! readelf -l /bin/busybox 2>/dev/null | grep -q 'program interpreter'; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# stop_server PID [SIGNAL]: stop a server a start_* helper started (SIGTERM,
# or SIGNAL, e.g. KILL), wait for it, and drop it from the exit cleanup.
stop_server() {
  local pid=$1 p keep=()
  kill -s "${2:-TERM}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${_SERVERS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  _SERVERS=("${keep[@]}")
}

# _serve NAME LOG CHECK ARGS...: `cella NAME serve --data $TMP/NAMEd --threads 2
# ARGS` in the background, its output in LOG, stopped at exit; its PID in
# _PID. Returns once CHECK succeeds (polled for up to 10 s); fails, showing
# LOG, when the server exits first or CHECK never succeeds.
_serve() {
  local name=$1 log=$2 check=$3; shift 3
  local db=()
  # The pg.* runs of these tests: hub and cas on PostgreSQL ($CELLA_TEST_PG,
  # the ctest fixture's server), each test in a schema of its own.
  if [[ -n ${CELLA_TEST_PG:-} && ( $name == hub || $name == cas ) ]]; then
    local schema="${name}_$(basename "$TMP" | tr -c 'a-zA-Z0-9\n' _ | tr A-Z a-z)"
    PGOPTIONS=--client-min-messages=warning psql "$CELLA_TEST_PG" -qAt \
      -c "CREATE SCHEMA IF NOT EXISTS $schema" >/dev/null ||
      fail "cannot create schema $schema on $CELLA_TEST_PG"
    db=(--db "$CELLA_TEST_PG&options=-csearch_path%3D$schema")
  fi
  "$CELLA" "$name" serve --data "$TMP/${name}d" --threads 2 "${db[@]}" "$@" > "$log" 2>&1 &
  _PID=$!
  _SERVERS+=("$_PID")
  for _ in $(seq 200); do
    "$check" && return 0
    kill -0 "$_PID" 2>/dev/null || { cat "$log" >&2; fail "$name exited"; }
    sleep 0.05
  done
  cat "$log" >&2; fail "$name did not start"
}

# listening_url NAME LOG: the URL a cella server printed in LOG
# ("NAME listening on URL"), empty until it did.
listening_url() { sed -n "s/^$1 listening on \(http[s]*:\/\/[^ ]*\)\$/\1/p" "$2" | tail -n 1; }

# start_hub [--log FILE] [ARGS...]: `cella hub serve` on a loopback port the
# kernel picks, data in $TMP/hubd, 2 threads, then ARGS (e.g. --dev-faucet).
# Returns once it printed "hub listening on URL" and GET /v1/health answers
# 200. Sets HUB_PORT, HUB_URL, HUB_PID and HUB_LOG ($TMP/FILE, default
# hub.log). Called again (after stop_server "$HUB_PID"), it restarts the hub
# on the same port and data.
HUB_PORT=
start_hub() {
  local log=hub.log
  if [[ ${1:-} == --log ]]; then log=$2; shift 2; fi
  HUB_LOG=$TMP/$log
  _serve hub "$HUB_LOG" _hub_ready --listen "127.0.0.1:${HUB_PORT:-0}" "$@"
  HUB_PID=$_PID
  HUB_PORT=${HUB_URL##*:}
}
_hub_ready() {
  HUB_URL=$(listening_url hub "$HUB_LOG")
  [[ -n $HUB_URL ]] && curl -sf -m 2 -o /dev/null "$HUB_URL/v1/health"
}

# start_cas [--log FILE] [ARGS...]: `cella cas serve` on loopback, data in
# $TMP/casd, 2 threads, then ARGS (e.g. --allow-sim --sim-platform F --hub U).
# Listens on a loopback port the kernel picks; returns once it printed its
# URL and "fingerprint" line (64 hex digits) and GET /v1/health serves that
# same fingerprint. Sets CAS_PORT, CAS_URL, CAS_FP,
# CAS_PID, CAS_LOG ($TMP/FILE, default cas.log) and CAS, the client's
# options: (--cas "$CAS_URL" --cas-fingerprint "$CAS_FP"). Called again (after
# stop_server "$CAS_PID"), it restarts the cas on the same port and data.
CAS_PORT=
start_cas() {
  local log=cas.log
  if [[ ${1:-} == --log ]]; then log=$2; shift 2; fi
  CAS_LOG=$TMP/$log
  _serve cas "$CAS_LOG" _cas_ready --listen "127.0.0.1:${CAS_PORT:-0}" "$@"
  CAS_PID=$_PID
  CAS_PORT=${CAS_URL##*:}
  CAS_FP=$(awk '/^fingerprint/ {print $2}' "$CAS_LOG")
  [[ $CAS_FP =~ ^[0-9a-f]{64}$ ]] || { cat "$CAS_LOG" >&2; fail "cas did not print its fingerprint"; }
  grep -q "\"fingerprint\":\"$CAS_FP\"" "$TMP/.cas-health" ||
    fail "cas health serves another fingerprint: $(cat "$TMP/.cas-health")"
  CAS=(--cas "$CAS_URL" --cas-fingerprint "$CAS_FP")
}
_cas_ready() {
  CAS_URL=$(listening_url cas "$CAS_LOG")
  [[ -n $CAS_URL ]] && grep -q '^fingerprint' "$CAS_LOG" &&
    curl -skf -m 2 -o "$TMP/.cas-health" "$CAS_URL/v1/health"
}

# start_blobs [--log FILE] [ARGS...]: `cella blobs serve` on a loopback port
# the kernel picks, data in $TMP/blobsd, 2 threads, then ARGS (e.g.
# --max-size 1M). Returns once it printed its URL. Sets BLOBS_URL, BLOBS_PID
# and BLOBS_LOG ($TMP/FILE, default blobs.log).
start_blobs() {
  local log=blobs.log
  if [[ ${1:-} == --log ]]; then log=$2; shift 2; fi
  BLOBS_LOG=$TMP/$log
  _serve blobs "$BLOBS_LOG" _blobs_ready --listen 127.0.0.1:0 "$@"
  BLOBS_PID=$_PID
}
_blobs_ready() {
  BLOBS_URL=$(listening_url blobs "$BLOBS_LOG")
  [[ -n "$BLOBS_URL" ]]
}

# start_up LOG ARGS...: `cella up ARGS` in the background, its output in
# LOG, until it prints "ready" (fails, showing LOG and the stack's logs, if it
# exits first or takes a minute). Sets UP_PID; stop_up (also run at exit)
# stops it with SIGINT and waits for it.
UP_PID=""
start_up() {
  local log=$1 dir; shift
  [[ -n ${_UP_ON_EXIT:-} ]] || { on_exit stop_up; _UP_ON_EXIT=1; }
  "$CELLA" up "$@" > "$log" 2>&1 &
  UP_PID=$!
  for _ in $(seq 600); do
    grep -q '^ready' "$log" 2>/dev/null && return 0
    kill -0 "$UP_PID" 2>/dev/null || break
    sleep 0.1
  done
  dir=$(sed -n 's/^logs *//p' "$log")
  cat "$log" ${dir:+"$dir"/*.log} >&2; fail "cella up did not start"
}
# start_market [ARGS...]: `cella up --data stack --listen-base 0 --slots 0 ARGS`
# (start_up, output in up.log) and the stack it prints: INIT (the `cella init`
# arguments, an array), BLOBS, HUB, POOL and POOL_WALLET (its owner's wallet).
start_market() {
  start_up up.log --data stack --listen-base 0 --slots 0 "$@"
  read -r -a INIT < <(sed -n 's/^  cella init //p' up.log)
  BLOBS=$(sed -n 's/^blobs *//p' up.log)
  POOL=$(awk '/^worker/ {print $3}' up.log | tr -d ,)
  POOL_WALLET=$(ls "$TMP"/stack/pool/wallet-*.json)
  HUB=$(sed -n 's/^hub *\([^ ]*\).*/\1/p' up.log)
}
stop_up() {
  [[ -n "$UP_PID" ]] || return 0
  kill -INT "$UP_PID" 2>/dev/null || true
  wait "$UP_PID" 2>/dev/null || true
  UP_PID=""
}

# ---- wallets ----
# new_wallet NAME...: for each NAME, an unencrypted wallet (keystore in
# $TMP/keys-NAME) and the directory $TMP/NAME holding two files: "wallet",
# the keystore file's path, and "address", its address. W NAME and A NAME
# print them.
new_wallet() {
  local who
  for who in "$@"; do
    mkdir -p "$TMP/$who"
    "$CELLA" wallet create --unencrypted --keystoredir "$TMP/keys-$who" > "$TMP/$who/address" \
      2> "$TMP/.wallet-err" || { cat "$TMP/.wallet-err" >&2; fail "wallet create $who"; }
    [[ $(cat "$TMP/$who/address") =~ ^0x[0-9a-fA-F]{40}$ ]] ||
      fail "wallet create $who printed $(cat "$TMP/$who/address")"
    ls "$TMP/keys-$who"/* > "$TMP/$who/wallet"
  done
}
W() { cat "$TMP/$1/wallet"; }
A() { cat "$TMP/$1/address"; }
