#!/usr/bin/env bash
# The iExec TEE story end to end on `cella up` (sim TEE), with workers started
# by hand (`worker start --once`) so each step is deterministic: a data owner
# sells an encrypted dataset to one app, a requester buys runs, a worker runs
# them in enclaves; only the beneficiary reads the result. Then each attack of
# issue 7 fails for the right reason: another app, another requester, another
# measurement, another beneficiary, a non-enclave contribution, a dataset
# tampered in the blob store or in the worker's cache; and a worker killed
# mid-task loses nothing. Last, the stack restarts on other ports: results,
# datasets and bundles recorded with the old blob store's URL are found by
# their SHA-256, and a dataset at a plain http URL is fetched there and checked.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$TMP/config
SRC=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
start_market
ok

for who in owner dev req eve; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null) || fail "set up $who"
  new_wallet "$who"
done
json_set() { # KEY JSON (in ./cella.json)
  python3 -c 'import json,sys;c=json.load(open("cella.json"));c[sys.argv[1]]=json.loads(sys.argv[2]);json.dump(c,open("cella.json","w"))' "$1" "$2"
}
order_set() { # KIND FIELD=VALUE...
  python3 - "$@" <<'PY'
import json, sys
c = json.load(open("cella.json"))
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    c["order"][sys.argv[1]][k] = v
json.dump(c, open("cella.json", "w"))
PY
}
worker_once() { # extra args...
  "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
    --sim-dir "$TMP/stack/sim" --once --lease 3 "$@" >> "$TMP/worker.log" 2>&1
}
task_field() { # TASK FIELD
  "$CELLA" task show "$1" --hub-url "$HUB" | python3 -c 'import json,sys;v=json.load(sys.stdin).get(sys.argv[1]);print("" if v is None else v)' "$2"
}
# result_has TASK TEXT...: the requester downloads and decrypts TASK's result;
# its out.txt must contain every TEXT (two expect_ok checks and one ok)
result_has() {
  local t=$1; shift
  expect_ok "$CELLA" result download "$t" -o "$t.zip"
  expect_ok "$CELLA" result decrypt "$t.zip" -o "$t-results.zip" --force
  python3 - "$t-results.zip" "$@" <<'PY' || fail "result of $t lacks: $*"
import sys, zipfile
t = zipfile.ZipFile(sys.argv[1]).read("out.txt").decode()
sys.exit(0 if all(w in t for w in sys.argv[2:]) else 1)
PY
  ok
}
# result_lacks TASK TEXT: the result result_has just decrypted does not contain TEXT
result_lacks() {
  python3 - "$1-results.zip" "$2" <<'PY' || fail "result of $1 contains: $2"
import sys, zipfile
sys.exit(1 if sys.argv[2] in zipfile.ZipFile(sys.argv[1]).read("out.txt").decode() else 0)
PY
}

# ---- the app developer: wordcount, and a slow app for the kill test ----
cd "$TMP/dev"
publish_app() { # DIR NAME -> prints the app address
  "$CELLA" app pack "$1" -o "$2.tar" > pack || return 1
  "$CELLA" blobs put "$2.tar" --url "$BLOBS" > put || return 1
  json_set app "{\"name\": \"$2\", \"type\": \"DOCKER\", \"multiaddr\": \"$(awk '{print $2}' put)\", \"checksum\": \"$(awk '{print $1}' pack)\", \"measurement\": \"$("$CELLA" app measure "$1")\"}"
  "$CELLA" app deploy --wallet-file "$(W dev)" 2>/dev/null > addr || return 1
  "$CELLA" order init --app --tag tee,scone 2>/dev/null && order_set apporder app="$(cat addr)" volume=100 &&
    "$CELLA" order sign --app --wallet-file "$(W dev)" 2>/dev/null >/dev/null &&
    "$CELLA" order publish --app >/dev/null || return 1
  cat addr
}
mkdir wc slow
cc -std=c17 -O2 -o wc/wordcount "$SRC/examples/wordcount/wordcount.c"
cp "$SRC/examples/wordcount/cella-app.json" wc/
cat > slow/slow <<'EOF'
#!/bin/sh
sleep "${1:-0}"
echo "slept $1" > "$IEXEC_OUT/out.txt"
if [ -n "$IEXEC_INPUT_FILE_NAME_1" ]; then cat "$IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1" >> "$IEXEC_OUT/out.txt"; fi
if [ -n "$IEXEC_REQUESTER_SECRET_1" ]; then echo "requester secret: $IEXEC_REQUESTER_SECRET_1" >> "$IEXEC_OUT/out.txt"; fi
for i in 2 3; do eval "v=\${IEXEC_REQUESTER_SECRET_$i:-}"; [ -z "$v" ] || echo "requester secret $i: $v" >> "$IEXEC_OUT/out.txt"; done
if [ -n "$IEXEC_APP_DEVELOPER_SECRET" ]; then echo "developer secret: $IEXEC_APP_DEVELOPER_SECRET" >> "$IEXEC_OUT/out.txt"; fi
if [ -n "$IEXEC_DATASET_FILENAME" ] && [ -d "$IEXEC_IN/$IEXEC_DATASET_FILENAME" ]; then
  cat "$IEXEC_IN/$IEXEC_DATASET_FILENAME"/a.txt "$IEXEC_IN/$IEXEC_DATASET_FILENAME"/sub/b.txt >> "$IEXEC_OUT/out.txt"
