#!/usr/bin/env bash
# PoCo consensus on the hub (trust 3, workers of one pool, all of score 0 so
# every contribution weighs 2): contributions (hash and seal only, stake
# locked), PoCo's consensus rule (two against one is no consensus at trust 3;
# three against one is), reveals checked against hash and seal, finalize
# (too early, by another account, then paying the winners and seizing the
# dissenter's stake), then with --dev-timeref 2: reopen after a reveal
# deadline nobody met, a new consensus among other workers, and a claim that
# unlocks a worker's stake. Every balance is checked exactly.
. "$(dirname "$0")/lib.sh"

start_hub --dev-faucet
new_wallet dev pool req other w1 w2 w3 w4
URL=$HUB_URL
for who in dev pool req; do
  (cd "$TMP/$who" && "$CELLA" init --hub-url "$URL" >/dev/null 2>&1) || fail "cella init $who"
done
J() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# app 5 nRLC, workerpool 100 nRLC at trust 3: worker stake = pool stake = 30
cd "$TMP/dev"
expect_ok "$CELLA" app deploy --name c --multiaddr docker.io/c:1 --checksum 0x"$(printf '3%.0s' $(seq 64))" \
  --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --app --set appprice=5,volume=100
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app
cd "$TMP/pool"
expect_ok "$CELLA" workerpool deploy --name "replicating pool" --wallet-file "$(W pool)"
WP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --workerpool --set workerpoolprice=100,volume=100,trust=3
expect_ok "$CELLA" order sign --workerpool --wallet-file "$(W pool)"
expect_ok "$CELLA" order publish --workerpool
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W pool)"
for w in w1 w2 w3 w4 other; do
  expect_ok "$CELLA" account deposit 100 --wallet-file "$(W $w)"
