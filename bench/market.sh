#!/usr/bin/env bash
# The marketplace end to end on `cella up` (loopback, sim TEE): an app that
# does nothing, from the fill to the decrypted result on the requester's disk
# (one command: `cella app run --download --decrypt`), with a worker already running (as
# a pool's worker is), and the worker's breakdown by phase; then a bag of BAG
# tasks on 2 worker slots (tasks per minute). Baseline in the same run,
# alternating with the tasks: a bare sandboxed `true`
# (`bwrap --ro-bind / / --unshare-all --die-with-parent true`, as
# bench/runtime.sh), the floor any sandboxed run pays; for the bag, what
# SLOTS such sandboxes back to back would do in a minute.
# usage: bench/market.sh BUILD_DIR [RUNS] [BAG]
set -euo pipefail
. "$(dirname "$0")/summary.sh"
build=$(cd "${1:-build}" && pwd)
RUNS=${2:-5}
BAG=${3:-100}
CELLA=$build/cella
W=$(mktemp -d /tmp/cella-market-bench.XXXXXX)
UP_PID="" WK_PID=""
cleanup() {
  [[ -n "$WK_PID" ]] && kill -INT "$WK_PID" 2>/dev/null
  [[ -n "$UP_PID" ]] && kill -INT "$UP_PID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
export XDG_CONFIG_HOME=$W/config
"$CELLA" up --data stack --listen-base 0 --slots 0 > up.log 2>&1 &
UP_PID=$!
for _ in $(seq 600); do grep -q '^ready' up.log 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' up.log || { cat up.log >&2; exit 1; }
read -r -a INIT < <(sed -n 's/^  cella init //p' up.log)
BLOBS=$(sed -n 's/^blobs *//p' up.log)
POOL=$(awk '/^worker/ {print $3}' up.log | tr -d ,)
POOL_WALLET=$(ls stack/pool/wallet-*.json)
"$CELLA" init "${INIT[@]}" 2>/dev/null
"$CELLA" wallet create --unencrypted --keystoredir w > me 2>/dev/null
WAL=$(ls w/*)
# the empty app: writes an empty result and computed.json, nothing else
mkdir app
printf '#!/bin/sh\n: > "$IEXEC_OUT/r"\necho "{\\"deterministic-output-path\\": \\"/iexec_out/r\\"}" > "$IEXEC_OUT/computed.json"\n' > app/empty
chmod 755 app/empty
printf '{"entrypoint": "empty", "args": [], "heap_mb": 16, "stack_kb": 1024, "env": [], "host_files": [], "runtime": "cella-runtime-1"}\n' > app/cella-app.json
"$CELLA" app pack app -o app.tar > pack
"$CELLA" blobs put app.tar --url "$BLOBS" > put
python3 - "$(awk '{print $2}' put)" "$(awk '{print $1}' pack)" "$("$CELLA" app measure app)" <<'PY'
import json, sys
c = json.load(open("cella.json"))
c["app"] = {"name": "empty", "type": "DOCKER", "multiaddr": sys.argv[1], "checksum": sys.argv[2], "measurement": sys.argv[3]}
json.dump(c, open("cella.json", "w"))
PY
APP=$("$CELLA" app deploy --wallet-file "$WAL" 2>/dev/null)
"$CELLA" order init --app --tag tee,scone 2>/dev/null
python3 - "$APP" <<'PY'
import json, sys
c = json.load(open("cella.json"))
c["order"]["apporder"].update({"app": sys.argv[1], "volume": "100000"})
json.dump(c, open("cella.json", "w"))
PY
"$CELLA" order sign --app --wallet-file "$WAL" >/dev/null 2>&1
"$CELLA" order publish --app >/dev/null
"$CELLA" result generate-encryption-keypair --address "$(cat me)" >/dev/null 2>&1
"$CELLA" result push-encryption-key --wallet-file "$WAL" >/dev/null
WORKER=("$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir wk
  --sim-dir stack/sim)
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bare() { bwrap --ro-bind / / --unshare-all --die-with-parent true; }

# one empty task, fill to decrypted result, RUNS times (the first warms the
# caches), each followed by a bare sandboxed `true`. The requester runs one
# command: `cella app run --download --decrypt` buys the task, follows it by
# the hub's event stream, downloads the result and decrypts it (RSA-4096).
# For comparison in the same run, alternating with it: the same in two
# commands, as the SDK does it (`app run --watch`, then `task show --download
# --decrypt`), which pays a second process start and hub connection.
# (started directly, so that $! is the worker itself, which stops on SIGINT)
"${WORKER[@]}" --slots 1 >> worker.log 2>&1 &
WK_PID=$!
e2e=() two=() match=() fetchres=() bw=() start=() wk=() req=()
for ((i = 0; i <= RUNS; i++)); do
  t0=$EPOCHREALTIME
  "$CELLA" app run "$APP" --tag tee,scone --wallet-file "$WAL" --download -o "r$i.zip" \
    --decrypt --decrypted "d$i.zip" > run.out 2>/dev/null || true
  us_since e "$t0"
  T=$(awk '/^task / {print $2}' run.out)
  [[ -s "d$i.zip" ]] || { tail -5 worker.log >&2; echo "market bench: task $T gave no result" >&2; exit 1; }
  for _ in $(seq 50); do grep -q "task $T completed in" worker.log && break; sleep 0.02; done
  w=$(grep "task $T completed in" worker.log | sed -n 's/.*completed in \([0-9]*\) ms.*/\1/p')
  t0=$EPOCHREALTIME
  "$CELLA" app run "$APP" --tag tee,scone --wallet-file "$WAL" --watch > run.out 2>/dev/null
  us_since u1 "$t0"; t1=$EPOCHREALTIME
  T=$(awk '/^task / {print $2}' run.out)
  "$CELLA" task show "$T" --download --output "s$i.zip" --decrypt --decrypted "sd$i.zip" >/dev/null 2>&1
  us_since u2 "$t1"; us_since e2 "$t0"
  [[ -s "sd$i.zip" ]] || { tail -5 worker.log >&2; echo "market bench: task $T gave no result" >&2; exit 1; }
  cmp -s "d$i.zip" "sd$i.zip" || { echo "market bench: the two ways decrypted different results" >&2; exit 1; }
  t3=$EPOCHREALTIME; bare; us_since b "$t3"
  t5=$EPOCHREALTIME; "$CELLA" --version >/dev/null; us_since v "$t5" # what each requester command pays to start
  ((i == 0)) && continue
  start+=("$v") wk+=("$w") req+=($((e / 1000 - w)))
  match+=($((u1 / 1000))); fetchres+=($((u2 / 1000)))
  e2e+=($((e / 1000))); two+=($((e2 / 1000))); bw+=("$b")
done
kill -INT "$WK_PID"; wait "$WK_PID" || true; WK_PID=""
E=$(med "${e2e[@]}"); B=$(med "${bw[@]}"); WK=$(med "${wk[@]}")
printf '\nmarket bench: one empty TEE task, fill to decrypted result, worker running (%d runs, median)\n' "$RUNS"
printf '  %-64s %6d ms\n' "end to end: cella app run --download --decrypt (one command)" "$E"
printf '  %-64s %6d ms\n' "  of which the worker, lease to finalize ('completed in')" "$WK"
printf '  %-64s %6d ms\n' "  the rest, the requester's side (start, order, watch, result)" "$(med "${req[@]}")"
echo "  worker phases of the last task:"
grep 'completed in' worker.log | tail -1 | sed 's/.*completed in/    completed in/'
printf '  %-64s %6d ms\n' "same run, two commands as the SDK: app run --watch + task show" "$(med "${two[@]}")"
printf '  %-64s %6d ms\n' "  fill to completed: cella app run --watch" "$(med "${match[@]}")"
printf '  %-64s %6d ms\n' "  result: cella task show --download --decrypt (RSA-4096)" "$(med "${fetchres[@]}")"
printf '  %-64s %6d us\n' "baseline: bare sandboxed true (same run)" "$B"
printf '  %-64s %6d us\n' "a cella process start (--version)" "$(med "${start[@]}")"
goal_row "one empty TEE task, fill → decrypted result" "$E ms" "bare sandboxed true" \
  "$(awk -v b="$B" 'BEGIN { printf "%.1f ms", b / 1000 }')" \
  "$(awk -v e="$E" -v b="$B" 'BEGIN { printf "%.1f×", e * 1000 / b }')" "≤ 100 ms"

# a bag of BAG tasks on 2 slots (the worker starts once the bag is filled and
# stops when nothing is left), then a few bare sandboxes again
SLOTS=2
"$CELLA" app run "$APP" --tag tee,scone --volume "$BAG" --wallet-file "$WAL" > bag.out 2>/dev/null
# CPU time, the profile behind the figure: the worker with its enclaves
# (children this shell waited for: children_cpu_ms), and the servers of
# `cella up`; each reading is taken where the other's fork is not counted
srv_cpu_ms() { for p in $(pgrep -P "$UP_PID"); do cat "/proc/$p/stat"; done |
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); t += $12 + $13 } END { printf "%.0f", t * 1000 / hz }'; }
s0=$(srv_cpu_ms); children_cpu_ms c0
t0=$EPOCHREALTIME; "${WORKER[@]}" --slots "$SLOTS" --once >> worker.log 2>&1; us_since bag_us "$t0"
children_cpu_ms c1; s1=$(srv_cpu_ms); children_cpu_ms c1b
for _ in 1 2 3 4 5; do t3=$EPOCHREALTIME; bare; us_since b "$t3"; bw+=("$b"); done
children_cpu_ms c2
B=$(med "${bw[@]}")
done_n=$(grep -c 'completed in' worker.log || true)
done_n=$((done_n - 2 * (RUNS + 1))) # the bag's, after the single tasks (2 a run)
ms=$((bag_us / 1000))
TPM=$(awk -v n="$done_n" -v ms="$ms" 'BEGIN { printf "%.0f", n * 60000 / ms }')
FLOOR=$(awk -v s="$SLOTS" -v b="$B" 'BEGIN { printf "%.0f", s * 60e6 / b }')
printf 'bag of %d empty tasks on %d slots: %d completed in %.1f s, %d tasks/min\n' \
  "$BAG" "$SLOTS" "$done_n" "$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')" "$TPM"
printf '  baseline: %d slots x 60 s / bare sandboxed true (%d us) = %d/min\n' "$SLOTS" "$B" "$FLOOR"
# the worker's own last line: "(CPU: worker X ms, enclaves Y ms)"
SPLIT=$(grep 'task(s) completed' worker.log | tail -1 | sed -n 's/.*CPU: worker \([0-9]*\) ms, enclaves \([0-9]*\) ms.*/\1 \2/p')
awk -v split_line="$SPLIT" -v w=$((c1 - c0)) -v sv=$((s1 - s0)) -v b=$((c2 - c1b)) -v n="$done_n" -v cores="$(nproc)" 'BEGIN {
  if (n < 1) exit
  printf "  CPU per task: worker and its enclaves %.1f ms, hub + cas + blobs %.1f ms; bare sandboxed true %.1f ms\n", w / n, sv / n, b / 5
  if (split(split_line, f, " ") >= 2) printf "    of which the worker %.1f ms, the enclaves (run-task, sandbox, app) %.1f ms\n", f[1] / n, f[2] / n
  printf "  so %d cores give at most %.0f tasks/min at this CPU per task\n", cores, cores * 60000 * n / (w + sv) }'
fails=$(grep -c 'failed:' worker.log || true)
echo "tasks failed during the bench: $fails"
goal_row "bag of $BAG empty tasks, $SLOTS slots" "$TPM/min" "slots × 60 s ÷ bare sandboxed true" \
  "$FLOOR/min" "$(awk -v t="$TPM" -v f="$FLOOR" 'BEGIN { printf "%.2f", t / f }')" \
  "≥ 3000/min and ≥ 0.8"
