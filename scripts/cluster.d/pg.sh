# shellcheck shell=bash
# PostgreSQL 15 of scripts/cluster.sh (sourced): Debian's binaries under $PGBIN, a data
# folder of its own in DIR/pg run by the unprivileged system user $PG_USER (never the
# distribution's main cluster), listening only on h1's bridge address inside h1's namespace.
# Clients connect with TLS (verify-full against the server's self-signed certificate) and
# SCRAM as role `cella` to database `cella`; the password is only in DIR/db/pgpass (0600),
# which libpq reads through PGPASSFILE, so it is in no URL and no argv.

ensure_pg_user() {
  ( flock -w 30 8
    getent passwd "$PG_USER" >/dev/null ||
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_USER"
  ) 8>/run/cella-cluster-user.lock
}

# as_pg CMD...: CMD as $PG_USER with a clean environment, from its own folder.
as_pg() {
  (cd "$DIR/pg" && setpriv --reuid="$PG_USER" --regid="$PG_USER" --clear-groups \
    env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$@")
}

pg_setup() {
  [[ -x $PGBIN/initdb ]] || die "no PostgreSQL 15 in $PGBIN (apt-get install postgresql-15; scripts/deps.sh cluster)"
  ensure_pg_user
  local ip pass
  ip=$(host_ip "$HOST_pg")
  install -d -o "$PG_USER" -g "$PG_USER" -m 0700 "$DIR/pg" "$DIR/pg/run"
  as_pg test -x "$DIR/pg" || die "$PG_USER cannot reach $DIR/pg: choose a CLUSTER_DIR under a folder others may cross (/tmp)"
  # The server's TLS identity: self-signed, for its address; clients verify it by name.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=cella-pg" -addext "subjectAltName=IP:$ip" \
    -keyout "$DIR/pg/server.key" -out "$DIR/db/root.crt" 2>/dev/null
  install -o "$PG_USER" -g "$PG_USER" -m 0644 "$DIR/db/root.crt" "$DIR/pg/server.crt"
  chown "$PG_USER:$PG_USER" "$DIR/pg/server.key"
  chmod 0600 "$DIR/pg/server.key"
  as_pg "$PGBIN/initdb" -D "$DIR/pg/data" --no-locale -E UTF8 --auth-local=peer \
    --auth-host=reject >"$DIR/logs/initdb.log" 2>&1 || { log_tail 20 "$DIR/logs/initdb.log"; die "initdb failed"; }
  # Only the local superuser by peer, and role cella over TLS with SCRAM from the bridge.
  as_pg sh -c "cat > '$DIR/pg/data/pg_hba.conf'" <<HBA
local   all     $PG_USER                       peer
hostssl cella   cella       $NET.0/24          scram-sha-256
HBA
  as_pg sh -c "cat >> '$DIR/pg/data/postgresql.conf'" <<CONF
# scripts/cluster.sh
listen_addresses = '$ip'
port = $PG_PORT
unix_socket_directories = '$DIR/pg/run'
ssl = on
ssl_cert_file = '$DIR/pg/server.crt'
ssl_key_file = '$DIR/pg/server.key'
password_encryption = 'scram-sha-256'
max_connections = 100
shared_buffers = 64MB
log_line_prefix = '%m [%p] %q%u@%d '
CONF
  pg_start
  pass=$(openssl rand -hex 24)
  # The password goes to psql on its standard input, over the local socket.
  printf "SET log_statement = 'none';\nCREATE ROLE cella LOGIN PASSWORD '%s';\nCREATE DATABASE cella OWNER cella;\n" "$pass" |
    as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/pg/run" -p "$PG_PORT" -d postgres >/dev/null
  (umask 077; printf '%s:%s:cella:cella:%s\n' "$ip" "$PG_PORT" "$pass" > "$DIR/db/pgpass")
  setvar PG_URL "postgresql://cella@$ip:$PG_PORT/cella"
  setvar PGPASSFILE "$DIR/db/pgpass"
  setvar PGSSLROOTCERT "$DIR/db/root.crt"
  load_env
}

# The postmaster's PID while it runs (postmaster.pid's first line, checked against /proc).
pg_pid() {
  local pid
  pid=$(head -1 "$DIR/pg/data/postmaster.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] && echo "$pid"
  return 0
}

pg_ready() {
  ip netns list | awk '{print $1}' | grep -qx "$(ns "$HOST_pg")" &&
    in_host "$HOST_pg" "$PGBIN/pg_isready" -q -h "$(host_ip "$HOST_pg")" -p "$PG_PORT" -t 2 \
      -d "user=cella dbname=cella sslmode=require"
}

# pg_ctl puts the postmaster in a session (and process group) of its own, so a kill of
# the group reaches every PostgreSQL process and nothing else.
pg_start() {
  [[ -z $(pg_pid) ]] || die "PostgreSQL already runs (PID $(pg_pid))"
  in_host "$HOST_pg" setpriv --reuid="$PG_USER" --regid="$PG_USER" --clear-groups \
    env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$PGBIN/pg_ctl" start -w -t 60 -D "$DIR/pg/data" \
    -l "$DIR/pg/postgres.log" >>"$DIR/logs/pg_ctl.log" 2>&1 9>&- ||
    { log_tail 20 "$DIR/logs/pg_ctl.log" "$DIR/pg/postgres.log"; die "PostgreSQL did not start"; }
}

pg_stop() {
  [[ -n $(pg_pid) ]] || die "PostgreSQL is not running"
  as_pg "$PGBIN/pg_ctl" stop -w -t 60 -m "${1:-fast}" -D "$DIR/pg/data" >>"$DIR/logs/pg_ctl.log" 2>&1 ||
    { log_tail 5 "$DIR/logs/pg_ctl.log"; die "PostgreSQL did not stop"; }
}

# kill -9 of the postmaster and every backend at once, as when its machine dies.
pg_kill() {
  local pid i
  pid=$(pg_pid)
  [[ -n $pid ]] || die "PostgreSQL is not running"
  kill -KILL -- "-$pid"
  for i in $(seq 100); do kill -0 -- "-$pid" 2>/dev/null || return 0; sleep 0.1; done
  die "PostgreSQL's processes (group $pid) did not die"
}

# A postmaster killed with -9 leaves its small System V segment (key and id on line 7 of
# postmaster.pid); the next start removes it, and so does down when there is none.
pg_shm_cleanup() {
  local key id
  [[ -f $DIR/pg/data/postmaster.pid ]] || return 0
  read -r key id < <(sed -n 7p "$DIR/pg/data/postmaster.pid") || return 0
  [[ $key =~ ^[0-9]+$ && $id =~ ^[0-9]+$ ]] || return 0
  # only that segment, by its key and id both, and only if nothing has it attached
  ipcs -m | awk -v k="$(printf '0x%08x' "$key")" -v i="$id" '$1 == k && $2 == i && $6 == 0 {f = 1} END {exit !f}' &&
    ipcrm -m "$id" 2>/dev/null || true
}

# At down: a fast stop if it runs (down kills what remains).
pg_down() {
  [[ -d $DIR/pg/data && -n $(pg_pid) ]] || return 0
  as_pg "$PGBIN/pg_ctl" stop -w -t 20 -m immediate -D "$DIR/pg/data" >/dev/null 2>&1 || true
}

pg_cmd() {
  case ${1:-} in
    stop) pg_stop fast; say "PostgreSQL stopped" ;;
    kill) pg_kill; say "PostgreSQL killed (kill -9 of all its processes)" ;;
    start) pg_start; say "PostgreSQL started: $PG_URL" ;;
    *) die "usage: $0 pg stop|kill|start" ;;
  esac
}
