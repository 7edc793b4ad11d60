#!/usr/bin/env bash
# The Python example (examples/python) from an image built with mmdebstrap
# (examples/images/python.sh), end to end on `cella up` (sim TEE), run by a
# worker on a host without Python: the worker runs in a mount namespace where
# the host's python3 binaries (in /usr/bin, /usr/local/bin and on PATH) are
# empty files and its Python libraries empty directories, and the app still
# runs, on the image's interpreter. Inside the sandbox the app sees the
# image's /usr/bin, exactly, and none of the host's. It reads its encrypted dataset, an input file, the developer secret,
# two requester secrets and its args; a second task runs it without dataset.
#
# The image's base (python3 and its libraries, ~18 MB compressed) is made by
# mmdebstrap from the host's apt sources once and cached (~/.cache/cella/images,
# examples/images/python.sh): a minute or two cold, seconds after. Without the
# cache and without network or mmdebstrap, the test is skipped.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
SRC=${CELLA_SOURCE:-$(cd "$HERE/../.." && pwd)}
if ! "$SRC/examples/images/python.sh" "$TMP/python.oci" > "$TMP/build.log" 2>&1; then
  cat "$TMP/build.log" >&2
  command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (scripts/deps.sh)"
  grep -q 'building the base' "$TMP/build.log" && skip "mmdebstrap could not build the Python base (offline?)"
  fail "examples/images/python.sh"
fi
. "$HERE/images.d/stack.sh"
ok

# The worker on a host "without Python": as root, in a private mount
# namespace with every python3 binary hidden and the libraries gone
# (scripts/without-python.sh).
if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null; then
  worker_once() {
    "$SRC/scripts/without-python.sh" "$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" \
      --work-dir "$TMP/wk" --sim-dir "$TMP/stack/sim" --once --lease 3 >> "$TMP/worker.log" 2>&1
  }
  NO_PYTHON=1
else
  echo "note: not root: the worker runs with the host's Python present (the sandbox hides it anyway)" >&2
  NO_PYTHON=0
fi

publish_image "$TMP/python.oci" python-app
PY=$APP
[[ -x $BUNDLE/rootfs/usr/bin/python3.11 ]] || fail "the image has no python3.11"
cd "$TMP/dev"
printf 'developer-secret-value' > dev.secret
expect_ok "$CELLA" app push-secret "$PY" --secret-file dev.secret --wallet-file "$(W dev)"
cd "$TMP"
printf 'Ask not what your country can do for you; ask what you can do for your country.\n' > speech.txt
sell_dataset "$TMP/speech.txt" "$PY"
cd "$TMP/req"
printf 'requester-one' > r1.secret; printf 'requester-secret-two' > r2.secret
expect_ok "$CELLA" requester push-secret one --secret-file r1.secret --wallet-file "$(W req)"
expect_ok "$CELLA" requester push-secret two --secret-file r2.secret --wallet-file "$(W req)"
printf 'b a b\nc\n' > input.txt
expect_ok "$CELLA" blobs put input.txt
IN_URL=$(cut -d' ' -f2 "$TMP/.out")
cd "$TMP"
run_task "$PY" --dataset "$DS" --args "2 extra" --secret 1=one 2=two --input-files "$IN_URL"
[[ $NO_PYTHON == 0 ]] || ! grep -q 'still runs' worker.log || fail "python3 was not hidden from the worker"
result_file "$TASK" result.json > r.json
result_file "$TASK" computed.json > c.json
ls "$BUNDLE/rootfs/usr/bin" > image-usr-bin.txt
python3 - r.json c.json image-usr-bin.txt speech.txt req/input.txt <<'PY' || { cat r.json >&2; fail "python app result"; }
import hashlib, json, os, sys
r, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
image_bin = sorted(open(sys.argv[3]).read().split())
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
hid = lambda s: {"length": len(s), "sha256_prefix": hashlib.sha256(s.encode()).hexdigest()[:8]}
def check(cond, what):
    if not cond:
        sys.exit("python app: " + what)
check(c == {"deterministic-output-path": "/iexec_out/result.json"}, "computed.json %r" % c)
check(r["args"] == ["2", "extra"], "args %r" % r["args"])
d = r["dataset"]
check(d and d["sha256"] == sha(sys.argv[4]) and d["words"] == 17, "dataset %r" % d)
check(d["top"] == [["ask", 2], ["can", 2]], "dataset top words %r" % d["top"])
f = r["input_files"]
check(len(f) == 1 and f[0]["sha256"] == sha(sys.argv[5]) and f[0]["top"] == [["b", 2], ["a", 1]],
      "input files %r" % f)
s = r["secrets"]
check(s.get("app_developer") == hid("developer-secret-value"), "developer secret %r" % s)
check(s.get("requester") == {"1": hid("requester-one"), "2": hid("requester-secret-two")},
      "requester secrets %r" % s)
rt = r["runtime"]
check(rt["executable"] == "/usr/bin/python3", "interpreter %r" % rt["executable"])
# the sandbox's /usr/bin is the image's, exactly: none of the host's
check(rt["usr_bin"] == image_bin, "/usr/bin in the sandbox %r, the image's %r" % (rt["usr_bin"], image_bin))
host_only = sorted(set(os.listdir("/usr/bin")) - set(image_bin))
check(len(host_only) > 0 and not set(host_only) & set(rt["usr_bin"]), "host-only programs seen")
PY
ok
! grep -rq 'developer-secret-value\|requester-one\|requester-secret-two' stack/logs worker.log ||
  fail "a secret reached a log"
ok

# ---- without a dataset or input files (iExec sets the dataset variables anyway) ----
run_task "$PY"
result_file "$TASK" result.json > r0.json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r["dataset"] is None and r["input_files"] == [] and r["args"] == []))' r0.json ||
  { cat r0.json >&2; fail "python app without dataset"; }
ok
finish
