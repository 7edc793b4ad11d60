#!/usr/bin/env bash
# The SCONE seed's copy DApp end to end on loopback: encryptedpush, run,
# decrypt; and each attack the runtime issue names, refused.
. "$(dirname "$0")/lib.sh"
SRC=${CELLA_SOURCE:?}
# The runtime's work directories go here, so even the run this test kills
# with -9 leaves nothing behind in the system's /tmp.
export TMPDIR=$TMP/tmp
mkdir -p "$TMPDIR"

"$CELLA" tee sim init --dir sim >/dev/null 2>&1
export XDG_CONFIG_HOME=$TMP/config   # cella run finds the sim platform key here
"$CELLA" tee sim init --dir "$XDG_CONFIG_HOME/cella" >/dev/null 2>&1
start_cas --allow-sim --sim-platform "$XDG_CONFIG_HOME/cella/sim-platform.pub"
new_wallet user
W=(--wallet-file "$(W user)")

# the app bundle: the seed's copy program
mkdir -p app
gcc -O2 -o app/copy_files "$SRC/examples/copy/copy_files.c"
cp "$SRC/examples/copy/cella-app.json" app/

# SETUP and step 1: encrypt the inputs, create the session, print the host's command
mkdir -p INPUTS/sub KEYS
echo "Hello world" > INPUTS/f1.txt
echo "Hello together" > INPUTS/sub/f2.txt
echo "MARKER-7f3a9c-plaintext" > INPUTS/marker.txt
expect_ok "$CELLA" encryptedpush --app app --session-template "$SRC/examples/copy/session-template.yml" \
  --inputs INPUTS --keys KEYS "${CAS[@]}" "${W[@]}"
read -r -a CMD < .out
[[ $(stat -c %a KEYS/input.key) == 600 && $(stat -c %a KEYS/session.yml) == 600 ]] || fail "key modes"

# step 2: the host runs it
expect_ok "$CELLA" run "${CMD[@]}" --outputs OUT
grep -q '^output encrypted-output-files ' .out || fail "run printed no output volume"
# plaintext never touched the host's disk: only INPUTS holds the marker
hits=$(grep -rl 'MARKER-7f3a9c' . 2>/dev/null | grep -v '^./INPUTS/' || true)
[[ -z "$hits" ]] || fail "plaintext found on disk: $hits"

# step 3: the client decrypts
expect_ok "$CELLA" decrypt --keys KEYS --volume OUT/encrypted-output-files --out OUTPUTS "${W[@]}"
[[ $(cat OUTPUTS/f1.txt) == "Hello world" && $(cat OUTPUTS/sub/f2.txt) == "Hello together" ]] ||
  fail "decrypted outputs differ"
cp -a OUT/encrypted-output-files first-output

# a modified app binary (another measurement) gets no keys and never runs
cp -a app app2; echo >> app2/copy_files
MOD=("${CMD[@]}")
for i in "${!MOD[@]}"; do [[ ${MOD[$i]} == --app ]] && MOD[$((i + 1))]="$TMP/app2"; done
expect_fail 'is not allowed for this service' "$CELLA" run "${MOD[@]}" --outputs OUT2
[[ ! -e OUT2 ]] || fail "a refused run wrote outputs"

# a rolled-back (authentic but older) input volume is refused before the app runs
echo "changed" > INPUTS/f1.txt
"$CELLA" volume encrypt INPUTS alt.volume --key-file KEYS/input.key >/dev/null
ARGS=("${CMD[@]}")
for i in "${!ARGS[@]}"; do [[ ${ARGS[$i]} == encrypted-input-files=* ]] && ARGS[$i]="encrypted-input-files=$TMP/alt.volume"; done
expect_fail 'rolled back' "$CELLA" run "${ARGS[@]}" --outputs OUT3
[[ ! -e OUT3 ]] || fail "a rolled-back input produced outputs"

