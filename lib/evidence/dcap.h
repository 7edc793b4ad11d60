/* Intel DCAP quote verification (SGX v3, TDX v4/v5) with OpenSSL 3.
 *
 * Steps, in order (docs/evidence.md has the details):
 *  1. collateral validity windows (CRLs, TCB info, QE identity) at `now`;
 *  2. PCK chain -> pinned Intel SGX Root CA, with the Root CA CRL and the PCK
 *     CRL (signatures and revocation), every certificate valid at `now`;
 *  3. quote signature by the attestation key;
 *  4. QE report signature by the PCK leaf key;
 *  5. QE REPORTDATA = SHA-256(attestation key || QE auth data) || 32 zeros;
 *  6. TCB info and QE identity signed by "Intel SGX TCB Signing" (chained to
 *     the pinned root) over their exact JSON text;
 *  7. PCK SGX extensions (FMSPC, PCEID) equal to the TCB info;
 *  8. QE identity match and QE TCB status; platform TCB level (SGX components
 *     and PCESVN from the PCK certificate, TDX components from TEE_TCB_SVN, and
 *     the TDX module identity) -> status and advisories, merged.
 * The verdict on the TCB status is left to the caller's policy (evidence.h).
 */
#ifndef CELLA_EVIDENCE_DCAP_H
#define CELLA_EVIDENCE_DCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "core/slice.h"
#include "evidence/quote.h"

typedef enum {
    CELLA_TCB_UP_TO_DATE,
    CELLA_TCB_SW_HARDENING_NEEDED,
    CELLA_TCB_CONFIGURATION_NEEDED,
    CELLA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    CELLA_TCB_OUT_OF_DATE,
    CELLA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    CELLA_TCB_REVOKED,
    CELLA_TCB_UNKNOWN, /* not evaluated */
} cella_tcb_status;

const char *cella_tcb_status_str(cella_tcb_status s);
/* Parses the Intel spelling ("UpToDate", ...); false if unknown. */
bool cella_tcb_status_parse(const char *s, cella_tcb_status *out);

#define CELLA_MAX_ADVISORIES 64
typedef struct {
    size_t n;
    char id[CELLA_MAX_ADVISORIES][24]; /* "INTEL-SA-00615", sorted, unique */
} cella_advisories;

/* Collateral in dcap-qvl's QuoteCollateralV3 JSON shape (MANIFEST.md). */
typedef struct {
    json_t *root; /* owns the strings below */
    const char *pck_crl_issuer_chain;
    const char *root_ca_crl; /* hex DER */
    const char *pck_crl;     /* hex DER */
    const char *tcb_info_issuer_chain;
    const char *tcb_info; /* exact signed text */
    const char *tcb_info_signature;
    const char *qe_identity_issuer_chain;
    const char *qe_identity;
    const char *qe_identity_signature;
} cella_dcap_collateral;

CELLA_RESULT cella_dcap_collateral_parse(cella_slice json, cella_dcap_collateral *out);
void cella_dcap_collateral_free(cella_dcap_collateral *c);

/* SGX extensions of the PCK certificate (OID 1.2.840.113741.1.13.1). */
typedef struct {
    uint8_t ppid[16];
    uint8_t tcb_comps[16];
    uint16_t pcesvn;
    uint8_t cpusvn[16];
    uint8_t pceid[2];
    uint8_t fmspc[6];
    int sgx_type; /* 0 Standard, 1 Scalable, 2 Scalable with integrity */
    bool has_platform_instance_id;
    uint8_t platform_instance_id[16];
} cella_pck_ext;

CELLA_RESULT cella_pck_ext_parse(const uint8_t *der, size_t len, cella_pck_ext *out);

typedef struct {
    /* Set as soon as the PCK chain parsed (also on some failures). */
    bool have_pck;
    cella_pck_ext pck;
    size_t n_subjects;
    char pck_subjects[4][160];
    time_t pck_not_after;
    /* Set when verification got as far as TCB evaluation. */
    cella_tcb_status platform_status;
    cella_advisories platform_advisories;
    cella_tcb_status qe_status;
    cella_advisories qe_advisories;
    cella_tcb_status module_status; /* TDX with a module identity; else UNKNOWN */
    cella_tcb_status status;        /* merged */
    cella_advisories advisories;    /* union */
} cella_dcap_result;

/* Verifies a parsed quote against the collateral at time `now`. On success
 * `out` holds the merged TCB status and advisories. Failures: CELLA_E_AUTH
 * (signature, chain, CRL, expiry), CELLA_E_POLICY (no matching TCB level,
 * QE identity mismatch), CELLA_E_PARSE (malformed collateral). */
CELLA_RESULT cella_dcap_verify(const cella_quote *q, const cella_dcap_collateral *c, time_t now,
                               cella_dcap_result *out);

/* The PCK CA that issued a quote's PCK certificate (selects the PCK CRL). */
typedef enum { CELLA_PCK_CA_PROCESSOR, CELLA_PCK_CA_PLATFORM } cella_pck_ca;
const char *cella_pck_ca_str(cella_pck_ca ca); /* "processor" or "platform" */

/* Which collateral a quote needs: the FMSPC from its PCK certificate and the
 * issuing PCK CA (by the issuer's CN). No verification: only to pick files or
 * PCCS URLs; cella_dcap_verify checks everything again. */
CELLA_RESULT cella_dcap_platform(const cella_quote *q, uint8_t fmspc[6], cella_pck_ca *ca);

#endif
