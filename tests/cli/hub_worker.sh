#!/usr/bin/env bash
# The hub's side of the worker flow: a pool's task listing (runnable), leases
# (grant, conflict, renewal, expiry, release), error reports, logs (written by
# the pool owner, read by the requester only), results, events (and their
# long-poll), and --dev-timeref making a claim possible in seconds. Every
# refusal is checked for its HTTP status and code; the server keeps serving.
. "$(dirname "$0")/lib.sh"

# waiting event requests look on their own every 30 s, not every 50 ms: a
# long-poll answered sooner than that was woken by the change itself
export CELLA_HUB_EVENTS_TICK_MS=30000
start_hub --dev-faucet
. "$(dirname "$0")/hub.d/market.sh"   # market_setup, fill, set_fields
market_setup dev pool req other worker
# jq-like: J FILE EXPR (python expression on the JSON document d)
J() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
fill 3
T0=${TASKS[0]} T1=${TASKS[1]} T2=${TASKS[2]}
HOLD1=abcdef0123456789abcdef0123456789 HOLD2=$(printf '2%.0s' $(seq 32))
call() { "$CELLA" hub call "$@"; }
lease() { # TASK HOLDER SECONDS WALLET-OF
  call POST "/v1/tasks/$1/lease" --data "{\"holder\": \"$2\", \"seconds\": $3}" --wallet-file "$(W "$4")"
}

# ---- the task as the worker and the requester see it ----
expect_ok "$CELLA" task show "$T0"
[[ $(J "$TMP/.out" 'd["workerpool"].lower(), d["requester"].lower(), d["lease"], d["error"], d["results"], d["worker"], d["resultDigest"], d["tag"]') == \
   "('${WP,,}', '$(A req | tr A-F a-f)', None, None, None, None, None, '0x$(printf '0%.0s' $(seq 64))')" ]] ||
  fail "task show: $(cat "$TMP/.out")"
grep -q '"beneficiary"' "$TMP/.out" || fail "task show lacks the beneficiary"

# ---- listing ----
expect_ok "$CELLA" task list --workerpool "$WP" --runnable
[[ $(J "$TMP/.out" 'd["count"], [t["idx"] for t in d["tasks"]]') == "(3, [0, 1, 2])" ]] ||
  fail "runnable list: $(cat "$TMP/.out")"
expect_ok "$CELLA" task list --workerpool "$(A other)"
[[ $(J "$TMP/.out" 'd["count"]') == 0 ]] || fail "another pool's list"
expect_ok "$CELLA" task list --workerpool "$WP" --limit 1
[[ $(J "$TMP/.out" 'd["tasks"][0]["taskid"]') == "$T0" ]] || fail "limit: oldest first"
expect_fail 'HTTP 400.*workerpool' call GET /v1/tasks
expect_fail 'HTTP 400.*runnable' call GET "/v1/tasks?workerpool=$WP&runnable=2"
expect_fail 'HTTP 400.*status' call GET "/v1/tasks?workerpool=$WP&status=DONE"
expect_fail 'HTTP 400.*limit' call GET "/v1/tasks?workerpool=$WP&limit=0"

