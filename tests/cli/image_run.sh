#!/usr/bin/env bash
# An image app through `cella run` (issue 16 item 2): the SCONE seed's copy
# DApp packaged as an image bundle (a static copy_files and a static busybox
# in rootfs/, nothing else) runs with the image's root as /, read-only, its
# user and PATH, the session's command as Docker's COMMAND after the
# image's Entrypoint; the host's python3 and /etc/hostname are not there.
. "$(dirname "$0")/lib.sh"
SRC=${CELLA_SOURCE:?}
export TMPDIR=$TMP/tmp
mkdir -p "$TMPDIR"
static_busybox || skip "no static /bin/busybox (apt-get install busybox-static)"
"$CELLA" tee sim init --dir sim >/dev/null 2>&1
export XDG_CONFIG_HOME=$TMP/config
"$CELLA" tee sim init --dir "$XDG_CONFIG_HOME/cella" >/dev/null 2>&1
start_cas --allow-sim --sim-platform "$XDG_CONFIG_HOME/cella/sim-platform.pub"
new_wallet user
W=(--wallet-file "$(W user)")

# the image bundle: rootfs/app/copy_files (static), rootfs/bin/busybox and its applets
mkdir -p img/rootfs/app img/rootfs/bin
gcc -O2 -static -o img/rootfs/app/copy_files "$SRC/examples/copy/copy_files.c" ||
  skip "no static libc to link copy_files"
cp /bin/busybox img/rootfs/bin/
for a in sh id cat touch test pwd echo; do ln -s busybox "img/rootfs/bin/$a"; done
cat > img/cella-app.json <<'JSON'
{"heap_mb": 64, "stack_kb": 8192, "env": ["IN", "OUT"], "host_files": [], "runtime": "cella-runtime-1",
 "image": {"entrypoint": ["sh", "-c"], "cmd": ["exit 9"], "env": ["PATH=/bin:/app", "OUT=image"],
           "working_dir": "/", "user": "1000:1000"}}
JSON
expect_ok "$CELLA" app measure img
# the session: Entrypoint (sh -c) ++ its command (copy_files found through the
# image's PATH); its environment over the image's; its pwd (docker run -w)
sed -e 's|command: /app/copy_files /encryptedInputs /encryptedOutputs|command: ["copy_files /encryptedInputs /encryptedOutputs \&\& { id -u; pwd; echo \\"$PATH $HOME $OUT\\"; touch /x 2>/dev/null \&\& echo rootfs-writable; test -e /usr/bin/python3 \&\& echo host-python; test -e /etc/hostname \&\& echo host-etc; true; } > /encryptedOutputs/probe.txt"]|' \
    -e 's|SCONE_MODE: sim|OUT: session|' -e 's|pwd: /$|pwd: /app|' "$SRC/examples/copy/session-template.yml" > tpl.yml
grep -q 'probe.txt' tpl.yml && grep -q 'pwd: /app' tpl.yml || fail "the session template changed"
mkdir -p INPUTS
echo "Hello image" > INPUTS/f1.txt
expect_ok "$CELLA" encryptedpush --app img --session-template tpl.yml --inputs INPUTS --keys KEYS \
  "${CAS[@]}" "${W[@]}"
read -r -a CMD < .out
expect_ok "$CELLA" run "${CMD[@]}" --outputs OUT
expect_ok "$CELLA" decrypt --keys KEYS --volume OUT/encrypted-output-files --out OUTPUTS "${W[@]}"
[[ $(cat OUTPUTS/f1.txt) == "Hello image" ]] || fail "the image's copy_files did not copy"
want=$'1000\n/app\n/bin:/app / session'
[[ $(cat OUTPUTS/probe.txt) == "$want" ]] || fail "the image app saw: $(cat OUTPUTS/probe.txt)"
ok
[[ -x /usr/bin/python3 && -e /etc/hostname ]] || fail "the host lacks what the image must hide"
# nothing was made in the image bundle (mount points live on the sandbox's own root)
[[ -z $(find img/rootfs -newer img/cella-app.json ! -path img/rootfs) ]] || fail "rootfs was written"
ok
finish
