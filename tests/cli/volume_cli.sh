#!/usr/bin/env bash
# The volume verbs as a user sees them: output formats, help, usage errors,
# progress on large work, updates, empty trees, file modes.
. "$(dirname "$0")/lib.sh"

expect_ok "$CELLA" --version
grep -Eq '^cella [0-9]+\.[0-9]+\.[0-9]+$' .out || fail "bad --version output"
expect_ok "$CELLA" help volume
grep -q 'cella volume encrypt SRC_DIR VOL_DIR --key-file KEY' .out || fail "help lacks volume encrypt"
expect_ok "$CELLA" help volume decrypt
grep -q '^usage: cella volume decrypt VOL_DIR OUT_DIR' .out || fail "help volume decrypt"
expect_ok "$CELLA" volume verify --help
expect_fail 'unknown command' "$CELLA" frobnicate
expect_fail 'unknown subcommand' "$CELLA" volume frobnicate
expect_fail "unknown option '--nope'" "$CELLA" volume ls v --nope
expect_fail "needs a value" "$CELLA" volume ls v --key-file
expect_fail 'usage: cella volume encrypt' "$CELLA" volume encrypt onlyone --key-file k.key
"$CELLA" volume ls 2>/dev/null && fail "missing arguments accepted"
rc=0; "$CELLA" frobnicate >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "usage errors exit 2 (got $rc)"
rc=0; "$CELLA" volume verify nowhere --key-file k.key >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "runtime errors exit 1 (got $rc)"

# a tree with an empty directory, an empty file, modes, nested paths
mkdir -p src/empty src/a/b
printf 'x' > src/a/b/one; : > src/zero; printf '#!/bin/sh\n' > src/run.sh; chmod 755 src/run.sh
chmod 600 src/zero
expect_ok "$CELLA" volume encrypt src vol --key-file k.key
TAG=$(cat .out)
[[ "$TAG" =~ ^[0-9a-f]{32}$ ]] || fail "tag is not 32 hex digits: $TAG"
grep -q 'created key file k.key' .err || fail "key creation not announced"
expect_ok "$CELLA" volume tag vol --key-file k.key
[[ $(cat .out) == "$TAG" ]] || fail "volume tag differs from encrypt's"
expect_ok "$CELLA" volume ls vol --key-file k.key
cat > want.ls <<'LS'
           - a/
           - a/b/
           1 a/b/one
           - empty/
          10 run.sh
           0 zero
LS
diff want.ls .out || fail "ls output"
expect_ok "$CELLA" volume cat vol run.sh --key-file k.key
[[ $(cat .out) == '#!/bin/sh' ]] || fail "cat output"
expect_fail 'no such file' "$CELLA" volume cat vol missing --key-file k.key
expect_ok "$CELLA" volume decrypt vol out --key-file k.key --tag "$TAG"
diff -r src out || fail "round trip differs"
[[ -d out/empty && ! -s out/zero ]] || fail "empty dir or empty file lost"
[[ $(stat -c %a out/run.sh) == 755 && $(stat -c %a out/zero) == 600 ]] || fail "modes not kept"
expect_fail 'already exists' "$CELLA" volume decrypt vol out --key-file k.key
expect_ok "$CELLA" volume verify vol --key-file k.key --threads 1
grep -q "^ok: 6 entries, version 1, tag $TAG" .out || fail "verify summary"

# an empty source makes a valid empty volume; the key is reused, not replaced
mkdir nothing
cp k.key k.before
expect_ok "$CELLA" volume encrypt nothing evol --key-file k.key
cmp -s k.key k.before || fail "existing key file was changed"
expect_ok "$CELLA" volume verify evol --key-file k.key

# progress goes to stderr for large work when asked (a terminal turns it on)
head -c $((80 * 1024 * 1024)) /dev/zero > src/big.bin
CELLA_PROGRESS=1 "$CELLA" volume encrypt src vol --key-file k.key > .out 2> .err || fail "encrypt big"
grep -q 'encrypting .*MiB.*100%' .err || fail "no progress line on stderr"
[[ $(wc -l < .out) == 1 ]] || fail "progress leaked to stdout"
CELLA_PROGRESS=0 "$CELLA" volume decrypt vol out2 --key-file k.key 2> .err || fail "decrypt big"
[[ ! -s .err ]] || fail "progress printed when disabled"
cmp src/big.bin out2/big.bin || fail "big file differs"
ok

finish
