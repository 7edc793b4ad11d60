#!/usr/bin/env bash
# A worker's host cut off (its cable unplugged: `link HOST down`) in the middle of a task.
# The workers lease for 6 s (renewed every 2 s). A task of an app that sleeps SLEEP seconds
# is leased by one worker (A); while its app runs, A's host is cut off, so A cannot renew:
# its lease lapses and a worker on another host (B) leases the task and runs it. A's host
# is plugged back while both still run the app; A's app ends first, and its contribution,
# late (its lease lapsed and B holds the task now), must be refused; B completes the task.
# Checked through the hubs: the task's lease holder changes from A to B, it is COMPLETED
# once (one task-completed event), by B (the workers' logs), and its result is B's.
. "$(dirname "$0")/lib.sh"
. "$CLUSTER_LIB/market.sh"
need_cluster 150
LEASE=6
SLEEP=20
export CLUSTER_WORKER_ARGS="--lease $LEASE"
cluster_up --hosts 11

person dev "$(client_host 1)" 1
person req "$(client_host 2)" 2
slow_app "$TMP/slow"
APP=$(publish_app dev slow "$TMP/slow")
expect_ok by req result generate-encryption-keypair --address "$(A req)"
expect_ok by req result push-encryption-key --wallet-file "$(W req)"
expect_ok by req app run "$APP" --tag tee,scone --args "$SLEEP" --wallet-file "$(W req)"
TASK=$(awk '/^task / {print $2}' "$TMP/.out")
[[ $TASK =~ ^0x[0-9a-f]{64}$ ]] || fail "app run: $(cat "$TMP/.out")"

holder() { task_field hub2 "$TASK" lease.holder; }
# worker_of PATTERN: the one worker whose log has PATTERN (about TASK)
worker_of() { grep -l "$1" "$CLUSTER_DIR"/logs/worker?.log 2>/dev/null | sed 's|.*/||; s|\.log$||'; }

# ---- A leases the task and its app runs ----
has_holder() { H_A=$(holder); [[ -n $H_A ]]; }
wait_until 20 "a worker leases the task" has_holder
A_ROLE=$(worker_of "task $TASK: leased")
[[ $A_ROLE == worker? ]] || fail "which worker leased $TASK: '$A_ROLE'"
A_HOST=HOST_$A_ROLE; A_HOST=${!A_HOST}
wait_until 20 "$A_ROLE's enclave attests (then runs the app)" attested "$TASK"
echo "$A_ROLE (holder $H_A) on $A_HOST runs the task"

# ---- A's host cut off: its lease lapses, another worker takes the task ----
T_CUT=$(date +%s.%N)
expect_ok cl link "$A_HOST" down
taken_over() { H_B=$(holder); [[ -n $H_B && $H_B != "$H_A" ]]; }
wait_until 30 "another worker leases the task" taken_over
T_TAKEN=$(date +%s.%N)
B_ROLE=$(worker_of "task $TASK: leased" | grep -vx "$A_ROLE" || true)
[[ $B_ROLE == worker? && $B_ROLE != "$A_ROLE" ]] || fail "which worker took $TASK over: '$B_ROLE'"
RECOVERY=$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$T_CUT" "$T_TAKEN")
echo "$B_ROLE (holder $H_B) took the task over $RECOVERY s after the cut"
[[ $(task_field hub1 "$TASK" status) == ACTIVE ]] || fail "the task ended while A was cut off"
ok

# ---- A's host back while both run the app: A's late contribution is refused ----
expect_ok cl link "$A_HOST" up
a_done() { grep -Eq "task $TASK (completed|failed)" "$CLUSTER_DIR/logs/$A_ROLE.log"; }
wait_until 40 "$A_ROLE ends the task" a_done
grep "task $TASK" "$CLUSTER_DIR/logs/$A_ROLE.log" | tail -n 3
grep -q "task $TASK failed: .*cella-hub-task-leased" "$CLUSTER_DIR/logs/$A_ROLE.log" ||
  fail "$A_ROLE's late contribution was not refused for B's lease: $(grep "task $TASK" "$CLUSTER_DIR/logs/$A_ROLE.log" | tail -n 2)"
ok
completed() { [[ $(task_field hub1 "$TASK" status) == COMPLETED ]]; }
wait_until 40 "the task completes" completed
b_done() { grep -q "task $TASK completed in" "$CLUSTER_DIR/logs/$B_ROLE.log"; }
wait_until 10 "$B_ROLE logs the task completed" b_done
ok

# ---- once: one task-completed event, by B; the result is there ----
hub_get hub2 "/v1/events?taskid=$TASK&limit=1000" > "$TMP/events" || fail "events of $TASK"
read -r LEASES COMPLETIONS < <(python3 -c '
import json, sys
t = [e["type"] for e in json.load(open(sys.argv[1]))["events"]]
print(t.count("task-leased"), t.count("task-completed"))' "$TMP/events")
echo "events of the task: $LEASES task-leased, $COMPLETIONS task-completed"
((LEASES == 2 && COMPLETIONS == 1)) || fail "events: $(cat "$TMP/events")"
[[ $(worker_of "task $TASK completed in") == "$B_ROLE" ]] || fail "completed by $(worker_of "task $TASK completed in")"
[[ $(result_text req "$TASK" out.txt) == "slept $SLEEP" ]] || fail "result: $(result_text req "$TASK" out.txt)"
ok

fault_row link_down 1 1 $((COMPLETIONS - 1)) "$RECOVERY"
finish
