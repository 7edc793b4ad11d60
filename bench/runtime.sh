#!/usr/bin/env bash
# Start to finish of an empty app through the runtime (attest to cas, present
# volumes, sandbox, seal an empty output, push its tag) beside a bare
# `bwrap ... true` in the same run. Median of RUNS, alternating.
# usage: bench/runtime.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
RUNS=${2:-15}
CELLA=$build/cella
. "$(dirname "$0")/sim_cas.sh" cella-rt-bench
mkdir -p app INPUTS KEYS
printf '#!/bin/sh\nexit 0\n' > app/empty; chmod 755 app/empty
printf '{"entrypoint": "empty", "args": [], "heap_mb": 16, "stack_kb": 1024, "env": [], "host_files": [], "runtime": "cella-runtime-1"}\n' > app/cella-app.json
cat > tpl.yml <<'YML'
name: $SESSION
services:
  - name: app
    image_name: img
    mrenclaves: [$MRENCLAVE]
    command: /bin/true
    pwd: /
volumes:
  - name: in
    fspf_key: $INPUT_FSPF_KEY
    fspf_tag: $INPUT_FSPF_TAG
  - name: out
images:
  - name: img
    volumes: [{name: in, path: /in}, {name: out, path: /out}]
security:
  allow_sim: true
YML
echo x > INPUTS/x
"$CELLA" encryptedpush --app app --session-template tpl.yml --inputs INPUTS --keys KEYS \
  --cas "https://127.0.0.1:$PORT" --cas-fingerprint "$FP" --wallet-file "$(ls w/*)" > cmd.txt 2>/dev/null
read -r -a CMD < cmd.txt
now() { date +%s%N; }
rt=() bw=()
for ((i = 0; i < RUNS; i++)); do
  t0=$(now); "$CELLA" run "${CMD[@]}" --outputs "o$i" >/dev/null 2>&1; t1=$(now)
  rt+=($(( (t1 - t0) / 1000 )))
  t0=$(now); bwrap --ro-bind / / --unshare-all --die-with-parent true; t1=$(now)
  bw+=($(( (t1 - t0) / 1000 )))
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
R=$(med "${rt[@]}"); B=$(med "${bw[@]}")
printf '\nruntime bench (%d runs, median, microseconds)\n' "$RUNS"
printf '%-60s %8d us\n' "cella run: attest, FUSE input, sandboxed /bin/true, seal, push tag" "$R"
printf '%-60s %8d us\n' "bwrap --ro-bind / / --unshare-all --die-with-parent true" "$B"
printf '%-60s %8d us   (issue target: <= 30000)\n' "added by the runtime" "$((R - B))"
