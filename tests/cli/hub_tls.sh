#!/usr/bin/env bash
# The hub over HTTPS (hub serve --tls): a self-signed identity made at first
# start in the data directory, its fingerprint printed (and kept across a
# restart); clients pin it (--hub-fingerprint or cella.json's
# "hubFingerprint") and deploy, publish, fill, contribute and watch over TLS.
# A wrong pin, a missing pin and plain HTTP to the TLS port fail cleanly, and
# the hub keeps serving.
. "$(dirname "$0")/lib.sh"

H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
LOG=$TMP/hub.log
_tls_ready() { grep -q '^fingerprint' "$LOG" && curl -skf -m 2 -o "$TMP/.health" "$URL/v1/health"; }
_serve hub "$LOG" _tls_ready --listen "127.0.0.1:$PORT" --tls --dev-faucet
PID=$_PID
FP=$(awk '/^fingerprint/ {print $2}' "$LOG")
[[ $FP =~ ^[0-9a-f]{64}$ ]] || fail "no fingerprint: $(cat "$LOG")"
grep -q "^hub listening on https://127.0.0.1:$PORT$" "$LOG" || fail "listening line: $(cat "$LOG")"
grep -q "^created TLS identity in .*; clients pin fingerprint $FP$" "$LOG" || fail "identity: $(cat "$LOG")"
[[ -s $TMP/hubd/tls.key && -s $TMP/hubd/tls.crt ]] || fail "no identity in the data directory"
grep -q "\"fingerprint\":\"$FP\"" "$TMP/.health" || fail "health: $(cat "$TMP/.health")"
# the pin is the server's SPKI SHA-256, as openssl computes it; TLS 1.3 only
spki=$(openssl x509 -in "$TMP/hubd/tls.crt" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
[[ $spki == "$FP" ]] || fail "fingerprint $FP is not the SPKI hash $spki"
curl -sk --tls-max 1.2 -o /dev/null "$URL/v1/health" && fail "TLS 1.2 accepted"
ok

# the requester pins by cella.json; the others by flags
new_wallet dev pool req worker
printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s", "hubFingerprint": "%s"}\n' "$H" "$URL" "$FP" > "$TMP/req/cella.json"
for who in dev pool worker; do printf '{"chainId": 421614, "hub": "%s"}\n' "$H" > "$TMP/$who/cella.json"; done
PIN=(--hub-url "$URL" --hub-fingerprint "${FP^^}")   # hex digits in either case
. "$(dirname "$0")/hub.d/orders.sh"   # set_fields
cd "$TMP/dev"
expect_ok "$CELLA" app deploy --name tls-app --multiaddr docker.io/t:1 --checksum 0x$(printf '2%.0s' $(seq 64)) \
  --wallet-file "$(W dev)" "${PIN[@]}"
APP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --app
set_fields dev apporder app="$APP" appprice=1 volume=10
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app "${PIN[@]}"
cd "$TMP/pool"
expect_ok "$CELLA" workerpool deploy --name tls-pool --wallet-file "$(W pool)" "${PIN[@]}"
WP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --workerpool
set_fields pool workerpoolorder workerpool="$WP" workerpoolprice=10 volume=10 trust=1
expect_ok "$CELLA" order sign --workerpool --wallet-file "$(W pool)"
expect_ok "$CELLA" order publish --workerpool "${PIN[@]}"
expect_ok "$CELLA" account deposit 100 --wallet-file "$(W pool)" "${PIN[@]}"
cd "$TMP/req"
expect_ok "$CELLA" account deposit 100 --wallet-file "$(W req)"
expect_ok "$CELLA" order init --request
set_fields req requestorder app="$APP" workerpool="$WP" appmaxprice=1 workerpoolmaxprice=10 volume=1
expect_ok "$CELLA" order sign --request --wallet-file "$(W req)"
expect_ok "$CELLA" order fill
TASK=$(awk '/^task 0 / {print $3}' "$TMP/.out")
[[ $TASK =~ ^0x[0-9a-f]{64}$ ]] || fail "fill over TLS: $(cat "$TMP/.out")"
expect_ok "$CELLA" account show --wallet-file "$(W req)"
grep -q 'balance 89 locked 11' "$TMP/.out" || fail "escrow: $(cat "$TMP/.out")"
expect_ok "$CELLA" account withdraw 9 --wallet-file "$(W req)"
grep -q 'withdrew 9 balance 80 locked 11' "$TMP/.out" || fail "withdraw over TLS: $(cat "$TMP/.out")"
# the task, watched over TLS while the worker contributes
"$CELLA" task watch "$TASK" > watch.out 2> watch.err & WATCH=$!
cd "$TMP/worker"
printf 'tls\n' > result.txt
expect_ok "$CELLA" task authorize "$TASK" --worker "$(A worker)" --wallet-file "$(W pool)"
AUTH=$(cat "$TMP/.out")
expect_ok "$CELLA" task contribute "$TASK" --result result.txt --authorization "$AUTH" \
  --wallet-file "$(W worker)" "${PIN[@]}"
grep -q 'COMPLETED' "$TMP/.out" || fail "contribute over TLS: $(cat "$TMP/.out")"
wait $WATCH || fail "task watch over TLS: $(cat "$TMP/req/watch.out" "$TMP/req/watch.err")"
[[ $(cat "$TMP/req/watch.out") == "$TASK COMPLETED" ]] || fail "task watch: $(cat "$TMP/req/watch.out")"

# ---- refusals: a wrong pin, no pin, plain HTTP to the TLS port ----
expect_fail 'does not match the pinned fingerprint' "$CELLA" task show "$TASK" --hub-url "$URL" \
  --hub-fingerprint "$(printf 'ab%.0s' $(seq 32))"
expect_fail 'does not match the pinned fingerprint' "$CELLA" account deposit 5 --to "$(A req)" \
  --hub-url "$URL" --hub-fingerprint "$(printf 'ab%.0s' $(seq 32))"
expect_fail 'needs its pinned fingerprint' "$CELLA" task show "$TASK" --hub-url "$URL"
expect_fail 'hub-fingerprint' "$CELLA" task show "$TASK" --hub-url "$URL" --hub-fingerprint 0x12
expect_fail 'request failed' "$CELLA" task show "$TASK" --hub-url "http://127.0.0.1:$PORT"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/health") && fail "plain HTTP answered $code"
[[ $code == 000 ]] || fail "plain HTTP to the TLS port: HTTP $code"
kill -0 "$PID" || fail "the hub died"
expect_ok "$CELLA" account show "$(A req)" "${PIN[@]}"
grep -q 'balance 80 locked 0' "$TMP/.out" || fail "after the task: $(cat "$TMP/.out")"

# ---- the requester's and the pool's other verbs pin the hub too ----
cd "$TMP/req"
BAD=(--hub-url "$URL" --hub-fingerprint "$(printf 'ab%.0s' $(seq 32))")
expect_fail 'does not match the pinned fingerprint' "$CELLA" app run "$APP" --workerpool "$WP" \
  --wallet-file "$(W req)" "${BAD[@]}"
cd "$TMP/pool"   # a cella.json without "hubFingerprint"
expect_fail 'needs its pinned fingerprint' "$CELLA" app run "$APP" --workerpool "$WP" \
  --wallet-file "$(W req)" --hub-url "$URL"
cd "$TMP/req"
# pinned by the requester's cella.json: a deal over TLS, then its task has no result yet
expect_ok "$CELLA" app run "$APP" --workerpool "$WP" --tag 0x0 --wallet-file "$(W req)"
TASK2=$(awk '/^task / {print $NF}' "$TMP/.out" | tail -1)
[[ $TASK2 =~ ^0x[0-9a-f]{64}$ ]] || fail "app run over TLS: $(cat "$TMP/.out")"
expect_fail 'has no result yet' "$CELLA" result download "$TASK2"
expect_fail 'does not match the pinned fingerprint' "$CELLA" result download "$TASK2" "${BAD[@]}"
# the worker checks the pool's owner with the hub before anything else
cd "$TMP/pool"
expect_fail 'does not match the pinned fingerprint' "$CELLA" worker start --pool "$WP" \
  --wallet-file "$(W pool)" --cas https://127.0.0.1:9 --cas-fingerprint "$FP" "${BAD[@]}" --once
expect_fail 'needs its pinned fingerprint' "$CELLA" worker start --pool "$WP" \
  --wallet-file "$(W pool)" --cas https://127.0.0.1:9 --cas-fingerprint "$FP" --hub-url "$URL" --once
expect_fail 'does not own this workerpool' "$CELLA" worker start --pool "$WP" \
  --wallet-file "$(W worker)" --cas https://127.0.0.1:9 --cas-fingerprint "$FP" "${PIN[@]}" --once
# cas asks an https:// hub only with its pin
expect_fail 'needs its pinned fingerprint' "$CELLA" cas serve --data "$TMP/casd" --hub "$URL"
expect_fail 'only for an https:// hub' "$CELLA" cas serve --data "$TMP/casd" \
  --hub "http://127.0.0.1:$PORT" --hub-fingerprint "$FP"
# a pin for a plain http:// hub is a mistake, said as such
expect_fail 'only for an https:// hub' "$CELLA" task show "$TASK" --hub-url "http://127.0.0.1:$PORT" \
  --hub-fingerprint "$FP"
# and with it: the SMS asks the hub over TLS who owns a dataset
start_cas --hub "$URL" --hub-fingerprint "$FP"
cd "$TMP/dev"
expect_ok "$CELLA" dataset deploy --name tls-data --multiaddr https://example.org/d.zip \
  --checksum 0x$(printf '3%.0s' $(seq 64)) --wallet-file "$(W dev)" "${PIN[@]}"
DS=$(cat "$TMP/.out")
openssl rand -base64 32 > ds.key && chmod 600 ds.key
expect_fail 'HTTP 401.*not allowed' "$CELLA" dataset push-secret "$DS" --key-file ds.key \
  --wallet-file "$(W pool)" "${CAS[@]}"
expect_ok "$CELLA" dataset push-secret "$DS" --key-file ds.key --wallet-file "$(W dev)" "${CAS[@]}"
grep -q "^dataset key of $DS: pushed$" "$TMP/.out" || fail "push over a TLS hub: $(cat "$TMP/.out")"
stop_server "$CAS_PID"
# a cas that pins another key is refused by the hub's TLS (and says so)
start_cas --log cas-bad.log --hub "$URL" --hub-fingerprint "$(printf 'cd%.0s' $(seq 32))"
expect_fail 'HTTP 5..*pinned fingerprint' "$CELLA" dataset push-secret "$DS" --key-file ds.key \
  --wallet-file "$(W dev)" "${CAS[@]}"
stop_server "$CAS_PID"
cd "$TMP/req"

# ---- a restart keeps the identity (same fingerprint, nothing created) ----
stop_server "$PID"
_tls2_ready() { grep -q '^fingerprint' "$TMP/hub2.log" && curl -skf -m 2 -o /dev/null "$URL/v1/health"; }
_serve hub "$TMP/hub2.log" _tls2_ready --listen "127.0.0.1:$PORT" --tls
grep -q "^fingerprint $FP$" "$TMP/hub2.log" || fail "restart: $(cat "$TMP/hub2.log")"
grep -q 'created TLS identity' "$TMP/hub2.log" && fail "a restart made a new identity"
expect_ok "$CELLA" task show "$TASK" "${PIN[@]}"
grep -q '"status": "COMPLETED"' "$TMP/.out" || fail "task after restart"
finish
