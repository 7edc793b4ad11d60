#!/usr/bin/env bash
# cella doctor: on a healthy `cella up` project every service check passes
# (and the whole run exits 0 where the machine checks pass too); a wrong cas
# pin (and the fix it gives works), a hub of another chain, a wrong hub pin, a
# hub that is down, a port taken by another program each fail with what is
# wrong and the command that fixes it. Everything listens on loopback.
. "$(dirname "$0")/lib.sh"

# doctor DIR [ARGS...]: `cella doctor --json` run in DIR; its exit status in
# RC, its report in $TMP/doctor.json, its stderr in $TMP/doctor.err
doctor() {
  local dir=$1; shift
  RC=0
  (cd "$dir" && "$CELLA" doctor --json --timeout 5 "$@") > "$TMP/doctor.json" 2> "$TMP/doctor.err" || RC=$?
  python3 -c 'import json,sys;json.load(open(sys.argv[1]))' "$TMP/doctor.json" ||
    fail "doctor --json printed no JSON: $(cat "$TMP/doctor.json" "$TMP/doctor.err")"
}
# field NAME KEY [N]: KEY ("status", "detail", "fix") of the Nth (default 1st) check NAME
field() {
  python3 - "$TMP/doctor.json" "$@" <<'PY'
import json, sys
checks = [c for c in json.load(open(sys.argv[1]))["checks"] if c["name"] == sys.argv[2]]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
print(checks[n - 1].get(sys.argv[3]) or "" if len(checks) >= n else "MISSING")
PY
}
# expect_check NAME STATUS [DETAIL-PATTERN [FIX-PATTERN]]
expect_check() {
  local st detail fix
  st=$(field "$1" status); detail=$(field "$1" detail); fix=$(field "$1" fix)
  [[ $st == "$2" ]] || fail "check $1 is '$st', not $2: $detail / $fix"
  [[ -z ${3:-} ]] || grep -Eq -- "$3" <<<"$detail" || fail "check $1 says '$detail', not /$3/"
  [[ -z ${4:-} ]] || grep -Eq -- "$4" <<<"$fix" || fail "the fix for $1 is '$fix', not /$4/"
  ok
}
# project DIR KEY=JSON...: DIR/cella.json, the stack's with KEYs set (a.b: nested)
project() {
  mkdir -p "$1"
  python3 - stack/cella.json "$@" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    *path, last = k.split(".")
    o = c
    for p in path:
        o = o[p]
    o[last] = json.loads(v)
json.dump(c, open(sys.argv[2] + "/cella.json", "w"))
PY
}
# the machine checks (not the project's) that fail here, if any
machine_problems() {
  python3 - "$TMP/doctor.json" <<'PY'
import json, sys
print(" ".join(c["name"] for c in json.load(open(sys.argv[1]))["checks"]
               if c["status"] == "fail" and c["name"] not in ("hub", "cas", "blobs", "port")))
PY
}

# ---- usage ----
expect_fail '\(--timeout\)' "$CELLA" doctor --timeout 0
expect_fail '\(--listen-base\)' "$CELLA" doctor --listen-base 70000
expect_ok "$CELLA" help doctor
grep -q '^usage: cella doctor' "$TMP/.out" || fail "help doctor"

# ---- a healthy `cella up` project ----
start_up "$TMP/up.log" --data stack --listen-base 0 --slots 0
HUB=$(sed -n 's/^hub *\([^ ]*\).*/\1/p' "$TMP/up.log")
CAS=$(sed -n 's/^cas *\([^ ]*\).*/\1/p' "$TMP/up.log")
CAS_FP=$(sed -n 's/^cas .*fingerprint \([0-9a-f]\{64\}\).*/\1/p' "$TMP/up.log")
[[ $CAS_FP =~ ^[0-9a-f]{64}$ ]] || fail "up printed no cas fingerprint: $(cat "$TMP/up.log")"
doctor stack
expect_check hub ok "^$HUB answers: the hub 0x[0-9a-fA-F]{40} of chain 421614$"
expect_check cas ok "^$CAS answers, its key matches the pin$"
expect_check blobs ok "answers$"
[[ $(field port status) == MISSING ]] || fail "a project's doctor checks the default ports"
PROBLEMS=$(machine_problems)
if [[ -z $PROBLEMS ]]; then
  [[ $RC == 0 ]] || fail "doctor on a healthy project exited $RC: $(cat "$TMP/doctor.err")"
  [[ ! -s $TMP/doctor.err ]] || fail "doctor on a healthy project complained: $(cat "$TMP/doctor.err")"
  (cd stack && "$CELLA" doctor) > plain.out 2>&1 || fail "plain doctor: $(cat plain.out)"
  grep -q '^all [0-9]* checks passed$' plain.out || fail "plain doctor: $(cat plain.out)"
else
  echo "doctor: this machine fails: $PROBLEMS (the project's checks passed)"
  [[ $RC != 0 ]] || fail "doctor exited 0 with failed checks"
fi
ok

