#!/usr/bin/env bash
# GET /metrics on the hub, cas, the blob store and the worker (--metrics),
# docs/metrics.md: every scrape is Prometheus text 0.0.4 (every line a
# comment or `name{labels} value`, each family typed once, histograms
# cumulative with +Inf == _count); the request counters move by exactly the
# requests made (200s, a 400, 404s), per route pattern and status; the
# hub's task and lease gauges, cas's attestation and key release outcomes,
# the blob store's bytes and the worker's task outcomes say what happened;
# and 1000 distinct random paths add no label set (they count as "other").
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

cat > prom.py <<'PY'
import http.client, json, random, re, ssl, sys, urllib.request

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)

def die(msg):
    print("prom.py: " + msg, file=sys.stderr)
    sys.exit(1)

def parse(path):
    """{(name, ((label, value), ...)): value}; dies unless the text parses."""
    text = open(path).read()
    if not text.endswith("\n"):
        die(path + ": no final newline")
    types, samples, order = {}, {}, []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "%s:%d: %r" % (path, n, line)
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
            if not m:
                die(where + ": not a HELP or TYPE comment")
            if m.group(1) == "TYPE":
                if m.group(2) in types:
                    die(where + ": family typed twice")
                if m.group(3) not in ("counter", "gauge", "histogram"):
                    die(where + ": unknown type")
                types[m.group(2)] = m.group(3)
            continue
        m = SAMPLE.match(line)
        if not m:
            die(where + ": not name{labels} value")
        name, ltext, value = m.groups()
        labels = []
        if ltext is not None:
            rest = ltext
            while True:
                lm = re.match(LABEL, rest)
                if not lm:
                    die(where + ": bad labels")
                labels.append((lm.group(1), lm.group(2)))
                rest = rest[lm.end():]
                if not rest:
                    break
                if rest[0] != ",":
                    die(where + ": bad labels")
                rest = rest[1:]
        try:
            v = float(value)
        except ValueError:
            die(where + ": bad value")
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        family = family if types.get(family) == "histogram" else name
        if family not in types:
            die(where + ": sample before its TYPE")
        key = (name, tuple(labels))
        if key in samples:
            die(where + ": sample twice")
        samples[key] = v
        order.append(key)
    check_histograms(types, samples, order, path)
    return samples

def check_histograms(types, samples, order, path):
    series = {}
    for name, labels in order:
        if name.endswith("_bucket") and types.get(name[:-7]) == "histogram":
            rest = tuple(l for l in labels if l[0] != "le")
            le = dict(labels)["le"]
            series.setdefault((name[:-7], rest), []).append((le, samples[(name, labels)]))
    for (fam, rest), buckets in series.items():
        bounds = [float(le) for le, _ in buckets]
        counts = [c for _, c in buckets]
        if bounds != sorted(bounds) or buckets[-1][0] != "+Inf":
            die("%s: %s%s: buckets not in order or no +Inf" % (path, fam, rest))
        if counts != sorted(counts):
            die("%s: %s%s: buckets not cumulative: %s" % (path, fam, rest, counts))
        if samples.get((fam + "_count", rest)) != counts[-1]:
            die("%s: %s%s: +Inf %s != _count %s" % (path, fam, rest, counts[-1],
                                                    samples.get((fam + "_count", rest))))
        if (fam + "_sum", rest) not in samples:
            die("%s: %s%s: no _sum" % (path, fam, rest))

def scrape(url, out):
    ctx = ssl._create_unverified_context()
    with urllib.request.urlopen(url + "/metrics", context=ctx, timeout=10) as r:
        ct = r.headers["Content-Type"]
        if not ct.startswith("text/plain; version=0.0.4"):
            die(url + ": Content-Type " + ct)
        open(out, "wb").write(r.read())
    parse(out)

def requests(path):
    """cella_http_requests_total by (server, route, status)."""
    return {tuple(dict(l)[k] for k in ("server", "route", "status")): v
            for (n, l), v in parse(path).items() if n == "cella_http_requests_total"}

