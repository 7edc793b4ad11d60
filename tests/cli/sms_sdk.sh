#!/usr/bin/env bash
# The iExec SDK's own secret-push code (iexec@8, or iexec@9 from sms_sdk9.sh;
# common/sms/push.js and check.js) against cella's cas: the beneficiary's
# result key (web2, with a forced update), a requester secret, a dataset key
# (web3) and an app developer's secret for resources registered on cella's
# hub, their checks, and a non-owner's and a second push refused with the
# SDK's own messages.
. "$(dirname "$0")/lib.sh"
need_iexec_sdk
start_hub --dev-faucet
start_cas --hub "$HUB_URL"

# SDK 9's check functions dropped their first argument (contracts): sms9 drops
# it from the arguments when the SDK is 9 or later
cat > sms9.mjs <<'JS'
import { readFileSync } from 'node:fs';
const major = Number(JSON.parse(readFileSync(process.argv[2] + '/package.json', 'utf8')).version.split('.')[0]);
export default (contracts, ...rest) => (major >= 9 ? rest : [contracts, ...rest]);
JS
cat > push.mjs <<'JS'
const sms9 = (await import('./sms9.mjs')).default;
const base = process.argv[2], smsUrl = process.argv[3];
const { Wallet } = await import(base + '/../ethers/lib.esm/index.js');
const { pushWeb2Secret, pushRequesterSecret } = await import(base + '/dist/esm/common/sms/push.js');
const check = await import(base + '/dist/esm/common/sms/check.js');
const wallet = Wallet.createRandom();
const contracts = { signer: wallet, provider: null };
const out = [];
out.push(await check.checkWeb2SecretExists(...sms9(contracts, smsUrl, wallet.address, 'iexec-result-encryption-public-key')));
out.push(JSON.stringify(await pushWeb2Secret(contracts, smsUrl, 'iexec-result-encryption-public-key', 'PEM-A')));
out.push(await check.checkWeb2SecretExists(...sms9(contracts, smsUrl, wallet.address, 'iexec-result-encryption-public-key')));
out.push(JSON.stringify(await pushWeb2Secret(contracts, smsUrl, 'iexec-result-encryption-public-key', 'PEM-B', { forceUpdate: true })));
out.push(JSON.stringify(await pushRequesterSecret(contracts, smsUrl, 'my-secret', 's3cr3t')));
try { await pushRequesterSecret(contracts, smsUrl, 'my-secret', 'again'); out.push('no-refusal'); }
catch (e) { out.push('refused: ' + e.message); }
console.log(out.join('\n'));
JS
# the SDK (node) trusts the cas certificate as a CA for this run: cella cas cert
# fetches it and checks its key against the pin first
expect_ok "$CELLA" cas cert "${CAS[@]}" -o cas.pem
cmp -s cas.pem "$TMP/casd/tls.crt" || fail "cas cert differs from the server's certificate"
expect_ok "$CELLA" cas cert "${CAS[@]}"
cmp -s "$TMP/.out" cas.pem || fail "cas cert on stdout differs"
expect_fail "the server's key is $CAS_FP, not the pinned 0{64}" "$CELLA" cas cert --cas "$CAS_URL" --cas-fingerprint "$(printf '0%.0s' $(seq 64))"
# a server that takes the connection and never answers cannot hold cas cert
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); c=s.accept(); time.sleep(30)' > mute.port &
MUTE=$!; on_exit "kill $MUTE 2>/dev/null"
for _ in $(seq 50); do [[ -s mute.port ]] && break; sleep 0.1; done
expect_fail 'no TLS 1.3 handshake within 1 s' "$CELLA" cas cert --cas "https://127.0.0.1:$(cat mute.port)" --cas-fingerprint "$CAS_FP" --timeout 1
NODE_EXTRA_CA_CERTS=cas.pem node push.mjs "$SDK" "$CAS_URL" > out.txt 2>err.txt ||
  { cat err.txt >&2; fail "the SDK's push failed"; }
