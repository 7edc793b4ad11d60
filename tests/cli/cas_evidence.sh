#!/usr/bin/env bash
# cas verifies real SGX, TDX and SEV-SNP evidence (the vectors in
# $CELLA_VECTORS/attestation) carried in RA-TLS certificates, against each
# session's security policy, with collateral from --collateral DIR, at the
# vectors' stated times (--evidence-time, tests only).
#
# A recorded quote cannot bind the fresh RA-TLS key and cas's nonce, so a
# genuine vector that the session's policy accepts is refused on the binding,
# after its evidence verified. Everything refused earlier says why: the quote
# signature, debug, the TCB status, an advisory, expiry, the session's TEE list.
. "$(dirname "$0")/lib.sh"
V="$CELLA_VECTORS/attestation"
SGX=$V/sgx-dcap-v3 TDX=$V/tdx-dcap-v4 SNP=$V/sev-snp

# cas_up TIME [ARGS...]: (re)starts cas on $TMP/casd at evidence time TIME.
cas_up() {
  local t=$1; shift
  [[ -z ${CAS_PID:-} ]] || stop_server "$CAS_PID"
  start_cas --evidence-time "$t" "$@"
}

# session NAME MEASUREMENT [SECURITY YAML LINES...]: creates it.
session() {
  local name=$1 m=$2; shift 2
  { printf 'name: %s\nservices:\n  - name: app\n    mrenclaves: [%s]\n    command: /app\n    pwd: /\n' "$name" "$m"
    if (($#)); then printf 'security:\n'; printf '  %s\n' "$@"; fi; } > "$name.yml"
  expect_ok "$CELLA" session create "$name.yml" "${CAS[@]}" --wallet-file "$OWNER"
}

# refused PATTERN SESSION TEE FILE: the attestation is refused (one error line
# matching PATTERN, nothing released on stdout).
refused() {
  local pattern=$1 s=$2 tee=$3 f=$4
  expect_fail "$pattern" "$CELLA" attest --session "$s/app" --tee "$tee" --evidence-file "$f" "${CAS[@]}"
  GOT+=("$(basename "$f") @ $s -> $(sed -n 's/^cella: error: //p' "$TMP/.err")")
}
GOT=()
BOUND='bound to another TLS key'

# ---- the collateral directory, keyed as docs/evidence.md says ----
mkdir coll
cp "$SGX/phala_sgx_quote_collateral.json" coll/sgx-00a067110000-processor.json
cp "$SGX/occlum_debug_quote_collateral_2025-08.json" coll/sgx-00606a000000.json
cp "$TDX/phala_tdx_quote_collateral.json" coll/tdx-b0c06f000000.json
cp "$TDX/fmspc50806f000000_collateral_2023-06.json" coll/tdx-50806f000000-platform.json
cp "$SNP/trustee_milan_vcek.der" coll/snp-vcek-c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e-7308000000000003.der
cp "$SNP/gosev_milan_vcek.der" coll/snp-vcek-3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d-4405000000000002.der
cp "$V/roots/amd_milan_ask_ark.pem" coll/snp-ask-ark-milan.pem

expect_ok "$CELLA" wallet create --unencrypted --keystoredir owner
OWNER=$(ls owner/*)
M_SGX=33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb
M_OCC=8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68
M_TDX=91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7
M_TDX4=705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031
M_SPR=6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb
M_SNP=a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c
M_SNPD=b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01

# ---- no collateral source: hardware evidence cannot be verified ----
cas_up 2025-07-01T00:00:00Z
grep -q 'WARNING: hardware evidence is verified at 2025-07-01T00:00:00Z' cas.log || fail "no --evidence-time warning"
ok
session sgx-default $M_SGX
refused 'cannot verify sgx evidence: no sgx collateral for FMSPC 00a067110000' sgx-default sgx "$SGX/phala_sgx_quote.bin"

# ---- 2025-07-01: the Phala SGX and TDX vectors ----
cas_up 2025-07-01T00:00:00Z --collateral "$TMP/coll"
session sgx-cfg $M_SGX 'accepted_tcb: [UpToDate, ConfigurationAndSWHardeningNeeded]' \
  'tolerated_advisories: [INTEL-SA-00289, INTEL-SA-00615]'
session sgx-scone $M_SGX 'attestation:' '  tolerate: [software-hardening-needed, insecure-configuration]' \
  '  ignore_advisories: [INTEL-SA-00289, INTEL-SA-00615]'
session sgx-one-adv $M_SGX 'accepted_tcb: [UpToDate, ConfigurationAndSWHardeningNeeded]' \
  'tolerated_advisories: [INTEL-SA-00289]'
session sgx-other-m 0000000000000000000000000000000000000000000000000000000000000000 \
  'accepted_tcb: [UpToDate, ConfigurationAndSWHardeningNeeded]' 'tolerated_advisories: ["INTEL-SA-00289", "INTEL-SA-00615"]'
session tdx-only $M_TDX 'tee: [tdx]'
session tdx-default $M_TDX
# Default policy (production, UpToDate only): the TCB status is refused.
refused 'TCB status ConfigurationAndSWHardeningNeeded refused by policy' sgx-default sgx "$SGX/phala_sgx_quote.bin"
# The session accepts it: the evidence verifies, then the binding refuses it.
refused "$BOUND" sgx-cfg sgx "$SGX/phala_sgx_quote.bin"
refused "$BOUND" sgx-scone sgx "$SGX/phala_sgx_quote.bin"
refused 'advisory INTEL-SA-00615 not tolerated by policy' sgx-one-adv sgx "$SGX/phala_sgx_quote.bin"
# The binding comes before the measurement (nothing is released either way).
refused "$BOUND" sgx-other-m sgx "$SGX/phala_sgx_quote.bin"
# One byte of the signed region (REPORTDATA, offset 368): refused by signature,
# before any policy.
cp "$SGX/phala_sgx_quote.bin" flipped.bin
printf '\x49' | dd of=flipped.bin bs=1 seek=368 conv=notrunc status=none
refused 'quote signature' sgx-cfg sgx flipped.bin
# A byte of MRENCLAVE too.
cp "$SGX/phala_sgx_quote.bin" flipped-m.bin
printf '\x00' | dd of=flipped-m.bin bs=1 seek=112 conv=notrunc status=none
refused 'quote signature' sgx-cfg sgx flipped-m.bin
# Verify, then unseal: evidence that fails verification makes the vault open
# nothing (no ticket, no unseal of the named session: its audit lines count
# every unseal, refused ones too), so the session was never read for it.
session sgx-untouched $M_SGX
before=$(grep -c 'vault: .*sgx-untouched' "$CAS_LOG" || true)
refused 'quote signature' sgx-untouched sgx flipped.bin
refused 'quote signature' sgx-untouched sgx flipped-m.bin
after=$(grep -c 'vault: .*sgx-untouched' "$CAS_LOG" || true)
[[ $before == "$after" ]] || fail "bad evidence made the vault open session sgx-untouched: $(grep 'vault: .*sgx-untouched' "$CAS_LOG")"
# ... while evidence that verifies does get the session read (the policy is in it)
refused "TCB status ConfigurationAndSWHardeningNeeded refused by policy" sgx-untouched sgx "$SGX/phala_sgx_quote.bin"
grep -q 'vault: unseal session of sgx-untouched for attested' "$CAS_LOG" || fail "verified evidence did not read the session"
refused 'sgx enclaves are not accepted by this session' tdx-only sgx "$SGX/phala_sgx_quote.bin"
# The kind in the envelope must be the evidence's.
refused 'quote is SGX, not TDX' tdx-default tdx "$SGX/phala_sgx_quote.bin"
# TDX, UpToDate: verified, refused on the binding (MRTD pinned in mrenclaves).
refused "$BOUND" tdx-default tdx "$TDX/phala_tdx_quote.bin"
refused "$BOUND" tdx-only tdx "$TDX/phala_tdx_quote.bin"
cp "$TDX/phala_tdx_quote.bin" flipped-td.bin
printf '\x00' | dd of=flipped-td.bin bs=1 seek=184 conv=notrunc status=none
refused 'quote signature' tdx-default tdx flipped-td.bin
grep -q 'tdx evidence verified with collateral from .*coll/tdx-b0c06f000000.json: TCB UpToDate' cas.log ||
  { cat cas.log >&2; fail "cas log does not say which collateral verified the TDX quote"; }
ok
grep -q 'sgx evidence verified with collateral from .*coll/sgx-00a067110000-processor.json' cas.log ||
  fail "SGX collateral file not named in the log"
ok

# ---- 2025-08-01: the same SGX quote, its collateral expired ----
cas_up 2025-08-01T00:00:00Z --collateral "$TMP/coll"
refused 'expired' sgx-cfg sgx "$SGX/phala_sgx_quote.bin"

# ---- 2025-09-01: the Occlum debug enclave (OutOfDate) ----
cas_up 2025-09-01T00:00:00Z --collateral "$TMP/coll"
session occ-default $M_OCC
session occ-ood $M_OCC 'accepted_tcb: [UpToDate, OutOfDate]' 'tolerated_advisories: ["*"]' 'allow_debug: true'
session occ-prod-ood $M_OCC 'accepted_tcb: [UpToDate, OutOfDate]' \
  'tolerated_advisories: [INTEL-SA-00586, INTEL-SA-00614, INTEL-SA-00615, INTEL-SA-00657, INTEL-SA-00730, INTEL-SA-00738, INTEL-SA-00767, INTEL-SA-00828, INTEL-SA-00837, INTEL-SA-00960]'
session occ-debug-only $M_OCC 'allow_debug: true'
refused 'debug enclave refused by policy' occ-default sgx "$SGX/occlum_debug_quote.bin"
refused 'debug enclave refused by policy' occ-prod-ood sgx "$SGX/occlum_debug_quote.bin"
refused 'TCB status OutOfDate refused by policy' occ-debug-only sgx "$SGX/occlum_debug_quote.bin"
refused "$BOUND" occ-ood sgx "$SGX/occlum_debug_quote.bin"

# ---- 2023-07-01T01:00Z: the TDX vectors of FMSPC 50806f000000 ----
cas_up 2023-07-01T01:00:00Z --collateral "$TMP/coll"
session td4-default $M_TDX4
session td4-debug $M_TDX4 'allow_debug: true'
session spr $M_SPR 'accepted_tcb: [UpToDate, OutOfDate, SWHardeningNeeded, ConfigurationNeeded]'
refused 'debug TD refused by policy' td4-default tdx "$TDX/trustee_tdx_quote_4_debug.bin"
refused "$BOUND" td4-debug tdx "$TDX/trustee_tdx_quote_4_debug.bin"
refused 'no matching TCB level' spr tdx "$TDX/gotdx_spr_e4_quote.bin"

# ---- 2025-01-01: SEV-SNP (Milan, VCEK) ----
cas_up 2025-01-01T00:00:00Z --collateral "$TMP/coll"
session snp $M_SNP
session snp-debug-off $M_SNPD
session snp-debug $M_SNPD 'allow_debug: true'
refused "$BOUND" snp snp "$SNP/trustee_milan_vcek_report.bin"
refused 'debug guest refused by policy' snp-debug-off snp "$SNP/gosev_milan_debug_report.bin"
refused "$BOUND" snp-debug snp "$SNP/gosev_milan_debug_report.bin"
cp "$SNP/trustee_milan_vcek_report.bin" snp-flipped.bin
flip_byte snp-flipped.bin 42
refused 'SNP report signature' snp snp snp-flipped.bin

# Refusals are audited, and never name a secret.
grep -q 'attest snp/app refused' cas.log || fail "refusal not audited"
ok

# ---- PCCS: collateral fetched once, then served from the cache ----
# A mock Intel PCCS (v4 API) on loopback serves the vectors' collateral as
# PCCS does: signed JSON with its issuer chain URL-encoded in a header, the
# PCK CRL of the CA asked for as DER, the root CA CRL as hex. It counts requests; with the file
# "tamper" present it extends the TCB info's nextUpdate (the signature then
# fails).
mkdir pccsd
cp "$SGX/phala_sgx_quote_collateral.json" pccsd/sgx-00A067110000.json
cp "$TDX/phala_tdx_quote_collateral.json" pccsd/tdx-B0C06F000000.json
cp "$SGX/phala_sgx_quote_collateral.json" pccsd/crl-processor.json  # Processor CA's CRL
cp "$TDX/phala_tdx_quote_collateral.json" pccsd/crl-platform.json   # Platform CA's CRL
cat > pccs.py <<'PY'
import http.server, json, os, sys, urllib.parse
D = sys.argv[2]
def coll(tee, fmspc=None):
    if fmspc is None:  # QE identity and CRLs: any file of that TEE (same pieces)
        fmspc = sorted(f for f in os.listdir(D) if f.startswith(tee + "-"))[0][len(tee) + 1:-5]
    with open(os.path.join(D, "%s-%s.json" % (tee, fmspc))) as f:
        return json.load(f)
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, urllib.parse.quote(v, safe=""))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/count":
            return self.answer(200, open(os.path.join(D, "count")).read().encode() if os.path.exists(os.path.join(D, "count")) else b"0")
        n = int(open(os.path.join(D, "count")).read()) if os.path.exists(os.path.join(D, "count")) else 0
        open(os.path.join(D, "count"), "w").write(str(n + 1))
        parts = u.path.split("/")  # ['', tee, 'certification', 'v4', ...]
        try:
            tee = parts[1]
            if parts[4:] == ["tcb"]:
                c = coll(tee, q["fmspc"][0])
                t = c["tcb_info"]
                if os.path.exists(os.path.join(D, "tamper")):
                    t = t.replace('"nextUpdate":"2025-07-', '"nextUpdate":"2026-07-', 1)
                body = '{"tcbInfo":%s,"signature":"%s"}' % (t, c["tcb_info_signature"])
                return self.answer(200, body.encode(), [("TCB-Info-Issuer-Chain", c["tcb_info_issuer_chain"])])
            if parts[4:] == ["qe", "identity"]:
                c = coll(tee)
                body = '{"enclaveIdentity":%s,"signature":"%s"}' % (c["qe_identity"], c["qe_identity_signature"])
                return self.answer(200, body.encode(), [("SGX-Enclave-Identity-Issuer-Chain", c["qe_identity_issuer_chain"])])
            if tee == "sgx" and parts[4:] == ["pckcrl"] and q.get("encoding") == ["der"]:
                with open(os.path.join(D, "crl-%s.json" % q["ca"][0])) as f:
                    c = json.load(f)
                return self.answer(200, bytes.fromhex(c["pck_crl"]), [("SGX-PCK-CRL-Issuer-Chain", c["pck_crl_issuer_chain"])])
            if tee == "sgx" and parts[4:] == ["rootcacrl"]:
                c = coll("sgx")
                return self.answer(200, c["root_ca_crl"].encode())
        except (KeyError, IndexError, OSError):
            pass
        self.answer(404, b'{"error":"not found"}')
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PCCS_PORT=$(free_port)
python3 pccs.py "$PCCS_PORT" "$TMP/pccsd" > pccs.log 2>&1 &
MOCK=$!
stop_mock() { kill "$MOCK" 2>/dev/null || true; wait "$MOCK" 2>/dev/null || true; }
on_exit stop_mock
PCCS=http://127.0.0.1:$PCCS_PORT
for i in $(seq 50); do curl -sf -o /dev/null "$PCCS/count" && break; sleep 0.1; done
count() { curl -sf "$PCCS/count"; }
want_count() { [[ $(count) == "$1" ]] || fail "PCCS served $(count) requests, expected $1"; ok; }

cas_up 2025-07-01T00:00:00Z --pccs "$PCCS"
grep -q "hardware evidence collateral: PCCS $PCCS (cache $TMP/casd/pccs-cache)" cas.log || fail "no PCCS line"
want_count 0
refused "$BOUND" sgx-cfg sgx "$SGX/phala_sgx_quote.bin"
want_count 4            # TCB info, QE identity, PCK CRL, root CA CRL
[[ $(stat -c %a casd/pccs-cache/sgx-00a067110000-processor.json) == 600 ]] || fail "cache file mode"
ok
refused "$BOUND" sgx-cfg sgx "$SGX/phala_sgx_quote.bin"
refused 'TCB status ConfigurationAndSWHardeningNeeded refused by policy' sgx-default sgx "$SGX/phala_sgx_quote.bin"
want_count 4            # served from the cache
grep -q "collateral from PCCS $PCCS (cached)" cas.log || fail "cache hit not logged"
ok
refused "$BOUND" tdx-default tdx "$TDX/phala_tdx_quote.bin"
want_count 8
refused "$BOUND" tdx-default tdx "$TDX/phala_tdx_quote.bin"
want_count 8
# A tampered TCB info is refused by its signature and never cached.
rm casd/pccs-cache/sgx-00a067110000-processor.json
touch pccsd/tamper
refused 'TCB info.*signature does not verify' sgx-cfg sgx "$SGX/phala_sgx_quote.bin"
want_count 12
[[ ! -e casd/pccs-cache/sgx-00a067110000-processor.json ]] || fail "tampered collateral was cached"
ok
refused 'TCB info.*signature does not verify' sgx-cfg sgx "$SGX/phala_sgx_quote.bin"
want_count 16
rm pccsd/tamper
# The cache is kept until the earliest nextUpdate (2025-07-19T10:00:35Z for
# the TDX collateral): past it, cas fetches again (and the collateral itself
# has expired).
cas_up 2025-07-20T00:00:00Z --pccs "$PCCS"
refused 'expired' tdx-default tdx "$TDX/phala_tdx_quote.bin"
want_count 20

# cella evidence verify --pccs: the same client and cache.
expect_ok "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" --pccs "$PCCS" --pccs-cache "$TMP/clicache" \
  --now 2025-07-01T00:00:00Z --accept-tcb ConfigurationAndSWHardeningNeeded --tolerate INTEL-SA-00289,INTEL-SA-00615
grep -q "collateral from PCCS $PCCS (fetched)" .err || fail "evidence verify --pccs did not fetch"
want_count 24
expect_ok "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" --pccs "$PCCS" --pccs-cache "$TMP/clicache" \
  --now 2025-07-01T00:00:00Z --accept-tcb ConfigurationAndSWHardeningNeeded --tolerate INTEL-SA-00289,INTEL-SA-00615
grep -q "collateral from PCCS $PCCS (cached)" .err || fail "evidence verify --pccs did not use its cache"
want_count 24
cmp <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tcb_info"])' clicache/sgx-00a067110000-processor.json) \
    <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tcb_info"])' "$SGX/phala_sgx_quote_collateral.json") ||
  fail "the cached TCB info is not the signed text byte for byte"
ok
expect_fail 'no sgx collateral|PCCS has no such collateral' "$CELLA" evidence verify "$SGX/occlum_debug_quote.bin" \
  --pccs "$PCCS" --pccs-cache "$TMP/clicache" --now 2025-09-01T00:00:00Z
expect_fail 'exclude each other' "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" --pccs "$PCCS" \
  --collateral "$SGX/phala_sgx_quote_collateral.json"

# The table: vector @ session -> cas's answer.
printf '%s\n' "${GOT[@]}" > "$TMP/table.txt"
[[ -n ${CELLA_EVIDENCE_TABLE:-} ]] && cp "$TMP/table.txt" "$CELLA_EVIDENCE_TABLE"
finish
