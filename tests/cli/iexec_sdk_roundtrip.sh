#!/usr/bin/env bash
# Round trips through the real iExec SDK (npm `iexec@8`, or `iexec@9` from
# iexec_sdk_roundtrip9.sh), both directions:
#  datasets: cella -> SDK code (the SDK's forge AES-CBC, key schema, sha256Sum)
#            SDK (`iexec dataset encrypt` CLI and encryptAes256Cbc) -> cella
#  results:  cella -> `iexec result decrypt` CLI and utils.decryptResult,
#            with a cella-made and with an SDK-made beneficiary key
# The SDK is installed once into ${CELLA_NPM_CACHE:-~/.cache/cella-npm}.
# Without node/npm, or when the install fails (offline), the test prints
# "SKIP: ..." and exits 77 (skipped), unless CELLA_REQUIRE_SDK=1.
. "$(dirname "$0")/lib.sh"
RV="$CELLA_VECTORS/iexec/result"
BEN=0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1

need_iexec_sdk

# A small node helper over the SDK's own modules.
cat > sdk.mjs <<'JS'
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [sdk, cmd, ...args] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(`${sdk}/dist/esm/${p}`).href);
const { default: forgeAes } = await load('common/libs/forge-aes.js');
const enc = await load('common/utils/encryption-utils.js');
const { base64Encoded256bitsKeySchema } = await load('common/utils/validator.js');
const utils = await load('lib/utils.js');

if (cmd === 'decrypt-dataset') {
  // The inverse of the SDK's encryptAes256Cbc, with the SDK's own forge AES
  // (the SDK ships no dataset decryption; iExec's pre-compute does this in Java).
  const [encPath, keyPath, outPath] = args;
  const key = await base64Encoded256bitsKeySchema().validate(readFileSync(keyPath, 'utf8'));
  const data = readFileSync(encPath);
  const d = forgeAes.cipher.createDecipher('AES-CBC', forgeAes.util.createBuffer(Buffer.from(key, 'base64')));
  d.start({ iv: forgeAes.util.createBuffer(data.subarray(0, 16)) });
  d.update(forgeAes.util.createBuffer(data.subarray(16)));
  if (!d.finish()) throw new Error('padding check failed');
  writeFileSync(outPath, Buffer.from(d.output.getBytes(), 'binary'));
  console.log(await enc.sha256Sum(data));
} else if (cmd === 'encrypt-dataset') {
  const [inPath, encPath, keyPath] = args;
  const key = enc.generateAes256Key();
  const out = await enc.encryptAes256Cbc(readFileSync(inPath), key);
  writeFileSync(encPath, out);
  writeFileSync(keyPath, key);
  console.log(await enc.sha256Sum(out));
} else if (cmd === 'decrypt-result') {
  const [zipPath, keyPath, outPath] = args;
  const out = await utils.decryptResult(readFileSync(zipPath), readFileSync(keyPath, 'utf8'));
  writeFileSync(outPath, out);
} else {
  throw new Error(`unknown command ${cmd}`);
}
JS
sdk() { node sdk.mjs "$SDK" "$@"; }

# ---- (a) datasets made by cella, decrypted by the SDK's code
expect_ok "$CELLA" dataset init --encrypted
printf 'hello from cella\n' > datasets/original/small.txt
: > datasets/original/empty.bin
head -c 16 /dev/urandom > datasets/original/block16.bin
head -c 300000 /dev/urandom > datasets/original/big.bin
expect_ok "$CELLA" dataset encrypt --format iexec
cp "$TMP/.out" sums.txt
n=0
while read -r enc sum; do
  name=$(basename "$enc" .enc)
  got=$(sdk decrypt-dataset "$enc" ".secrets/datasets/$name.key" "sdk-$name") || fail "SDK could not decrypt $enc"
  [[ "$got" == "$sum" ]] || fail "SDK sha256Sum $got != cella checksum $sum for $name"
  cmp -s "sdk-$name" "datasets/original/$name" || fail "SDK decrypted $name differently"
  n=$((n + 1)); ok
