# cella evidence show|verify against the real vectors in $CELLA_VECTORS/attestation.
. "$(dirname "$0")/lib.sh"
V="$CELLA_VECTORS/attestation"
SGX=$V/sgx-dcap-v3 TDX=$V/tdx-dcap-v4 SNP=$V/sev-snp

# expect_refused PATTERN CMD...: exit 1, one error line matching PATTERN, and
# the claims with verdict accepted=false on stdout.
expect_refused() {
  local pattern=$1; shift
  if "$@" >"$TMP/.out" 2>"$TMP/.err"; then fail "expected refusal ($pattern): $*"; fi
  [[ $(grep -c '^cella: error: ' "$TMP/.err") == 1 ]] || { cat "$TMP/.err" >&2; fail "one error line: $*"; }
  grep -Eq "$pattern" "$TMP/.err" || { cat "$TMP/.err" >&2; fail "error does not match /$pattern/: $*"; }
  grep -q '"accepted": false' "$TMP/.out" || fail "no verdict on stdout: $*"
  ok
}
out_has() { grep -Fq -- "$1" "$TMP/.out" || { cat "$TMP/.out" >&2; fail "output lacks $1"; }; ok; }

# show: parse only, kind detected or forced.
expect_ok "$CELLA" evidence show "$SGX/phala_sgx_quote.bin"
out_has '"mrenclave": "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"'
out_has '"kind": "sgx"'
expect_ok "$CELLA" evidence show "$TDX/gotdx_spr_e4_quote.bin" --kind tdx
out_has '"mrtd": "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"'
expect_ok "$CELLA" evidence show "$SNP/gosev_milan_debug_report.bin"
out_has '"measurement": "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"'
out_has '"debug": true'
expect_fail 'quote is SGX, not TDX' "$CELLA" evidence show "$SGX/phala_sgx_quote.bin" --kind tdx
head -c 100 "$SGX/phala_sgx_quote.bin" > short.bin
expect_fail 'malformed|SGX report|quote' "$CELLA" evidence show short.bin
expect_fail 'must be sgx, tdx or snp' "$CELLA" evidence show short.bin --kind xen
expect_fail 'usage' "$CELLA" evidence show

# verify: accepted cases.
expect_ok "$CELLA" evidence verify "$TDX/phala_tdx_quote.bin" \
  --collateral "$TDX/phala_tdx_quote_collateral.json" --now 2025-07-01T00:00:00Z
out_has '"tcb_status": "UpToDate"'
out_has '"accepted": true'
expect_ok "$CELLA" evidence verify "$SNP/trustee_milan_vcek_report.bin" \
  --cert "$SNP/trustee_milan_vcek.der" --chain "$V/roots/amd_milan_ask_ark.pem" --now 2025-01-01T00:00:00Z
out_has '"3.8": 115'
expect_ok "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" \
  --collateral "$SGX/phala_sgx_quote_collateral.json" --now 2025-07-01T00:00:00Z \
  --accept-tcb ConfigurationAndSWHardeningNeeded --tolerate INTEL-SA-00289,INTEL-SA-00615
out_has '"tcb_status": "ConfigurationAndSWHardeningNeeded"'

# verify: refusals, each with its reason.
expect_refused 'TCB status ConfigurationAndSWHardeningNeeded refused by policy' \
  "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" \
  --collateral "$SGX/phala_sgx_quote_collateral.json" --now 2025-07-01T00:00:00Z
expect_refused 'advisory INTEL-SA-00615 not tolerated' \
  "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" \
  --collateral "$SGX/phala_sgx_quote_collateral.json" --now 2025-07-01T00:00:00Z \
  --accept-tcb ConfigurationAndSWHardeningNeeded --tolerate INTEL-SA-00289
expect_refused 'debug enclave refused by policy' \
  "$CELLA" evidence verify "$SGX/occlum_debug_quote.bin" \
  --collateral "$SGX/occlum_debug_quote_collateral_2025-08.json" --now 2025-09-01T00:00:00Z
