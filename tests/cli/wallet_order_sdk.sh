#!/usr/bin/env bash
# Wallets and orders against the real iExec SDK (npm `iexec@8`, or `iexec@9`
# from wallet_order_sdk9.sh) and its ethers:
#  keystores: ethers-made -> cella opens; cella-made -> ethers opens (same address)
#  orders:    SDK signRequestorder -> cella verify, same hash as the SDK's
#             cella order sign -> SDK hash*order gives cella's hash, ethers
#             recovers the wallet address from cella's signature
#            SDK 9 ORs tee+tdx (0x..09) into every tag it signs: cella
#            hashes the order as signed
# The SDK is installed once into ${CELLA_NPM_CACHE:-~/.cache/cella-npm} (9:
# that path with 9 appended; shared with the other SDK tests). Without node/npm, or when the install fails
# (offline), the test prints "SKIP: ..." and exits 77 (skipped), unless CELLA_REQUIRE_SDK=1.
. "$(dirname "$0")/lib.sh"
V="$CELLA_VECTORS/iexec"
HUB=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
SIGNER=0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1

need_iexec_sdk

# A node helper over the SDK's own order module and its ethers. The chain is
# stubbed: only hub.domain() is needed, as for the recorded vectors.
cat > h.mjs <<'JS'
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
const [cache, cmd, ...args] = process.argv.slice(2);
const require = createRequire(`${cache}/node_modules/`);
const ethers = require('ethers');
const order = await import(pathToFileURL(`${cache}/node_modules/iexec/dist/esm/common/market/order.js`).href);
const pw = (f) => readFileSync(f, 'utf8').replace(/\r?\n$/, '');
const contractsFor = (signer, chainId, hub) => ({
  signer, provider: undefined, chainId: String(chainId),
  getIExecContract: () => ({ domain: async () => ({
    name: 'iExecODB', version: '5.0.0', chainId: BigInt(chainId), verifyingContract: hub }) }),
});
const hashFn = { apporder: order.hashApporder, datasetorder: order.hashDatasetorder,
  workerpoolorder: order.hashWorkerpoolorder, requestorder: order.hashRequestorder };
if (cmd === 'keystore-open') {          // KEYSTORE PWFILE -> address
  const w = await ethers.Wallet.fromEncryptedJson(readFileSync(args[0], 'utf8'), pw(args[1]));
  console.log(w.address);
} else if (cmd === 'keystore-make') {   // PWFILE OUT -> address
  const w = ethers.Wallet.createRandom();
  const json = await ethers.encryptKeystoreJson(
    { address: w.address, privateKey: w.privateKey }, pw(args[0]), { scrypt: { N: 1024 } });
  writeFileSync(args[1], json, { mode: 0o600 });
  console.log(w.address);
} else if (cmd === 'sign-request') {    // KEYFILE CHAIN HUB TEMPLATE OUT -> SDK order hash
  const w = new ethers.Wallet(readFileSync(args[0], 'utf8').trim());
  const c = contractsFor(w, args[1], args[2]);
  const tmpl = JSON.parse(readFileSync(args[3], 'utf8'));
  tmpl.requester = w.address;
  const signed = await order.signRequestorder(c, tmpl);
  writeFileSync(args[4], JSON.stringify({ requestorder: signed }, null, 2));
  console.log(await order.hashRequestorder(c, signed));
} else if (cmd === 'check') {           // CHAIN HUB ORDERS.JSON KEY -> "hash signer"
  const c = contractsFor(undefined, args[0], args[1]);
  const o = JSON.parse(readFileSync(args[2], 'utf8'))[args[0]][args[3]];
  const h = await hashFn[args[3]](c, o);
  console.log(h, ethers.recoverAddress(h, o.sign));
}
JS
sdk() { node h.mjs "$CACHE" "$@"; }

# --- keystores both ways ---------------------------------------------------------
printf 'correct horse battery\n' > pw
A=$(sdk keystore-make pw ethers-ks.json) || fail "ethers keystore-make"
expect_ok "$CELLA" wallet show --wallet-file ethers-ks.json --password-file pw
[[ $(cat .out) == "$A" ]] || fail "ethers keystore opens in cella to $(cat .out), not $A"
expect_ok "$CELLA" wallet create --password-file pw --scrypt-n 1024 --keystoredir ks
B=$(cat .out)
[[ $(sdk keystore-open ks/UTC--* pw) == "$B" ]] || fail "cella keystore does not open in ethers"
ok
expect_ok "$CELLA" wallet create --password-file pw --kdf pbkdf2 --keystoredir ks2
B=$(cat .out)
[[ $(sdk keystore-open ks2/UTC--* pw) == "$B" ]] || fail "cella pbkdf2 keystore does not open in ethers"
ok
# the SDK-made vector keystore opens in ethers and cella to the same address
printf 'iexec-test-password\n' > vpw
[[ $(sdk keystore-open "$V"/wallet/UTC--* vpw) == 0x18Af64849e1FE3453C3f89A53Cfd224A2A04bd27 ]] ||
  fail "vector keystore in ethers"