fi
for v in SIGN_TEE_CHALLENGE_PRIVATE_KEY SIGN_WORKER_ADDRESS RESULT_ENCRYPTION_PUBLIC_KEY \
         IEXEC_DATASET_KEY IEXEC_DATASET_URL IEXEC_DATASET_CHECKSUM; do
  eval "[ -z \"\${$v+x}\" ]" || echo "withheld variable seen: $v" >> "$IEXEC_OUT/out.txt"
done
echo "environment checked" >> "$IEXEC_OUT/out.txt"
echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
EOF
chmod 755 slow/slow
sed 's/"wordcount"/"slow"/' wc/cella-app.json > slow/cella-app.json
APP=$(publish_app wc wordcount) || fail "publish wordcount"
SLOW=$(publish_app slow slow) || fail "publish slow"
MEAS=$("$CELLA" app measure wc)
ok

# ---- the data owner: an encrypted text, sold to wordcount only ----
cd "$TMP/owner"
publish_dataset() { # NAME TEXT ORDER-FIELDS... -> prints the dataset address
  local name=$1 text=$2; shift 2
  rm -rf datasets .secrets
  "$CELLA" dataset init --encrypted >/dev/null 2>&1 && printf '%s' "$text" > "datasets/original/$name.txt" &&
    "$CELLA" dataset encrypt --format iexec > enc 2>/dev/null || return 1
  if [[ -n ${WWW_URL:-} ]]; then # a plain web server instead of the blob store
    cp "$(awk 'NR==1 {print $1}' enc)" "$TMP/www/$name.enc" && echo "- $WWW_URL/$name.enc" > put || return 1
  else
    "$CELLA" blobs put "$(awk 'NR==1 {print $1}' enc)" --url "$BLOBS" > put || return 1
  fi
  json_set dataset "{\"name\": \"$name\", \"multiaddr\": \"$(awk '{print $2}' put)\", \"checksum\": \"$(awk 'NR==1 {print $2}' enc)\"}"
  "$CELLA" dataset deploy --wallet-file "$(W owner)" 2>/dev/null > addr || return 1
  "$CELLA" dataset push-secret "$(cat addr)" --wallet-file "$(W owner)" >/dev/null || return 1
  "$CELLA" order init --dataset 2>/dev/null && order_set datasetorder dataset="$(cat addr)" volume=100 "$@" &&
    "$CELLA" order sign --dataset --wallet-file "$(W owner)" 2>/dev/null >/dev/null &&
    "$CELLA" order publish --dataset >/dev/null || return 1
  cat addr
}
TEXT='one two two three three three
secret words stay secret'
DS=$(publish_dataset speech "$TEXT" apprestrict="$APP") || fail "publish dataset"
DS_SHA=$(awk '{print $1}' put)
# a second dataset only "req" may use
DS2=$(publish_dataset private "for req only" requesterrestrict="$(A req)") || fail "publish dataset 2"
# a third one whose ciphertext will be damaged in the blob store
DS3=$(publish_dataset fragile "fragile words" apprestrict="$APP") || fail "publish dataset 3"
DS3_SHA=$(awk '{print $1}' put)
# a dataset key pushed by someone who does not own the dataset is refused
cd "$TMP/eve"
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' > fake.key
expect_fail '401|not allowed|owner' "$CELLA" dataset push-secret "$DS" --key-file fake.key --wallet-file "$(W eve)"

