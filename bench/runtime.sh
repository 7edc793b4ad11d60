#!/usr/bin/env bash
# Start to finish of an empty app through the runtime (attest to cas, present
# volumes, sandbox, seal an empty output, push its tag) beside a bare
# `bwrap ... true` in the same run: `cella run` (the full binary) and
# `cella-runtime run` (the lean enclave binary the worker execs, same
# options). Median of RUNS, alternating. Issue 18's goal row is the lean one.
# usage: bench/runtime.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
RUNS=${2:-15}
CELLA=$build/cella
RT=$build/cella-runtime
. "$(dirname "$0")/summary.sh"
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
# CPU time of this shell's waited-for children (children_cpu_ms): what each
# kind costs apart from waiting for a busy machine.
rt=() lean=() bw=()
cr=0 cl=0 cb=0
for ((i = 0; i < RUNS; i++)); do
  children_cpu_ms c0; t0=$EPOCHREALTIME; "$CELLA" run "${CMD[@]}" --outputs "o$i" >/dev/null 2>&1
  us_since d "$t0"; children_cpu_ms c1; rt+=("$d"); cr=$((cr + c1 - c0))
  children_cpu_ms c0; t0=$EPOCHREALTIME; "$RT" run "${CMD[@]}" --outputs "l$i" >/dev/null 2>&1
  us_since d "$t0"; children_cpu_ms c1; lean+=("$d"); cl=$((cl + c1 - c0))
  children_cpu_ms c0; t0=$EPOCHREALTIME; bwrap --ro-bind / / --unshare-all --die-with-parent true
  us_since d "$t0"; children_cpu_ms c1; bw+=("$d"); cb=$((cb + c1 - c0))
done
# every run must have sealed its output (a failing run would look fast)
[[ -f "o$((RUNS - 1))/out/volume.meta" && -f "l$((RUNS - 1))/out/volume.meta" ]] ||
  { echo "runtime bench: a run did not seal its output" >&2; exit 1; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
R=$(med "${rt[@]}"); L=$(med "${lean[@]}"); B=$(med "${bw[@]}")
printf '\nruntime bench (%d runs, median, microseconds)\n' "$RUNS"
printf '%-68s %8d us\n' "cella run: attest, FUSE input, sandboxed /bin/true, seal, push tag" "$R"
printf '%-68s %8d us\n' "cella-runtime run (the lean enclave binary): the same" "$L"
printf '%-68s %8d us\n' "bwrap --ro-bind / / --unshare-all --die-with-parent true" "$B"
printf '%-68s %8d us\n' "added by the runtime (cella-runtime run - bwrap)" "$((L - B))"
cpu_ms() { awk -v t="$1" -v n="$RUNS" 'BEGIN {printf "%.1f", t / n}'; }
printf 'CPU per run (user + system, mean): cella run %s ms, cella-runtime run %s ms, bwrap %s ms\n' \
  "$(cpu_ms "$cr")" "$(cpu_ms "$cl")" "$(cpu_ms "$cb")"
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u / 1000}'; }
goal_row "\`cella run\` ÷ bare bwrap true" "cella-runtime run $(ms "$L") ms (cella run $(ms "$R") ms)" \
  "bwrap --ro-bind / / --unshare-all true" "$(ms "$B") ms" \
  "$(awk -v a="$L" -v b="$B" 'BEGIN {printf "%.2f", a / b}')" "≤ 2"
