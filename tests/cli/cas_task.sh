#!/usr/bin/env bash
# iExec TEE tasks on cas: a real hub and cas, a TEE deal with a dataset, the
# pool owner's enclave challenge, the worker's session request and every
# refusal of it, the SMS secrets the session needs, key release to the app's
# measurement only, and nobody able to read the session.
. "$(dirname "$0")/lib.sh"

start_hub --dev-faucet
expect_ok "$CELLA" tee sim init --dir sim
start_cas --allow-sim --sim-platform sim/sim-platform.pub --hub "$HUB_URL"
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E

# eth.py: EIP-191 signatures the CLI has no verb for (the pool owner's challenge
# request, SMS pushes, the enclave's result signature)
cat > eth.py <<'PY'
# Ethereum signing for tests, standard library only: Keccak-256, secp256k1
# ECDSA with recovery id (low s), EIP-191 personal_sign.
import hashlib, hmac, json, sys

def keccak256(data):
    RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
          0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
          0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
          0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
          0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
          0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
    ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
           [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
    M = (1 << 64) - 1
    rol = lambda v, n: ((v << n) | (v >> (64 - n))) & M if n else v
    def f(A):
        for rc in RC:
            C = [A[x][0] ^ A[x][1] ^ A[x][2] ^ A[x][3] ^ A[x][4] for x in range(5)]
            D = [C[(x - 1) % 5] ^ rol(C[(x + 1) % 5], 1) for x in range(5)]
            A = [[A[x][y] ^ D[x] for y in range(5)] for x in range(5)]
            B = [[0] * 5 for _ in range(5)]
            for x in range(5):
                for y in range(5):
                    B[y][(2 * x + 3 * y) % 5] = rol(A[x][y], ROT[x][y])
            A = [[B[x][y] ^ (~B[(x + 1) % 5][y] & B[(x + 2) % 5][y]) for y in range(5)]
                 for x in range(5)]
            A[0][0] ^= rc
        return A
    rate = 136
    msg = bytearray(data) + b'\x01'
    while len(msg) % rate:
        msg += b'\x00'
    msg[-1] |= 0x80
    A = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        for i in range(rate // 8):
            A[i % 5][i // 5] ^= int.from_bytes(msg[off + 8 * i:off + 8 * i + 8], 'little')
        A = f(A)
    return b''.join(A[i % 5][i // 5].to_bytes(8, 'little') for i in range(4))

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)

def add(a, b):
    if a is None: return b
    if b is None: return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0: return None
    if a == b:
        l = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        l = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (l * l - a[0] - b[0]) % P
    return (x, (l * (a[0] - x) - a[1]) % P)

def mul(k, pt=G):
    r = None
    while k:
        if k & 1: r = add(r, pt)
        pt = add(pt, pt)
        k >>= 1
    return r

def address(priv):
    x, y = mul(priv)
    return '0x' + keccak256(x.to_bytes(32, 'big') + y.to_bytes(32, 'big'))[12:].hex()

def sign_digest(priv, z):
    # RFC 6979 style deterministic k (HMAC-SHA256), then low s with the recovery id fixed up
    k = int.from_bytes(hmac.new(priv.to_bytes(32, 'big'), z, hashlib.sha256).digest(), 'big') % N or 1
    R = mul(k)
    r = R[0] % N
    s = pow(k, -1, N) * (int.from_bytes(z, 'big') + r * priv) % N
    rec = (R[1] & 1) | (2 if R[0] >= N else 0)
    if s > N // 2:
        s, rec = N - s, rec ^ 1
    return '0x' + r.to_bytes(32, 'big').hex() + s.to_bytes(32, 'big').hex() + bytes([27 + rec]).hex()

def personal(priv, msg):
    return sign_digest(priv, keccak256(b'\x19Ethereum Signed Message:\n' + str(len(msg)).encode() + msg))

def key(arg):
    if arg.endswith('.json'):
        arg = json.load(open(arg))['privateKey']
    return int(arg, 16)

h = lambda s: bytes.fromhex(s[2:] if s.startswith('0x') else s)
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == 'keccak':      # keccak HEX...: keccak256 of the concatenation
    print('0x' + keccak256(b''.join(h(a) for a in args)).hex())
elif cmd == 'address':   # address KEY
    print(address(key(args[0])))
elif cmd == 'sign':      # sign KEY HEXMSG: EIP-191 personal_sign of the raw bytes
    print(personal(key(args[0]), h(args[1])))
elif cmd == 'sms':       # sms KEY ADDRESS NAME|- VALUEFILE: iExec's SMS push challenge
    parts = [keccak256(b'IEXEC_SMS_DOMAIN'), h(args[1])]
    if args[2] != '-':
        parts.append(keccak256(args[2].encode()))
    parts.append(keccak256(open(args[3], 'rb').read()))
    print(personal(key(args[0]), keccak256(b''.join(parts))))
PY
ETH() { python3 "$TMP/eth.py" "$@"; }

# post PATH BODY-FILE AUTH: POST to cas, the status in .code, the reply in .reply
post() {
  curl -sk -o "$TMP/.reply" -w '%{http_code}' -X POST -H "Authorization: $3" \
    --data-binary "@$2" "$CAS_URL$1" > "$TMP/.code" || fail "curl $1"
}
# expect_status CODE PATTERN: the last post's status and error text
expect_status() {
  [[ $(cat "$TMP/.code") == "$1" ]] && grep -Eq "$2" "$TMP/.reply" ||
    fail "expected $1 /$2/, got $(cat "$TMP/.code") $(cat "$TMP/.reply")"
  ok
}

new_wallet dev data pool req other worker
conf() { printf '{"chainId": 421614, "hub": "%s", "hubUrl": "%s"%s}\n' "$H" "$HUB_URL" "$2" > "$TMP/$1/cella.json"; }
M=3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76
conf dev ', "app": {"name": "tee-app", "type": "DOCKER", "multiaddr": "docker.io/cella/tee:1.0", "checksum": "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "measurement": "'$M'"}'
conf data ', "dataset": {"name": "data", "multiaddr": "https://blobs.example/data.enc", "checksum": "0x1d64783f76e2be9ab59779159b4cffd2d0224883eb247a9261588f35f58cc607"}'
conf pool ', "workerpool": {"description": "tee pool"}'
conf req ''
conf worker ''
set_fields() { # DIR KIND FIELD=VALUE... (a value starting with { is JSON)
  python3 - "$TMP/$1/cella.json" "$2" "${@:3}" <<'PYF'
import json, sys
p, kind = sys.argv[1], sys.argv[2]
c = json.load(open(p))
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    c["order"][kind][k] = json.loads(v) if v.startswith("{") else v
json.dump(c, open(p, "w"), indent=2)
PYF
}

# ---- resources and orders: a TEE deal of two tasks with a dataset, and a non-TEE deal ----
cd "$TMP/dev"; expect_ok "$CELLA" app deploy --wallet-file "$(W dev)"; APP=$(cat "$TMP/.out")
cd "$TMP/data"; expect_ok "$CELLA" dataset deploy --wallet-file "$(W data)"; DS=$(cat "$TMP/.out")
cd "$TMP/pool"; expect_ok "$CELLA" workerpool deploy --wallet-file "$(W pool)"; WP=$(cat "$TMP/.out")
cd "$TMP/dev"
expect_ok "$CELLA" order init --app
set_fields dev apporder app="$APP" volume=10
expect_ok "$CELLA" order sign --app --tag tee --wallet-file "$(W dev)"
expect_ok "$CELLA" order publish --app
cd "$TMP/data"
expect_ok "$CELLA" order init --dataset
set_fields data datasetorder dataset="$DS" volume=10
expect_ok "$CELLA" order sign --dataset --wallet-file "$(W data)"
expect_ok "$CELLA" order publish --dataset
cd "$TMP/pool"
expect_ok "$CELLA" order init --workerpool
set_fields pool workerpoolorder workerpool="$WP" volume=10 trust=1
expect_ok "$CELLA" order sign --workerpool --tag tee --wallet-file "$(W pool)"
expect_ok "$CELLA" order publish --workerpool
cd "$TMP/req"
expect_ok "$CELLA" order init --request
PARAMS='{"iexec_args": "--words 3", "iexec_input_files": ["https://example.org/a.txt", "https://example.org/b.txt"], "iexec_secrets": {"1": "my-secret"}, "iexec_result_encryption": true}'
set_fields req requestorder app="$APP" dataset="$DS" workerpool="$WP" volume=2 \
  beneficiary="$(A req)" params="$PARAMS"
expect_ok "$CELLA" order sign --request --tag tee --wallet-file "$(W req)"
expect_ok "$CELLA" order publish --request
expect_ok "$CELLA" order fill
DEAL=$(awk '/^deal / {print $2}' "$TMP/.out")
TASK=$(awk '/^task 0 / {print $3}' "$TMP/.out")
TASK1=$(awk '/^task 1 / {print $3}' "$TMP/.out")
[[ "$TASK" =~ ^0x[0-9a-f]{64}$ && "$TASK1" =~ ^0x[0-9a-f]{64}$ ]] || fail "fill: $(cat "$TMP/.out")"
# a non-TEE deal: the same app through an app order without the TEE tag
cd "$TMP/dev"
expect_ok "$CELLA" order sign --app --tag 0x0 --wallet-file "$(W dev)" --out plain.json
expect_ok "$CELLA" order publish --app --file plain.json
cd "$TMP/req"
set_fields req requestorder dataset=0x0000000000000000000000000000000000000000 volume=1 params='{"iexec_args": ""}'
expect_ok "$CELLA" order sign --request --tag 0x0 --wallet-file "$(W req)" --out plain.json
expect_ok "$CELLA" order publish --request --file plain.json
# fill_from APP-ORDERS POOL-ORDERS REQUEST-ORDERS: fills the deal of these
# three orders files (paths under $TMP); prints its first task id
fill_from() {
  python3 - "$TMP" "$@" <<'PYM'
import json, sys
t, a, w, r = sys.argv[1:5]
o = {"apporder": json.load(open(f"{t}/{a}"))["421614"]["apporder"],
     "workerpoolorder": json.load(open(f"{t}/{w}"))["421614"]["workerpoolorder"],
     "requestorder": json.load(open(f"{t}/{r}"))["421614"]["requestorder"]}
json.dump({"421614": o}, open(f"{t}/fill.json", "w"))
PYM
  expect_ok "$CELLA" order fill --file "$TMP/fill.json"
  awk '/^task 0 / {print $3}' "$TMP/.out"
}
PLAIN=$(fill_from dev/plain.json pool/orders.json req/plain.json)
[[ "$PLAIN" =~ ^0x[0-9a-f]{64}$ ]] || fail "plain fill: $(cat "$TMP/.out")"
cd "$TMP"

# ---- the enclave challenge: the pool owner only, one per task ----
: > empty
post "/tee/challenges/$TASK" empty "$(ETH sign "$(W other)" "$(ETH keccak "$TASK")")"
expect_status 401 'not by the workerpool owner'
post "/tee/challenges/$TASK" empty "$(ETH sign "$(W pool)" "$(ETH keccak "$TASK1")")"
expect_status 401 'not by the workerpool owner'
post "/tee/challenges/$TASK" empty 0x1234
expect_status 400 'Authorization'
post "/tee/challenges/$PLAIN" empty "$(ETH sign "$(W pool)" "$(ETH keccak "$PLAIN")")"
expect_status 403 'not a TEE task'
post "/tee/challenges/0x$(printf '%064d' 7)" empty "$(ETH sign "$(W pool)" "$(ETH keccak "0x$(printf '%064d' 7)")")"
expect_status 404 'no such task'
post "/tee/challenges/$TASK" empty "$(ETH sign "$(W pool)" "$(ETH keccak "$TASK")")"
expect_status 200 'enclaveChallenge'
CH=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["enclaveChallenge"])' .reply)
[[ "$CH" =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "challenge: $CH"
post "/tee/challenges/$TASK" empty "$(ETH sign "$(W pool)" "$(ETH keccak "$TASK")")"
expect_status 200 "$CH"

# ---- session requests: iExec's WorkerpoolAuthorization, signed by pool and worker ----
# session TASK CHALLENGE POOL-WALLET WORKER-HEADER-WALLET
session() {
  local auth hdr
  auth=$("$CELLA" task authorize "$1" --worker "$(A worker)" --enclave-challenge "$2" --wallet-file "$3") ||
    fail "task authorize"
  hdr=$("$CELLA" task authorize "$1" --worker "$(A worker)" --enclave-challenge "$2" --wallet-file "$4") ||
    fail "task authorize"
  printf '{"workerWallet": "%s", "chainTaskId": "%s", "enclaveChallenge": "%s", "signature": "%s"}' \
    "$(A worker)" "$1" "$2" "$auth" > "$TMP/session.json"
  post /tee/sessions "$TMP/session.json" "$hdr"
}
session "$TASK" "$CH" "$(W pool)" "$(W other)"
expect_status 401 'not by the worker .*\(Authorization\)'
session "$TASK" "$CH" "$(W other)" "$(W worker)"
expect_status 401 'not by the workerpool owner .*\(signature\)'
OTHERCH=$(ETH address "$(W other)")
session "$TASK" "$OTHERCH" "$(W pool)" "$(W worker)"
expect_status 401 'not the enclave challenge cas issued'
session "$TASK1" "$CH" "$(W pool)" "$(W worker)"
expect_status 403 'issued no enclave challenge for this task'
session "$PLAIN" "$CH" "$(W pool)" "$(W worker)"
expect_status 403 'not a TEE task'
printf 'not json' > bad.json
post /tee/sessions bad.json 0x00
expect_status 400 'not a JSON object'
printf '{"workerWallet": 5, "chainTaskId": "%s", "enclaveChallenge": "%s", "signature": "0x00"}' "$TASK" "$CH" > bad.json
post /tee/sessions bad.json 0x00
expect_status 400 'workerWallet'
printf '{"workerWallet": "%s", "chainTaskId": "0x12", "enclaveChallenge": "%s", "signature": "0x00"}' "$(A worker)" "$CH" > bad.json
post /tee/sessions bad.json 0x00
expect_status 400 'chainTaskId'
post /tee/challenges/zz empty 0x00
expect_status 400 'task id'
code=$(curl -sk -o .reply -w '%{http_code}' "$CAS_URL/tee/sessions")
[[ $code == 405 ]] || fail "GET /tee/sessions: $code"
ok
# the secrets the deal needs, each missing in turn
session "$TASK" "$CH" "$(W pool)" "$(W worker)"
expect_status 403 "has not pushed its key.*secretAddress=$DS"
DSKEY=$(head -c 32 /dev/urandom | base64)
printf '%s' "$DSKEY" > ds.key
post "/secrets/web3?secretAddress=$DS" ds.key "$(ETH sms "$(W other)" "$DS" - ds.key)"
expect_status 401 'not allowed'
post "/secrets/web3?secretAddress=$DS" ds.key "$(ETH sms "$(W data)" "$DS" - ds.key)"
[[ $(cat .code) == 204 ]] || fail "dataset key push: $(cat .code) $(cat .reply)"
session "$TASK" "$CH" "$(W pool)" "$(W worker)"
expect_status 403 'no secret \\"my-secret\\".*IEXEC_REQUESTER_SECRET_1'
printf 'requester s3cr3t value\nline 2' > req.secret
post "/requesters/$(A req)/secrets/my-secret" req.secret "$(ETH sms "$(W req)" "$(A req)" my-secret req.secret)"
[[ $(cat .code) == 204 ]] || fail "requester secret push: $(cat .code) $(cat .reply)"
session "$TASK" "$CH" "$(W pool)" "$(W worker)"
expect_status 403 'pushed no result encryption key'
printf 'UEVNLXB1YmxpYy1rZXktb2YtdGhlLWJlbmVmaWNpYXJ5' > result.pub
post "/secrets/web2?ownerAddress=$(A req)&secretName=iexec-result-encryption-public-key" result.pub \
  "$(ETH sms "$(W req)" "$(A req)" iexec-result-encryption-public-key result.pub)"
[[ $(cat .code) == 204 ]] || fail "result key push: $(cat .code) $(cat .reply)"
printf 'app-dev-secret-value' > app.secret
post "/apps/$APP/secrets" app.secret "$(ETH sms "$(W dev)" "$APP" 1 app.secret)"
[[ $(cat .code) == 204 ]] || fail "app secret push: $(cat .code) $(cat .reply)"

# ---- the session ----
SESSION=iexec-$TASK
session "$TASK" "$CH" "$(W pool)" "$(W worker)"
expect_status 200 "\"sessionId\": ?\"$SESSION\""
grep -q '"service": \?"app"' .reply || fail "service: $(cat .reply)"
session "$TASK" "$CH" "$(W pool)" "$(W worker)"   # idempotent
expect_status 200 "$SESSION"

# the app's measurement gets the environment; another measurement is refused
expect_ok "$CELLA" attest --session "$SESSION/app" --measurement "$M" --sim-dir sim "${CAS[@]}"
cp .out env.json
envv() { python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["environment"].get(sys.argv[2], "<absent>"))' env.json "$1"; }
[[ $(envv IEXEC_DATASET_KEY) == "$DSKEY" ]] || fail "IEXEC_DATASET_KEY is not the pushed key"
[[ $(envv IEXEC_REQUESTER_SECRET_1) == "$(cat req.secret)" ]] || fail "requester secret"
[[ $(envv IEXEC_APP_DEVELOPER_SECRET) == app-dev-secret-value ]] || fail "app secret"
[[ $(envv RESULT_ENCRYPTION) == true && $(envv RESULT_ENCRYPTION_PUBLIC_KEY) == "$(cat result.pub)" ]] ||
  fail "result encryption"
[[ $(envv IEXEC_TASK_ID) == "$TASK" && $(envv IEXEC_DEAL_ID) == "$DEAL" ]] || fail "ids"
[[ $(envv IEXEC_TASK_INDEX) == 0 && $(envv IEXEC_BOT_SIZE) == 2 && $(envv IEXEC_BOT_FIRST_INDEX) == 0 ]] ||
  fail "bag of tasks"
[[ $(envv IEXEC_APP_ADDRESS) == "$APP" && $(envv IEXEC_DATASET_ADDRESS) == "${DS,,}" ]] || fail "addresses"
[[ $(envv IEXEC_DATASET_FILENAME) == "${DS,,}" ]] || fail "dataset file name"
[[ $(envv IEXEC_DATASET_URL) == https://blobs.example/data.enc ]] || fail "dataset URL"
[[ $(envv IEXEC_DATASET_CHECKSUM) == 0x1d64783f76e2be9ab59779159b4cffd2d0224883eb247a9261588f35f58cc607 ]] ||
  fail "dataset checksum"
[[ $(envv IEXEC_APP_ARGS) == "--words 3" && $(envv IEXEC_INPUT_FILES_NUMBER) == 2 &&
   $(envv IEXEC_INPUT_FILE_URL_2) == https://example.org/b.txt ]] || fail "args and inputs"
[[ $(envv SIGN_WORKER_ADDRESS) == "$(A worker)" && $(envv IEXEC_REQUESTER) == "$(A req)" &&
   $(envv IEXEC_BENEFICIARY) == "$(A req)" ]] || fail "accounts"
CHKEY=$(envv SIGN_TEE_CHALLENGE_PRIVATE_KEY)
[[ $(ETH address "$CHKEY") == "${CH,,}" ]] || fail "the challenge key is not the challenge's"
expect_fail 'is not allowed for this service' "$CELLA" attest --session "$SESSION/app" \
  --measurement "$(printf '0%.0s' {1..64})" --sim-dir sim "${CAS[@]}"

# nobody reads or replaces the session, and nobody can take the name first
for who in pool req dev worker; do
  expect_fail 'may not read' "$CELLA" session show "$SESSION" "${CAS[@]}" --wallet-file "$(W $who)"
  expect_fail 'may not read' "$CELLA" session show "$SESSION" --reveal "${CAS[@]}" --wallet-file "$(W $who)"
done
expect_fail 'may not read' "$CELLA" session volume "$SESSION" x --key-file x.key "${CAS[@]}" --wallet-file "$(W pool)"
printf 'name: %s\npredecessor: %s\nservices:\n  - name: app\n    mrenclaves: [%s]\n    command: /x\n    pwd: /\n' \
  "$SESSION" "$(printf 'a%.0s' {1..64})" "$M" > take.yml
expect_fail 'may not update' "$CELLA" session update take.yml "${CAS[@]}" --wallet-file "$(W req)"
printf 'name: iexec-0x%064d\nservices:\n  - name: app\n    mrenclaves: [%s]\n    command: /x\n    pwd: /\n' 9 "$M" > squat.yml
expect_fail 'reserved' "$CELLA" session create squat.yml "${CAS[@]}" --wallet-file "$(W other)"

# ---- a COMPLETED task gets no session: the enclave signs its result with the challenge key ----
cd "$TMP/worker"
printf 'hello\n' > result.txt
DIGEST=0x$(sha256sum result.txt | cut -c1-64)
RH=$(ETH keccak "$TASK" "$DIGEST")
RS=$(ETH keccak "$(A worker)" "$TASK" "$DIGEST")
ESIGN=$(ETH sign "$CHKEY" "$(ETH keccak "$RH" "$RS")")
expect_ok "$CELLA" task authorize "$TASK" --worker "$(A worker)" --enclave-challenge "$CH" --wallet-file "$(W pool)"
AUTH=$(cat "$TMP/.out")
expect_ok "$CELLA" task contribute "$TASK" --result result.txt --authorization "$AUTH" \
  --enclave-challenge "$CH" --enclave-sign "$ESIGN" --wallet-file "$(W worker)"
grep -q COMPLETED "$TMP/.out" || fail "contribute: $(cat "$TMP/.out")"
# the hub keeps the enclave key whose signature it checked (the task page's timeline shows it)
GOT=$(curl -sS "$HUB_URL/v1/tasks/$TASK" | python3 -c 'import json,sys;print(json.load(sys.stdin).get("enclaveChallenge"))')
[[ ${GOT,,} == "${CH,,}" ]] || fail "the completed task's enclaveChallenge is $GOT, not $CH"
ok
cd "$TMP"
session "$TASK" "$CH" "$(W pool)" "$(W worker)"
expect_status 403 'COMPLETED, not ACTIVE'
post "/tee/challenges/$TASK" empty "$(ETH sign "$(W pool)" "$(ETH keccak "$TASK")")"
expect_status 403 'COMPLETED, not ACTIVE'

# ---- tags mean evidence: a tee,tdx deal (what SDK 9 signs) admits TDX evidence, not SGX; sim
# only on a stack that allows it ----
cd "$TMP/pool"
expect_ok "$CELLA" order sign --workerpool --tag tee,scone,tdx --wallet-file "$(W pool)" --out tdx.json
expect_ok "$CELLA" order publish --workerpool --file tdx.json
cd "$TMP/req"   # its cella.json's request is the plain one: no dataset, one task
expect_ok "$CELLA" order sign --request --tag tee,tdx --wallet-file "$(W req)" --out tdx.json
expect_ok "$CELLA" order publish --request --file tdx.json
TDXT=$(fill_from dev/orders.json pool/tdx.json req/tdx.json)
[[ "$TDXT" =~ ^0x[0-9a-f]{64}$ ]] || fail "tdx fill: $(cat "$TMP/.out")"
cd "$TMP"
post "/tee/challenges/$TDXT" empty "$(ETH sign "$(W pool)" "$(ETH keccak "$TDXT")")"
expect_status 200 'enclaveChallenge'
TCH=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["enclaveChallenge"])' .reply)
session "$TDXT" "$TCH" "$(W pool)" "$(W worker)"
expect_status 200 "iexec-$TDXT"
# this cas allows sim (--allow-sim): a development stack runs the task in sim
expect_ok "$CELLA" attest --session "iexec-$TDXT/app" --measurement "$M" --sim-dir sim "${CAS[@]}"
# a cas that does not allow sim: the session it makes admits TDX only, and sim evidence is refused
stop_server "$CAS_PID"
# with collateral for the SGX vector (and its time): cas verifies evidence before it opens
# the session, so the SGX quote must verify for the session's TEE kinds to refuse it
mkdir -p coll
cp "$CELLA_VECTORS/attestation/sgx-dcap-v3/phala_sgx_quote_collateral.json" coll/sgx-00a067110000-processor.json
start_cas --log cas-nosim.log --hub "$HUB_URL" --collateral "$TMP/coll" --evidence-time 2025-07-01T00:00:00Z
session "$TDXT" "$TCH" "$(W pool)" "$(W worker)"
expect_status 200 "iexec-$TDXT"
expect_fail 'sim evidence refused: cas was not started with --allow-sim' "$CELLA" attest \
  --session "iexec-$TDXT/app" --measurement "$M" --sim-dir sim "${CAS[@]}"
expect_fail 'sgx enclaves are not accepted by this session \(security.tee\)' "$CELLA" attest \
  --session "iexec-$TDXT/app" --tee sgx --evidence-file "$CELLA_VECTORS/attestation/sgx-dcap-v3/phala_sgx_quote.bin" "${CAS[@]}"
stop_server "$CAS_PID"
start_cas --log cas-sim.log --allow-sim --sim-platform sim/sim-platform.pub --hub "$HUB_URL"
ok

# ---- the audit names every refusal, and no secret reached the log ----
grep -q "tee.session $SESSION ok" cas.log || fail "no audit line for the session"
grep -q 'tee.challenge .* refused' cas.log || fail "no audit line for a refused challenge"
for s in "$DSKEY" "s3cr3t" "app-dev-secret" "${CHKEY#0x}" UEVNLXB1YmxpYy1rZXkt; do
  grep -qF -- "$s" cas.log && fail "a secret reached the cas log"
done
kill -0 $CAS_PID || fail "cas died"
kill -0 $HUB_PID || fail "the hub died"
finish