# ---- the requester: a result key, then a run ----
cd "$TMP/req"
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A req)"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W req)"
expect_ok "$CELLA" app run "$APP" --dataset "$DS" --tag tee,scone --args 2 --wallet-file "$(W req)"
T1=$(awk '/^task / {print $2}' "$TMP/.out")
[[ "$T1" =~ ^0x[0-9a-f]{64}$ ]] || fail "app run printed no task id"
[[ $(task_field "$T1" status) == ACTIVE ]] || fail "a new task is ACTIVE"
# a wallet that does not own the pool cannot run its worker: refused before
# anything is leased, naming both wallets
expect_fail "the wallet $(A eve) does not own this workerpool \(its owner is 0x[0-9a-fA-F]{40}\) \($POOL\)" \
  "$CELLA" worker start --pool "$POOL" --wallet-file "$(W eve)" --work-dir "$TMP/wk-eve" \
  --sim-dir "$TMP/stack/sim" --once --lease 3
POOL_OWNER=${POOL_WALLET##*/wallet-0x}; POOL_OWNER=${POOL_OWNER%.json}
[[ "$POOL_OWNER" =~ ^[0-9a-fA-F]{40}$ ]] || fail "pool wallet file name: $POOL_WALLET"
grep -qi "its owner is 0x$POOL_OWNER)" "$TMP/.err" ||
  fail "the refusal does not name the pool's owner: $(cat "$TMP/.err")"
[[ $(task_field "$T1" status) == ACTIVE && -z $(task_field "$T1" lease) ]] || fail "a refused worker touched T1"
worker_once || { cat "$TMP/worker.log" >&2; fail "worker"; }
[[ $(task_field "$T1" status) == COMPLETED ]] || { cat "$TMP/worker.log" >&2; fail "T1 not completed: $(task_field "$T1" error)"; }
ok
expect_ok "$CELLA" result download "$T1" -o result.zip
expect_ok "$CELLA" result decrypt result.zip -o results.zip
python3 - <<'PY' || fail "the decrypted result is not the word count"
import zipfile
t = zipfile.ZipFile("results.zip").read("result.txt").decode()
assert "lines 1\nwords 10\n" in t, t
assert "top 1 three 3\ntop 2 secret 2\n" in t, t
PY
ok
# the SDK's way in one verb: task show --watch --download --decrypt
expect_ok "$CELLA" task show "$T1" --watch --download -o shown.zip --decrypt --decrypted shown-results.zip
cmp shown.zip result.zip && cmp shown-results.zip results.zip || fail "task show --download --decrypt differs"
grep -q '"status": "COMPLETED"' "$TMP/.out" || fail "task show printed: $(head -c 300 "$TMP/.out")"
expect_fail 'output already exists' "$CELLA" task show "$T1" --download -o shown.zip
ok
# the app's output is kept for the requester only
expect_ok "$CELLA" task debug "$T1" --logs --wallet-file "$(W req)"
grep -q 'wordcount: 10 words' "$TMP/.out" || fail "the requester sees the app's stdout"
cd "$TMP/eve"
expect_fail 'requester' "$CELLA" task debug "$T1" --logs --wallet-file "$(W eve)"
# nobody but the beneficiary decrypts the result
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A eve)"
cp "$TMP/req/result.zip" stolen.zip
expect_fail 'beneficiary|decrypt' "$CELLA" result decrypt stolen.zip -o peek.zip
[[ ! -e peek.zip ]] || fail "a failed decrypt left output"
# an enclave with another measurement gets nothing from the task's session
expect_fail 'measurement' "$CELLA" attest --session "iexec-$T1/app" \
  --measurement 0000000000000000000000000000000000000000000000000000000000000000 --sim-dir "$TMP/stack/sim"
# ... and once the task is COMPLETED even the app's own measurement gets nothing more
expect_fail 'COMPLETED, not ACTIVE' "$CELLA" attest --session "iexec-$T1/app" --measurement "$MEAS" \
  --sim-dir "$TMP/stack/sim"

# ---- the orders' restrictions hold ----
cd "$TMP/req"
# an app the dataset order does not name gets no deal, hence no key: app run finds no dataset
# order for it (as the SDK asks the book), and the hub refuses the match when forced
expect_fail "no open order in the book matches \(kind=datasetorder&dataset=$DS\) and allows app $SLOW" \
  "$CELLA" app run "$SLOW" --dataset "$DS" --tag tee,scone --wallet-file "$(W req)"
DSO=$("$CELLA" order book --kind datasetorder --dataset "$DS" | python3 -c 'import json,sys;print(json.load(sys.stdin)["orders"][0]["orderHash"])')
expect_ok "$CELLA" order init --request --tag tee,scone --set app="$SLOW",dataset="$DS",requester="$(A req)",beneficiary="$(A req)",appmaxprice=1000,datasetmaxprice=1000,workerpoolmaxprice=1000
expect_ok "$CELLA" order sign --request --wallet-file "$(W req)"
expect_fail 'iExecV5-matchOrders-0x16: the dataset order is restricted to app' "$CELLA" order fill --dataset "$DSO"
# a requester outside requesterrestrict cannot match
cd "$TMP/eve"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W eve)"
expect_fail 'iExecV5-matchOrders-0x18: the dataset order is restricted to requester' "$CELLA" app run "$APP" --dataset "$DS2" --tag tee,scone --wallet-file "$(W eve)"

