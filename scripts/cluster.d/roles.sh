# shellcheck shell=bash
# The cella servers of scripts/cluster.sh (sourced): each role is one process on its host,
# started with `ip netns exec`, its arguments kept in DIR/roles/ROLE.args so that `start`
# runs it again exactly as `up` did, its output appended to DIR/logs/ROLE.log, its PID and
# start time (so that a reused PID is never taken for it) and where this run's lines begin
# in that log in DIR/run/ROLE.pid.

role_kind() { echo "${1%%[0-9]*}"; }
role_host() { local v="HOST_$1"; [[ -n ${!v:-} ]] || die "no role '$1' (pg ${ROLES[*]})"; echo "${!v}"; }

# hub 8080, cas 8081, blobs 8082; the second of a kind 100 above, so that two on one host
# (with --hosts 1) do not collide. Worker K serves its metrics on 9100+K.
role_port() {
  local base idx=${1//[a-z]/}
  case $(role_kind "$1") in
    hub) base=8080 ;; cas) base=8081 ;; blobs) base=8082 ;;
    worker) echo $((9100 + idx)); return ;;
  esac
  echo $((base + 100 * (${idx:-1} - 1)))
}

role_url() {
  local ip port
  ip=$(host_ip "$(role_host "$1")")
  port=$(role_port "$1")
  case $(role_kind "$1") in
    hub | cas) echo "https://$ip:$port" ;;
    blobs | worker) echo "http://$ip:$port" ;;   # a worker's: its metrics
  esac
}

# proc_stat PID: its state and start time (fields 3 and 22 of /proc/PID/stat, read after
# the command name, which may hold spaces).
proc_stat() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) && awk '{print $1, $20}' <<<"${s##*) }"; }

# The PID of a role's process while it runs: the recorded one, not a zombie, started when
# it was recorded (a PID the kernel gave to another process since is not it; the start
# time holds from the fork, before the exec, so a server still starting counts).
role_pid() {
  local pid start off state now
  read -r pid start off 2>/dev/null < "$DIR/run/$1.pid" || return 0
  read -r state now < <(proc_stat "$pid") || return 0
  [[ $state != Z && $now == "$start" ]] && echo "$pid"
  return 0
}

# The environment of every process of the cluster: the database's client settings (libpq
# reads them) and configuration folders of its own.
role_env() {
  ROLE_ENV=(XDG_CONFIG_HOME="$DIR/config" XDG_CACHE_HOME="$DIR/cache" PGPASSFILE="${PGPASSFILE:-}"
            PGSSLMODE=verify-full PGSSLROOTCERT="${PGSSLROOTCERT:-}" PGCONNECT_TIMEOUT=5)
}

# role_save ROLE ARGS...: the command line `start` uses for ROLE.
role_save() {
  local r=$1; shift
  local ARGS=("$@")
  declare -p ARGS > "$DIR/roles/$r.args"
}

role_start() {
  local r=$1 host log off ARGS
  host=$(role_host "$r")
  [[ -f $DIR/roles/$r.args ]] || die "no arguments recorded for $r"
  [[ -z $(role_pid "$r") ]] || die "$r already runs (PID $(role_pid "$r"))"
  . "$DIR/roles/$r.args"
  log=$DIR/logs/$r.log
  off=$(stat -c %s "$log" 2>/dev/null || echo 0)
  role_env
  # env, ip netns exec and cella exec each other: $! is the server's PID.
  (cd "$DIR/run" || exit
   env "${ROLE_ENV[@]}" ip netns exec "$(ns "$host")" "$CELLA" "${ARGS[@]}" \
     >>"$log" 2>&1 </dev/null 9>&- &
   echo "$! $(proc_stat $! | cut -d' ' -f2) $off" > "$DIR/run/$r.pid")
  role_wait "$r"
}

role_kill() {
  local r=$1 sig=$2 pid i
  pid=$(role_pid "$r")
  [[ -n $pid ]] || die "$r is not running"
  kill -s "$sig" "$pid"
  case $sig in KILL | 9 | TERM | 15 | INT | 2) ;; *) return 0 ;; esac
  for i in $(seq 200); do [[ -z $(role_pid "$r") ]] && return 0; sleep 0.05; done
  die "$r (PID $pid) is still running 10 s after SIG$sig"
}

# pin_b64 CERT: the SHA-256 of the certificate's public key (SubjectPublicKeyInfo), base64:
# curl's --pinnedpubkey form of the hex fingerprint cella prints.
pin_b64() {
  openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | base64
}
pin_hex() {
  openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64
}