# ---- leases ----
expect_fail 'HTTP 403.*cella-hub-workerpool-owner-only' lease "$T0" "$HOLD1" 2 other
expect_fail 'HTTP 401' call POST "/v1/tasks/$T0/lease" --data "{\"holder\": \"$HOLD1\"}"
# 10 s: leases end on whole seconds, and the refusal below must come while it holds
expect_ok lease "$T0" "$HOLD1" 10 pool
[[ $(J "$TMP/.out" 'd["holder"], d["until"] > 0') == "('$HOLD1', True)" ]] || fail "lease: $(cat "$TMP/.out")"
expect_fail "HTTP 409.*cella-hub-task-leased.*held by $HOLD1" lease "$T0" "$HOLD2" 60 pool
# renewal by the same holder shortens it to 6 s (leases end on whole seconds: a
# 6 s lease may last 5.1 s, enough for the two commands below on a busy machine)
expect_ok lease "$T0" "$HOLD1" 6 pool
expect_ok "$CELLA" task show "$T0"
[[ $(J "$TMP/.out" 'd["lease"]["holder"]') == "$HOLD1" ]] || fail "task show: lease"
expect_ok "$CELLA" task list --workerpool "$WP" --runnable
[[ $(J "$TMP/.out" '[t["idx"] for t in d["tasks"]]') == "[1, 2]" ]] || fail "a leased task is runnable"
sleep 6.2
expect_ok "$CELLA" task list --workerpool "$WP" --runnable
[[ $(J "$TMP/.out" 'd["count"]') == 3 ]] || fail "an expired lease still hides the task"
expect_ok lease "$T0" "$HOLD2" 60 pool  # after the expiry: another holder
expect_fail 'HTTP 409.*cella-hub-task-leased' lease "$T0" "$HOLD1" 0 pool  # not its lease
expect_ok lease "$T0" "$HOLD2" 0 pool   # released
expect_ok "$CELLA" task show "$T0"
[[ $(J "$TMP/.out" 'd["lease"]') == None ]] || fail "release: $(cat "$TMP/.out")"
expect_fail 'HTTP 400.*holder' lease "$T0" xyz 10 pool
expect_fail 'HTTP 400.*holder' lease "$T0" "${HOLD1^^}" 10 pool
expect_fail 'HTTP 400.*seconds' lease "$T0" "$HOLD1" 601 pool
expect_fail 'HTTP 400.*seconds' lease "$T0" "$HOLD1" -1 pool
expect_fail 'HTTP 400.*seconds' lease "$T0" "$HOLD1" '"10"' pool
expect_fail 'HTTP 400.*unknown field' call POST "/v1/tasks/$T0/lease" \
  --data "{\"holder\": \"$HOLD1\", \"x\": 1}" --wallet-file "$(W pool)"
expect_fail 'HTTP 404.*no such task' lease 0x"$(printf '%064d' 7)" "$HOLD1" 10 pool

# ---- error reports ----
report() { # TASK HOLDER ERROR WALLET-OF
  call POST "/v1/tasks/$1/report" --data "{\"holder\": \"$2\", \"error\": \"$3\"}" --wallet-file "$(W "$4")"
}
expect_ok lease "$T1" "$HOLD1" 60 pool
expect_fail 'HTTP 403.*cella-hub-workerpool-owner-only' report "$T1" "$HOLD1" "boom" other
expect_fail 'HTTP 409.*cella-hub-task-leased' report "$T1" "$HOLD2" "boom" pool
expect_fail 'HTTP 400.*error' report "$T1" "$HOLD1" "" pool
expect_fail 'HTTP 413.*error' report "$T1" "$HOLD1" "$(head -c 1001 /dev/zero | tr '\0' e)" pool
expect_ok report "$T1" "$HOLD1" "the app exited with status 3" pool
[[ $(J "$TMP/.out" 'd["status"], d["error"], d["lease"]') == "('ACTIVE', 'the app exited with status 3', None)" ]] ||
  fail "report: $(cat "$TMP/.out")"
expect_fail 'HTTP 409.*cella-hub-task-errored' lease "$T1" "$HOLD1" 60 pool
expect_ok "$CELLA" task debug "$T1"
grep -q '^error: the app exited with status 3$' "$TMP/.out" || fail "task debug: $(cat "$TMP/.out")"
# task watch ends on the reported error, non-zero, with it as the reason
expect_fail 'the task failed: the app exited with status 3' "$CELLA" task watch "$T1"
grep -q ": ACTIVE$" "$TMP/.err" || fail "task watch printed: $(cat "$TMP/.err")"

