#!/usr/bin/env bash
# Two hubs and two cas on ONE PostgreSQL database are replicas of one
# marketplace (issue 14, items 2 and 3). On loopback, across them:
# 1. no order volume is matched twice: 4 clients fill requests against the
#    same app, dataset and workerpool orders (volume 20) through both replicas
#    in turn; the deals add up to exactly 20, nothing is consumed beyond a
#    volume, and every acknowledged deal is on both replicas;
# 2. no task is leased twice: holders racing for a task through both
#    replicas, exactly one granted (five tasks);
# 3. no balance below zero: withdrawals racing through both replicas on an
#    account that covers only some of them;
# 4. a challenge of one replica is accepted once by the other, then refused
#    (replayed) by both; copies of one signed request racing: one taken;
# 5. events: a long poll on one replica wakes when the other commits (the
#    latency is printed, < 1 s required), and a follower reading both
#    replicas during the fills sees seqs 1..N, none skipped, none out of order;
# 6. cas: session updates from one predecessor and volume tag pushes from one
#    old tag, racing through both cas: exactly one of each wins.
# Run as pg.cli.replicas (ctest's PostgreSQL fixture, $CELLA_TEST_PG); skips
# without it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hub.d/orders.sh"   # set_fields
[[ -n ${CELLA_TEST_PG:-} ]] || skip "CELLA_TEST_PG names no PostgreSQL server (ctest's pg.cli.replicas starts one)"
D=$(cd "$(dirname "$0")/replicas.d" && pwd)   # race.py, events.py
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
VOLUME=20
CLIENTS=4 ATTEMPTS=8

# Both hubs are started by _serve with the same schema of $CELLA_TEST_PG
# (named after $TMP): one database.
start_hub --log hub-a.log --dev-faucet
HA=$HUB_URL
HUB_PORT=
start_hub --log hub-b.log --dev-faucet
HB=$HUB_URL
[[ $HA != "$HB" ]] || fail "the two hubs listen on one URL"
REPLICAS=("$HA" "$HB")

step() { echo "== $* (at ${SECONDS}s)"; }
J() { python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))' "$@"; }
conf() { # DIR HUB_URL EXTRA-JSON
  mkdir -p "$TMP/$1"
  printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"%s}\n' "$H" "$2" "${3:-}" > "$TMP/$1/cella.json"
}
# publish DIR KIND --FLAG FIELD=VALUE...: init, set, sign and publish DIR's order; prints its hash
publish() {
  local dir=$1 kind=$2 flag=$3; shift 3
  cd "$TMP/$dir"
  "$CELLA" order init "$flag" >/dev/null 2>&1 || fail "order init $flag"
  set_fields "$dir" "$kind" "$@"
  "$CELLA" order sign "$flag" --wallet-file "$(W "$dir")" >/dev/null 2>"$TMP/.err" || { cat "$TMP/.err" >&2; fail "order sign $flag"; }
  "$CELLA" order publish "$flag" 2>"$TMP/.err" | awk '{print $2}' || { cat "$TMP/.err" >&2; fail "order publish $flag"; }
}

# ---- the market: every resource deployed on one replica, used on the other ----
step market
new_wallet dev data pool saver c0 c1 c2 c3
conf dev "$HA" ', "app": {"name": "r", "type": "DOCKER", "multiaddr": "docker.io/r:1", "checksum": "0x'"$(printf '11%.0s' {1..32})"'"}'
conf data "$HB" ', "dataset": {"name": "d", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ", "checksum": "0x'"$(printf '22%.0s' {1..32})"'"}'
conf pool "$HA" ', "workerpool": {"description": "p"}'
conf saver "$HB"
cd "$TMP/dev" && expect_ok "$CELLA" app deploy --wallet-file "$(W dev)" && APP=$(cat "$TMP/.out")
cd "$TMP/data" && expect_ok "$CELLA" dataset deploy --wallet-file "$(W data)" && DS=$(cat "$TMP/.out")
cd "$TMP/pool" && expect_ok "$CELLA" workerpool deploy --wallet-file "$(W pool)" && WP=$(cat "$TMP/.out")
expect_ok "$CELLA" app show "$APP" --hub-url "$HB"   # deployed on A, seen on B
conf dev "$HB"
conf data "$HA"
APPO=$(publish dev apporder --app app="$APP" appprice=1 volume=$VOLUME)
DSO=$(publish data datasetorder --dataset dataset="$DS" datasetprice=1 volume=$VOLUME)
WPO=$(publish pool workerpoolorder --workerpool workerpool="$WP" workerpoolprice=10 volume=$VOLUME trust=1)
for h in "$APPO" "$DSO" "$WPO"; do [[ $h =~ ^0x[0-9a-f]{64}$ ]] || fail "publish printed '$h'"; done
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W pool)" --hub-url "$HB"
# each client: funds, ATTEMPTS signed requests for these orders (volume 1
# or 2) to fill, and ATTEMPTS (volume 1) to publish meanwhile (salted: each
# signature makes another order)
for c in $(seq 0 $((CLIENTS - 1))); do
  conf "c$c" "${REPLICAS[c % 2]}"
  cd "$TMP/c$c"
  expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W "c$c")"
  expect_ok "$CELLA" order init --request
  set_fields "c$c" requestorder app="$APP" dataset="$DS" workerpool="$WP" appmaxprice=1 \
    datasetmaxprice=1 workerpoolmaxprice=10 volume=1
  for i in $(seq 0 $((ATTEMPTS - 1))); do
    expect_ok "$CELLA" order sign --request --wallet-file "$(W "c$c")" --out "pub-$i.json"
    (( i % 2 )) || expect_ok "$CELLA" order sign --request --wallet-file "$(W "c$c")" --out "req-$i.json"
  done
  set_fields "c$c" requestorder volume=2
  for i in $(seq 1 2 $((ATTEMPTS - 1))); do
    expect_ok "$CELLA" order sign --request --wallet-file "$(W "c$c")" --out "req-$i.json"
  done