# role_wait ROLE: until ROLE printed what it prints once it serves and, for a server,
# answers GET /v1/health on its URL from its host (the blob store: answers HTTP) (TLS ones through their pinned key);
# 30 s at most. Fails with the end of its log if it dies first.
role_wait() {
  local r=$1 kind pid off url text host code i pin=()
  kind=$(role_kind "$r")
  read -r pid _ off < "$DIR/run/$r.pid"
  url=$(role_url "$r")
  host=$(role_host "$r")
  for i in $(seq 300); do
    [[ -n $(role_pid "$r") ]] || { log_tail 20 "$DIR/logs/$r.log"; die "$r exited while starting (log $DIR/logs/$r.log)"; }
    text=$(tail -c +$((off + 1)) "$DIR/logs/$r.log" 2>/dev/null || true)
    case $kind in
      worker)
        if grep -q '^worker for pool ' <<<"$text" && grep -qx "worker metrics on $url/metrics" <<<"$text"; then
          code=$(in_host "$host" curl -s -m 2 -o /dev/null -w '%{http_code}' "$url/metrics" || true)
          [[ $code == 200 ]] && return 0
        fi ;;
      *)
        if grep -qx "$kind listening on $url" <<<"$text" &&
           { [[ $kind == blobs ]] || grep -q '^fingerprint ' <<<"$text"; }; then
          [[ $kind == blobs ]] || pin=(-k --pinnedpubkey "sha256//$(pin_b64 "$DIR/$r/tls.crt")")
          code=$(in_host "$host" curl -s -m 2 "${pin[@]}" -o /dev/null -w '%{http_code}' "$url/v1/health" || true)
          # the blob store has no health route: any HTTP answer will do
          [[ $code == 200 || ($kind == blobs && $code =~ ^[1-5]) ]] && return 0
        fi ;;
    esac
    sleep 0.1
  done
  log_tail 20 "$DIR/logs/$r.log"
  die "$r did not serve within 30 s (log $DIR/logs/$r.log)"
}

# The fingerprint a TLS role printed in this run.
role_fingerprint() {
  local pid off
  read -r pid _ off < "$DIR/run/$1.pid"
  tail -c +$((off + 1)) "$DIR/logs/$1.log" | awk '/^fingerprint / {print $2}' | tail -n 1
}

# share_identity FROM TO FILES...: the second replica of a service gets the first one's
# keys before its first start: one TLS identity (one pin) per service, and for cas the
# master key that seals every secret in the shared database.
share_identity() {
  local from=$1 to=$2 f; shift 2
  install -d -m 0700 "$DIR/$to"
  for f in "$@"; do install -m "$(stat -c %a "$DIR/$from/$f")" "$DIR/$from/$f" "$DIR/$to/$f"; done
}

check_fingerprint() {
  local got
  got=$(role_fingerprint "$1")
  [[ $got == "$2" && $(pin_hex "$DIR/$1/tls.crt") == "$2" ]] ||
    die "$1 serves fingerprint '$got', not the service's $2"
}

# The pool the workers serve: its owner's wallet, the pool deployed and a TEE workerpool
# order (price 0, every TEE framework tag) published, from worker1's host. With a shared
# database once; on SQLite (nothing shared) on each hub.
pool_setup() {
  local db=$1 h hubs=(hub1) out
  [[ $db == sqlite ]] && hubs=(hub1 hub2)
  install -d -m 0700 "$DIR/pool"
  role_env
  "$CELLA" wallet create --unencrypted --keystoredir "$DIR/pool" > "$DIR/pool/address" \
    2>>"$DIR/logs/setup.log"
  setvar POOL_WALLET "$(ls "$DIR"/pool/wallet-*.json)"
  setvar POOL_OWNER "$(cat "$DIR/pool/address")"
  load_env
  for h in "${hubs[@]}"; do
    local at=(--hub-url "$(role_url "$h")" --hub-fingerprint "$HUB_FP" --wallet-file "$POOL_WALLET")
    out=$(setup_cli workerpool deploy --name "cluster $NAME" "${at[@]}")
    [[ -z ${POOL:-} || $out == "$POOL" ]] || die "the pool has another address on $h: $out"
    [[ -n ${POOL:-} ]] || { setvar POOL "$out"; load_env; }
    setup_cli workerpool publish "$POOL" --price 0 --volume 1000000 --tag tee,scone,gramine,tdx \
      "${at[@]}" >/dev/null
  done
}