done
cd "$TMP/req"
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W req)"
fill() { # VOLUME: a new request of the requester at trust 3 (a new salt), matched; TASKS gets its task ids
  cd "$TMP/req"
  expect_ok "$CELLA" order init --request \
    --set app="$APP",workerpool="$WP",appmaxprice=5,workerpoolmaxprice=100,volume="$1",trust=3,requester="$(A req)"
  expect_ok "$CELLA" order sign --request --wallet-file "$(W req)"
  expect_ok "$CELLA" order fill
  TASKS=($(awk '/^task / {print $3}' "$TMP/.out"))
  [[ ${#TASKS[@]} == "$1" ]] || fail "fill: $(cat "$TMP/.out")"
  cd "$TMP"
}
balance() { # WHO|ADDRESS BALANCE LOCKED
  local a=$1
  [[ $a == 0x* ]] || a=$(A "$1")
  expect_ok "$CELLA" account show "$a" --hub-url "$URL"
  grep -qi "balance $2 locked $3 " "$TMP/.out" || fail "account $1: $(cat "$TMP/.out"), want $2/$3"
}
show() { expect_ok "$CELLA" task show "$1" --hub-url "$URL"; }
field() { J "$TMP/.out" "$1"; }
auth() { # TASK WORKER: the pool owner's authorization
  "$CELLA" task authorize "$1" --worker "$(A "$2")" --wallet-file "$(W pool)"
}
contribute() { # TASK WORKER DIGEST [AUTHORIZATION]
  local sig=${4:-$(auth "$1" "$2")}
  "$CELLA" task contribute "$1" --digest "$3" --authorization "$sig" --no-finalize \
    --hub-url "$URL" --wallet-file "$(W "$2")"
}
reveal() { "$CELLA" task reveal "$1" --digest "$3" --hub-url "$URL" --wallet-file "$(W "$2")"; }
finalize() { "$CELLA" task finalize "$@" --hub-url "$URL" --wallet-file "$(W pool)"; }
GOOD=0x$(printf '1%.0s' $(seq 64)) BAD=0x$(printf '2%.0s' $(seq 64))
KITTY=0x0000000000000000000000000000000000000000

fill 1
T=${TASKS[0]}
balance req 895 105
balance pool 970 30

# ---- contributions ----
expect_fail 'HTTP 422.*cella-hub-task-trust' \
  "$CELLA" task contribute "$T" --digest "$GOOD" --authorization "$(auth "$T" w1)" \
  --hub-url "$URL" --wallet-file "$(W w1)"
expect_ok contribute "$T" w4 "$BAD"            # the dissenter first
[[ $(cat "$TMP/.out") == "$T ACTIVE" ]] || fail "contribute: $(cat "$TMP/.out")"
balance w4 70 30                                # its stake is locked
expect_ok contribute "$T" w1 "$GOOD"
expect_fail 'HTTP 422.*cella-hub-task-contributed' contribute "$T" w1 "$GOOD"
expect_fail 'HTTP 422.*cella-hub-task-authorization' contribute "$T" other "$GOOD" "$(auth "$T" w2)"
expect_ok contribute "$T" w2 "$GOOD"
show "$T"   # 2 agree, 1 against: group 4 * 3 > total 7 * 2 is false, no consensus yet
[[ $(field 'd["status"], d["contributors"], "consensusValue" in d, d["resultDigest"]') == \
   "('ACTIVE', 3, False, None)" ]] || fail "2 against 1: $(cat "$TMP/.out")"
[[ $(field '[(c["status"], c["weight"], c["stake"]) for c in d["contributions"]]') == \
   "[('CONTRIBUTED', 2, '30'), ('CONTRIBUTED', 2, '30'), ('CONTRIBUTED', 2, '30')]" ]] ||
  fail "contributions: $(cat "$TMP/.out")"
grep -qi "${GOOD#0x}" "$TMP/.out" && fail "the digest leaked before the reveal"
expect_fail 'HTTP 422.*cella-hub-task-not-revealing' reveal "$T" w1 "$GOOD"
expect_fail 'HTTP 422.*cella-hub-task-not-revealing' finalize "$T"
expect_ok contribute "$T" w3 "$GOOD"             # 3 against 1: 8 * 3 > 11 * 2
[[ $(cat "$TMP/.out") == "$T REVEALING" ]] || fail "consensus: $(cat "$TMP/.out")"
show "$T"
[[ $(field 'd["consensusValue"] == d["contributions"][1]["resultHash"], d["winnerCounter"], d["revealCounter"], d["revealDeadline"] - d["contributions"][3]["time"]') == \
   "(True, 3, 0, 600)" ]] || fail "REVEALING: $(cat "$TMP/.out")"
expect_fail 'HTTP 422.*cella-hub-task-not-active' contribute "$T" other "$GOOD"
balance w1 70 30

# ---- reveals and finalize ----
expect_fail 'HTTP 403.*cella-hub-workerpool-owner-only' \
  "$CELLA" task finalize "$T" --hub-url "$URL" --wallet-file "$(W w1)"
expect_fail 'HTTP 422.*cella-hub-task-too-early.*0 of 3' finalize "$T"
expect_fail 'HTTP 422.*cella-hub-task-reveal-mismatch' reveal "$T" w3 "$BAD"
expect_fail 'HTTP 422.*cella-hub-task-not-consensus' reveal "$T" w4 "$BAD"
expect_fail 'HTTP 422.*cella-hub-task-not-contributor' reveal "$T" other "$GOOD"
expect_ok reveal "$T" w1 "$GOOD"
expect_fail 'HTTP 422.*cella-hub-task-revealed' reveal "$T" w1 "$GOOD"
expect_ok reveal "$T" w2 "$GOOD"
expect_fail 'HTTP 422.*cella-hub-task-too-early.*2 of 3' finalize "$T"
expect_ok reveal "$T" w3 "$GOOD"
expect_ok finalize "$T" --results https://blobs.example/r1
[[ $(cat "$TMP/.out") == "$T COMPLETED" ]] || fail "finalize: $(cat "$TMP/.out")"
show "$T"
[[ $(field 'd["status"], d["resultDigest"], d["resultHash"] == d["consensusValue"], d["revealCounter"], d["results"], d["worker"], [c["status"] for c in d["contributions"]]') == \
   "('COMPLETED', '$GOOD', True, 3, 'https://blobs.example/r1', None, ['CONTRIBUTED', 'PROVED', 'PROVED', 'PROVED'])" ]] ||
  fail "COMPLETED: $(cat "$TMP/.out")"
# totalReward = 100 + 30 (w4's stake) = 130; workers 130 * 99 / 100 = 128, 42 each
# (128 / 3); the pool owner the rest, 130 - 126 = 4, and its stake back
for w in w1 w2 w3; do balance "$w" 142 0; done
balance w4 70 0
balance pool 1004 0
balance req 895 0
balance dev 5 0
balance "$KITTY" 0 0
expect_fail 'HTTP 422.*cella-hub-task-not-revealing' finalize "$T"
expect_fail 'HTTP 422.*cella-hub-task-not-active' "$CELLA" task claim "$T" --hub-url "$URL"
expect_ok "$CELLA" hub call GET "/v1/events?workerpool=$WP" --hub-url "$URL"
[[ $(field '[e["type"] for e in d["events"] if e["type"].startswith("task-")][1:]') == \
   "['task-contributed', 'task-contributed', 'task-contributed', 'task-contributed', 'task-consensus', 'task-revealed', 'task-revealed', 'task-revealed', 'task-completed']" ]] ||
  fail "events: $(cat "$TMP/.out")"

# ---- reopen and claim, with short deadlines (contribution 14 s, reveal 4 s, final 20 s:
# the reopen and the second round must fit in the contribution window on a loaded machine) ----
stop_server "$HUB_PID"
start_hub --log hub2.log --dev-faucet --dev-timeref 2
fill 2
T2=${TASKS[0]} T3=${TASKS[1]}
balance req 685 210
balance pool 944 60
expect_ok contribute "$T3" w3 "$BAD"   # alone at trust 3: no consensus; claimed below
expect_ok contribute "$T2" w1 "$GOOD"
expect_ok contribute "$T2" w2 "$GOOD"   # 2 with nobody against: 4 * 3 > 5 * 2
[[ $(cat "$TMP/.out") == "$T2 REVEALING" ]] || fail "consensus of two: $(cat "$TMP/.out")"
expect_fail 'HTTP 422.*cella-hub-task-too-early' "$CELLA" task reopen "$T2" --hub-url "$URL" --wallet-file "$(W pool)"
show "$T2"
RD=$(field 'd["revealDeadline"]')
while (( $(date +%s) < RD )); do sleep 0.2; done
expect_fail 'HTTP 422.*cella-hub-task-reveal-deadline' reveal "$T2" w1 "$GOOD"
expect_fail 'HTTP 422.*cella-hub-task-too-early.*0 of 2' finalize "$T2"
expect_fail 'HTTP 403.*cella-hub-workerpool-owner-only' \
  "$CELLA" task reopen "$T2" --hub-url "$URL" --wallet-file "$(W w1)"
expect_ok "$CELLA" task reopen "$T2" --hub-url "$URL" --wallet-file "$(W pool)"
[[ $(cat "$TMP/.out") == "$T2 ACTIVE" ]] || fail "reopen: $(cat "$TMP/.out")"
show "$T2"
[[ $(field 'd["status"], "consensusValue" in d, [c["status"] for c in d["contributions"]]') == \
   "('ACTIVE', False, ['REJECTED', 'REJECTED'])" ]] || fail "reopened: $(cat "$TMP/.out")"
expect_fail 'HTTP 422.*cella-hub-task-contributed' contribute "$T2" w1 "$GOOD"
expect_ok contribute "$T2" w3 "$GOOD"
expect_ok contribute "$T2" w4 "$GOOD"   # a new group: 4 * 3 > (1 + 4) * 2
[[ $(cat "$TMP/.out") == "$T2 REVEALING" ]] || fail "consensus after reopen: $(cat "$TMP/.out")"
expect_fail 'HTTP 422.*cella-hub-task-rejected' reveal "$T2" w1 "$GOOD"
expect_ok reveal "$T2" w3 "$GOOD"
expect_ok reveal "$T2" w4 "$GOOD"
expect_ok finalize "$T2"
[[ $(cat "$TMP/.out") == "$T2 COMPLETED" ]] || fail "finalize after reopen: $(cat "$TMP/.out")"
# totalReward = 100 + 2 * 30 (the rejected stakes) = 160; workers 158, 79 each; pool 2
balance w1 112 0
balance w2 112 0
balance w3 191 30    # its stake on T3 is still locked
balance w4 149 0
balance pool 976 30
# T3: after its final deadline the claim refunds the requester, seizes the pool
# owner's stake into the kitty and unlocks the worker's stake
show "$T3"
FD=$(field 'd["finalDeadline"]')
expect_fail 'HTTP 422.*cella-hub-task-too-early' "$CELLA" task claim "$T3" --hub-url "$URL"
while (( $(date +%s) < FD )); do sleep 0.2; done
expect_fail 'HTTP 422.*cella-hub-task-deadline' contribute "$T3" w4 "$BAD"
expect_ok "$CELLA" task claim "$T3" --hub-url "$URL"
[[ $(cat "$TMP/.out") == "$T3 FAILED" ]] || fail "claim: $(cat "$TMP/.out")"
balance w3 221 0
balance pool 976 0
balance req 790 0
balance dev 10 0
balance "$KITTY" 30 0
kill -0 "$HUB_PID" || fail "the hub died"
finish
