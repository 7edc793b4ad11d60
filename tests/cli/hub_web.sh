#!/usr/bin/env bash
# The hub's web page in a real browser: a hub populated with the CLI (apps, one
# named with HTML, a dataset, a workerpool, TEE and plain orders, a deal whose
# first task completed with a results URL), then headless Chromium renders the
# page's routes and the test reads the DOM it built: app names, order hashes,
# the TEE filter, the deal, the task's status and results; the hostile name
# must be text, never an element. curl checks the security headers and the
# list endpoints. Without Chromium (or with CELLA_SKIP_BROWSER=1) it runs
# everything but the browser and then exits 77: skipped, not passed.
. "$(dirname "$0")/lib.sh"

BROWSER=
for b in chromium chromium-browser google-chrome; do
  command -v "$b" >/dev/null && { BROWSER=$(command -v "$b"); break; }
done
NO_BROWSER="no chromium (scripts/deps.sh installs it, or apt-get install chromium)"
[[ "${CELLA_SKIP_BROWSER:-0}" == 1 ]] && { BROWSER=; NO_BROWSER="CELLA_SKIP_BROWSER=1"; }

start_hub --dev-faucet
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
EVIL='<img src=x onerror=alert(1)>'
EVIL_TEXT='&lt;img src=x onerror=alert(1)&gt;'

new_wallet dev evil data pool req worker
conf() { # DIR EXTRA-JSON
  printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"%s}\n' "$H" "$HUB_URL" "$2" > "$TMP/$1/cella.json"
}
SUM=0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
conf dev ', "app": {"name": "hello-web", "type": "DOCKER", "multiaddr": "docker.io/cella/hello:1.0", "checksum": "'$SUM'", "measurement": "3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76"}'
conf evil ', "app": {"name": "'"$EVIL"'", "type": "DOCKER", "multiaddr": "docker.io/evil/app:1", "checksum": "'$SUM'"}'
conf data ', "dataset": {"name": "web-data", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ", "checksum": "'$SUM'"}'
conf pool ', "workerpool": {"description": "web-pool"}'
conf req ''
conf worker ''

# ---- populate with the CLI ----
deploy() { # DIR KIND -> the address
  (cd "$TMP/$1" && expect_ok "$CELLA" "$2" deploy --wallet-file "$(W "$1")" && cat "$TMP/.out")
}
publish() { # DIR KIND [order init args...] -> the order hash
  local dir=$1 kind=$2; shift 2
  (cd "$TMP/$dir" && expect_ok "$CELLA" order init "--$kind" "$@" &&
    expect_ok "$CELLA" order sign "--$kind" --wallet-file "$(W "$dir")" &&
    expect_ok "$CELLA" order publish "--$kind" && awk '{print $2}' "$TMP/.out")
}
APP=$(deploy dev app)
EVILAPP=$(deploy evil app)
DS=$(deploy data dataset)
WP=$(deploy pool workerpool)
[[ "$APP" =~ ^0x[0-9a-fA-F]{40}$ && "$EVILAPP" =~ ^0x && "$DS" =~ ^0x && "$WP" =~ ^0x ]] ||
  fail "deploys: $APP $EVILAPP $DS $WP"
TEEORDER=$(publish dev app --tag tee --set appprice=5,volume=10)
PLAINORDER=$(publish evil app --set appprice=1,volume=10)
DSORDER=$(publish data dataset --set datasetprice=3,volume=10)
WPORDER=$(publish pool workerpool --tag tee --set workerpoolprice=10,volume=10,trust=1)
for h in "$TEEORDER" "$PLAINORDER" "$DSORDER" "$WPORDER"; do
  [[ "$h" =~ ^0x[0-9a-f]{64}$ ]] || fail "publish printed '$h'"
done
# a two-task deal on the plain app; its task 0 completes with a results URL
cd "$TMP/req"
expect_ok "$CELLA" account deposit 1000 --to "$(A req)"
expect_ok "$CELLA" account deposit 1000 --to "$(A pool)"
expect_ok "$CELLA" order init --request --set "app=$EVILAPP,appmaxprice=1,workerpoolmaxprice=10,volume=2"
expect_ok "$CELLA" order sign --request --wallet-file "$(W req)"
expect_ok "$CELLA" order publish --request
expect_ok "$CELLA" order fill
DEAL=$(awk '/^deal / {print $2}' "$TMP/.out")
TASK0=$(awk '/^task 0 / {print $3}' "$TMP/.out")
TASK1=$(awk '/^task 1 / {print $3}' "$TMP/.out")
[[ "$DEAL" =~ ^0x[0-9a-f]{64}$ && "$TASK0" =~ ^0x && "$TASK1" =~ ^0x ]] || fail "fill: $(cat "$TMP/.out")"
cd "$TMP/worker"
printf 'hello\n' > result.txt
expect_ok "$CELLA" task authorize "$TASK0" --worker "$(A worker)" --wallet-file "$(W pool)"
AUTH=$(cat "$TMP/.out")
RESULTS="https://blobs.example/results/$TASK0.zip"
expect_ok "$CELLA" task contribute "$TASK0" --result result.txt --authorization "$AUTH" \
  --results "$RESULTS" --wallet-file "$(W worker)" --hub-url "$HUB_URL"
