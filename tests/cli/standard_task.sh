#!/usr/bin/env bash
# Standard tasks (a deal whose tag has no TEE bit) end to end on `cella up`:
# the worker runs the app in the sandbox without attestation or secrets, with
# iExec's public variables, its input file and a plain dataset in /iexec_in;
# the result is /iexec_out zipped, readable without any key, its digest iExec's
# (SHA-256 of the deterministic output), contributed without enclave. Refused
# with their reason: an encrypted dataset (its key is in cas) and result
# encryption (not supported for standard tasks, as in iExec's worker). The
# hub's refusal of a contribution without enclave for a TEE deal is market.sh's
# ("a non-TEE worker cannot finish a TEE task") and test_hub_task's.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$TMP/config
. "$(dirname "$0")/hub.d/orders.sh"   # set_fields
. "$(dirname "$0")/hub.d/up_app.sh"   # publish_bundle
start_market
for who in owner dev req; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null) || fail "set up $who"
  new_wallet "$who"
done
json_set() { # KEY JSON (in ./cella.json)
  python3 -c 'import json,sys;c=json.load(open("cella.json"));c[sys.argv[1]]=json.loads(sys.argv[2]);json.dump(c,open("cella.json","w"))' "$1" "$2"
}
worker_once() {
  "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
    --sim-dir "$TMP/stack/sim" --once --lease 5 "$@" >> "$TMP/worker.log" 2>&1
}
task_field() { # TASK FIELD
  "$CELLA" task show "$1" --hub-url "$HUB" | python3 -c 'import json,sys;v=json.load(sys.stdin).get(sys.argv[1]);print("" if v is None else v)' "$2"
}
run_task() { # app run args...: TASK gets the task id (no TEE tag unless given)
  expect_ok "$CELLA" app run "$APP" --tag 0x0 "$@" --wallet-file "$(W req)"
  TASK=$(awk '/^task / {print $2}' "$TMP/.out")
  [[ "$TASK" =~ ^0x[0-9a-f]{64}$ ]] || fail "app run printed no task id: $(cat "$TMP/.out")"
}

# ---- an app without TEE tag: prints what it was given ----
cd "$TMP/dev"
mkdir echo
cat > echo/echo <<'EOF2'
#!/bin/sh
{
  echo "args: $*"
  echo "task $IEXEC_TASK_ID index $IEXEC_TASK_INDEX bot $IEXEC_BOT_SIZE first $IEXEC_BOT_FIRST_INDEX"
  echo "inputs $IEXEC_INPUT_FILES_NUMBER in $IEXEC_IN out $IEXEC_OUT"
  [ -z "${IEXEC_INPUT_FILE_NAME_1:-}" ] || cat "$IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1"
  [ -z "${IEXEC_DATASET_FILENAME:-}" ] || cat "$IEXEC_IN/$IEXEC_DATASET_FILENAME"
  env | grep -E '^(IEXEC_INPUT_FILE_URL|IEXEC_DATASET_KEY|SIGN_|RESULT_ENCRYPTION|IEXEC_REQUESTER_SECRET)' | sed 's/^/seen: /'
} > "$IEXEC_OUT/out.txt"
echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
EOF2
chmod 755 echo/echo
publish_bundle dev echo

# ---- a plain dataset, and an encrypted one (its key pushed to cas) ----
cd "$TMP/owner"
publish_dataset() { # NAME FILE [push] -> DSADDR
  expect_ok "$CELLA" blobs put "$2" --url "$BLOBS"
  json_set dataset "{\"name\": \"$1\", \"multiaddr\": \"$(awk '{print $2}' "$TMP/.out")\", \"checksum\": \"0x$(sha256sum "$2" | cut -c1-64)\"}"
  expect_ok "$CELLA" dataset deploy --wallet-file "$(W owner)"
  DSADDR=$(cat "$TMP/.out")
  if [[ ${3:-} == push ]]; then
    printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' > "$1.key"
    expect_ok "$CELLA" dataset push-secret "$DSADDR" --key-file "$1.key" --wallet-file "$(W owner)"
  fi
  expect_ok "$CELLA" order init --dataset
  set_fields owner datasetorder dataset="$DSADDR" volume=100
  expect_ok "$CELLA" order sign --dataset --wallet-file "$(W owner)"
  expect_ok "$CELLA" order publish --dataset
}
printf 'plain dataset bytes\n' > plain.txt
publish_dataset plain plain.txt
PLAIN=$DSADDR
printf 'ciphertext, as far as anyone knows\n' > secret.bin
publish_dataset secret secret.bin push
SECRET=$DSADDR

