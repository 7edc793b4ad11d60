#!/usr/bin/env bash
# Bounded cost before authentication (issue 15; net/http_guard.h): what an
# unauthenticated client can make hub, cas and the blob store hold.
#   - 200 clients holding unfinished large bodies: each server's RSS stays
#     under a bound (hub 160 MB, cas 120 MB, blobs 100 MB), the blob store's
#     bodies go to disk and their files go when the clients do;
#   - a 200 MB upload still works, with the blob store's RSS under 100 MB;
#   - a request trickled a byte at a time is cut (408) at its deadline;
#   - over its connection cap an address gets a 503, another address is served;
#   - 256 long polls from one address leave another's events request served;
#   - a body over its route's cap gets the guard's JSON 413: declared (hub, before
#     any byte of it is sent; cas, where libevent's own cap would answer HTML)
#     and chunked (hub, before the rest is sent).
# The clients are tests/cli/bounds_client.py; 127.0.0.2..8 are other
# loopback source addresses.
. "$(dirname "$0")/lib.sh"
CLIENT="$(dirname "$0")/bounds_client.py"
client() { python3 "$CLIENT" "$@"; }
kv() { sed -n "s/.*\b$1=\(-\?[0-9]*\).*/\1/p" <<< "$2"; }
note() { echo "bounds: $*" >&2; }  # the figures, for the report

# ---- 200 clients, each 2 MB into a 7 MB body, from 8 addresses ----
start_hub
out=$(client hold --port "$HUB_PORT" --pid "$HUB_PID" --path /v1/deals --length 7000000 --send 2000000)
rss=$(kv rss_kb "$out")
note "hub, 200 x 2 MB of 7 MB bodies: $out"
! rss_checked || (( rss > 0 && rss < 160000 )) || fail "hub RSS with 200 unfinished bodies: $out"
(( $(kv cut "$out") > 0 )) || fail "hub cut no unfinished body: $out"
ok
curl -sf -o /dev/null "$HUB_URL/v1/health" || fail "hub down after the held bodies"
grep -q 'cella_http_refused_total{server="hub",reason="pending"} [1-9]' \
  <(curl -sf "$HUB_URL/metrics") || fail "no pending refusals counted"
ok

# ---- bodies over their route's cap (POST /v1/orders: 1 MiB; libevent's is 8 MiB) ----
out=$(client large --port "$HUB_PORT" --path /v1/orders --length 2000000)
note "hub, Content-Length 2 MB to /v1/orders, no body sent: $out"
[[ $out == "status=413 json=1 sent=0" ]] || fail "declared body over the cap: $out"
out=$(client large --port "$HUB_PORT" --path /v1/orders --chunked --send 3000000)
note "hub, chunked body to /v1/orders, 64 KiB at a time: $out"
[[ $(kv status "$out") == 413 && $(kv json "$out") == 1 ]] &&
  (( $(kv sent "$out") < 3000000 )) || fail "chunked body over the cap: $out"
grep -q 'cella_http_refused_total{server="hub",reason="too_large"} [2-9]' \
  <(curl -sf "$HUB_URL/metrics") || fail "too_large refusals not counted"
ok

"$CELLA" tee sim init --dir "$TMP/sim" >/dev/null
start_cas --allow-sim --sim-platform "$TMP/sim/sim-platform.pub"
out=$(client hold --tls --port "$CAS_PORT" --pid "$CAS_PID" --path /v1/sessions --length 7000000 --send 2000000)
rss=$(kv rss_kb "$out")
note "cas, 200 x 7 MB bodies: $out"
! rss_checked || (( rss > 0 && rss < 120000 )) || fail "cas RSS with 200 unfinished bodies: $out"
ok
out=$(client large --tls --port "$CAS_PORT" --path /v1/sessions --length 7000000)
note "cas, Content-Length 7 MB to /v1/sessions: $out"
[[ $out == "status=413 json=1 sent=0" ]] || fail "cas declared body over the cap: $out"
ok
stop_server "$CAS_PID"

