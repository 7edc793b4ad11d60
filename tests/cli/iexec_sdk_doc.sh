#!/usr/bin/env bash
# docs/iexec-sdk.md, run as written: its sh blocks and its js block (saved as
# secrets.mjs, as the page says), in order, in one shell, with the built binary
# first on PATH and the SDK (iexec@9) from the tests' npm cache standing in for
# the page's `npm install`. The page cannot drift from the code.
. "$(dirname "$0")/lib.sh"
need_iexec_sdk 9
SRC=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
export XDG_CONFIG_HOME=$TMP/config
mkdir bin && ln -s "$CELLA" bin/cella
doc_script "$SRC/docs/iexec-sdk.md" 3 secrets.mjs > doc-run.sh
# the binary under test for build/, the cached SDK for the npm install
sed -i -e "s|^export PATH=\$PWD/build:\$PATH.*|export PATH=$TMP/bin:\$PATH|" \
  -e "s|^npm install --no-audit --no-fund iexec@9 ethers@6\$|ln -s '$CACHE/node_modules' node_modules|" doc-run.sh
grep -q "^export PATH=$TMP/bin" doc-run.sh || fail "the PATH line of the first block changed"
grep -q "^ln -s '$CACHE/node_modules'" doc-run.sh || fail "the npm install line changed"
(cd "$SRC" && TMPDIR=$TMP timeout 120 bash "$TMP/doc-run.sh") > out.txt 2> err.txt ||
  { tail -n 30 out.txt err.txt >&2; fail "a command of docs/iexec-sdk.md failed"; }
ok
# what the page promises, in its words
for line in '{"isPushed":true,"isUpdated":false}' '{"isPushed":true,"isUpdated":true}' \
    '{"isPushed":true}' 'true' 'cella sees my-secret'; do
  grep -qxF "$line" out.txt || { cat out.txt >&2; fail "the page promises '$line'"; }
done
ok
finish