cd "$TMP"

# ---- the list endpoints ----
get() { curl -sS -f "$HUB_URL$1" > "$TMP/get.json" || fail "GET $1"; ok; }
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/get.json" "$1"; }
get /v1/apps
[[ $(jq_ 'd["total"], d["count"], d["offset"]') == "(2, 2, 0)" ]] || fail "apps list: $(cat get.json)"
[[ $(jq_ 'sorted(a["name"] for a in d["apps"])') == "['$EVIL', 'hello-web']" ]] || fail "app names: $(cat get.json)"
get "/v1/apps?limit=1&offset=1"
[[ $(jq_ 'd["total"], d["count"], d["offset"]') == "(2, 1, 1)" ]] || fail "apps page 2: $(cat get.json)"
get "/v1/apps?owner=$(A dev)"
[[ $(jq_ '[a["address"].lower() for a in d["apps"]]') == "['${APP,,}']" ]] || fail "apps by owner: $(cat get.json)"
get /v1/datasets
[[ $(jq_ 'd["datasets"][0]["name"]') == web-data ]] || fail "datasets: $(cat get.json)"
get /v1/workerpools
[[ $(jq_ 'd["workerpools"][0]["name"], d["total"]') == "('web-pool', 1)" ]] || fail "workerpools: $(cat get.json)"
get /v1/deals
[[ $(jq_ 'd["total"], d["deals"][0]["dealid"], d["deals"][0]["botSize"]') == "(1, '$DEAL', '2')" ]] ||
  fail "deals: $(cat get.json)"
get "/v1/deals?offset=5"
[[ $(jq_ 'd["count"], d["total"]') == "(0, 1)" ]] || fail "deals past the end: $(cat get.json)"
for bad in "/v1/apps?limit=0" "/v1/apps?limit=1001" "/v1/deals?offset=-1" "/v1/apps?owner=zz" "/v1/datasets?limit=x"; do
  code=$(curl -s -o "$TMP/bad.json" -w '%{http_code}' "$HUB_URL$bad")
  [[ $code == 400 ]] || fail "GET $bad: HTTP $code $(cat "$TMP/bad.json")"
  ok
done
# the API around the new routes is unchanged
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"name":"x"}' "$HUB_URL/v1/apps")
[[ $code == 401 ]] || fail "unsigned deploy: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$HUB_URL/v1/apps")
[[ $code == 405 ]] || fail "DELETE /v1/apps: HTTP $code"
ok

# ---- the page: headers, assets ----
headers() { # PATH TYPE
  curl -sS -D "$TMP/h.txt" -o "$TMP/body" "$HUB_URL$1" || fail "GET $1"
  tr -d '\r' < "$TMP/h.txt" > "$TMP/h"
  grep -q '^HTTP/1.1 200' "$TMP/h" || fail "GET $1: $(head -1 "$TMP/h")"
  grep -qi "^Content-Type: $2" "$TMP/h" || fail "GET $1: Content-Type $(grep -i '^content-type' "$TMP/h")"
  grep -qi "^Content-Security-Policy: default-src 'self'" "$TMP/h" || fail "GET $1: no strict CSP"
  grep -qi '^X-Content-Type-Options: nosniff' "$TMP/h" || fail "GET $1: no nosniff"
  grep -qi '^X-Frame-Options: DENY' "$TMP/h" || fail "GET $1: framable"
  ok
}
headers / 'text/html; charset=utf-8'
grep -q '<script src="/ui/app.js"' "$TMP/body" || fail "index.html loads no app.js"
# no inline script or style, no other origin: the CSP would block them anyway
! grep -Eq '<script>|<script [^>]*>[^<]|<style|style=|[[:space:]]on[a-z]+=|https?://' "$TMP/body" || fail "index.html has inline code or an external resource"
headers /ui/index.html 'text/html; charset=utf-8'
headers /ui/app.js 'text/javascript; charset=utf-8'
! grep -Eq 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|https?://[a-z]' "$TMP/body" ||
  fail "app.js builds HTML from strings or names another origin"
