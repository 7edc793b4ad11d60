#!/usr/bin/env bash
# The hub from the command line: deploy an app, a dataset and a workerpool,
# sign and publish orders, fill a request (PoCo matchOrders), show the deal and
# its task, and the refusals: a bad signature, another owner's resource,
# over-consumed volume, insufficient balance, a cancel by someone else. The
# server keeps serving throughout.
. "$(dirname "$0")/lib.sh"

start_hub --dev-faucet
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
new_wallet dev data pool req poor other worker

# cella.json of each actor: the hub (URL and EIP-712 domain) and its resource
conf() { # DIR EXTRA-JSON
  printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"%s}\n' "$H" "$HUB_URL" "$2" > "$TMP/$1/cella.json"
}
conf dev ', "app": {"name": "hello", "type": "DOCKER", "multiaddr": "docker.io/cella/hello:1.0", "checksum": "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "measurement": "3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76"}'
conf data ', "dataset": {"name": "data", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ", "checksum": "0x1d64783f76e2be9ab59779159b4cffd2d0224883eb247a9261588f35f58cc607"}'
conf pool ', "workerpool": {"description": "my pool"}'
conf req ''
conf poor ''
conf worker ''
conf other ', "app": {"name": "hello", "type": "DOCKER", "multiaddr": "docker.io/cella/hello:1.0", "checksum": "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}'

