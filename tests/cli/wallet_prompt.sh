#!/usr/bin/env bash
# One wallet lookup for every signing verb, and the password prompt:
#  - on a terminal (a pseudo-terminal here) an encrypted keystore's password is
#    asked without echo; the typed password never reaches the screen, a wrong
#    one is refused, Ctrl-C ends the prompt with echo restored;
#  - without a terminal it is an error naming --password-file;
#  - --password works, with a warning;
#  - --wallet-address picks the keystore of that address in --keystoredir, for
#    wallet show, sign-message, order sign and the hub's signed verbs alike.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 (for the pseudo-terminal) is not installed"
PW='correct horse battery staple'
printf '%s\n' "$PW" > pw
expect_ok "$CELLA" wallet create --password-file pw --keystoredir ks --scrypt-n 1024
ADDR=$(cat .out)
KS=$(ls ks/UTC--*)
expect_ok "$CELLA" wallet create --password-file pw --keystoredir ks --scrypt-n 1024
OTHER=$(cat .out)
expect_ok "$CELLA" wallet sign-message hello --wallet-file "$KS" --password-file pw
SIG=$(cat .out)

# term.py ANSWER CMD...: runs CMD on a pseudo-terminal, waits for the prompt,
# types ANSWER (or "^C"), prints everything the terminal showed, exits with
# CMD's status.
cat > term.py <<'PY'
import os, pty, sys, time, signal
answer, cmd = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
seen, sent, deadline = b"", False, time.time() + 30
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not sent and b"Password for" in seen:
        time.sleep(0.1)
        os.write(fd, b"\x03" if answer == "^C" else answer.encode() + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
PY
python3 term.py "$PW" "$CELLA" wallet sign-message hello --wallet-file "$KS" > screen || fail "prompted sign: $(cat screen)"
grep -q "Password for $KS" screen || fail "no prompt: $(cat screen)"
grep -q -- "$SIG" screen || fail "prompted signature differs: $(cat screen)"
! grep -q "$PW" screen || fail "the password was echoed"
ok
if python3 term.py "wrong password" "$CELLA" wallet sign-message hello --wallet-file "$KS" > screen; then
  fail "a wrong password was accepted"
fi
grep -q 'wrong password' screen || fail "wrong password: $(cat screen)"
# Ctrl-C at the prompt: the command dies by SIGINT (status 130), nothing signed
if python3 term.py "^C" "$CELLA" wallet sign-message hello --wallet-file "$KS" > screen; then
  fail "Ctrl-C at the prompt went on"
fi
! grep -q '0x[0-9a-f]\{130\}' screen || fail "signed after Ctrl-C"
ok

# no terminal: an error that says what to give, nothing on stdout
expect_fail 'encrypted: give --password-file' "$CELLA" wallet sign-message hello --wallet-file "$KS" </dev/null
# --password: accepted with a warning; gone from /proc/PID/cmdline once read
expect_ok "$CELLA" wallet sign-message hello --wallet-file "$KS" --password "$PW"
[[ $(cat .out) == "$SIG" ]] || fail "--password signature differs"
grep -q 'process list' .err || fail "no warning for --password: $(cat .err)"
expect_fail 'not both' "$CELLA" wallet sign-message hello --wallet-file "$KS" --password "$PW" --password-file pw
ok

# --wallet-address: the keystore of that address, for every verb
expect_ok "$CELLA" wallet show --wallet-address "$ADDR" --keystoredir ks --password-file pw
[[ $(cat .out) == "$ADDR" ]] || fail "wallet show --wallet-address: $(cat .out)"
expect_ok "$CELLA" wallet sign-message hello --wallet-address "$(tr 'A-F' 'a-f' <<< "$ADDR")" --keystoredir ks --password-file pw
[[ $(cat .out) == "$SIG" ]] || fail "sign-message --wallet-address"
expect_fail "no wallet of 0x0{39}1 here" "$CELLA" wallet show --wallet-address 0x0000000000000000000000000000000000000001 --keystoredir ks
expect_fail 'not both' "$CELLA" wallet show --wallet-address "$ADDR" --wallet-file "$KS"
# a keystore under another address's name never stands in for it: the key (or,
# without a password, the address the file holds) must be the one asked for
mkdir planted && cp "$KS" "planted/UTC--2026-01-01T00-00-00.000000000Z--${OTHER#0x}"
expect_fail "this keystore holds $ADDR, not $OTHER \(--wallet-address\)" \
  "$CELLA" wallet sign-message hello --wallet-address "$OTHER" --keystoredir planted --password-file pw
expect_fail "this keystore holds $ADDR, not $OTHER \(--wallet-address\)" \
  "$CELLA" wallet show --wallet-address "$OTHER" --keystoredir planted
expect_fail '2 wallets here' "$CELLA" wallet show --keystoredir ks
expect_fail 'EIP-55|address' "$CELLA" wallet show --wallet-address 0xnot --keystoredir ks
# a signing verb of the hub with the same options: order sign
H=0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E
printf '{"chainId": 421614, "hub": "%s"}\n' "$H" > cella.json
expect_ok "$CELLA" order init --request
expect_ok "$CELLA" order sign --request --wallet-address "$OTHER" --keystoredir ks --password-file pw
expect_ok "$CELLA" order verify orders.json
grep -q "requestorder 0x[0-9a-f]* valid, signed by $OTHER" .out || fail "order sign --wallet-address: $(cat .out)"
expect_fail "this keystore holds $ADDR, not $OTHER" \
  "$CELLA" order sign --request --wallet-address "$OTHER" --keystoredir planted --password-file pw
finish
