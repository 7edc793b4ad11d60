#!/usr/bin/env bash
# The hub's web page in a real browser. A marketplace seeded with the CLI:
# apps (one named with HTML), a dataset whose order is restricted to one app,
# a workerpool (HTML in its name too), TEE and plain orders, a deal with a bag
# of three tasks (one completed with a results URL, one whose run failed with
# a reason, one waiting), and, matched under --dev-timeref 1, a task past its
# final deadline (claimable). curl checks the security headers, the read
# endpoints and their 400s. Then headless Chromium, driven over the DevTools
# pipe by hub_web_browser.py, opens every page (home, the lists, the order book
# with its filters, app, dataset, workerpool, order, deal, each kind of task,
# account, search), checks what it must show and that the hostile names stay
# text, screenshots it at 1400 and 1024 px into $CELLA_TEST_OUT, checks a
# phone's width, and watches two tasks change state while their page stays
# open: one claimed, one completed after the hub restarted. Without Chromium
# (or with CELLA_SKIP_BROWSER=1) it runs everything but the browser and exits
# 77: skipped, not passed.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

BROWSER=
for b in chromium chromium-browser google-chrome; do
  command -v "$b" >/dev/null && { BROWSER=$(command -v "$b"); break; }
done
NO_BROWSER="no chromium (scripts/deps.sh installs it, or apt-get install chromium)"
[[ "${CELLA_SKIP_BROWSER:-0}" == 1 ]] && { BROWSER=; NO_BROWSER="CELLA_SKIP_BROWSER=1"; }

