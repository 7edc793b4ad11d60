# shellcheck shell=bash
# The people of the iExec story on a cluster (tests/cluster/*.sh, after cluster_up): each is
# a folder $TMP/NAME with its wallet and a cella.json naming both hubs and both cas (each
# person in a given order, to fail over along) and the blob store, and runs the CLI in the
# namespace of a client host, a host of the cluster without a server (h10 and up: `up
# --hosts N` with N > 9). Source it after lib.sh.

export XDG_CONFIG_HOME=$TMP/config

# client_host K: the K-th host without a server (needs `up --hosts 9+K` or more).
client_host() {
  ((9 + $1 <= CLUSTER_HOSTS)) || fail "no client host $1 on $CLUSTER_HOSTS hosts"
  echo "h$((9 + $1))"
}

# person NAME HOST [FIRST]: NAME's folder, wallet and cella.json; FIRST (1 or 2, default 1)
# is the replica of the hub and of cas it goes to first.
person() {
  local who=$1 host=$2 first=${3:-1} other hubs cas
  other=$((3 - first))
  hubs=$(eval echo "\$URL_hub$first,\$URL_hub$other")
  cas=$(eval echo "\$URL_cas$first,\$URL_cas$other")
  mkdir -p "$TMP/$who"
  echo "$host" > "$TMP/$who/host"
  (cd "$TMP/$who" &&
    on "$host" "$CELLA" init --hub-url "$hubs" --cas "$cas" --cas-fingerprint "$CAS_FP" \
      --blobs "$URL_blobs" &&
    python3 - "$HUB_FP" <<'PY' &&
import json, sys
c = json.load(open("cella.json"))
c["hubFingerprint"] = sys.argv[1]
json.dump(c, open("cella.json", "w"))
PY
    "$CELLA" wallet create --unencrypted --keystoredir wallet > address) \
    >"$TMP/$who/setup.log" 2>&1 || { cat "$TMP/$who/setup.log" >&2; fail "set up $who"; }
}
W() { echo "$TMP/$1/wallet/"*; }
A() { cat "$TMP/$1/address"; }

# by NAME CMD...: `cella CMD` in NAME's folder, from NAME's host.
by() {
  local who=$1; shift
  (cd "$TMP/$who" && on "$(cat "$TMP/$who/host")" "$CELLA" "$@")
}

# hub_get ROLE PATH: GET PATH from one hub replica (from the first client host), the JSON.
hub_get() {
  local url="URL_$1"
  on "$(client_host 1)" "$CELLA" hub call GET "$2" --hub-url "${!url}" --hub-fingerprint "$HUB_FP"
}

# json_field FIELD[.SUB...]: a field of the JSON document on stdin ("" for null or absent).
json_field() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"
}

# task_field ROLE TASK FIELD: a field of TASK as hub replica ROLE has it.
task_field() { hub_get "$1" "/v1/tasks/$2" | json_field "$3"; }

# wait_until SECONDS WHAT CMD...: CMD until it succeeds (every 0.2 s), else after SECONDS a
# failure saying WHAT did not happen
wait_until() {
  local limit=$1 what=$2 end=$((SECONDS + $1)); shift 2
  until "$@"; do
    ((SECONDS < end)) || fail "$what: not within $limit s"
    sleep 0.2
  done
}

# attested TASK: an enclave of TASK attested to a cas replica (its keys were released)
attested() { grep -q "attest iexec-$1/app ok" "$CLUSTER_DIR"/logs/cas?.log; }

# publish_app DEV NAME SRC_DIR [VOLUME]: packs SRC_DIR, puts it in the blob store, deploys it
# as NAME and publishes a TEE app order (tee,scone; volume default 100); prints the address.
publish_app() {
  local dev=$1 name=$2 src=$3 volume=${4:-100} d=$TMP/$1
  { by "$dev" app pack "$src" -o "$d/$name.tar" > "$d/$name.pack" &&
    by "$dev" blobs put "$d/$name.tar" > "$d/$name.put" &&
    by "$dev" app deploy --name "$name" --multiaddr "$(cut -d' ' -f2 "$d/$name.put")" \
      --checksum "$(cut -d' ' -f1 "$d/$name.pack")" --measurement "$("$CELLA" app measure "$src")" \
      --wallet-file "$(W "$dev")" > "$d/$name.address" &&
    by "$dev" order init --app --tag tee,scone --set "app=$(cat "$d/$name.address"),volume=$volume" &&
    by "$dev" order sign --app --wallet-file "$(W "$dev")" --out "$d/$name.orders.json" &&
    by "$dev" order publish --app --file "$d/$name.orders.json"; } \
    >"$d/$name.log" 2>&1 || { cat "$d/$name.log" >&2; fail "publish app $name"; }
  cat "$d/$name.address"
}

