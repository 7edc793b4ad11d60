#!/usr/bin/env bash
# kill -9 of one cas (cas1) while tasks run through the workers (each task: a challenge and
# a session on cas, then its enclave's attestation, handshake-bound) and two clients push
# requester secrets (lib.d/write_client.sh; c1 with cas1 first, c2 with cas2 first). cas1
# is killed while worker1 (the worker that goes to cas1 first) runs the app of a task, and
# the clients push. Then:
#   - the other cas serves: every task completes, and worker1 completes one after the kill
#     through cas2 (it fails over); c1 was acknowledged by cas2 after the kill;
#   - no secret is lost: every acknowledged push is on cas2, and is used: a task given a
#     secret c1 pushed through cas1 before the kill prints it in its result;
#   - no evidence is released twice: every release (an instance in the shared database,
#     with its audit row) is for another enclave key;
# and cas1, started again, has every acknowledged secret too.
. "$(dirname "$0")/lib.sh"
. "$CLUSTER_LIB/market.sh"
need_cluster 150
cluster_up --hosts 12
N=300       # pushes per client at most
TASKS=12    # four rounds of the three workers
SLEEP=2     # each task's app

person dev "$(client_host 1)" 1
person c1 "$(client_host 2)" 1
person c2 "$(client_host 3)" 2
slow_app "$TMP/slow"
APP=$(publish_app dev slow "$TMP/slow")
for k in 1 2; do
  expect_ok by "c$k" result generate-encryption-keypair --address "$(A "c$k")"
  expect_ok by "c$k" result push-encryption-key --wallet-file "$(W "c$k")"
done
printf 'key-of-the-load' > "$TMP/load.secret"
expect_ok by c2 requester push-secret load --secret-file "$TMP/load.secret" --wallet-file "$(W c2)"

# ---- the load: TASKS tasks for the workers, two clients pushing secrets ----
expect_ok by c2 app run "$APP" --tag tee,scone --args "$SLEEP" --volume "$TASKS" --secret 1=load \
  --wallet-file "$(W c2)"
DEAL=$(awk '/^deal / {print $2}' "$TMP/.out")
start_clients write_client.sh c1 c2 -- "$N" "$(($(date +%s) + 60))" 0.05
wait_acks secret 20
# worker1's enclave attested for its task and runs the app: no request of worker1's is on
# its way to cas1 (its one slot waits for the enclave, which is done with cas)
w1_task() { sed -n 's/^cella: info: task \(0x[0-9a-f]*\): leased$/\1/p' "$CLUSTER_DIR/logs/worker1.log" | tail -n 1; }
# ... and at least 3 tasks are not leased yet, so one is left for worker1 after
# the kill (each worker runs one at a time): a kill in the last round (the
# pushes are slow under ASan) left worker1 nothing to fail over with
unleased() { echo $((TASKS - $(cat "$CLUSTER_DIR"/logs/worker[123].log | grep -c ': leased$'))); }
w1_in_app() {
  local t
  t=$(w1_task)
  [[ -n $t ]] && attested "$t" && ! grep -q "task $t completed" "$CLUSTER_DIR/logs/worker1.log" &&
    (($(unleased) >= 3))
}
wait_until 30 "worker1 runs the app of a task, with 3 tasks still to lease" w1_in_app
T_KILL=$(date +%s.%N)
W1_BEFORE=$(grep -c 'completed in' "$CLUSTER_DIR/logs/worker1.log" || true)
expect_ok cl kill cas1
echo "cas1 killed after $(acks_count secret) acknowledged pushes, while worker1 ran a task"
# the pushers stop once each was acknowledged a few times after the kill
since_kill() { awk -v t="$T_KILL" '$1 > t && $2 == "secret"' "$TMP/$1/acks" | wc -l; }
for _ in $(seq 200); do (($(since_kill c1) >= 10 && $(since_kill c2) >= 10)) && break; sleep 0.1; done
touch "$TMP/c1/stop" "$TMP/c2/stop"
wait_clients

# ---- the other cas served: every task completed, worker1's after the kill through cas2 ----
# tasks_ended: "COMPLETED ENDED" of the deal's tasks (ended: completed or with an error)
tasks_ended() {
  hub_get hub1 "/v1/tasks?workerpool=$POOL&limit=1000" | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin)["tasks"] if t["dealid"] == sys.argv[1]]
