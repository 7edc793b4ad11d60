/* Where the verifier's collateral comes from: a directory of files keyed so a
 * verifier can pick them from the evidence, and/or a PCCS (evidence/pccs.h).
 *
 * Directory layout (docs/evidence.md, "Collateral directory"):
 *   sgx-<fmspc>-<ca>.json, else sgx-<fmspc>.json   SGX collateral (QuoteCollateralV3 JSON)
 *   tdx-<fmspc>-<ca>.json, else tdx-<fmspc>.json   TDX collateral
 *   snp-vcek-<chip_id>-<reported_tcb>.der|.pem     the VCEK for that chip at that TCB
 *   snp-ask-ark-<milan|genoa|turin>.pem            the AMD chain (KDS cert_chain)
 * <fmspc> is 12 lowercase hex digits, <ca> "processor" or "platform" (the PCK
 * CA that issued the quote's PCK certificate), <chip_id> 128 lowercase hex
 * digits, <reported_tcb> the 16 lowercase hex digits of REPORTED_TCB as a
 * big-endian number (as printed by `cella evidence show`, without 0x).
 * The directory is tried first; the PCCS (SGX/TDX only) when no file matches.
 */
#ifndef CELLA_EVIDENCE_COLLATERAL_H
#define CELLA_EVIDENCE_COLLATERAL_H

#include <stdbool.h>
#include <time.h>

#include "core/slice.h"
#include "evidence/evidence.h"
#include "evidence/pccs.h"

typedef struct {
    const char *dir;         /* or NULL */
    const cella_pccs *pccs;  /* or NULL */
} cella_collateral_source;

typedef struct {
    cella_buf dcap, snp_cert, snp_chain;
    char origin[512]; /* the file or "PCCS <url> (cached|fetched)", for logs */
    /* Set when the DCAP collateral was just fetched from the PCCS. */
    bool pccs_fetched;
    bool tdx;
    uint8_t fmspc[6];
    cella_pck_ca ca;
} cella_collateral_found;

/* Finds the collateral for parsed evidence (`c->parsed`). `now` decides
 * whether a cached PCCS answer is still fresh. CELLA_E_NOTFOUND names what
 * was looked for when no source has it. Free `out` with _found_free. */
CELLA_RESULT cella_collateral_find(const cella_collateral_source *src,
                                   const cella_evidence_claims *c, time_t now,
                                   cella_collateral_found *out);
/* After a verification that got through every signature (claims.verified):
 * caches collateral just fetched from the PCCS. Failures to cache are
 * returned but harmless (the next attestation fetches again). */
CELLA_RESULT cella_collateral_commit(const cella_collateral_source *src,
                                     const cella_collateral_found *f);
void cella_collateral_found_free(cella_collateral_found *f);
cella_evidence_collateral cella_collateral_view(const cella_collateral_found *f);

#endif
