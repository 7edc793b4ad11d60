#!/usr/bin/env bash
# make demo / cella demo: iExec's "TEE end-to-end encryption" story on `cella up`
# (hub, cas, blob store and one worker on loopback, sim TEE). A data owner
# encrypts a text and sells its use to one app only; an app developer
# publishes a word count; a requester buys a run in an enclave, and only the
# requester (the beneficiary) can read the result. Then the same with a Python
# app shipped as an OCI image made with Debian's tools (docs/images.md): its
# interpreter comes from the image, not from the worker host.
set -euo pipefail
CELLA=$(realpath "${1:-build/cella}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cella-iexec-demo.XXXXXX")
UP_PID=""
cleanup() {
  if [[ -n "$UP_PID" ]]; then kill -INT "$UP_PID" 2>/dev/null || true; wait "$UP_PID" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
cd "$DIR"
export XDG_CONFIG_HOME=$DIR/config
if [[ -t 1 ]]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
say() { printf '\n%s%s%s\n' "$B" "$*" "$N"; }
run() { printf '%s$ %s%s\n' "$B" "$*" "$N" >&2; "$@"; }
die() { echo "demo: $*" >&2; [[ -f stack/logs/worker.log ]] && tail -20 stack/logs/worker.log >&2; exit 1; }
say "# the stack: cella up (hub, cas, blob store, one worker; sim TEE: development only)"
UP=("$CELLA" up --data stack --listen-base 0)
NO_PYTHON=""
if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null; then
  # as root, the whole stack (its worker too) runs as on a host without Python
  UP=("$SRC/scripts/without-python.sh" "${UP[@]}")
  NO_PYTHON=1
  echo "(in a mount namespace where this host's python3 is hidden: scripts/without-python.sh)"
fi
"${UP[@]}" > up.log 2>&1 &
UP_PID=$!
for _ in $(seq 600); do grep -q '^ready' up.log 2>/dev/null && break; kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
grep -q '^ready' up.log || { cat up.log >&2; die "cella up did not start"; }
sed -n '1,/^ready/p' up.log
read -r -a INIT < <(sed -n 's/^  cella init //p' up.log)

for who in owner dev requester; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null &&
    "$CELLA" wallet create --unencrypted --keystoredir wallet > address 2>/dev/null && ls wallet/* > wallet_file)
done
W() { cat "$DIR/$1/wallet_file"; }
A() { cat "$DIR/$1/address"; }

say "# the app developer: a word count, measured, packed, published for TEE runs"
cd "$DIR/dev"
mkdir app
cc -std=c17 -O2 -static -o app/wordcount "$SRC/examples/wordcount/wordcount.c" 2>/dev/null ||
  cc -std=c17 -O2 -o app/wordcount "$SRC/examples/wordcount/wordcount.c"
cp "$SRC/examples/wordcount/cella-app.json" app/
run "$CELLA" app measure app | tee measurement
run "$CELLA" app pack app -o wordcount.tar | tee pack
run "$CELLA" blobs put wordcount.tar | tee put
run "$CELLA" app deploy --name wordcount --multiaddr "$(cut -d' ' -f2 put)" --checksum "$(cut -d' ' -f1 pack)" \
  --measurement "$(cat measurement)" --wallet-file "$(W dev)" | tee app_address
APP=$(cat app_address)
run "$CELLA" order init --app --tag tee,scone --set volume=100
run "$CELLA" order sign --app --wallet-file "$(W dev)" >/dev/null
run "$CELLA" order publish --app

say "# the data owner: encrypts a text, keeps the key in cas, sells it to this app only"
cd "$DIR/owner"
run "$CELLA" dataset init --encrypted >/dev/null
cat > datasets/original/speech.txt <<'EOF'
We choose to go to the Moon in this decade and do the other things, not because they are easy,
but because they are hard; because that goal will serve to organize and measure the best of our
energies and skills, because that challenge is one that we are willing to accept, one we are
unwilling to postpone, and one we intend to win.
EOF
run "$CELLA" dataset encrypt --format iexec | tee enc
ENC=$(awk 'NR==1 {print $1}' enc)
run "$CELLA" blobs put "$ENC" | tee put
run "$CELLA" dataset deploy --name speech --multiaddr "$(cut -d' ' -f2 put)" \
  --checksum "$(awk 'NR==1 {print $2}' enc)" --wallet-file "$(W owner)" | tee ds_address
DS=$(cat ds_address)
run "$CELLA" dataset push-secret "$DS" --wallet-file "$(W owner)"
run "$CELLA" order init --dataset --set volume=100,apprestrict="$APP"
run "$CELLA" order sign --dataset --wallet-file "$(W owner)" >/dev/null
run "$CELLA" order publish --dataset

say "# the requester: a result key, then a run in an enclave"
cd "$DIR/requester"
ME=$(A requester)
run "$CELLA" result generate-encryption-keypair --address "$ME" >/dev/null
run "$CELLA" result push-encryption-key --wallet-file "$(W requester)"
run "$CELLA" app run "$APP" --dataset "$DS" --tag tee,scone --args 3 --watch --wallet-file "$(W requester)" | tee run.out ||
  die "the task did not complete"
TASK=$(awk '/^task / {print $2}' run.out)
run "$CELLA" result download "$TASK" -o result.zip
run "$CELLA" result decrypt result.zip -o results.zip
run python3 -c 'import zipfile,sys; sys.stdout.write(zipfile.ZipFile("results.zip").read("result.txt").decode())'

say "# anyone else holds only ciphertext: the data owner cannot read the requester's result"
cd "$DIR/owner"
"$CELLA" result generate-encryption-keypair --address "$(A owner)" >/dev/null 2>&1
cp "$DIR/requester/result.zip" stolen.zip
printf '%s$ cella result decrypt stolen.zip -o peek.zip%s\n' "$B" "$N"
if "$CELLA" result decrypt stolen.zip -o peek.zip; then die "another key decrypted the result"; fi
printf '\ndemo: the word count ran in the (sim) enclave on the encrypted dataset; only the beneficiary read the result\n'

say "# the app developer, again: a Python app as an OCI image, made with Debian's tools (no Docker)"
cd "$DIR/dev"
# python3 and its libraries from Debian (mmdebstrap; cached after the first build) + examples/python/app.py
run "$SRC/examples/images/python.sh" python.oci ||
  die "examples/images/python.sh failed (its first run needs mmdebstrap and the Debian mirror)"
run "$CELLA" app import python.oci pyapp
run "$CELLA" app measure pyapp | tee py_measurement
run "$CELLA" app pack pyapp -o pyapp.tar | tee py_pack
run "$CELLA" blobs put pyapp.tar | tee py_put
run "$CELLA" app deploy --name python-app --multiaddr "$(cut -d' ' -f2 py_put)" --checksum "$(cut -d' ' -f1 py_pack)" \
  --measurement "$(cat py_measurement)" --wallet-file "$(W dev)" | tee py_address
PYAPP=$(cat py_address)
run "$CELLA" order init --app --tag tee,scone --set volume=100,app="$PYAPP"
run "$CELLA" order sign --app --wallet-file "$(W dev)" >/dev/null
run "$CELLA" order publish --app
printf 'an API key only the app developer knows' > dev.secret
run "$CELLA" app push-secret "$PYAPP" --secret-file dev.secret --wallet-file "$(W dev)"

say "# the data owner sells the same encrypted speech to the Python app too"
cd "$DIR/owner"
run "$CELLA" order init --dataset --set volume=100,apprestrict="$PYAPP"
run "$CELLA" order sign --dataset --wallet-file "$(W owner)" >/dev/null
run "$CELLA" order publish --dataset

say "# the requester: a secret of its own, an input file, args; a run in an enclave"
cd "$DIR/requester"
printf 'a token only the requester knows' > token.secret
run "$CELLA" requester push-secret token --secret-file token.secret --wallet-file "$(W requester)"
printf 'the Moon, the Moon and the stars\n' > notes.txt
run "$CELLA" blobs put notes.txt | tee notes_put
run "$CELLA" app run "$PYAPP" --dataset "$DS" --tag tee,scone --args "4 words" --secret 1=token \
  --input-files "$(cut -d' ' -f2 notes_put)" --watch --wallet-file "$(W requester)" | tee py_run.out ||
  die "the Python task did not complete"
TASK=$(awk '/^task / {print $2}' py_run.out)
run "$CELLA" result download "$TASK" -o py_result.zip
run "$CELLA" result decrypt py_result.zip -o py_results.zip
run "$CELLA" task debug "$TASK" --logs --wallet-file "$(W requester)"    # the app's stderr
# the result, read on this (demo) host; the worker's sandbox had only the image's Python
python3 - py_results.zip <<'PY'
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print("computed.json:", z.read("computed.json").decode().strip())
r = json.loads(z.read("result.json"))
print("result.json:")
print("  args", r["args"])
for what, f in [("dataset", r["dataset"])] + [("input file", f) for f in r["input_files"]]:
    top = ", ".join("%s %d" % (w, n) for w, n in f["top"])
    print("  %s %s: %d bytes, %d words, sha256 %s..., top: %s" % (what, f["name"], f["bytes"], f["words"], f["sha256"][:16], top))
s = r["secrets"]
for who, v in [("app developer", s.get("app_developer"))] + [("requester %s" % k, v) for k, v in s["requester"].items()]:
    print("  %s secret: %d bytes, sha256 %s... (never its value)" % (who, v["length"], v["sha256_prefix"]))
rt = r["runtime"]
print("  python %s at %s; /usr/bin in the sandbox (the image's, none of this host's): %s" % (rt["python"], rt["executable"], " ".join(rt["usr_bin"])))
PY
where=""
[[ -z $NO_PYTHON ]] || where=" (the worker ran where this host's python3 is hidden)"
printf '\ndemo: the Python app ran from its OCI image, on its own interpreter%s, with its dataset, input file, secrets and args\n' "$where"