start_blobs
BLOBS_PORT=${BLOBS_URL##*:}
out=$(client hold --port "$BLOBS_PORT" --pid "$BLOBS_PID" --method PUT \
  --path "/v1/blobs/$(printf %064d 1)" --length 50000000 --send 2000000)
rss=$(kv rss_kb "$out")
note "blobs, 200 x 2 MB of 50 MB uploads: $out"
! rss_checked || (( rss > 0 && rss < 100000 )) || fail "blob store RSS with 200 unfinished uploads: $out"
(( $(kv held "$out") == 200 )) || fail "blob store did not hold the uploads (spooled): $out"
for _ in $(seq 100); do  # the store may still be writing what the clients sent
  left=$(find "$TMP/blobsd/sha256" -name '.up-*' | wc -l)
  (( left == 0 )) && break
  sleep 0.1
done
(( left == 0 )) || fail "$left spool files left 10 s after the clients went"
ok

# a 200 MB upload works, and the server's memory does not grow with it
head -c 200000000 /dev/urandom > big.bin
BIG=$(sha256sum big.bin | cut -c1-64)
peak=0
curl -s -o put.json -w '%{http_code}' -T big.bin "$BLOBS_URL/v1/blobs/$BIG" > put.code &
CURL=$!
while kill -0 "$CURL" 2>/dev/null; do
  r=$(awk '/^VmRSS:/ {print $2}' "/proc/$BLOBS_PID/status")
  (( r > peak )) && peak=$r
  sleep 0.05
done
wait "$CURL"
note "blobs, 200 MB upload: peak RSS $peak kB"
[[ $(cat put.code) == 201 ]] || fail "200 MB upload: $(cat put.code) $(cat put.json)"
! rss_checked || (( peak < 100000 )) || fail "blob store RSS during a 200 MB upload: $peak kB"
[[ $(curl -sf "$BLOBS_URL/v1/blobs/$BIG" | sha256sum | cut -c1-64) == "$BIG" ]] ||
  fail "200 MB blob reads back different"
rm -f big.bin
ok
stop_server "$BLOBS_PID"

# ---- a trickling client is cut at the request deadline ----
stop_server "$HUB_PID"
export CELLA_HTTP_LIMITS=request_seconds=3
start_hub
out=$(client trickle --port "$HUB_PORT" --gap 0.3 --give-up 12)
note "trickle, request_seconds=3: $out"
[[ $(kv status "$out") == 408 ]] || fail "trickle: $out"
s=$(kv seconds "${out/./}")  # tenths of a second (the dot dropped)
(( s >= 25 && s <= 80 )) || fail "trickle cut after ${out#*seconds=} s, not about 3"
ok

# ---- connection cap per address; another address is still served ----
stop_server "$HUB_PID"
export CELLA_HTTP_LIMITS=conns_per_addr=4
start_hub
out=$(client conns --port "$HUB_PORT" --fill 4)
note "conns_per_addr=4, a 5th from 127.0.0.1 and one from 127.0.0.2: $out"
[[ $out == "same=503 other=200" ]] || fail "connection cap: $out"
ok

# ---- 256 long polls from one address; another address still gets events ----
stop_server "$HUB_PID"
export CELLA_HTTP_LIMITS=conns_per_addr=1000,conns=2000
start_hub
out=$(client polls --port "$HUB_PORT" --n 256)
note "256 polls from 127.0.0.1, one from 127.0.0.2: $out"
[[ $out == "other=200" ]] || fail "long polls from one address: $out"
ok
unset CELLA_HTTP_LIMITS

# a malformed CELLA_HTTP_LIMITS stops a server before it serves
stop_server "$HUB_PID"
CELLA_HTTP_LIMITS=conns=0 expect_fail \
  "^cella: error: 'conns' needs a number from 1 to 1000000 \(CELLA_HTTP_LIMITS\)$" \
  timeout 10 "$CELLA" hub serve --data "$TMP/hubd" --listen 127.0.0.1:0

finish
