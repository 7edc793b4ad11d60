#!/usr/bin/env bash
# One `cella up` per data folder, and a restart keeps its URLs: a second up on
# a running stack's folder is refused naming the PID that holds it, and
# changes nothing there; stopped and started again (without --listen-base),
# up reuses the ports its cella.json recorded, so copies of that file keep
# working; a recorded port another program took meanwhile is refused, naming
# it, rather than silently replaced.
. "$(dirname "$0")/lib.sh"
urls() { sed -n 's/^\(hub\|cas\|blobs\) *\([^ ]*\).*/\1 \2/p' "$1"; }

start_up up1.log --data stack --slots 0 --listen-base 0
urls up1.log > urls1
[[ $(wc -l < urls1) == 3 ]] || fail "up printed $(cat urls1)"
ok

# ---- a second up on the same folder: refused, nothing changed ----
snapshot() { find stack -printf '%p %s %T@\n' | sort; }
snapshot > before
expect_fail "^cella: error: another cella up runs on this data folder \(PID $UP_PID holds $TMP/stack\)$" \
  timeout 60 "$CELLA" up --data stack --slots 0
expect_fail "\(PID $UP_PID holds $TMP/stack\)$" timeout 60 "$CELLA" up --data stack --listen-base 0 --slots 0
snapshot > after
diff before after >&2 || fail "the refused up changed the data folder"
ok
# the first stack still serves
curl -sf -o /dev/null "$(awk '$1 == "hub" {print $2}' urls1)/v1/health" || fail "the first stack stopped"

# ---- stopped and started again: the same URLs ----
stop_up
start_up up2.log --data stack --slots 0
urls up2.log > urls2
diff urls1 urls2 >&2 || fail "a restart moved the stack"
ok
stop_up

# ---- a recorded port taken meanwhile: refused, naming it; nothing started ----
CAS_PORT=$(awk '$1 == "cas" {print $2}' urls1); CAS_PORT=${CAS_PORT##*:}
python3 - "$CAS_PORT" > py.ready <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stack's TIME_WAIT connections
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
print("ok", flush=True)
time.sleep(60)
EOF
PY=$!
_SERVERS+=("$PY")
for _ in $(seq 100); do [[ -s py.ready ]] && break; sleep 0.05; done
[[ -s py.ready ]] || fail "python could not take port $CAS_PORT"
# (up.lock is this up's now: it holds its PID)
snapshot | grep -v '^stack/up.lock ' > before
expect_fail "^cella: error: port $CAS_PORT, where $TMP/stack/cella.json says the cas is, is in use by another program: .*--listen-base.* \(127\.0\.0\.1:$CAS_PORT\)$" \
  timeout 60 "$CELLA" up --data stack --slots 0
snapshot | grep -v '^stack/up.lock ' > after
diff before after >&2 || fail "the refused up changed the data folder"
ok
stop_server "$PY"

# --listen-base picks other ports (0: free ones) and records them
start_up up3.log --data stack --slots 0 --listen-base 0
urls up3.log > urls3
diff -q urls1 urls3 >/dev/null && fail "--listen-base 0 kept the recorded ports"
grep -q "\"blobsUrl\": \"$(awk '$1 == "blobs" {print $2}' urls3)\"" stack/cella.json ||
  fail "cella.json does not record the new blobs URL: $(cat stack/cella.json)"
ok
stop_up

finish
