#!/usr/bin/env bash
# cella wallet sign-message / verify-message (EIP-191 personal_sign) against
# ethers, as the iExec SDK ships it: cella's signature equals ethers'
# signMessage byte for byte (RFC 6979 is deterministic), ethers'
# verifyMessage recovers cella's signer and cella recovers ethers' signer, for
# UTF-8 text, an empty message, raw bytes (--hex, like getBytes) and a binary
# file. A flipped bit, another wallet's signature and a wrong --address are
# refused. Without node or the SDK: the cella-only checks run, then exit 77.
. "$(dirname "$0")/lib.sh"
KEY=$CELLA_VECTORS/iexec/wallet/wallet.json   # the SDK's unencrypted wallet
ADDR=0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1
new_wallet other

sign() { expect_ok "$CELLA" wallet sign-message "$@" --wallet-file "$KEY"; cat .out; }
S=$(sign "hello iExec")
[[ $S =~ ^0x[0-9a-f]{130}$ ]] || fail "signature $S"
[[ ${S: -2} == 1b || ${S: -2} == 1c ]] || fail "v is not 27/28: $S"
expect_ok "$CELLA" wallet verify-message "hello iExec" "$S"
[[ $(cat .out) == "$ADDR" ]] || fail "recovered $(cat .out)"
expect_ok "$CELLA" wallet verify-message "hello iExec" "$S" --address "$ADDR"
# a flipped bit in the signature, another message, another wallet's signature
BAD=${S:0:10}$(printf '%x' $(( 0x${S:10:1} ^ 1 )))${S:11}
if "$CELLA" wallet verify-message "hello iExec" "$BAD" --address "$ADDR" >.out 2>.err; then
  fail "a flipped bit verified"
fi
grep -Eq '^cella: error: (the message was signed by 0x[0-9a-fA-F]{40}, not by|.*signature)' .err || fail "flipped bit: $(cat .err)"
expect_fail "signed by 0x[0-9a-fA-F]{40}, not by $ADDR" "$CELLA" wallet verify-message "hello iexec" "$S" --address "$ADDR"
OS=$("$CELLA" wallet sign-message "hello iExec" --wallet-file "$(W other)")
expect_fail "signed by $(A other), not by $ADDR" "$CELLA" wallet verify-message "hello iExec" "$OS" --address "$ADDR"
expect_fail 'signature' "$CELLA" wallet verify-message "hello iExec" 0x1234
expect_fail 'not both' "$CELLA" wallet sign-message hi --message-file /dev/null --wallet-file "$KEY"
expect_fail 'even number of hex digits' "$CELLA" wallet sign-message --hex 0xabc --wallet-file "$KEY"
# the same bytes three ways sign the same
printf 'caf\xc3\xa9 \x00\x01\xff' > msg.bin
HEXMSG=0x$(od -An -tx1 -v msg.bin | tr -d ' \n')
F=$(sign --message-file msg.bin)
X=$(sign --hex "$HEXMSG")
[[ $F == "$X" ]] || fail "--message-file and --hex differ"
T=$(sign "café")
U=$(sign --hex 0x636166c3a9)
[[ $T == "$U" ]] || fail "UTF-8 text and its bytes differ"
E=$(sign "")
ok

# ---- against ethers (the SDK's) ----
need_iexec_sdk
cat > m.mjs <<'JS'
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const [cache, cmd, ...a] = process.argv.slice(2);
const ethers = createRequire(`${cache}/node_modules/`)('ethers');
const w = new ethers.Wallet(JSON.parse(readFileSync(a[0], 'utf8')).privateKey);
const msg = (k, v) => k === 'text' ? v : ethers.getBytes(v);
if (cmd === 'sign') console.log(await w.signMessage(msg(a[1], a[2])));
if (cmd === 'verify') console.log(ethers.verifyMessage(msg(a[1], a[2]), a[3]));
JS
js() { node m.mjs "$CACHE" "$1" "$KEY" "${@:2}"; }
for c in "text|hello iExec|$S" "text||$E" "text|café|$T" "hex|$HEXMSG|$F"; do
  IFS='|' read -r kind m sig <<< "$c"
  want=$(js sign "$kind" "$m") || fail "ethers signMessage"
  [[ $want == "$sig" ]] || fail "ethers signs '$m' as $want, cella as $sig"
  [[ $(js verify "$kind" "$m" "$sig") == "$ADDR" ]] || fail "ethers verifyMessage of cella's signature"
done
# ethers' signature of a 32-byte hash (as iExec signs challenges), checked by cella
H=0x$(printf 'challenge' | sha256sum | cut -c1-64)
ES=$(js sign hex "$H")
expect_ok "$CELLA" wallet verify-message --hex "$H" "$ES" --address "$ADDR"
ok
finish
