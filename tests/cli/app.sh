#!/usr/bin/env bash
# `cella app init|measure|pack` end to end, with the copy example and refusals.
. "$(dirname "$0")/lib.sh"

expect_ok "$CELLA" app init bundle
[[ -f bundle/cella-app.json ]] || fail "init wrote no manifest"
expect_fail 'exists' "$CELLA" app init bundle
# The template's entrypoint is missing until the app is added.
expect_fail 'entrypoint' "$CELLA" app measure bundle
mkdir -p bundle/bin
printf '#!/bin/sh\necho hi\n' > bundle/bin/app
chmod 0755 bundle/bin/app
expect_ok "$CELLA" app measure bundle
M1=$(cat "$TMP/.out")
[[ "$M1" =~ ^[0-9a-f]{64}$ ]] || fail "measurement format: $M1"
expect_ok "$CELLA" app measure bundle
[[ "$(cat "$TMP/.out")" == "$M1" ]] || fail "measurement not stable"

# A copy made differently (other mtimes, group bits) measures the same.
mkdir -p copy/bin
cp bundle/cella-app.json copy/
printf '#!/bin/sh\necho hi\n' > copy/bin/app
chmod 0775 copy/bin/app
touch -d '2001-01-01' copy/bin/app
expect_ok "$CELLA" app measure copy
[[ "$(cat "$TMP/.out")" == "$M1" ]] || fail "copy measures differently"

# One byte, the execute bit, one manifest field: all change it.
printf '#!/bin/sh\necho ho\n' > copy/bin/app
expect_ok "$CELLA" app measure copy
[[ "$(cat "$TMP/.out")" != "$M1" ]] || fail "byte change not measured"
printf '#!/bin/sh\necho hi\n' > copy/bin/app
printf 'x' > copy/data && chmod 0644 copy/data
expect_ok "$CELLA" app measure copy; M2=$(cat "$TMP/.out")
chmod 0744 copy/data
expect_ok "$CELLA" app measure copy
[[ "$(cat "$TMP/.out")" != "$M2" ]] || fail "mode change not measured"
sed -i 's/"heap_mb": 256/"heap_mb": 257/' copy/cella-app.json
expect_ok "$CELLA" app measure copy
[[ "$(cat "$TMP/.out")" != "$M2" ]] || fail "manifest change not measured"

# Pack: deterministic, prints 0x<sha256> FILE, the sha is the file's.
expect_ok "$CELLA" app pack bundle -o a.tar
read -r sum file < "$TMP/.out"
[[ "$file" == a.tar && "$sum" == "0x$(sha256sum a.tar | cut -c1-64)" ]] || fail "pack output: $sum $file"
expect_ok "$CELLA" app pack bundle --output b.tar
cmp a.tar b.tar || fail "pack not deterministic"
expect_ok "$CELLA" app pack bundle/
[[ -f bundle.tar ]] && cmp a.tar bundle.tar || fail "default output name"
tar tvf a.tar > list.txt
grep -q '0/0' list.txt && grep -q '1970-01-01' list.txt || fail "tar metadata not normalised: $(cat list.txt)"

# Refusals name the problem.
ln -s bin/app bundle/link
expect_fail 'symbolic links.*\(link\)' "$CELLA" app measure bundle
expect_fail 'symbolic links' "$CELLA" app pack bundle -o c.tar
[[ ! -e c.tar ]] || fail "refused pack left a file"
rm bundle/link
chmod 0644 bundle/bin/app
expect_fail 'not executable.*entrypoint' "$CELLA" app measure bundle
chmod 0755 bundle/bin/app
sed -i 's/"args": \[\]/"args": [], "network": true/' bundle/cella-app.json
expect_fail 'unknown field \(cella-app.json: network\)' "$CELLA" app measure bundle
sed -i 's/, "network": true//' bundle/cella-app.json
sed -i 's#"bin/app"#"../bin/app"#' bundle/cella-app.json
expect_fail 'entrypoint' "$CELLA" app measure bundle
sed -i 's#"../bin/app"#"bin/app"#' bundle/cella-app.json
expect_ok "$CELLA" app measure bundle
[[ "$(cat "$TMP/.out")" == "$M1" ]] || fail "restored bundle measures differently"
expect_fail 'usage' "$CELLA" app measure
mkdir empty
expect_fail 'no cella-app.json' "$CELLA" app measure empty

# The copy example builds, measures and runs.
if [[ -n "${CELLA_SOURCE:-}" && -d "$CELLA_SOURCE/examples/copy" ]] && command -v cc >/dev/null; then
  # the example's Makefile includes ../app.mk: copy both, keeping the layout
  mkdir exs && cp -r "$CELLA_SOURCE/examples/copy" exs/copy && cp "$CELLA_SOURCE/examples/app.mk" exs/
  ln -s exs/copy ex
  make -s -C ex bundle >/dev/null 2>&1 || fail "example does not build"
  expect_ok "$CELLA" app measure ex/bundle
  mkdir -p in/sub; echo "Hello world" > in/a.txt; echo "Hello together" > in/sub/b.txt
  ex/bundle/copy_files in out >/dev/null || fail "copy app failed"
  diff -r in out || fail "copy app output differs"
  IN=in OUT=out2 ex/bundle/copy_files >/dev/null && diff -r in out2 || fail "copy app via env"
  ok
fi
finish