# ---- a non-TEE worker cannot finish a TEE task ----
cd "$TMP/req"
expect_ok "$CELLA" app run "$APP" --dataset "$DS" --tag tee,scone --wallet-file "$(W req)"
T2=$(awk '/^task / {print $2}' "$TMP/.out")
AUTH=$("$CELLA" task authorize "$T2" --worker "$(sed -n 's/.*wallet-\(0x[0-9a-fA-F]*\)\.json/\1/p' <<<"$POOL_WALLET")" --wallet-file "$POOL_WALLET")
expect_fail 'cella-hub-task-enclave-challenge' "$CELLA" task contribute "$T2" \
  --digest 0x1111111111111111111111111111111111111111111111111111111111111111 \
  --authorization "$AUTH" --wallet-file "$POOL_WALLET" --hub-url "$HUB"

# ---- a dataset tampered on the worker host: the enclave refuses it ----
# (the worker cached the dataset for T1; a hostile host edits the cache)
CACHED="$TMP/wk/datasets/$DS_SHA"
[[ -f "$CACHED" ]] || fail "the worker caches datasets by checksum"
python3 -c "import sys;f=open(sys.argv[1],'r+b');f.seek(20);b=f.read(1);f.seek(20);f.write(bytes([b[0]^1]))" "$CACHED"
worker_once || fail "worker"
[[ $(task_field "$T2" status) == ACTIVE ]] || fail "T2 must not complete on a tampered dataset"
task_field "$T2" error | grep -Eq "checksum mismatch.*\(dataset $DS\)|dataset.*checksum" ||
  fail "T2 reason: $(task_field "$T2" error)"
# T2 is still ACTIVE (its final deadline is far): its session releases the dataset key to the
# app's measurement, and only to it
expect_ok "$CELLA" attest --session "iexec-$T2/app" --measurement "$MEAS" --sim-dir "$TMP/stack/sim" --show-keys
grep -q 'IEXEC_DATASET_KEY' "$TMP/.out" || fail "the live task session releases the dataset key"
expect_fail 'measurement' "$CELLA" attest --session "iexec-$T2/app" \
  --measurement 1111111111111111111111111111111111111111111111111111111111111111 --sim-dir "$TMP/stack/sim"
ok

# ---- a dataset tampered in the blob store: the worker refuses it, the requester sees why ----
BLOBFILE="$TMP/stack/blobs/sha256/$DS3_SHA"
[[ -f "$BLOBFILE" ]] || fail "blob file layout"
python3 -c "import sys;f=open(sys.argv[1],'r+b');f.seek(5);b=f.read(1);f.seek(5);f.write(bytes([b[0]^1]))" "$BLOBFILE"
expect_ok "$CELLA" app run "$APP" --dataset "$DS3" --tag tee,scone --wallet-file "$(W req)"
T3=$(awk '/^task / {print $2}' "$TMP/.out")
worker_once || fail "worker"
task_field "$T3" error | grep -Eiq "dataset|sha-256|match" || fail "T3 reason: $(task_field "$T3" error)"
ok

# ---- input files: fetched by the enclave into /iexec_in; a blob whose bytes changed is refused ----
cd "$TMP/req"
echo "an input file" > input.txt
"$CELLA" blobs put input.txt > input.put || fail "blobs put input"
IN_URL=$(cut -d' ' -f2 input.put)
expect_ok "$CELLA" app run "$SLOW" --tag tee,scone --input-files "$IN_URL" --wallet-file "$(W req)"
T5=$(awk '/^task / {print $2}' "$TMP/.out")
worker_once || fail "worker"
[[ $(task_field "$T5" status) == COMPLETED ]] || fail "T5 with an input file: $(task_field "$T5" error)"
result_has "$T5" "an input file"
python3 -c "import sys;f=open(sys.argv[1],'r+b');b=f.read(1);f.seek(0);f.write(bytes([b[0]^1]))" \
  "$TMP/stack/blobs/sha256/$(cut -d' ' -f1 input.put)"
