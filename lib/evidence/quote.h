/* Intel DCAP quotes: SGX ECDSA quote v3, TDX quote v4 and v5 (TDX 1.0 and 1.5
 * bodies). Pure parsing, no cryptography: every read goes through a
 * cella_reader, every length comes from its length field, and bytes after the
 * end of the signature data are ignored (real quote files are often padded).
 *
 * Byte offsets are documented in docs/evidence.md. Slices in cella_quote point
 * into the caller's buffer, which must outlive the struct.
 */
#ifndef CELLA_EVIDENCE_QUOTE_H
#define CELLA_EVIDENCE_QUOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/slice.h"

#define CELLA_QUOTE_HEADER_BYTES 48
#define CELLA_SGX_REPORT_BYTES 384
#define CELLA_TD10_REPORT_BYTES 584
#define CELLA_TD15_REPORT_BYTES 648
#define CELLA_QUOTE_TEE_SGX 0x00000000u
#define CELLA_QUOTE_TEE_TDX 0x00000081u
#define CELLA_QUOTE_MAX_BYTES (1u << 20)

/* SGX enclave report body (also the QE report). */
typedef struct {
    uint8_t cpusvn[16];
    uint32_t miscselect;
    uint8_t isvextprodid[16];
    uint8_t attributes[16]; /* flags u64 LE (bit 1 DEBUG) then xfrm u64 LE */
    uint64_t attr_flags;
    uint64_t xfrm;
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint8_t configid[64];
    uint16_t isvprodid;
    uint16_t isvsvn;
    uint16_t configsvn;
    uint8_t isvfamilyid[16];
    uint8_t reportdata[64];
} cella_sgx_report;

/* TDX TD report body (TDX 1.0; the 1.5 fields are set when `v15`). */
typedef struct {
    uint8_t tee_tcb_svn[16];
    uint8_t mrseam[48];
    uint8_t mrsignerseam[48];
    uint8_t seamattributes[8];
    uint8_t tdattributes[8]; /* u64 LE: bit 0 DEBUG, bit 28 SEPT_VE_DISABLE */
    uint8_t xfam[8];
    uint8_t mrtd[48];
    uint8_t mrconfigid[48];
    uint8_t mrowner[48];
    uint8_t mrownerconfig[48];
    uint8_t rtmr[4][48];
    uint8_t reportdata[64];
    bool v15;
    uint8_t tee_tcb_svn2[16];
    uint8_t mrservicetd[48];
} cella_td_report;

typedef struct {
    /* header */
    uint16_t version;      /* 3, 4 or 5 */
    uint16_t att_key_type; /* 2 = ECDSA-256-with-P-256 */
    uint32_t tee_type;     /* 0 SGX, 0x81 TDX */
    uint16_t qe_svn;
    uint16_t pce_svn;
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];
    uint16_t body_type; /* v5 only: 1 SGX, 2 TDX 1.0, 3 TDX 1.5; else 0 */
    bool is_tdx;
    cella_sgx_report sgx; /* when !is_tdx */
    cella_td_report td;   /* when is_tdx */

    cella_slice signed_part; /* header + body: what the attestation key signs */
    /* signature data */
    uint8_t signature[64];  /* r || s, big-endian */
    uint8_t att_key[64];    /* x || y */
    cella_slice qe_report_raw; /* 384 bytes signed by the PCK key */
    cella_sgx_report qe_report;
    uint8_t qe_report_sig[64];
    cella_slice qe_auth_data;
    uint16_t cert_type; /* innermost certification data type (5) */
    cella_slice pck_chain_pem;
    size_t quote_len; /* bytes used; trailing bytes after this are ignored */
} cella_quote;

CELLA_RESULT cella_sgx_report_parse(cella_slice in, cella_sgx_report *out);
CELLA_RESULT cella_quote_parse(cella_slice in, cella_quote *out);

/* True if the enclave / TD runs in debug mode. */
bool cella_quote_is_debug(const cella_quote *q);

#endif
