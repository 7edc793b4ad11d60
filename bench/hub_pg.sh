#!/usr/bin/env bash
# The hub on PostgreSQL (issue 14, item 8): task claims/s and matches/s
# through the hub, beside raw libpq loops on the same database in the same
# run (bench/bench_pgraw.c), with the same number of concurrent clients:
#   claim  a worker's: the pool's next runnable task leased in one signed
#          request over a fresh challenge (POST /v1/tasks/lease-next, picked
#          FOR UPDATE SKIP LOCKED) / raw: BEGIN; SELECT ... FOR UPDATE SKIP
#          LOCKED LIMIT 1; UPDATE ... lease; COMMIT (BENCH_HUB_CLAIM_LIST=1:
#          the former claim, list 16 runnable tasks then lease one)
#   match  POST /v1/deals of four published orders / raw: one transaction of
#          the rows a match writes (4 consumed volumes, a deal, its task, 2
#          accounts, 2 events)
# through the store API in process, through 1 and 2 `hub serve --db` replicas
# (clients spread over them), and one hub on SQLite beside them. Every phase
# stops at its count (REQUESTS matches, then as many claims) or after SECONDS.
# The raw loops run before and after the hubs (the median of a few rounds
# each time); the faster of the two is the baseline. The database is on $BENCH_PG_DIR (default /dev/shm: commits are
# not slowed by this machine's disk; set it to a disk folder to count fsyncs).
# usage: bench/hub_pg.sh BUILD_DIR [CLIENTS] [REQUESTS] [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
CLIENTS=${2:-4}
REQUESTS=${3:-600}
SECS=${4:-12}
CELLA=$build/cella
W=$(mktemp -d "${BENCH_PG_DIR:-/dev/shm}/cella-hub-pg.XXXXXX")
chmod 711 "$W" # PostgreSQL runs as its own user below it
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  bash "$HERE/../scripts/pgtmp.sh" stop "$W/pg" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
echo
echo "hub bench on PostgreSQL 15 ($CLIENTS clients, $REQUESTS matches and as many claims per run, at most ${SECS} s a phase; $(nproc) cores; database on $(df --output=fstype "$W" | tail -1))"
rc=0
URL=$(bash "$HERE/../scripts/pgtmp.sh" start "$W/pg") || rc=$?
if (( rc == 77 )); then echo "skipped: PostgreSQL 15 is not installed (scripts/deps.sh)"; exit 0; fi
(( rc == 0 )) || exit "$rc"

# a schema of its own for each run, so no run lists another's tasks
schema() {
  PGOPTIONS=--client-min-messages=warning psql "$URL" -qAt -c "CREATE SCHEMA $1" >/dev/null
  echo "$URL&options=-csearch_path%3D$1"
}
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# hub VAR NAME [--db URL]: starts a hub (in this shell, so that cleanup
# stops it) and sets VAR to its URL
hub() {
  local var=$1 name=$2 p; shift 2
  p=$(port)
  "$CELLA" hub serve --data "$W/$name" --listen "127.0.0.1:$p" --dev-faucet "$@" > "$W/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q '^hub listening' "$W/$name.log" && break; sleep 0.1; done
  grep -q '^hub listening' "$W/$name.log" || { cat "$W/$name.log" >&2; exit 1; }
  printf -v "$var" '%s' "http://127.0.0.1:$p"
}
# the figure NAME's ops/s in a bench output
fig() { awk -v n="$1" '$1 == n {print $2}' <<<"$2"; }
show() { sed 's/^/  /' <<<"$1"; }

raw() {
  local out
  out=$("$build/bench/bench_pgraw" claim "$(schema "raw_claim_$1")" "$CLIENTS" "$SECS" "$REQUESTS" 5)
  out+=$'\n'$("$build/bench/bench_pgraw" match "$(schema "raw_match_$1")" "$CLIENTS" "$SECS" "$REQUESTS" 3)
  echo "$out"
}
R1=$(raw 1); show "$R1"
STORE=$("$build/bench/bench_hub" store "$(schema store)" "$CLIENTS" "$SECS" "$REQUESTS" 0) || true
show "$STORE"
hub H1 h1 --db "$(schema h1)"
HTTP1=$("$build/bench/bench_hub" http "$H1" "$CLIENTS" "$SECS" "$REQUESTS" 0) || true
show "$HTTP1"
DB2=$(schema h2)
hub H2A h2a --db "$DB2"; hub H2B h2b --db "$DB2"
HTTP2=$("$build/bench/bench_hub" http "$H2A,$H2B" "$CLIENTS" "$SECS" "$REQUESTS" 0) || true
show "$HTTP2"
hub HL lite
LITE=$("$build/bench/bench_hub" http "$HL" "$CLIENTS" "$SECS" "$REQUESTS" 0) || true
show "$LITE"
R2=$(raw 2); show "$R2"

best() { local a b; a=$(fig "$1" "$R1"); b=$(fig "$1" "$R2"); a=${a:-0} b=${b:-0}; echo $(( a > b ? a : b )); }
RC=$(best raw_claim); RM=$(best raw_match)
ratio() { [[ -n $1 && $2 -gt 0 ]] && echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./' || echo "-"; }
row() { printf '%-44s %8s  %-40s %8s %6s\n' "$@"; }
echo
row "figure (per second)" "cella" "baseline (same run)" "baseline" "ratio"
claims() { row "$1" "${2:--}" "raw libpq SKIP LOCKED claim, $CLIENTS conns" "$RC" "$(ratio "$2" "$RC")"; }
matches() { row "$1" "${2:--}" "raw libpq match-shaped txn, $CLIENTS conns" "$RM" "$(ratio "$2" "$RM")"; }
claims "task claims, store API, PostgreSQL" "$(fig store_claim "$STORE")"
claims "task claims, HTTP, 1 hub, PostgreSQL" "$(fig http_claim "$HTTP1")"
claims "task claims, HTTP, 2 hubs, PostgreSQL" "$(fig http_claim "$HTTP2")"
claims "task claims, HTTP, 1 hub, SQLite" "$(fig http_claim "$LITE")"
matches "matches, store API, PostgreSQL" "$(fig store_match "$STORE")"
matches "matches, HTTP, 1 hub, PostgreSQL" "$(fig http_match "$HTTP1")"
matches "matches, HTTP, 2 hubs, PostgreSQL" "$(fig http_match "$HTTP2")"
matches "matches, HTTP, 1 hub, SQLite" "$(fig http_match "$LITE")"
echo "issue targets: claims through the hubs on PostgreSQL >= 0.5 of the raw loop; matches >= 0.25"
echo "(the SQLite hub is divided by the same PostgreSQL baselines, for scale)"
