#!/usr/bin/env bash
# cas from the command line, as the SCONE seed uses it: a session from a
# template, attestation of the (sim) enclave, key release, tags, refusals.
. "$(dirname "$0")/lib.sh"

expect_ok "$CELLA" tee sim init --dir sim
start_cas --allow-sim --sim-platform sim/sim-platform.pub   # checks the fingerprint's form
grep -q "clients pin fingerprint $CAS_FP" cas.log || fail "first start does not announce the identity"
[[ $(stat -c %a casd/master.key) == 600 && $(stat -c %a casd/tls.key) == 600 ]] || fail "key modes"

expect_ok "$CELLA" wallet create --unencrypted --keystoredir owner
OWNER=$(ls owner/*)
expect_ok "$CELLA" wallet create --unencrypted --keystoredir other
OTHER=$(ls other/*)

M=3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76
IN_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat > session.yml <<YML
name: copy-demo
version: "0.3.10"
digest: create
services:
   - name: application
     image_name: sconecuratedimages/iexecsgx:copy_demo
     mrenclaves: [$M]
     tags: [demo]
     command: /application
     pwd: /
     environment:
        SCONE_MODE: hw
volumes:
   - name: encrypted-input-files
     fspf_tag: 00112233445566778899aabbccddeeff
     fspf_key: $IN_KEY
   - name: encrypted-output-files
images:
   - name: sconecuratedimages/iexecsgx:copy_demo
     mrenclaves: [$M]
     tags: [demo]
     volumes:
        - name: encrypted-input-files
          path: /encryptedInputs
        - name: encrypted-output-files
          path: /encryptedOutputs
security:
  allow_sim: true
YML
expect_ok "$CELLA" session create session.yml "${CAS[@]}" --wallet-file "$OWNER"
HASH=$(cat .out)
[[ "$HASH" =~ ^[0-9a-f]{64}$ ]] || fail "session create did not print a hash: $HASH"
expect_fail 'exists' "$CELLA" session create session.yml "${CAS[@]}" --wallet-file "$OTHER"
expect_ok "$CELLA" session show copy-demo "${CAS[@]}" --wallet-file "$OWNER"
grep -q '"hash": "'"$HASH"'"' .out || fail "show: hash"
grep -q "$IN_KEY" .out && fail "show printed a volume key without --reveal"
grep -q '<redacted>' .out || fail "show: not redacted"
expect_ok "$CELLA" session show copy-demo --reveal "${CAS[@]}" --wallet-file "$OWNER"
grep -q "$IN_KEY" .out || fail "show --reveal: key missing"
expect_fail 'may not read' "$CELLA" session show copy-demo "${CAS[@]}" --wallet-file "$OTHER"

# update: refused without the right predecessor, accepted with it
expect_fail 'predecessor' "$CELLA" session update session.yml "${CAS[@]}" --wallet-file "$OWNER"
{ echo "predecessor: $(printf 'f%.0s' {1..64})"; cat session.yml; } > stale.yml
expect_fail 'predecessor' "$CELLA" session update stale.yml "${CAS[@]}" --wallet-file "$OWNER"
{ echo "predecessor: $HASH"; cat session.yml; } > update.yml
expect_fail 'may not update' "$CELLA" session update update.yml "${CAS[@]}" --wallet-file "$OTHER"
expect_ok "$CELLA" session update update.yml "${CAS[@]}" --wallet-file "$OWNER"
[[ $(cat .out) != "$HASH" ]] || fail "update kept the hash"

# the enclave attests and receives its configuration
expect_ok "$CELLA" attest --session copy-demo/application --measurement "$M" --sim-dir sim "${CAS[@]}"
grep -q '"/encryptedInputs"' .out || fail "attest: volumes"
grep -q '"SCONE_MODE": "hw"' .out || fail "attest: environment"
grep -q "$IN_KEY" .out && fail "attest printed keys without --show-keys"
expect_fail 'is not allowed for this service' "$CELLA" attest --session copy-demo/application \
  --measurement "$(printf '0%.0s' {1..64})" --sim-dir sim "${CAS[@]}"
expect_fail 'debug enclave refused' "$CELLA" attest --session copy-demo/application \
  --measurement "$M" --debug --sim-dir sim "${CAS[@]}"
expect_fail 'no such session or service' "$CELLA" attest --session copy-demo/nope \
  --measurement "$M" --sim-dir sim "${CAS[@]}"

# a service pinned by SCONE's attestation variants: who signed it, as which product, from which version
SIG=$(printf 'a%.0s' {1..64})
cat > signed.yml <<YML
name: signed-app
services:
  - name: app
    command: /app
    pwd: /
    attestation:
      - signer: {mrsigner: $SIG, isvprodid: 7, isvsvn_min: 3}
security:
  allow_sim: true
YML
expect_ok "$CELLA" session create signed.yml "${CAS[@]}" --wallet-file "$OWNER"
ANYM=$(printf '5%.0s' {1..64})   # any measurement: the variant names none
expect_ok "$CELLA" attest --session signed-app/app --measurement "$ANYM" --signer "$SIG" \
  --isvprodid 7 --isvsvn 4 --sim-dir sim "${CAS[@]}"
grep -q '"/app"' .out || fail "attest by signer: $(cat .out)"
expect_fail 'match no attestation variant' "$CELLA" attest --session signed-app/app \
  --measurement "$ANYM" --signer "$SIG" --isvprodid 7 --isvsvn 2 --sim-dir sim "${CAS[@]}"
expect_fail 'match no attestation variant' "$CELLA" attest --session signed-app/app \
  --measurement "$ANYM" --isvprodid 7 --isvsvn 4 --sim-dir sim "${CAS[@]}"
expect_fail 'expected a decimal number, got .32k. .--isvsvn.' "$CELLA" attest --session signed-app/app \
  --measurement "$ANYM" --signer "$SIG" --isvprodid 7 --isvsvn 32k --sim-dir sim "${CAS[@]}"
expect_fail 'out of range .0..65535. .--isvsvn.' "$CELLA" attest --session signed-app/app \
  --measurement "$ANYM" --signer "$SIG" --isvprodid 7 --isvsvn 70000 --sim-dir sim "${CAS[@]}"
printf 'name: bad\nservices:\n  - name: app\n    command: /app\n    pwd: /\n    attestation:\n      - signer: {mrsigner: %s}\n' "$SIG" > bad-signer.yml
expect_fail 'missing field .line 7, services.0..attestation.0..signer.isvprodid.' "$CELLA" session create bad-signer.yml "${CAS[@]}" --wallet-file "$OWNER"

# tags: the attested instance pushes; the owner reads key and tag
expect_ok "$CELLA" session volume copy-demo encrypted-output-files --key-file out.key "${CAS[@]}" --wallet-file "$OWNER"
[[ $(cat .out) == none ]] || fail "new output volume should have no tag"
[[ $(stat -c %a out.key) == 600 ]] || fail "out.key mode"
T1=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
expect_ok "$CELLA" attest --session copy-demo/application --measurement "$M" --sim-dir sim "${CAS[@]}" \
  --push-tag encrypted-output-files --new-tag $T1
expect_fail 'stale' "$CELLA" attest --session copy-demo/application --measurement "$M" --sim-dir sim \
  "${CAS[@]}" --push-tag encrypted-output-files --new-tag bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
expect_ok "$CELLA" session volume copy-demo encrypted-output-files --key-file out.key "${CAS[@]}" --wallet-file "$OWNER"
[[ $(cat .out) == $T1 ]] || fail "tag not recorded"
expect_fail 'may not read' "$CELLA" session volume copy-demo encrypted-output-files --key-file x.key "${CAS[@]}" --wallet-file "$OTHER"

# cella init --cas pins the server's key on first use; later commands read cella.json
mkdir proj && cd proj
expect_ok "$CELLA" init --cas "$CAS_URL"
grep -q "pinned cas fingerprint $CAS_FP" "$TMP/.err" || fail "init did not announce the pinned key"
python3 -c 'import json,sys; c=json.load(open("cella.json"))["cas"]; sys.exit(0 if c["fingerprint"]==sys.argv[1] else 1)' "$CAS_FP" ||
  fail "cella.json does not pin the cas key"
expect_ok "$CELLA" session show copy-demo --wallet-file "$TMP/$OWNER"
cd "$TMP"

# bad input
printf 'name: bad\nservices: [unclosed\n' > bad.yml
expect_fail 'line' "$CELLA" session create bad.yml "${CAS[@]}" --wallet-file "$OWNER"
expect_fail 'pinned fingerprint' "$CELLA" session show copy-demo --cas "$CAS_URL" \
  --cas-fingerprint "$(printf 'a%.0s' {1..64})" --wallet-file "$OWNER"
expect_fail 'no cas URL' "$CELLA" session show copy-demo --wallet-file "$OWNER"

# the audit trail names refusals and releases, and never a key
grep -q 'attest copy-demo/application refused: measurement' cas.log || fail "audit: refusal"
grep -q 'attest copy-demo/application ok' cas.log || fail "audit: release"
grep -qi "$IN_KEY" cas.log && fail "a key reached the cas log"
kill -0 $CAS_PID || fail "cas died"
finish