ok

# --- SDK-signed request order -> cella ----------------------------------------------
python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['privateKey'])" \
  "$V/wallet/wallet.json" > key.hex
cat > req.json <<'JSON'
{"app": "0x1111111111111111111111111111111111111111", "appmaxprice": "0",
 "dataset": "0x2222222222222222222222222222222222222222", "datasetmaxprice": "1000000000",
 "workerpool": "0x0000000000000000000000000000000000000000", "workerpoolmaxprice": "100000000",
 "volume": "1", "tag": ["tee", "tdx"], "category": "0", "trust": "0",
 "beneficiary": "0x4444444444444444444444444444444444444444",
 "callback": "0x0000000000000000000000000000000000000000",
 "params": {"iexec_args": "hello world", "iexec_result_encryption": true}}
JSON
H=$(sdk sign-request key.hex 421614 $HUB req.json sdk-signed.json) || fail "SDK signRequestorder"
expect_ok "$CELLA" order verify sdk-signed.json --chain-id 421614 --hub $HUB --signer $SIGNER
expect_ok "$CELLA" order hash sdk-signed.json --chain-id 421614 --hub $HUB
[[ $(cat .out) == "$H" ]] || fail "cella hash $(cat .out) != SDK hash $H"
python3 - <<'PY'
import json
d = json.load(open("sdk-signed.json"))
d["requestorder"]["volume"] = "2"
json.dump(d, open("sdk-tampered.json", "w"))
PY
expect_fail 'not by the (expected signer|requester)' "$CELLA" order verify sdk-tampered.json --chain-id 421614 --hub $HUB --signer $SIGNER
# an untagged template: SDK 8 signs tag 0, SDK 9 tee+tdx
sed 's/"tag": \["tee", "tdx"\]/"tag": []/' req.json > req0.json
H=$(sdk sign-request key.hex 421614 $HUB req0.json sdk-signed0.json) || fail "SDK signRequestorder untagged"
want=0x0000000000000000000000000000000000000000000000000000000000000000
[[ $SDK_MAJOR == 8 ]] || want=0x0000000000000000000000000000000000000000000000000000000000000009
tag=$(python3 -c 'import json; print(json.load(open("sdk-signed0.json"))["requestorder"]["tag"])')
[[ $tag == "$want" ]] || fail "SDK $SDK_MAJOR signed tag $tag, not $want"
expect_ok "$CELLA" order hash sdk-signed0.json --chain-id 421614 --hub $HUB
[[ $(cat .out) == "$H" ]] || fail "untagged: cella hash $(cat .out) != SDK hash $H"
expect_ok "$CELLA" order verify sdk-signed0.json --chain-id 421614 --hub $HUB --signer $SIGNER

# --- cella-signed orders -> SDK hash + ethers recovery ---------------------------------
# SDK 9 refuses the legacy framework tags (scone, gramine), and tee without a
# framework (tdx) but in dataset orders
APPTAG=tee,scone; [[ $SDK_MAJOR == 8 ]] || APPTAG=tee,tdx
APPTAG=$APPTAG python3 - <<'PY'
import json, os
r = json.load(open("req.json"))
r["requester"] = "0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1"
a = {"app": "0x1111111111111111111111111111111111111111", "appprice": "5", "volume": "10",
     "tag": os.environ["APPTAG"], "datasetrestrict": "0x0000000000000000000000000000000000000000",
     "workerpoolrestrict": "0x0000000000000000000000000000000000000000",
     "requesterrestrict": "0x0000000000000000000000000000000000000000"}
d = {"dataset": "0x2222222222222222222222222222222222222222", "datasetprice": "1000000000",
     "volume": "100", "tag": "0x1", "apprestrict": "0x1111111111111111111111111111111111111111",
     "workerpoolrestrict": "0x0000000000000000000000000000000000000000",
     "requesterrestrict": "0x0000000000000000000000000000000000000000"}
w = {"workerpool": "0x3333333333333333333333333333333333333333", "workerpoolprice": "100000000",
     "volume": "3", "tag": "tee,tdx,gpu", "category": "0", "trust": "1",
     "apprestrict": "0x0000000000000000000000000000000000000000",
     "datasetrestrict": "0x0000000000000000000000000000000000000000",
     "requesterrestrict": "0x0000000000000000000000000000000000000000"}
json.dump({"order": {"apporder": a, "datasetorder": d, "workerpoolorder": w, "requestorder": r}},
          open("cella.json", "w"), indent=1)
PY
expect_ok "$CELLA" order sign --app --dataset --workerpool --request --wallet-file "$V/wallet/wallet.json" --chain-id 421614 --hub $HUB
cp .out signed.txt
for k in apporder datasetorder workerpoolorder requestorder; do
  want=$(awk -v k=$k '$1 == k {print $2}' signed.txt)
  got=$(sdk check 421614 $HUB orders.json $k) || fail "SDK hash $k"
  [[ "$got" == "$want $SIGNER" ]] || fail "$k: SDK says '$got', cella '$want $SIGNER'"
  ok
done

finish