# setup_cli ARGS...: `cella ARGS` from worker1's host in DIR/pool, its messages in
# DIR/logs/setup.log; fails with them.
setup_cli() {
  local out
  out=$(cd "$DIR/pool" && env "${ROLE_ENV[@]}" ip netns exec "$(ns "$HOST_worker1")" "$CELLA" "$@" \
    2>>"$DIR/logs/setup.log") || { log_tail 5 "$DIR/logs/setup.log"; die "cella $1 $2 failed"; }
  echo "$out"
}

# replicas ROLE: ROLE's URL, then (on a shared database) the other replica's, the list a
# client fails over along. On SQLite (nothing shared) only ROLE's: the other is another
# marketplace.
replicas() {
  local other
  other=$(role_kind "$1")$((3 - ${1//[a-z]/}))
  if [[ $CLUSTER_DB == postgres ]]; then echo "$(role_url "$1"),$(role_url "$other")"
  else role_url "$1"; fi
}

# Workers alternate between the replicas they go to first: worker1 hub1 and cas1, worker2
# hub2 and cas2, worker3 hub1 and cas2; each fails over to the other replica. One pin per
# service (the replicas share its key). Each serves its metrics on its host.
worker_args() {
  local k=$1 hub=hub1 cas=cas2
  [[ $k == 2 ]] && hub=hub2
  [[ $k == 1 ]] && cas=cas1
  setvar "WORKER_HUB_$k" "$hub"; setvar "WORKER_CAS_$k" "$cas"
  role_save "worker$k" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" \
    --hub-url "$(replicas "$hub")" --hub-fingerprint "$HUB_FP" --cas "$(replicas "$cas")" \
    --cas-fingerprint "$CAS_FP" --blobs "$(role_url blobs)" --work-dir "$DIR/worker$k" \
    --sim-dir "$DIR/sim" --slots 1 --metrics "$(host_ip "$(role_host "worker$k")"):$(role_port "worker$k")" \
    ${CLUSTER_WORKER_ARGS:-}
}

roles_up() {
  local db=$1 r dbarg=() k
  [[ $db == postgres ]] && dbarg=(--db "$PG_URL")
  for r in "${ROLES[@]}"; do setvar "URL_$r" "$(role_url "$r")"; done
  "$CELLA" tee sim init --dir "$DIR/sim" >/dev/null 2>>"$DIR/logs/setup.log"   # the sim TEE: development only
  for r in hub1 hub2; do
    role_save "$r" hub serve --listen "$(host_ip "$(role_host "$r")"):$(role_port "$r")" \
      --data "$DIR/$r" --tls --dev-faucet --threads 2 "${dbarg[@]}" ${CLUSTER_HUB_ARGS:-}
  done
  role_start hub1
  setvar HUB_FP "$(role_fingerprint hub1)"
  share_identity hub1 hub2 tls.key tls.crt
  role_start hub2
  load_env
  check_fingerprint hub2 "$HUB_FP"
  say "hubs: $URL_hub1 $URL_hub2, fingerprint $HUB_FP"
  role_save blobs blobs serve --listen "$(host_ip "$HOST_blobs"):$(role_port blobs)" \
    --data "$DIR/blobs" --threads 2
  role_start blobs
  for k in 1 2; do
    role_save "cas$k" cas serve --listen "$(host_ip "$(role_host "cas$k")"):$(role_port "cas$k")" \
      --data "$DIR/cas$k" --allow-sim --sim-platform "$DIR/sim/sim-platform.pub" \
      --hub "$(replicas "hub$k")" --hub-fingerprint "$HUB_FP" --threads 2 "${dbarg[@]}" ${CLUSTER_CAS_ARGS:-}
  done
  role_start cas1
  setvar CAS_FP "$(role_fingerprint cas1)"
  share_identity cas1 cas2 master.key tls.key tls.crt
  role_start cas2
  load_env
  check_fingerprint cas2 "$CAS_FP"
  say "cas: $URL_cas1 $URL_cas2, fingerprint $CAS_FP; blobs: $URL_blobs"
  pool_setup "$db"
  for k in 1 2 3; do worker_args "$k"; done
  load_env
  for k in 1 2 3; do role_start "worker$k"; done
  say "workers of pool $POOL on $HOST_worker1 $HOST_worker2 $HOST_worker3"
}
