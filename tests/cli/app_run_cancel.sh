#!/usr/bin/env bash
# A failed `cella app run` leaves nothing live: when the match fails after the
# request order was published (no balance; a workerpool order the requester
# may not use), the request order is cancelled and the error says so; when
# there is no workerpool order at all, nothing is published. When the cancel
# itself fails (here a proxy in front of the hub refuses it), the error says
# the order is still open and gives the command that cancels it.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/hub.d/orders.sh"   # set_fields

H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
start_hub --dev-faucet
new_wallet dev pool req other
for who in dev pool req other; do
  printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"}\n' "$H" "$HUB_URL" > "$TMP/$who/cella.json"
done

cd "$TMP/dev"
expect_ok "$CELLA" app deploy --name app --multiaddr docker.io/t:1 --checksum 0x$(printf '3%.0s' $(seq 64)) \
  --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --app
set_fields dev apporder app="$APP" appprice=1 volume=10
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app
cd "$TMP/pool"
# pool: open to anyone; mine: for "other" only; empty: no order at all
pool_with_order() { # NAME [FIELD=VALUE...] -> prints the pool address
  "$CELLA" workerpool deploy --name "$1" --wallet-file "$(W pool)" > wp 2>/dev/null || return 1
  (($# > 1)) || { cat wp; return 0; }
  "$CELLA" order init --workerpool 2>/dev/null &&
    set_fields pool workerpoolorder workerpool="$(cat wp)" workerpoolprice=10 volume=10 "${@:2}" &&
    "$CELLA" order sign --workerpool --wallet-file "$(W pool)" > /dev/null 2>&1 &&
    "$CELLA" order publish --workerpool > /dev/null || return 1
  cat wp
}
WP=$(pool_with_order open trust=0) || fail "pool open"
WP_OTHER=$(pool_with_order other-only requesterrestrict="$(A other)") || fail "pool other-only"
WP_EMPTY=$(pool_with_order empty) || fail "pool empty"
expect_ok "$CELLA" account deposit 100 --wallet-file "$(W pool)"
ok

cd "$TMP/req"
# open_requests: how many request orders of req the book holds open (what a
# later match could consume)
open_requests() {
  "$CELLA" order book --kind requestorder --requester "$(A req)" |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["count"])'
}
# the hash the error line names, and that order is closed on the hub
cancelled_hash() {
  local h
  h=$(sed -n 's/.*; request order \(0x[0-9a-f]\{64\}\) cancelled (app run)$/\1/p' "$TMP/.err")
  [[ $h =~ ^0x[0-9a-f]{64}$ ]] || fail "the error does not name the cancelled order: $(cat "$TMP/.err")"
  "$CELLA" order show "$h" | python3 -c '
import json, sys
e = json.load(sys.stdin)
assert e["kind"] == "requestorder" and e["remaining"] in ("0", 0), e' || fail "order $h is not closed"
  echo "$h"
}

# ---- no balance: the match fails after the publication; the order is cancelled ----
expect_fail 'cella-hub-insufficient-balance.*; request order 0x[0-9a-f]{64} cancelled \(app run\)$' \
  "$CELLA" app run "$APP" --workerpool "$WP" --tag 0x0 --wallet-file "$(W req)"
H1=$(cancelled_hash)
[[ $(open_requests) == 0 ]] || fail "a failed app run left an open request order"
ok

# ---- a workerpool order the requester may not use: cancelled too ----
expect_ok "$CELLA" account deposit 100 --wallet-file "$(W req)"
expect_fail 'iExecV5-matchOrders-0x1b.*; request order 0x[0-9a-f]{64} cancelled \(app run\)$' \
  "$CELLA" app run "$APP" --workerpool "$WP_OTHER" --tag 0x0 --wallet-file "$(W req)"
H2=$(cancelled_hash)
[[ $H2 != "$H1" ]] || fail "two runs, one order"
[[ $(open_requests) == 0 ]] || fail "a failed app run left an open request order"
# ---- no workerpool order at all: refused before anything is published ----
expect_fail 'no open order in the book matches .*workerpool' \
  "$CELLA" app run "$APP" --workerpool "$WP_EMPTY" --tag 0x0 --wallet-file "$(W req)"
[[ $(open_requests) == 0 ]] || fail "a failed app run left an open request order"
"$CELLA" order book --kind requestorder --requester "$(A req)" --all |
  python3 -c 'import json,sys;n=json.load(sys.stdin)["count"];sys.exit(n!=2)' ||
  fail "only the two cancelled request orders were ever published"
# ... and the balance is untouched by the failed runs
expect_ok "$CELLA" account show "$(A req)"
grep -q 'balance 100 locked 0' "$TMP/.out" || fail "balance after failed runs: $(cat "$TMP/.out")"
ok

# ---- the cancel itself fails: the error says the order is still open, and how to cancel it ----
# (a proxy that forwards to the hub but refuses POST /v1/orders/cancel)
PROXY_PORT=$(free_port)
python3 - "$PROXY_PORT" "$HUB_URL" > proxy.log 2>&1 <<'PY' &
import http.server, sys, urllib.request, urllib.error
port, hub = int(sys.argv[1]), sys.argv[2]
class P(http.server.BaseHTTPRequestHandler):
    def relay(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/v1/orders/cancel":
            code, data = 503, b'{"error": "the proxy refuses cancels (proxy)", "code": "proxy"}'
        else:
            req = urllib.request.Request(hub + self.path, data=body if self.command == "POST" else None,
                                         method=self.command,
                                         headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    code, data = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, data = e.code, e.read()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = relay
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), P).serve_forever()
PY
PROXY_PID=$!
_SERVERS+=("$PROXY_PID")
for _ in $(seq 100); do curl -sf -m 2 -o /dev/null "http://127.0.0.1:$PROXY_PORT/v1/health" && break; sleep 0.05; done
expect_fail "; request order 0x[0-9a-f]{64} is still open \(the cancel failed: server refused \(HTTP 503\): the proxy refuses cancels \(proxy\)\): cancel it with \`cella order cancel 0x[0-9a-f]{64} --wallet-file $(W req) --hub-url http://127.0.0.1:$PROXY_PORT\` \(app run\)$" \
  "$CELLA" app run "$APP" --workerpool "$WP_OTHER" --tag 0x0 --wallet-file "$(W req)" \
  --hub-url "http://127.0.0.1:$PROXY_PORT"
grep -q 'iExecV5-matchOrders-0x1b' "$TMP/.err" || fail "the error does not say why: $(cat "$TMP/.err")"
H3=$(sed -n 's/.*; request order \(0x[0-9a-f]\{64\}\) is still open.*/\1/p' "$TMP/.err")
[[ $(open_requests) == 1 ]] || fail "the order the error calls open is not in the book"
# the command the error gives closes it (here against the hub itself)
expect_ok "$CELLA" order cancel "$H3" --wallet-file "$(W req)"
[[ $(open_requests) == 0 ]] || fail "order cancel did not close $H3"
ok
finish