# a second run moves the output tag: the first output is now stale
expect_ok "$CELLA" run "${CMD[@]}" --outputs OUT4
expect_fail 'rolled back' "$CELLA" decrypt --keys KEYS --volume first-output --out STALE "${W[@]}"
[[ ! -e STALE ]] || fail "stale output was decrypted"
# a tampered output volume is refused
# (the largest ciphertext file: byte 80 is then inside its first chunk, past the 64-byte header)
F=$(ls -S OUT4/encrypted-output-files | grep -v volume.meta | head -1)
flip_byte "OUT4/encrypted-output-files/$F" 80
expect_fail 'failed authentication' "$CELLA" decrypt --keys KEYS --volume OUT4/encrypted-output-files --out T "${W[@]}"
[[ ! -e T ]] || fail "tampered output was decrypted"

# killing the runtime mid-run leaves cas's tag unchanged and old outputs decryptable
mkdir -p slowapp
cp app/copy_files slowapp/
printf '#!/bin/sh\nsleep 3\nexec /app/copy_files "$@"\n' > slowapp/slow.sh
chmod 755 slowapp/slow.sh
sed 's|"entrypoint": *"[^"]*"|"entrypoint": "slow.sh"|' app/cella-app.json > slowapp/cella-app.json
sed 's|command: /app/copy_files|command: /app/slow.sh|' "$SRC/examples/copy/session-template.yml" > slow.yml
expect_ok "$CELLA" encryptedpush --app slowapp --session-template slow.yml --inputs INPUTS --keys KEYS2 "${CAS[@]}" "${W[@]}"
read -r -a SLOW < .out
expect_ok "$CELLA" run "${SLOW[@]}" --outputs S1
SESSION2=$(python3 -c 'import json;print(json.load(open("KEYS2/push.json"))["session"])')
expect_ok "$CELLA" session volume "$SESSION2" encrypted-output-files --key-file k2.out "${CAS[@]}" "${W[@]}"
TAG1=$(cat .out)
"$CELLA" run "${SLOW[@]}" --outputs S2 > /dev/null 2>&1 &
RUN_PID=$!
# wait (at most 20 s) until the run has its private plaintext mount: its app
# then sleeps 3 s before copying
run_mounted() { grep -qE 'cella-plaintext|/cella-run\.' "/proc/$RUN_PID/mountinfo" 2>/dev/null; }
for _ in $(seq 400); do run_mounted && break; kill -0 $RUN_PID 2>/dev/null || break; sleep 0.05; done
# while it runs, its plaintext mounts live in its own mount namespace: neither
# the host nor another session's runtime can see them
run_mounted || fail "the running session has no private plaintext mount (test did not observe a run)"
# its own mount points, by path: other tests' shields mount on the host too
mapfile -t RUN_MNTS < <(awk '/cella-plaintext|\/cella-run\./ {print $5}' "/proc/$RUN_PID/mountinfo")
for m in "${RUN_MNTS[@]}"; do
  awk -v m="$m" '$2 == m {found = 1} END {exit !found}' /proc/mounts &&
    fail "a running session's plaintext mount is visible on the host: $m"
done
ok
kill -9 $RUN_PID; wait $RUN_PID 2>/dev/null || true
expect_ok "$CELLA" session volume "$SESSION2" encrypted-output-files --key-file k2.out "${CAS[@]}" "${W[@]}"
[[ $(cat .out) == "$TAG1" ]] || fail "a killed run changed the output tag"
expect_ok "$CELLA" decrypt --keys KEYS2 --volume S1/encrypted-output-files --out S1-plain "${W[@]}"
[[ $(cat S1-plain/f1.txt) == changed ]] || fail "old output not decryptable after a killed run"
# the transfer service, as in the seed: inputs pushed to a blob store, the host
# fetches them and pushes its outputs, the client downloads by URL
start_blobs
expect_ok "$CELLA" encryptedpush --app app --session-template "$SRC/examples/copy/session-template.yml" \
  --inputs INPUTS --keys KEYS4 --blobs "$BLOBS_URL" "${CAS[@]}" "${W[@]}"
