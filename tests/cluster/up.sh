#!/usr/bin/env bash
# scripts/cluster.sh on 9 hosts: PostgreSQL and each server on a host of its own. Every
# service answers from another host's namespace, hubs and cas only through their pinned
# key (a wrong pin is refused), each cas asks its hub over pinned TLS, the database only
# over TLS with the role's password; the fault helpers (kill and start a server, cut a
# host's link, kill -9 and restart PostgreSQL) do what they say; the root namespace's
# network is never touched; down leaves nothing behind, and a second down is harmless.
. "$(dirname "$0")/lib.sh"
need_cluster 90

BEFORE=$(root_net)
cluster_up --hosts 9
echo "up in $SECONDS s ($CLUSTER_DB)"

# ---- placement: PostgreSQL on h1, the 8 servers on h2..h9, one each ----
hosts="$HOST_pg"
for r in hub1 hub2 cas1 cas2 blobs worker1 worker2 worker3; do v=HOST_$r; hosts+=" ${!v}"; done
[[ $(tr ' ' '\n' <<<"$hosts" | sort -u | wc -l) == 9 && $HOST_pg == h1 ]] || fail "placement: $hosts"
ok
expect_ok cl status
for r in pg hub1 hub2 cas1 cas2 blobs worker1 worker2 worker3; do
  grep -Eq "^$r +h[0-9] +[0-9]+ +up " "$TMP/.out" || fail "status of $r: $(cat "$TMP/.out")"
done
[[ $(root_net) == "$BEFORE" ]] || fail "the root namespace changed: $(diff <(echo "$BEFORE") <(root_net))"
ok
cp "$TMP/.out" status.script
expect_ok "$CELLA" cluster status   # the verb runs the same script
cmp -s "$TMP/.out" status.script || fail "cella cluster status: $(diff status.script "$TMP/.out")"

# ---- hubs and cas from another host, through their pins ----
BAD=$(printf 'ab%.0s' $(seq 32))
for h in hub1 hub2; do
  url=URL_$h; from=$(another_host "$h")
  expect_ok on "$from" "$CELLA" hub call GET /v1/health --hub-url "${!url}" --hub-fingerprint "$HUB_FP"
  grep -q "\"fingerprint\": \"$HUB_FP\"" "$TMP/.out" || fail "$h health: $(cat "$TMP/.out")"
  expect_fail 'does not match the pinned fingerprint' on "$from" "$CELLA" hub call GET /v1/health \
    --hub-url "${!url}" --hub-fingerprint "$BAD"
  expect_ok on "$from" "$CELLA" hub call GET "/v1/workerpools/$POOL" --hub-url "${!url}" --hub-fingerprint "$HUB_FP"
  grep -qi "\"owner\": \"$POOL_OWNER\"" "$TMP/.out" ||
    fail "the pool on $h: $(cat "$TMP/.out")"
done
for c in cas1 cas2; do
  url=URL_$c; from=$(another_host "$c")
  expect_ok on "$from" "$CELLA" cas cert --cas "${!url}" --cas-fingerprint "$CAS_FP" --timeout 5
  grep -q 'BEGIN CERTIFICATE' "$TMP/.out" || fail "$c cert"
  expect_fail 'not the pinned' on "$from" "$CELLA" cas cert --cas "${!url}" \
    --cas-fingerprint "$BAD" --timeout 5
  # shellcheck disable=SC2046  # pinned prints options
  expect_ok on "$from" curl -sf -m 5 $(pinned "$c") "${!url}/v1/health"
done

