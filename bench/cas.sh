#!/usr/bin/env bash
# cas throughput beside nginx serving a static file over TLS 1.3, same machine,
# same run, same client (net/tls_http.c over OpenSSL, pinned key): attestations
# per second with a new TLS connection each, and key reads on kept-alive
# connections.
# Each figure is a throughput at saturation: CLIENTS concurrent clients (2 per
# core by default, the same for cas and its baselines), since clients that wait
# on the server one at a time leave the CPUs partly idle and measure latency.
# The attestation row alternates nginx and cas ROUNDS times (A B A B ...) and
# reports the medians, so a burst of load from elsewhere hits both sides.
# Client CPU per operation is printed too: the load generator shares the
# cores, and its cost is part of every rate.
# usage: bench/cas.sh BUILD_DIR [SECONDS] [CLIENTS] [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/summary.sh"
build=$(cd "${1:-build}" && pwd)
secs=${2:-5}
clients=${3:-$((2 * $(nproc)))}
rounds=${4:-3}
CELLA=$build/cella
BC=$build/bench/bench_cas
W=$(mktemp -d /tmp/cella-cas-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# nginx: as many workers as cas has event loops (4 per core), TLS 1.3 only, no
# session reuse, a 55-byte JSON file. The same number of runnable threads on
# each side: with other load on the machine the scheduler shares the CPUs per
# thread, and 2 nginx workers beside 8 cas loops made nginx look slower.
loops=$((4 * $(nproc)))
NP=$(port)
mkdir -p "$W/nginx/www" "$W/nginx/tmp"
chmod 755 "$W" "$W/nginx" "$W/nginx/www"  # nginx workers drop privileges
echo '{"nonce":"0123456789abcdef0123456789abcdef0123"}' > "$W/nginx/www/att.json"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$W/nginx/key.pem" -out "$W/nginx/cert.pem" 2>/dev/null
cat > "$W/nginx/nginx.conf" <<CONF
worker_processes $loops;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/nginx/tmp; proxy_temp_path $W/nginx/tmp; fastcgi_temp_path $W/nginx/tmp;
  uwsgi_temp_path $W/nginx/tmp; scgi_temp_path $W/nginx/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NP ssl;
    ssl_certificate $W/nginx/cert.pem; ssl_certificate_key $W/nginx/key.pem;
    ssl_protocols TLSv1.3; ssl_session_tickets off; ssl_session_cache off;
    root $W/nginx/www;
  }
}
CONF
nginx -c "$W/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
NFP=$(openssl x509 -in "$W/nginx/cert.pem" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)

# cas with the sim TEE
CP=$(port)
"$CELLA" tee sim init --dir "$W/sim" >/dev/null 2>&1
"$CELLA" cas serve --data "$W/cas" --threads "$loops" --allow-sim --sim-platform "$W/sim/sim-platform.pub" \
  --listen "127.0.0.1:$CP" > "$W/cas.log" 2>"$W/cas.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^fingerprint' "$W/cas.log" 2>/dev/null && break; sleep 0.05; done
CFP=$(awk '/^fingerprint/ {print $2}' "$W/cas.log")
sleep 0.3

