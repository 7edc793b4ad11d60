#!/usr/bin/env bash
# The marketplace end to end on `cella up` (loopback, sim TEE): an app that
# does nothing, from the match to the decrypted result, with the worker's
# breakdown by phase; then a bag of BAG tasks on 1 and on 2 worker slots
# (tasks per minute). Baseline in the same run: the same empty app started in
# a bare bubblewrap sandbox (the floor any sandboxed run pays).
# usage: bench/market.sh BUILD_DIR [RUNS] [BAG]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
RUNS=${2:-5}
BAG=${3:-100}
CELLA=$build/cella
W=$(mktemp -d /tmp/cella-market-bench.XXXXXX)
UP_PID=""
cleanup() {
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
worker() { # SLOTS
  "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir wk \
    --sim-dir stack/sim --once --slots "$1" >> worker.log 2>&1
}
now() { date +%s%N; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# one empty task, fill to decrypted result, RUNS times (the first warms the caches)
worker 1 # nothing to run yet: starts and stops once
e2e=() match=() work=() fetchres=() bw=()
for ((i = 0; i <= RUNS; i++)); do
  t0=$(now)
  "$CELLA" app run "$APP" --tag tee,scone --wallet-file "$WAL" > run.out 2>/dev/null
  t1=$(now)
  worker 1
  t2=$(now)
  T=$(awk '/^task / {print $2}' run.out)
  "$CELLA" result download "$T" -o "r$i.zip" >/dev/null
  "$CELLA" result decrypt "r$i.zip" -o "d$i.zip" >/dev/null 2>&1
  t3=$(now)
  t4=$(now); bwrap --ro-bind / / --unshare-all --die-with-parent /bin/sh -c true; t5=$(now)
  ((i == 0)) && continue
  match+=($(( (t1 - t0) / 1000000 ))); work+=($(( (t2 - t1) / 1000000 )))
  fetchres+=($(( (t3 - t2) / 1000000 ))); e2e+=($(( (t3 - t0) / 1000000 )))
  bw+=($(( (t5 - t4) / 1000 )))
done
E=$(med "${e2e[@]}"); B=$(med "${bw[@]}")
printf '\nmarket bench: one empty TEE task, fill to decrypted result (%d runs, median)\n' "$RUNS"
printf '  %-58s %6d ms\n' "end to end (target < 1000 ms)" "$E"
printf '  %-58s %6d ms\n' "  match: cella app run (sign, publish, matchOrders)" "$(med "${match[@]}")"
printf '  %-58s %6d ms\n' "  worker: start, lease..finalize, stop" "$(med "${work[@]}")"
printf '  %-58s %6d ms\n' "  result: download + decrypt (RSA-4096)" "$(med "${fetchres[@]}")"
echo "  worker phases of the last task:"
grep 'completed in' worker.log | tail -1 | sed 's/.*completed in/    completed in/'
printf '  %-58s %6d us\n' "baseline: bwrap /bin/sh -c true (same run)" "$B"
awk -v e="$E" -v b="$B" 'BEGIN { printf "  ratio end-to-end / bare sandbox: %.0fx\n", e * 1000 / b }'

# a bag of BAG tasks on 1 and 2 slots
for slots in 1 2; do
  "$CELLA" app run "$APP" --tag tee,scone --volume "$BAG" --wallet-file "$WAL" > bag.out 2>/dev/null
  t0=$(now); worker "$slots"; t1=$(now)
  done_n=$(grep -c '^task ' bag.out)
  ms=$(( (t1 - t0) / 1000000 ))
  awk -v n="$done_n" -v ms="$ms" -v s="$slots" \
    'BEGIN { printf "bag of %d empty tasks on %d slot(s): %.1f s, %.0f tasks/min\n", n, s, ms / 1000, n * 60000 / ms }'
done
fails=$(grep -c 'failed:' worker.log || true)
echo "tasks failed during the bench: $fails"