done
# three more, never filled: the orders whose publication wakes the long polls (5)
cd "$TMP/c0"
for i in 0 1 2; do expect_ok "$CELLA" order sign --request --wallet-file "$(W c0)" --out "wake-$i.json"; done

# ---- 1 (and 5): fills racing through both replicas, a follower reading both ----
step "1: fills"
python3 "$D/events.py" follow "$TMP/follow.stop" "$TMP/follow.json" "$HA" "$HB" 2> "$TMP/follow.err" &
FOLLOWER=$!
on_exit "kill $FOLLOWER 2>/dev/null"   # bounded anyway (300 s), but not past a failure
for _ in $(seq 100); do [[ -e $TMP/follow.json.ready ]] && break; sleep 0.1; done
[[ -e $TMP/follow.json.ready ]] || { cat "$TMP/follow.err" >&2; fail "the events follower did not start"; }
# client C: ATTEMPTS fills, replicas in turn, each followed by the
# publication of a request on the other replica (a change that waits for no
# other); "ok|refused I URL" lines in fills.log, the published hashes in pubs.txt
client() {
  local c=$1 i url
  cd "$TMP/c$c"
  for i in $(seq 0 $((ATTEMPTS - 1))); do
    url=${REPLICAS[(c + i) % 2]}
    if "$CELLA" order fill --file "req-$i.json" --app "$APPO" --dataset "$DSO" --workerpool "$WPO" \
         --hub-url "$url" > "fill-$i.out" 2> "fill-$i.err"; then
      echo "ok $i $url"
    else
      echo "refused $i $url"
    fi
    "$CELLA" order publish --request --file "pub-$i.json" --hub-url "${REPLICAS[(c + i + 1) % 2]}" \
      2> "pub-$i.err" | awk '{print $2}' >> pubs.txt || { cat "pub-$i.err" >&2; return 1; }
  done > fills.log
}
PIDS=()
for c in $(seq 0 $((CLIENTS - 1))); do client "$c" & PIDS+=($!); done
failed=0
for p in "${PIDS[@]}"; do wait "$p" || failed=$((failed + 1)); done   # all of them, then judge
touch "$TMP/follow.stop"
wait "$FOLLOWER" || { cat "$TMP/follow.err" >&2; fail "the events follower"; }
[[ $failed == 0 ]] || fail "$failed of the $CLIENTS clients failed to publish"
cd "$TMP"
# acknowledged deals; refusals only for the volume used up
: > deals.txt
for c in $(seq 0 $((CLIENTS - 1))); do
  while read -r outcome i url; do
    if [[ $outcome == ok ]]; then
      echo "$(awk '/^deal / {print $2}' "c$c/fill-$i.out") $((1 + i % 2))" >> deals.txt
    else
      grep -q 'iExecV5-matchOrders-0x60' "c$c/fill-$i.err" || fail "fill c$c/$i via $url: $(cat "c$c/fill-$i.err")"
    fi
  done < "c$c/fills.log"
done
echo "fills: $(wc -l < deals.txt) of $((CLIENTS * ATTEMPTS)) acknowledged"
for url in "$HA" "$HB"; do
  curl -sf "$url/v1/deals?limit=1000" > "deals-${url##*:}.json" || fail "GET $url/v1/deals"
