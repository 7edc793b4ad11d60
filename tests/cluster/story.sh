#!/usr/bin/env bash
# The iExec story end to end through the cluster (scripts/demo-iexec.sh's steps): an app
# developer, a data owner and a requester, each on a client host of their own, each with
# both hubs and both cas in its cella.json (in different orders). The owner encrypts a text
# and pushes its key to cas, the developer deploys a word count, both publish orders, the
# requester pushes a result key and buys a run (`app run --watch`); a worker of the pool
# runs it in the sim TEE on its own host; the requester downloads and decrypts the result,
# which nobody else can. Every acknowledged write is then read through the replica its
# writer did not go to first, and both hubs show the same task.
. "$(dirname "$0")/lib.sh"
. "$CLUSTER_LIB/market.sh"
need_cluster 120
cluster_up --hosts 12

person dev "$(client_host 1)" 1
person owner "$(client_host 2)" 2
person req "$(client_host 3)" 1
ACKED=0
PRESENT=0
acked() { ACKED=$((ACKED + 1)); }
# present WHAT CMD...: an acknowledged write CMD finds (its output in $TMP/present.out).
present() {
  local what=$1; shift
  if "$@" > "$TMP/present.out" 2>&1; then PRESENT=$((PRESENT + 1)); ok
  else echo "MISSING: $what: $(head -c 600 "$TMP/present.out")" >&2; fi
}
has() { hub_get "$1" "$2" | grep -q "$3"; }

# ---- the developer: a word count, measured, packed, deployed, offered for TEE runs ----
mkdir "$TMP/wc"
cc -std=c17 -O2 -static -o "$TMP/wc/wordcount" "$SRC/examples/wordcount/wordcount.c" 2>/dev/null ||
  cc -std=c17 -O2 -o "$TMP/wc/wordcount" "$SRC/examples/wordcount/wordcount.c"
cp "$SRC/examples/wordcount/cella-app.json" "$TMP/wc/"
APP=$(publish_app dev wordcount "$TMP/wc")
APPORDER=$(awk '/^apporder/ {print $2}' "$TMP/dev/wordcount.log" | tail -n 1)
[[ $APP =~ ^0x[0-9a-fA-F]{40}$ && $APPORDER =~ ^0x[0-9a-f]{64}$ ]] || fail "app $APP, order $APPORDER"
acked; acked

# ---- the data owner: an encrypted text, its key in cas, sold to this app only ----
TEXT='We choose to go to the Moon in this decade and do the other things'
cd "$TMP/owner"
expect_ok by owner dataset init --encrypted
printf '%s\n' "$TEXT" > datasets/original/speech.txt
expect_ok by owner dataset encrypt --format iexec
read -r ENC DS_SUM < "$TMP/.out"
expect_ok by owner blobs put "$ENC"
expect_ok by owner dataset deploy --name speech --multiaddr "$(cut -d' ' -f2 "$TMP/.out")" \
  --checksum "$DS_SUM" --wallet-file "$(W owner)"
DS=$(cat "$TMP/.out"); acked
expect_ok by owner dataset push-secret "$DS" --wallet-file "$(W owner)"
grep -q pushed "$TMP/.out" || fail "push-secret: $(cat "$TMP/.out")"; acked
expect_ok by owner order init --dataset --set "volume=10,apprestrict=$APP"
expect_ok by owner order sign --dataset --wallet-file "$(W owner)"
expect_ok by owner order publish --dataset
DSORDER=$(awk '/^datasetorder/ {print $2}' "$TMP/.out"); acked

# ---- the requester: a result key, then a run in an enclave, followed to its end ----
cd "$TMP/req"
expect_ok by req result generate-encryption-keypair --address "$(A req)"
expect_ok by req result push-encryption-key --wallet-file "$(W req)"; acked
expect_ok by req app run "$APP" --dataset "$DS" --tag tee,scone --args 3 --watch --wallet-file "$(W req)"
DEAL=$(awk '/^deal / {print $2}' "$TMP/.out")
TASK=$(awk '/^task / {print $2}' "$TMP/.out")
[[ $DEAL =~ ^0x[0-9a-f]{64}$ && $TASK =~ ^0x[0-9a-f]{64}$ ]] || fail "app run: $(cat "$TMP/.out")"
acked
grep -q ': COMPLETED' "$TMP/.err" || fail "app run --watch: $(cat "$TMP/.err")"

# one worker ran it, on its own host
RAN=$(grep -l "task $TASK completed in" "$CLUSTER_DIR"/logs/worker*.log || true)
[[ $(wc -w <<<"$RAN") == 1 ]] || fail "workers that completed $TASK: ${RAN:-none}"
echo "task $TASK ran on $(basename "$RAN" .log)"
ok

# ---- the requester reads the result; nobody else can ----
OUT=$(result_text req "$TASK" result.txt)
{ grep -qx 'words 15' <<<"$OUT" && grep -qx 'top 1 the 2' <<<"$OUT"; } || fail "result: $OUT"
ok
expect_ok by req task debug "$TASK" --logs --wallet-file "$(W req)"
grep -q 'wordcount: 15 words' "$TMP/.out" || fail "the app's logs: $(cat "$TMP/.out")"
cd "$TMP/owner"
expect_ok by owner result generate-encryption-keypair --address "$(A owner)"
cp "$TMP/req/$TASK.zip" stolen.zip
expect_fail 'cannot decrypt the result key' by owner result decrypt stolen.zip -o peek.zip
[[ ! -e peek.zip ]] || fail "a refused decrypt left output"
! grep -rqF "$TEXT" "$CLUSTER_DIR/logs" || fail "the dataset's text reached a log"
ok

# ---- every acknowledged write, through the replica its writer did not go to first ----
present "app on hub2" has hub2 "/v1/apps/$APP" '"name": "wordcount"'
present "app order on hub2" has hub2 "/v1/orders/$APPORDER" '"consumed": "1"'
present "dataset on hub1" has hub1 "/v1/datasets/$DS" '"name": "speech"'
present "dataset key on cas1" by owner dataset check-secret "$DS" --cas "$URL_cas1"
present "dataset order on hub1" has hub1 "/v1/orders/$DSORDER" '"consumed": "1"'
present "result key on cas2" by req result check-encryption-key "$(A req)" --cas "$URL_cas2"
present "deal on hub2" has hub2 "/v1/deals/$DEAL" "\"0\": \"$TASK\""
((PRESENT == ACKED)) || fail "$((ACKED - PRESENT)) of $ACKED acknowledged writes missing"
# both hubs show the same task
for h in hub1 hub2; do hub_get "$h" "/v1/tasks/$TASK" > "$TMP/task.$h" || fail "task on $h"; done
cmp -s "$TMP/task.hub1" "$TMP/task.hub2" || fail "the hubs differ: $(diff "$TMP/task.hub1" "$TMP/task.hub2")"
[[ $(json_field status < "$TMP/task.hub1") == COMPLETED ]] || fail "task: $(cat "$TMP/task.hub1")"
ok

fault_row story "$ACKED" "$PRESENT" n/a n/a
finish
