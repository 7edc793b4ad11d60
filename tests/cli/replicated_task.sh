#!/usr/bin/env bash
# A replicated task (trust 3) run by four workers of one pool, each with its
# own key (--worker-wallet-file) and stake, on `cella up`: the first worker's
# app cache was tampered with (a realistic malicious or broken host: its
# unpacked bundle prints another answer), so its result differs. Each worker
# contributes its result's hash and seal, the hub reaches PoCo's consensus
# with the three honest ones, they reveal and one finalizes: the task is
# COMPLETED with the honest digest, the dissenter's stake is seized and shared
# (balances checked exactly). The lease model: a worker is never handed a task
# it contributed to (lease-next with "worker"), so the pool's workers take
# the task one after the other, each once.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$TMP/config
. "$(dirname "$0")/hub.d/orders.sh"   # set_fields
. "$(dirname "$0")/hub.d/up_app.sh"   # publish_bundle
start_market
for who in dev req pool w1 w2 w3 w4; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null) || fail "set up $who"
done
new_wallet dev req w1 w2 w3 w4
J() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
show() { expect_ok "$CELLA" task show "$1" --hub-url "$HUB"; }
balance() { # ADDRESS BALANCE LOCKED
  expect_ok "$CELLA" account show "$1" --hub-url "$HUB"
  grep -qi "balance $2 locked $3 " "$TMP/.out" || fail "account $1: $(cat "$TMP/.out"), want $2/$3"
}
for w in w1 w2 w3 w4; do
  (cd "$TMP/$w" && expect_ok "$CELLA" account deposit 100 --wallet-file "$(W $w)")
done

# ---- the pool offers trust 3 at 100 nRLC (its default order, trust 0, is cancelled) ----
cd "$TMP/pool"
expect_ok "$CELLA" hub call GET "/v1/orders?kind=workerpoolorder&workerpool=$POOL"
for h in $(J "$TMP/.out" '" ".join(o["orderHash"] for o in d["orders"])'); do
  expect_ok "$CELLA" order cancel "$h" --wallet-file "$POOL_WALLET"
done
expect_ok "$CELLA" account deposit 1000 --wallet-file "$POOL_WALLET"
expect_ok "$CELLA" order init --workerpool
set_fields pool workerpoolorder workerpool="$POOL" workerpoolprice=100 volume=100 trust=3 tag=0x0
expect_ok "$CELLA" order sign --workerpool --wallet-file "$POOL_WALLET"
expect_ok "$CELLA" order publish --workerpool
POOL_OWNER=${POOL_WALLET##*/wallet-}; POOL_OWNER=${POOL_OWNER%.json}
expect_ok "$CELLA" account show "$POOL_OWNER" --hub-url "$HUB"
read -r POOL_BAL POOL_LOCKED < <(sed -n 's/.*balance \([0-9]*\) locked \([0-9]*\) .*/\1 \2/p' "$TMP/.out")

# ---- a deterministic app without TEE tag ----
cd "$TMP/dev"
mkdir answer
cat > answer/answer <<'EOF2'
#!/bin/sh
echo "task $IEXEC_TASK_ID: the answer is 42" > "$IEXEC_OUT/out.txt"
echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
EOF2
chmod 755 answer/answer
publish_bundle dev answer

# ---- the requester: one task at trust 3 ----
cd "$TMP/req"
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W req)"
expect_ok "$CELLA" app run "$APP" --tag 0x0 --trust 3 --workerpool "$POOL" --no-result-encryption \
  --wallet-file "$(W req)"
T=$(awk '/^task / {print $2}' "$TMP/.out")
[[ "$T" =~ ^0x[0-9a-f]{64}$ ]] || fail "app run printed no task id: $(cat "$TMP/.out")"
balance "$(A req)" 900 100
balance "$POOL_OWNER" $((POOL_BAL - 30)) $((POOL_LOCKED + 30))   # the pool's stake: 30 %

# ---- w4's host: its unpacked copy of the app answers otherwise ----
SHA=$BUNDLE_SHA
mkdir -p "$TMP/wk4/bundles"
cp -r "$TMP/dev/answer" "$TMP/wk4/bundles/$SHA.d"
sed -i 's/is 42/is 41/' "$TMP/wk4/bundles/$SHA.d/answer"

