#!/usr/bin/env bash
# The tamper suite: every attack on a volume named in the foundation issue is
# refused, with one error line naming the file, and leaves no partial output.
. "$(dirname "$0")/lib.sh"

# flip FILE OFFSET: xor one bit of the byte at OFFSET (negative: from the end)
flip() {
  local f=$1 off=$2 size
  size=$(stat -c %s "$f")
  (( off < 0 )) && off=$((size + off))
  python3 - "$f" "$off" <<'PY'
import sys
f, off = sys.argv[1], int(sys.argv[2])
with open(f, 'r+b') as h:
    h.seek(off); b = h.read(1); h.seek(off); h.write(bytes([b[0] ^ 0x10]))
PY
}
# cfile VOL PATH: the ciphertext file of PATH (found via its size and order in ls)
fresh() {  # fresh NAME: a new copy of the pristine volume
  rm -rf "$1"; cp -a vol "$1"
}
big_of() {  # the ciphertext file holding the 3-chunk file (largest one)
  ls -S "$1"/[0-9a-f]* | head -1
}

mkdir -p src/docs/deeper src2
echo "Hello world" > src/f1.txt
echo "Hello together" > src/docs/f2.txt
head -c 10000 /dev/urandom > src/docs/deeper/three_chunks.bin   # 3 chunks of 4 KiB
head -c 10000 /dev/urandom > src/docs/same_size.bin              # same size, for cross swaps
echo "other volume" > src2/other.txt

expect_ok "$CELLA" volume encrypt src vol --key-file k.key --chunk-size 4K
TAG=$(cat .out)
[[ $(stat -c %a k.key) == 600 ]] || fail "key file mode is not 0600"
expect_ok "$CELLA" volume verify vol --key-file k.key --tag "$TAG"
BIG=$(basename "$(big_of vol)")

# 1. a flipped bit anywhere: metadata header, body, tag; file header, chunk, chunk tag
for off in 20 40 100 -1; do
  fresh t; flip t/volume.meta $off
  expect_fail 'volume.meta' "$CELLA" volume verify t --key-file k.key
done
fresh t; flip t/volume.meta 60   # key-check field: reported as a wrong key
expect_fail 'wrong key' "$CELLA" volume verify t --key-file k.key
for off in 20 40 200 4200 -1; do
  fresh t; flip "t/$BIG" $off
  expect_fail "$BIG" "$CELLA" volume verify t --key-file k.key
done

# ... and cat refuses it too, writing nothing: each 10000-byte file is one
# job (3 chunks of 4 KiB), and no byte of a job is written before all of its
# chunks passed. (Both files of that size are damaged: which is $BIG is a tie.)
fresh t
for f in $(ls -S t/[0-9a-f]* | head -2); do flip "$f" -1; done
for th in 1 3; do
  for p in docs/deeper/three_chunks.bin docs/same_size.bin; do
    expect_fail "chunk 2 of $p failed authentication" \
      "$CELLA" volume cat t "$p" --key-file k.key --threads $th
  done
done

# 2. truncated or extended file
fresh t; truncate -s -1 "t/$BIG"
expect_fail 'truncated' "$CELLA" volume verify t --key-file k.key
fresh t; echo x >> "t/$BIG"
expect_fail 'extended' "$CELLA" volume verify t --key-file k.key
fresh t; truncate -s -4112 "t/$BIG"   # drop the whole last chunk
expect_fail 'truncated' "$CELLA" volume verify t --key-file k.key

# 3. chunks swapped within a file, and across files (4096+16 bytes each)
fresh t
python3 - "t/$BIG" <<'PY'
import sys
f = sys.argv[1]; n = 4096 + 16; b = bytearray(open(f, 'rb').read())
c0, c1 = b[64:64+n], b[64+n:64+2*n]; b[64:64+n], b[64+n:64+2*n] = c1, c0
open(f, 'wb').write(b)
PY
expect_fail 'chunk 0 .*failed authentication' "$CELLA" volume verify t --key-file k.key
fresh t
OTHER=$(ls -S t/[0-9a-f]* | sed -n 2p)
python3 - "t/$BIG" "$OTHER" <<'PY'
import sys
n = 4096 + 16
a = bytearray(open(sys.argv[1], 'rb').read()); b = bytearray(open(sys.argv[2], 'rb').read())
a[64:64+n], b[64:64+n] = b[64:64+n], a[64:64+n]
open(sys.argv[1], 'wb').write(a); open(sys.argv[2], 'wb').write(b)
PY
expect_fail 'failed authentication' "$CELLA" volume verify t --key-file k.key

# 4. files renamed or swapped
fresh t; A=$(ls -S t/[0-9a-f]* | sed -n 1p); B=$(ls -S t/[0-9a-f]* | sed -n 2p)
mv "$A" t/swap; mv "$B" "$A"; mv t/swap "$B"
expect_fail 'renamed or swapped' "$CELLA" volume verify t --key-file k.key
fresh t; mv "t/$BIG" t/0123456789abcdef0123456789abcdef
expect_fail 'unexpected file' "$CELLA" volume verify t --key-file k.key