T_START=$(date +%s.%N)
lap() { awk -v w="$1" -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%s: %.1f s\n", w, b - a }'; }
# a cas (its SMS) that the hub asks whether a dataset's key is there; cas asks
# the hub who owns a dataset when its key is pushed: the hub's port first
HUB_PORT=$(free_port)
start_cas --hub "http://127.0.0.1:$HUB_PORT"
HUBCAS=(--cas "$CAS_URL" --cas-fingerprint "$CAS_FP")
start_hub --dev-faucet "${HUBCAS[@]}"
grep -q "^dataset keys: the page asks cas $CAS_URL\$" "$HUB_LOG" || fail "the hub does not say it asks cas"
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
EVIL='<img src=x onerror=alert(1)>'
EVIL2='<img src=x onerror=window.pwned=1>'
EVIL3='<script>window.pwned=1</script>'

new_wallet dev evil data nokey pool req worker
conf() { # DIR EXTRA-JSON
  printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"%s}\n' "$H" "$HUB_URL" "$2" > "$TMP/$1/cella.json"
}
SUM=0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
conf dev ', "app": {"name": "hello-web", "type": "DOCKER", "multiaddr": "docker.io/cella/hello:1.0", "checksum": "'$SUM'", "measurement": "3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76"}'
conf evil ', "app": {"name": "'"$EVIL"'", "type": "DOCKER", "multiaddr": "docker.io/evil/app:1", "checksum": "'$SUM'"}'
conf data ', "dataset": {"name": "web-data '"$EVIL2"'", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ", "checksum": "'$SUM'"}'
conf pool ', "workerpool": {"description": "web-pool '"$EVIL3"'"}'
conf nokey ', "dataset": {"name": "no-key", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ", "checksum": "'$SUM'"}'
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
NOKEY=$(deploy nokey dataset)
WP=$(deploy pool workerpool)
# DS's key is pushed to cas; NOKEY's never is; DOWN is asked only once cas is down
openssl rand -hex 32 > "$TMP/data/ds.key"
DSKEY=$(cat "$TMP/data/ds.key")
DSKEY64=$(xxd -r -p "$TMP/data/ds.key" | base64)
(cd "$TMP/data" && expect_ok "$CELLA" dataset push-secret "$DS" --key-file ds.key --wallet-file "$(W data)" "${CAS[@]}")
conf nokey ', "dataset": {"name": "asked-when-cas-is-down", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ", "checksum": "'$SUM'"}'
DOWN=$(deploy nokey dataset)
[[ "$APP" =~ ^0x[0-9a-fA-F]{40}$ && "$EVILAPP" =~ ^0x && "$DS" =~ ^0x && "$WP" =~ ^0x ]] ||
  fail "deploys: $APP $EVILAPP $DS $WP"
TEEORDER=$(publish dev app --tag tee --set appprice=5,volume=10)
PLAINORDER=$(publish evil app --set appprice=1,volume=10)
DSORDER=$(publish data dataset --set datasetprice=3,volume=10,apprestrict=$EVILAPP)
WPORDER=$(publish pool workerpool --tag tee --set workerpoolprice=10,volume=20,trust=1)
for h in "$TEEORDER" "$PLAINORDER" "$DSORDER" "$WPORDER"; do
  [[ "$h" =~ ^0x[0-9a-f]{64}$ ]] || fail "publish printed '$h'"
done
# a bag of three tasks on the plain app and the dataset: task 0 completes
# with a results URL, task 1's run fails with a reason, task 2 waits
cd "$TMP/req"
expect_ok "$CELLA" account deposit 1000 --to "$(A req)"
expect_ok "$CELLA" account deposit 1000 --to "$(A pool)"
request() { # VOLUME: a request order of req, published, matched -> DEAL, TASKS
  cd "$TMP/req"
  expect_ok "$CELLA" order init --request --set "app=$EVILAPP,dataset=$DS,appmaxprice=1,datasetmaxprice=3,workerpoolmaxprice=10,volume=$1,params=n$RANDOM"
  expect_ok "$CELLA" order sign --request --wallet-file "$(W req)"
  expect_ok "$CELLA" order publish --request
  expect_ok "$CELLA" order fill --app "$PLAINORDER" --dataset "$DSORDER" --workerpool "$WPORDER"
  DEAL=$(awk '/^deal / {print $2}' "$TMP/.out")
  TASKS=($(awk '/^task / {print $3}' "$TMP/.out"))
  [[ "$DEAL" =~ ^0x[0-9a-f]{64}$ && ${#TASKS[@]} == "$1" ]] || fail "fill: $(cat "$TMP/.out")"
}
request 3
BAG=$DEAL TASK0=${TASKS[0]} TASK1=${TASKS[1]} TASK2=${TASKS[2]}
DEAL=$BAG
cd "$TMP/worker"
printf 'hello\n' > result.txt
contribute() { # TASK: the worker's result, with a results URL
  cd "$TMP/worker"
  expect_ok "$CELLA" task authorize "$1" --worker "$(A worker)" --wallet-file "$(W pool)"
  expect_ok "$CELLA" task contribute "$1" --result result.txt --authorization "$(cat "$TMP/.out")" \
    --results "https://blobs.example/results/$1.zip" --wallet-file "$(W worker)" --hub-url "$HUB_URL"
}
contribute "$TASK0"
RESULTS="https://blobs.example/results/$TASK0.zip"
HOLD=abcdef0123456789abcdef0123456789
REASON='the app exited with status 3 <b>not bold</b>'
expect_ok "$CELLA" hub call POST "/v1/tasks/$TASK1/lease" --data "{\"holder\": \"$HOLD\", \"seconds\": 60}" --wallet-file "$(W pool)"
expect_ok "$CELLA" hub call POST "/v1/tasks/$TASK1/report" --data "{\"holder\": \"$HOLD\", \"error\": \"$REASON\"}" --wallet-file "$(W pool)"
# a task past its final deadline: matched by a hub with --dev-timeref 1 (10 s)
stop_server "$HUB_PID"
start_hub --log hub2.log --dev-faucet --dev-timeref 1 "${HUBCAS[@]}"
sleep 1   # a second after the bag: the newest-first lists order by the match's second
request 1
LATE=${TASKS[0]} LATEDEAL=$DEAL
LATE_FINAL=$(curl -sS "$HUB_URL/v1/tasks/$LATE" | grep -o '"finalDeadline":[0-9]*' | cut -d: -f2)
[[ $LATE_FINAL =~ ^[0-9]+$ ]] || fail "the late task's final deadline: '$LATE_FINAL'"
DEAL=$BAG
cd "$TMP"

lap "seeded"
# ---- the list endpoints ----
# check PATH EXPR WANT WHAT: GET PATH now; str(EXPR) on its JSON document d
# must be WANT. Checked all at once by check_all: one python, whose start
# alone takes seconds on a loaded machine.
NCHK=0
check() {
  NCHK=$((NCHK + 1))
  curl -sS -f "$HUB_URL$1" > "$TMP/chk$NCHK.json" || fail "GET $1"
  printf '%s\0%s\0%s\0%s\0%s\0' "$1" "$TMP/chk$NCHK.json" "$2" "$3" "$4" >> "$TMP/checks"
}
check_all() {
  python3 - "$TMP/checks" <<'PY' || fail "the API checks"
import json, sys
f = open(sys.argv[1]).read().split('\0')[:-1]
for i in range(0, len(f), 5):
    url, path, expr, want, what = f[i:i + 5]
    d = json.load(open(path))
    got = str(eval(expr))
    if got != want:
        sys.exit('%s (GET %s): got %s, not %s; %s' % (what, url, got, want, open(path).read()[:400]))
print('%d API checks' % (len(f) // 5))
PY
  ok
}
check /v1/apps 'd["total"], d["count"], d["offset"]' "(2, 2, 0)" "apps list"
check /v1/apps 'sorted(a["name"] for a in d["apps"])' "['$EVIL', 'hello-web']" "app names"
check "/v1/apps?limit=1&offset=1" 'd["total"], d["count"], d["offset"]' "(2, 1, 1)" "apps page 2"
check "/v1/apps?owner=$(A dev)" '[a["address"].lower() for a in d["apps"]]' "['${APP,,}']" "apps by owner"
check /v1/datasets 'sorted(x["name"] for x in d["datasets"])' "['asked-when-cas-is-down', 'no-key', 'web-data $EVIL2']" "datasets"
# whether a dataset's key is in the SMS, as cas answers the hub (HEAD, never the
# key); 20 more views of each are answered from the hub's cache: cas sees two
# lookups in all (its request counter for the route), not 42
web3() { curl -sSk "$CAS_URL/metrics" | awk '/^cella_http_requests_total\{.*route="\/secrets\/web3"/ {n += $NF} END {print n + 0}'; }
W3=$(web3)
check "/v1/datasets/$DS/key" 'd["keyInSms"], d["dataset"].lower(), d["checkedAt"] > 0' "(True, '${DS,,}', True)" "a pushed dataset key: yes"
check "/v1/datasets/$NOKEY/key" 'd["keyInSms"], "reason" in d' "(False, False)" "a dataset without a key: no"
for _ in $(seq 20); do
  curl -sSf -o /dev/null "$HUB_URL/v1/datasets/$DS/key" && curl -sSf -o /dev/null "$HUB_URL/v1/datasets/$NOKEY/key" || fail "key lookups"
done
[[ $(( $(web3) - W3 )) == 2 ]] || fail "42 views of two datasets' keys made $(( $(web3) - W3 )) cas lookups, not 2"
ok
check /v1/workerpools 'd["workerpools"][0]["name"], d["total"]' "('web-pool $EVIL3', 1)" "workerpools"
check /v1/deals 'd["total"], d["deals"][0]["dealid"], d["deals"][0]["botSize"]' "(2, '$DEAL', '3')" "deals"
check "/v1/deals?offset=5" 'd["count"], d["total"]' "(0, 2)" "deals past the end"
# the page's reads: names, search, deals by party, a deal's, a pool's and an account's tasks and orders
check "/v1/names?addresses=$EVILAPP,$(A req),$WP" 'sorted((v["kind"], v["name"]) for v in d["names"].values())' "[('app', '$EVIL'), ('workerpool', 'web-pool $EVIL3')]" "names"
check "/v1/search?q=WEB-D" '[(r["kind"], r["id"].lower()) for r in d["results"]]' "[('dataset', '${DS,,}')]" "search by name"
check "/v1/search?q=%25" 'd["results"]' "[]" "a % is text, not a pattern"
check "/v1/search?q=$TASK1" 'd["results"]' "[{'kind': 'task', 'id': '$TASK1'}]" "search by task id"
check "/v1/search?q=$WP" '[r["kind"] for r in d["results"]]' "['workerpool', 'account']" "search by address"
check "/v1/deals?app=$EVILAPP" 'd["total"], d["deals"][0]["dealid"]' "(2, '$LATEDEAL')" "deals of an app, newest first"
check "/v1/deals?app=$APP" 'd["total"]' 0 "deals of an app without any"
check "/v1/deals?account=$(A dev)" 'd["total"]' 0 "dev owns nothing dealt"
check "/v1/deals?account=$(A evil)&offset=1&limit=1" 'd["total"], d["count"], d["deals"][0]["dealid"]' "(2, 1, '$BAG')" "deals of an app owner"
check "/v1/tasks/$TASK0" 'd["status"], "enclaveChallenge" in d' "('COMPLETED', False)" "no enclave signed a plain task's result"
check "/v1/deals/$BAG/tasks?offset=1&limit=1" 'd["count"], d["tasks"][0]["taskid"]' "(1, '$TASK1')" "a deal's tasks"
check "/v1/workerpools/$WP/tasks?limit=2" '[t["taskid"] for t in d["tasks"]]' "['$LATE', '$TASK2']" "a pool's tasks, newest first"
check "/v1/accounts/$(A req)/tasks" '[t["taskid"] for t in d["tasks"]], d["total"]' "(['$LATE', '$TASK0', '$TASK1', '$TASK2'], 4)" "an account's tasks"
# paged over all its deals: a page across two deals, the last one, past the end
check "/v1/accounts/$(A req)/tasks?offset=0&limit=2" '[t["taskid"] for t in d["tasks"]], d["total"], d["offset"]' "(['$LATE', '$TASK0'], 4, 0)" "account tasks page 1"
check "/v1/accounts/$(A req)/tasks?offset=2&limit=2" '[t["taskid"] for t in d["tasks"]], d["count"]' "(['$TASK1', '$TASK2'], 2)" "account tasks page 2"
check "/v1/accounts/$(A req)/tasks?offset=3&limit=5" '[t["taskid"] for t in d["tasks"]]' "['$TASK2']" "account tasks: the last"
check "/v1/accounts/$(A req)/tasks?offset=9" 'd["count"], d["total"]' "(0, 4)" "account tasks past the end"
check "/v1/accounts/$(A pool)/tasks" 'd["count"], d["total"]' "(0, 0)" "a pool requested no task"
check "/v1/accounts/$(A data)/orders" '[o["orderHash"] for o in d["orders"]]' "['$DSORDER']" "an account's orders"
for bad in "/v1/apps?limit=0" "/v1/apps?limit=1001" "/v1/deals?offset=-1" "/v1/apps?owner=zz" "/v1/datasets?limit=x" \
    "/v1/deals?app=0x12" "/v1/deals?app=$APP&workerpool=$WP" "/v1/deals?account=" "/v1/names" "/v1/names?addresses=0x1" \
    "/v1/names?addresses=$APP," "/v1/names?addresses=$(printf "$APP,%.0s" $(seq 51))$APP" "/v1/search" "/v1/search?q=" \
    "/v1/search?q=$(printf 'a%.0s' $(seq 65))" "/v1/search?q=a%0Ab" "/v1/search?q=0x$(printf 'z%.0s' $(seq 64))" \
    "/v1/deals/0x12/tasks" "/v1/deals/$BAG/tasks?limit=0" "/v1/workerpools/zz/tasks" "/v1/accounts/0x1/orders" \
    "/v1/accounts/$(A req)/orders?all=2" "/v1/accounts/$(A req)/tasks?limit=0" "/v1/accounts/$(A req)/tasks?offset=x" "/v1/datasets/0x12/key"; do
  code=$(curl -s -o "$TMP/bad.json" -w '%{http_code}' "$HUB_URL$bad")
  [[ $code == 400 ]] || fail "GET $bad: HTTP $code $(cat "$TMP/bad.json")"
  grep -q '^{"error":"[^"]' "$TMP/bad.json" || fail "GET $bad: not a JSON error: $(cat "$TMP/bad.json")"
  ok
done
# an address that is no registered dataset is never asked of cas
code=$(curl -s -o "$TMP/bad.json" -w '%{http_code}' "$HUB_URL/v1/datasets/$APP/key")
[[ $code == 404 ]] || fail "the key of an app: HTTP $code $(cat "$TMP/bad.json")"
ok
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
grep -q '<script src="/ui/ui.js"' "$TMP/body" || fail "index.html loads no ui.js"
# no inline script or style, no other origin: the CSP would block them anyway
! grep -Eq '<script>|<script [^>]*>[^<]|<style|style=|[[:space:]]on[a-z]+=|https?://' "$TMP/body" || fail "index.html has inline code or an external resource"
headers /ui/index.html 'text/html; charset=utf-8'
for js in app.js ui.js pages.js events.js; do
  headers /ui/$js 'text/javascript; charset=utf-8'
  ! grep -Eq 'innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment|DOMParser|document\.write|eval\(|new Function|https?://[a-z]' "$TMP/body" ||
    fail "$js builds HTML from strings or names another origin"
done
headers /ui/style.css 'text/css; charset=utf-8'
! grep -Eq '@import|url\(' "$TMP/body" || fail "style.css fetches something"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/ui/nope.js")
[[ $code == 404 ]] || fail "missing asset: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/ui/../v1/health")
[[ $code == 404 || $code == 200 ]] || fail "dot-dot: HTTP $code"   # curl normalizes; never a file
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$HUB_URL/")
[[ $code == 405 ]] || fail "POST /: HTTP $code"
ok

check_all
# cas down: unknown, with the reason; a hub without --cas: unknown, saying so.
# The key's bytes (hex or base64) are in no answer.
: > "$TMP/checks"
stop_server "$CAS_PID"
check "/v1/datasets/$DOWN/key" 'd["keyInSms"], d["reason"].startswith("cas unreachable: ")' "(None, True)" "cas down: unknown"
stop_server "$HUB_PID"
start_hub --log hub-nocas.log --dev-faucet
check "/v1/datasets/$DS/key" 'd["keyInSms"], "does not ask a cas" in d["reason"]' "(None, True)" "no --cas: unknown"
check_all
! grep -rlF -e "$DSKEY" -e "$DSKEY64" "$TMP"/chk*.json || fail "a dataset key in an API answer"
ok
stop_server "$HUB_PID"
start_cas --hub "$HUB_URL"
# a cas whose key is not the one pinned is not believed: unknown, saying why
: > "$TMP/checks"
start_hub --log hub-badpin.log --dev-faucet --cas "$CAS_URL" --cas-fingerprint "$(printf '0%.0s' $(seq 64))"
check "/v1/datasets/$DS/key" 'd["keyInSms"], "pinned fingerprint" in d["reason"]' "(None, True)" "cas with another key: unknown"
check_all
stop_server "$HUB_PID"
start_hub --dev-faucet "${HUBCAS[@]}"
lap "API checked"
# ---- the page in a real browser ----
if [[ -z "$BROWSER" ]]; then
  finish
  skip "the browser checks: $NO_BROWSER"
fi
OUT=${CELLA_TEST_OUT:-$TMP/shots}
rm -rf "$OUT"; mkdir -p "$OUT" "$TMP/sync"
# What each page must show (hub_web_browser.py's SPEC): its route, texts,
# elements (CSS selector -> text they hold, or null) and the hostile name.
export URL=$HUB_URL APP EVILAPP DS WP DEAL TASK0 TASK1 TASK2 LATE LATE_FINAL REASON RESULTS EVIL EVIL2 EVIL3 \
  TEEORDER PLAINORDER DSORDER WPORDER REQ=$(A req) EVILOWNER=$(A evil) NOKEY DSKEY DSKEY64
python3 - "$TMP/spec.json" <<'PY'
import json, os, sys
e = os.environ
lo = lambda k: e[k].lower()
def page(name, route, want=(), sel=None, hostile=None, **kw):
    return dict(name=name, route=route, want=list(want), selectors=sel or {}, hostile=hostile, **kw)
pages = [
    page('home', '', ['open orders', 'Latest deals'], hostile=e['EVIL']),
    page('apps', 'apps', ['hello-web', '3b62fef2'], hostile=e['EVIL']),
    page('datasets', 'datasets', [], hostile='web-data ' + e['EVIL2']),
    page('workerpools', 'workerpools', [], hostile='web-pool ' + e['EVIL3']),
    page('orders', 'orders', ['4 orders', '5 nRLC', '10 nRLC'], {'#order-filters': None, '#order-tag-scone': None}, e['EVIL']),
    # named tags, kind, max price, min remaining, sort: the TEE app order alone
    page('orders-filtered', 'orders?kind=apporder&tags=tee&maxprice=5&minremain=10&sort=-date', ['1 order (app TEE)', e['TEEORDER'][:8]],
         {'#order-count': '1 order'}, 'hello-web', shots=False),
    page('orders-none', 'orders?kind=apporder&maxprice=0', ['No orders match.'], shots=False),
    page('orders-resource', 'orders?resource=' + lo('DS'), ['1 order', 'apprestrict' if False else 'app '], {'#order-count': '1 order'}, 'web-data ' + e['EVIL2'], shots=False),
    page('app', 'app/' + lo('EVILAPP'), ['Open orders', 'Deals', '1 nRLC', 'none in its orders'], {'#resource-name': e['EVIL']}, e['EVIL']),
    page('app-tee', 'app/' + lo('APP'), ['TEE measurement', 'TEE', '(from its orders\' tags)'], {}, 'hello-web', shots=False),
    page('dataset', 'dataset/' + lo('DS'), ['restrictions', 'Key in the SMS', '3 nRLC'],
         {'#sms-key': 'yes', '#sms-key .badge.ok': 'yes'}, e['EVIL'],     # its order's apprestrict is the hostile app, by name
         absent=[e['DSKEY'], e['DSKEY64']]),
    page('dataset-nokey', 'dataset/' + lo('NOKEY'), ['Key in the SMS'], {'#sms-key .badge': 'no'}, shots=False),
    page('workerpool', 'workerpool/' + lo('WP'), ['Recent tasks', 'claimable', 'completed', 'run failed', 'waiting'], {}, 'web-pool ' + e['EVIL3']),
    page('order', 'order/' + e['DSORDER'], ['Restricted to', 'app ', '3 nRLC'], {}, e['EVIL']),
    page('deal', 'deal/' + e['DEAL'], ['Price per task', '14 nRLC', '3 (1 completed, 1 run failed, 1 waiting)', e['REASON'], 'dataset order'],
         {'#deal-tasks [data-status=COMPLETED]': 'completed', '#deal-tasks [data-status=ACTIVE]': None}, e['EVIL']),
    page('task-completed', 'task/' + e['TASK0'], ['Completed', 'by pool', 'download the result', '--download --decrypt', 'completed (finalized)', 'created by the match'],
         {'#task-status': 'COMPLETED', '#task-state .ok': 'completed', 'a[href="%s"]' % e['RESULTS']: None}, e['EVIL']),
    page('task-failed', 'task/' + e['TASK1'], ['claimable from', e['REASON'], 'the run failed on the worker', 'leased by a worker'],
         {'#task-status': 'ACTIVE', '#task-state .bad': 'run failed', '#task-error': e['REASON']}, e['EVIL']),
    page('task-claimable', 'task/' + e['LATE'], ['final deadline passed: claimable now'],
         {'#task-state .warn': 'claimable'}, e['EVIL'], not_before=int(e['LATE_FINAL']) + 1),
    page('account', 'account/' + lo('REQ'), ['Balance', 'Locked', 'nRLC', 'Tasks it requested', 'Orders it signed', '1–4 of 4'],
         {'#account-balance': 'nRLC'}, e['EVIL']),
    page('account-tasks-page', 'account/' + lo('REQ') + '?offset=3', ['4–4 of 4', '← previous'],
         {'#account-tasks [data-status]': None}, shots=False),
    page('account-owner', 'account/' + lo('EVILOWNER'), ['Owns', 'Orders it signed'], {}, e['EVIL'], shots=False),
    page('search', 'search?q=web', ['3 results'], {'#search-results': None}, 'web-pool ' + e['EVIL3']),
    page('bad-id', 'task/0xzz', ['not a task id'], error_ok=True, shots=False),
]
live = [
    # the claimable task is claimed (FAILED) while its page is open
    dict(name='live-claim', route='task/' + e['LATE'], ready='claim', **{'from': 'ACTIVE', 'to': 'FAILED'},
         want_after=['claimed after its final deadline', 'failed (claimed)']),
    # the waiting task completes, after the hub restarted, while its page stays open
    dict(name='live-restart', route='task/' + e['TASK2'], ready='restart', **{'from': 'ACTIVE', 'to': 'COMPLETED'},
         want_before=['waiting for a worker'], want_after=['completed (finalized)'], timeout=60),
]
narrow = [dict(name='deal-phone', route='deal/' + e['DEAL'], width=390), dict(name='orders-phone', route='orders', width=390)]
# pages that have a not_before wait go after the others
pages.sort(key=lambda p: 'not_before' in p)
dark = [dict(name='deal', route='deal/' + e['DEAL'])]
json.dump(dict(url=e['URL'], pages=pages, live=live, narrow=narrow, dark=dark), open(sys.argv[1], 'w'))
PY
python3 "$HERE/hub_web_browser.py" "$BROWSER" "$TMP/spec.json" "$OUT" "$TMP/sync" > "$TMP/browser.out" 2> "$TMP/browser.err" &
PY=$!
wait_for() { # FILE: written by the browser when its page is open
  for _ in $(seq 900); do
    [[ -e "$TMP/sync/$1" ]] && return 0
    kill -0 $PY 2>/dev/null || { cat "$TMP/browser.out" "$TMP/browser.err" >&2; fail "the browser stopped before $1"; }
    sleep 0.1
  done
  fail "the browser never reached $1"
}
wait_for claim
(cd "$TMP/req" && expect_ok "$CELLA" task claim "$LATE")
wait_for restart
stop_server "$HUB_PID"
sleep 1   # the page notices: its long poll fails, it retries
start_hub --log hub3.log --dev-faucet "${HUBCAS[@]}"
contribute "$TASK2"
wait $PY || { cat "$TMP/browser.out" "$TMP/browser.err" >&2; fail "the browser checks"; }
cat "$TMP/browser.out"
n=$(ls "$OUT"/*.png | wc -l)
[[ $n -ge 33 ]] || fail "screenshots: $n in $OUT"
echo "screenshots: $n in $OUT"
lap "browser done"
ok
kill -0 $HUB_PID || fail "the hub died"
finish
