#!/usr/bin/env bash
# cella-runtime, the lean enclave binary (rt/main.c): the same run as `cella
# run` (attest, verified input, sandbox, sealed output, tag pushed; the client
# decrypts it), linking no libcurl; a cas that is not the pinned one is refused
# before any evidence is made; what it cannot do (--push) is refused before
# anything runs; libarchive is not loaded at start, nor the host's OpenSSL
# configuration.
. "$(dirname "$0")/lib.sh"
SRC=${CELLA_SOURCE:?}
RT=${CELLA%/*}/cella-runtime
[[ -x $RT ]] || fail "no $RT"
export TMPDIR=$TMP/tmp
mkdir -p "$TMPDIR"
export XDG_CONFIG_HOME=$TMP/config
"$CELLA" tee sim init --dir "$XDG_CONFIG_HOME/cella" >/dev/null 2>&1
start_cas --allow-sim --sim-platform "$XDG_CONFIG_HOME/cella/sim-platform.pub"
new_wallet user
W=(--wallet-file "$(W user)")

# what makes it lean: none of the full binary's heavy libraries
libs=$(ldd "$RT")
for l in libcurl libpq libsqlite3 libevent; do
  [[ $libs != *"$l"* ]] || fail "cella-runtime links $l"
done
# nor libarchive and its chain (loaded only to unpack a task's volume dataset,
# lib/app/archive_lib.h; cli.market unpacks one through cella-runtime)
chain="libarchive libxml2 libicu"
# and libstdc++, unless a sanitizer's runtime brings it (libubsan needs it: make asan)
[[ $libs == *libubsan* || $libs == *libasan* ]] || chain+=" libstdc++"
for l in $chain; do
  [[ $libs != *"$l"* ]] || fail "cella-runtime loads $l at start"
done

mkdir -p app INPUTS KEYS
gcc -O2 -o app/copy_files "$SRC/examples/copy/copy_files.c"
cp "$SRC/examples/copy/cella-app.json" app/
echo "Hello lean" > INPUTS/f1.txt
echo "MARKER-51c0de-plaintext" > INPUTS/marker.txt
expect_ok "$CELLA" encryptedpush --app app --session-template "$SRC/examples/copy/session-template.yml" \
  --inputs INPUTS --keys KEYS "${CAS[@]}" "${W[@]}"
read -r -a CMD < .out

# the host's OpenSSL configuration is not read: this one, if loaded, would
# activate a provider module of the host's choosing (here a missing one, which
# makes every algorithm fetch fail)
cat > evil.cnf <<'CNF'
config_diagnostics = 1
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
evil = evil_sect
[evil_sect]
module = /nonexistent/cella-test-provider.so
activate = 1
CNF
OPENSSL_CONF=$TMP/evil.cnf expect_ok "$RT" run "${CMD[@]}" --outputs OUT
grep -q '^output encrypted-output-files ' .out || fail "run printed no output volume"
hits=$(grep -rl 'MARKER-51c0de' . 2>/dev/null | grep -v '^./INPUTS/' || true)
[[ -z "$hits" ]] || fail "plaintext found on disk: $hits"
expect_ok "$CELLA" decrypt --keys KEYS --volume OUT/encrypted-output-files --out OUTPUTS "${W[@]}"
[[ $(cat OUTPUTS/f1.txt) == "Hello lean" ]] || fail "decrypted output differs"

# another cas key than the pinned one: refused in the handshake, no outputs
BAD=("${CMD[@]}")
for i in "${!BAD[@]}"; do
  [[ ${BAD[$i]} == --cas-fingerprint ]] && BAD[$((i + 1))]=$(printf 'ab%.0s' {1..32})
done
expect_fail 'does not match the pinned fingerprint' "$RT" run "${BAD[@]}" --outputs OUT2
[[ ! -e OUT2 ]] || fail "a run against an unpinned cas wrote outputs"

# a modified app (another measurement) gets no keys
cp -a app app2; echo >> app2/copy_files
MOD=("${CMD[@]}")
for i in "${!MOD[@]}"; do [[ ${MOD[$i]} == --app ]] && MOD[$((i + 1))]="$TMP/app2"; done
expect_fail 'is not allowed for this service' "$RT" run "${MOD[@]}" --outputs OUT3
[[ ! -e OUT3 ]] || fail "a refused run wrote outputs"

# --push needs the transfer service's client: refused before attesting
expect_fail 'no transfer service' "$RT" run "${CMD[@]}" --outputs OUT4 --push http://127.0.0.1:1
[[ ! -e OUT4 ]] || fail "a refused --push ran"
[[ -z $(ls "$TMPDIR") ]] || fail "work directories left behind: $(ls "$TMPDIR")"
finish
