#!/usr/bin/env bash
# The iExec SDK's own secret-push code (iexec@8, common/sms/push.js) against
# cella's cas: the beneficiary's result key (web2) and a requester secret.
. "$(dirname "$0")/lib.sh"
need_iexec_sdk
start_cas

cat > push.mjs <<'JS'
const base = process.argv[2], smsUrl = process.argv[3];
const { Wallet } = await import(base + '/../ethers/lib.esm/index.js');
const { pushWeb2Secret, pushRequesterSecret } = await import(base + '/dist/esm/common/sms/push.js');
const { checkWeb2SecretExists } = await import(base + '/dist/esm/common/sms/check.js');
const wallet = Wallet.createRandom();
const contracts = { signer: wallet, provider: null };
const out = [];
out.push(await checkWeb2SecretExists(contracts, smsUrl, wallet.address, 'iexec-result-encryption-public-key'));
out.push(JSON.stringify(await pushWeb2Secret(contracts, smsUrl, 'iexec-result-encryption-public-key', 'PEM-A')));
out.push(await checkWeb2SecretExists(contracts, smsUrl, wallet.address, 'iexec-result-encryption-public-key'));
out.push(JSON.stringify(await pushWeb2Secret(contracts, smsUrl, 'iexec-result-encryption-public-key', 'PEM-B', { forceUpdate: true })));
out.push(JSON.stringify(await pushRequesterSecret(contracts, smsUrl, 'my-secret', 's3cr3t')));
try { await pushRequesterSecret(contracts, smsUrl, 'my-secret', 'again'); out.push('no-refusal'); }
catch (e) { out.push('refused: ' + e.message); }
console.log(out.join('\n'));
JS
# the SDK (node) trusts the cas certificate as a CA for this run
NODE_EXTRA_CA_CERTS="$TMP/casd/tls.crt" node push.mjs "$SDK" "$CAS_URL" > out.txt 2>err.txt ||
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
grep -q 'secret.push sms-web2 .* ok' cas.log || fail "no audit line for the SDK's push"
grep -q 'PEM-A\|s3cr3t' cas.log && fail "a secret reached the cas log"
ok
finish
