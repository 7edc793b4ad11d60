#!/usr/bin/env bash
# An image app as a market task (issue 16 item 2) on `cella up` (sim TEE): the
# developer publishes an image bundle (a busybox rootfs with a shell app), the
# requester runs it with --args, a worker runs it in its enclave. The app
# sees the image as /, read-only, not the host (no python3, no
# /etc/hostname), runs as the image's user in its working directory, with
# its PATH, HOME and Env under iExec's variables, and the task's args in
# place of the image's Cmd after its Entrypoint.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$TMP/config
static_busybox || skip "no static /bin/busybox (apt-get install busybox-static)"
[[ -x /usr/bin/python3 && -e /etc/hostname ]] || skip "the host lacks what the image must hide"
start_up up.log --data stack --listen-base 0 --slots 0
read -r -a INIT < <(sed -n 's/^  cella init //p' up.log)
BLOBS=$(sed -n 's/^blobs *//p' up.log)
POOL=$(awk '/^worker/ {print $3}' up.log | tr -d ,)
HUB=$(sed -n 's/^hub *\([^ ]*\).*/\1/p' up.log)
for who in dev req; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init "${INIT[@]}" 2>/dev/null) || fail "set up $who"
  new_wallet "$who"
done
ok

# ---- the developer: an image bundle, packed, stored, deployed, offered ----
cd "$TMP/dev"
mkdir -p img/rootfs/bin img/rootfs/app img/rootfs/etc
cp /bin/busybox img/rootfs/bin/
for a in sh id pwd test touch cat; do ln -s busybox "img/rootfs/bin/$a"; done
echo 'app:x:1000:1000::/home/app:/bin/sh' > img/rootfs/etc/passwd
cat > img/rootfs/app/run <<'SH'
#!/bin/sh
{ echo "args: $*"; echo "pwd: $(pwd)"; echo "id: $(id -u):$(id -g)"; echo "path: $PATH"
  echo "home: $HOME"; echo "greeting: $GREETING"; echo "out: $IEXEC_OUT"
  test -e /usr/bin/python3 && echo "host python3 seen"
  test -e /etc/hostname && echo "host /etc/hostname seen"
  touch /app/x 2>/dev/null && echo "the image is writable"
  echo done; } > "$IEXEC_OUT/out.txt"
echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
SH
chmod 755 img/rootfs/app/run
cat > img/cella-app.json <<'JSON'
{"heap_mb": 64, "stack_kb": 8192, "env": [], "host_files": [], "runtime": "cella-runtime-1",
 "image": {"entrypoint": ["run", "--from-entrypoint"], "cmd": ["from-cmd"],
           "env": ["PATH=/bin:/app", "GREETING=image", "IEXEC_OUT=/not-this"],
           "working_dir": "/app", "user": "1000:1000"}}
JSON
expect_ok "$CELLA" app pack img -o img.tar
CHECKSUM=$(awk '{print $1}' "$TMP/.out")
expect_ok "$CELLA" blobs put img.tar --url "$BLOBS"
URL=$(awk '{print $2}' "$TMP/.out")
python3 - "$URL" "$CHECKSUM" "$("$CELLA" app measure img)" <<'PY'
import json, sys
c = json.load(open("cella.json"))
c["app"] = {"name": "img", "type": "DOCKER", "multiaddr": sys.argv[1], "checksum": sys.argv[2],
            "measurement": sys.argv[3]}
json.dump(c, open("cella.json", "w"))
PY
expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"
APP=$(cat "$TMP/.out")
expect_ok "$CELLA" order init --app --tag tee,scone
python3 - "$APP" <<'PY'
import json, sys
c = json.load(open("cella.json"))
c["order"]["apporder"].update(app=sys.argv[1], volume="100")
json.dump(c, open("cella.json", "w"))
PY
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app

# ---- the requester runs it with args; a worker runs the task ----
cd "$TMP/req"
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A req)"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W req)"
expect_ok "$CELLA" app run "$APP" --tag tee,scone --args "a 'b c'" --wallet-file "$(W req)"
T=$(awk '/^task / {print $2}' "$TMP/.out")
[[ "$T" =~ ^0x[0-9a-f]{64}$ ]] || fail "app run printed no task id"
"$CELLA" worker start --pool "$POOL" --wallet-file "$(ls "$TMP"/stack/pool/wallet-*.json)" \
  --work-dir "$TMP/wk" --sim-dir "$TMP/stack/sim" --once --lease 3 >> "$TMP/worker.log" 2>&1 ||
  { cat "$TMP/worker.log" >&2; fail "worker"; }
status=$("$CELLA" task show "$T" --hub-url "$HUB" | python3 -c 'import json,sys;print(json.load(sys.stdin)["status"])')
[[ $status == COMPLETED ]] || { cat "$TMP/worker.log" >&2; fail "the task is $status"; }
expect_ok "$CELLA" result download "$T" -o r.zip
expect_ok "$CELLA" result decrypt r.zip -o plain.zip
python3 - <<'PY' || fail "the image app saw another world"
import zipfile
t = zipfile.ZipFile("plain.zip").read("out.txt").decode()
want = """args: --from-entrypoint a b c
pwd: /app
id: 1000:1000
path: /bin:/app
home: /home/app
greeting: image
out: /iexec_out
done
"""
assert t == want, t
PY
ok
finish
