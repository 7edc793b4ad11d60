#!/usr/bin/env bash
# kill -9 of PostgreSQL (the postmaster and every backend at once) while two clients write
# through the hubs and cas (lib.d/write_client.sh: request orders published, requester
# secrets pushed, each client with its own order of replicas). While the database is down:
# every hub and cas still answers GET /v1/health (200: it does not need the database), and
# answers what needs the database with 503, code "service unavailable", and an error naming
# the database (postgres://HOST:PORT/DB) and why; a CLI write fails saying HTTP 503 and the
# reason. Then PostgreSQL starts again: the same server processes (same PIDs, no restart)
# serve again, and the time from `pg start` returning to the first acknowledged write
# through each service is measured. Last, everything acknowledged (before, during and after
# the outage) is there, read through the replica its client did not go to first.
. "$(dirname "$0")/lib.sh"
. "$CLUSTER_LIB/market.sh"
need_cluster 150
cluster_up --hosts 11
N=300        # rounds per client at most (an order, if one is left, and a secret each)
ORDERS=100   # request orders per client
DB_NAME="postgres://${PG_URL#*@}"   # how errors name the database: no user, no password

person dev "$(client_host 1)" 1
person c1 "$(client_host 1)" 1
person c2 "$(client_host 2)" 2
expect_ok by dev app deploy --name pg-app --multiaddr https://example.org/pg.tar \
  --checksum "0x$(printf '2%.0s' $(seq 64))" --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
for k in 1 2; do
  (cd "$TMP/c$k" && "$CELLA" order init --request --set "app=$APP,volume=1" &&
    for i in $(seq "$ORDERS") probe; do
      "$CELLA" order sign --request --wallet-file "$(W "c$k")" --out "req-$i.json" || exit 1
    done) > "$TMP/sign.log" 2>&1 || { tail "$TMP/sign.log" >&2; fail "sign the requests of c$k"; }
done
ok

# pids: the PID of every hub and cas, from cluster.sh status
pids() { cl status | awk '$1 ~ /^(hub|cas)[12]$/ {print $1, $3}'; }
PIDS_BEFORE=$(pids)

# ---- the writers, and PostgreSQL killed once they are under way ----
start_clients write_client.sh c1 c2 -- "$N" "$(($(date +%s) + 90))" 0.1
wait_acks 'order|secret' 20
T_KILL=$(date +%s.%N)
expect_ok cl pg kill
echo "PostgreSQL killed after $(acks_count 'order|secret') acknowledged writes"

# ---- while it is down: health answers, the rest is 503 naming the database ----
# answer ROLE PATH: "BODY STATUS" of GET PATH on ROLE, from a client host, through its pin
answer() {
  local url=URL_$1
  # shellcheck disable=SC2046  # pinned prints options
  on "$(client_host 1)" curl -s -m 10 $(pinned "$1") -w ' %{http_code}' "${!url}$2"
}
# unavailable ROLE PATH: 503, code "service unavailable", the error naming the database
unavailable() {
  local out
  out=$(answer "$1" "$2")
  python3 - "$out" "$DB_NAME" <<'PY' || fail "$1 $2 while the database is down: $out"
import json, sys
body, _, status = sys.argv[1].rpartition(" ")
j = json.loads(body)
assert status == "503" and j["code"] == "service unavailable", status
assert "(" + sys.argv[2] + ")" in j["error"], j["error"]
PY
  ok
}
for r in hub1 hub2 cas1 cas2; do
  [[ $(answer "$r" /v1/health) == *'"ok":true'*' 200' ]] || fail "$r health while the database is down"
  ok
  # challenges are stateless (net/signed_request.h): issued without the database
  [[ $(answer "$r" /v1/challenge) == *'"nonce":"'*' 200' ]] || fail "$r challenge while the database is down"
  ok
done
for r in hub1 hub2; do
  unavailable "$r" "/v1/orders?limit=1"
  unavailable "$r" "/v1/apps/$APP"
done
for r in cas1 cas2; do
  unavailable "$r" "/secrets/web3?secretAddress=$APP"
  # a refusal that needs no database keeps its own reason (cas audits it first, and
  # that write fails)
  out=$(answer "$r" /v1/sessions/probe)
  [[ $out == *'must be signed by a wallet'*' 401' ]] || fail "$r: unsigned session read while the database is down: $out"
  ok
