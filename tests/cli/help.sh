#!/usr/bin/env bash
# Help from the one command table: the overview (lines of at most 100 columns,
# each verb once), `cella GROUP --help|-h`, `cella GROUP VERB --help`,
# `cella help ...` on stdout with exit 0; "did you mean" for a mistyped
# command, verb or option; the cella(1) page made from the same table.
. "$(dirname "$0")/lib.sh"

expect_ok "$CELLA" --help
cp .out overview
awk 'length > 100 { print; bad = 1 } END { exit bad }' overview || fail "an overview line passes 100 columns"
[[ $(wc -l < overview) -le 60 ]] || fail "overview of $(wc -l < overview) lines"
expect_ok "$CELLA" -h; cmp -s .out overview || fail "-h differs from --help"
expect_ok "$CELLA" help; cmp -s .out overview || fail "help differs from --help"
ok

# The groups and their verbs, as the overview lists them ("  GROUP  VERB VERB...",
# continuation lines indented further), between "groups" and "commands:".
awk '/^groups/ { on = 1; next } /^commands:/ { on = 0 }
     on && /^  [a-z]/ { g = $1; for (i = 2; i <= NF; i++) print g, $i; next }
     on && /^      / { for (i = 1; i <= NF; i++) print g, $i }' overview > verbs
[[ $(wc -l < verbs) -ge 60 ]] || fail "only $(wc -l < verbs) verbs in the overview"
dups=$(sort verbs | uniq -d)
[[ -z "$dups" ]] || fail "verbs listed twice: $dups"
ok

for g in $(cut -d' ' -f1 verbs | uniq); do
  for h in --help -h; do
    expect_ok "$CELLA" "$g" "$h"
    grep -q "^  cella $g " .out || fail "cella $g $h: no usage lines"
  done
  expect_ok "$CELLA" help "$g"
  grep -q "^  cella $g " .out || fail "cella help $g"
done
while read -r g v; do
  expect_ok "$CELLA" "$g" "$v" --help
  grep -q "^usage: cella $g $v" .out || fail "cella $g $v --help: $(head -1 .out)"
  awk 'length > 100 { bad = 1 } END { exit bad }' .out || fail "cella $g $v --help: a line passes 100 columns"
done < verbs
expect_ok "$CELLA" help app run
grep -q '^usage: cella app run' .out || fail "cella help app run"
expect_ok "$CELLA" up -h
grep -q '^usage: cella up' .out || fail "cella up -h"
# an argument after -- is the verb's, not a request for help
expect_fail 'key file is required' "$CELLA" volume ls -- --help

# ---- typos ----
expect_fail "unknown command 'volum' \(did you mean 'volume'\?\)" "$CELLA" volum
expect_fail "unknown subcommand 'encrpyt' \(did you mean 'cella volume encrypt'\?\)" "$CELLA" volume encrpyt
expect_fail "unknown option '--ke-file' \(did you mean '--key-file'\?\)" "$CELLA" volume ls v --ke-file k
expect_fail "unknown subcommand 'zzzzzz' \(cella volume --help lists them\)" "$CELLA" volume zzzzzz
expect_fail "unknown command 'qqqqqqqq' \(try: cella help\)" "$CELLA" qqqqqqqq
expect_fail "'volume' has no verb 'nope'" "$CELLA" help volume nope
# a group alone is a usage error, its verbs on stderr
if "$CELLA" volume >.out 2>.err; then fail "cella volume alone succeeded"; fi
grep -q 'missing verb' .err && grep -q '^  cella volume encrypt' .err || fail "cella volume alone: $(cat .err)"
ok

# ---- the man page ----
expect_ok "$CELLA" help --man
cp .out cella.1
grep -q '^\.TH CELLA 1' cella.1 || fail "no .TH"
n=$(grep -c '^\.TP' cella.1)
[[ $n -ge $(wc -l < verbs) ]] || fail "man page has $n entries for $(wc -l < verbs) verbs"
grep -q 'cella volume encrypt SRC_DIR' cella.1 || fail "man page lacks volume encrypt"
if command -v groff >/dev/null; then
  groff -ww -man -z cella.1 2> groff.err || fail "groff: $(cat groff.err)"
  [[ ! -s groff.err ]] || fail "groff warns: $(head -3 groff.err)"
fi
ok

# ---- output that cannot be written is a failure, not a success ----
if [[ -w /dev/full ]]; then
  "$CELLA" help --man > /dev/full 2> full.err && fail "help --man > /dev/full succeeded"
  [[ $(grep -c '^cella: error: cannot write the output' full.err) == 1 ]] || fail "no one error line: $(cat full.err)"
  ok
fi
finish
