#!/usr/bin/env bash
# cella app run with the iExec SDK's options: the app (and --dataset deployed)
# from cella.json's "deployed"; --params JSON merged with --args, --secret and
# --input-files (a key given both ways refused); the preflight, which asks cas
# before anything is signed whether the beneficiary's result key and each
# named requester secret exist, and --skip-preflight-check; what it published
# (the request's params) read back from the hub. No worker: the deal is enough.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/hub.d/orders.sh"   # set_fields

H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
start_hub --dev-faucet
start_cas --hub "$HUB_URL"
new_wallet dev pool req
for who in dev pool req; do
  printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s", "cas": {"url": "%s", "fingerprint": "%s"}}\n' \
    "$H" "$HUB_URL" "$CAS_URL" "$CAS_FP" > "$TMP/$who/cella.json"
done
cd "$TMP/dev"
expect_ok "$CELLA" app deploy --name app --multiaddr docker.io/t:1 --checksum 0x$(printf '3%.0s' $(seq 64)) \
  --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --app
set_fields dev apporder app="$APP" appprice=1 volume=100 tag=0x3
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app
cd "$TMP/pool"
expect_ok "$CELLA" workerpool deploy --name pool --wallet-file "$(W pool)"
WP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --workerpool
set_fields pool workerpoolorder workerpool="$WP" workerpoolprice=1 volume=100 tag=0x3
expect_ok "$CELLA" order sign --workerpool --wallet-file "$(W pool)"
expect_ok "$CELLA" order publish --workerpool
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W pool)"
cd "$TMP/req"
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W req)"
ok

requests() { # how many request orders of req the book holds, open or not
  "$CELLA" order book --kind requestorder --requester "$(A req)" --all |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["count"])'
}
params_of() { # REQUESTORDER-HASH -> its params, as JSON
  "$CELLA" order show "$1" | python3 -c 'import json,sys;print(json.load(sys.stdin)["order"]["params"])'
}

# ---- what to run: the address, or cella.json's deployed app ----
expect_fail 'no app given and none deployed in ./cella.json' "$CELLA" app run --wallet-file "$(W req)"
python3 - "$APP" <<'PY'
import json, sys
c = json.load(open("cella.json")); c["deployed"] = {"app": sys.argv[1]}
json.dump(c, open("cella.json", "w"))
PY
expect_fail 'no dataset given and none deployed' "$CELLA" app run --dataset deployed --wallet-file "$(W req)"

# ---- the preflight: the beneficiary's result key must be on cas ----
expect_fail "the beneficiary $(A req) has no result encryption key on cas: push one with .cella result push-encryption-key." \
  "$CELLA" app run --wallet-file "$(W req)"
[[ $(requests) == 0 ]] || fail "the preflight let an order through"
expect_fail "requester secret 'apikey' \\(index 1\\) is not on cas" \
  "$CELLA" app run --secret 1=apikey --no-result-encryption --wallet-file "$(W req)"
[[ $(requests) == 0 ]] || fail "the preflight let an order through"
# skipped on request, or not needed
expect_ok "$CELLA" app run --skip-preflight-check --wallet-file "$(W req)"
grep -q '^deal 0x' "$TMP/.out" || fail "no deal: $(cat "$TMP/.out")"
expect_ok "$CELLA" app run "$APP" --no-result-encryption --wallet-file "$(W req)"
ok
# with the key and the secret pushed, it passes
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A req)"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W req)"
printf 'k' > s.txt
expect_ok "$CELLA" requester push-secret apikey --secret-file s.txt --wallet-file "$(W req)"
"$CELLA" app run --secret 1=apikey --args "a b" --json --wallet-file "$(W req)" > run.json 2>/dev/null ||
  fail "app run with the preflight: $(cat run.json)"
RO=$(python3 -c 'import json;print(json.load(open("run.json"))["requestorder"])')
[[ $(params_of "$RO") == '{"iexec_args":"a b","iexec_result_encryption":true,"iexec_secrets":{"1":"apikey"}}' ]] ||
  fail "params: $(params_of "$RO")"
ok

# ---- --params: the SDK's JSON object, merged with the flags ----
"$CELLA" app run --params '{"iexec_args": "x y", "iexec_result_encryption": false, "iexec_result_storage_provider": "ipfs"}' \
  --input-files https://example.invalid/a.txt --json --wallet-file "$(W req)" > p.json 2>/dev/null ||
  fail "app run --params: $(cat p.json)"
RO=$(python3 -c 'import json;print(json.load(open("p.json"))["requestorder"])')
[[ $(params_of "$RO") == '{"iexec_args":"x y","iexec_input_files":["https://example.invalid/a.txt"],"iexec_result_encryption":false,"iexec_result_storage_provider":"ipfs"}' ]] ||
  fail "--params: $(params_of "$RO")"