# ---- registries ----
cd "$TMP/dev"
expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
[[ "$APP" =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "app deploy printed $APP"
expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"
[[ $(cat "$TMP/.out") == "$APP" ]] || fail "a duplicate deploy must return the same address"
expect_ok "$CELLA" app show "$APP"
grep -q '"measurement": "3b62fef2' "$TMP/.out" || fail "app show lacks the measurement"
expect_ok "$CELLA" app count --owner "$(A dev)"
[[ $(cat "$TMP/.out") == 1 ]] || fail "app count"
# show without an address: the deployed one (cella.json), or the wallet's INDEX-th
expect_ok "$CELLA" app show
grep -q "\"address\": \"$APP\"" "$TMP/.out" || fail "app show (deployed): $(cat "$TMP/.out")"
expect_ok "$CELLA" app show 0 --wallet-file "$(W dev)"
grep -q "\"address\": \"$APP\"" "$TMP/.out" || fail "app show 0: $(cat "$TMP/.out")"
expect_fail "$(A dev) owns 1 app: no index 1" "$CELLA" app show 1 --wallet-file "$(W dev)"
expect_fail "no dataset given and none deployed in ./cella.json \\(give its ADDRESS, or an INDEX among the wallet's\\)" "$CELLA" dataset show
cd "$TMP/other"
expect_ok "$CELLA" app deploy --wallet-file "$(W other)"
[[ $(cat "$TMP/.out") != "$APP" ]] || fail "another owner got the same address"
cd "$TMP/data"
expect_ok "$CELLA" dataset deploy --wallet-file "$(W data)"
DS=$(cat "$TMP/.out")
cd "$TMP/pool"
expect_ok "$CELLA" workerpool deploy --wallet-file "$(W pool)"
WP=$(cat "$TMP/.out")
expect_fail 'owner' "$CELLA" app count --owner zz
expect_fail 'no "app" object' "$CELLA" app deploy --wallet-file "$(W pool)"

# ---- orders ----
# set(DIR KIND FIELD=VALUE...) edits the order template in DIR/cella.json
set_fields() {
  local dir=$1 kind=$2; shift 2
  python3 - "$TMP/$dir/cella.json" "$kind" "$@" <<'PY'
import json, sys
p, kind = sys.argv[1], sys.argv[2]
c = json.load(open(p))
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    c["order"][kind][k] = v
json.dump(c, open(p, "w"), indent=2)
PY
}
cd "$TMP/dev"
expect_ok "$CELLA" order init --app
set_fields dev apporder app="$APP" appprice=5 volume=10
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app
APPORDER=$(awk '{print $2}' "$TMP/.out")
[[ "$APPORDER" =~ ^0x[0-9a-f]{64}$ ]] || fail "publish printed $APPORDER"
expect_ok "$CELLA" order publish --app   # idempotent
# a bad signature: the order changed after signing
python3 - <<'PY'
import json
d = json.load(open("orders.json"))
d["421614"]["apporder"]["appprice"] = "1"
json.dump(d, open("tampered.json", "w"))
PY
expect_fail 'signed by .* belongs to|signature' "$CELLA" order publish --app --file tampered.json
cd "$TMP/data"
expect_ok "$CELLA" order init --dataset
set_fields data datasetorder dataset="$DS" datasetprice=3 volume=10
expect_ok "$CELLA" order sign --dataset --wallet-file "$(W data)"
expect_ok "$CELLA" order publish --dataset
cd "$TMP/pool"
expect_ok "$CELLA" order init --workerpool
set_fields pool workerpoolorder workerpool="$WP" workerpoolprice=100 volume=10 trust=1
expect_ok "$CELLA" order sign --workerpool --wallet-file "$(W pool)"
expect_ok "$CELLA" order publish --workerpool
WPORDER=$(awk '{print $2}' "$TMP/.out")
# another owner's resource: "other" signs an order for the dev's app
cd "$TMP/other"
expect_ok "$CELLA" order init --app
set_fields other apporder app="$APP"
expect_ok "$CELLA" order sign --app --wallet-file "$(W other)"
expect_fail 'belongs to' "$CELLA" order publish --app
expect_ok "$CELLA" order book --kind apporder --app "$APP"
[[ $(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["count"])' "$TMP/.out") == 1 ]] ||
  fail "the book should hold one app order"

# ---- the request, funds and the match ----
cd "$TMP/req"
expect_ok "$CELLA" order init --request
set_fields req requestorder app="$APP" dataset="$DS" appmaxprice=5 datasetmaxprice=3 \
  workerpoolmaxprice=100 volume=1
expect_ok "$CELLA" order sign --request --wallet-file "$(W req)"
expect_ok "$CELLA" order publish --request
expect_fail 'cella-hub-insufficient-balance' "$CELLA" order fill
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W req)"
expect_fail 'cella-hub-insufficient-balance.*workerpool owner' "$CELLA" order fill
expect_ok "$CELLA" account deposit 1000 --to "$(A pool)"
expect_ok "$CELLA" order fill
DEAL=$(awk '/^deal / {print $2}' "$TMP/.out")
TASK=$(awk '/^task 0 / {print $3}' "$TMP/.out")
[[ "$DEAL" =~ ^0x[0-9a-f]{64}$ && "$TASK" =~ ^0x[0-9a-f]{64}$ ]] || fail "fill output: $(cat "$TMP/.out")"
# dealid = keccak256(requestorderHash || uint256 0): checked against the hub's own record
expect_ok "$CELLA" deal show "$DEAL"
grep -q "\"dealid\": \"$DEAL\"" "$TMP/.out" || fail "deal show"
grep -q '"botSize": "1"' "$TMP/.out" || fail "deal size"
expect_ok "$CELLA" task show "$TASK"
grep -q '"status": "ACTIVE"' "$TMP/.out" || fail "task status"
expect_ok "$CELLA" account show --wallet-file "$(W req)"
grep -q 'balance 892 locked 108' "$TMP/.out" || fail "escrow: $(cat "$TMP/.out")"
# withdraw: the 108 locked in the deal are not withdrawable; beyond 892 refused, exact balances
expect_fail 'cella-hub-insufficient-balance.*unlocked balance is 892 .108 more are locked' \
  "$CELLA" account withdraw 893 --wallet-file "$(W req)"
expect_fail 'positive amount' "$CELLA" account withdraw 0 --wallet-file "$(W req)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"amount":"1"}' "$HUB_URL/v1/accounts/withdraw")
[[ $code == 401 ]] || fail "unsigned withdraw: HTTP $code"
expect_ok "$CELLA" account withdraw 92 --wallet-file "$(W req)"
grep -q 'withdrew 92 balance 800 locked 108' "$TMP/.out" || fail "withdraw: $(cat "$TMP/.out")"
expect_fail 'cella-hub-insufficient-balance' "$CELLA" account withdraw 801 --wallet-file "$(W req)"
expect_ok "$CELLA" account show "$(A req)"
grep -q 'balance 800 locked 108' "$TMP/.out" || fail "after withdraw: $(cat "$TMP/.out")"
expect_ok "$CELLA" account show "$(A pool)"
grep -q 'balance 970 locked 30' "$TMP/.out" || fail "pool stake: $(cat "$TMP/.out")"
# ---- the task: the pool authorizes a worker, which contributes and finalizes ----
cd "$TMP/worker"
printf 'hello\n' > result.txt
expect_ok "$CELLA" task authorize "$TASK" --worker "$(A worker)" --wallet-file "$(W other)"
BADAUTH=$(cat "$TMP/.out")
expect_fail 'cella-hub-task-authorization' "$CELLA" task contribute "$TASK" --result result.txt \
  --authorization "$BADAUTH" --wallet-file "$(W worker)"
expect_ok "$CELLA" task authorize "$TASK" --worker "$(A worker)" --wallet-file "$(W pool)"
AUTH=$(cat "$TMP/.out")
[[ "$AUTH" =~ ^0x[0-9a-f]{130}$ ]] || fail "task authorize printed $AUTH"
# the authorization names the worker: another wallet cannot use it
expect_fail 'cella-hub-task-authorization' "$CELLA" task contribute "$TASK" --result result.txt \
  --authorization "$AUTH" --wallet-file "$(W other)"
# task watch: a bounded watch of the ACTIVE task ends with its status, non-zero
expect_fail 'still ACTIVE after 1 s' "$CELLA" task watch "$TASK" --timeout 1
# ... and one running while the worker contributes follows it to COMPLETED, exit 0
"$CELLA" task watch "$TASK" > watch.out 2> watch.err & WATCH=$!
for _ in $(seq 50); do grep -q ': ACTIVE$' watch.err && break; sleep 0.1; done
grep -q ": ACTIVE$" watch.err || fail "task watch did not start: $(cat watch.out watch.err)"
sleep 0.5   # in its long poll now
t0=$(date +%s%N)
expect_ok "$CELLA" task contribute "$TASK" --result result.txt --authorization "$AUTH" \
  --wallet-file "$(W worker)"
grep -q 'COMPLETED' "$TMP/.out" || fail "contribute: $(cat "$TMP/.out")"
wait $WATCH || fail "task watch exited $? on a completed task: $(cat watch.out watch.err)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $ms -lt 5000 ]] || fail "task watch saw the completion after $ms ms"
[[ $(cat watch.err) == "task $TASK: ACTIVE"$'\n'"task $TASK: COMPLETED" ]] || fail "task watch printed: $(cat watch.err)"
[[ $(cat watch.out) == "$TASK COMPLETED" ]] || fail "task watch's result: $(cat watch.out)"
expect_ok "$CELLA" task watch "$TASK"   # already completed: at once
expect_fail 'cella-hub-task-not-active' "$CELLA" task contribute "$TASK" --result result.txt \
  --authorization "$AUTH" --wallet-file "$(W worker)"
expect_fail 'cella-hub-task-not-active' "$CELLA" task claim "$TASK"
expect_ok "$CELLA" task show "$TASK"
grep -q "\"resultDigest\": \"0x$(sha256sum result.txt | cut -c1-64)\"" "$TMP/.out" || fail "result digest"
expect_ok "$CELLA" account show "$(A worker)"
grep -q 'balance 99 locked 0' "$TMP/.out" || fail "worker reward: $(cat "$TMP/.out")"
expect_ok "$CELLA" account show "$(A pool)"
grep -q 'balance 1001 locked 0' "$TMP/.out" || fail "pool payout: $(cat "$TMP/.out")"
expect_ok "$CELLA" account show "$(A dev)"
grep -q 'balance 5 locked 0' "$TMP/.out" || fail "app payout: $(cat "$TMP/.out")"
expect_ok "$CELLA" account show "$(A req)"
grep -q 'balance 800 locked 0' "$TMP/.out" || fail "sponsor paid: $(cat "$TMP/.out")"
cd "$TMP/req"

# over-consumed volume: the request (volume 1) is used up
python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
out = {}
for d, k in (("dev", "apporder"), ("data", "datasetorder"), ("pool", "workerpoolorder"), ("req", "requestorder")):
    out[k] = json.load(open(f"{t}/{d}/orders.json"))["421614"][k]
json.dump({"421614": out}, open(f"{t}/req/orders-all.json", "w"))
PY
expect_fail 'iExecV5-matchOrders-0x60' "$CELLA" order fill --file orders-all.json
# a matchOrders rule through the API: the request asks for more trust than the pool gives
set_fields req requestorder trust=5
expect_ok "$CELLA" order sign --request --wallet-file "$(W req)" --out orders-trust.json
python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
a = json.load(open(f"{t}/req/orders-all.json"))
a["421614"]["requestorder"] = json.load(open(f"{t}/req/orders-trust.json"))["421614"]["requestorder"]
json.dump(a, open(f"{t}/req/orders-trust.json", "w"))
PY
expect_fail 'iExecV5-matchOrders-0x02' "$CELLA" order fill --file orders-trust.json
# orders by the hashes of the book, as the SDK's order fill: a second request,
# published, filled by its hash with the app and workerpool orders by theirs
set_fields req requestorder trust=0 volume=1
expect_ok "$CELLA" order sign --request --wallet-file "$(W req)" --out orders-h.json
expect_ok "$CELLA" order publish --request --file orders-h.json
RQ2=$(awk '{print $2}' "$TMP/.out")
expect_fail '\(--app\)' "$CELLA" order fill --request "$RQ2" --app 0x1234
expect_fail 'is a published apporder, not a requestorder' "$CELLA" order fill --request "$APPORDER"
expect_ok "$CELLA" order fill --request "$RQ2" --app "$APPORDER" --workerpool "$WPORDER"
DEAL2=$(awk '/^deal / {print $2}' "$TMP/.out")
expect_ok "$CELLA" deal show "$DEAL2"
python3 - "$TMP/.out" "$APPORDER" "$WPORDER" "$RQ2" <<'PY' || fail "deal by hashes: $(cat "$TMP/.out")"
import json, sys
d = json.load(open(sys.argv[1]))
o = d["orders"]
assert (o["apporder"], o["workerpoolorder"], o["requestorder"]) == tuple(sys.argv[2:5]), o
PY
expect_fail 'iExecV5-matchOrders-0x60' "$CELLA" order fill --request "$RQ2" --app "$APPORDER" --workerpool "$WPORDER"

# ---- cancel ----
cd "$TMP/other"
expect_fail 'only the order.s signer' "$CELLA" order cancel "$WPORDER" --wallet-file "$(W other)"
cd "$TMP/pool"
expect_ok "$CELLA" order cancel "$WPORDER" --wallet-file "$(W pool)"
expect_ok "$CELLA" order show "$WPORDER"
grep -q '"remaining": "0"' "$TMP/.out" || fail "a cancelled order has nothing left"
expect_fail 'no such order' "$CELLA" order show 0x"$(printf '%064d' 7)"
expect_fail 'no such deal' "$CELLA" deal show 0x"$(printf '%064d' 7)"

# ---- events of orders and deals (GET /v1/events), in order ----
curl -sf "$HUB_URL/v1/events" > events.json || fail "GET /v1/events"
python3 - events.json "$APPORDER" "$WPORDER" "$DEAL" "$WP" <<'PY' || fail "order and deal events: $(cat events.json)"
import json, sys
ev, app, wp, deal, pool = json.load(open(sys.argv[1]))["events"], *sys.argv[2:]
seq = lambda t, **kw: [e["seq"] for e in ev if e["type"] == t and all(e.get(k) == v for k, v in kw.items())]
pub = seq("order-published", orderHash=app, orderKind="apporder", taskid=None, dealid=None, workerpool=None)
wpub = seq("order-published", orderHash=wp, orderKind="workerpoolorder", workerpool=pool)
assert len(pub) == 1 and len(wpub) == 1, (pub, wpub)          # republishing records nothing
assert len(seq("order-published")) == 5, seq("order-published")  # app, dataset, pool, 2 requests
assert len(seq("deal-created")) == 2, seq("deal-created")          # by orders, then by hashes
dc = [e for e in ev if e["type"] == "deal-created" and e["dealid"] == deal]
assert len(dc) == 1 and dc[0]["dealid"] == deal and dc[0]["taskid"] is None and dc[0]["volume"] == 1, dc
assert dc[0]["orders"]["apporder"] == app and dc[0]["orders"]["workerpoolorder"] == wp, dc
assert dc[0]["workerpool"] == pool
tc = seq("task-created", dealid=deal)
assert len(tc) == 1 and pub[0] < dc[0]["seq"] < tc[0], (pub, dc, tc)
cancel = seq("order-cancelled", orderHash=wp, orderKind="workerpoolorder", workerpool=pool)
assert len(cancel) == 1 and cancel[0] > tc[0], cancel
PY

# ---- the faucet is off without --dev-faucet; garbage is refused; still serving ----
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'not json' "$HUB_URL/v1/deals")
[[ $code == 400 ]] || fail "garbage body: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '{"apporder": 1}' "$HUB_URL/v1/deals")
[[ $code == 400 ]] || fail "bad order: HTTP $code"
code=$(head -c 9000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @- "$HUB_URL/v1/orders")
[[ $code == 413 ]] || fail "oversized body: HTTP $code"
code=$(curl -s -o m.json -w '%{http_code}' -X PATCH "$HUB_URL/v1/orders")
[[ $code == 405 ]] && grep -q '"code":"method"' m.json || fail "PATCH: HTTP $code $(cat m.json)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"name":"x"}' "$HUB_URL/v1/apps")
[[ $code == 401 ]] || fail "unsigned deploy: HTTP $code"
expect_ok "$CELLA" app count
[[ $(cat "$TMP/.out") == 2 ]] || fail "app count after refusals"
kill -0 $HUB_PID || fail "the hub died"

# ---- kill -9: everything acknowledged is still there after a restart ----
stop_server "$HUB_PID" KILL
start_hub --log hub2.log   # same port and data, no faucet
expect_ok "$CELLA" deal show "$DEAL"
expect_ok "$CELLA" task show "$TASK"
grep -q '"status": "COMPLETED"' "$TMP/.out" || fail "task state lost after kill -9"
expect_ok "$CELLA" account show "$(A worker)"
grep -q 'balance 99 locked 0' "$TMP/.out" || fail "account lost after kill -9"
expect_ok "$CELLA" account show "$(A req)"
grep -q 'balance 692 locked 108' "$TMP/.out" || fail "withdraw (and the second deal's lock) lost after kill -9"
expect_ok "$CELLA" order show "$WPORDER"
grep -q '"remaining": "0"' "$TMP/.out" || fail "cancel lost after kill -9"
# without --dev-faucet there is no faucet
expect_fail 'no dev faucet' "$CELLA" account deposit 5 --to "$(A worker)"
finish