# ---- logs ----
logs_put() { # TASK STDOUT WALLET-OF
  call PUT "/v1/tasks/$1/logs" --data "{\"stdout\": \"$2\", \"stderr\": \"warn\\n\"}" --wallet-file "$(W "$3")"
}
expect_fail 'HTTP 403.*cella-hub-workerpool-owner-only' logs_put "$T0" "hi" req
expect_ok logs_put "$T0" 'hello\nworld' pool
expect_fail 'HTTP 403.*cella-hub-logs-requester-only' call GET "/v1/tasks/$T0/logs" --wallet-file "$(W pool)"
expect_fail 'HTTP 403.*cella-hub-logs-requester-only' "$CELLA" task debug "$T0" --logs --wallet-file "$(W other)"
expect_fail 'HTTP 401' call GET "/v1/tasks/$T0/logs"
expect_ok "$CELLA" task debug "$T0" --logs --wallet-file "$(W req)"
[[ $(cat "$TMP/.out") == "task $T0 ACTIVE
---- stdout ----
hello
world
---- stderr ----
warn" ]] || fail "task debug --logs: $(cat "$TMP/.out")"
expect_ok logs_put "$T0" 'again' pool   # replaced
expect_ok call GET "/v1/tasks/$T0/logs" --wallet-file "$(W req)"
[[ $(J "$TMP/.out" 'd["stdout"]') == again ]] || fail "logs replaced: $(cat "$TMP/.out")"
expect_fail 'HTTP 404.*no logs' call GET "/v1/tasks/$T2/logs" --wallet-file "$(W req)"
python3 -c 'import json; print(json.dumps({"stdout": "x" * (1024 * 1024 + 1)}))' > big.json
expect_fail 'HTTP 413.*stdout' call PUT "/v1/tasks/$T0/logs" --data @big.json --wallet-file "$(W pool)"
python3 -c 'import json; print(json.dumps({"stdout": "\n" * (1024 * 1024), "stderr": "\n" * (1024 * 1024)}))' > full.json
expect_ok call PUT "/v1/tasks/$T0/logs" --data @full.json --wallet-file "$(W pool)"

# ---- results (contribute-and-finalize) ----
cd "$TMP/worker"
printf 'out\n' > result.txt
expect_ok "$CELLA" task authorize "$T2" --worker "$(A worker)" --wallet-file "$(W pool)"
AUTH=$(cat "$TMP/.out")
expect_fail 'HTTP 413.*results' "$CELLA" task contribute "$T2" --result result.txt --authorization "$AUTH" \
  --results "$(head -c 4097 /dev/zero | tr '\0' u)" --wallet-file "$(W worker)"
expect_ok "$CELLA" task contribute "$T2" --result result.txt --authorization "$AUTH" \
  --results "http://127.0.0.1:1/v1/blobs/abc" --wallet-file "$(W worker)"
expect_ok "$CELLA" task show "$T2"
[[ $(J "$TMP/.out" 'd["status"], d["results"], d["worker"].lower(), d["resultDigest"]') == \
   "('COMPLETED', 'http://127.0.0.1:1/v1/blobs/abc', '$(A worker | tr A-F a-f)', '0x$(sha256sum result.txt | cut -c1-64)')" ]] ||
  fail "results: $(cat "$TMP/.out")"
expect_fail 'HTTP 422.*cella-hub-task-not-active' lease "$T2" "$HOLD1" 60 pool
# runnable: not the errored T1, not the completed T2
expect_ok "$CELLA" task list --workerpool "$WP" --runnable
[[ $(J "$TMP/.out" '[t["taskid"] for t in d["tasks"]]') == "['$T0']" ]] || fail "runnable: $(cat "$TMP/.out")"
expect_ok "$CELLA" task list --workerpool "$WP" --status COMPLETED
[[ $(J "$TMP/.out" '[t["taskid"] for t in d["tasks"]]') == "['$T2']" ]] || fail "status filter"

# ---- events ----
code=$(curl -s -o ev.json -w '%{http_code}' "$HUB_URL/v1/events?after=0")
[[ $code == 200 ]] || fail "events: HTTP $code"
[[ $(J ev.json '[e["type"] for e in d["events"] if e["type"].startswith("task-")]') == \
   "['task-created', 'task-created', 'task-created', 'task-leased', 'task-leased', 'task-leased', 'task-error', 'task-completed']" ]] ||
  fail "events: $(cat ev.json)"
[[ $(J ev.json '[e["type"] for e in d["events"] if not e["type"].startswith("task-")]') == \
   "['order-published', 'order-published', 'deal-created']" ]] ||
  fail "order and deal events: $(cat ev.json)"
[[ $(J ev.json 'd["last"] == d["events"][-1]["seq"], [e for e in d["events"] if e["type"] == "task-error"][0]["taskid"], d["events"][-1]["workerpool"].lower(), d["events"][-1]["dealid"][:2]') == \
   "(True, '$T1', '${WP,,}', '0x')" ]] || fail "event fields: $(cat ev.json)"
LAST=$(J ev.json 'd["last"]')
curl -s -o ev.json "$HUB_URL/v1/events?after=$LAST&workerpool=$WP"
[[ $(J ev.json 'd["events"], d["last"]') == "([], $LAST)" ]] || fail "no new events: $(cat ev.json)"
curl -s -o ev.json "$HUB_URL/v1/events?after=0&workerpool=$(A other)"
[[ $(J ev.json 'd["events"], d["last"]') == "([], $LAST)" ]] || fail "another pool's events: $(cat ev.json)"
curl -s -o ev.json "$HUB_URL/v1/events?after=2&limit=2"
[[ $(J ev.json '[e["seq"] for e in d["events"]], d["last"]') == "([3, 4], 4)" ]] || fail "limit: $(cat ev.json)"
for bad in "after=x" "after=-1" "wait=31" "wait=x" "workerpool=0x12" "limit=0"; do
  code=$(curl -s -o ev.json -w '%{http_code}' "$HUB_URL/v1/events?$bad")
  [[ $code == 400 ]] && grep -q '"code"' ev.json || fail "events?$bad: HTTP $code $(cat ev.json)"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$HUB_URL/v1/events")
[[ $code == 405 ]] || fail "POST events: HTTP $code"
# the long-poll ends with nothing after `wait`
t0=$(date +%s%N)
curl -s -o ev.json "$HUB_URL/v1/events?after=$LAST&workerpool=$WP&wait=1"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $(J ev.json 'd["events"]') == "[]" && $ms -ge 900 && $ms -lt 5000 ]] || fail "wait=1 took $ms ms: $(cat ev.json)"
# ... and returns as soon as a match happens during the wait
t0=$(date +%s%N)
curl -s -o "$TMP/poll.json" "$HUB_URL/v1/events?after=$LAST&workerpool=$WP&wait=20" &
POLL=$!
sleep 0.5
fill 1
for _ in $(seq 50); do kill -0 "$POLL" 2>/dev/null || break; sleep 0.1; done
kill -0 "$POLL" 2>/dev/null && fail "the long-poll was not woken by the match (it waits for the 30 s tick)"
wait $POLL
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $(J "$TMP/poll.json" '[e["type"] for e in d["events"]][-1], d["events"][-1]["taskid"]') == "('task-created', '${TASKS[0]}')" ]] ||
  fail "long-poll: $(cat "$TMP/poll.json")"
