#!/usr/bin/env bash
# Wallets and orders end to end: the iExec SDK's keystore and wallet open to
# their addresses, a wrong password is one clear error, new wallets are 0600
# and reopen, every SDK/ethers order vector hashes and verifies, a tampered
# order or a wrong domain or signer is refused, and signing round-trips.
. "$(dirname "$0")/lib.sh"
V="$CELLA_VECTORS/iexec"
KS=$(ls "$V"/wallet/UTC--*)
HUB=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
SIGNER=0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1
export XDG_CONFIG_HOME="$TMP/xdg"
export HOME="$TMP/home"

# --- wallets -----------------------------------------------------------------
printf 'iexec-test-password\n' > pw
printf 'not-the-password\n' > badpw
expect_ok "$CELLA" wallet show --wallet-file "$KS" --password-file pw
[[ $(cat .out) == 0x18Af64849e1FE3453C3f89A53Cfd224A2A04bd27 ]] || fail "keystore address: $(cat .out)"
expect_fail 'wrong password' "$CELLA" wallet show --wallet-file "$KS" --password-file badpw
expect_ok "$CELLA" wallet show --wallet-file "$V/wallet/wallet.json"
[[ $(cat .out) == "$SIGNER" ]] || fail "wallet.json address: $(cat .out)"
: > empty
expect_fail 'password file is empty' "$CELLA" wallet show --wallet-file "$KS" --password-file empty
expect_fail 'no wallet' "$CELLA" wallet show
expect_fail 'password-file F .* or --unencrypted' "$CELLA" wallet create
expect_fail 'exclude each other' "$CELLA" wallet create --unencrypted --password-file pw