def moved(before, after, *expect):
    """The request counters moved by exactly `expect` (server,route,status=N
    ...), /metrics scrapes aside; anything else that moved fails."""
    b, a = requests(before), requests(after)
    want = {}
    for e in expect:
        k, n = e.rsplit("=", 1)
        want[tuple(k.split(","))] = float(n)
    for k in set(a) | set(b):
        d = a.get(k, 0) - b.get(k, 0)
        if k[1] == "/metrics":
            continue
        if d != want.pop(k, 0):
            die("%s moved by %s, expected %s" % (k, d, dict((e.rsplit("=", 1) for e in expect))))
    if want:
        die("never counted: %s" % want)

def flood(url, n):
    """n requests for distinct random paths, on one kept-alive connection."""
    u = urllib.parse.urlsplit(url)
    conn = (http.client.HTTPSConnection(u.hostname, u.port, context=ssl._create_unverified_context(),
                                        timeout=10)
            if u.scheme == "https" else http.client.HTTPConnection(u.hostname, u.port, timeout=10))
    for i in range(int(n)):
        conn.request("GET", "/flood-%d-%016x/%x" % (i, random.getrandbits(64), random.getrandbits(32)))
        r = conn.getresponse()
        r.read()
        if r.status != 404:
            die("a random path answered %d" % r.status)
    conn.close()

getattr(sys.modules[__name__], sys.argv[1])(*sys.argv[2:])
PY
prom() { python3 "$TMP/prom.py" "$@" || fail "prom.py $*"; ok; }
# val FILE KEY: the value of the sample KEY (name{labels} exactly as written)
val() { awk -v k="$2" 'index($0, k " ") == 1 {print $2; f = 1} END {exit !f}' "$TMP/$1" || fail "no $2 in $1"; }
# series FILE NAME: how many samples NAME has (label sets)
series() { grep -c "^$2[{ ]" "$TMP/$1" || true; }
# flood_check URL NAME: 1000 random paths on URL add no request series but
# the one "other" 404 counter (already there), which grows by 1000
flood_check() {
  prom scrape "$1" "$2-f0"
  prom flood "$1" 1000
  prom scrape "$1" "$2-f1"
  local s0 s1 h0 h1
  s0=$(series "$2-f0" cella_http_requests_total)
  s1=$(series "$2-f1" cella_http_requests_total)
  h0=$(series "$2-f0" cella_http_request_duration_seconds_count)
  h1=$(series "$2-f1" cella_http_request_duration_seconds_count)
  # the only new series may be the /metrics route's, first scraped by f0
  [[ $s1 -le $((s0 + 1)) && $h1 -le $((h0 + 1)) ]] ||
    fail "$2: 1000 random paths grew the series: $s0 -> $s1, $h0 -> $h1"
  ! grep -q flood- "$TMP/$2-f1" || fail "$2: a requested path is in the metrics"
  prom moved "$2-f0" "$2-f1" "$2,other,404=1000"
}

# ---- hub ----
start_hub --dev-faucet
. "$HERE/hub.d/market.sh"   # market_setup, fill
prom scrape "$HUB_URL" hub0
curl -sf -o /dev/null "$HUB_URL/v1/health" && curl -sf -o /dev/null "$HUB_URL/v1/health" || fail "health"
code() { curl -sk -o /dev/null -w '%{http_code}' "$@"; }
[[ $(code "$HUB_URL/no/such/thing") == 404 ]] || fail "hub: 404"
[[ $(code "$HUB_URL/v1/tasks") == 400 ]] || fail "hub: 400 (no workerpool)"
[[ $(code "$HUB_URL/v1/tasks/0x$(printf '0%.0s' $(seq 64))") == 404 ]] || fail "hub: no such task"
[[ $(code -X PATCH "$HUB_URL/v1/health") == 405 ]] || fail "hub: 405"
prom scrape "$HUB_URL" hub1
prom moved hub0 hub1 hub,/v1/health,200=2 hub,other,404=1 hub,/v1/tasks,400=1 \
  hub,/v1/tasks/:id,404=1 hub,/v1/health,405=1
LAT='cella_http_request_duration_seconds_count{server="hub",route="/v1/health"}'
[[ $(( $(val hub1 "$LAT") - $(val hub0 "$LAT") )) == 3 ]] || fail "hub: /v1/health latency count"
[[ $(val hub1 'cella_http_requests_total{server="hub",route="/metrics",status="200"}') == 1 ]] ||
  fail "hub: the first scrape is counted once"