[[ $ms -lt 10000 ]] || fail "the long-poll answered after $ms ms"
TP=${TASKS[0]}
# many waiting clients, hanging up early: the hub keeps serving
PIDS=()
for _ in $(seq 40); do curl -s -m 0.3 -o /dev/null "$HUB_URL/v1/events?after=999999&wait=1" & PIDS+=($!); done
sleep 0.5
expect_ok "$CELLA" task show "$T0"
wait "${PIDS[@]}" || true
sleep 1 # their replies, after they hung up
expect_ok "$CELLA" task show "$T0"
kill -0 "$HUB_PID" || fail "the hub died"

# ---- --dev-timeref: deadlines in seconds, claim refunds the requester ----
stop_server "$HUB_PID"
start_hub --log hub2.log --dev-faucet --dev-timeref 1
grep -q 'WARNING: development timeref' "$TMP/hub2.log" || fail "no --dev-timeref warning"
expect_ok "$CELLA" account show --wallet-file "$(W req)"
BEFORE0=$(awk '{print $3, $4, $5}' "$TMP/.out")
fill 2   # a deal of two tasks, for deal claim
DD=$(awk '/^deal / {print $2}' "$TMP/.out")
DT=("${TASKS[@]}")
expect_ok "$CELLA" account show --wallet-file "$(W req)"
BEFORE=$(awk '{print $3, $4, $5}' "$TMP/.out")
fill 1
TD=${TASKS[0]}
expect_ok "$CELLA" task show "$TD"
[[ $(J "$TMP/.out" 'd["finalDeadline"] - d["startTime"], d["contributionDeadline"] - d["startTime"]') == "(10, 7)" ]] ||
  fail "dev timeref deadlines: $(cat "$TMP/.out")"
