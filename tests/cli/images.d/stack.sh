# Shared by tests/cli/images*.sh (source it after lib.sh): `cella up` with
# the sim TEE and no worker (worker_once runs the tasks, one at a time, so
# each step is deterministic), three parties (owner, dev, req) each with a
# wallet and a cella.json, and the steps of an image app's life:
#   publish_image IMAGE NAME       import, measure, pack, put, deploy, publish
#                                  (APP: its address; BUNDLE: the imported dir)
#   sell_dataset FILE APP          encrypt, deploy, push its key, sell to APP
#                                  (DS: its address)
#   run_task APP ARGS...           `cella app run` as req, then one worker pass;
#                                  the task must complete (TASK: its id)
#   result_file TASK NAME          the requester downloads and decrypts TASK's
#                                  result; NAME from its zip goes to stdout
SRC=${CELLA_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
export XDG_CONFIG_HOME=$TMP/config
start_market   # lib.sh: INIT, BLOBS, HUB, POOL, POOL_WALLET
for who in owner dev req; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null) || fail "set up $who"
  new_wallet "$who"
done
(cd "$TMP/req" && "$CELLA" result generate-encryption-keypair --address "$(A req)" >/dev/null 2>&1 &&
  "$CELLA" result push-encryption-key --wallet-file "$(W req)" >/dev/null 2>&1) || fail "requester's result key"
ok

worker_once() {
  "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
    --sim-dir "$TMP/stack/sim" --once --lease 3 >> "$TMP/worker.log" 2>&1
}
task_field() { # TASK FIELD
  "$CELLA" task show "$1" --hub-url "$HUB" |
    python3 -c 'import json,sys;v=json.load(sys.stdin).get(sys.argv[1]);print("" if v is None else v)' "$2"
}

publish_image() { # IMAGE NAME
  cd "$TMP/dev"
  expect_ok "$CELLA" app import "$1" "$2.bundle"
  BUNDLE=$TMP/dev/$2.bundle
  expect_ok "$CELLA" app measure "$BUNDLE"
  local m; m=$(cat "$TMP/.out")
  expect_ok "$CELLA" app pack "$BUNDLE" -o "$2.tar"
  local sum; sum=$(cut -d' ' -f1 "$TMP/.out")
  expect_ok "$CELLA" blobs put "$2.tar"
  expect_ok "$CELLA" app deploy --name "$2" --multiaddr "$(cut -d' ' -f2 "$TMP/.out")" --checksum "$sum" \
    --measurement "$m" --wallet-file "$(W dev)"
  APP=$(cat "$TMP/.out")
  expect_ok "$CELLA" order init --app --tag tee,scone --set volume=100,app="$APP"
  expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
  expect_ok "$CELLA" order publish --app
  cd "$TMP"
}

sell_dataset() { # FILE APP
  cd "$TMP/owner"
  rm -rf datasets .secrets
  "$CELLA" dataset init --encrypted >/dev/null 2>&1 || fail "dataset init"
  cp "$1" datasets/original/
  expect_ok "$CELLA" dataset encrypt --format iexec
  local enc sum; enc=$(awk 'NR==1 {print $1}' "$TMP/.out"); sum=$(awk 'NR==1 {print $2}' "$TMP/.out")
  expect_ok "$CELLA" blobs put "$enc"
  expect_ok "$CELLA" dataset deploy --name "$(basename "$1")" --multiaddr "$(cut -d' ' -f2 "$TMP/.out")" \
    --checksum "$sum" --wallet-file "$(W owner)"
  DS=$(cat "$TMP/.out")
  expect_ok "$CELLA" dataset push-secret "$DS" --wallet-file "$(W owner)"
  expect_ok "$CELLA" order init --dataset --set volume=100,apprestrict="$2"
  expect_ok "$CELLA" order sign --dataset --wallet-file "$(W owner)"
  expect_ok "$CELLA" order publish --dataset
  cd "$TMP"
}

run_task() { # APP ARGS...
  cd "$TMP/req"
  expect_ok "$CELLA" app run "$@" --tag tee,scone --wallet-file "$(W req)"
  TASK=$(awk '/^task / {print $2}' "$TMP/.out")
  [[ -n $TASK ]] || fail "app run printed no task"
  worker_once || { tail -20 "$TMP/worker.log" >&2; fail "worker"; }
  [[ $(task_field "$TASK" status) == COMPLETED ]] ||
    { tail -20 "$TMP/worker.log" >&2; fail "task $TASK: $(task_field "$TASK" status) $(task_field "$TASK" error)"; }
  ok
  cd "$TMP"
}

result_file() { # TASK NAME
  (cd "$TMP/req" &&
    { [[ -f "$1-results.zip" ]] ||   # once per task
      { "$CELLA" result download "$1" -o "$1.zip" >/dev/null 2>&1 &&
        "$CELLA" result decrypt "$1.zip" -o "$1-results.zip" >/dev/null 2>&1; }; } &&
    python3 -c 'import sys,zipfile;sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())' \
      "$1-results.zip" "$2") || fail "result $2 of $1"
}
