#!/usr/bin/env bash
# The cas vault (docs/architecture.md, "The cas vault"): a separate process
# holds the master key; the network process is confined (seccomp, Landlock)
# and cannot open DATA's key files, shown from inside it (CELLA_TEST_HOOKS=1);
# every unseal is audited by the vault; with the vault dead, cas answers 503
# to what needs it and keeps serving the rest.
. "$(dirname "$0")/lib.sh"

expect_ok "$CELLA" tee sim init --dir sim
export CELLA_TEST_HOOKS=1
start_cas --allow-sim --sim-platform sim/sim-platform.pub
unset CELLA_TEST_HOOKS

# two processes: the network process (the one started) and its vault child
VAULT_PID=$(ps -o pid= --ppid "$CAS_PID" | tr -d ' ')
[[ $VAULT_PID =~ ^[0-9]+$ && $VAULT_PID != "$CAS_PID" ]] || fail "no separate vault process: '$VAULT_PID'"
[[ $(awk '/^Seccomp:/ {print $2}' /proc/$CAS_PID/status) == 2 ]] || fail "network process: no seccomp filter"
[[ $(awk '/^NoNewPrivs:/ {print $2}' /proc/$CAS_PID/status) == 1 ]] || fail "network process: no no_new_privs"
[[ $(awk '/^Seccomp:/ {print $2}' /proc/$VAULT_PID/status) == 2 ]] || fail "vault: no seccomp filter"
# the vault keeps stdin, stdout, stderr and its socket: not the listening socket nor any other
vault_fds=$(ls /proc/$VAULT_PID/fd | wc -l)
[[ $vault_fds == 4 ]] || fail "vault holds $vault_fds descriptors, not 4: $(ls -l /proc/$VAULT_PID/fd)"
ok
# the vault alone opened master.key: the network process holds no descriptor of it
for p in $CAS_PID; do
  ls -l /proc/$p/fd 2>/dev/null | grep -q 'master.key' && fail "network process holds master.key open"
done

# from inside the network process, opening master.key fails with EACCES
if grep -q 'confined: Landlock ABI' cas.log; then
  curl -sk "$CAS_URL/v1/test/open-master-key" > hook.json || fail "test hook"
  python3 -c 'import json,sys; j=json.load(open("hook.json")); sys.exit(0 if (not j["opened"] and j["errno"]==13) else 1)' ||
    fail "the network process could open master.key: $(cat hook.json)"
  ok
else
  grep -q 'this kernel has no Landlock' cas.log || fail "neither Landlock nor its absence logged"
  echo "cas_vault: no Landlock on this kernel: the open-master-key check is skipped"
fi
# the hook exists only with CELLA_TEST_HOOKS=1 (checked at the end, on a restart)

expect_ok "$CELLA" wallet create --unencrypted --keystoredir owner
OWNER=$(ls owner/*)
M=3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76
cat > session.yml <<YML
name: vaulted
services:
   - name: app
     mrenclaves: [$M]
     command: /app
     pwd: /
     environment:
        PASSWORD: \$\$CELLA::pw\$\$
secrets:
   - name: pw
     kind: ascii
     size: 24
volumes:
   - name: out
images: []
security:
  allow_sim: true
YML
expect_ok "$CELLA" session create session.yml "${CAS[@]}" --wallet-file "$OWNER"
expect_ok "$CELLA" attest --session vaulted/app --measurement "$M" --sim-dir sim --show-keys "${CAS[@]}"
PW=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["environment"]["PASSWORD"])' .out)
[[ $PW =~ ^[A-Za-z0-9]{24}$ ]] || fail "generated secret: '$PW'"
# the vault audited the ticket and each unseal, and never wrote a value
grep -q 'vault: ticket for session vaulted' cas.log || fail "vault: no ticket line"
grep -q 'vault: unseal session of vaulted for attested (ticket [0-9a-f]*): ok' cas.log || fail "vault: no audit of the session's unseal"
grep -q 'vault: unseal secret of vaulted for attested' cas.log || fail "vault: no audit of the secret's unseal"
grep -q "$PW" cas.log && fail "a secret reached the log"
# an owner's request is audited as the owner's
expect_ok "$CELLA" session show vaulted "${CAS[@]}" --wallet-file "$OWNER"
grep -qi 'vault: unseal session of vaulted for owner 0x' cas.log || fail "vault: no audit of the owner's unseal"
ok

# the vault dies: what needs it fails closed with 503, the rest is served
kill -KILL "$VAULT_PID"
for _ in $(seq 50); do kill -0 "$VAULT_PID" 2>/dev/null || break; sleep 0.05; done
expect_fail 'vault is not available' "$CELLA" session show vaulted "${CAS[@]}" --wallet-file "$OWNER"
expect_fail 'vault is not available' "$CELLA" attest --session vaulted/app --measurement "$M" --sim-dir sim "${CAS[@]}"
curl -sk "$CAS_URL/metrics" | grep -E 'status="503"' | grep -qv ' 0$' || fail "no 503 counted: $(curl -sk "$CAS_URL/metrics" | grep 503)"
curl -skf -m 2 -o /dev/null "$CAS_URL/v1/health" || fail "cas stopped serving without its vault"
kill -0 "$CAS_PID" || fail "cas died with its vault"
ok

# restarted without CELLA_TEST_HOOKS: the hook does not exist, the key still opens the data
stop_server "$CAS_PID"
start_cas --allow-sim --sim-platform sim/sim-platform.pub
[[ $(curl -sk -o /dev/null -w '%{http_code}' "$CAS_URL/v1/test/open-master-key") == 404 ]] || fail "the test hook exists without CELLA_TEST_HOOKS=1"
expect_ok "$CELLA" attest --session vaulted/app --measurement "$M" --sim-dir sim --show-keys "${CAS[@]}"
grep -q "$PW" .out || fail "the secret changed across a restart"
finish
