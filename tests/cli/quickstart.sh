#!/usr/bin/env bash
# docs/quickstart.md, run as written: its sh blocks, in order, in one shell,
# from the source checkout with the built binary first on PATH. The page
# cannot drift from the code.
. "$(dirname "$0")/lib.sh"
SRC=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
export XDG_CONFIG_HOME=$TMP/config
mkdir bin && ln -s "$CELLA" bin/cella
doc_script "$SRC/docs/quickstart.md" 6 > quickstart-run.sh
# the first block puts build/ on PATH; here the binary under test stands in for it
sed -i "s|^export PATH=\$PWD/build:\$PATH.*|export PATH=$TMP/bin:\$PATH|" quickstart-run.sh
grep -q "^export PATH=$TMP/bin" quickstart-run.sh || fail "the PATH line of the first block changed"
(cd "$SRC" && TMPDIR=$TMP timeout 300 bash "$TMP/quickstart-run.sh") > out.txt 2> err.txt ||
  { tail -n 30 out.txt err.txt >&2; fail "a quickstart command failed"; }
ok
# what the page promises
grep -q '^lines 1$' out.txt || fail "the word count result is shown"
grep -q '^top 1 the 3$' out.txt || fail "the top word"
grep -q 'wordcount: 13 words' out.txt || fail "the requester reads the app's logs"
grep -q 'cella: error: cannot decrypt the result key' err.txt || fail "the stolen result is refused"
ok
finish
