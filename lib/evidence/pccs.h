/* Intel PCS / PCCS v4 client: fetches the collateral a DCAP quote needs and
 * assembles it in the JSON shape the verifier reads (dcap.h,
 * QuoteCollateralV3), with a disk cache kept until the collateral's earliest
 * nextUpdate.
 *
 *   GET {url}/{sgx|tdx}/certification/v4/tcb?fmspc=FMSPC
 *       body {"tcbInfo":{...},"signature":"hex"}, header TCB-Info-Issuer-Chain
 *       (or SGX-TCB-Info-Issuer-Chain)
 *   GET {url}/{sgx|tdx}/certification/v4/qe/identity
 *       body {"enclaveIdentity":{...},"signature":"hex"},
 *       header SGX-Enclave-Identity-Issuer-Chain
 *   GET {url}/sgx/certification/v4/pckcrl?ca=processor|platform&encoding=der
 *       body the CRL (DER; PEM or hex also read), header SGX-PCK-CRL-Issuer-Chain
 *   GET {url}/sgx/certification/v4/rootcacrl
 *       body the Intel SGX Root CA CRL (hex text as PCCS serves it; DER or PEM read)
 * Issuer chains are URL-encoded PEM. Nothing fetched is trusted: the verifier
 * checks every signature against the pinned Intel root; the signed texts are
 * kept byte for byte.
 */
#ifndef CELLA_EVIDENCE_PCCS_H
#define CELLA_EVIDENCE_PCCS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/slice.h"
#include "evidence/dcap.h"

typedef struct {
    const char *url;       /* base, e.g. https://pccs.example:8081 (no trailing path) */
    const char *cache_dir; /* created if missing; NULL: no cache */
    long timeout_s;        /* 0: 20 s */
    bool insecure_tls;     /* do not check the PCCS's TLS certificate (self-signed PCCS) */
} cella_pccs;

/* Collateral for a quote of the given kind, FMSPC and PCK CA: from the cache
 * if an entry exists whose earliest nextUpdate is after `now`, else fetched.
 * `json` receives the QuoteCollateralV3 JSON text; `cached` says where it came
 * from. Fetched collateral is NOT cached here: the caller stores it with
 * cella_pccs_cache_put once the verifier has checked its signatures, so a
 * tampered answer is never kept. */
CELLA_RESULT cella_pccs_collateral(const cella_pccs *p, bool tdx, const uint8_t fmspc[6],
                                   cella_pck_ca ca, time_t now, cella_buf *json, bool *cached);

/* Writes verified collateral to the cache (atomic rename; no-op without a
 * cache directory). Cache file: <cache_dir>/<sgx|tdx>-<fmspc>-<ca>.json, kept
 * while the verification time is before its earliest nextUpdate. */
CELLA_RESULT cella_pccs_cache_put(const cella_pccs *p, bool tdx, const uint8_t fmspc[6],
                                  cella_pck_ca ca, cella_slice json);

/* ---- parsers of PCCS answers (exposed for tests and the fuzzer) ---- */

/* Percent-decodes a header value ('+' stays '+'); refuses a bad escape or NUL. */
CELLA_RESULT cella_pccs_url_decode(cella_slice in, cella_buf *out);

/* The exact bytes of the value of top-level key `key` in the JSON object
 * `body` (the signed text of "tcbInfo" / "enclaveIdentity"). The body must be
 * one well-formed JSON object with that key exactly once. */
CELLA_RESULT cella_pccs_json_member(cella_slice body, const char *key, cella_slice *value);

/* A CRL body as hex DER: PEM, hex text or DER in. */
CELLA_RESULT cella_pccs_crl_hex(cella_slice body, cella_buf *hex);

/* The earliest nextUpdate of a QuoteCollateralV3 JSON (TCB info, QE identity,
 * both CRLs). */
CELLA_RESULT cella_pccs_next_update(cella_slice collateral_json, time_t *out);

#endif