# create (small scrypt cost to keep the test fast) in the default directory
expect_ok "$CELLA" wallet create --password-file pw --scrypt-n 1024
ADDR=$(cat .out)
[[ $ADDR =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "create printed $ADDR"
F=$(ls "$XDG_CONFIG_HOME"/cella/wallets/UTC--*)
[[ $(stat -c %a "$F") == 600 ]] || fail "keystore mode is not 0600"
[[ $(stat -c %a "$XDG_CONFIG_HOME/cella/wallets") == 700 ]] || fail "keystore dir mode is not 0700"
expect_ok "$CELLA" wallet show --password-file pw
[[ $(cat .out) == "$ADDR" ]] || fail "default wallet reopens to another address"
expect_fail 'wrong password' "$CELLA" wallet show --password-file badpw
# HOME fallback when XDG_CONFIG_HOME is unset
env -u XDG_CONFIG_HOME "$CELLA" wallet create --unencrypted >/dev/null 2>&1 || fail "create under HOME"
ls "$HOME"/.config/cella/wallets/wallet-*.json >/dev/null || fail "no wallet under ~/.config"
ok
# a second wallet makes the default ambiguous
expect_ok "$CELLA" wallet create --password-file pw --scrypt-n 1024 --kdf pbkdf2
expect_fail 'choose one with --wallet-file' "$CELLA" wallet show --password-file pw

# import: the key stays in a file; keystore and unencrypted forms
python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['privateKey'])" \
  "$V/wallet/wallet.json" > key.hex
chmod 600 key.hex
expect_ok "$CELLA" wallet import key.hex --password-file pw --keystoredir ks --scrypt-n 1024
[[ $(cat .out) == "$SIGNER" ]] || fail "import printed $(cat .out)"
expect_ok "$CELLA" wallet show --keystoredir ks --password-file pw
[[ $(cat .out) == "$SIGNER" ]] || fail "imported keystore opens to $(cat .out)"
expect_ok "$CELLA" wallet import "$V/wallet/wallet.json" --unencrypted --keystoredir ks2
expect_ok "$CELLA" wallet show --keystoredir ks2
[[ $(cat .out) == "$SIGNER" ]] || fail "imported wallet opens to $(cat .out)"
echo 0x1234 > short.hex
expect_fail 'expected 64 hex digits' "$CELLA" wallet import short.hex --unencrypted --keystoredir ks4
printf '%064d\n' 0 > zero.hex
expect_fail 'not a valid secp256k1 private key' "$CELLA" wallet import zero.hex --unencrypted --keystoredir ks4
# no file ever holds the key in argv: check the key hex is not in any error text
grep -rqi "$(cut -c3- key.hex)" .err && fail "private key in error output"
ok
# malformed keystores
echo '{"version":3,"Crypto":' > broken.json
expect_fail 'malformed JSON' "$CELLA" wallet show --wallet-file broken.json --password-file pw
sed 's/"n": 131072/"n": 4194304/' "$KS" > greedy.json
expect_fail 'scrypt n above' "$CELLA" wallet show --wallet-file greedy.json --password-file pw

# --- orders: every vector hashes and verifies -----------------------------------
for f in orders-sdk-8.24.0.json orders-fixed-salt-ethers.json; do
  python3 - "$V/orders/$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for i, v in enumerate(d["vectors"]):
    json.dump(v["order"], open(f"o{i}.json", "w"))
    open(f"o{i}.hash", "w").write(v["orderHash"] + "\n")
    open(f"o{i}.signer", "w").write(v.get("signer", d["signerAddress"]) + "\n")
PY
  for o in o[0-9]*.json; do
    n=${o%.json}
    expect_ok "$CELLA" order hash "$o" --chain-id 421614 --hub $HUB
    [[ $(cat .out) == $(cat "$n.hash") ]] || fail "$f $o: hash $(cat .out)"
    expect_ok "$CELLA" order verify "$o" --chain-id 421614 --hub $HUB --signer "$(cat "$n.signer")"
    grep -q "valid, signed by $(cat "$n.signer")" .out || fail "$f $o: verify output"
    # one byte changed in the middle of the signature
    python3 - "$o" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
s = o["sign"]; i = 40
o["sign"] = s[:i] + ("1" if s[i] != "1" else "2") + s[i+1:]
json.dump(o, open("forged.json", "w"))
PY
    expect_fail 'signature' "$CELLA" order verify forged.json --chain-id 421614 --hub $HUB --signer "$(cat "$n.signer")"
    # one byte changed in the salt
    python3 - "$o" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
s = o["salt"]
o["salt"] = s[:-1] + ("1" if s[-1] != "1" else "2")
json.dump(o, open("tampered.json", "w"))
PY
    expect_fail 'not by the (expected signer|requester)' "$CELLA" order verify tampered.json --chain-id 421614 --hub $HUB --signer "$(cat "$n.signer")"
  done
  rm -f o[0-9]*.json o[0-9]*.hash o[0-9]*.signer
done

# wrong domain, wrong signer, missing domain, malformed order
python3 - "$V/orders/orders-sdk-8.24.0.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
keyed = {}
for v in d["vectors"]:
    keyed.setdefault(v["primaryType"].lower(), v["order"])
json.dump(keyed, open("keyed.json", "w"))
json.dump({"421614": keyed}, open("bychain.json", "w"))
PY
expect_ok "$CELLA" order verify keyed.json --chain-id 421614 --hub $HUB --signer $SIGNER
[[ $(wc -l < .out) == 4 ]] || fail "keyed verify lists $(wc -l < .out) orders"
expect_ok "$CELLA" order hash bychain.json
[[ $(wc -l < .out) == 4 ]] || fail "orders.json hash lists $(wc -l < .out) orders"
expect_fail 'not by the expected signer' "$CELLA" order verify keyed.json --chain-id 1 --hub $HUB --signer $SIGNER
expect_fail 'not by the expected signer' "$CELLA" order verify keyed.json --chain-id 421614 --hub 0x0000000000000000000000000000000000000001 --signer $SIGNER
expect_fail 'not by the expected signer' "$CELLA" order verify keyed.json --chain-id 421614 --hub $HUB --signer 0x18Af64849e1FE3453C3f89A53Cfd224A2A04bd27
expect_fail 'domain is unknown' "$CELLA" order hash keyed.json
expect_fail 'bad EIP-55' "$CELLA" order verify keyed.json --chain-id 421614 --hub 0xb2157BF2fAb286b2A4170E3491Ac39770111Da3E
echo '{"apporder": {"app": 1}}' > bad.json
expect_fail 'app' "$CELLA" order hash bad.json --chain-id 421614 --hub $HUB
echo '{"apporder": ' > trunc.json
expect_fail 'malformed JSON' "$CELLA" order hash trunc.json --chain-id 421614 --hub $HUB

# --- signing round trip ----------------------------------------------------------
# (with the wallet.json key re-stored at a low scrypt cost, to keep the test fast)
FAST=$(ls "$TMP"/ks/UTC--*)
cat > cella.json <<'JSON'
{
  "chainId": 421614,
  "hub": "0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E",
  "order": {
    "apporder": {"app": "0x1111111111111111111111111111111111111111", "appprice": "0",
      "volume": "1000000", "tag": "tee,tdx",
      "datasetrestrict": "0x0000000000000000000000000000000000000000",
      "workerpoolrestrict": "0x0000000000000000000000000000000000000000",
      "requesterrestrict": "0x0000000000000000000000000000000000000000"},
    "requestorder": {"app": "0x1111111111111111111111111111111111111111", "appmaxprice": 0,
      "dataset": "0x0000000000000000000000000000000000000000", "datasetmaxprice": 0,
      "workerpool": "0x0000000000000000000000000000000000000000", "workerpoolmaxprice": 0,
      "requester": "0x0000000000000000000000000000000000000000", "volume": 1, "tag": "0x0",
      "category": 0, "trust": 0, "beneficiary": "0x4444444444444444444444444444444444444444",
      "callback": "0x0000000000000000000000000000000000000000",
      "params": {"iexec_args": "hello", "iexec_result_encryption": true}}
  }
}
JSON
expect_ok "$CELLA" order sign --app --request --wallet-file "$FAST" --password-file pw
[[ $(wc -l < .out) == 2 ]] || fail "sign printed $(cat .out)"
expect_ok "$CELLA" order verify orders.json --signer 0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1
python3 - <<'PY' || fail "orders.json shape"
import json
d = json.load(open("orders.json"))["421614"]
a, r = d["apporder"], d["requestorder"]
assert a["tag"] == "0x" + "0" * 63 + "9", a["tag"]
assert r["requester"] == "0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1", r["requester"]
assert r["params"] == '{"iexec_args":"hello","iexec_result_encryption":true}', r["params"]
assert len(a["salt"]) == 66 and len(a["sign"]) == 132
PY
ok
# signing again draws a new salt; other chains' orders are kept
cp orders.json first.json
expect_ok "$CELLA" order sign --app --wallet-file "$FAST" --password-file pw --chain-id 5 --hub $HUB
expect_ok "$CELLA" order verify orders.json --chain-id 5 --hub $HUB --signer $SIGNER
expect_ok "$CELLA" order verify orders.json --chain-id 421614 --signer $SIGNER
python3 -c "
import json; a=json.load(open('first.json'))['421614']['apporder']; b=json.load(open('orders.json'))['5']['apporder']
assert a['salt'] != b['salt']" || fail "salt reused"
ok
expect_fail 'several chains' "$CELLA" order verify orders.json
expect_fail 'wrong password' "$CELLA" order sign --app --wallet-file "$FAST" --password-file badpw
python3 - <<'PY'
import json
d = json.load(open("cella.json"))
d["order"]["requestorder"]["requester"] = "0x4444444444444444444444444444444444444444"
json.dump(d, open("other-requester.json", "w"))
PY
expect_fail 'must be signed by its requester' "$CELLA" order sign --request --order other-requester.json --wallet-file "$FAST" --password-file pw
expect_fail 'choose what to sign' "$CELLA" order sign --wallet-file "$FAST" --password-file pw
expect_fail 'no datasetorder' "$CELLA" order sign --dataset --wallet-file "$FAST" --password-file pw

# --- cella init / order init: templates signed without editing the domain ----------
mkdir proj && cd proj
expect_ok "$CELLA" init
expect_ok "$CELLA" order init --app --dataset --workerpool --request --tag tee,scone
python3 -c "
import json; o=json.load(open('cella.json'))['order']
assert all(v['tag'] == '0x' + '0' * 63 + '3' for v in o.values()), o" || fail "order init --tag"
ok
expect_fail 'unknown tag name' "$CELLA" order init --app --tag tee,sgx
expect_ok "$CELLA" order sign --app --dataset --workerpool --request --wallet-file "$FAST" --password-file ../pw
[[ $(wc -l < "$TMP/.out") == 4 ]] || fail "sign of the templates printed $(cat "$TMP/.out")"
expect_ok "$CELLA" order verify orders.json --signer 0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1
python3 - <<'PY' || fail "template request not filled with the signer"
import json
r = json.load(open("orders.json"))["421614"]["requestorder"]
assert r["requester"] == r["beneficiary"] == "0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1", r
PY
ok
expect_ok "$CELLA" order sign --app --tag tee,tdx,gpu --wallet-file "$FAST" --password-file ../pw --out tagged.json
python3 -c "
import json; a=json.load(open('tagged.json'))['421614']['apporder']
assert a['tag'] == '0x' + '0' * 61 + '109', a['tag']" || fail "order sign --tag"
ok
expect_ok "$CELLA" order verify tagged.json --signer $SIGNER
expect_ok "$CELLA" init --chain-id 5 --hub 0x0000000000000000000000000000000000000001 --cas https://127.0.0.1:9 --cas-fingerprint "$(printf '%064d' 7)"
python3 - <<'PY' || fail "init did not update cella.json"
import json
d = json.load(open("cella.json"))
assert d["chainId"] == 5 and d["hub"] == "0x0000000000000000000000000000000000000001", d
assert d["cas"] == {"url": "https://127.0.0.1:9", "fingerprint": "0" * 63 + "7"}, d["cas"]
assert set(d["order"]) == {"apporder", "datasetorder", "workerpoolorder", "requestorder"}
PY
ok
expect_fail 'cas URL must be https' "$CELLA" init --cas http://x:1
cd ..

finish
