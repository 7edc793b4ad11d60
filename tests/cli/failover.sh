#!/usr/bin/env bash
# Clients that fail over (docs/failover.md), on `cella up` (sim TEE):
# 1. hubUrl and cas.url list a dead replica (a port nothing listens on)
#    first: every verb that talks to them works (reads, a signed deploy, a
#    signed order's publish, a deposit, a cas push, app run, task show, a
#    result download), and each process tries the dead one once (sticky);
#    a worker given --hub-url DEAD,LIVE --cas DEAD,LIVE completes a task,
#    and a cas given --hub DEAD,LIVE asks the live hub.
# 2. A first replica that takes the request and hangs up without answering:
#    a GET goes to the next; a signed POST is not sent again (the error says
#    it may have taken effect), unless it is safe to repeat (order cancel),
#    and then with a new challenge from the next replica, never its nonce.
# 3. Each replica's key is checked against its own pin (cas; and two TLS
#    hubs sharing one key, one pin for both, or one pin per URL); a wrong key
#    stops the request (it is never skipped for the next replica).
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$TMP/config
SRC=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
start_up up.log --data stack --listen-base 0 --slots 0
HUB=$(sed -n 's/^hub *\([^ ]*\).*/\1/p' up.log)
CAS_URL=$(sed -n 's/^cas *\([^ ]*\).*/\1/p' up.log)
CAS_FP=$(sed -n 's/^cas .*fingerprint \([0-9a-f]*\).*/\1/p' up.log)
BLOBS=$(sed -n 's/^blobs *//p' up.log)
POOL=$(awk '/^worker/ {print $3}' up.log | tr -d ,)
POOL_WALLET=$(ls "$TMP"/stack/pool/wallet-*.json)
[[ $HUB == http://* && $CAS_URL == https://* && $CAS_FP =~ ^[0-9a-f]{64}$ && -n $BLOBS ]] ||
  fail "up printed: $(cat up.log)"
DEAD=http://127.0.0.1:$(free_port)    # nothing listens on these
DEADS=https://127.0.0.1:$(free_port)

# tried_once URL WHAT: the last command tried the replica URL exactly once
# (each try of a replica that fails, before the next, is one warning)
tried_once() {
  local n
  n=$(grep -c "warning: $1 did not answer" "${3:-$TMP/.err}" || true)
  [[ $n == 1 ]] || { cat "${3:-$TMP/.err}" >&2; fail "$2: $1 tried $n times, not once"; }
  ok
}
J() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
json_set() { # KEY JSON (in ./cella.json)
  python3 -c 'import json,sys;c=json.load(open("cella.json"));c[sys.argv[1]]=json.loads(sys.argv[2]);json.dump(c,open("cella.json","w"))' "$1" "$2"
}

# ---- 1. a dead replica first ----
for who in dev req; do
  mkdir "$who"
  (cd "$who" && "$CELLA" init --chain-id 421614 --hub-url "$DEAD,$HUB" --cas "$DEADS, $CAS_URL" \
     --cas-fingerprint "$CAS_FP" --blobs "$BLOBS" 2>/dev/null) || fail "init $who"
  new_wallet "$who"
done
# init writes the lists as arrays, one pin shared by the cas replicas
[[ $(J dev/cella.json 'd["hubUrl"], d["cas"]["url"], d["cas"]["fingerprint"]') == \
   "(['$DEAD', '$HUB'], ['$DEADS', '$CAS_URL'], '$CAS_FP')" ]] || fail "init: $(cat dev/cella.json)"

cd "$TMP/dev"
mkdir hello
cat > hello/hello <<'EOF'
#!/bin/sh
echo "hello $1" > "$IEXEC_OUT/out.txt"
echo '{"deterministic-output-path": "/iexec_out/out.txt"}' > "$IEXEC_OUT/computed.json"
EOF
chmod 755 hello/hello
sed 's/"wordcount"/"hello"/' "$SRC/examples/wordcount/cella-app.json" > hello/cella-app.json
expect_ok "$CELLA" app pack hello -o hello.tar
SUM=$(awk '{print $1}' "$TMP/.out")
expect_ok "$CELLA" blobs put hello.tar --url "$BLOBS"
json_set app "{\"name\": \"hello\", \"type\": \"DOCKER\", \"multiaddr\": \"$(awk '{print $2}' "$TMP/.out")\", \"checksum\": \"$SUM\", \"measurement\": \"$("$CELLA" app measure hello)\"}"
expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"       # signed POST
APP=$(cat "$TMP/.out")
tried_once "$DEAD" "app deploy"
expect_ok "$CELLA" app show "$APP"                            # GET
tried_once "$DEAD" "app show"
expect_ok "$CELLA" order init --app --tag tee,scone
python3 -c 'import json,sys;c=json.load(open("cella.json"));c["order"]["apporder"].update(app=sys.argv[1], volume="10");json.dump(c,open("cella.json","w"))' "$APP"
expect_ok "$CELLA" order sign --app --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app                        # the signed order, POSTed
tried_once "$DEAD" "order publish"
APPORDER=$(awk '/^apporder / {print $2}' "$TMP/.out")
[[ $APPORDER =~ ^0x[0-9a-f]{64}$ ]] || fail "order publish: $(cat "$TMP/.out")"

cd "$TMP/req"
expect_ok "$CELLA" account deposit 5 --wallet-file "$(W req)" # the dev faucet
tried_once "$DEAD" "account deposit"
expect_ok "$CELLA" result generate-encryption-keypair --address "$(A req)"
expect_ok "$CELLA" result push-encryption-key --wallet-file "$(W req)"   # signed, to cas
tried_once "$DEADS" "result push-encryption-key"
# app run: a dozen requests to the hub and cas's preflight in one process
expect_ok "$CELLA" app run "$APP" --tag tee,scone --args 1 --wallet-file "$(W req)"
T1=$(awk '/^task / {print $2}' "$TMP/.out")
[[ $T1 =~ ^0x[0-9a-f]{64}$ ]] || fail "app run: $(cat "$TMP/.out")"
tried_once "$DEAD" "app run"
tried_once "$DEADS" "app run (preflight)"

# the worker, from a directory without cella.json: lists on its command line
mkdir "$TMP/w" && cd "$TMP/w"
"$CELLA" worker start --pool "$POOL" --wallet-file "$POOL_WALLET" --work-dir "$TMP/wk" \
  --sim-dir "$TMP/stack/sim" --once --lease 3 --hub-url "$DEAD,$HUB" \
  --cas "$DEADS,$CAS_URL" --cas-fingerprint "$CAS_FP" --blobs "$BLOBS" > worker.log 2>&1 ||
  { cat worker.log >&2; fail "worker"; }
grep -q "task $T1 completed" worker.log || { cat worker.log >&2; fail "the worker did not complete $T1"; }
tried_once "$DEAD" "worker (hub)" worker.log
tried_once "$DEADS" "worker (cas)" worker.log
cd "$TMP/req"
expect_ok "$CELLA" task show "$T1"
[[ $(J "$TMP/.out" 'd["status"]') == COMPLETED ]] || fail "task show: $(cat "$TMP/.out")"
tried_once "$DEAD" "task show"
expect_ok "$CELLA" result download "$T1" -o t1.zip
tried_once "$DEAD" "result download"
expect_ok "$CELLA" result decrypt t1.zip -o t1-results.zip
python3 -c 'import sys,zipfile; sys.exit(0 if zipfile.ZipFile("t1-results.zip").read("out.txt") == b"hello 1\n" else 1)' ||
  fail "the result of $T1"

# cas asking its hub who owns an app: `cas serve --hub DEAD,LIVE`
UP_CAS=("$CAS_URL" "$CAS_FP")
start_cas --log cas2.log --allow-sim --sim-platform "$TMP/stack/sim/sim-platform.pub" --hub "$DEAD,$HUB"
CAS2=("${CAS[@]}")
CAS_URL=${UP_CAS[0]} CAS_FP=${UP_CAS[1]}
cd "$TMP/dev"
printf 'dev secret' > dev.secret
expect_ok "$CELLA" app push-secret "$APP" --secret-file dev.secret "${CAS2[@]}" --wallet-file "$(W dev)"
expect_fail 'secret already exists' \
  "$CELLA" app push-secret "$APP" --secret-file dev.secret "${CAS2[@]}" --wallet-file "$(W dev)"
tried_once "$DEAD" "cas serve --hub (two pushes)" "$TMP/cas2.log"

# ---- 2. a replica that takes the request and hangs up ----
# It serves /v1/challenge (a nonce of its own), reads every other request to
# its end and closes without a word; each request line and the nonce it was
# signed with go to mute.log.
cat > "$TMP/mute.py" <<'PY'
import json, os, socketserver, sys
class Mute(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode().strip()
        head = {}
        while True:
            h = self.rfile.readline().decode().strip()
            if not h:
                break
            k, _, v = h.partition(":")
            head[k.strip().lower()] = v.strip()
        self.rfile.read(int(head.get("content-length", "0")))
        auth = head.get("authorization", "").split(" ")
        with open(sys.argv[2], "a") as log:
            log.write(line + (" nonce=" + auth[2] if len(auth) == 4 else "") + "\n")
        if line.startswith("GET /v1/challenge "):
            body = json.dumps({"nonce": os.urandom(32).hex(), "expires": 2**31}).encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
socketserver.ThreadingTCPServer.allow_reuse_address = True
srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Mute)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
python3 "$TMP/mute.py" "$TMP/mute.port.tmp" "$TMP/mute.log" &
MUTE_PID=$!
on_exit "kill $MUTE_PID"
for _ in $(seq 50); do [[ -s $TMP/mute.port.tmp ]] && break; sleep 0.1; done
MUTE=http://127.0.0.1:$(cat "$TMP/mute.port.tmp")
[[ $MUTE =~ :[0-9]+$ ]] || fail "the mute server did not start"
mute_saw() { grep -c "^$1" "$TMP/mute.log" || true; }

cd "$TMP/dev"
json_set hubUrl "[\"$MUTE\", \"$HUB\"]"
# a GET is safe to repeat: the next replica answers
expect_ok "$CELLA" task show "$T1"
[[ $(J "$TMP/.out" 'd["status"]') == COMPLETED ]] || fail "task show through the mute replica"
[[ $(mute_saw "GET /v1/tasks/$T1 ") == 1 ]] || fail "mute.log: $(cat "$TMP/mute.log")"
tried_once "$MUTE" "task show"
# a signed deploy that may have been acted on is not sent again: a clear error
expect_ok "$CELLA" app count --owner "$(A dev)"
BEFORE=$(cat "$TMP/.out")
json_set app "{\"name\": \"again\", \"type\": \"DOCKER\", \"multiaddr\": \"http://x/y\", \"checksum\": \"0x$(printf '1%.0s' $(seq 64))\"}"
expect_fail "the request may have reached $MUTE and taken effect, so it is not sent to another replica \(it is not safe to repeat\): check whether it did, then retry \(POST /v1/apps\)" \
  "$CELLA" app deploy --wallet-file "$(W dev)"
[[ $(mute_saw "POST /v1/apps HTTP/1.1 nonce=") == 1 ]] || fail "mute.log: $(cat "$TMP/mute.log")"
json_set hubUrl "\"$HUB\""
expect_ok "$CELLA" app count --owner "$(A dev)"
[[ $(cat "$TMP/.out") == "$BEFORE" ]] || fail "the deploy reached the live hub: $(cat "$TMP/.out"), was $BEFORE"
# a signed cancel is safe to repeat: a new challenge from the next replica,
# signed again (the live hub would refuse the mute one's nonce: 401)
json_set hubUrl "[\"$MUTE\", \"$HUB\"]"
expect_ok "$CELLA" order cancel "$APPORDER" --wallet-file "$(W dev)"
grep -q "$APPORDER cancelled" "$TMP/.out" || fail "order cancel: $(cat "$TMP/.out")"
tried_once "$MUTE" "order cancel"
[[ $(mute_saw "GET /v1/challenge ") == 2 && $(mute_saw "POST /v1/orders/cancel HTTP/1.1 nonce=") == 1 ]] ||
  fail "mute.log: $(cat "$TMP/mute.log")"

# ---- 3. each replica's key against its own pin ----
cd "$TMP/req"
BAD=$(printf '%064d' 0)
LOCAL=https://localhost:${CAS_URL##*:}   # the same cas under another name
check_key() { "$CELLA" result check-encryption-key "$(A req)" --cas "$1" --cas-fingerprint "$2"; }
expect_ok check_key "$CAS_URL,$LOCAL" "$CAS_FP,$BAD"
expect_fail 'does not match the pinned fingerprint' check_key "$CAS_URL,$LOCAL" "$BAD,$CAS_FP"
grep -q 'did not answer' "$TMP/.err" && fail "a wrong key was skipped for the next replica"
expect_fail 'does not match the pinned fingerprint' check_key "$DEADS,$CAS_URL" "$CAS_FP,$BAD"
tried_once "$DEADS" "check-encryption-key"
expect_fail '2 fingerprints for 3 cas URLs' check_key "$DEADS,$CAS_URL,$LOCAL" "$CAS_FP,$CAS_FP"
# two TLS hubs sharing one key (the second started with a copy of the
# first's tls.key and tls.crt): one pin serves both; or a pin per URL
T1_PORT=$(free_port) T2_PORT=$(free_port)
TLS1=https://127.0.0.1:$T1_PORT TLS2=https://127.0.0.1:$T2_PORT
_tls1_ready() { grep -q '^fingerprint' "$TMP/tls1.log" && curl -skf -m 2 -o /dev/null "$TLS1/v1/health"; }
_serve hub "$TMP/tls1.log" _tls1_ready --listen "127.0.0.1:$T1_PORT" --tls
TLS_FP=$(awk '/^fingerprint/ {print $2}' "$TMP/tls1.log")
mkdir "$TMP/hubd2" && cp "$TMP/hubd/tls.key" "$TMP/hubd/tls.crt" "$TMP/hubd2/"
"$CELLA" hub serve --data "$TMP/hubd2" --listen "127.0.0.1:$T2_PORT" --tls > "$TMP/tls2.log" 2>&1 &
on_exit "kill $!"
for _ in $(seq 100); do curl -skf -m 2 -o /dev/null "$TLS2/v1/health" && break; sleep 0.1; done
grep -q "^fingerprint $TLS_FP$" "$TMP/tls2.log" || fail "the second hub's key: $(cat "$TMP/tls2.log")"
cd "$TMP/dev"
json_set hubUrl "[\"$TLS1\", \"$TLS2\"]"
json_set hubFingerprint "\"$TLS_FP\""
expect_ok "$CELLA" app count
expect_ok "$CELLA" app count --hub-url "$TLS2,$TLS1"
json_set hubFingerprint "[\"$TLS_FP\", \"$BAD\"]"
expect_ok "$CELLA" app count
expect_fail 'does not match the pinned fingerprint' \
  "$CELLA" app count --hub-url "$TLS1,$TLS2" --hub-fingerprint "$BAD,$TLS_FP"
grep -q 'did not answer' "$TMP/.err" && fail "a hub with a wrong key was skipped for the next replica"
expect_fail 'an https:// hub \(https://127.0.0.1:[0-9]+\) needs its pinned fingerprint' \
  "$CELLA" app count --hub-url "$DEADS,$TLS1" --hub-fingerprint ",$TLS_FP"
expect_ok "$CELLA" app count --hub-url "$DEADS,$TLS1" --hub-fingerprint "$BAD,$TLS_FP"
tried_once "$DEADS" "app count over TLS"
finish
