#!/usr/bin/env bash
# cella's own SMS verbs (dataset/app/requester push-secret and check-secret,
# result push-encryption-key and check-encryption-key) against a real hub and
# a cas that asks that hub who owns what. Refusals: a non-owner's dataset key
# (401), a second dataset key (409, the stored one unchanged), a second
# requester secret, a result key update without --force, a wrong cas pin, bad
# input files. Secrets never reach stdout, stderr or the cas log. When the iExec
# SDK is installed, its own check functions see what cella pushed.
. "$(dirname "$0")/lib.sh"

start_hub --dev-faucet

expect_ok "$CELLA" tee sim init --dir sim
start_cas --allow-sim --sim-platform sim/sim-platform.pub --hub "$HUB_URL"
new_wallet data dev req other
lower() { tr 'A-F' 'a-f' <<<"$1"; }

# cella.json of the dataset owner also names the cas (URL and pin)
cat > data/cella.json <<J
{"hubUrl": "$HUB_URL", "cas": {"url": "$CAS_URL", "fingerprint": "$CAS_FP"},
 "dataset": {"name": "data", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ",
             "checksum": "0x1d64783f76e2be9ab59779159b4cffd2d0224883eb247a9261588f35f58cc607"}}
J
cat > dev/cella.json <<J
{"hubUrl": "$HUB_URL", "app": {"name": "hello", "type": "DOCKER", "multiaddr": "docker.io/cella/hello:1.0",
 "checksum": "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}
J

# ---- dataset key ----
cd "$TMP/data"
expect_ok "$CELLA" dataset deploy --wallet-file "$(W data)"
DS=$(cat "$TMP/.out")
[[ "$DS" =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "dataset deploy printed $DS"
expect_ok "$CELLA" dataset init --encrypted
echo "hello dataset" > datasets/original/data.txt
expect_ok "$CELLA" dataset encrypt --format iexec
KEY=$(cat .secrets/datasets/dataset.key)
[[ ${#KEY} == 44 ]] || fail "dataset.key is not an iExec key"

# check before any push: "not set", exit 3, no error line
set +e; "$CELLA" dataset check-secret "$DS" > out.txt 2> err.txt; rc=$?; set -e
[[ $rc == 3 ]] || { cat err.txt >&2; fail "check-secret of a missing key exited $rc, not 3"; }
grep -q "^dataset key of $DS: not set$" out.txt || fail "check-secret said: $(cat out.txt)"
[[ ! -s err.txt ]] || fail "check-secret of a missing key wrote on stderr: $(cat err.txt)"
ok

# another wallet is not the dataset's owner: the hub registry says so (401)
expect_fail 'HTTP 401.*not allowed' "$CELLA" dataset push-secret "$DS" --wallet-file "$(W other)"
# every accepted push records its challenge (sms_used: replays are refused on
# any endpoint), the dataset key's and the app secret's too
DB="$TMP/casd/cas.db"
USED() { sqlite3 "$DB" "SELECT count(*) FROM sms_used"; }
N0=$(USED)
set +e; "$CELLA" dataset check-secret "$DS" >/dev/null 2>&1; rc=$?; set -e
[[ $rc == 3 ]] || fail "a refused push left a key behind"
ok

# the owner, with the address from cella.json (as `dataset deploy` registered it)
printf '  %s\n\n' "$KEY" > padded.key # the SDK trims the key file
expect_ok "$CELLA" dataset push-secret --key-file padded.key --wallet-file "$(W data)"
grep -q "^dataset key of $DS: pushed$" "$TMP/.out" || fail "push-secret said: $(cat "$TMP/.out")"
grep -q "dataset $DS (./cella.json's" "$TMP/.err" || fail "the address from cella.json is not shown"
[[ $(USED) == $((N0 + 1)) ]] || fail "the dataset key's push is not recorded in sms_used"
expect_ok "$CELLA" dataset check-secret "$DS"
grep -q "^dataset key of $DS: set$" "$TMP/.out" || fail "check-secret after push: $(cat "$TMP/.out")"
expect_ok "$CELLA" dataset check-secret --wallet-file "$(W data)" # address from cella.json
grep -q ": set$" "$TMP/.out" || fail "check-secret via cella.json"
expect_fail 'give the dataset address' "$CELLA" dataset check-secret

# a second key is refused (409) and the stored one stays byte for byte
[[ -f "$DB" ]] || fail "no cas database $DB"
SEALED() { sqlite3 "$DB" "SELECT hex(value) FROM sealed WHERE kind='sms-web3'"; }
BEFORE=$(SEALED)
[[ -n "$BEFORE" ]] || fail "no sealed dataset key in the cas store"
"$CELLA" dataset encrypt --format iexec --force > /dev/null 2>&1 || fail "re-encrypt"
[[ $(cat .secrets/datasets/dataset.key) != "$KEY" ]] || fail "no new key"
expect_fail 'HTTP 409.*exists.*never be replaced' "$CELLA" dataset push-secret "$DS" --wallet-file "$(W data)"
[[ $(SEALED) == "$BEFORE" ]] || fail "a refused push changed the stored dataset key"
ok
KEY2=$(cat .secrets/datasets/dataset.key)

# ---- app developer secret ----
cd "$TMP/dev"
expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
printf 'app-s3cr3t-value\n' > app.secret
expect_fail 'HTTP 401' "$CELLA" app push-secret "$APP" --secret-file app.secret "${CAS[@]}" --wallet-file "$(W other)"
set +e; "$CELLA" app check-secret "$APP" "${CAS[@]}" > out.txt 2>&1; rc=$?; set -e
[[ $rc == 3 ]] && grep -q "^app secret of $APP: not set$" out.txt || fail "app check before push ($rc)"
ok
N0=$(USED)
expect_ok "$CELLA" app push-secret --secret-file app.secret "${CAS[@]}" --wallet-file "$(W dev)"
[[ $(USED) == $((N0 + 1)) ]] || fail "the app secret's push is not recorded in sms_used"
grep -q "^app secret of $APP: pushed$" "$TMP/.out" || fail "app push said: $(cat "$TMP/.out")"
expect_ok "$CELLA" app check-secret "$APP" "${CAS[@]}"
expect_fail 'HTTP 409' "$CELLA" app push-secret "$APP" --secret-file app.secret "${CAS[@]}" --wallet-file "$(W dev)"

# ---- requester secrets ----
cd "$TMP/req"
REQ=$(A req)
printf 'req-s3cr3t-value\n' > req.secret
expect_ok "$CELLA" requester push-secret my-key_1 --secret-file req.secret "${CAS[@]}" --wallet-file "$(W req)"
grep -q "^requester secret \"my-key_1\" of $REQ: pushed$" "$TMP/.out" || fail "requester push said: $(cat "$TMP/.out")"
expect_fail 'HTTP 409.*exists' "$CELLA" requester push-secret my-key_1 --secret-file req.secret "${CAS[@]}" --wallet-file "$(W req)"
expect_ok "$CELLA" requester check-secret my-key_1 "${CAS[@]}" --wallet-file "$(W req)"
grep -q ': set$' "$TMP/.out" || fail "requester check"
expect_ok "$CELLA" requester check-secret my-key_1 --requester "$(lower "$REQ")" "${CAS[@]}" # no wallet
grep -q "of $REQ: set$" "$TMP/.out" || fail "requester check by address: $(cat "$TMP/.out")"
set +e; "$CELLA" requester check-secret other-key "${CAS[@]}" --wallet-file "$(W req)" > out.txt 2>&1; rc=$?; set -e
[[ $rc == 3 ]] && grep -q ': not set$' out.txt || fail "missing requester secret ($rc): $(cat out.txt)"
ok
set +e; "$CELLA" requester check-secret my-key_1 --requester "$(A other)" "${CAS[@]}" > out.txt 2>&1; rc=$?; set -e
[[ $rc == 3 ]] || fail "another requester's secret reported set"
ok
expect_fail 'secret name' "$CELLA" requester push-secret 'bad/name' --secret-file req.secret "${CAS[@]}" --wallet-file "$(W req)"
[[ $("$CELLA" requester push-secret 'bad name' --secret-file req.secret "${CAS[@]}" --wallet-file "$(W req)" 2>/dev/null; echo $?) == 2 ]] ||
  fail "a bad name is a usage error (exit 2)"
ok
expect_fail 'secret-file' "$CELLA" requester push-secret k2 "${CAS[@]}" --wallet-file "$(W req)"
expect_fail 'unknown option' "$CELLA" requester push-secret k2 --secret-value x "${CAS[@]}" --wallet-file "$(W req)"

# ---- result encryption key ----
expect_ok "$CELLA" result generate-encryption-keypair --address "$REQ"
set +e; "$CELLA" result check-encryption-key "$REQ" "${CAS[@]}" > out.txt 2>&1; rc=$?; set -e
[[ $rc == 3 ]] && grep -q "^result encryption key of $REQ: not set$" out.txt || fail "result check before push ($rc)"
ok
expect_ok "$CELLA" result push-encryption-key "${CAS[@]}" --wallet-file "$(W req)"
grep -q "^result encryption key of $REQ: pushed$" "$TMP/.out" || fail "result push said: $(cat "$TMP/.out")"
expect_ok "$CELLA" result check-encryption-key "${CAS[@]}" --wallet-file "$(W req)"
grep -q ': set$' "$TMP/.out" || fail "result check"
# a new key pair: refused without --force, accepted (updated) with it
expect_ok "$CELLA" result generate-encryption-keypair --address "$REQ" --force
expect_fail 'HTTP 409.*--force' "$CELLA" result push-encryption-key "${CAS[@]}" --wallet-file "$(W req)"
expect_ok "$CELLA" result push-encryption-key --force "${CAS[@]}" --wallet-file "$(W req)"
grep -q "^result encryption key of $REQ: updated$" "$TMP/.out" || fail "forced push said: $(cat "$TMP/.out")"
grep -q "secret.update sms-web2 $REQ/iexec-result-encryption-public-key.* ok" "$TMP/cas.log" ||
  fail "no audited update of the result key"
ok
# --force on a wallet with no key yet simply pushes (as the SDK)
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A other)"
expect_ok "$CELLA" result push-secret --force "${CAS[@]}" --wallet-file "$(W other)"
grep -q ': pushed$' "$TMP/.out" || fail "forced first push"
# the private key is not a public key: refused before anything is sent
expect_fail 'not a PEM public key.*_key\)' "$CELLA" result push-encryption-key --public-key ".secrets/beneficiary/${REQ}_key" --force "${CAS[@]}" --wallet-file "$(W req)"

# ---- the cas pin ----
BAD=$(printf '%064d' 0)
expect_fail 'pinned fingerprint' "$CELLA" requester check-secret my-key_1 --requester "$REQ" --cas "$CAS_URL" --cas-fingerprint "$BAD"
expect_fail 'pinned fingerprint' "$CELLA" requester push-secret k3 --secret-file req.secret --cas "$CAS_URL" --cas-fingerprint "$BAD" --wallet-file "$(W req)"
expect_fail 'no cas URL' "$CELLA" result check-encryption-key "$REQ"

# ---- bad input: one error line naming what and where, nothing sent ----
cd "$TMP/data"
expect_fail 'cannot open: No such file.*\(missing.key\)$' "$CELLA" dataset push-secret "$DS" --key-file missing.key --wallet-file "$(W data)"
expect_fail 'cannot open.*\(nope/datasets/dataset.key\)$' "$CELLA" dataset push-secret "$DS" --secrets-dir nope --wallet-file "$(W data)"
mkdir adir
expect_fail 'not a regular file \(adir\)$' "$CELLA" dataset push-secret "$DS" --key-file adir --wallet-file "$(W data)"
if [[ $(id -u) != 0 ]]; then
  cp .secrets/datasets/dataset.key locked.key && chmod 000 locked.key
  expect_fail 'Permission denied \(locked.key\)$' "$CELLA" dataset push-secret "$DS" --key-file locked.key --wallet-file "$(W data)"
fi
head -c 5000 /dev/zero | tr '\0' 'k' > big.key
expect_fail 'larger than 4096 bytes \(big.key\)$' "$CELLA" dataset push-secret "$DS" --key-file big.key --wallet-file "$(W data)"
expect_fail 'larger than 4096 bytes \(big.key\)$' "$CELLA" requester push-secret big --secret-file big.key "${CAS[@]}" --wallet-file "$(W req)"
printf '\n \n' > blank.key
expect_fail 'empty \(blank.key\)$' "$CELLA" dataset push-secret "$DS" --key-file blank.key --wallet-file "$(W data)"
echo "not-a-key" > notkey.key
expect_fail 'not an iExec dataset key.*\(notkey.key\)$' "$CELLA" dataset push-secret "$DS" --key-file notkey.key --wallet-file "$(W data)"
expect_fail 'wallet-file' "$CELLA" dataset push-secret "$DS"
expect_fail 'datasetAddress|dataset' "$CELLA" dataset push-secret 0x1234 --wallet-file "$(W data)"

# ---- secrets never leave through outputs or the cas log ----
for s in "$KEY" "$KEY2" app-s3cr3t-value req-s3cr3t-value; do
  if grep -rqF -- "$s" "$TMP"/*.log "$TMP/.out" "$TMP/.err" "$TMP"/*/out.txt 2>/dev/null; then
    fail "a secret reached a log or an output"
  fi
done
grep -q 'secret.push sms-web3 .* refused' "$TMP/cas.log" || fail "refusals are not audited"
ok

# ---- the iExec SDK's own checks see what cella pushed (optional) ----
sdk_check() {
  need_iexec_sdk
  cat > "$TMP/check.mjs" <<'JS'
const [base, smsUrl, ds, req, other] = process.argv.slice(2);
const m = await import(base + '/dist/esm/common/sms/check.js');
const c = { provider: null };
console.log([
  await m.checkWeb3SecretExists(c, smsUrl, ds),
  await m.checkRequesterSecretExists(c, smsUrl, req, 'my-key_1'),
  await m.checkWeb2SecretExists(c, smsUrl, req, 'iexec-result-encryption-public-key'),
  await m.checkRequesterSecretExists(c, smsUrl, other, 'my-key_1'),
].join(' '));
JS
  NODE_EXTRA_CA_CERTS="$TMP/casd/tls.crt" node "$TMP/check.mjs" "$SDK" "$CAS_URL" "$DS" "$REQ" "$(A other)" \
    > "$TMP/sdk.txt" 2> "$TMP/sdk.err" || { cat "$TMP/sdk.err" >&2; fail "the SDK's checks failed"; }
  [[ $(cat "$TMP/sdk.txt") == "true true true false" ]] || fail "SDK checks: $(cat "$TMP/sdk.txt")"
  echo "the iExec SDK's checks agree"
}
(sdk_check) || exit 1
ok
finish
