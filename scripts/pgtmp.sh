#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests and benches: its own data
# folder, listening on a Unix socket in that folder only (no TCP), run by an
# unprivileged user (PostgreSQL refuses root).
#   scripts/pgtmp.sh start DIR   prints the URL to pass as --db
#   scripts/pgtmp.sh stop DIR    stops it (fast shutdown) and removes DIR
#   scripts/pgtmp.sh kill DIR    kill -9 of the postmaster (tests of crashes)
#   scripts/pgtmp.sh restart DIR starts it again on the same data
# Exit 77 when PostgreSQL 15 is not installed (scripts/deps.sh installs it).
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
cmd=${1:-}; dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop|kill|restart DIR" >&2; exit 2; }
[[ -x $bin/postgres ]] || { echo "pgtmp: PostgreSQL 15 is not installed ($bin)" >&2; exit 77; }

as_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
url() { echo "postgresql:///cella?host=$dir/sock&user=cella"; }

start_server() {
  as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -c fsync=on" start >/dev/null
}

case $cmd in
  start)
    mkdir -p "$dir/sock"
    chmod 755 "$dir"
    [[ $(id -u) -eq 0 ]] && chown -R postgres "$dir"
    # trust on the socket: it lives in a folder of this test's own
    as_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
    start_server
    as_user "$bin/psql" -h "$dir/sock" -U postgres -d postgres -qAt \
      -c "CREATE ROLE cella LOGIN" -c "CREATE DATABASE cella OWNER cella" >/dev/null
    url ;;
  restart) start_server; url ;;
  kill)
    pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    # its children notice the postmaster's death and exit; wait for them
    for _ in $(seq 50); do pgrep -u postgres -f -- "$dir/data" >/dev/null || break; sleep 0.1; done
    pkill -9 -u postgres -f -- "$dir/data" 2>/dev/null || true
    rm -f "$dir/data/postmaster.pid" ;;
  stop)
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || "$0" kill "$dir"
    fi
    rm -rf "$dir" ;;
  *) echo "usage: $0 start|stop|kill|restart DIR" >&2; exit 2 ;;
esac