PIDS=()
stop_workers() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
on_exit stop_workers   # a failed check leaves no worker waiting for a consensus
start_worker() { # WORKER: in the background, until nothing is left for it
  "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --worker-wallet-file "$(W "$1")" \
    --work-dir "$TMP/wk${1#w}" --once --lease 5 --consensus-wait 120 >> "$TMP/$1.log" 2>&1 &
  PIDS+=($!)
}
contributions() { show "$T"; J "$TMP/.out" 'len(d.get("contributions") or [])'; }
await_contributions() { # N: until the task has N contributions (about 60 s at most)
  for _ in $(seq 200); do
    [[ $(contributions) == "$1" ]] && return 0
    sleep 0.2
  done
  cat "$TMP"/w*.log >&2; fail "the task never got $1 contributions"
}
start_worker w4
await_contributions 1
# the lease model: w4 is never handed the task again, any other worker is
expect_ok "$CELLA" hub call POST /v1/tasks/lease-next --wallet-file "$POOL_WALLET" \
  --data "{\"workerpool\": \"$POOL\", \"holder\": \"$(printf 'a%.0s' $(seq 32))\", \"seconds\": 1, \"worker\": \"$(A w4)\"}"
[[ $(J "$TMP/.out" 'd["taskid"]') == None ]] || fail "lease-next gave w4 a task it contributed to: $(cat "$TMP/.out")"
expect_fail 'HTTP 400.*worker' "$CELLA" hub call POST /v1/tasks/lease-next --wallet-file "$POOL_WALLET" \
  --data "{\"workerpool\": \"$POOL\", \"holder\": \"$(printf 'a%.0s' $(seq 32))\", \"worker\": \"0x12\"}"
start_worker w1
await_contributions 2
start_worker w2
await_contributions 3
show "$T"   # 2 agree, 1 against: no consensus at trust 3 yet
[[ $(J "$TMP/.out" 'd["status"]') == ACTIVE ]] || fail "consensus too early: $(cat "$TMP/.out")"
start_worker w3
for p in "${PIDS[@]}"; do
  wait "$p" || { cat "$TMP"/w*.log >&2; fail "a worker failed"; }
done
show "$T"
[[ $(J "$TMP/.out" 'd["status"], [c["status"] for c in d["contributions"]], d["revealCounter"], d["winnerCounter"]') == \
   "('COMPLETED', ['CONTRIBUTED', 'PROVED', 'PROVED', 'PROVED'], 3, 3)" ]] ||
  { cat "$TMP"/w*.log >&2; fail "the replicated task: $(cat "$TMP/.out")"; }
[[ $(J "$TMP/.out" '[c["worker"].lower() for c in d["contributions"]]') == \
   "['$(A w4 | tr A-F a-f)', '$(A w1 | tr A-F a-f)', '$(A w2 | tr A-F a-f)', '$(A w3 | tr A-F a-f)']" ]] ||
  fail "contributors: $(cat "$TMP/.out")"
DIGEST=$(J "$TMP/.out" 'd["resultDigest"]')
grep -q "the consensus is another result than this worker's" "$TMP/w4.log" ||
  fail "the dissenter's log: $(cat "$TMP/w4.log")"
# the result, readable as it is (a standard task), with the honest answer and its digest
expect_ok "$CELLA" result download "$T" -o r.zip
python3 - r.zip "$T" "$DIGEST" <<'PY' || fail "the result"
import hashlib, sys, zipfile
out = zipfile.ZipFile(sys.argv[1]).read("out.txt")
assert out == ("task %s: the answer is 42\n" % sys.argv[2]).encode(), out
assert sys.argv[3] == "0x" + hashlib.sha256(out).hexdigest()
PY
ok
# totalReward = 100 (pool price) + 30 (w4's seized stake) = 130; the workers'
# part 130 * 99 / 100 = 128, 42 each (equal weights), the pool owner the rest
# (130 - 126 = 4) and its stake back; the requester paid 100
for w in w1 w2 w3; do balance "$(A $w)" 142 0; done
balance "$(A w4)" 70 0
balance "$POOL_OWNER" $((POOL_BAL + 4)) "$POOL_LOCKED"
balance "$(A req)" 900 0
ok
