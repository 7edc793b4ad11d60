/* Attestation evidence and the session's policy for it (cas/attest.c). */
#ifndef CELLA_CAS_ATTEST_H
#define CELLA_CAS_ATTEST_H

#include "cas/internal.h"
#include "evidence/evidence.h"
#include "tee/ratls.h"

/* What verified evidence says about the enclave. */
typedef struct {
    cella_tee_kind kind;
    uint8_t measurement[48]; /* sim, SGX: 32 bytes (MRENCLAVE); TDX MRTD, SNP MEASUREMENT: 48 */
    size_t measurement_len;
    bool debug;
    uint8_t report_data[64];
    char tcb[48]; /* hardware: the TCB status, for the audit line */
    /* sim and SGX: who signed the enclave, as which product, at which version */
    bool has_signer;
    uint8_t signer[32];
    uint16_t prodid, svn;
} cas_claims;

/* Sim evidence, against the sim platform key (--allow-sim). */
CELLA_RESULT cas_verify_sim(cas_thread *t, cella_slice ev, cas_claims *c);
/* SGX, TDX and SNP evidence: authenticity only, without the session (its
 * policy comes after, by cas_hardware_policy on the claims `cl` keeps). */
CELLA_RESULT cas_verify_hardware(cas_thread *t, cella_tee_kind kind, cella_slice ev,
                                 cella_evidence_claims *cl, cas_claims *c);
/* The session's security section applied to verified hardware claims. */
CELLA_RESULT cas_hardware_policy(const json_t *doc, cella_evidence_claims *cl);
/* The claims against the session's policy for the service `svc`. */
CELLA_RESULT cas_check_policy(const json_t *doc, const json_t *svc, const cas_claims *c);

#endif
