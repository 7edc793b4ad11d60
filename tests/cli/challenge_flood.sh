#!/usr/bin/env bash
# The nonce flood (issue 15): unauthenticated GET /v1/challenge by the hundred
# thousand, on the hub and on the cas, more than the 100 000 outstanding
# nonces that used to fill every slot for two minutes (413 on every signed
# request). Challenges are stateless now: signed requests (a withdrawal on the
# hub, session create on the cas) succeed during and after the flood, and
# neither server's memory grows with it. Runs on PostgreSQL too
# (pg.cli.challenge_flood). FLOOD_N (default 120000) challenges per server, by
# 4 kept-alive curl clients each, bounded to 50 s per server.
. "$(dirname "$0")/lib.sh"

FLOOD_N=${FLOOD_N:-120000}
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
start_hub --dev-faucet
expect_ok "$CELLA" tee sim init --dir sim
start_cas --allow-sim --sim-platform sim/sim-platform.pub
new_wallet req
printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"}\n' "$H" "$HUB_URL" > "$TMP/req/cella.json"
cd "$TMP/req"
expect_ok "$CELLA" account deposit 1000 --wallet-file "$(W req)"

session() { # NAME: a minimal session file
  cat > "$1.yml" <<YML
name: $1
version: "0.3.10"
services:
   - name: app
     image_name: app
     mrenclaves: [3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76]
     command: /app
     pwd: /
images:
   - name: app
     mrenclaves: [3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76]
security:
  allow_sim: true
YML
}
hub_op() { expect_ok "$CELLA" account withdraw 1 --wallet-file "$(W req)"; }
cas_op() { # TAG
  session "s-$1"
  expect_ok "$CELLA" session create "s-$1.yml" "${CAS[@]}" --wallet-file "$(W req)"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

hub_op
cas_op before
# warm both servers' connection pools and allocator before measuring
curl -s "$HUB_URL/v1/challenge?n=[1-2000]" > /dev/null
curl -sk "$CAS_URL/v1/challenge?n=[1-2000]" > /dev/null

# flood NAME URL PID OP: FLOOD_N challenges from 4 clients, each on one
# kept-alive connection, with OP (a signed request) made while they run and
# again after; reports the count, the time and the server's RSS before and
# after, and fails on any refused challenge, a refused OP, a flood that did
# not pass the old limit (100 000), or RSS grown by 8 MB or more (the old
# nonce book's table alone was 14 MB).
flood() {
  local name=$1 url=$2 pid=$3 op=$4 per=$((FLOOD_N / 4)) i p n=0 start rss0 rss1
  local clients=()
  rss0=$(rss_kb "$pid")
  start=$(date +%s)
  for i in 1 2 3 4; do
    timeout 50 curl -sk -w '%{stderr}%{http_code}\n' "$url/v1/challenge?n=[1-$per]" \
      > /dev/null 2> "$name.$i" &
    clients+=($!)
  done
  sleep 2
  "$op" during
  for p in "${clients[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
  for p in "${clients[@]}"; do wait "$p" || true; done
  rss1=$(rss_kb "$pid")
  local good other
  good=$(cat "$name".? | grep -c '^200$' || true)
  other=$(cat "$name".? | grep -vc '^200$' || true)
  echo "$name: $good challenges in $(( $(date +%s) - start )) s, $other refused;" \
    "a signed request during it with $n of 4 clients running; RSS $rss0 -> $rss1 kB"
  [[ $n -gt 0 ]] || fail "$name: the flood ended before the signed request was made"
  (( good > 100000 )) || fail "$name: flood too small ($good)"
  [[ $other == 0 ]] || fail "$name: $other challenge requests were refused"
  "$op" after
  ! rss_checked || (( rss1 - rss0 < 8192 )) || fail "$name RSS grew by $((rss1 - rss0)) kB"
  ok
}
flood hub "$HUB_URL" "$HUB_PID" hub_op
flood cas "$CAS_URL" "$CAS_PID" cas_op
finish
