#!/usr/bin/env bash
# `cella order verify` tells the truth: an app, dataset or workerpool order is
# valid only when signed by its resource's owner on the hub (--hub-url, or
# hubUrl in cella.json) or by --signer; without either it refuses (exit 2)
# instead of printing whatever address a signature recovers to. A tampered
# order, one by another wallet, one for an unregistered app, and one for
# another chain are refused.
. "$(dirname "$0")/lib.sh"
start_hub --dev-faucet
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
new_wallet dev thief
for who in dev thief; do
  printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s", "app": {"name": "hello", "type": "DOCKER", "multiaddr": "docker.io/cella/hello:1.0", "checksum": "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}\n' \
    "$H" "$HUB_URL" > "$TMP/$who/cella.json"
done
cd "$TMP/dev"
expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --app
python3 - "$APP" <<'PY'
import json, sys
c = json.load(open("cella.json")); c["order"]["apporder"]["app"] = sys.argv[1]
json.dump(c, open("cella.json", "w"))
PY
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"

# the owner's order, judged against the hub from cella.json and from --hub-url
expect_ok "$CELLA" order verify orders.json
grep -q "^apporder 0x[0-9a-f]\{64\} valid, signed by $(A dev)" "$TMP/.out" || fail "verify: $(cat "$TMP/.out")"
(cd "$TMP" && expect_ok "$CELLA" order verify dev/orders.json --chain-id 421614 --hub $H --hub-url "$HUB_URL")

# tampered after signing: the signature recovers to some other address
python3 - <<'PY'
import json
d = json.load(open("orders.json")); d["421614"]["apporder"]["appprice"] = "7"
json.dump(d, open("tampered.json", "w"))
PY
expect_fail "signature is by 0x[0-9a-fA-F]{40}, not by the expected signer $(A dev)" "$CELLA" order verify tampered.json

# signed by another wallet: a valid signature, but not the owner's
cp cella.json "$TMP/thief/cella.json"
(cd "$TMP/thief" && "$CELLA" order sign --app --wallet-file "$(W thief)" >/dev/null 2>&1) || fail "thief sign"
expect_fail "not by the expected signer $(A dev)" "$CELLA" order verify "$TMP/thief/orders.json"

# no hub and no --signer: refused, exit 2, whatever the signature
(cd "$TMP" && expect_fail "cannot tell who may sign the apporder" "$CELLA" order verify dev/tampered.json --chain-id 421614 --hub $H)
(cd "$TMP" && "$CELLA" order verify dev/orders.json --chain-id 421614 --hub $H >/dev/null 2>&1; [[ $? == 2 ]]) || fail "exit status without a signer or a hub"
ok
# --signer still judges without a hub
(cd "$TMP" && expect_ok "$CELLA" order verify dev/orders.json --chain-id 421614 --hub $H --signer "$(A dev)")

# an app the hub does not know: nobody may sign its orders
python3 - <<'PY'
import json
c = json.load(open("cella.json")); c["order"]["apporder"]["app"] = "0x000000000000000000000000000000000000dEaD"
json.dump(c, open("cella.json", "w"))
PY
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)" --out unknown.json
expect_fail "app 0x000000000000000000000000000000000000dEaD is not registered on the hub" "$CELLA" order verify unknown.json

# the same order checked for another chain or hub: the hash differs, so does the signer
python3 -c 'import json; json.dump({"apporder": json.load(open("orders.json"))["421614"]["apporder"]}, open("one.json", "w"))'
expect_ok "$CELLA" order verify one.json --chain-id 421614 --hub $H
expect_fail "not by the expected signer" "$CELLA" order verify one.json --chain-id 5 --hub $H
expect_fail "not by the expected signer" "$CELLA" order verify one.json --chain-id 421614 --hub 0x0000000000000000000000000000000000000001
finish
