#!/usr/bin/env bash
# make demo: the SCONE seed's trusted copy DApp, end to end on loopback with
# the sim TEE: a cas, a client that encrypts and pushes its inputs, a host that
# runs the DApp as an enclave, and the client decrypting the outputs. Then a
# rollback and a tamper, both refused.
set -euo pipefail
CELLA=$(realpath "${1:-build/cella}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cella-demo.XXXXXX")
CAS_PID=""
BLOB_PID=""
cleanup() {
  for p in $CAS_PID $BLOB_PID; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
cd "$DIR"
export XDG_CONFIG_HOME=$DIR/config
if [[ -t 1 ]]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
say() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; }
run() { say "$*"; "$@"; }

say "# the platform: a sim TEE (protects nothing: development only) and a cas on loopback"
"$CELLA" tee sim init >/dev/null 2>&1
"$CELLA" cas serve --data cas-data --allow-sim --listen 127.0.0.1:0 > cas.log 2>cas.err &
CAS_PID=$!
for _ in $(seq 200); do grep -q '^fingerprint' cas.log 2>/dev/null && break; sleep 0.05; done
CAS_URL=$(sed -n 's/^cas listening on \(https[^ ]*\)$/\1/p' cas.log)
FP=$(awk '/^fingerprint/ {print $2}' cas.log)
echo "cas $CAS_URL, fingerprint $FP"
# the transfer service (the seed used a public file-push site)
"$CELLA" blobs serve --listen 127.0.0.1:0 --data blob-data > blobs.log 2>&1 &
BLOB_PID=$!
for _ in $(seq 200); do grep -q '^blobs listening on' blobs.log 2>/dev/null && break; sleep 0.05; done
BLOBS=$(sed -n 's/^blobs listening on \(http[^ ]*\)$/\1/p' blobs.log)
echo "transfer service $BLOBS"
# cella.json pins the cas for every later command
printf '{"cas": {"url": "%s", "fingerprint": "%s"}}\n' "$CAS_URL" "$FP" > cella.json
"$CELLA" wallet create --unencrypted --keystoredir wallet >/dev/null 2>&1
WALLET=$(ls wallet/*)

say "# the copy DApp: a small C program, measured"
mkdir -p app
cc -O2 -o app/copy_files "$SRC/examples/copy/copy_files.c"
cp "$SRC/examples/copy/cella-app.json" app/
run "$CELLA" app measure app

mkdir -p INPUTS/more KEYS
echo "Hello world" > INPUTS/f1.txt
echo "Hello together" > INPUTS/more/f2.txt
say "cella encryptedpush --app app --session-template session-template.yml --inputs INPUTS --keys KEYS --blobs $BLOBS"
"$CELLA" encryptedpush --app app --session-template "$SRC/examples/copy/session-template.yml" \
  --inputs INPUTS --keys KEYS --wallet-file "$WALLET" --blobs "$BLOBS" > cmd.txt
read -r -a CMD < cmd.txt
echo "${CMD[*]}"

say "cella run <that command line> --outputs OUTPUTS.enc --push $BLOBS      # on the host"
"$CELLA" run "${CMD[@]}" --outputs OUTPUTS.enc --push "$BLOBS" > run.txt
cat run.txt
URL=$(sed -n 's/.* url \(http[^ ]*\)$/\1/p' run.txt)

say "cella decrypt --keys KEYS --url $URL --out OUTPUTS"
"$CELLA" decrypt --keys KEYS --url "$URL" --out OUTPUTS --wallet-file "$WALLET"
run cat OUTPUTS/f1.txt OUTPUTS/more/f2.txt

"$CELLA" run "${CMD[@]}" --outputs OUTPUTS2.enc >/dev/null 2>&1
say "# a second run moved the output tag: the first output is now stale"
say "cella decrypt --keys KEYS --url $URL --out STALE"
if "$CELLA" decrypt --keys KEYS --url "$URL" --out STALE --wallet-file "$WALLET"; then
  echo "demo: rollback was NOT refused" >&2; exit 1
fi
F=$(ls OUTPUTS2.enc/encrypted-output-files | grep -v volume.meta | head -1)
python3 -c "import sys;f=open(sys.argv[1],'r+b');f.seek(70);b=f.read(1);f.seek(70);f.write(bytes([b[0]^1]))" \
  "OUTPUTS2.enc/encrypted-output-files/$F"
say "# one bit flipped in the current output: cella decrypt --keys KEYS --volume OUTPUTS2.enc/... --out T"
if "$CELLA" decrypt --keys KEYS --volume OUTPUTS2.enc/encrypted-output-files --out T --wallet-file "$WALLET"; then
  echo "demo: tamper was NOT refused" >&2; exit 1
fi
printf '\ndemo: copy DApp ran in the (sim) enclave; outputs decrypted; rollback and tamper refused\n'
