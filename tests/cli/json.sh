#!/usr/bin/env bash
# --json (and the SDK's --raw) on every verb: walking the usage table, each
# verb run with --json prints exactly one JSON document on stdout ({"ok":
# false, "error": {...}} for a usage error here), with the same exit status as
# without it. Then the fields of verbs that succeed: wallet, deploy, volume,
# app run's deal and tasks, account, and a show verb's reply as "result".
. "$(dirname "$0")/lib.sh"
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/.config
mkdir -p "$HOME"

expect_ok "$CELLA" help
awk '/^groups/ { on = 1; next } /^commands:/ { on = 0; cmds = 1; next }
     on && /^  [a-z]/ { g = $1; for (i = 2; i <= NF; i++) print g, $i; next }
     on && /^      / { for (i = 1; i <= NF; i++) print g, $i; next }
     cmds && /^  [a-z]/ && $1 != "help" { print $1 }' "$TMP/.out" > verbs
# servers and the stack run until stopped; demo runs the whole story
grep -Ev '^(hub serve|cas serve|blobs serve|worker start|up|demo|volume mount|run-task)$' verbs > walk
[[ $(wc -l < walk) -ge 60 ]] || fail "only $(wc -l < walk) verbs to walk"

n=0
while read -r -a v; do
  rm -rf w1 w2; mkdir w1 w2
  # no arguments: for most verbs a usage error; the same status either way
  a=0 b=0
  (cd w1 && timeout 60 "$CELLA" "${v[@]}" </dev/null >out 2>err) || a=$?
  (cd w2 && timeout 60 "$CELLA" "${v[@]}" --json </dev/null >out 2>err) || b=$?
  [[ $a == "$b" ]] || fail "cella ${v[*]}: exit $a without --json, $b with it"
  python3 - w2/out "$b" "${v[*]}" <<'PY' || fail "cella ${v[*]} --json: $(head -c 300 w2/out)"
import json, sys
text = open(sys.argv[1]).read()
doc = json.loads(text)                       # exactly one document...
assert text.count("\n") == 1 and text.endswith("\n"), "one line"
assert isinstance(doc, dict) and doc["ok"] == (sys.argv[2] == "0"), doc
if not doc["ok"]:
    e = doc["error"]
    assert e["message"] and isinstance(e["code"], str) and "where" in e, e
PY
  n=$((n + 1))
done < walk
echo "walked $n verbs"
ok

# a usage error: exit 2, the code says so
rc=0; "$CELLA" volume encrypt --json > u.json 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "usage error exit $rc"
python3 -c 'import json,sys; d=json.load(open("u.json")); assert d["error"]["code"]=="usage", d' || fail "code: $(cat u.json)"
# --raw is the same switch
"$CELLA" volume encrypt --raw > r.json 2>/dev/null || true
cmp -s u.json r.json || fail "--raw differs from --json"
# after --, --json is an argument, not the switch
"$CELLA" volume ls -- --json > dd.out 2>/dev/null && fail "volume ls -- --json succeeded"
[[ ! -s dd.out ]] || fail "-- --json printed: $(cat dd.out)"
ok

# ---- fields of verbs that succeed ----
J() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
"$CELLA" wallet create --unencrypted --keystoredir ks --json > w.json 2>/dev/null || fail "wallet create --json"
ADDR=$(J w.json 'd["address"]')
[[ $ADDR =~ ^0x[0-9a-fA-F]{40}$ && $(J w.json 'd["ok"], d["encrypted"]') == "(True, False)" ]] || fail "wallet create: $(cat w.json)"
"$CELLA" wallet show --keystoredir ks --json > s.json 2>/dev/null || fail "wallet show --json"
[[ $(J s.json 'd["address"], d["keyChecked"]') == "('$ADDR', True)" ]] || fail "wallet show: $(cat s.json)"
"$CELLA" wallet sign-message hi --keystoredir ks --json > m.json 2>/dev/null || fail "sign-message"
SIG=$(J m.json 'd["signature"]')
"$CELLA" wallet verify-message hi "$SIG" --json > v.json 2>/dev/null || fail "verify-message"
[[ $(J v.json 'd["address"]') == "$ADDR" ]] || fail "verify-message: $(cat v.json)"
mkdir src; echo hello > src/a.txt
"$CELLA" volume encrypt src vol --key-file k.key --json > e.json 2>/dev/null || fail "volume encrypt --json"
TAG=$(J e.json 'd["tag"]')
[[ $TAG =~ ^[0-9a-f]{32}$ ]] || fail "volume encrypt: $(cat e.json)"
expect_ok "$CELLA" volume tag vol --key-file k.key
[[ $(cat "$TMP/.out") == "$TAG" ]] || fail "the tag differs"
ok

start_hub --dev-faucet
new_wallet dev
cd "$TMP/dev"
printf '{"chainId": 421614, "hub": "0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E", "hubUrl": "%s", "app": {"name": "j", "type": "DOCKER", "multiaddr": "docker.io/x/y:1", "checksum": "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}\n' "$HUB_URL" > cella.json
"$CELLA" app deploy --wallet-file "$(W dev)" --json > d.json 2>/dev/null || fail "app deploy --json"
APP=$(J d.json 'd["address"]')
[[ $(J d.json 'd["kind"], d["created"]') == "('app', True)" ]] || fail "deploy: $(cat d.json)"
"$CELLA" app show --json > sh.json 2>/dev/null || fail "app show --json"
[[ $(J sh.json 'd["result"]["address"], d["result"]["name"]') == "('$APP', 'j')" ]] || fail "show: $(cat sh.json)"
"$CELLA" account deposit 100 --wallet-file "$(W dev)" >/dev/null 2>&1 || fail "deposit"
"$CELLA" account show --wallet-file "$(W dev)" --json > a.json 2>/dev/null || fail "account show --json"
[[ $(J a.json 'd["address"], d["balance"], d["locked"]') == "('$(A dev)', '100', '0')" ]] || fail "account: $(cat a.json)"
"$CELLA" wallet show --wallet-file "$(W dev)" --json > b.json 2>/dev/null || fail "wallet show with a hub"
[[ $(J b.json 'd["balance"]') == 100 ]] || fail "wallet show balance: $(cat b.json)"
# a failure from the hub: ok false, the hub's reason, exit 1
rc=0; "$CELLA" app show 0x0000000000000000000000000000000000000001 --json > nf.json 2>/dev/null || rc=$?
[[ $rc == 1 ]] || fail "app show of nothing: exit $rc"
python3 -c 'import json; d=json.load(open("nf.json")); assert d["ok"] is False and d["error"]["code"]=="notfound", d' || fail "not found: $(cat nf.json)"
ok
finish