# ---- a standard task with args, an input file and the plain dataset ----
cd "$TMP/req"
printf 'input file bytes\n' > input.txt
expect_ok "$CELLA" blobs put input.txt --url "$BLOBS"
INPUT_URL=$(awk '{print $2}' "$TMP/.out")
run_task --args "one 'two three'" --dataset "$PLAIN" --input-files "$INPUT_URL" --no-result-encryption
T1=$TASK
[[ $(task_field "$T1" tag) == 0x$(printf '0%.0s' $(seq 64)) ]] || fail "the deal has a TEE tag"
worker_once || { cat "$TMP/worker.log" >&2; fail "worker"; }
[[ $(task_field "$T1" status) == COMPLETED ]] ||
  { cat "$TMP/worker.log" >&2; fail "T1 not completed: $(task_field "$T1" error)"; }
[[ -z $(task_field "$T1" tee) ]] || fail "a standard task recorded a TEE kind: $(task_field "$T1" tee)"
expect_ok "$CELLA" result download "$T1" -o r1.zip
# readable as it is: a zip, no decryption
python3 - r1.zip "$T1" "$(task_field "$T1" resultDigest)" <<'PY' || fail "the standard result"
import hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
out = z.read("out.txt")
t = out.decode()
assert "args: one two three\n" in t, t
assert "task %s index 0 bot 1 first 0\n" % sys.argv[2] in t, t
assert "inputs 1 in /iexec_in out /iexec_out\n" in t, t
assert "input file bytes\n" in t, t
assert "plain dataset bytes\n" in t, t
assert "seen:" not in t, t          # no secret, no URL for the app, no result key
assert "computed.json" in z.namelist(), z.namelist()
# iExec's web2 result digest: SHA-256 of the deterministic output file
assert sys.argv[3] == "0x" + hashlib.sha256(out).hexdigest(), (sys.argv[3], hashlib.sha256(out).hexdigest())
PY
ok

# ---- iExec's environment in a standard task, variable by variable ----
# (task_env.d's app and checker: docs/worker.md's table, the standard column:
# the same public variables as a TEE task, no secret, no pre-compute variable)
SRC=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
if command -v cc >/dev/null; then
  mkdir "$TMP/dev/envdump"
  cc -std=c17 -O2 -o "$TMP/dev/envdump/envdump" "$SRC/tests/cli/task_env.d/envdump.c" || fail "compile envdump"
  ENVAPP_SAVED=$APP
  publish_bundle dev envdump
  cd "$TMP/req"
  run_task --dataset "$PLAIN" --input-files "$INPUT_URL" --args "a b" --no-result-encryption
  TE=$TASK
  DEAL=$(awk '/^deal / {print $2}' "$TMP/.out")
  worker_once || { cat "$TMP/worker.log" >&2; fail "worker"; }
  [[ $(task_field "$TE" status) == COMPLETED ]] || fail "envdump: $(task_field "$TE" error)"
  expect_ok "$CELLA" result download "$TE" -o te.zip
  mkdir te.d && (cd te.d && python3 -m zipfile -e ../te.zip .) || fail "unzip the result"
  python3 -c 'import json,sys; json.dump({"tee": False, "deal": sys.argv[1], "task": sys.argv[2], "idx": 0, "bot_size": 1, "bot_first": 0, "dataset": sys.argv[3], "inputs": [sys.argv[4]], "dev_secret": None, "req_secrets": {}}, open("te.d/facts.json", "w"))' \
    "$DEAL" "$TE" "$PLAIN" "$INPUT_URL"
  python3 "$SRC/tests/cli/task_env.d/check.py" "$SRC/docs/worker.md" te.d/facts.json te.d/env.bin te.d/in.txt > te.check ||
    { cat te.check >&2; fail "the standard task's environment is not the table's"; }
  APP=$ENVAPP_SAVED
  ok
fi

# ---- refused with its reason: an encrypted dataset, result encryption ----
run_task --dataset "$SECRET" --no-result-encryption
T2=$TASK
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A req)"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W req)"
run_task
T3=$TASK
worker_once || { cat "$TMP/worker.log" >&2; fail "worker"; }
[[ $(task_field "$T2" status) == ACTIVE ]] || fail "T2 ran on an encrypted dataset"
task_field "$T2" error | grep -q "the dataset is encrypted (its key is in cas): a standard task gets no key.*(dataset $SECRET)" ||
  fail "T2 reason: $(task_field "$T2" error)"
[[ ! -e $TMP/wk/datasets/$(sha256sum "$TMP/owner/secret.bin" | cut -c1-64) ]] ||
  fail "the encrypted dataset was fetched before the refusal"
[[ $(task_field "$T3" status) == ACTIVE ]] || fail "T3 ran with result encryption"
task_field "$T3" error | grep -q "result encryption is not supported for standard tasks.*(params.iexec_result_encryption)" ||
  fail "T3 reason: $(task_field "$T3" error)"
ok

