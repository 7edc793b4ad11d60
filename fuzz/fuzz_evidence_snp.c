/* Fuzzes the SEV-SNP report parser and claims encoder, and the evidence
 * policy JSON parser (a policy file is user input too). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "evidence/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cella_evidence_claims g_claims;
static cella_evidence_policy g_policy;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cella_slice in = cella_slice_of(data, size);
    cella_snp_report r;
    if (cella_ok(cella_snp_parse(in, &r))) {
        if (size < CELLA_SNP_REPORT_BYTES || r.signed_part.p != data ||
            r.signed_part.len != CELLA_SNP_SIGNED_BYTES)
            __builtin_trap();
        (void)cella_snp_tcb_split(r.reported_tcb, CELLA_SNP_TURIN);
    }
    if (cella_ok(cella_evidence_parse(CELLA_EV_SNP, in, &g_claims))) {
        json_t *j = cella_evidence_claims_json(&g_claims, true);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        free(s);
        json_decref(j);
    }
    (void)cella_evidence_policy_from_json(in, &g_policy);
    return 0;
}