done
cat c*/pubs.txt > pubs.txt
python3 - deals.txt "deals-${HA##*:}.json" "deals-${HB##*:}.json" "$VOLUME" "$HA" "$HB" pubs.txt <<'PY' || fail "deals across the replicas"
import json, sys, urllib.request
asked = dict(l.split() for l in open(sys.argv[1]))  # deal: its request's volume
acked = list(asked)
lists = [json.load(open(p))["deals"] for p in sys.argv[2:4]]
volume, urls, pubs = int(sys.argv[4]), sys.argv[5:7], open(sys.argv[7]).read().split()
get = lambda u: json.loads(urllib.request.urlopen(u, timeout=30).read())
assert len(set(acked)) == len(acked), "a deal acknowledged twice"
for l in lists:  # every deal acknowledged, and only those: nothing matched twice
    assert sorted(d["dealid"] for d in l) == sorted(acked), (len(l), len(acked))
total = sum(int(d["botSize"]) for d in lists[0])
assert all(1 <= int(d["botSize"]) <= int(asked[d["dealid"]]) for d in lists[0]), "a request overfilled"
assert len({d["orders"]["requestorder"] for d in lists[0]}) == len(acked), "a request matched twice"
assert total == volume, f"the deals add up to {total} tasks, the orders' volume is {volume}"
for d in lists[0]:
    for url in urls:  # each deal and its tasks, on both replicas
        assert get(f"{url}/v1/deals/{d['dealid']}") == d, (url, d["dealid"])
        for t in d["tasks"].values():
            assert get(f"{url}/v1/tasks/{t}")["status"] == "ACTIVE", (url, t)
for h in pubs:  # and the requests published meanwhile
    for url in urls:
        assert get(f"{url}/v1/orders/{h}")["orderHash"] == h, (url, h)
print(f"{len(acked)} deals, {total} tasks == the volume {volume}, and {len(pubs)} requests "
      "published meanwhile, on both replicas")
PY
for url in "$HA" "$HB"; do
  for h in "$APPO" "$DSO" "$WPO"; do
    curl -sf "$url/v1/orders/$h" > order.json || fail "GET $url/v1/orders/$h"
    [[ $(J order.json 'd["consumed"] + " " + d["remaining"]') == "$VOLUME 0" ]] ||
      fail "order $h on $url: consumed $(J order.json 'd["consumed"]') of $VOLUME"
  done
done
ok
python3 - follow.json "$HA" "$HB" <<'PY' || fail "the follower of both replicas"
import json, sys, urllib.request
polls = json.load(open(sys.argv[1]))["polls"]
seen = [s for p in polls for s in p[2]]
for url in sys.argv[2:]:
    ev, last = [], 0
    while True:
        r = json.loads(urllib.request.urlopen(f"{url}/v1/events?after={last}", timeout=30).read())
        if not r["events"]:
            break
        ev += r["events"]
        last = r["last"]
    seqs = [e["seq"] for e in ev]
    assert seqs == list(range(1, len(seqs) + 1)), f"{url}: seqs not 1..N"
    assert seen == seqs, f"the follower saw {len(seen)} events, {url} has {len(seqs)}: " \
        f"skipped {sorted(set(seqs) - set(seen))[:10]}, out of order or twice: " \
        f"{[b for a, b in zip(seen, seen[1:]) if b != a + 1][:10]}"
busy = sum(1 for p in polls if p[2])
print(f"follower: {len(polls)} polls over both replicas, {busy} brought events, "
      f"seqs 1..{len(seen)} in order, none skipped")
PY
ok

