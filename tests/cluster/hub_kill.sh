#!/usr/bin/env bash
# kill -9 of one hub during a publish+match load. Four clients, each on a client host of its
# own with both hubs in its hubUrl list (two with hub1 first, two with hub2 first), publish
# request orders and fill each with one shared app order (of a volume smaller than what
# they ask for all together, so their matches compete for it) and a workerpool order
# (lib.d/market_client.sh: N requests each, and a deadline). Once the load is under way
# hub1 is killed (SIGKILL). Then, read through hub2:
#   - every write a client got an acknowledgement for (an order published, a deal) is there;
#   - no order's volume is consumed twice: for every order, the volumes of the deals that
#     name it add up to at most its volume, and to exactly what the hub says it consumed;
#   - every client went through all its requests, and the clients that had hub1 first
#     failed over to hub2 and were acknowledged there after the kill;
# and hub1, started again, serves the same order book and deals as hub2.
. "$(dirname "$0")/lib.sh"
. "$CLUSTER_LIB/market.sh"
need_cluster 150
cluster_up --hosts 13
N=25            # requests per client
APP_VOLUME=120  # the four clients ask for about 200 together

person dev "$(client_host 1)" 1
for k in 1 2 3 4; do person "c$k" "$(client_host "$k")" $(((k - 1) % 2 + 1)); done

# ---- the load's app, workerpool and their orders (no worker serves this pool) ----
expect_ok by dev app deploy --name load --multiaddr https://example.org/load.tar \
  --checksum "0x$(printf '1%.0s' $(seq 64))" --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
expect_ok by dev workerpool deploy --name load --wallet-file "$(W dev)"
LOADPOOL=$(cat "$TMP/.out")
expect_ok by dev order init --app --set "app=$APP,volume=$APP_VOLUME"
expect_ok by dev order init --workerpool --set "workerpool=$LOADPOOL,volume=1000"
expect_ok by dev order sign --app --wallet-file "$(W dev)" --out app.json
expect_ok by dev order sign --workerpool --wallet-file "$(W dev)" --out pool.json
expect_ok by dev order publish --app --file app.json
APPORDER=$(awk '/^apporder / {print $2}' "$TMP/.out")
expect_ok by dev order publish --workerpool --file pool.json
POOLORDER=$(awk '/^workerpoolorder / {print $2}' "$TMP/.out")

# ---- each client's requests, signed beforehand (volumes 1 to 3) ----
for k in 1 2 3 4; do
  (cd "$TMP/c$k" &&
    for ((i = 1; i <= N; i++)); do
      "$CELLA" order init --request --set "app=$APP,workerpool=$LOADPOOL,volume=$((1 + (i + k) % 3))" &&
        "$CELLA" order sign --request --wallet-file "$(W "c$k")" --out "req-$i.json" || exit 1
    done) > "$TMP/sign.log" 2>&1 || { tail "$TMP/sign.log" >&2; fail "sign the requests of c$k"; }
done
ok

# ---- the load, and hub1 killed once it is under way ----
start_clients market_client.sh c1 c2 c3 c4 -- "$N" "$(($(date +%s) + 45))" "$APPORDER" "$POOLORDER"
wait_acks deal 8
T_KILL=$(date +%s.%N)
expect_ok cl kill hub1
echo "hub1 killed after $(acks_count deal) deals"
wait_clients

