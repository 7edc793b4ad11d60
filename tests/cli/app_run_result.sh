#!/usr/bin/env bash
# cella app run --download --decrypt: from the fill to the decrypted result in
# one command, on `cella up` with its worker (sim TEE). The files are those
# `cella task show --download --decrypt` makes for the same task, byte for
# byte. Refused, each with one error line and nothing written: a missing
# beneficiary key or an output that exists (before anything is bought), a key
# that is not the beneficiary's (after the task completed: the encrypted
# result is kept, the decrypted file never appears), and a task that fails.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$TMP/config
start_market --slots 1
ok

mkdir dev req other
for who in dev req other; do
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null) || fail "init $who"
done
new_wallet dev req
# ---- the app: "hello ARG" in out.txt; with ARG "fail", exits 3 without a result ----
cd "$TMP/dev"
mkdir app
cat > app/hello <<'EOF'
#!/bin/sh
[ "$1" = fail ] && { echo "failing on purpose" >&2; exit 3; }
echo "hello $1" > "$IEXEC_OUT/out.txt"
echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
EOF
chmod 755 app/hello
echo '{"entrypoint": "hello", "args": [], "heap_mb": 16, "stack_kb": 1024, "env": [], "host_files": [], "runtime": "cella-runtime-1"}' > app/cella-app.json
"$CELLA" app pack app -o app.tar > pack 2>/dev/null || fail "app pack"
"$CELLA" blobs put app.tar --url "$BLOBS" > put || fail "blobs put"
python3 - "$(awk '{print $2}' put)" "$(awk '{print $1}' pack)" "$("$CELLA" app measure app)" <<'PY'
import json, sys
c = json.load(open("cella.json"))
c["app"] = {"name": "hello", "type": "DOCKER", "multiaddr": sys.argv[1], "checksum": sys.argv[2], "measurement": sys.argv[3]}
json.dump(c, open("cella.json", "w"))
PY
APP=$("$CELLA" app deploy --wallet-file "$(W dev)" 2>/dev/null) || fail "app deploy"
expect_ok "$CELLA" order init --app --tag tee,scone --set app="$APP",volume=100
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app

cd "$TMP/req"
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A req)"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W req)"
run() { "$CELLA" app run "$APP" --tag tee,scone --wallet-file "$(W req)" "$@"; }
requests() { # request orders of req the book holds, open or not
  "$CELLA" order book --kind requestorder --requester "$(A req)" --all |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["count"])'
}
# only_error PATTERN: the command that just ran (stdout .out, stderr .err, as
# `run_to` leaves them) failed with one error line matching PATTERN
run_to() { "$@" > "$TMP/.out" 2> "$TMP/.err" && fail "expected failure: $*"; return 0; }
only_error() {
  [[ $(grep -c '^cella: error: ' "$TMP/.err") == 1 ]] && grep -Eq "$1" "$TMP/.err" ||
    { cat "$TMP/.err" >&2; fail "expected one error line matching /$1/"; }
  ok
}

# ---- one command: the same files as task show --download --decrypt ----
expect_ok run --args one --download -o one.zip --decrypt --decrypted one-results.zip
T1=$(awk '/^task / {print $2}' "$TMP/.out")
[[ $T1 =~ ^0x[0-9a-f]{64}$ ]] || fail "app run printed no task id"
grep -q "^task $T1: COMPLETED" "$TMP/.err" && grep -q '^cella: result decrypted to one-results.zip$' "$TMP/.err" ||
  { cat "$TMP/.err" >&2; fail "app run did not follow the task to its decrypted result"; }
expect_ok "$CELLA" task show "$T1" --download -o shown.zip --decrypt --decrypted shown-results.zip
cmp one.zip shown.zip && cmp one-results.zip shown-results.zip || fail "app run's result differs from task show's"
python3 -c 'import sys,zipfile;t=zipfile.ZipFile(sys.argv[1]).read("out.txt").decode();sys.exit(t!="hello one\n")' \
  one-results.zip || fail "the decrypted result is not the app's"
[[ $(stat -c %a one-results.zip) == 600 ]] || fail "the decrypted result is readable by others"
ok
# the defaults (<taskid>.zip, results.zip) and --json, as task show
expect_ok run --args two --decrypt --json
T2=$(python3 -c 'import json,sys;j=json.load(sys.stdin);print(j["tasks"][-1]);assert j["decrypted"]=="results.zip" and j["file"]==j["tasks"][-1]+".zip"' < "$TMP/.out") ||
  fail "app run --json: $(cat "$TMP/.out")"
[[ -s "$T2.zip" && -s results.zip ]] || fail "the default files"
ok

# ---- refused before anything is bought: no key, an output that exists ----
n=$(requests)
run_to run --decrypt --key "$TMP/nosuch_key" --decrypted none.zip
only_error "cannot read the beneficiary key: No such file or directory .*\($TMP/nosuch_key\)"
run_to run --decrypt --secrets-dir "$TMP/other" --decrypted none.zip
only_error "beneficiary key folder missing .*\($TMP/other/beneficiary\)"
run_to run --decrypt --decrypted one-results.zip
only_error 'output already exists \(not overwritten\) \(one-results.zip\)'
run_to run --download -o one.zip
only_error 'output already exists \(not overwritten\) \(one.zip\)'
run_to run --download --volume 2
only_error 'one task: not with --volume 2'
[[ $(requests) == "$n" ]] || fail "a refused run published a request order"
[[ ! -e none.zip && ! -s "$TMP/.out" ]] || fail "a refused run wrote something"
ok

# ---- a key that is not the beneficiary's: the task runs, nothing is decrypted ----
(cd "$TMP/other" && "$CELLA" result generate-encryption-keypair --address "$(A dev)" >/dev/null 2>&1) ||
  fail "another keypair"
OTHER_KEY=$(ls "$TMP"/other/.secrets/beneficiary/*_key)
run_to run --download -o wrong.zip --decrypt --decrypted wrong-results.zip --key "$OTHER_KEY"
only_error "\($OTHER_KEY\)"
grep -q '^cella: result downloaded to wrong.zip$' "$TMP/.err" || fail "the encrypted result was not kept"
[[ -z $(ls -A | grep wrong-results) ]] || fail "a failed decrypt left a file: $(ls -A | grep wrong-results)"
ok

# ---- a task that fails: its reason, no file ----
run_to run --args fail --download -o failed.zip --decrypt --decrypted failed-results.zip
only_error 'the task failed: .*exit.*3|the task failed: .*status 3'
[[ -z $(ls -A | grep failed) ]] || fail "a failed task left a file: $(ls -A | grep failed)"
ok
finish