print(sum(x["status"] == "COMPLETED" for x in t), sum(x["status"] == "COMPLETED" or bool(x["error"]) for x in t))
for x in t:
    if x["error"]:
        print("task", x["taskid"], "failed:", x["error"], file=sys.stderr)' "$DEAL"
}
for _ in $(seq 100); do read -r COMPLETED ENDED < <(tasks_ended 2>/dev/null); ((ENDED == TASKS)) && break; sleep 0.3; done
((COMPLETED == TASKS)) || fail "$COMPLETED of $TASKS tasks completed: $(tasks_ended 2>&1)"
echo "$TASKS tasks completed: $(for k in 1 2 3; do echo -n "worker$k $(grep -c 'completed in' "$CLUSTER_DIR/logs/worker$k.log") "; done)"
grep -q "$URL_cas1 did not answer" "$CLUSTER_DIR/logs/worker1.log" ||
  fail "worker1 did not fail over: $(tail -n 5 "$CLUSTER_DIR/logs/worker1.log")"
# the task it ran at the kill, and at least one it began after
W1_AFTER=$(($(grep -c 'completed in' "$CLUSTER_DIR/logs/worker1.log") - W1_BEFORE))
((W1_AFTER >= 2)) || fail "worker1 began no task after the kill and completed it"
ok

# ---- no secret lost: every acknowledged push is on cas2 ----
ACKED=0; PRESENT=0
for k in 1 2; do
  a=$TMP/c$k/acks
  names=$(awk '$2 == "secret" {print $3}' "$a")
  ACKED=$((ACKED + $(wc -w <<<"$names")))
  # shellcheck disable=SC2086  # one name a word
  PRESENT=$((PRESENT + $(secrets_present cas2 "c$k" $names)))
  echo "c$k: $(kind_count secret "$a") pushes acknowledged, $(kind_count failed "$a") failed"
  awk '$2 == "failed" {$1 = ""; print}' "$a"
done
first_after=$(awk -v t="$T_KILL" '$1 > t && $2 == "secret" {print $1; exit}' "$TMP/c1/acks")
[[ -n $first_after ]] || fail "c1 had no push acknowledged after the kill"
RECOVERY=$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) - float(sys.argv[2])))' "$first_after" "$T_KILL")
grep -q "$URL_cas1 did not answer.*trying $URL_cas2" "$TMP/c1/client.err" || fail "c1 did not fail over"
echo "acknowledged $ACKED, present on cas2 $PRESENT; c1's first push after the kill: $RECOVERY s"
((ACKED > 0 && PRESENT == ACKED)) || fail "$((ACKED - PRESENT)) acknowledged pushes lost"
ok

# ... and used: a secret pushed through cas1 before the kill reaches an app through cas2
read -r _ _ NAME VALUE < <(awk -v t="$T_KILL" '$1 < t && $2 == "secret"' "$TMP/c1/acks" | tail -n 1)
[[ -n $NAME ]] || fail "c1 had no push acknowledged by cas1 before the kill"
expect_ok by c1 app run "$APP" --tag tee,scone --args 0 --secret "1=$NAME" --watch --wallet-file "$(W c1)"
T=$(awk '/^task / {print $2}' "$TMP/.out")
OUT=$(result_text c1 "$T" out.txt)
grep -qx "requester secret: $VALUE" <<<"$OUT" || fail "the task did not get secret $NAME: $OUT"
ok

# ---- no evidence released twice ----
read -r RELEASES KEYS AUDITED < <(on "$HOST_hub2" psql -X -At -F ' ' "$PG_URL" -c \
  "SELECT (SELECT count(*) FROM instances), (SELECT count(DISTINCT spki) FROM instances),
          (SELECT count(DISTINCT who) FROM audit WHERE action = 'attest' AND outcome = 'ok')")
echo "releases $RELEASES, enclave keys $KEYS, audited $AUDITED"
((RELEASES >= TASKS + 1 && KEYS == RELEASES && AUDITED == RELEASES)) ||
  fail "releases $RELEASES for $KEYS keys ($AUDITED audited) for $((TASKS + 1)) tasks"
ok

# ---- cas1 again: the same secrets ----
expect_ok cl start cas1
for k in 1 2; do
  names=$(awk '$2 == "secret" {print $3}' "$TMP/c$k/acks")
  # shellcheck disable=SC2086
  n=$(secrets_present cas1 "c$k" $names)
  ((n == $(wc -w <<<"$names"))) || fail "cas1 lacks $(($(wc -w <<<"$names") - n)) of c$k's secrets"
done
ok

fault_row cas_kill "$ACKED" "$PRESENT" $((RELEASES - KEYS)) "$RECOVERY"
finish
