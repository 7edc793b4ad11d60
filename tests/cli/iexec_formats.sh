#!/usr/bin/env bash
# The iExec dataset and result formats through the CLI: the SDK's vectors,
# round trips, the SDK folder layout, and refusals without partial output.
. "$(dirname "$0")/lib.sh"
DV="$CELLA_VECTORS/iexec/dataset"
RV="$CELLA_VECTORS/iexec/result"
BEN=0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1

# ---- datasets: every SDK .enc decrypts to its original, with and without checksum
for name in a37.bin block32.bin dataset.txt; do
  sum=$(python3 -c 'import json,sys; print([f["checksum"] for f in json.load(open(sys.argv[1]))["encryptedFiles"] if f["original"].endswith("/"+sys.argv[2])][0])' \
        "$DV/encrypt-cli-output.json" "$name")
  [[ $(sha256sum "$DV/datasets/encrypted/$name.enc" | cut -d' ' -f1) == "${sum#0x}" ]] || fail "checksum of $name"
  expect_ok "$CELLA" dataset decrypt "$DV/datasets/encrypted/$name.enc" \
    --key-file "$DV/.secrets/datasets/$name.key" -o "out-$name" --checksum "$sum"
  cmp -s "out-$name" "$DV/datasets/original/$name" || fail "$name does not decrypt to its original"
  [[ $(stat -c %a "out-$name") == 600 ]] || fail "decrypted file mode"
  # SDK keys are 0644 on disk: a warning, not a refusal
  rm "out-$name"
  expect_ok "$CELLA" dataset decrypt "$DV/datasets/encrypted/$name.enc" \
    --key-file="$DV/.secrets/datasets/$name.key" --output "out-$name"
  cmp -s "out-$name" "$DV/datasets/original/$name" || fail "$name (no checksum)"
done

# refusals: wrong key, flipped byte, truncated, checksum mismatch, existing output
cp "$DV/datasets/encrypted/dataset.txt.enc" t.enc
expect_fail 'bad padding' "$CELLA" dataset decrypt t.enc --key-file "$DV/.secrets/datasets/a37.bin.key" -o o1
[[ ! -e o1 ]] || fail "partial output after wrong key"
python3 -c 'import sys; b=bytearray(open("t.enc","rb").read()); b[-1]^=0x20; open("t.enc","wb").write(b)'
expect_fail 'bad padding' "$CELLA" dataset decrypt t.enc --key-file "$DV/.secrets/datasets/dataset.txt.key" -o o1
cp "$DV/datasets/encrypted/dataset.txt.enc" t.enc
python3 -c 'import sys; b=bytearray(open("t.enc","rb").read()); b[40]^=0x01; open("t.enc","wb").write(b)'
expect_fail 'checksum mismatch' "$CELLA" dataset decrypt t.enc --key-file "$DV/.secrets/datasets/dataset.txt.key" \
  -o o1 --checksum 0xc529c9036713888aab12abb8dd3f0edb9a6b183c54fae65c99cd2b4b3127178d
head -c 100 "$DV/datasets/encrypted/dataset.txt.enc" > t.enc
expect_fail 'whole number of AES blocks' "$CELLA" dataset decrypt t.enc --key-file "$DV/.secrets/datasets/dataset.txt.key" -o o1
[[ ! -e o1 ]] || fail "partial output"
echo -n "not a key" > bad.key
expect_fail 'not an iExec dataset key' "$CELLA" dataset decrypt "$DV/datasets/encrypted/a37.bin.enc" --key-file bad.key -o o1
expect_fail 'usage' "$CELLA" dataset decrypt "$DV/datasets/encrypted/a37.bin.enc" -o o1
echo x > exists
expect_fail 'exists' "$CELLA" dataset decrypt "$DV/datasets/encrypted/a37.bin.enc" --key-file "$DV/.secrets/datasets/a37.bin.key" -o exists
expect_ok "$CELLA" dataset decrypt "$DV/datasets/encrypted/a37.bin.enc" --key-file "$DV/.secrets/datasets/a37.bin.key" -o exists --force
cmp -s exists "$DV/datasets/original/a37.bin" || fail "--force output"

