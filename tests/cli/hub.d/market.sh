# Sourced by hub tests (after lib.sh and start_hub --dev-faucet): a small
# market on the hub at $HUB_URL.
#   market_setup WHO...: a wallet and a cella.json naming the hub for each WHO
#     (which must include dev, pool and req); dev deploys an app and publishes
#     an app order (price 1, volume 100), pool a workerpool and its order
#     (price 10, volume 100, trust 1); pool and req deposit 1000 nRLC, req
#     makes its request template. Sets H, APP and WP; ends in $TMP/req.
#   fill VOLUME: a new request of req (salted), matched; TASKS gets its task ids.
. "$(dirname "${BASH_SOURCE[0]}")/orders.sh"   # set_fields
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
market_setup() {
  local who
  for who in "$@"; do
    new_wallet "$who"
    printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"}\n' "$H" "$HUB_URL" > "$TMP/$who/cella.json"
  done
  python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
for d, k, v in (("dev", "app", {"name": "w", "type": "DOCKER", "multiaddr": "docker.io/w:1",
                                "checksum": "0x" + "11" * 32}),
                ("pool", "workerpool", {"description": "p"})):
    c = json.load(open(f"{t}/{d}/cella.json")); c[k] = v
    json.dump(c, open(f"{t}/{d}/cella.json", "w"))
PY
  cd "$TMP/dev"
  expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"
  APP=$(cat "$TMP/.out")
  expect_ok "$CELLA" order init --app
  set_fields dev apporder app="$APP" appprice=1 volume=100
  expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
  expect_ok "$CELLA" order publish --app
  cd "$TMP/pool"
  expect_ok "$CELLA" workerpool deploy --wallet-file "$(W pool)"
  WP=$(cat "$TMP/.out")
  expect_ok "$CELLA" order init --workerpool
  set_fields pool workerpoolorder workerpool="$WP" workerpoolprice=10 volume=100 trust=1
  expect_ok "$CELLA" order sign --workerpool --wallet-file "$(W pool)"
  expect_ok "$CELLA" order publish --workerpool
  expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W pool)"
  cd "$TMP/req"
  expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W req)"
  expect_ok "$CELLA" order init --request
}
N=0
fill() {
  N=$((N + 1))
  cd "$TMP/req"
  set_fields req requestorder app="$APP" workerpool="$WP" appmaxprice=1 workerpoolmaxprice=10 \
    volume="$1" params="{\"n\": $N}"
  expect_ok "$CELLA" order sign --request --wallet-file "$(W req)"
  expect_ok "$CELLA" order fill
  TASKS=($(awk '/^task / {print $3}' "$TMP/.out"))
  [[ ${#TASKS[@]} == "$1" ]] || fail "fill: $(cat "$TMP/.out")"
}