expect_ok "$CELLA" app run "$SLOW" --tag tee,scone --input-files "$IN_URL" --wallet-file "$(W req)"
T6=$(awk '/^task / {print $2}' "$TMP/.out")
worker_once || fail "worker"
task_field "$T6" error | grep -q "do not match its SHA-256 (IEXEC_INPUT_FILE_URL_1)" ||
  fail "T6 reason: $(task_field "$T6" error)"
ok

# ---- secrets: the requester's (by index, iexec_secrets) and the app developer's reach the app ----
cd "$TMP/dev"
printf 'dev-s3cret' > dev.secret
expect_ok "$CELLA" app push-secret "$SLOW" --secret-file dev.secret --wallet-file "$(W dev)"
cd "$TMP/req"
printf 'req-s3cret' > req.secret
expect_ok "$CELLA" requester push-secret apikey --secret-file req.secret --wallet-file "$(W req)"
printf 'second-s3cret' > req2.secret; printf 'third-s3cret' > req3.secret
expect_ok "$CELLA" requester push-secret apikey2 --secret-file req2.secret --wallet-file "$(W req)"
expect_ok "$CELLA" requester push-secret apikey3 --secret-file req3.secret --wallet-file "$(W req)"
# an index given twice is refused before anything is published
expect_fail "secret index 2 given twice \('apikey2' and 'apikey3'\)" "$CELLA" app run "$SLOW" --secret 2=apikey2 --secret 2=apikey3 --wallet-file "$(W req)"
# the SDK's form (--secret 1=a 2=b) and a repeated --secret merge
expect_ok "$CELLA" app run "$SLOW" --tag tee,scone --secret 1=apikey 2=apikey2 --secret 3=apikey3 --wallet-file "$(W req)"
T8=$(awk '/^task / {print $2}' "$TMP/.out")
# a secret name the requester never pushed: the preflight asks cas first and
# refuses before anything is signed or published...
expect_fail "requester secret 'nosuch' \(index 1\) is not on cas: push it with .cella requester push-secret nosuch., or give --skip-preflight-check" \
  "$CELLA" app run "$SLOW" --tag tee,scone --secret 1=nosuch --wallet-file "$(W req)"
# ...and without the preflight cas builds no session: the reason is on the task
expect_ok "$CELLA" app run "$SLOW" --tag tee,scone --secret 1=nosuch --skip-preflight-check --wallet-file "$(W req)"
T9=$(awk '/^task / {print $2}' "$TMP/.out")
worker_once || fail "worker"
[[ $(task_field "$T8" status) == COMPLETED ]] || fail "T8 with secrets: $(task_field "$T8" error)"
result_has "$T8" "requester secret: req-s3cret" "requester secret 2: second-s3cret" \
  "requester secret 3: third-s3cret" "developer secret: dev-s3cret" "environment checked"
# the challenge key and the beneficiary's key stay in the enclave, not in the app's environment
result_lacks "$T8" "withheld variable seen"
task_field "$T9" error | grep -q 'nosuch' || fail "T9 reason: $(task_field "$T9" error)"
! grep -rq 'req-s3cret\|dev-s3cret\|second-s3cret\|third-s3cret' "$TMP/stack/logs" "$TMP/worker.log" || fail "a secret reached a log"
ok

# ---- a dataset in cella's volume format (a directory tree), sold to the slow app ----
cd "$TMP/owner"
rm -rf datasets .secrets
"$CELLA" dataset init --encrypted >/dev/null 2>&1 || fail "dataset init"
mkdir datasets/original/sub
echo "volume file a" > datasets/original/a.txt
echo "volume file b" > datasets/original/sub/b.txt
expect_ok "$CELLA" dataset encrypt --name tree
VOL=$(awk '{print $1}' "$TMP/.out")
[[ -d "$VOL" ]] || fail "dataset encrypt made no volume"
expect_ok "$CELLA" blobs put "$VOL"
VOL_SHA=$(awk '{print $1}' "$TMP/.out"); VOL_URL=$(awk '{print $2}' "$TMP/.out")
expect_ok "$CELLA" dataset deploy --name tree --multiaddr "$VOL_URL" --checksum "0x$VOL_SHA" --wallet-file "$(W owner)"
DSV=$(cat "$TMP/.out")
expect_ok "$CELLA" dataset push-secret "$DSV" --key-file .secrets/datasets/dataset.volume.key --wallet-file "$(W owner)"
expect_ok "$CELLA" order init --dataset --set volume=10,apprestrict="$SLOW"
expect_ok "$CELLA" order sign --dataset --wallet-file "$(W owner)"
expect_ok "$CELLA" order publish --dataset
cd "$TMP/req"
expect_ok "$CELLA" app run "$SLOW" --dataset "$DSV" --tag tee,scone --wallet-file "$(W req)"
T7=$(awk '/^task / {print $2}' "$TMP/.out")
worker_once || fail "worker"
[[ $(task_field "$T7" status) == COMPLETED ]] || fail "T7 on a volume dataset: $(task_field "$T7" error)"
# made in a sim enclave (cella up allows sim): the task record says so
[[ $(task_field "$T7" tee) == sim ]] || fail "the task record does not say the result was made in sim"
result_has "$T7" $'volume file a\nvolume file b' "environment checked"
result_lacks "$T7" "withheld variable seen"   # nor the dataset's key and location

