#!/usr/bin/env bash
# One client writing to the hubs and cas while a server or the database fails
# (tests/cluster/pg_kill.sh, cas_kill.sh), run in a client host's namespace: in DIR, a
# person's folder (cella.json with its lists of hub and cas replicas, a wallet), for each I
# in turn it publishes the signed request order req-I.json if there is one (a hub write)
# and pushes a requester secret named sI (a cas write), then pauses PAUSE seconds. Bounded: N
# rounds, and nothing new is started after DEADLINE (seconds since the epoch) or once the
# file DIR/stop exists.
#
# usage: write_client.sh CELLA DIR N DEADLINE PAUSE
#
# DIR/acks gets one line per outcome, with the time (seconds since the epoch):
#   T order HASH            the publication of request HASH was acknowledged
#   T secret NAME VALUE     the push of secret NAME was acknowledged
#   T failed WHAT: ERROR    the request failed (ERROR: the CLI's error line)
#   T done I                the last line: I rounds were made
set -uo pipefail
CELLA=$1 DIR=$2 N=$3 DEADLINE=$4 PAUSE=$5
. "$(dirname "$0")/client_lib.sh" "$DIR"
WALLET=$(echo wallet/*)

i=0
while ((i < N)) && [[ $(date +%s) -lt $DEADLINE && ! -e stop ]]; do
  i=$((i + 1))
  if [[ ! -f req-$i.json ]]; then :
  elif out=$("$CELLA" order publish --request --file "req-$i.json" 2>>client.err); then
    log "order $(awk '/^requestorder / {print $2}' <<<"$out")"
  else
    log "failed publish req-$i: $(why)"
  fi
  value="value-$i-$RANDOM$RANDOM"
  printf '%s' "$value" > secret.txt
  if "$CELLA" requester push-secret "s$i" --secret-file secret.txt --wallet-file "$WALLET" \
       >/dev/null 2>>client.err; then
    log "secret s$i $value"
  else
    log "failed secret s$i: $(why)"
  fi
  sleep "$PAUSE"
done
rm -f secret.txt
log "done $i"