done < sums.txt
[[ $n == 4 ]] || fail "expected 4 datasets, got $n"
echo "(a) SDK code decrypted $n cella datasets; checksums agree"

# ---- datasets made by the SDK (its CLI, and its library), decrypted by cella
mkdir sdkds && cd sdkds
expect_ok "$CELLA" dataset init --encrypted   # the SDK CLI works in a tree cella made
head -c 1000 /dev/urandom > datasets/original/r1000.bin
printf 'sdk text' > datasets/original/t.txt
expect_ok "$IEXEC" dataset encrypt --raw --force   # --force: it prompts before replacing dataset.key
node -e '
  const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const f of o.encryptedFiles) console.log(f.encrypted, f.key, f.original, f.checksum);
' < "$TMP/.out" > files.txt
[[ $(wc -l < files.txt) == 2 ]] || fail "SDK CLI output"
while read -r enc key orig sum; do
  expect_ok "$CELLA" dataset decrypt "$enc" --key-file "$key" -o "$orig.cella" --checksum "$sum"
  cmp -s "$orig.cella" "$orig" || fail "cella decrypted SDK CLI output $enc differently"
done < files.txt
cd ..
head -c 4097 /dev/urandom > lib.bin
sum=$(sdk encrypt-dataset lib.bin lib.bin.enc lib.bin.key) || fail "SDK encryptAes256Cbc"
expect_ok "$CELLA" dataset decrypt lib.bin.enc --key-file lib.bin.key -o lib.bin.out --checksum "$sum"
cmp -s lib.bin.out lib.bin || fail "cella decrypted SDK encryptAes256Cbc output differently"
echo "(a') cella decrypted the SDK CLI's and encryptAes256Cbc's datasets"

# ---- (b) results encrypted by cella, opened by `iexec result decrypt`
ADDR=0x2222222222222222222222222222222222222222
expect_ok "$CELLA" result generate-encryption-keypair --address $ADDR
mkdir -p iexec_out/sub
echo '{"deterministic-output-path":"/iexec_out/result.txt"}' > iexec_out/computed.json
echo "the result" > iexec_out/result.txt
head -c 50000 /dev/urandom > iexec_out/sub/data.bin
expect_ok "$CELLA" result encrypt iexec_out --public-key ".secrets/beneficiary/${ADDR}_key.pub" -o enc.zip
expect_ok "$CELLA" result decrypt enc.zip --key ".secrets/beneficiary/${ADDR}_key" -o cella.zip
expect_ok "$IEXEC" result decrypt enc.zip --beneficiary-key-file "${ADDR}_key" --force --raw
grep -q '"ok":true' "$TMP/.out" || fail "iexec result decrypt: $(cat "$TMP/.out")"
cmp -s results.zip cella.zip || fail "iexec result decrypt gave a different zip"
mkdir x && (cd x && unzip -q ../results.zip) && diff -r x iexec_out >/dev/null || fail "result content"
sdk decrypt-result enc.zip ".secrets/beneficiary/${ADDR}_key" lib.zip || fail "utils.decryptResult"
cmp -s lib.zip cella.zip || fail "utils.decryptResult gave a different zip"
echo "(b) iexec result decrypt and utils.decryptResult opened a cella result (cella-made RSA-4096 key)"

# the same for the SDK-made beneficiary key of the vectors
mkdir v && cd v && mkdir -p .secrets/beneficiary
cp "$RV/.secrets/beneficiary/${BEN}_key" .secrets/beneficiary/
expect_ok "$CELLA" result encrypt ../iexec_out --public-key "$RV/.secrets/beneficiary/${BEN}_key.pub" -o enc.zip
expect_ok "$IEXEC" result decrypt enc.zip --beneficiary-key-file "${BEN}_key" --force --raw
cmp -s results.zip ../cella.zip || fail "SDK key: iexec result decrypt gave a different zip"
cd ..
echo "(b') iexec result decrypt opened a cella result for the SDK-made key"
finish