done
expect_fail "HTTP 503.*\\($DB_NAME\\)" by c1 order publish --request --file req-probe.json
printf 'probe' > "$TMP/probe.txt"
expect_fail "HTTP 503.*\\($DB_NAME\\)" by c1 requester push-secret probe --secret-file "$TMP/probe.txt" \
  --wallet-file "$(W c1)"
# the writers meet the outage too, and are told the same
wait_acks failed 4
echo "$(cat "$TMP"/c?/client.err | grep -c 'HTTP 503') writes refused with 503 while the database was down, e.g."
grep -h 'HTTP 503' "$TMP"/c?/client.err | sed -n '1,2p'

# ---- PostgreSQL again: the same servers serve; the first write through each service ----
expect_ok cl pg start
T_START=$(date +%s.%N)
echo "PostgreSQL was down $(python3 -c "print('%.1f' % ($T_START - $T_KILL))") s"
first_ok() {   # CMD...: run it until it succeeds (at most 300 times): the time it did
  local i
  for i in $(seq 300); do
    if "$@" >/dev/null 2>&1; then date +%s.%N; return; fi
    sleep 0.05
  done
  fail "no success within 300 tries after pg start: $*"
}
T_HUB=$(first_ok by c1 order publish --request --file req-probe.json)
T_CAS=$(first_ok by c1 requester push-secret probe --secret-file "$TMP/probe.txt" --wallet-file "$(W c1)")
RECOVERY=$(python3 -c 'import sys; s = float(sys.argv[1]); print("%.1f" % max(float(sys.argv[2]) - s, float(sys.argv[3]) - s))' \
  "$T_START" "$T_HUB" "$T_CAS")
echo "first write after pg start: hub $(python3 -c "print('%.2f' % ($T_HUB - $T_START))") s, cas $(python3 -c "print('%.2f' % ($T_CAS - $T_START))") s"
[[ $(pids) == "$PIDS_BEFORE" ]] || fail "servers restarted: before $PIDS_BEFORE, after $(pids)"
ok
# the writers stop once each was acknowledged a few times after pg start
since_start() { awk -v t="$T_START" '$1 > t && ($2 == "order" || $2 == "secret")' "$TMP/$1/acks" | wc -l; }
for _ in $(seq 200); do (($(since_start c1) >= 4 && $(since_start c2) >= 4)) && break; sleep 0.1; done
touch "$TMP/c1/stop" "$TMP/c2/stop"
wait_clients
for k in 1 2; do
  a=$TMP/c$k/acks
  echo "c$k: $(kind_count order "$a") orders and $(kind_count secret "$a") secrets acknowledged ($(since_start "c$k") after pg start), $(kind_count failed "$a") failed:"
  awk '$2 == "failed" {$1 = ""; $3 = ""; $4 = ""; print}' "$a" | sed 's/ (https:[^)]*)$//' | sort | uniq -c | sort -rn | sed -n '1,5p'
  (($(since_start "c$k") >= 4)) || fail "c$k was not acknowledged after pg start: $(tail -n 3 "$a")"
  ! awk '$2 == "failed"' "$a" | grep -v "HTTP 503.*($DB_NAME)" >&2 || fail "c$k: failures other than 503"
done

# ---- nothing acknowledged is lost ----
ACKED=0; PRESENT=0
hub_get hub2 "/v1/orders?all=1&limit=1000" > "$TMP/book.hub2" || fail "the book on hub2"
hub_get hub1 "/v1/orders?all=1&limit=1000" > "$TMP/book.hub1" || fail "the book on hub1"
for k in 1 2; do
  other=$((3 - k))
  # shellcheck disable=SC2013  # one hash a word
  for h in $(awk '$2 == "order" {print $3}' "$TMP/c$k/acks"); do
    ACKED=$((ACKED + 1))
    if grep -q "\"orderHash\": \"$h\"" "$TMP/book.hub$other"; then PRESENT=$((PRESENT + 1))
    else echo "lost: order $h (c$k)" >&2; fi
  done
  names=$(awk '$2 == "secret" {print $3}' "$TMP/c$k/acks")
  ACKED=$((ACKED + $(wc -w <<<"$names")))
  # shellcheck disable=SC2086  # one name a word
  PRESENT=$((PRESENT + $(secrets_present "cas$other" "c$k" $names)))
done
echo "acknowledged $ACKED, present $PRESENT"
((ACKED > 0 && PRESENT == ACKED)) || fail "$((ACKED - PRESENT)) acknowledged writes lost"
ok

fault_row pg_kill "$ACKED" "$PRESENT" n/a "$RECOVERY"
finish