# ---- a wrong cas pin: the mismatch, and the fix (which works) ----
project badpin cas.fingerprint="\"$(printf 'ab%.0s' $(seq 32))\""
doctor badpin
[[ $RC == 1 ]] || fail "a wrong pin: exit $RC"
expect_check cas fail "^$CAS presents the key $CAS_FP, but cella.json pins (ab){32} " \
  "^if $CAS_FP is the key \`cas serve\` printed: cella init --cas $CAS --cas-fingerprint $CAS_FP$"
expect_check hub ok
grep -q '^cella: error: 1 of [0-9]* checks failed (doctor)$' "$TMP/doctor.err" ||
  fail "doctor's error line: $(cat "$TMP/doctor.err")"
(cd badpin && "$CELLA" doctor --timeout 5) > plain.out 2>&1 && fail "plain doctor passed a wrong pin"
grep -q "^FAIL  cas  " plain.out && grep -q "^      fix: if $CAS_FP is the key" plain.out ||
  fail "plain doctor: $(cat plain.out)"
FIX=$(field cas fix); FIX=${FIX#*printed: }
(cd badpin && PATH=$(dirname "$CELLA"):$PATH && eval "$FIX" 2>/dev/null) || fail "the fix failed: $FIX"
doctor badpin
expect_check cas ok

# ---- a hub whose orders' chain is not the project's ----
project otherchain chainId=1
doctor otherchain
expect_check hub fail "^$HUB is the hub 0x[0-9a-fA-F]{40} of chain 421614, but cella.json signs orders for the hub 0x[0-9a-fA-F]{40} of chain 1" \
  "^cella init --chain-id 421614 --hub 0x[0-9a-fA-F]{40}$"

# ---- an https:// hub with a wrong pin ----
TLS_PORT=$(free_port)
TLS_LOG=$TMP/hub-tls.log
_tls_ready() { grep -q '^fingerprint' "$TLS_LOG" && curl -skf -m 2 -o /dev/null "https://127.0.0.1:$TLS_PORT/v1/health"; }
_serve hub "$TLS_LOG" _tls_ready --listen "127.0.0.1:$TLS_PORT" --tls
HUB_FP=$(awk '/^fingerprint/ {print $2}' "$TLS_LOG")
project tlshub hubUrl="\"https://127.0.0.1:$TLS_PORT\"" hubFingerprint="\"$(printf 'cd%.0s' $(seq 32))\""
doctor tlshub
expect_check hub fail "^https://127.0.0.1:$TLS_PORT presents the key $HUB_FP, but cella.json pins (cd){32} " \
  "^if $HUB_FP is the key \`hub serve --tls\` printed: set \"hubFingerprint\" in cella.json to $HUB_FP$"
project tlshub hubUrl="\"https://127.0.0.1:$TLS_PORT\"" hubFingerprint="\"$HUB_FP\""
doctor tlshub
expect_check hub ok "^https://127.0.0.1:$TLS_PORT answers: the hub 0x[0-9a-fA-F]{40} of chain 421614, its key matches the pin$"

# ---- a hub that is down ----
DOWN=$(free_port)
project hubdown hubUrl="\"http://127.0.0.1:$DOWN\""
doctor hubdown
[[ $RC == 1 ]] || fail "a hub that is down: exit $RC"
expect_check hub fail "^http://127.0.0.1:$DOWN is unreachable \(request failed" \
  "^start it: \`cella up\` \(the whole stack\), or \`cella hub serve --listen 127.0.0.1:$DOWN\`"
expect_check cas ok

# ---- a port taken by another program ----
TAKEN=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept(); c.recv(4096)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"); c.close()
' "$TAKEN" > squatter.log 2>&1 &
_SERVERS+=("$!")
for _ in $(seq 100); do grep -q listening squatter.log && break; sleep 0.05; done
# ... where the project's hub should be
project hubdown hubUrl="\"http://127.0.0.1:$TAKEN\""
doctor hubdown
expect_check hub fail "^port $TAKEN is taken by something that is not a cella hub \(GET /v1/health: HTTP 200, not a hub's reply\)$" \
  "^stop what holds port $TAKEN \(\`ss -ltnp 'sport = :$TAKEN'\` names it\)"
# ... and where `cella up --listen-base` would put its cas (no project here)
mkdir noproject
doctor noproject --listen-base $((TAKEN - 1))
[[ $RC == 1 ]] || fail "a port taken: exit $RC"
[[ $(field hub status) == MISSING ]] || fail "doctor checks services without a project"
[[ $(field port status 2) == fail ]] || fail "port $TAKEN: $(field port detail 2)"
grep -q "^port $TAKEN (the cas of \`cella up --listen-base $((TAKEN - 1))\`) is in use$" <<<"$(field port detail 2)" ||
  fail "port $TAKEN: $(field port detail 2)"
grep -q -- "--listen-base N\` (0: free ports)$" <<<"$(field port fix 2)" || fail "port fix: $(field port fix 2)"
ok
finish