expect_fail 'iexec_args is given by --params too' "$CELLA" app run --params '{"iexec_args": "x"}' --args y --wallet-file "$(W req)"
# secret names go into cas paths: only names iExec accepts, from the flags or --params
expect_fail 'secret 1: a requester secret name is 1 to 64 of' "$CELLA" app run --secret '1=a/../b' --wallet-file "$(W req)"
expect_fail 'secret 2: a requester secret name is 1 to 64 of' "$CELLA" app run --params '{"iexec_secrets": {"2": 5}}' --wallet-file "$(W req)"
expect_fail 'iexec_secrets must be an object' "$CELLA" app run --params '{"iexec_secrets": "x"}' --wallet-file "$(W req)"
expect_fail '\(--params\)' "$CELLA" app run --params '[1]' --wallet-file "$(W req)"
expect_fail '\(--params\)' "$CELLA" app run --params '{"a":' --wallet-file "$(W req)"
ok

# ---- the SDK's order book views: a table for people, entries with --json ----
expect_ok "$CELLA" orderbook app "$APP"
head -1 "$TMP/.out" | grep -q '^ORDER HASH  *PRICE  *LEFT  *TAG  *PUBLISHED$' || fail "orderbook head: $(cat "$TMP/.out")"
grep -Eq '^0x[0-9a-f]{64}  +1 nRLC  +[0-9]+/100  +tee,scone  +20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \((now|[0-9]+ (s|min) ago)\)$' "$TMP/.out" ||
  fail "orderbook row: $(cat "$TMP/.out")"
"$CELLA" orderbook app "$APP" --json > ob.json 2>/dev/null || fail "orderbook --json"
[[ $(python3 -c 'import json;d=json.load(open("ob.json"));print(d["count"], len(d["orders"]), d["orders"][0]["kind"])') == "1 1 apporder" ]] ||
  fail "orderbook --json: $(cat ob.json)"
count() { "$CELLA" orderbook "$@" --json 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)["count"])'; }
[[ $(count app "$APP" --require-tag tee) == 1 && $(count app "$APP" --require-tag gpu) == 0 ]] || fail "--require-tag"
[[ $(count app "$APP" --tag tee,scone) == 1 && $(count app "$APP" --tag tee) == 0 ]] || fail "--tag (exact)"
[[ $(count app "$APP" --min-volume 1) == 1 && $(count app "$APP" --min-volume 101) == 0 ]] || fail "--min-volume"
[[ $(count app "$APP" --max-price 1) == 1 && $(count app "$APP" --max-price 0) == 0 ]] || fail "--max-price"
# an order open to every requester allows this one, but is not restricted to it
[[ $(count app "$APP" --requester "$(A req)") == 1 && $(count app "$APP" --requester "$(A req)" --requester-strict) == 0 ]] ||
  fail "--requester / --requester-strict"
[[ $(count workerpool --min-trust 0) -ge 1 && $(count workerpool --min-trust 5) == 0 ]] || fail "--min-trust"
[[ $(count requester "$(A req)" --all) -ge 3 ]] || fail "orderbook requester --all: $(count requester "$(A req)" --all)"
expect_fail 'usage: cella orderbook app ADDRESS' "$CELLA" orderbook app
expect_fail '\(--min-volume\)' "$CELLA" orderbook app "$APP" --min-volume lots
# a bad filter is refused even where no order would be compared
expect_fail 'tag' "$CELLA" orderbook dataset 0x000000000000000000000000000000000000dEaD --tag bogus
ok

# ---- for people (a terminal, or CELLA_OUTPUT=people): key/value lines and tables ----
RQ=$(python3 -c 'import json;print(json.load(open("run.json"))["requestorder"])')
TK=$(python3 -c 'import json;print(json.load(open("run.json"))["tasks"][0])')
CELLA_OUTPUT=people "$CELLA" task show "$TK" > people.txt 2>/dev/null || fail "task show for people"
grep -Eq '^status +ACTIVE$' people.txt || fail "task show for people: $(cat people.txt)"
grep -Eq '^finalDeadline +20[0-9-]{8}T[0-9:]{8}Z \(in [0-9]+ (s|min|h|d)\)$' people.txt || fail "deadline for people: $(cat people.txt)"
grep -Eq '^tag +tee,scone$' people.txt || fail "tag for people: $(cat people.txt)"
CELLA_OUTPUT=people "$CELLA" order show "$RQ" > people.txt 2>/dev/null || fail "order show for people"
grep -Eq '^order\.workerpoolmaxprice +[0-9]+ nRLC$' people.txt || fail "amount for people: $(cat people.txt)"
CELLA_OUTPUT=people "$CELLA" order book --kind apporder > people.txt 2>/dev/null || fail "order book for people"
head -1 people.txt | grep -Eq '^ORDER HASH +KIND +PRICE +LEFT +TAG +PUBLISHED$' || fail "book head: $(cat people.txt)"
grep -Eq '^0x[0-9a-f]{64} +apporder +1 nRLC +[0-9]+ +tee,scone +20' people.txt || fail "book row: $(cat people.txt)"
grep -q '^(1 orders)$' people.txt || fail "book count: $(cat people.txt)"
CELLA_OUTPUT=people "$CELLA" task list --workerpool "$WP" > people.txt 2>/dev/null || fail "task list for people"
head -1 people.txt | grep -Eq '^TASK ID +STATUS +CONTRIBUTE BY +FINAL DEADLINE +WORKER$' || fail "task list head: $(cat people.txt)"
grep -Eq "^$TK +ACTIVE +20" people.txt || fail "task list row: $(cat people.txt)"
# piped, as scripts and the tests see it: JSON as before
"$CELLA" task show "$TK" | python3 -c 'import json,sys; assert json.load(sys.stdin)["status"] == "ACTIVE"' || fail "piped task show is not JSON"
ok

