#!/usr/bin/env bash
# One client of a publish+match load (tests/cluster/hub_kill.sh), run in a client host's
# namespace: in DIR, a person's folder (cella.json with its list of hub replicas, a wallet)
# holding signed request orders req-1.json ... req-N.json, for each I in turn it publishes
# req-I.json, then fills it with the published app and workerpool orders given. Bounded:
# N requests, and nothing new is started after DEADLINE (seconds since the epoch).
#
# usage: market_client.sh CELLA DIR N DEADLINE APPORDER POOLORDER
#
# DIR/acks gets one line per outcome, with the time (seconds since the epoch):
#   T order HASH          the hub acknowledged the publication of request HASH
#   T deal ID VOLUME      the hub acknowledged a match: deal ID of VOLUME tasks
#   T refused WHAT        the hub refused (a 4xx: no volume left), nothing was written
#   T unknown WHAT        no answer (the request may or may not have taken effect)
#   T done I              the last line: I requests were handled
# The CLI's messages (failover warnings, errors) go to DIR/client.err.
set -uo pipefail
CELLA=$1 DIR=$2 N=$3 DEADLINE=$4 APPORDER=$5 POOLORDER=$6
. "$(dirname "$0")/client_lib.sh" "$DIR"

i=0
while ((i < N)) && [[ $(date +%s) -lt $DEADLINE ]]; do
  i=$((i + 1))
  # Publishing is idempotent (a republished order is 200 "created": false): one retry.
  out=$("$CELLA" order publish --request --file "req-$i.json" 2>>client.err) ||
    out=$("$CELLA" order publish --request --file "req-$i.json" 2>>client.err) ||
    { log "unknown publish req-$i: $(why)"; continue; }
  hash=$(awk '/^requestorder / {print $2}' <<<"$out")
  log "order $hash"
  if out=$("$CELLA" order fill --request "$hash" --app "$APPORDER" --workerpool "$POOLORDER" \
             2>>client.err); then
    log "deal $(awk '/^deal / {print $2}' <<<"$out") $(grep -c '^task ' <<<"$out")"
  elif why | grep -q 'HTTP 4[0-9][0-9]'; then
    log "refused fill $hash: $(why)"
  else
    log "unknown fill $hash: $(why)"
  fi
done
log "done $i"