# ---- every client finished, on hub2 after the kill ----
RECOVERY=0
for k in 1 2 3 4; do
  a=$TMP/c$k/acks
  grep -qx "[0-9.]* done $N" "$a" || fail "c$k did not go through its $N requests: $(tail -n 3 "$a")"
  after=$(awk -v t="$T_KILL" '$1 > t && ($2 == "order" || $2 == "deal") {print $1; exit}' "$a")
  [[ -n $after ]] || fail "c$k got no acknowledgement after the kill: $(tail -n 5 "$a")"
  if ((k % 2 == 1)); then   # hub1 first: moved to hub2
    grep -q "did not answer.*trying $URL_hub2" "$TMP/c$k/client.err" ||
      fail "c$k did not fail over: $(tail -n 3 "$TMP/c$k/client.err")"
    RECOVERY=$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2]) - float(sys.argv[3])))' \
      "$RECOVERY" "$after" "$T_KILL")
  fi
  echo "c$k: $(kind_count order "$a") orders, $(kind_count deal "$a") deals, $(kind_count refused "$a") refused, $(kind_count unknown "$a") unknown"
  awk '$2 == "unknown"' "$a"
done
ok

# ---- what the clients were told is what hub2 has; no volume consumed twice ----
# check_market BOOK DEALS: ACKNOWLEDGED PRESENT DOUBLE (and each problem on stderr)
check_market() {
  python3 - "$1" "$2" "$TMP"/c?/acks <<'PY'
import json, sys
from collections import defaultdict
book = {o["orderHash"]: o for o in json.load(open(sys.argv[1]))["orders"]}
deals = {d["dealid"]: d for d in json.load(open(sys.argv[2]))["deals"]}
acked = present = 0
for path in sys.argv[3:]:
    for line in open(path):
        f = line.split()
        if f[1] == "order":
            found = f[2] in book
        elif f[1] == "deal":
            found = f[2] in deals and int(deals[f[2]]["botSize"]) == int(f[3])
        else:
            continue
        acked += 1
        present += found
        if not found:
            print("lost:", *f[1:], file=sys.stderr)
used = defaultdict(int)
for d in deals.values():
    for h in set(d["orders"].values()) - {None}:
        used[h] += int(d["botSize"])
double = 0
for h in set(used) | set(book):
    o = book.get(h)
    volume = int(o["order"]["volume"]) if o else 0
    consumed = int(o["consumed"]) if o else 0
    if used[h] > volume or used[h] != consumed:
        double += 1
        print("order", h, "volume", volume, "consumed", consumed, "in deals", used[h], file=sys.stderr)
print(acked, present, double)
PY
}
read_market() {   # HUB: its whole order book (consumed orders too) and its deals
  { hub_get "$1" "/v1/orders?all=1&limit=1000" > "$TMP/book.$1" &&
    hub_get "$1" "/v1/deals?limit=1000" > "$TMP/deals.$1"; } || fail "read the market on $1"
  (($(json_field total < "$TMP/deals.$1") < 1000)) || fail "more than a page of deals"
}
read_market hub2
read -r ACKED PRESENT DOUBLE < <(check_market "$TMP/book.hub2" "$TMP/deals.hub2")
echo "acknowledged $ACKED, present $PRESENT, orders consumed twice $DOUBLE;" \
  "app order consumed $(python3 -c 'import json,sys; print([o["consumed"] for o in json.load(open(sys.argv[1]))["orders"] if o["orderHash"] == sys.argv[2]][0])' "$TMP/book.hub2" "$APPORDER") of $APP_VOLUME"
((ACKED > 0 && PRESENT == ACKED)) || fail "$((ACKED - PRESENT)) acknowledged writes lost"
((DOUBLE == 0)) || fail "$DOUBLE orders consumed beyond their volume or their deals"
ok

# ---- hub1 again: the same state ----
expect_ok cl start hub1
read_market hub1
read_market hub2
cmp -s "$TMP/book.hub1" "$TMP/book.hub2" || fail "the books differ: $(diff "$TMP/book.hub1" "$TMP/book.hub2" | sed -n 1,10p)"
cmp -s "$TMP/deals.hub1" "$TMP/deals.hub2" || fail "the deals differ: $(diff "$TMP/deals.hub1" "$TMP/deals.hub2" | sed -n 1,10p)"
ok

fault_row hub_kill "$ACKED" "$PRESENT" "$DOUBLE" "$(printf '%.1f' "$RECOVERY")"
finish
