#!/usr/bin/env bash
# A cella cluster on one machine, for tests and trials (docs/deploy.md, "A cluster on one
# machine"): PostgreSQL 15 and N hosts as network namespaces joined by a bridge that lives
# in a namespace of its own, with addresses that exist only inside them (10.77.0.0/24; host
# hK is 10.77.0.K). On them: 2 hubs, 2 cas, a blob store and 3 workers, each on its own host
# where the count allows, hubs and cas over TLS with pinned fingerprints. Nothing touches
# the root namespace's network. Runs as root.
#
# usage: scripts/cluster.sh COMMAND [ARGS]
#   up [--hosts N]           start it all (N default 9: PostgreSQL and each server on a host of
#                            its own; with fewer, PostgreSQL is on h1 and the servers go round
#                            the hosts); tears down what it made if a step fails
#   down                     kill every process, delete the namespaces, the bridge and the data
#                            folder (idempotent)
#   status                   each process: its host, PID, state and URL
#   env                      the cluster's variables (URLs, pins, hosts), shell syntax
#   exec HOST CMD...         run CMD in HOST's namespace (h1..hN), with PGPASSFILE, PGSSLMODE
#                            and PGSSLROOTCERT set for the database
#   host ROLE                the host ROLE runs on (pg, hub1, hub2, cas1, cas2, blobs, worker1..3)
#   kill ROLE [SIGNAL]       signal one server (default KILL), and wait for it to go
#   start ROLE               start a server again, with its arguments of `up`, and wait until
#                            it serves
#   crash HOST               kill -9 every process in HOST's namespace (a host that dies)
#   link HOST down|up        unplug (or plug back) HOST's cable: its veth at the bridge
#   pg stop|kill|start       PostgreSQL: a fast shutdown, kill -9 of all its processes, a start
#                            (crash recovery after a kill) that waits until it accepts connections
#
# Environment: CELLA (the binary, default build/cella of this checkout), CLUSTER_NAME (default
# cella: the namespaces are NAME-h1.. and NAME-br), CLUSTER_DIR (default /tmp/NAME-cluster:
# every server's data, the database files and the logs), CLUSTER_DB=postgres (default: hubs
# and cas share the database, `--db postgresql://cella@10.77.0.1:5432/cella`, the password in
# PGPASSFILE) or sqlite (TEST ONLY: each hub and cas on its own SQLite file, so the replicas
# share nothing), CLUSTER_HUB_ARGS, CLUSTER_CAS_ARGS, CLUSTER_WORKER_ARGS (extra arguments,
# word-split), CLUSTER_KEEP=1 (a failed `up` leaves everything for a look).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=${CLUSTER_NAME:-cella}
DIR=${CLUSTER_DIR:-/tmp/$NAME-cluster}
CELLA=${CELLA:-$SRC/build/cella}
PGBIN=/usr/lib/postgresql/15/bin
PG_USER=cella-pg
NET=10.77.0
PG_PORT=5432
ROLES=(hub1 hub2 cas1 cas2 blobs worker1 worker2 worker3)
. "$SRC/scripts/cluster.d/pg.sh"
. "$SRC/scripts/cluster.d/roles.sh"