# ---- a worker killed mid-task loses nothing: the lease lapses, another worker takes it ----
expect_ok "$CELLA" app run "$SLOW" --tag tee,scone --args 4 --wallet-file "$(W req)"
T4=$(awk '/^task / {print $2}' "$TMP/.out")
setsid "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
  --sim-dir "$TMP/stack/sim" --lease 3 >> "$TMP/worker-killed.log" 2>&1 &
KPID=$!
on_exit "kill -9 -- -$KPID 2>/dev/null || true" # a failure before the kill leaves it running
for _ in $(seq 300); do [[ -n "$(task_field "$T4" lease)" ]] && break; sleep 0.1; done
[[ -n "$(task_field "$T4" lease)" ]] || fail "the first worker leased T4"
sleep 0.5
kill -9 -- "-$KPID" 2>/dev/null || kill -9 "$KPID"
wait "$KPID" 2>/dev/null || true
[[ $(task_field "$T4" status) == ACTIVE ]] || fail "T4 finished before the kill: $(task_field "$T4" status) $(task_field "$T4" error)"
sleep 3.5 # the lease lapses
worker_once || fail "worker"
[[ $(task_field "$T4" status) == COMPLETED ]] || { tail "$TMP/worker.log" >&2; fail "T4 not taken over: $(task_field "$T4" error)"; }
ok

# ---- an app cannot reach out of /iexec_out, nor stall its enclave ----
# (review: the digest followed symlinks the app made in /iexec_out, so its
# error told the requester which host paths exist; a FIFO named by or as
# computed.json blocked the enclave, its worker slot and the lease forever)
cd "$TMP/dev"
mkdir evil
cat > evil/evil <<'EOF'
#!/bin/sh
echo out > "$IEXEC_OUT/out.txt"
case "$1" in
  probe) ln -s / "$IEXEC_OUT/l"
         echo "{\"deterministic-output-path\": \"/iexec_out/l/$2\"}" > "$IEXEC_OUT/computed.json" ;;
  fifo-computed) mkfifo "$IEXEC_OUT/computed.json" ;;
  fifo-output) mkfifo "$IEXEC_OUT/f"
         echo '{"deterministic-output-path": "/iexec_out/f"}' > "$IEXEC_OUT/computed.json" ;;
  # a string doubled to 128 MiB: past the manifest's heap_mb (64)
  hog) awk 'BEGIN { s = "x"; while (length(s) < 100000000) s = s s; print length(s) }' > "$IEXEC_OUT/out.txt" || exit 3
       echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json" ;;
  nap) sleep 30 ;;
  # only iExec's variables (and those the manifest lists: here iExec's too) reach the app
  env) for v in $(env | cut -d= -f1); do
         case "$v" in IEXEC_*|PWD|OLDPWD|SHLVL|_) ;; *) echo "not entitled: $v" >&2; exit 4 ;; esac
       done
       env | grep -q canary-5e0b && exit 5
       echo "environment checked" > "$IEXEC_OUT/out.txt"
       echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json" ;;
esac
EOF
chmod 755 evil/evil
sed 's/"wordcount"/"evil"/' wc/cella-app.json > evil/cella-app.json
EVIL=$(publish_app evil evil) || fail "publish evil"
cd "$TMP/req"
evil_task() { # ARGS [WORKER-ARGS...] -> prints the task's error
  "$CELLA" app run "$EVIL" --tag tee,scone --args "$1" --wallet-file "$(W req)" > run.out || return 1
  local t; t=$(awk '/^task / {print $2}' run.out)
  timeout 60 "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
    --sim-dir "$TMP/stack/sim" --once --lease 3 "${@:2}" >> "$TMP/worker.log" 2>&1 || { echo "worker: $?"; return 0; }
  [[ $(task_field "$t" status) == ACTIVE ]] || echo "status $(task_field "$t" status)"
  task_field "$t" error
}
E1=$(evil_task "probe etc/hostname")
E2=$(evil_task "probe no/such/file")
grep -q 'symbolic link' <<<"$E1" || fail "a link out of /iexec_out: $E1"
[[ "${E1% (*}" == "${E2% (*}" ]] || fail "the error tells which host paths exist: '$E1' vs '$E2'"
[[ "$E1" != *"$TMP"* ]] || fail "the error names a host folder: $E1"
ok
E3=$(evil_task fifo-computed)
grep -q 'computed.json' <<<"$E3" || fail "a FIFO as computed.json: $E3"
E4=$(evil_task fifo-output)
grep -q 'neither a file nor a folder' <<<"$E4" || fail "a FIFO as the deterministic output: $E4"
ok