headers /ui/events.js 'text/javascript; charset=utf-8'
headers /ui/style.css 'text/css; charset=utf-8'
! grep -Eq '@import|url\(' "$TMP/body" || fail "style.css fetches something"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/ui/nope.js")
[[ $code == 404 ]] || fail "missing asset: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/ui/../v1/health")
[[ $code == 404 || $code == 200 ]] || fail "dot-dot: HTTP $code"   # curl normalizes; never a file
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$HUB_URL/")
[[ $code == 405 ]] || fail "POST /: HTTP $code"
ok

# ---- the page in a real browser ----
if [[ -z "$BROWSER" ]]; then
  finish
  skip "the browser checks: $NO_BROWSER"
fi
load() { # ROUTE BUDGET_MS: the DOM after the page ran, in $TMP/dom.html
  timeout 90 "$BROWSER" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --user-data-dir="$TMP/chrome" --virtual-time-budget="$2" --dump-dom "$HUB_URL/#/$1" \
    > "$TMP/dom.html" 2> "$TMP/chrome.log" || { tail -20 "$TMP/chrome.log" >&2; fail "chromium on #/$1"; }
}
dom() { # ROUTE
  load "$1" 5000
  grep -q '<main id="view">' "$TMP/dom.html" || fail "#/$1: no page in the DOM: $(head -c 500 "$TMP/dom.html")"
  ! grep -q 'class="error"' "$TMP/dom.html" || fail "#/$1: the page shows an error: $(grep -o 'class="error"[^<]*' "$TMP/dom.html")"
  ok
}
# The page may not have drawn everything within the virtual-time budget on a
# loaded machine: a missing text is looked for again in a page given longer.
has() {
  local budget
  for budget in 10000 20000 ""; do
    grep -qF -- "$1" "$TMP/dom.html" && { ok; return; }
    [[ -n $budget ]] && load "$ROUTE" "$budget"
  done
  fail "#/$ROUTE: the DOM lacks $1"
}
hasnt() { ! grep -qF -- "$1" "$TMP/dom.html" || fail "#/$ROUTE: the DOM has $1"; ok; }
# the view alone (<main>), without the live events panel, which links orders too
view() { python3 -c 'import sys; s = open(sys.argv[1]).read(); i = s.index("<main id=\"view\">"); print(s[i:s.index("</main>", i)])' "$TMP/dom.html"; }
hasnt_view() { ! view | grep -qF -- "$1" || fail "#/$ROUTE: the view has $1"; ok; }

ROUTE=apps; dom $ROUTE
has 'hello-web'
has "$EVIL_TEXT"            # the hostile name, escaped: text
hasnt '<img'                # and never an element
has '3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76'
ROUTE=datasets; dom $ROUTE; has 'web-data'
ROUTE=workerpools; dom $ROUTE; has 'web-pool'
ROUTE=orders; dom $ROUTE
has "$TEEORDER"; has "$PLAINORDER"; has "$DSORDER"; has "$WPORDER"
ROUTE='orders?kind=apporder&tee=1'; dom "$ROUTE"
has "$TEEORDER"; hasnt_view "$PLAINORDER"; hasnt_view "$WPORDER"; has '1 order (TEE only)'
ROUTE='orders?kind=apporder'; dom "$ROUTE"
has "$TEEORDER"; has "$PLAINORDER"; hasnt_view "$DSORDER"
ROUTE=deals; dom $ROUTE; has "$DEAL"
ROUTE="deal/$DEAL"; dom "$ROUTE"
has "$TASK0"; has "$TASK1"; has 'COMPLETED'; has 'ACTIVE'
ROUTE="task/$TASK0"; dom "$ROUTE"
has '<span id="task-status">COMPLETED</span>'
has "href=\"$RESULTS\""
ROUTE="task/$TASK1"; dom "$ROUTE"
has '<span id="task-status">ACTIVE</span>'
has 'Contribution deadline'
# live updates: the events panel followed GET /v1/events (orders, the deal, its tasks)
has 'task-created'; has 'task-completed'; has 'order-published'; has 'deal-created'
has "href=\"#/order/$DSORDER\""   # an order event links its order
ROUTE=''; dom "$ROUTE"; has 'open orders'
ROUTE='task/0xzz'; (dom "$ROUTE") 2>/dev/null && fail "a bad task id must show an error"
grep -q 'not a task id' "$TMP/dom.html" || fail "bad task id: $(grep -o '<main.*</main>' "$TMP/dom.html")"
ok
kill -0 $HUB_PID || fail "the hub died"
finish