# ---- signed requests prepared ahead, raced (2, 3, 4) ----
# auth URL METHOD PATH BODY WHO: an Authorization header for one request of
# WHO's, over a fresh challenge of the replica at URL
auth() {
  local nonce sum sig
  nonce=$(curl -sf "$1/v1/challenge" | grep -o '"nonce": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{64\}') ||
    fail "GET $1/v1/challenge"
  sum=$(printf '%s' "$4" | sha256sum | cut -c1-64)
  printf 'cella-cas-request-v1\n%s\n%s\n%s\n%s' "$2" "$3" "$nonce" "$sum" > "$TMP/.msg"
  sig=$("$CELLA" wallet sign-message --message-file "$TMP/.msg" --wallet-file "$(W "$5")") || fail "sign-message"
  echo "CELLA-EIP191 $(A "$5") $nonce $sig"
}
# race_add URL METHOD PATH BODY WHO: one more signed request for the next race
race_add() {
  local a
  a=$(auth "$@")
  printf '%s\t%s\t%s\t%s\n' "$1$3" "$2" "$4" "$a" >> "$TMP/race.tsv"
}
# race: sends the requests added since the last race at once; the outcomes in race.out
race() {
  python3 "$D/race.py" "$TMP/race.tsv" > "$TMP/race.out" || fail "race.py"
  rm -f "$TMP/race.tsv"
}
# race_expect N STATUS CODE FIELD: of the last race's requests exactly N were
# granted (200) and the others refused with STATUS and CODE; prints FIELD of
# the granted replies
race_expect() {
  python3 - "$TMP/race.out" "$@" <<'PY2' || fail "race: expected $1 granted, the rest $2 $3: $(cat "$TMP/race.out")"
import json, sys
out, n, status, code, field = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
won = [r for s, r in out if s == 200]
assert len(won) == n and all(s == status and r["code"] == code for s, r in out if s != 200)
print("\n".join(str(r[field]) for r in won))
PY2
}

# ---- 2: holders racing for a task through both replicas: exactly one lease ----
step "2: leases"
read -r -a TASKS < <(J "deals-${HA##*:}.json" '" ".join(t for x in d["deals"] for t in x["tasks"].values())')
for task in "${TASKS[@]:0:5}"; do
  for k in 0 1 2 3 4 5; do
    holder=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    race_add "${REPLICAS[k % 2]}" POST "/v1/tasks/$task/lease" "{\"holder\": \"$holder\", \"seconds\": 300}" pool
  done
  race
  winner=$(race_expect 1 409 cella-hub-task-leased holder)
  for url in "$HA" "$HB"; do
    curl -sf "$url/v1/tasks/$task" > task.json || fail "GET $url/v1/tasks/$task"
    grep -q "\"lease\":{\"holder\":\"$winner\"" task.json || fail "lease on $url: $(cat task.json)"
  done
  ok
done
echo "leases: 5 tasks, 6 holders each through both replicas, one lease each"

# ---- 3: withdrawals racing through both replicas: never below zero ----
step "3: withdrawals"
# four rounds: 8 withdrawals of 30 when the balance is 100
for round in 1 2 3 4; do
  expect_ok "$CELLA" account deposit $((round == 1 ? 100 : 90)) --wallet-file "$(W saver)" --hub-url "${REPLICAS[round % 2]}"
  for k in $(seq 0 7); do race_add "${REPLICAS[k % 2]}" POST /v1/accounts/withdraw '{"amount": "30"}' saver; done
  race
  race_expect 3 422 cella-hub-insufficient-balance withdrawn > /dev/null
  for url in "$HA" "$HB"; do
    expect_ok "$CELLA" account show "$(A saver)" --hub-url "$url"
    grep -q ' balance 10 locked 0 ' "$TMP/.out" || fail "after round $round, on $url: $(cat "$TMP/.out")"
  done
done
echo "withdrawals: 4 rounds, 3 of 8 x 30 from 100 granted, 10 left on both replicas"

# ---- 4: a challenge of replica A, consumed once on B, replayed on neither ----
step "4: challenges"
BODY='{"amount": "1"}'
AUTH=$(auth "$HA" POST /v1/accounts/withdraw "$BODY" saver)
withdraw_with() { curl -s -o "$TMP/w.json" -w '%{http_code}' -X POST -H "Authorization: $AUTH" --data-binary "$BODY" "$1/v1/accounts/withdraw"; }
[[ $(withdraw_with "$HB") == 200 ]] || fail "A's challenge on B: $(cat w.json)"
[[ $(withdraw_with "$HA") == 401 ]] || fail "replayed on A: $(cat w.json)"
grep -q 'challenge already used' w.json || fail "the replay's refusal does not say the challenge was used: $(cat w.json)"
[[ $(withdraw_with "$HB") == 401 ]] || fail "replayed on B: $(cat w.json)"
expect_ok "$CELLA" account show "$(A saver)" --hub-url "$HA"
grep -q ' balance 9 locked 0 ' "$TMP/.out" || fail "one withdrawal of 1: $(cat "$TMP/.out")"
# one signed request, sent 6 times at once to both replicas: taken once (3 rounds)
for round in 1 2 3; do
  AUTH=$(auth "${REPLICAS[round % 2]}" POST /v1/accounts/withdraw "$BODY" saver)
  for k in $(seq 0 5); do
    printf '%s\t%s\t%s\t%s\n' "${REPLICAS[k % 2]}/v1/accounts/withdraw" POST "$BODY" "$AUTH" >> "$TMP/race.tsv"
  done
  race
  race_expect 1 401 'authentication failed' withdrawn > /dev/null