[[ $(val hub1 'cella_hub_tasks{state="ACTIVE"}') == 0 ]] || fail "hub: tasks before any deal"
val hub1 cella_db_errors_total >/dev/null || fail "hub: no database metrics"

# tasks: a non-TEE deal of two tasks
market_setup dev pool req
fill 2
cd "$TMP"
prom scrape "$HUB_URL" hub2
[[ $(val hub2 'cella_hub_tasks{state="ACTIVE"}') == 2 ]] || fail "hub: two ACTIVE tasks"
[[ $(val hub2 'cella_hub_tasks{state="COMPLETED"}') == 0 ]] || fail "hub: none COMPLETED"
[[ $(val hub2 cella_hub_leases_active) == 0 ]] || fail "hub: no lease yet"
# the first task leased by hand for a minute: the worker below takes the other
(cd pool && "$CELLA" hub call POST "/v1/tasks/${TASKS[0]}/lease" \
  --data '{"holder": "abcdef0123456789abcdef0123456789", "seconds": 60}' --wallet-file "$(W pool)" \
  >/dev/null) || fail "lease"
prom scrape "$HUB_URL" hub3
[[ $(val hub3 cella_hub_leases_active) == 1 ]] || fail "hub: one live lease"
[[ $(val hub3 'cella_http_requests_total{server="hub",route="/v1/tasks/:id/lease",status="200"}') == 1 ]] ||
  fail "hub: the lease route"

# ---- cas ----
start_cas
prom scrape "$CAS_URL" cas0
[[ $(code "$CAS_URL/v1/health") == 200 ]] || fail "cas: health"
[[ $(code "$CAS_URL/nothing/here") == 404 ]] || fail "cas: 404"
[[ $(code "$CAS_URL/secrets/web3") == 400 ]] || fail "cas: 400 (no secretAddress)"
# no client certificate: the attestation is refused; no signature: no key
[[ $(code -X POST --data '{"session": "s", "service": "a"}' "$CAS_URL/v1/attest") == 403 ]] ||
  fail "cas: attest without evidence"
[[ $(code "$CAS_URL/v1/sessions/s/volumes/v") == 401 ]] || fail "cas: volume key without a signature"
prom scrape "$CAS_URL" cas1
prom moved cas0 cas1 cas,/v1/health,200=1 cas,other,404=1 cas,/secrets/web3,400=1 \
  cas,/v1/attest,403=1 cas,/v1/sessions/:name/volumes/:volume,401=1
[[ $(val cas1 'cella_cas_attestations_total{outcome="refused"}') == 1 &&
   $(val cas1 'cella_cas_attestations_total{outcome="ok"}') == 0 ]] || fail "cas: attestations"
[[ $(val cas1 'cella_cas_key_releases_total{outcome="refused"}') == 1 &&
   $(val cas1 'cella_cas_key_releases_total{outcome="ok"}') == 0 ]] || fail "cas: key releases"
[[ $(val cas1 'cella_cas_audited_total{action="attest",outcome="refused"}') == 1 ]] ||
  fail "cas: audited attest"
val cas1 cella_db_connections >/dev/null || fail "cas: no database metrics"
! grep -Eq '"s"|/v1/sessions/s' "$TMP/cas1" || fail "cas: a session name is in the metrics"

# ---- blob store ----
start_blobs
prom scrape "$BLOBS_URL" blobs0
head -c 1000 /dev/urandom > blob
SHA=$(sha256sum blob | cut -c1-64)
[[ $(code -X PUT --data-binary @blob "$BLOBS_URL/v1/blobs/$SHA") == 201 ]] || fail "blobs: put"
[[ $(code "$BLOBS_URL/v1/blobs/$SHA") == 200 ]] || fail "blobs: get"
[[ $(code "$BLOBS_URL/v1/blobs/$(printf 'a%.0s' $(seq 64))") == 404 ]] || fail "blobs: 404"
[[ $(code "$BLOBS_URL/v1/blobs/xyz") == 400 ]] || fail "blobs: 400"
[[ $(code "$BLOBS_URL/elsewhere") == 404 ]] || fail "blobs: no such route"
prom scrape "$BLOBS_URL" blobs1
prom moved blobs0 blobs1 blobs,/v1/blobs/:sha256,201=1 blobs,/v1/blobs/:sha256,200=1 \
  blobs,/v1/blobs/:sha256,404=1 blobs,/v1/blobs/:sha256,400=1 blobs,other,404=1