expect_fail 'HTTP 422.*cella-hub-task-too-early.*final deadline \(20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\)' "$CELLA" task claim "$TD"
expect_fail 'HTTP 422.*cella-hub-task-too-early' "$CELLA" deal claim "$DD"
sleep 10.5
expect_fail 'HTTP 422.*cella-hub-task-deadline' lease "$TD" "$HOLD1" 10 pool
expect_ok "$CELLA" task list --workerpool "$WP" --runnable
[[ $(J "$TMP/.out" '[t["taskid"] for t in d["tasks"]]') == "['$T0', '$TP']" ]] ||
  fail "past its deadline, still runnable: $(cat "$TMP/.out")"
expect_fail 'past its final deadline, unfinished .ACTIVE.: cella task claim' "$CELLA" task watch "$TD"
expect_ok "$CELLA" task claim "$TD"
grep -q FAILED "$TMP/.out" || fail "claim: $(cat "$TMP/.out")"
expect_fail 'the task failed .claimed after its final deadline' "$CELLA" task watch "$TD"
grep -q ": FAILED$" "$TMP/.err" || fail "task watch printed: $(cat "$TMP/.err")"
expect_ok "$CELLA" account show --wallet-file "$(W req)"
grep -q "balance $BEFORE" "$TMP/.out" || fail "no refund: $(cat "$TMP/.out") (before: $BEFORE)"
curl -s -o ev.json "$HUB_URL/v1/events?after=0"
[[ $(J ev.json '[e["type"] for e in d["events"]][-1], d["events"][-1]["taskid"]') == "('task-failed', '$TD')" ]] ||
  fail "claim event: $(cat ev.json)"
# deal claim: every unfinished task of the deal, then nothing is left to claim
expect_ok "$CELLA" deal claim "$DD"
[[ $(cat "$TMP/.out") == "${DT[0]} FAILED"$'\n'"${DT[1]} FAILED" ]] || fail "deal claim: $(cat "$TMP/.out")"
expect_fail "no task of deal $DD is left to claim" "$CELLA" deal claim "$DD"
expect_ok "$CELLA" account show --wallet-file "$(W req)"
grep -q "balance $BEFORE0" "$TMP/.out" || fail "no refund after deal claim: $(cat "$TMP/.out") (before: $BEFORE0)"
# ---- lease-next: the pool's next runnable task, leased in one request ----
lnext() { # POOL HOLDER WALLET-OF
  call POST /v1/tasks/lease-next --data "{\"workerpool\": \"$1\", \"holder\": \"$2\", \"seconds\": 60}" \
    --wallet-file "$(W "$3")"
}
expect_ok "$CELLA" task list --workerpool "$WP" --runnable
RUN=$(J "$TMP/.out" '" ".join(t["taskid"] for t in d["tasks"])')
[[ -n $RUN ]] || fail "lease-next: nothing runnable to start from"
expect_fail 'HTTP 403.*cella-hub-workerpool-owner-only' lnext "$WP" "$HOLD1" other
expect_fail 'HTTP 404.*no such workerpool' lnext "$(A other)" "$HOLD1" other
expect_fail 'HTTP 400.*holder' lnext "$WP" xyz pool
expect_fail 'HTTP 400.*unknown field' call POST /v1/tasks/lease-next \
  --data "{\"workerpool\": \"$WP\", \"holder\": \"$HOLD1\", \"x\": 1}" --wallet-file "$(W pool)"
GOT=()
for want in $RUN; do   # oldest first, each once
  expect_ok lnext "$WP" "$HOLD2" pool
  got=$(J "$TMP/.out" 'd["taskid"]')
  [[ $got == "$want" && $(J "$TMP/.out" 'd["holder"]') == "$HOLD2" ]] ||
    fail "lease-next gave $got, not $want: $(cat "$TMP/.out")"
  GOT+=("$got")
done
expect_ok lnext "$WP" "$HOLD1" pool
[[ $(J "$TMP/.out" 'd["taskid"]') == None ]] || fail "lease-next with nothing runnable: $(cat "$TMP/.out")"
expect_ok "$CELLA" task list --workerpool "$WP" --runnable
[[ $(J "$TMP/.out" 'd["count"]') == 0 ]] || fail "leased by lease-next, still runnable"
expect_ok "$CELLA" task show "${GOT[0]}"
[[ $(J "$TMP/.out" 'd["lease"]["holder"]') == "$HOLD2" ]] || fail "lease-next: the task's lease"
kill -0 "$HUB_PID" || fail "the hub died"
finish
