#!/usr/bin/env bash
# make demo: a volume round trip on a sample tree (the SCONE copy-DApp inputs),
# showing the tag, a rollback refused and a tamper refused.
set -euo pipefail
CELLA=${1:-build/cella}
CELLA=$(realpath "$CELLA")
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cella-demo.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

mkdir -p INPUTS/more KEYS
echo "Hello world" > INPUTS/f1.txt
echo "Hello together" > INPUTS/more/f2.txt

say "cella volume encrypt INPUTS VOLUME --key-file KEYS/volume.key"
TAG=$("$CELLA" volume encrypt INPUTS VOLUME --key-file KEYS/volume.key)
echo "$TAG"
run ls VOLUME
run "$CELLA" volume ls VOLUME --key-file KEYS/volume.key
run "$CELLA" volume decrypt VOLUME OUTPUTS --key-file KEYS/volume.key --tag "$TAG"
run cat OUTPUTS/f1.txt OUTPUTS/more/f2.txt

cp -a VOLUME OLD_VOLUME
echo "Hello again" > INPUTS/f1.txt
say "cella volume encrypt INPUTS VOLUME --key-file KEYS/volume.key   # an update: new tag"
NEW=$("$CELLA" volume encrypt INPUTS VOLUME --key-file KEYS/volume.key)
echo "$NEW"
say "cella volume verify OLD_VOLUME --key-file KEYS/volume.key --tag $NEW   # rollback"
if "$CELLA" volume verify OLD_VOLUME --key-file KEYS/volume.key --tag "$NEW"; then
  echo "demo: rollback was NOT refused" >&2; exit 1
fi
F=$(ls VOLUME | grep -v volume.meta | head -1)
python3 -c "import sys;f=open(sys.argv[1],'r+b');f.seek(70);b=f.read(1);f.seek(70);f.write(bytes([b[0]^1]))" "VOLUME/$F"
say "flip one bit of VOLUME/$F; cella volume verify VOLUME --key-file KEYS/volume.key"
if "$CELLA" volume verify VOLUME --key-file KEYS/volume.key; then
  echo "demo: tamper was NOT refused" >&2; exit 1
fi
printf '\ndemo: round trip ok, rollback refused, tamper refused\n'
