#!/usr/bin/env bash
# The hub's speed, each beside a raw SQLite insert-and-update loop measured in
# the same run on the same file system (bench/bench_hub.c):
#   1. in process (the store, no HTTP): publish, match;
#   2. over HTTP on loopback: a hub (hub serve --dev-faucet) and CLIENTS
#      concurrent clients, SECONDS per phase: orders published/s, matches/s,
#      task claims/s (as a worker claims: GET /v1/tasks?runnable=1, then POST
#      /v1/tasks/ID/lease); bench/hub_pg.sh runs the same on PostgreSQL.
# First, jansson with its freed blocks wiped (core/json_wipe.h) beside its
# default free (bench/bench_json.c).
# usage: bench/hub.sh BUILD_DIR [CLIENTS] [SECONDS] [N]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
CLIENTS=${2:-4}
SECONDS_PER_PHASE=${3:-5}
N=${4:-2000}
D=$(mktemp -d /tmp/cella-hub-bench.XXXXXX)
HUB_PID=""
cleanup() {
  [[ -n "$HUB_PID" ]] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT
echo
echo "jansson's freed blocks wiped (core/json_wipe.h), every program's JSON: cost per document"
"$build/bench/bench_json"
echo
echo "hub bench, in process (/tmp, same-run raw SQLite baseline)"
mkdir "$D/inproc"
"$build/bench/bench_hub" "$D/inproc" "$N"
echo
echo "hub bench, over HTTP on loopback ($CLIENTS clients, ${SECONDS_PER_PHASE} s per phase, same-run raw SQLite baseline)"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$build/cella" hub serve --data "$D/hubd" --listen "127.0.0.1:$PORT" --dev-faucet > "$D/hub.log" 2>&1 &
HUB_PID=$!
for _ in $(seq 100); do grep -q '^hub listening' "$D/hub.log" && break; sleep 0.1; done
grep -q '^hub listening' "$D/hub.log" || { cat "$D/hub.log" >&2; exit 1; }
mkdir "$D/raw"
# at most 20000 requests published (then matched, then their tasks claimed)
"$build/bench/bench_hub" http "http://127.0.0.1:$PORT" "$CLIENTS" "$SECONDS_PER_PHASE" 20000 0 "$D/raw"