# ---- the manifest is law: heap_mb is a memory limit, the worker's --timeout a time limit ----
E5=$(evil_task hog)
# As root with a cgroup memory controller (v2, else v1) the worker's sandbox
# knows the app was killed at the limit; with only rlimits it cannot tell.
cgroup_usable() {
  [[ $(id -u) == 0 ]] || return 1
  if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] &&
     grep -qw memory /sys/fs/cgroup/cgroup.controllers; then return 0; fi
  awk '/ - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == "memory") f = 1 }
       END { exit !f }' /proc/self/mountinfo
}
if cgroup_usable; then
  grep -q 'memory limit heap_mb=64 exceeded' <<<"$E5" || fail "an app past heap_mb (cgroup): $E5"
else
  grep -q 'under its memory limit heap_mb=64' <<<"$E5" || fail "an app past heap_mb (rlimits): $E5"
fi
E6=$(evil_task nap --timeout 2)
grep -q 'time limit of 2 s exceeded' <<<"$E6" || fail "an app past the time limit: $E6"
export CELLA_SECRET_CANARY=canary-5e0b   # in the worker's environment
E7=$(evil_task env)
unset CELLA_SECRET_CANARY
[[ $E7 == "status COMPLETED" ]] || fail "the app saw variables it is not entitled to: $E7"
ok

# ---- Ctrl-C on a worker: it finishes the task it runs, and so does its enclave ----
# (review: the terminal's SIGINT reached `cella run-task` too, which died of it)
expect_ok "$CELLA" app run "$SLOW" --tag tee,scone --args 2 --wallet-file "$(W req)"
T5=$(awk '/^task / {print $2}' "$TMP/.out")
setsid "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
  --sim-dir "$TMP/stack/sim" --lease 3 >> "$TMP/worker-int.log" 2>&1 &
IPID=$!
on_exit "kill -9 -- -$IPID 2>/dev/null || true"
for _ in $(seq 100); do [[ -n "$(task_field "$T5" lease)" ]] && break; sleep 0.1; done
[[ -n "$(task_field "$T5" lease)" ]] || fail "the worker leased T5"
sleep 0.5
kill -INT -- "-$IPID" # what a terminal does: the whole process group
timeout 30 tail --pid="$IPID" -f /dev/null || { kill -9 -- "-$IPID"; fail "the worker did not stop on SIGINT"; }
[[ $(task_field "$T5" status) == COMPLETED ]] || { cat "$TMP/worker-int.log" >&2; fail "T5 after Ctrl-C: $(task_field "$T5" error)"; }
ok

# ---- app run checks its flags before building the order book query ----
# (review: a long --workerpool with --category wrote past the query buffer)
LONG=$(printf 'a%.0s' $(seq 700))
expect_fail '\(--workerpool\)' "$CELLA" app run "$APP" --workerpool "$LONG" --category 0 --wallet-file "$(W req)"
expect_fail '\(--category\)' "$CELLA" app run "$APP" --category "0&workerpool=x" --wallet-file "$(W req)"
expect_fail '\(--dataset\)' "$CELLA" app run "$APP" --dataset "$LONG" --wallet-file "$(W req)"

# ---- cella up stops cleanly ----
kill -INT "$UP_PID"
wait "$UP_PID" || fail "cella up exited non-zero on SIGINT"
UP_PID=""
grep -q '^stopped' "$TMP/up.log" || fail "cella up did not say it stopped"
ok