# ---- each cas asks its hub (over TLS, pinned) who owns a dataset ----
"$CELLA" wallet create --unencrypted --keystoredir "$TMP/owner" > /dev/null 2>&1
OWNER=$(ls "$TMP"/owner/*)
openssl rand -base64 32 > "$TMP/ds.key"
for k in 1 2; do
  hub=URL_hub$k cas=URL_cas$k from=$(another_host "cas$k")
  expect_ok on "$from" "$CELLA" dataset deploy --name "up-data" --multiaddr https://example.org/d.zip \
    --checksum 0x$(printf '3%.0s' $(seq 64)) --hub-url "${!hub}" --hub-fingerprint "$HUB_FP" --wallet-file "$OWNER"
  DS=$(cat "$TMP/.out")
  [[ $DS =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "dataset deploy on hub$k: $DS"
  if [[ $k == 2 && $CLUSTER_DB == sqlite ]]; then echo "NOTE: sqlite: hub2 has its own copy of the dataset"
  elif [[ $k == 2 ]]; then grep -q 'already deployed' "$TMP/.err" || fail "hub2 does not share hub1's database"; fi
  expect_fail 'not allowed|401' on "$from" "$CELLA" dataset push-secret "$DS" --key-file "$TMP/ds.key" \
    --cas "${!cas}" --cas-fingerprint "$CAS_FP" --wallet-file "$POOL_WALLET"
  if [[ $k == 1 || $CLUSTER_DB == sqlite ]]; then
    expect_ok on "$from" "$CELLA" dataset push-secret "$DS" --key-file "$TMP/ds.key" --cas "${!cas}" \
      --cas-fingerprint "$CAS_FP" --wallet-file "$OWNER"
    grep -q "pushed" "$TMP/.out" || fail "push-secret to cas$k: $(cat "$TMP/.out")"
  else   # one database: cas2 already holds what was pushed through cas1, and says so
    expect_fail 'HTTP 409.*exists' on "$from" "$CELLA" dataset push-secret "$DS" --key-file "$TMP/ds.key" \
      --cas "${!cas}" --cas-fingerprint "$CAS_FP" --wallet-file "$OWNER"
  fi
done

# ---- the blob store, from two other hosts ----
head -c 4096 /dev/urandom > "$TMP/blob"
expect_ok on "$HOST_worker1" "$CELLA" blobs put "$TMP/blob" --url "$URL_blobs"
SHA=$(awk '{print $1}' "$TMP/.out")
[[ $SHA == $(sha256sum "$TMP/blob" | cut -c1-64) ]] || fail "blobs put: $(cat "$TMP/.out")"
expect_ok on "$HOST_worker3" "$CELLA" blobs get "$SHA" --url "$URL_blobs" -o "$TMP/blob.back"
cmp -s "$TMP/blob" "$TMP/blob.back" || fail "blob changed"

# ---- every server and worker serves its metrics to another host ----
for r in hub1 hub2 cas1 cas2 blobs worker1 worker2 worker3; do
  url=URL_$r
  # shellcheck disable=SC2046
  expect_ok on "$(another_host "$r")" curl -sf -m 5 $(pinned "$r") "${!url}/metrics"
  grep -q '^# TYPE ' "$TMP/.out" || fail "$r metrics: $(head -c 300 "$TMP/.out")"
done

# ---- PostgreSQL: only over TLS, only with the password ----
PG_SQL="select current_user || ' ' || ssl from pg_stat_ssl where pid = pg_backend_pid()"
expect_ok on "$HOST_hub2" psql -X -At "$PG_URL" -c "$PG_SQL"
[[ $(cat "$TMP/.out") == "cella true" ]] || fail "psql: $(cat "$TMP/.out")"
expect_fail 'no pg_hba.conf entry.*no encryption' on "$HOST_hub2" psql -X -At "$PG_URL?sslmode=disable" -c 'select 1'
sed 's/:[^:]*$/:wrong/' "$PGPASSFILE" > "$TMP/pgpass.wrong"; chmod 600 "$TMP/pgpass.wrong"
expect_fail 'password authentication failed' on "$HOST_hub2" env PGPASSFILE="$TMP/pgpass.wrong" \
  psql -X -At "$PG_URL" -c 'select 1'

# ---- the fault helpers ----
expect_ok cl kill worker3
expect_ok cl status
grep -Eq '^worker3 +h9 +- +down' "$TMP/.out" || fail "worker3 still up after kill"
expect_ok cl start worker3
expect_ok cl status
grep -Eq '^worker3 +h9 +[0-9]+ +up' "$TMP/.out" || fail "worker3 not up after start"
hub1_ok() { on "$HOST_worker1" curl -sk -m "$1" -o /dev/null "$URL_hub1/v1/health"; }
expect_ok cl link "$HOST_hub1" down
! hub1_ok 1 || fail "hub1 answers with its link down"
expect_ok cl link "$HOST_hub1" up
for _ in $(seq 50); do hub1_ok 1 && break; sleep 0.1; done
hub1_ok 2 || fail "hub1 does not answer with its link back up"
ok
expect_ok cl pg kill
expect_fail 'Connection refused|could not connect' on "$HOST_hub2" psql -X -At "$PG_URL" -c 'select 1'
expect_ok cl pg start
expect_ok on "$HOST_hub2" psql -X -At "$PG_URL" -c "$PG_SQL"
expect_ok cl pg stop
expect_ok cl pg start

# ---- down: nothing left, the root namespace as it was; a second down is a no-op ----
SHM=$(sed -n 7p "$CLUSTER_DIR/pg/data/postmaster.pid")
expect_ok cl down
no_leaks
read -r key id <<<"$SHM"
! ipcs -m | awk -v k="$(printf '0x%08x' "$key")" -v i="$id" '$1 == k && $2 == i {f = 1} END {exit !f}' ||
  fail "PostgreSQL's shared memory segment $id is left"
[[ $(root_net) == "$BEFORE" ]] || fail "the root namespace changed: $(diff <(echo "$BEFORE") <(root_net))"
expect_ok cl down
ok
finish