done
expect_ok "$CELLA" account show "$(A saver)" --hub-url "$HB"
grep -q ' balance 6 locked 0 ' "$TMP/.out" || fail "3 withdrawals of 1 out of 18 copies: $(cat "$TMP/.out")"
echo "challenges: one of A's consumed on B, replays refused on both; 1 of 6 racing copies taken (3 rounds)"

# ---- 5: a long poll on one replica wakes on a commit on the other ----
step "5: long polls"
python3 "$D/events.py" wake "$HB" "$HA" c0/wake-0.json c0/wake-1.json > wake.out || fail "long poll on B"
python3 "$D/events.py" wake "$HA" "$HB" c0/wake-2.json >> wake.out || fail "long poll on A"
grep -v '^[0-9]*$' wake.out
worst=$(sort -n <(grep '^[0-9]*$' wake.out) | tail -1)
[[ $worst -lt 1000 ]] || fail "a long poll woke $worst ms after the other replica acknowledged a commit (1 s at most)"
ok

# ---- 6: cas: one session update and one tag push of racing ones win ----
step "6: cas"
expect_ok "$CELLA" tee sim init --dir sim
start_cas --log cas-a.log --allow-sim --sim-platform sim/sim-platform.pub
CA=$CAS_URL
CAS_PORT=
start_cas --log cas-b.log --allow-sim --sim-platform sim/sim-platform.pub   # same data: same keys
CB=$CAS_URL
CASES=("$CA" "$CB")
M=3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76
session() { # ENV-VALUE: the session, its application's environment set to it
  cat <<YML
name: racy
services:
   - name: application
     mrenclaves: [$M]
     command: /application
     pwd: /
     environment: {RUN: "$1"}
volumes:
   - name: out
security:
  allow_sim: true
YML
}
session 0 > s0.yml
expect_ok "$CELLA" session create s0.yml --cas "$CA" --cas-fingerprint "$CAS_FP" --wallet-file "$(W saver)"
HASH0=$(cat .out)
PIDS=()
for k in $(seq 1 6); do
  { echo "predecessor: $HASH0"; session "$k"; } > "s$k.yml"
  "$CELLA" session update "s$k.yml" --cas "${CASES[k % 2]}" --cas-fingerprint "$CAS_FP" \
    --wallet-file "$(W saver)" > "u$k.out" 2> "u$k.err" & PIDS+=($!)
done
wins=()
for k in $(seq 1 6); do
  if wait "${PIDS[k - 1]}"; then wins+=("$k"); else grep -q 'predecessor' "u$k.err" || fail "update $k: $(cat "u$k.err")"; fi
done
[[ ${#wins[@]} == 1 ]] || fail "${#wins[@]} updates from one predecessor won: ${wins[*]}"
for url in "$CA" "$CB"; do
  expect_ok "$CELLA" session show racy --cas "$url" --cas-fingerprint "$CAS_FP" --wallet-file "$(W saver)"
  grep -q "\"hash\": \"$(cat "u${wins[0]}.out")\"" .out || fail "session on $url is not the winner's"
done
echo "session updates: 1 of 6 from one predecessor won, on both cas"
attest_push() { # CAS OLD NEW
  "$CELLA" attest --session racy/application --measurement "$M" --sim-dir sim --cas "$1" \
    --cas-fingerprint "$CAS_FP" --push-tag out ${2:+--old-tag "$2"} --new-tag "$3"
}
T0=$(printf 'a%.0s' {1..32})
expect_ok attest_push "$CA" "" "$T0"
PIDS=()
for k in $(seq 1 4); do
  attest_push "${CASES[k % 2]}" "$T0" "$(printf "$k%.0s" {1..32})" > "t$k.out" 2> "t$k.err" & PIDS+=($!)
done
wins=()
for k in $(seq 1 4); do
  if wait "${PIDS[k - 1]}"; then wins+=("$k"); else grep -q 'stale' "t$k.err" || fail "push $k: $(cat "t$k.err")"; fi
done
[[ ${#wins[@]} == 1 ]] || fail "${#wins[@]} tag pushes from one old tag won: ${wins[*]}"
for url in "$CA" "$CB"; do
  expect_ok "$CELLA" session volume racy out --key-file out.key --cas "$url" --cas-fingerprint "$CAS_FP" --wallet-file "$(W saver)"
  [[ $(cat .out) == "$(printf "${wins[0]}%.0s" {1..32})" ]] || fail "tag on $url: $(cat .out)"
done
echo "tag pushes: 1 of 4 from one old tag won, on both cas"
finish
