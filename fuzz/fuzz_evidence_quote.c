/* Fuzzes the DCAP quote parsers (SGX v3, TDX v4/v5 and the nested QE
 * certification data), the claims encoder, and the PCK certificate SGX
 * extension parser (ASN.1 through OpenSSL's d2i). Anything the quote parser
 * accepts must lie within the input and re-parse identically. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cella_evidence_claims g_claims;
static cella_quote g_q2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cella_slice in = cella_slice_of(data, size);
    if (cella_ok(cella_evidence_parse(CELLA_EV_AUTO, in, &g_claims))) {
        json_t *j = cella_evidence_claims_json(&g_claims, true);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        free(s);
        json_decref(j);
        if (g_claims.kind != CELLA_EV_SNP) {
            const cella_quote *q = &g_claims.quote;
            if (q->quote_len > size || q->signed_part.p != data ||
                q->pck_chain_pem.p < data || q->pck_chain_pem.p + q->pck_chain_pem.len > data + q->quote_len)
                __builtin_trap();
            /* Trailing bytes never matter. */
            if (!cella_ok(cella_quote_parse(cella_slice_of(data, q->quote_len), &g_q2)) ||
                memcmp(&g_q2.td, &q->td, sizeof q->td) || memcmp(&g_q2.sgx, &q->sgx, sizeof q->sgx))
                __builtin_trap();
        }
    }
    cella_quote q;
    (void)cella_quote_parse(in, &q);
    cella_pck_ext e;
    (void)cella_pck_ext_parse(data, size, &e);
    return 0;
}