cpu_of() { # total utime+stime (ticks) of the given pids
  local t=0; for p in "$@"; do for f in /proc/"$p"/task/*/stat; do
    t=$((t + $(awk '{print $14 + $15}' "$f" 2>/dev/null || echo 0))); done; done; echo $t; }
nginx_pids() { pgrep -P "${pids[0]}" | tr "\n" " "; } # this run's workers only
measure() { # label pids... -- command: prints rate, ops, server and client cpu us/op
  local label=$1; shift; local ps=(); while [[ $1 != -- ]]; do ps+=("$1"); shift; done; shift
  local c0 c1 out rate ops cl; c0=$(cpu_of "${ps[@]}"); out=$("$@"); c1=$(cpu_of "${ps[@]}")
  read -r rate ops cl <<< "$out"; local hz; hz=$(getconf CLK_TCK)
  local us=$(( ops > 0 ? (c1 - c0) * 1000000 / hz / ops : 0 ))
  printf '%s %s %s %s\n' "$rate" "$ops" "$us" "$cl"
}
CASPID=${pids[1]}
# cas is two processes (the network process and its key vault, a child): count both
read -ra CASPIDS <<< "$CASPID $(pgrep -P "$CASPID" | tr '\n' ' ')"
NG=$(nginx_pids)
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
nr=() cr=() rr=() nus=() cus=() ncl=() ccl=()
for i in $(seq "$rounds"); do
  read -r n_new _ n_new_us n_new_cl < <(measure nginx $NG -- "$BC" get "https://127.0.0.1:$NP/att.json" "$NFP" "$clients" "$secs" new)
  read -r c_att _ c_att_us c_att_cl < <(measure cas "${CASPIDS[@]}" -- "$BC" attest "https://127.0.0.1:$CP" "$CFP" "$clients" "$secs" "$W/sim")
  printf 'round %s: nginx new conn %s/s, cas attest %s/s, ratio %s\n' "$i" "$n_new" "$c_att" "$(ratio "$c_att" "$n_new")"
  nr+=("$n_new") cr+=("$c_att") rr+=("$(ratio "$c_att" "$n_new")")
  nus+=("$n_new_us") cus+=("$c_att_us") ncl+=("$n_new_cl") ccl+=("$c_att_cl")
done
n_new=$(median "${nr[@]}") c_att=$(median "${cr[@]}") att_ratio=$(median "${rr[@]}")
n_new_us=$(median "${nus[@]}") c_att_us=$(median "${cus[@]}")
n_new_cl=$(median "${ncl[@]}") c_att_cl=$(median "${ccl[@]}")
read -r n_keep _ n_keep_us n_keep_cl < <(measure nginx $NG -- "$BC" get "https://127.0.0.1:$NP/att.json" "$NFP" "$clients" "$secs" keep)
read -r c_key _ c_key_us c_key_cl < <(measure cas "${CASPIDS[@]}" -- "$BC" keyread "https://127.0.0.1:$CP" "$CFP" "$clients" "$secs" "$W/sim")

printf '\ncas bench (%ss each, %s concurrent clients, OpenSSL client (net/tls_http.c) with a pinned key, same machine;\n' "$secs" "$clients"
printf 'attestation row: medians of %s alternating rounds)\n' "$rounds"
printf '%-52s %9s %-38s %9s %6s\n' "figure" "cas/s" "baseline (same run)" "/s" "ratio"
printf '%-52s %9s %-38s %9s %6s\n' "attestation + key release, new TLS conn each" "$c_att" "nginx static file, new conn each" "$n_new" "$att_ratio"
printf '%-52s %9s %-38s %9s %6s\n' "signed key read (challenge + read), kept alive" "$c_key" "nginx static file, kept alive" "$n_keep" "$(ratio "$c_key" "$n_keep")"
printf 'server CPU per operation: cas attest %s us, cas key read %s us, nginx new conn %s us, nginx kept alive %s us\n' \
  "$c_att_us" "$c_key_us" "$n_new_us" "$n_keep_us"
printf 'client CPU per operation: cas attest %s us, cas key read %s us, nginx new conn %s us, nginx kept alive %s us\n' \
  "$c_att_cl" "$c_key_cl" "$n_new_cl" "$n_keep_cl"
# Server and client share the cores: on an otherwise idle machine the rates
# follow the CPU per operation, whatever else the machine is doing now.
cpu_ratio=$(ratio "$((n_new_us + n_new_cl))" "$((c_att_us + c_att_cl))")
printf 'CPU per operation, server + client: cas attest %s us, nginx new conn %s us (idle-machine ratio %s)\n' \
  "$((c_att_us + c_att_cl))" "$((n_new_us + n_new_cl))" "$cpu_ratio"
goal_row "cas attestation + key release, new TLS connection each ÷ nginx new connection" \
  "$c_att/s" "nginx new connection" "$n_new/s" "$att_ratio (CPU-based: $cpu_ratio)" "≥ 0.7"
