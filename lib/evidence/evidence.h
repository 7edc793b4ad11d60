/* The hardware evidence verifier: one entry point for SGX DCAP quotes, TDX
 * quotes and SEV-SNP reports, and the policy that turns verified claims into a
 * verdict (as SCONE's `tolerate`/`ignore_advisories` and MarbleRun's
 * AcceptedTCBStatuses).
 *
 *   cella_evidence_policy pol;
 *   cella_evidence_policy_default(&pol);          // production, UpToDate only
 *   cella_evidence_claims cl;
 *   cella_res r = cella_evidence_verify(CELLA_EV_AUTO, ev, &coll, &pol, now, &cl);
 *
 * cella_evidence_verify returns OK only if the evidence verified AND the policy
 * accepts it. Whatever the outcome, `cl` holds every claim that could be
 * parsed, what verification established, and `cl.reason` (the refusal).
 */
#ifndef CELLA_EVIDENCE_EVIDENCE_H
#define CELLA_EVIDENCE_EVIDENCE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "core/slice.h"
#include "evidence/dcap.h"
#include "evidence/quote.h"
#include "evidence/snp.h"

typedef enum {
    CELLA_EV_AUTO = 0,
    CELLA_EV_SGX = 1,
    CELLA_EV_TDX = 2,
    CELLA_EV_SNP = 4,
} cella_evidence_kind;

const char *cella_evidence_kind_str(cella_evidence_kind k);
bool cella_evidence_kind_parse(const char *s, cella_evidence_kind *out);

#define CELLA_POLICY_MAX_LIST 16
#define CELLA_POLICY_MAX_ADVISORIES 64

typedef struct {
    unsigned kinds; /* bitmask of accepted kinds; 0 = none given = all */
    /* SGX: any listed MRENCLAVE, and/or MRSIGNER + ISVPRODID + minimum ISVSVN. */
    size_t n_mrenclave;
    uint8_t mrenclave[CELLA_POLICY_MAX_LIST][32];
    bool has_mrsigner;
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    uint16_t min_isvsvn;
    /* TDX: any listed MRTD; each given RTMR must equal. */
    size_t n_mrtd;
    uint8_t mrtd[CELLA_POLICY_MAX_LIST][48];
    bool has_rtmr[4];
    uint8_t rtmr[4][48];
    /* SNP: any listed launch measurement. */
    size_t n_snp_measurement;
    uint8_t snp_measurement[CELLA_POLICY_MAX_LIST][48];
    /* REPORTDATA / REPORT_DATA must start with these bytes (nonce binding). */
    size_t report_data_len;
    uint8_t report_data[64];
    bool allow_debug;      /* default false */
    unsigned accepted_tcb; /* bitmask of 1u << cella_tcb_status; default UpToDate */
    size_t n_tolerated;    /* advisory IDs tolerated; "*" tolerates all */
    char tolerated[CELLA_POLICY_MAX_ADVISORIES][24];
} cella_evidence_policy;

/* Production only, UpToDate only, no advisories, any kind, any measurement. */
void cella_evidence_policy_default(cella_evidence_policy *p);
/* Starts from the default and applies a JSON policy object:
 * {"kinds":["sgx","tdx","snp"], "mrenclave":[hex], "mrsigner":hex,
 *  "isvprodid":N, "min_isvsvn":N, "mrtd":[hex], "rtmr0".."rtmr3":hex,
 *  "snp_measurement":[hex], "report_data":hex, "allow_debug":bool,
 *  "accepted_tcb_statuses":["UpToDate",...], "tolerated_advisories":[id|"*"]}
 * Unknown keys are errors. */
CELLA_RESULT cella_evidence_policy_from_json(cella_slice json, cella_evidence_policy *p);
CELLA_RESULT cella_evidence_policy_accept_tcb(cella_evidence_policy *p, const char *status);
CELLA_RESULT cella_evidence_policy_tolerate(cella_evidence_policy *p, const char *advisory);

typedef struct {
    cella_slice dcap_collateral; /* SGX/TDX: collateral JSON (QuoteCollateralV3 shape) */
    cella_slice snp_cert;        /* SNP: VCEK or VLEK, DER or PEM */
    cella_slice snp_chain;       /* SNP: ASK (or ASVK) + ARK, PEM */
} cella_evidence_collateral;

typedef struct {
    cella_evidence_kind kind;
    bool parsed;
    cella_quote quote;    /* SGX, TDX (slices point into the evidence bytes) */
    cella_snp_report snp; /* SNP */
    bool debug;
    /* verification */
    bool verified; /* signatures, chains, CRLs, collateral and TCB matching OK */
    cella_dcap_result dcap;
    cella_snp_result snp_result;
    cella_tcb_status tcb_status; /* DCAP: merged status; SNP: Unknown (no TCB info) */
    /* verdict */
    bool accepted;
    bool measurement_checked; /* the policy named a measurement and it matched */
    cella_code code;          /* CELLA_OK if accepted */
    char reason[512];         /* empty if accepted */
} cella_evidence_claims;

/* Parses only. kind CELLA_EV_AUTO detects it from the bytes. */
CELLA_RESULT cella_evidence_parse(cella_evidence_kind kind, cella_slice evidence,
                                  cella_evidence_claims *out);

/* Parses, verifies at `now`, and applies the policy. */
CELLA_RESULT cella_evidence_verify(cella_evidence_kind kind, cella_slice evidence,
                                   const cella_evidence_collateral *coll,
                                   const cella_evidence_policy *policy, time_t now,
                                   cella_evidence_claims *out);

/* Applies a policy to claims that cella_evidence_verify verified (with
 * another policy): cas verifies the evidence before it may read the session
 * that holds the policy. Sets c->measurement_checked. */
CELLA_RESULT cella_evidence_policy_check(const cella_evidence_policy *p,
                                         cella_evidence_claims *c);

/* The claims (and, if `with_verdict`, the verification results and verdict)
 * as a JSON object; field names follow vectors/attestation/expected.json.
 * Returns NULL on allocation failure. */
json_t *cella_evidence_claims_json(const cella_evidence_claims *c, bool with_verdict);

#endif