cat > want.txt <<'W'
false
{"isPushed":true,"isUpdated":false}
true
{"isPushed":true,"isUpdated":true}
{"isPushed":true}
W
head -5 out.txt | diff want.txt - || fail "SDK results differ"
ok
sed -n 6p out.txt | grep -q '^refused: Secret "my-secret" already exists' || fail "second requester push not refused: $(sed -n 6p out.txt)"
ok
# ---- web3 (dataset key) and app developer secrets, owned on cella's hub ----
new_wallet owner eve
cat > owner/cella.json <<J
{"hubUrl": "$HUB_URL",
 "dataset": {"name": "sdk-data", "multiaddr": "/ipfs/QmW2WQi7j6c7UgJTarActp7tDNikE4B2qXtFCfLPdsgaTQ",
             "checksum": "0x1d64783f76e2be9ab59779159b4cffd2d0224883eb247a9261588f35f58cc607"},
 "app": {"name": "sdk-app", "type": "DOCKER", "multiaddr": "docker.io/cella/hello:1.0",
         "checksum": "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}
J
(cd owner && "$CELLA" dataset deploy --wallet-file "$(W owner)" > ../ds.addr 2>/dev/null &&
  "$CELLA" app deploy --wallet-file "$(W owner)" > ../app.addr 2>/dev/null) || fail "deploy"
cat > push3.mjs <<'JS'
import { readFileSync } from 'node:fs';
const [base, smsUrl, ownerFile, eveFile, ds, app] = process.argv.slice(2);
const { Wallet } = await import(base + '/../ethers/lib.esm/index.js');
const { pushWeb3Secret, pushAppSecret } = await import(base + '/dist/esm/common/sms/push.js');
const { checkWeb3SecretExists, checkAppSecretExists } = await import(base + '/dist/esm/common/sms/check.js');
const sms9 = (await import('./sms9.mjs')).default;
const as = (f) => ({ signer: new Wallet(JSON.parse(readFileSync(f, 'utf8')).privateKey), provider: null });
const owner = as(ownerFile), eve = as(eveFile);
const out = [];
const tryit = async (f) => { try { out.push(String(await f())); } catch (e) { out.push('refused: ' + e.message); } };
await tryit(() => checkWeb3SecretExists(...sms9(owner, smsUrl, ds)));
await tryit(() => pushWeb3Secret(eve, smsUrl, ds, 'EVE-KEY'));
await tryit(() => pushWeb3Secret(owner, smsUrl, ds, 'DATASET-KEY'));
await tryit(() => checkWeb3SecretExists(...sms9(owner, smsUrl, ds)));
await tryit(() => pushWeb3Secret(owner, smsUrl, ds, 'DATASET-KEY-2'));
await tryit(() => checkAppSecretExists(...sms9(owner, smsUrl, app)));
await tryit(() => pushAppSecret(eve, smsUrl, app, 'EVE-SECRET'));
await tryit(() => pushAppSecret(owner, smsUrl, app, 'APP-SECRET'));
await tryit(() => checkAppSecretExists(...sms9(owner, smsUrl, app)));
console.log(out.join('\n'));
JS
NODE_EXTRA_CA_CERTS=cas.pem node push3.mjs "$SDK" "$CAS_URL" "$(W owner)" "$(W eve)" "$(cat ds.addr)" "$(cat app.addr)" > out3.txt 2>err3.txt ||
  { cat err3.txt >&2; fail "the SDK's web3/app pushes failed"; }
DSA=$(cat ds.addr) APPA=$(cat app.addr)
cat > want3.txt <<W
false
refused: Wallet $(A eve) is not allowed to set secret for $DSA
true
true
refused: Secret already exists for $DSA and can't be updated
false
refused: Wallet $(A eve) is not allowed to set secret for $APPA
true
true
W
diff want3.txt out3.txt || fail "SDK web3/app results differ"
ok
grep -q 'secret.push sms-web2 .* ok' cas.log || fail "no audit line for the SDK's push"
grep -q 'PEM-A\|s3cr3t\|DATASET-KEY\|APP-SECRET\|EVE-' cas.log && fail "a secret reached the cas log"
ok
finish
