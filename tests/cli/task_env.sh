#!/usr/bin/env bash
# iExec's runtime contract, variable by variable: an app that dumps its
# environment (task_env.d/envdump.c) runs as TEE tasks on `cella up` (sim),
# without dataset, input files or secrets, then with all of them, then with
# input files only; task_env.d/check.py compares each dump with the table of
# docs/worker.md ("The app's environment"): every variable the table gives in
# that case with its value, nothing else, no pre-compute variable
# (IEXEC_INPUT_FILE_URL_<n>, IEXEC_DATASET_URL/CHECKSUM/KEY), and /iexec_in
# holding the dataset and input files under the names the variables give.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$TMP/config
SRC=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
D=$SRC/tests/cli/task_env.d
command -v cc >/dev/null || skip "no C compiler for the test app"
start_market
for who in owner dev req; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null) || fail "set up $who"
  new_wallet "$who"
done
ok

# ---- the app developer: the environment dump, as a directory bundle ----
cd "$TMP/dev"
mkdir envdump
cc -std=c17 -O2 -o envdump/envdump "$D/envdump.c" || fail "compile envdump"
printf '{"entrypoint": "envdump", "args": [], "heap_mb": 64, "stack_kb": 8192, "env": [], "host_files": [], "runtime": "cella-runtime-1"}\n' \
  > envdump/cella-app.json
expect_ok "$CELLA" app pack envdump -o envdump.tar
SUM=$(awk '{print $1}' "$TMP/.out")
expect_ok "$CELLA" blobs put envdump.tar --url "$BLOBS"
expect_ok "$CELLA" app deploy --name envdump --multiaddr "$(awk '{print $2}' "$TMP/.out")" \
  --checksum "$SUM" --measurement "$("$CELLA" app measure envdump)" --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --app --tag tee,scone --set volume=100
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app

# ---- the data owner: an encrypted dataset for this app ----
cd "$TMP/owner"
expect_ok "$CELLA" dataset init --encrypted
printf 'the dataset' > datasets/original/data.txt
expect_ok "$CELLA" dataset encrypt --format iexec
read -r ENC CHECKSUM < <(head -n 1 "$TMP/.out")
expect_ok "$CELLA" blobs put "$ENC" --url "$BLOBS"
expect_ok "$CELLA" dataset deploy --name data --multiaddr "$(awk '{print $2}' "$TMP/.out")" \
  --checksum "$CHECKSUM" --wallet-file "$(W owner)"
DS=$(cat "$TMP/.out")
expect_ok "$CELLA" dataset push-secret "$DS" --wallet-file "$(W owner)"
expect_ok "$CELLA" order init --dataset --set volume=100,apprestrict="$APP"
expect_ok "$CELLA" order sign --dataset --wallet-file "$(W owner)"
expect_ok "$CELLA" order publish --dataset
ok

# ---- the requester ----
cd "$TMP/req"
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A req)"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W req)"
printf 'one' > in1.txt; printf 'two' > in2.txt
IN1=$("$CELLA" blobs put in1.txt --url "$BLOBS" | awk '{print $2}')
IN2=$("$CELLA" blobs put in2.txt --url "$BLOBS" | awk '{print $2}')
[[ $IN1 == http://* && $IN2 == http://* ]] || fail "input file URLs: $IN1 $IN2"

worker_once() {
  "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
    --sim-dir "$TMP/stack/sim" --once --lease 3 >> "$TMP/worker.log" 2>&1
}
task_status() {
  "$CELLA" task show "$1" --hub-url "$HUB" | python3 -c 'import json,sys;j=json.load(sys.stdin);print(j.get("status"), j.get("error") or "")'
}
# run_case NAME DATASET INPUTS DEV_SECRET REQ_SECRETS_JSON [app run args...]: runs every
# task of the deal and checks each task's environment against the table
run_case() {
  local name=$1 ds=$2 inputs=$3 dev=$4 reqs=$5; shift 5
  expect_ok "$CELLA" app run "$APP" --tag tee,scone --wallet-file "$(W req)" "$@"
  local deal tasks idx=0 t
  deal=$(awk '/^deal / {print $2}' "$TMP/.out")
  mapfile -t tasks < <(awk '/^task / {print $2}' "$TMP/.out")
  for t in "${tasks[@]}"; do worker_once || { cat "$TMP/worker.log" >&2; fail "worker"; }; done
  for t in "${tasks[@]}"; do
    [[ $(task_status "$t") == COMPLETED* ]] || { tail -n 20 "$TMP/worker.log" >&2; fail "$name: $t $(task_status "$t")"; }
    expect_ok "$CELLA" result download "$t" -o "$t.zip"
    expect_ok "$CELLA" result decrypt "$t.zip" -o "$t-results.zip" --force
    rm -rf "$t.d" && mkdir "$t.d" && (cd "$t.d" && python3 -m zipfile -e "../$t-results.zip" .) ||
      fail "$name: unzip the result"
    python3 - "$t.d/facts.json" "$deal" "$t" "$idx" "${#tasks[@]}" "$ds" "$inputs" "$dev" "$reqs" <<'PY'
import json, sys
out, deal, task, idx, size, ds, inputs, dev, reqs = sys.argv[1:]
json.dump({"tee": True, "deal": deal, "task": task, "idx": int(idx), "bot_size": int(size),
           "bot_first": 0, "dataset": ds or None, "inputs": inputs.split(",") if inputs else [],
           "dev_secret": dev or None, "req_secrets": json.loads(reqs)}, open(out, "w"))
PY
    python3 "$D/check.py" "$SRC/docs/worker.md" "$t.d/facts.json" "$t.d/env.bin" "$t.d/in.txt" > "$t.check" ||
      { cat "$t.check" >&2; fail "$name: task $idx's environment is not the table's"; }
    idx=$((idx + 1))
    ok
  done
}

# no dataset, no input files, no secret: the dataset variables are the zero address
run_case bare "" "" "" '{}'
# then the developer pushes a secret (given under both names) and the requester two
cd "$TMP/dev"
printf 'dev s3cret' > dev.secret
expect_ok "$CELLA" app push-secret "$APP" --secret-file dev.secret --wallet-file "$(W dev)"
cd "$TMP/req"
printf 'first s3cret' > s1; printf 'third s3cret\nline 2' > s3
expect_ok "$CELLA" requester push-secret one --secret-file s1 --wallet-file "$(W req)"
expect_ok "$CELLA" requester push-secret three --secret-file s3 --wallet-file "$(W req)"
# a dataset, two input files, secrets 1 and 3, a bag of two tasks
run_case full "$DS" "$IN1,$IN2" "dev s3cret" '{"1": "first s3cret", "3": "third s3cret\nline 2"}' \
  --dataset "$DS" --input-files "$IN1,$IN2" --secret 1=one,3=three --args "a b" --volume 2
# input files without a dataset
run_case inputs "" "$IN2" "dev s3cret" '{}' --input-files "$IN2"
! grep -rq 'dev s3cret\|first s3cret\|third s3cret' "$TMP/stack/logs" "$TMP/worker.log" ||
  fail "a secret reached a log"
ok
finish
