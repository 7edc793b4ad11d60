#!/usr/bin/env bash
# The worker's signer process (lib/worker/signer.h): the workerpool owner's key
# lives in a child of the worker, never in the worker itself. The child is
# another PID, confined (seccomp filter, no new privileges), and signs the
# worker's leases and reports (a standard task whose app is registered at a
# docker.io name, not a URL the worker fetches, is leased and its failure
# reported). As root, the worker's memory is searched for the key:
# absent, while the signer's holds it (the search works). When the signer is
# killed the worker stops, non-zero, with one clear error line.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

start_hub --dev-faucet
. "$HERE/hub.d/market.sh"   # market_setup, fill
market_setup dev pool req
start_cas
start_blobs
J() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# a wallet the signer cannot open: the child's error is the worker's
cd "$TMP/pool"
WORKER=(worker start --pool "$WP" "${CAS[@]}" --blobs "$BLOBS_URL" --work-dir "$TMP/wk" --lease 10)
expect_fail "no-such-wallet.json" "$CELLA" "${WORKER[@]}" --once \
  --wallet-file "$TMP/no-such-wallet.json"

: > "$TMP/worker.log"
"$CELLA" "${WORKER[@]}" --wallet-file "$(W pool)" --metrics 127.0.0.1:0 > "$TMP/worker.log" 2>&1 &
WORKER_PID=$!
_SERVERS+=("$WORKER_PID")
for _ in $(seq 100); do
  grep -q '^worker metrics on' "$TMP/worker.log" && break
  kill -0 "$WORKER_PID" 2>/dev/null || { cat "$TMP/worker.log" >&2; fail "worker exited"; }
  sleep 0.1
done
grep -q '^worker metrics on' "$TMP/worker.log" || { cat "$TMP/worker.log" >&2; fail "worker did not start"; }

# ---- the signer: another process, confined ----
SIGNER=$(cat /proc/"$WORKER_PID"/task/*/children | tr ' ' '\n' | grep . | head -1)
[[ -n $SIGNER && $SIGNER != "$WORKER_PID" ]] || fail "the worker has no signer child"
[[ $(awk '/^PPid:/ {print $2}' /proc/"$SIGNER"/status) == "$WORKER_PID" ]] || fail "signer's parent"
grep -q '^Seccomp:[[:space:]]*2$' /proc/"$SIGNER"/status || fail "the signer has no seccomp filter: $(grep Seccomp /proc/"$SIGNER"/status)"
grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/"$SIGNER"/status || fail "the signer may gain privileges"
# stdin, stdout, stderr and its channel: nothing else of the worker's
[[ $(ls /proc/"$SIGNER"/fd | wc -l) == 4 ]] || fail "the signer holds: $(ls -l /proc/"$SIGNER"/fd)"
ok

# ---- it signs the worker's requests: a lease, then the failure report ----
cd "$TMP/req"
fill 1
T=${TASKS[0]}
for _ in $(seq 100); do
  "$CELLA" task show "$T" > task.json 2>/dev/null
  [[ $(J task.json 'd["error"] is not None') == True ]] && break
  sleep 0.2
done
[[ $(J task.json 'd["error"]') == *"is not such a URL (app bundle)"* ]] || { cat "$TMP/worker.log" >&2; fail "task: $(cat task.json)"; }
ok

# ---- the key is in the signer's memory, not in the worker's (root reads both) ----
KEY=$(J "$(W pool)" 'd["privateKey"][2:]')
scan() { # PID -> "found" / "absent" / "unreadable"
  python3 - "$1" "$KEY" <<'PY'
import re, sys
pid, key = sys.argv[1], bytes.fromhex(sys.argv[2])
needles = [key, key.hex().encode(), key.hex().upper().encode()]
found = readable = False
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
        if not m or "[vvar]" in line or "[vsyscall]" in line:
            continue
        a, b = int(m.group(1), 16), int(m.group(2), 16)
        if b - a > 1 << 30:
            continue  # a sanitizer's shadow memory, not the heap
        # in steps, overlapping by a needle's length
        for at in range(a, b, 16 << 20):
            try:
                mem.seek(at); chunk = mem.read(min(b, at + (16 << 20) + 128) - at)
            except OSError:
                break
            readable = True
            if any(n in chunk for n in needles):
                found = True
print("found" if found else "absent" if readable else "unreadable")
PY
}
if [[ $(id -u) == 0 ]]; then
  [[ $(scan "$SIGNER") == found ]] || fail "the key is not in the signer's memory: the search does not work"
  [[ $(scan "$WORKER_PID") == absent ]] || fail "the worker's memory holds the pool key"
  ok
else
  echo "worker_signer: not root: the memory search is skipped (the other checks ran)"
fi

# ---- the signer dies: the worker stops, with the reason ----
kill -9 "$SIGNER"
# the next signature (its next lease-next, after a long-poll of at most 5 s) fails
for _ in $(seq 300); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$WORKER_PID" 2>/dev/null && fail "the worker still runs without its signer"
wait "$WORKER_PID" && fail "the worker exited 0 without its signer"
grep -q "^cella: error: the signer process (pid $SIGNER) has stopped (.*killed by signal 9) (signer)$" \
  "$TMP/worker.log" || { cat "$TMP/worker.log" >&2; fail "the worker's last words"; }
ok
finish
