# Sourced by the runtime benchmarks: a work directory W (removed on exit), a
# sim TEE, a cas accepting sim evidence on a free port (PORT, FP: its
# fingerprint) and a wallet in w/. Needs CELLA; $1 names the directory.
W=$(mktemp -d "/tmp/$1.XXXXXX")
CAS_PID=""
cleanup() { [[ -n "$CAS_PID" ]] && kill "$CAS_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
export XDG_CONFIG_HOME=$W/config
"$CELLA" tee sim init >/dev/null 2>&1
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$CELLA" cas serve --data casd --allow-sim --listen "127.0.0.1:$PORT" > cas.log 2>&1 &
CAS_PID=$!
for _ in $(seq 200); do grep -q '^fingerprint' cas.log && break; sleep 0.05; done
FP=$(awk '/^fingerprint/ {print $2}' cas.log)
"$CELLA" wallet create --unencrypted --keystoredir w >/dev/null 2>&1
