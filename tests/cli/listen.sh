#!/usr/bin/env bash
# One server per port: hub, cas and blobs serve take --listen 127.0.0.1:0 and
# print the URL they bound ("NAME listening on URL"); a port another process
# listens on (a cella server, or a socket with SO_REUSEPORT set, which a
# server setting it too would silently share) is refused with one error line
# naming the port, before anything is created in --data. (A server that did
# bind would serve until the timeout: no error line, the check fails.)
. "$(dirname "$0")/lib.sh"

"$CELLA" tee sim init --dir "$TMP/sim" >/dev/null
start_hub
[[ $HUB_URL =~ ^http://127\.0\.0\.1:[0-9]+$ && $HUB_PORT != 0 ]] || fail "hub URL $HUB_URL"
start_cas --allow-sim --sim-platform "$TMP/sim/sim-platform.pub"
[[ $CAS_URL =~ ^https://127\.0\.0\.1:[0-9]+$ && $CAS_PORT != 0 ]] || fail "cas URL $CAS_URL"
start_blobs
[[ $BLOBS_URL =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "blobs URL $BLOBS_URL"
BLOBS_PORT=${BLOBS_URL##*:}
curl -sf -o /dev/null "$BLOBS_URL/v1/blobs/$(printf %064d 0)" -w '%{http_code}' > code || true
[[ $(cat code) == 404 ]] || fail "blobs on its printed URL: $(cat code)"
ok

# Several threads share the one listening socket: concurrent requests all answer.
pids=()
for _ in $(seq 8); do curl -sf -m 5 -o /dev/null "$HUB_URL/v1/health" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "concurrent requests on a 2-thread hub"; done
ok

# taken PORT: every server refuses it, naming it, and leaves its --data absent
# (cas serve alone takes --allow-sim).
taken() {
  local port=$1 v extra
  for v in hub cas blobs; do
    extra=(--threads 2)
    [[ $v == cas ]] && extra+=(--allow-sim --sim-platform "$TMP/sim/sim-platform.pub")
    expect_fail "^cella: error: cannot listen on 127\.0\.0\.1:$port: address in use \($v serve --listen\)$" \
      timeout 10 "$CELLA" "$v" serve --listen "127.0.0.1:$port" --data "$TMP/new-$v" "${extra[@]}"
    [[ ! -e $TMP/new-$v ]] || fail "$v serve created --data on a taken port: $(ls -la "$TMP/new-$v")"
  done
}
# ports held by cella servers
taken "$HUB_PORT"
taken "$CAS_PORT"
taken "$BLOBS_PORT"

# a port held by another program that allows sharing (SO_REUSEPORT, same user)
python3 - > py.port <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(60)
EOF
PY=$!
_SERVERS+=("$PY")
for _ in $(seq 100); do [[ -s py.port ]] && break; sleep 0.05; done
[[ -s py.port ]] || fail "python listener did not start"
taken "$(cat py.port)"
stop_server "$PY"

# a malformed --listen is a usage error, also before --data
expect_fail "^cella: error: expected IPv4 ADDRESS:PORT, got 'localhost' \(hub serve --listen\)$" \
  "$CELLA" hub serve --listen localhost --data "$TMP/new-hub"
[[ ! -e $TMP/new-hub ]] || fail "hub serve created --data on a bad --listen"

finish
