/* AMD SEV-SNP attestation reports (ATTESTATION_REPORT, versions 2 to 5; the
 * fields read here have the same offsets in all of them) and their
 * verification: ARK -> ASK -> VCEK (or ARK -> ASVK -> VLEK) with the AMD root
 * keys pinned by fingerprint, the report signature (ECDSA P-384 / SHA-384,
 * little-endian r and s), and the VCEK TCB extensions matched against
 * REPORTED_TCB and CHIP_ID. Offsets are in docs/evidence.md.
 */
#ifndef CELLA_EVIDENCE_SNP_H
#define CELLA_EVIDENCE_SNP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/slice.h"

#define CELLA_SNP_REPORT_BYTES 0x4A0
#define CELLA_SNP_SIGNED_BYTES 0x2A0

#define CELLA_SNP_POLICY_SMT (1ull << 16)
#define CELLA_SNP_POLICY_MIGRATE_MA (1ull << 18)
#define CELLA_SNP_POLICY_DEBUG (1ull << 19)
#define CELLA_SNP_POLICY_SINGLE_SOCKET (1ull << 20)

typedef struct {
    uint8_t bootloader, tee, snp, microcode, fmc; /* fmc: Turin only */
} cella_snp_tcb;

typedef struct {
    uint32_t version;
    uint32_t guest_svn;
    uint64_t policy;
    uint8_t family_id[16];
    uint8_t image_id[16];
    uint32_t vmpl;
    uint32_t signature_algo;
    uint64_t current_tcb;
    uint64_t platform_info;
    uint32_t signer_info; /* bits 2-4: signing key, 0 VCEK, 1 VLEK */
    uint8_t report_data[64];
    uint8_t measurement[48];
    uint8_t host_data[32];
    uint8_t id_key_digest[48];
    uint8_t author_key_digest[48];
    uint8_t report_id[32];
    uint8_t report_id_ma[32];
    uint64_t reported_tcb;
    uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step; /* v3+; 0 before */
    uint8_t chip_id[64];
    uint64_t committed_tcb;
    uint8_t current_build, current_minor, current_major;
    uint8_t committed_build, committed_minor, committed_major;
    uint64_t launch_tcb;
    uint8_t sig_r[72], sig_s[72]; /* little-endian, as in the report */
    cella_slice signed_part;      /* bytes [0, 0x2A0) */
} cella_snp_report;

/* AMD product line; decides the TCB byte layout. */
typedef enum { CELLA_SNP_MILAN, CELLA_SNP_GENOA, CELLA_SNP_TURIN } cella_snp_product;

/* VCEK/VLEK certificate extensions (1.3.6.1.4.1.3704.1.x). */
typedef struct {
    int struct_version;
    char product_name[32];
    int bl_spl, tee_spl, snp_spl, spl4, spl5, spl6, spl7, ucode_spl, fmc_spl; /* -1 if absent */
    bool has_hwid;
    uint8_t hwid[64];
    bool is_vlek;
} cella_snp_cert_ext;

typedef struct {
    cella_snp_product product;
    cella_snp_tcb reported;
    cella_snp_cert_ext ext;
    bool vlek;
} cella_snp_result;

CELLA_RESULT cella_snp_parse(cella_slice in, cella_snp_report *out);
bool cella_snp_is_debug(const cella_snp_report *r);
/* Splits a TCB_VERSION for the given product line. */
cella_snp_tcb cella_snp_tcb_split(uint64_t tcb, cella_snp_product p);

/* Verifies a parsed report. `cert` is the VCEK or VLEK (DER or PEM); `chain`
 * holds the ASK (or ASVK) and the ARK in PEM (the AMD KDS cert_chain); the ARK
 * must be one of the pinned AMD roots. Every certificate must be valid at
 * `now`. Fails with CELLA_E_AUTH on a bad signature or chain, or a
 * certificate TCB / hwID that does not match the report. */
CELLA_RESULT cella_snp_verify(const cella_snp_report *rep, cella_slice cert, cella_slice chain,
                              time_t now, cella_snp_result *out);

/* The extensions of a VCEK/VLEK (DER or PEM) without verifying it: to pick the
 * AMD chain by its product name ("Milan-B0" -> Milan). */
CELLA_RESULT cella_snp_cert_ext_read(cella_slice cert, cella_snp_cert_ext *out);

#endif