# slow_app DIR: an app that sleeps its first argument's seconds, then writes out.txt with
# what it slept, its requester secret 1 and its dataset's first file.
slow_app() {
  mkdir -p "$1"
  cat > "$1/slow" <<'EOF'
#!/bin/sh
sleep "${1:-0}"
echo "slept ${1:-0}" > "$IEXEC_OUT/out.txt"
if [ -n "$IEXEC_REQUESTER_SECRET_1" ]; then echo "requester secret: $IEXEC_REQUESTER_SECRET_1" >> "$IEXEC_OUT/out.txt"; fi
if [ -n "$IEXEC_DATASET_FILENAME" ] && [ -f "$IEXEC_IN/$IEXEC_DATASET_FILENAME" ]; then cat "$IEXEC_IN/$IEXEC_DATASET_FILENAME" >> "$IEXEC_OUT/out.txt"; fi
echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
EOF
  chmod 755 "$1/slow"
  sed 's/"wordcount"/"slow"/; s/"IEXEC_DATASET_FILENAME"/"IEXEC_DATASET_FILENAME", "IEXEC_REQUESTER_SECRET_1"/' \
    "$SRC/examples/wordcount/cella-app.json" > "$1/cella-app.json"
}

# result_text REQ TASK FILE: REQ downloads and decrypts TASK's result and prints FILE of it.
result_text() {
  local d=$TMP/$1
  { by "$1" result download "$2" -o "$d/$2.zip" >/dev/null 2>"$d/result.err" &&
    by "$1" result decrypt "$d/$2.zip" -o "$d/$2-results.zip" --force >/dev/null 2>>"$d/result.err"; } ||
    { cat "$d/result.err" >&2; fail "result of $2"; }
  python3 -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())' \
    "$d/$2-results.zip" "$3"
}

# fault_row NAME ACKNOWLEDGED PRESENT DOUBLE RECOVERY: the test's row of the fault table
# (n/a where a column does not apply); lost = acknowledged - present.
fault_row() {
  local lost=n/a
  [[ $2 == n/a ]] || lost=$(($2 - $3))
  echo "FAULT $1 acknowledged=$2 present=$3 lost=$lost double_matched=$4 recovery_s=$5"
}

# ---- load clients (lib.d/*_client.sh) ----
# start_clients SCRIPT WHO... -- ARGS...: lib.d/SCRIPT CELLA $TMP/WHO ARGS for each WHO, in
# the background in WHO's host's namespace; their PIDs in CLIENTS, their names in CLIENT_NAMES.
start_clients() {
  local script=$1 who; shift
  CLIENT_NAMES=()
  while [[ $1 != -- ]]; do CLIENT_NAMES+=("$1"); shift; done
  shift
  CLIENTS=()
  for who in "${CLIENT_NAMES[@]}"; do
    on "$(cat "$TMP/$who/host")" bash "$CLUSTER_LIB/$script" "$CELLA" "$TMP/$who" "$@" &
    CLIENTS+=($!)
  done
}
# acks_count REGEX: the clients' outcome lines so far whose kind (second field) matches REGEX
acks_count() {
  local who
  for who in "${CLIENT_NAMES[@]}"; do cat "$TMP/$who/acks" 2>/dev/null; done |
    awk -v re="^($1)\$" '$2 ~ re' | wc -l
}
# kind_count KIND FILE: the outcome lines of one client of that kind
kind_count() { awk -v k="$1" '$2 == k' "$2" | wc -l; }
# wait_acks REGEX N: until the clients have N such lines (30 s at most)
wait_acks() {
  for _ in $(seq 600); do (($(acks_count "$1") >= $2)) && return; sleep 0.05; done
  fail "the clients did not get under way: $(cat "$TMP"/*/acks "$TMP"/*/client.err 2>/dev/null | tail)"
}
# wait_clients: every client ended, with status 0
wait_clients() {
  local k
  for k in "${!CLIENTS[@]}"; do wait "${CLIENTS[k]}" || fail "client ${CLIENT_NAMES[k]}: exit status $?"; done
}

# secrets_present ROLE WHO NAMES...: how many of WHO's requester secrets NAMES cas replica
# ROLE has (HEAD, 2xx: there), asked from WHO's host in one namespace entry; the missing
# ones on stderr.
secrets_present() {
  local role=$1 who=$2 url="URL_$1" got; shift 2
  # shellcheck disable=SC2016  # the inner script expands its own variables
  got=$(on "$(cat "$TMP/$who/host")" bash -c 'u=$1 r=$2 pin=$3; shift 3; for n; do
      echo "$n $(curl -s -I -m 10 -k --pinnedpubkey "$pin" -o /dev/null -w "%{http_code}" "$u/requesters/$r/secrets/$n")"
    done' _ "${!url}" "$(A "$who")" "$(pinned "$role" | awk '{print $3}')" "$@")
  grep -v ' 2[0-9][0-9]$' <<<"$got" | sed "s/^/missing on $role: secret of $who: /" >&2 || true
  grep -c ' 2[0-9][0-9]$' <<<"$got" || true
}