[[ $(val blobs1 cella_blobs_received_bytes_total) == 1000 ]] || fail "blobs: bytes in"
[[ $(val blobs1 cella_blobs_sent_bytes_total) == 1000 ]] || fail "blobs: bytes out"

# ---- worker (--metrics) ----
cd "$TMP/pool"
WORKER=(worker start --pool "$WP" --wallet-file "$(W pool)" "${CAS[@]}" --blobs "$BLOBS_URL"
        --work-dir "$TMP/wk" --lease 10)
expect_fail 'cannot listen on .*address in use \(worker start --metrics\)' \
  "$CELLA" "${WORKER[@]}" --once --metrics "${HUB_URL#http://}"
[[ ! -e $TMP/wk ]] || fail "worker: a taken --metrics port made the work directory"
expect_fail 'expected IPv4 ADDRESS:PORT.*\(worker start --metrics\)' \
  "$CELLA" "${WORKER[@]}" --once --metrics localhost
: > "$TMP/worker.log" # before the background job opens it: the loop below reads it at once
"$CELLA" "${WORKER[@]}" --metrics 127.0.0.1:0 > "$TMP/worker.log" 2>&1 &
WORKER_PID=$!
_SERVERS+=("$WORKER_PID")
cd "$TMP"
WORKER_URL=
for _ in $(seq 100); do
  WORKER_URL=$(sed -n 's|^worker metrics on \(http://[0-9.:]*\)/metrics$|\1|p' worker.log)
  [[ -n $WORKER_URL ]] && break
  kill -0 "$WORKER_PID" 2>/dev/null || { cat worker.log >&2; fail "worker exited"; }
  sleep 0.1
done
[[ -n $WORKER_URL ]] || { cat worker.log >&2; fail "worker printed no metrics URL"; }
# it leases the free task and fails it (the deal is not a TEE deal)
for _ in $(seq 100); do
  prom scrape "$WORKER_URL" worker1
  [[ $(val worker1 'cella_worker_tasks_total{outcome="failed"}') == 1 ]] && break
  sleep 0.2
done
[[ $(val worker1 'cella_worker_tasks_total{outcome="failed"}') == 1 ]] ||
  { cat worker.log >&2; fail "worker: the failed task"; }
[[ $(val worker1 cella_worker_tasks_started_total) == 1 ]] || fail "worker: started"
[[ $(val worker1 'cella_worker_tasks_total{outcome="succeeded"}') == 0 ]] || fail "worker: succeeded"
[[ $(val worker1 cella_worker_slots_busy) == 0 && $(val worker1 cella_worker_slots) == 1 ]] ||
  fail "worker: slots"
[[ $(val worker1 cella_worker_task_duration_seconds_count) == 1 ]] || fail "worker: durations"
[[ $(code "$WORKER_URL/v1/anything") == 404 ]] || fail "worker: other paths"
prom scrape "$WORKER_URL" worker2
prom moved worker1 worker2 worker,other,404=1
grep -q 'is not such a URL (app bundle)' worker.log || fail "worker: why the task failed"
(cd pool && "$CELLA" task show "${TASKS[1]}") | grep -q 'is not such a URL (app bundle)' || fail "hub: the reported error"
prom scrape "$HUB_URL" hub4
[[ $(val hub4 'cella_hub_tasks{state="ACTIVE"}') == 2 ]] || fail "hub: both tasks still ACTIVE"
[[ $(val hub4 cella_hub_leases_active) == 1 ]] || fail "hub: the report ended the worker's lease"

# ---- random paths stay "other" ----
flood_check "$WORKER_URL" worker
# the worker's own requests (its event long polls) would move the hub's
# counters during the hub's flood: it stops first
stop_server "$WORKER_PID"
flood_check "$HUB_URL" hub
flood_check "$CAS_URL" cas
flood_check "$BLOBS_URL" blobs
finish