# ---- publish / unpublish in one step, as the SDK's ----
cd "$TMP/dev"
expect_ok "$CELLA" app publish --price 2 --volume 5 --tag tee,scone --wallet-file "$(W dev)"
PUB=$(awk '/^apporder / {print $2}' "$TMP/.out")
expect_ok "$CELLA" order show "$PUB"
python3 - "$TMP/.out" "$APP" <<'PY' || fail "published order: $(cat "$TMP/.out")"
import json, sys
e = json.load(open(sys.argv[1])); o = e["order"]
assert (o["app"], str(o["appprice"]), str(o["volume"]), o["tag"][-1], str(e["remaining"])) == (sys.argv[2], "2", "5", "3", "5"), e
PY
expect_fail 'app orders have no category' "$CELLA" app publish --category 1 --wallet-file "$(W dev)"
expect_fail 'not a valid|tag' "$CELLA" app publish --tag nonsense --wallet-file "$(W dev)"
# only the owner's signature is accepted by the hub
(cd "$TMP/req" && expect_fail 'belongs to|owner' "$CELLA" app publish "$APP" --wallet-file "$(W req)")
cd "$TMP/pool"
expect_ok "$CELLA" workerpool publish "$WP" --price 3 --category 0 --trust 1 --volume 2 --wallet-file "$(W pool)"
cd "$TMP/dev"
# unpublish: the newest first, then --all, then nothing is left
expect_ok "$CELLA" app unpublish --wallet-file "$(W dev)"
grep -q "^apporder $PUB cancelled$" "$TMP/.out" || fail "unpublish: $(cat "$TMP/.out")"
expect_ok "$CELLA" order show "$PUB"
grep -q '"remaining": "0"' "$TMP/.out" || fail "the unpublished order is still open"
expect_ok "$CELLA" app unpublish --all --wallet-file "$(W dev)"
[[ $(grep -c ' cancelled$' "$TMP/.out") -ge 1 ]] || fail "unpublish --all: $(cat "$TMP/.out")"
expect_fail "no open apporder of $APP signed by this wallet" "$CELLA" app unpublish --wallet-file "$(W dev)"
ok

# ---- transfer: the app changes owner, its address stays, old orders stop matching ----
expect_ok "$CELLA" app publish --price 1 --volume 10 --tag tee,scone --wallet-file "$(W dev)"
OLD=$(awk '/^apporder / {print $2}' "$TMP/.out")
(cd "$TMP/req" && expect_fail "$APP belongs to $(A dev), not to $(A req): only its owner may transfer it" \
  "$CELLA" app transfer "$APP" --to "$(A req)" --wallet-file "$(W req)")
expect_fail 'cannot transfer to address zero' "$CELLA" app transfer --to 0x0000000000000000000000000000000000000000 --wallet-file "$(W dev)"
expect_fail 'no such app' "$CELLA" app transfer 0x000000000000000000000000000000000000dEaD --to "$(A req)" --wallet-file "$(W dev)"
expect_ok "$CELLA" app transfer --to "$(A req)" --wallet-file "$(W dev)"
[[ $(cat "$TMP/.out") == "app $APP now belongs to $(A req)" ]] || fail "transfer: $(cat "$TMP/.out")"
expect_ok "$CELLA" app show "$APP"
grep -q "\"owner\": \"$(A req)\"" "$TMP/.out" || fail "owner after transfer: $(cat "$TMP/.out")"
curl -sf "$HUB_URL/v1/events" | grep -q "\"type\":\"resource-transferred\"" || fail "no resource-transferred event"
# the former owner's order no longer matches (PoCo checks the signer against the owner)
cd "$TMP/req"
expect_fail 'iExecV5-matchOrders-0x21.*request order 0x[0-9a-f]{64} cancelled' \
  "$CELLA" app run "$APP" --no-result-encryption --wallet-file "$(W req)"
expect_fail 'belongs to' "$CELLA" app transfer "$APP" --to "$(A dev)" --wallet-file "$(W dev)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "{\"to\": \"$(A dev)\"}" "$HUB_URL/v1/apps/$APP/transfer")
[[ $code == 401 ]] || fail "unsigned transfer: HTTP $code"
ok
finish