read -r -a BCMD < .out
grep -q -- '--input encrypted-input-files=blob:[0-9a-f]\{64\}' .out || fail "input not pushed to the blob store"
expect_ok "$CELLA" run "${BCMD[@]}" --outputs OUT5 --push "$BLOBS_URL"
URL=$(sed -n 's/.* url \(http[^ ]*\)$/\1/p' .out)
[[ -n "$URL" ]] || fail "run did not push its output"
expect_ok "$CELLA" decrypt --keys KEYS4 --url "$URL" --out P5 "${W[@]}"
[[ $(cat P5/f1.txt) == changed ]] || fail "output fetched by URL differs"
[[ ${URL: -1} == 0 ]] && OTHER_URL="${URL%?}1" || OTHER_URL="${URL%?}0"   # another blob's address
expect_fail 'no such blob' "$CELLA" decrypt --keys KEYS4 --url "$OTHER_URL" --out P6 "${W[@]}"
[[ ! -e P6 ]] || fail "a wrong blob produced output"

# secrets from cas reach the app through the environment and injected files,
# and never through the host's disk; of the session's variables only those the
# app's manifest lists ("env": TOKEN, not UNLISTED), and nothing of the host's
mkdir -p injapp
cp app/copy_files injapp/
sed 's|"env": *\[[^]]*\]|"env": ["TOKEN"]|' app/cella-app.json > injapp/cella-app.json
cat > inject.yml <<'YML'
name: $SESSION
services:
   - name: application
     image_name: img
     mrenclaves: [$MRENCLAVE]
     command: ["/bin/sh", "-c", "cat /etc/app/secret.conf > /out/seen.txt; echo >> /out/seen.txt; echo \"$TOKEN\" >> /out/seen.txt; env > /out/env.txt"]
     pwd: /
     environment:
        TOKEN: "token=$$CELLA::pw$$"
        UNLISTED: "not-in-the-manifest"
volumes:
   - name: in
     fspf_tag: $INPUT_FSPF_TAG
     fspf_key: $INPUT_FSPF_KEY
   - name: out
images:
   - name: img
     volumes:
        - {name: in, path: /in}
        - {name: out, path: /out}
     injection_files:
        - path: /etc/app/secret.conf
          content: "password=$$SCONE::pw$$"
secrets:
   - name: pw
     size: 24
security:
   allow_sim: true
YML
expect_ok "$CELLA" encryptedpush --app injapp --session-template inject.yml --inputs INPUTS --keys KEYS3 "${CAS[@]}" "${W[@]}"
read -r -a INJ < .out
export CELLA_SECRET_CANARY=canary-8d1e   # in the host's environment: must not reach the app
expect_ok "$CELLA" run "${INJ[@]}" --outputs O3
unset CELLA_SECRET_CANARY
expect_ok "$CELLA" decrypt --keys KEYS3 --volume O3/out --out P3 "${W[@]}"
PW=$(sed -n 's/^password=//p' P3/seen.txt)
[[ ${#PW} == 24 ]] || fail "injected secret missing: $(cat P3/seen.txt)"
grep -qx "token=$PW" P3/seen.txt || fail "environment secret differs from the injected one"
grep -q '^TOKEN=' P3/env.txt || fail "the listed variable did not reach the app: $(cat P3/env.txt)"
grep -q 'UNLISTED\|not-in-the-manifest' P3/env.txt && fail "a variable the manifest does not list reached the app"
grep -q 'CELLA_SECRET_CANARY\|canary-8d1e' P3/env.txt && fail "the host's environment reached the app"
hits=$(grep -rl -- "$PW" . 2>/dev/null | grep -v '^./P3/' || true)
[[ -z "$hits" ]] || fail "the secret reached the disk: $hits"
finish