# 5. a ciphertext file deleted or added
fresh t; rm "t/$BIG"
expect_fail 'missing' "$CELLA" volume verify t --key-file k.key
fresh t; cp "t/$BIG" t/ffffffffffffffffffffffffffffffff
expect_fail 'unexpected file' "$CELLA" volume verify t --key-file k.key
fresh t; echo junk > t/notes.txt
expect_fail 'unexpected file' "$CELLA" volume verify t --key-file k.key

# 6. metadata taken from another volume (even one under the same key)
expect_ok "$CELLA" volume encrypt src2 vol2 --key-file k.key
fresh t; cp vol2/volume.meta t/volume.meta
expect_fail 'unexpected file|missing' "$CELLA" volume verify t --key-file k.key
fresh t; cp vol2/[0-9a-f]* t/; O2=$(basename vol2/[0-9a-f]*); rm -f "t/$BIG"; mv "t/$O2" "t/$BIG"
expect_fail 'another volume|renamed or swapped' "$CELLA" volume verify t --key-file k.key

# 7. a wrong key
expect_ok "$CELLA" volume encrypt src2 vol3 --key-file other.key
expect_fail 'wrong key' "$CELLA" volume verify vol --key-file other.key
expect_fail 'wrong key' "$CELLA" volume decrypt vol out-wrongkey --key-file other.key
[[ ! -e out-wrongkey ]] || fail "decrypt with a wrong key left output"

# 8. rollback: an older, validly encrypted state is refused against the new tag
cp -a vol old
echo "new content" > src/f1.txt
expect_ok "$CELLA" volume encrypt src vol --key-file k.key --chunk-size 4K
NEW=$(cat .out)
[[ "$NEW" != "$TAG" ]] || fail "update did not change the tag"
expect_ok "$CELLA" volume verify old --key-file k.key            # old is authentic...
expect_fail 'rolled back' "$CELLA" volume verify old --key-file k.key --tag "$NEW"   # ...but stale
expect_fail 'rolled back' "$CELLA" volume decrypt old out-old --key-file k.key --tag "$NEW"
[[ ! -e out-old ]] || fail "rolled-back decrypt left output"
expect_fail 'rolled back' "$CELLA" volume ls old --key-file k.key --tag "$NEW"
expect_ok "$CELLA" volume verify vol --key-file k.key --tag "$NEW"
# the update removed the old generation's ciphertext files
[[ $(ls vol | wc -l) == 5 ]] || fail "stale ciphertext files left after update: $(ls vol)"

# 9. no partial output: a tampered last chunk fails decrypt after other files were written
fresh t; flip "$(big_of t)" -1
expect_fail 'failed authentication' "$CELLA" volume decrypt t out-partial --key-file k.key
[[ ! -e out-partial ]] || fail "failed decrypt left $(find out-partial)"
mkdir existing; chmod 750 existing
expect_fail 'failed authentication' "$CELLA" volume decrypt t existing --key-file k.key
[[ -d existing && -z $(ls -A existing) ]] || fail "failed decrypt changed an existing empty OUT_DIR: $(ls -A existing)"
[[ -z $(find . -maxdepth 1 -name ".cella-staging*") ]] || fail "failed decrypt left its staging: $(ls -A)"
# an existing OUT_DIR must be empty: the output replaces it in one rename, keeping its mode
echo keep > existing/mine.txt
expect_fail 'already exists and is not empty' "$CELLA" volume decrypt vol existing --key-file k.key
[[ $(ls -A existing) == mine.txt ]] || fail "refused decrypt changed a non-empty OUT_DIR: $(ls -A existing)"
rm existing/mine.txt
expect_ok "$CELLA" volume decrypt vol existing/ --key-file k.key
[[ -f existing/f1.txt && $(stat -c %a existing) == 750 ]] || fail "decrypt into an empty OUT_DIR"

# 10. path safety: symlinks in the source are refused, outputs never overwrite
mkdir -p lsrc; echo a > lsrc/a; ln -s /etc/passwd lsrc/link
expect_fail 'symbolic links' "$CELLA" volume encrypt lsrc lvol --key-file k.key
[[ ! -e lvol ]] || fail "refused encrypt left a volume directory"
mkdir out-sym; ln -s /tmp out-sym/docs
expect_fail 'already exists' "$CELLA" volume decrypt vol out-sym --key-file k.key
[[ $(ls -A out-sym) == docs ]] || fail "decrypt wrote next to a symlink"

# 11. bad input: malformed tag, missing key file, group-readable key, not a volume
expect_fail 'hex' "$CELLA" volume verify vol --key-file k.key --tag zz
expect_fail 'cannot read key file' "$CELLA" volume verify vol --key-file nope.key
cp k.key loose.key; chmod 644 loose.key
expect_fail 'accessible by other users' "$CELLA" volume verify vol --key-file loose.key
mkdir notvol; echo x > notvol/x
expect_fail 'not a cella volume' "$CELLA" volume verify notvol --key-file k.key
expect_fail 'neither empty nor a cella volume' "$CELLA" volume encrypt src notvol --key-file k.key
expect_fail 'overlap' "$CELLA" volume encrypt src src/inner --key-file k.key
[[ ! -e src/inner ]] || fail "overlap refusal left a directory"
head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' > /dev/null
printf 'not hex at all\n' > bad.key; chmod 600 bad.key
expect_fail '64 hex digits' "$CELLA" volume verify vol --key-file bad.key

finish