expect_refused 'TCB status OutOfDate refused' \
  "$CELLA" evidence verify "$SGX/occlum_debug_quote.bin" --allow-debug \
  --collateral "$SGX/occlum_debug_quote_collateral_2025-08.json" --now 2025-09-01T00:00:00Z
expect_refused 'debug TD refused by policy' \
  "$CELLA" evidence verify "$TDX/trustee_tdx_quote_4_debug.bin" \
  --collateral "$TDX/fmspc50806f000000_collateral_2023-06.json" --now 2023-07-01T01:00:00Z
expect_refused 'no matching TCB level' \
  "$CELLA" evidence verify "$TDX/gotdx_spr_e4_quote.bin" \
  --collateral "$TDX/fmspc50806f000000_collateral_2023-06.json" --now 2023-07-01T01:00:00Z
expect_refused 'expired' \
  "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" \
  --collateral "$SGX/phala_sgx_quote_collateral.json" --now 2025-08-01T00:00:00Z
expect_refused 'debug guest refused by policy' \
  "$CELLA" evidence verify "$SNP/gosev_milan_debug_report.bin" \
  --cert "$SNP/gosev_milan_vcek.der" --chain "$V/roots/amd_milan_ask_ark.pem" --now 2025-01-01T00:00:00Z
expect_ok "$CELLA" evidence verify "$SNP/gosev_milan_debug_report.bin" --allow-debug \
  --cert "$SNP/gosev_milan_vcek.der" --chain "$V/roots/amd_milan_ask_ark.pem" --now 2025-01-01T00:00:00Z

# One flipped byte: REPORTDATA of the SGX quote (offset 368), byte 42 of the SNP report.
cp "$SGX/phala_sgx_quote.bin" sgx.bin
printf '\x49' | dd of=sgx.bin bs=1 seek=368 conv=notrunc status=none
expect_refused 'quote signature' "$CELLA" evidence verify sgx.bin \
  --collateral "$SGX/phala_sgx_quote_collateral.json" --now 2025-07-01T00:00:00Z
cp "$SNP/trustee_milan_vcek_report.bin" snp.bin
flip_byte snp.bin 42
expect_refused 'SNP report signature' "$CELLA" evidence verify snp.bin \
  --cert "$SNP/trustee_milan_vcek.der" --chain "$V/roots/amd_milan_ask_ark.pem" --now 2025-01-01T00:00:00Z

# Policy file.
cat > pol.json <<'P'
{"kinds": ["tdx"], "mrtd": ["91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"]}
P
expect_ok "$CELLA" evidence verify "$TDX/phala_tdx_quote.bin" --policy pol.json \
  --collateral "$TDX/phala_tdx_quote_collateral.json" --now 2025-07-01T00:00:00Z
out_has '"measurement_checked": true'
expect_refused 'sgx evidence refused by policy' "$CELLA" evidence verify "$SGX/phala_sgx_quote.bin" \
  --policy pol.json --collateral "$SGX/phala_sgx_quote_collateral.json" --now 2025-07-01T00:00:00Z
echo '{"allow_debugg": true}' > bad.json
expect_fail 'unknown key' "$CELLA" evidence verify "$TDX/phala_tdx_quote.bin" --policy bad.json \
  --collateral "$TDX/phala_tdx_quote_collateral.json"
expect_fail 'ISO 8601' "$CELLA" evidence verify "$TDX/phala_tdx_quote.bin" --now yesterday \
  --collateral "$TDX/phala_tdx_quote_collateral.json"
expect_fail 'usage' "$CELLA" evidence verify "$TDX/phala_tdx_quote.bin"
expect_fail 'needs the AMD chain' "$CELLA" evidence verify "$SNP/gosev_milan_debug_report.bin" \
  --cert "$SNP/gosev_milan_vcek.der"
finish