die() { echo "cella: error: $1 (cluster $NAME)" >&2; exit 1; }
say() { echo "cluster $NAME: $*" >&2; }
# log_tail N FILE...: the end of logs, on the way to a die (never failing itself).
log_tail() { local n=$1; shift; tail -n "$n" "$@" >&2 2>/dev/null || true; }
[[ $NAME =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "CLUSTER_NAME '$NAME' is not [a-z][a-z0-9-]*"
[[ $DIR == /* ]] || die "CLUSTER_DIR '$DIR' is not an absolute path"
DIR=${DIR%/}

need_root() {
  [[ $(id -u) == 0 ]] || die "needs root (network namespaces, a system user for PostgreSQL)"
  command -v ip >/dev/null || die "needs ip (apt-get install iproute2; scripts/deps.sh cluster)"
}

# One up or down at a time per cluster name. The lock's descriptor is closed in every
# server started (9>&-), so a server never holds it.
lock() {
  exec 9>"/run/cella-cluster-$NAME.lock"
  flock -w 120 9 || die "another up or down of this cluster holds /run/cella-cluster-$NAME.lock"
}

# ---- hosts and the bridge --------------------------------------------------------------
ns() { echo "$NAME-$1"; }
host_ip() { echo "$NET.${1#h}"; }
cluster_namespaces() { ip netns list | awk '{print $1}' | grep -E "^$NAME-(br|h[0-9]+)\$" || true; }

# The bridge is br0 in NAME-br; host hK's veth is eth0 inside NAME-hK and hK on the bridge.
# Each pair is created inside the bridge's namespace with its peer put straight into the
# host's, so no interface ever exists in the root namespace.
net_up() {
  local n=$1 k br
  br=$(ns br)
  ip netns add "$br"
  ip -n "$br" link set lo up
  ip -n "$br" link add br0 type bridge
  ip -n "$br" link set br0 up
  for ((k = 1; k <= n; k++)); do
    ip netns add "$(ns "h$k")"
    ip -n "$br" link add "h$k" type veth peer name eth0 netns "$(ns "h$k")"
    ip -n "$br" link set "h$k" master br0 up
    ip -n "$(ns "h$k")" link set lo up
    ip -n "$(ns "h$k")" addr add "$(host_ip "h$k")/24" dev eth0
    ip -n "$(ns "h$k")" link set eth0 up
  done
}

check_host() {
  [[ $1 =~ ^h[0-9]+$ ]] && ip netns list | awk '{print $1}' | grep -qx "$(ns "$1")" ||
    die "no host '$1' in this cluster (see: $0 status)"
}

in_host() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

# ---- the cluster's variables (DIR/cluster.env) -------------------------------------------
setvar() { printf '%s=%q\n' "$1" "$2" >> "$DIR/cluster.env"; }
load_env() {
  [[ -f $DIR/cluster.env ]] || die "not up: no $DIR/cluster.env"
  . "$DIR/cluster.env"
}

# Which host runs what: with 9 hosts or more, PostgreSQL on h1 and each server on its own
# host from h2; with fewer, PostgreSQL on h1 and the servers round the hosts from h1, so the
# two hubs, the two cas and the three workers are on different hosts whenever N allows it.
assign_hosts() {
  local n=$1 i
  setvar HOST_pg h1
  for i in "${!ROLES[@]}"; do
    if ((n >= ${#ROLES[@]} + 1)); then setvar "HOST_${ROLES[i]}" "h$((i + 2))"
    else setvar "HOST_${ROLES[i]}" "h$((i % n + 1))"; fi
  done
}

# ---- up ----------------------------------------------------------------------------------
cmd_up() {
  local n=9
  while (($#)); do
    case $1 in
      --hosts) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--hosts takes 1 to 99"; n=$2; shift 2 ;;
      *) die "unknown argument '$1' (usage: $0 up [--hosts N])" ;;
    esac
  done
  need_root
  [[ -x $CELLA ]] || die "no cella binary at $CELLA (make build, or set CELLA)"
  local db=${CLUSTER_DB:-postgres}
  case $db in
    postgres) "$CELLA" hub serve --help 2>&1 | grep -q -- '--db' ||
                die "$CELLA has no --db for a shared database (CLUSTER_DB=sqlite: the test-only fallback)" ;;
    sqlite) say "CLUSTER_DB=sqlite: TEST ONLY, each hub and cas has its own SQLite file (nothing shared)" ;;
    *) die "CLUSTER_DB is postgres or sqlite, not '$db'" ;;
  esac
  lock
  do_down quiet   # what a killed run left behind
  trap 'up_failed' EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$DIR"
  chmod 0711 "$DIR"   # PostgreSQL's user crosses it to its own folder, and reads nothing else
  : > "$DIR/.cella-cluster"   # down removes only a folder with this mark
  install -d -m 0700 "$DIR/logs" "$DIR/run" "$DIR/roles" "$DIR/config" "$DIR/cache" "$DIR/db"
  : > "$DIR/cluster.env"
  setvar CLUSTER_NAME "$NAME"; setvar CLUSTER_DIR "$DIR"; setvar CLUSTER_HOSTS "$n"
  setvar CLUSTER_DB "$db"; setvar CELLA "$CELLA"; setvar LOGS "$DIR/logs"
  assign_hosts "$n"
  load_env
  net_up "$n"
  say "$n hosts up ($NET.1-$NET.$n, bridge in $(ns br))"
  pg_setup
  say "PostgreSQL 15 on $HOST_pg: $PG_URL"
  roles_up "$db"
  trap - EXIT INT TERM
  cmd_status
  echo "env     $DIR/cluster.env (source it: URLs, pins, hosts)"
  echo "run     $0 exec HOST CMD...   |   $0 down"
}

up_failed() {
  local rc=$?
  ((rc == 0)) && return
  echo "cella: error: cluster up failed; logs: $DIR/logs (cluster $NAME)" >&2
  if [[ ${CLUSTER_KEEP:-0} == 1 ]]; then say "CLUSTER_KEEP=1: left as it is; $0 down removes it"
  else do_down quiet; fi
  exit "$rc"
}

# ---- down --------------------------------------------------------------------------------
# Every process in the cluster's namespaces, and any other whose command line names the
# cluster's folder (an enclave in a sandbox of its own network namespace), is killed;
# PostgreSQL is stopped first so its shared memory goes with it.
cluster_pids() {
  local ns
  for ns in $(cluster_namespaces); do ip netns pids "$ns"; done
  # the pattern from a file, so that this grep's own command line does not match it
  grep -laF -f <(echo "$DIR/") /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
  return 0
}

do_down() {
  local quiet=${1:-} pids ns i
  pg_down
  for i in $(seq 50); do
    pids=$(cluster_pids | grep -vx "$$" | sort -u || true)
    [[ -z $pids ]] && break
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  [[ -z $pids ]] || die "processes $pids would not die"
  pg_shm_cleanup
  for ns in $(cluster_namespaces); do ip netns del "$ns"; done
  if [[ -f $DIR/.cella-cluster ]]; then rm -rf "$DIR"
  elif [[ -e $DIR ]]; then say "left $DIR: it is not a cluster folder (no .cella-cluster)"; fi
  [[ -n $quiet ]] || say "down"
}

cmd_down() { need_root; lock; do_down; }

# ---- status, env, exec, links ------------------------------------------------------------
cmd_status() {
  load_env
  local r pid state
  echo "cluster $NAME: $CLUSTER_HOSTS hosts, database $CLUSTER_DB$( [[ $CLUSTER_DB == sqlite ]] && echo ' (TEST ONLY: nothing shared)')"
  printf '%-8s %-4s %-8s %-5s %s\n' role host pid state url
  pid=$(pg_pid)
  state=down; pg_ready && state=up
  printf '%-8s %-4s %-8s %-5s %s\n' pg "$HOST_pg" "${pid:--}" "$state" "$PG_URL"
  for r in "${ROLES[@]}"; do
    pid=$(role_pid "$r")
    state=down; [[ -n $pid ]] && state=up
    printf '%-8s %-4s %-8s %-5s %s\n' "$r" "$(role_host "$r")" "${pid:--}" "$state" "$(role_url "$r")"
  done
  echo "pins    hub $HUB_FP  cas $CAS_FP (one identity per service, shared by its replicas)"
  echo "pool    $POOL (owner wallet $POOL_WALLET)"
  echo "logs    $DIR/logs (PostgreSQL: $DIR/pg/postgres.log)"
}

cmd_exec() {
  (($# >= 2)) || die "usage: $0 exec HOST CMD..."
  need_root; load_env; check_host "$1"
  local h=$1; shift
  PGPASSFILE=$PGPASSFILE PGSSLMODE=verify-full PGSSLROOTCERT=$PGSSLROOTCERT in_host "$h" "$@"
}

cmd_link() {
  [[ ${2:-} == down || ${2:-} == up ]] || die "usage: $0 link HOST down|up"
  need_root; check_host "$1"
  ip -n "$(ns br)" link set "$1" "$2"
}

cmd_crash() {
  (($# == 1)) || die "usage: $0 crash HOST"
  need_root; check_host "$1"
  local pids
  pids=$(ip netns pids "$(ns "$1")")
  [[ -z $pids ]] || kill -KILL $pids
  say "killed every process on $1: ${pids:-none}"
}

cmd=${1:-}
shift || true
case $cmd in
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  status) need_root; cmd_status ;;
  env) load_env; cat "$DIR/cluster.env" ;;
  exec) cmd_exec "$@" ;;
  host) load_env; role_host "${1:?usage: $0 host ROLE}" ;;
  kill) need_root; load_env; role_kill "${1:?usage: $0 kill ROLE [SIGNAL]}" "${2:-KILL}" ;;
  start) need_root; load_env; role_start "${1:?usage: $0 start ROLE}" ;;
  crash) cmd_crash "$@" ;;
  link) cmd_link "$@" ;;
  pg) need_root; load_env; pg_cmd "$@" ;;
  *) sed -n '/^# usage/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