# ---- the blob store moves: what was recorded by URL is found by its SHA-256 ----
# The stack again, on other ports: T1's result, the dataset and the app bundle
# are recorded with the old blob store's URL, which nothing serves any more.
cd "$TMP"
start_up up2.log --data stack --listen-base 0 --slots 0
BLOBS2=$(sed -n 's/^blobs *//p' up2.log)
HUB2=$(sed -n 's/^hub *\([^ ]*\).*/\1/p' up2.log)
CAS2=$(sed -n 's/^cas *\([^ ]*\).*/\1/p' up2.log)
[[ $BLOBS2 != "$BLOBS" ]] || fail "the blob store did not move"
curl -s -m 5 -o /dev/null "$BLOBS/v1/health" && fail "the old blob store still answers"
cd "$TMP/req"
# the requester's project file now names the new stack (as a fresh copy of cella.json would)
json_set hubUrl "\"$HUB2\""
json_set blobsUrl "\"$BLOBS2\""
json_set cas "{\"url\": \"$CAS2\", \"fingerprint\": \"$(python3 -c 'import json;print(json.load(open("cella.json"))["cas"]["fingerprint"])')\"}"
HUB=$HUB2
[[ $(task_field "$T1" results) == "$BLOBS"/v1/blobs/* ]] || fail "T1's result is not recorded at the old store"
expect_ok "$CELLA" result download "$T1" -o moved.zip
cmp moved.zip result.zip || fail "T1's result downloaded after the move differs"
# --blobs names the store too; a store without the blob, and a dead recorded URL: not found
expect_ok "$CELLA" result download "$T1" -o moved2.zip --blobs "$BLOBS2"
cmp moved2.zip result.zip || fail "T1's result (--blobs) differs"
start_blobs --log empty-blobs.log
expect_fail "$T1|not found|no such blob|refused|connect" "$CELLA" result download "$T1" -o none.zip --blobs "$BLOBS_URL"
[[ ! -e none.zip ]] || fail "a failed download left a file"
# a new worker (empty cache) fetches the app bundle and the dataset by their SHA-256
expect_ok "$CELLA" app run "$APP" --dataset "$DS" --tag tee,scone --args 2 --wallet-file "$(W req)"
T10=$(awk '/^task / {print $2}' "$TMP/.out")
"$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk2" \
  --sim-dir "$TMP/stack/sim" --once --lease 3 >> "$TMP/worker2.log" 2>&1 || { cat "$TMP/worker2.log" >&2; fail "worker after the move"; }
[[ $(task_field "$T10" status) == COMPLETED ]] || fail "T10 after the move: $(task_field "$T10" error)"
expect_ok "$CELLA" result download "$T10" -o t10.zip
ok

# ---- a dataset at a plain http URL (iExec's multiaddr): fetched there, checked by its checksum ----
mkdir "$TMP/www"
python3 -u -m http.server --bind 127.0.0.1 --directory "$TMP/www" 0 > "$TMP/www.log" 2>&1 &
WWW_PID=$!
_SERVERS+=("$WWW_PID")
for _ in $(seq 100); do grep -q 'port [0-9]' "$TMP/www.log" && break; sleep 0.05; done
WWW_URL=http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$TMP/www.log" | head -1)
cd "$TMP/owner"
json_set hubUrl "\"$HUB2\""
json_set blobsUrl "\"$BLOBS2\""
json_set cas "$(python3 -c 'import json;print(json.dumps(json.load(open("../req/cella.json"))["cas"]))')"
DSW=$(publish_dataset web "web words on the web" apprestrict="$APP") || fail "publish a web dataset"
WWW_URL=""
cd "$TMP/req"
expect_ok "$CELLA" app run "$APP" --dataset "$DSW" --tag tee,scone --args 2 --wallet-file "$(W req)"
T11=$(awk '/^task / {print $2}' "$TMP/.out")
"$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk2" \
  --sim-dir "$TMP/stack/sim" --once --lease 3 >> "$TMP/worker2.log" 2>&1 || { cat "$TMP/worker2.log" >&2; fail "worker (web dataset)"; }
[[ $(task_field "$T11" status) == COMPLETED ]] || fail "T11 on a web dataset: $(task_field "$T11" error)"
# the web server's copy changed: a worker without it cached refuses it
python3 -c "import sys;f=open(sys.argv[1],'r+b');f.seek(5);b=f.read(1);f.seek(5);f.write(bytes([b[0]^1]))" "$TMP/www/web.enc"
expect_ok "$CELLA" app run "$APP" --dataset "$DSW" --tag tee,scone --args 2 --wallet-file "$(W req)"
T12=$(awk '/^task / {print $2}' "$TMP/.out")
"$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk3" \
  --sim-dir "$TMP/stack/sim" --once --lease 3 >> "$TMP/worker2.log" 2>&1 || true
[[ $(task_field "$T12" status) != COMPLETED ]] || fail "T12 completed on a changed web dataset"
task_field "$T12" error | grep -q "downloaded bytes do not match the SHA-256 (dataset $DSW)" ||
  fail "T12 reason: $(task_field "$T12" error)"
ok
stop_server "$WWW_PID"
stop_up
finish