# ---- the SDK's folder flow: init, encrypt --format iexec, decrypt
mkdir p && cd p
expect_fail 'missing|cannot open' "$CELLA" dataset encrypt --format iexec
expect_ok "$CELLA" dataset init --encrypted
[[ -d datasets/original && -d datasets/encrypted && -d .secrets/datasets ]] || fail "init tree"
[[ $(stat -c %a .secrets/datasets) == 700 ]] || fail "secrets folder mode"
expect_fail 'empty' "$CELLA" dataset encrypt --format iexec
cp "$DV"/datasets/original/* datasets/original/
mkdir datasets/original/skipped_dir
: > datasets/original/empty.bin
expect_ok "$CELLA" dataset encrypt --format iexec
grep -q 'skipping skipped_dir' "$TMP/.err" || fail "directory not reported as skipped"
[[ $(wc -l < "$TMP/.out") == 4 ]] || fail "one checksum line per file expected"
while read -r enc sum; do
  name=$(basename "$enc" .enc)
  [[ -f "$enc" ]] || fail "missing $enc"
  [[ "0x$(sha256sum "$enc" | cut -d' ' -f1)" == "$sum" ]] || fail "printed checksum of $enc"
  key=.secrets/datasets/$name.key
  [[ $(stat -c %a "$key") == 600 && $(stat -c %s "$key") == 44 ]] || fail "key file $key"
  [[ $(tail -c 1 "$key" | od -An -c | tr -d ' ') != '\n' ]] || fail "key ends with a newline"
  "$CELLA" dataset decrypt "$enc" --key-file "$key" -o "dec-$name" --checksum "$sum" || fail "decrypt $enc"
  cmp -s "dec-$name" "datasets/original/$name" || fail "round trip of $name"
  # openssl agrees with the format (IV || AES-256-CBC/PKCS#7)
  khex=$(base64 -d < "$key" | od -An -tx1 | tr -d ' \n')
  ivhex=$(head -c 16 "$enc" | od -An -tx1 | tr -d ' \n')
  tail -c +17 "$enc" | openssl enc -d -aes-256-cbc -K "$khex" -iv "$ivhex" > "ossl-$name" || fail "openssl $name"
  cmp -s "ossl-$name" "datasets/original/$name" || fail "openssl round trip of $name"
done < "$TMP/.out"
cmp -s .secrets/datasets/dataset.key .secrets/datasets/empty.bin.key || fail "dataset.key is not the last key (sorted order)"
expect_fail 'already' "$CELLA" dataset encrypt --format iexec
expect_ok "$CELLA" dataset encrypt --format iexec --force
expect_fail 'unknown format' "$CELLA" dataset encrypt --format scone

# ---- the default: a cella volume of datasets/original
expect_ok "$CELLA" dataset encrypt
read -r vol tag < "$TMP/.out"
[[ "$vol" == datasets/encrypted/dataset.volume && ${#tag} == 32 ]] || fail "volume output: $vol $tag"
[[ $(stat -c %a .secrets/datasets/dataset.volume.key) == 600 ]] || fail "volume key mode"
expect_ok "$CELLA" volume decrypt "$vol" vout --key-file .secrets/datasets/dataset.volume.key --tag "$tag"
cmp -s vout/dataset.txt datasets/original/dataset.txt || fail "volume content"
# the SDK's option names, and custom folders
expect_ok "$CELLA" dataset init --original-dir o2 --encrypted-dir e2 --secrets-dir s2
cp "$DV/datasets/original/a37.bin" o2/
expect_ok "$CELLA" dataset encrypt --format iexec --original-dataset-dir o2 --encrypted-dataset-dir e2 --dataset-keystoredir s2/datasets
[[ -f e2/a37.bin.enc && -f s2/datasets/a37.bin.key ]] || fail "custom folders"
cd ..

# ---- results: the SDK vector opens to iexec_out.zip byte for byte
mkdir r && cd r
expect_ok "$CELLA" result decrypt "$RV/encrypted-iexec_out.zip" --key "$RV/.secrets/beneficiary/${BEN}_key" -o results.zip
cmp -s results.zip "$RV/iexec_out.zip" || fail "vector result does not decrypt to iexec_out.zip"
[[ $(stat -c %a results.zip) == 600 ]] || fail "results.zip mode"
expect_fail 'exists' "$CELLA" result decrypt "$RV/encrypted-iexec_out.zip" --key "$RV/.secrets/beneficiary/${BEN}_key"
# default key: the only *_key in .secrets/beneficiary; SDK option names too
mkdir -p .secrets/beneficiary
cp "$RV/.secrets/beneficiary/${BEN}_key" .secrets/beneficiary/
expect_ok "$CELLA" result decrypt "$RV/encrypted-iexec_out.zip" -o r2.zip
cmp -s r2.zip "$RV/iexec_out.zip" || fail "default key"
expect_ok "$CELLA" result decrypt "$RV/encrypted-iexec_out.zip" --beneficiary-key-file "${BEN}_key" -o r3.zip --force
cmp -s r3.zip "$RV/iexec_out.zip" || fail "--beneficiary-key-file"

# ---- key pair generation and our own encryption
expect_fail 'not an Ethereum address' "$CELLA" result generate-encryption-keypair --address 0x1234 --secrets-dir s
expect_fail 'usage' "$CELLA" result generate-encryption-keypair --secrets-dir s
ADDR=0x00000000000000000000000000000000000000aB
expect_ok "$CELLA" result generate-encryption-keypair --address $ADDR --secrets-dir s
[[ $(stat -c %a "s/beneficiary/${ADDR}_key") == 600 ]] || fail "private key mode"
head -1 "s/beneficiary/${ADDR}_key" | grep -q 'BEGIN PRIVATE KEY' || fail "not PKCS#8"
head -1 "s/beneficiary/${ADDR}_key.pub" | grep -q 'BEGIN PUBLIC KEY' || fail "not SPKI"
[[ $(openssl pkey -in "s/beneficiary/${ADDR}_key" -noout -text | head -1) == *4096* ]] || fail "not RSA-4096"
expect_fail 'already exists' "$CELLA" result generate-encryption-keypair --address $ADDR --secrets-dir s

cp -r "$RV/iexec_out" out && chmod -R u+w out
mkdir -p out/sub && echo nested > out/sub/n.txt
expect_ok "$CELLA" result encrypt out --public-key "s/beneficiary/${ADDR}_key.pub" -o enc.zip
[[ $(unzip -Z1 enc.zip | sort | tr '\n' ' ') == "aes-key.rsa iexec_out.zip.aes " ]] || fail "outer zip entries"
expect_ok "$CELLA" result decrypt enc.zip --key "s/beneficiary/${ADDR}_key" -o dec.zip
[[ $(unzip -Z1 dec.zip | tr '\n' ' ') == "computed.json result.txt sub/n.txt " ]] || fail "inner zip entries"
mkdir x && (cd x && unzip -q ../dec.zip) && diff -r x out >/dev/null || fail "result round trip"
# the same with openssl, by hand (the format, not just our reader)
unzip -p enc.zip aes-key.rsa > k.rsa
openssl pkeyutl -decrypt -inkey "s/beneficiary/${ADDR}_key" -pkeyopt rsa_padding_mode:pkcs1 -in k.rsa -out k.raw
[[ $(stat -c %s k.raw) == 32 ]] || fail "wrapped key is not 32 bytes"
unzip -p enc.zip iexec_out.zip.aes > d.aes
tail -c +17 d.aes | openssl enc -d -aes-256-cbc -K "$(od -An -tx1 k.raw | tr -d ' \n')" \
  -iv "$(head -c 16 d.aes | od -An -tx1 | tr -d ' \n')" > d.zip || fail "openssl decrypt"
cmp -s d.zip dec.zip || fail "openssl disagrees"
# the base64 form of the public key (as handed to post-compute) works too
expect_ok "$CELLA" result encrypt out --public-key "$RV/RESULT_ENCRYPTION_PUBLIC_KEY.b64" -o enc2.zip
expect_ok "$CELLA" result decrypt enc2.zip --key "$RV/.secrets/beneficiary/${BEN}_key" -o dec2.zip
cmp -s dec2.zip dec.zip || fail "zip of a folder is not deterministic"

# refusals
expect_fail 'wrong beneficiary key' "$CELLA" result decrypt enc.zip --key "$RV/.secrets/beneficiary/${BEN}_key" -o bad.zip
[[ ! -e bad.zip ]] || fail "partial output"
expect_fail 'not an unencrypted PEM private key' "$CELLA" result decrypt enc.zip --key "s/beneficiary/${ADDR}_key.pub" -o bad.zip
head -c 700 enc.zip > trunc.zip
expect_fail 'not a valid zip' "$CELLA" result decrypt trunc.zip --key "s/beneficiary/${ADDR}_key" -o bad.zip
python3 - <<'PY'
import zipfile
z = zipfile.ZipFile("evil.zip", "w")
z.writestr("aes-key.rsa", b"x" * 512)
z.writestr("../iexec_out.zip.aes", b"y" * 32)
z.close()
z = zipfile.ZipFile("bigkey.zip", "w", zipfile.ZIP_DEFLATED)
z.writestr("aes-key.rsa", b"\0" * 5000)
z.writestr("iexec_out.zip.aes", b"y" * 32)
z.close()
z = zipfile.ZipFile("nokey.zip", "w")
z.writestr("iexec_out.zip.aes", b"y" * 32)
z.close()
PY
expect_fail 'absolute or parent' "$CELLA" result decrypt evil.zip --key "s/beneficiary/${ADDR}_key" -o bad.zip
expect_fail 'larger than 1000' "$CELLA" result decrypt bigkey.zip --key "s/beneficiary/${ADDR}_key" -o bad.zip
expect_fail 'missing aes-key.rsa' "$CELLA" result decrypt nokey.zip --key "s/beneficiary/${ADDR}_key" -o bad.zip
[[ ! -e bad.zip ]] || fail "partial output"
ln -s /etc/passwd out/link
expect_fail 'symbolic links' "$CELLA" result encrypt out --public-key "s/beneficiary/${ADDR}_key.pub" -o e3.zip
[[ ! -e e3.zip ]] || fail "partial output"
cd ..
finish
