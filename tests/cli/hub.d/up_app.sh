# Sourced by tests on `cella up` (after lib.sh, its start_market, and hub.d/orders.sh).
# publish_bundle WHO NAME: in $TMP/WHO (a `cella init` project of wallet WHO),
# the directory bundle NAME (entrypoint NAME, wordcount's manifest otherwise)
# is packed, put in the blob store, deployed and offered (no tag, volume
# 100); APP gets its address, BUNDLE_SHA the SHA-256 of its tarball.
publish_bundle() {
  local who=$1 name=$2 src=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
  cd "$TMP/$who" || fail "no $who"
  sed "s/\"wordcount\"/\"$name\"/" "$src/examples/wordcount/cella-app.json" > "$name/cella-app.json"
  expect_ok "$CELLA" app pack "$name" -o "$name.tar"
  BUNDLE_SHA=$(sha256sum "$name.tar" | cut -c1-64)
  local checksum
  checksum=$(awk '{print $1}' "$TMP/.out")
  expect_ok "$CELLA" blobs put "$name.tar" --url "$BLOBS"
  python3 -c 'import json,sys;c=json.load(open("cella.json"));c["app"]={"name":sys.argv[1],"type":"DOCKER","multiaddr":sys.argv[2],"checksum":sys.argv[3],"measurement":sys.argv[4]};json.dump(c,open("cella.json","w"))' \
    "$name" "$(awk '{print $2}' "$TMP/.out")" "$checksum" "$("$CELLA" app measure "$name")"
  expect_ok "$CELLA" app deploy --wallet-file "$(W "$who")"
  APP=$(cat "$TMP/.out")
  expect_ok "$CELLA" order init --app
  set_fields "$who" apporder app="$APP" volume=100
  expect_ok "$CELLA" order sign --app --wallet-file "$(W "$who")"
  expect_ok "$CELLA" order publish --app
}
