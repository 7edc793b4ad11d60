/* RA-TLS: a TLS identity whose certificate carries TEE evidence binding its key.
 *
 * The enclave makes a fresh P-256 key and asks its TEE for evidence whose
 * 64-byte report data is SHA-256(SubjectPublicKeyInfo DER of that key) || a
 * 32-byte freshness value: the binding of the TLS handshake that presents it
 * (below), or a nonce issued by the verifier. The evidence goes into a self-signed
 * X.509 certificate, in a non-critical extension:
 *
 *   OID 2.25.45613951467712218384283982437990380879  (a UUID OID, X.667)
 *   value: OCTET STRING = "CELLAEV1" || kind (u8) || 3 zero bytes
 *                         || length (u32 LE) || evidence
 *
 * The verifier checks the evidence, then that its report data names the key
 * the TLS handshake proved possession of, and this handshake or a nonce it
 * issued and has not seen used. Format details: docs/sim-tee.md.
 */
#ifndef CELLA_TEE_RATLS_H
#define CELLA_TEE_RATLS_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

#define CELLA_RATLS_OID "2.25.45613951467712218384283982437990380879"
#define CELLA_RATLS_MAGIC "CELLAEV1"
#define CELLA_RATLS_MAX_EVIDENCE (64u * 1024u)

typedef enum {
    CELLA_TEE_SIM = 1,
    CELLA_TEE_SGX = 2,
    CELLA_TEE_TDX = 3,
    CELLA_TEE_SNP = 4,
} cella_tee_kind;

const char *cella_tee_kind_name(cella_tee_kind k);

CELLA_RESULT cella_tee_kind_parse(const char *name, cella_tee_kind *out);

/* Produces evidence for the given report data (the TEE backend). */
typedef cella_res (*cella_quote_fn)(const uint8_t report_data[64], cella_buf *evidence,
                                    void *ctx);

/* The freshness half of the report data when the evidence is made during the
 * TLS handshake that presents it (cella's client does this; see cas-api.md):
 * SHA-256("cella RA-TLS handshake v1" || client_random || server_random).
 * The server random is cas's nonce for this connection: evidence made for
 * another handshake never matches. */
#define CELLA_RATLS_HANDSHAKE_LABEL "cella RA-TLS handshake v1"
CELLA_RESULT cella_ratls_handshake_binding(const uint8_t client_random[32],
                                           const uint8_t server_random[32], uint8_t out[32]);

/* report_data = SHA-256(SPKI DER of key) || nonce. */
CELLA_RESULT cella_ratls_report_data(EVP_PKEY *key, const uint8_t nonce[32],
                                     uint8_t report_data[64]);

/* Makes a fresh key and a self-signed certificate carrying its evidence.
 * The caller owns *key and *cert. */
CELLA_RESULT cella_ratls_make(cella_tee_kind kind, const uint8_t nonce[32], cella_quote_fn quote,
                              void *quote_ctx, EVP_PKEY **key, X509 **cert);

/* Extracts the evidence from a peer certificate (bounds-checked), and the
 * SHA-256 of the certificate's SPKI. `evidence` is appended to. */
CELLA_RESULT cella_ratls_extract(X509 *cert, cella_tee_kind *kind, cella_buf *evidence,
                                 uint8_t spki_hash[32]);

/* Parses the extension payload (exposed for the fuzzer). */
CELLA_RESULT cella_ratls_parse_envelope(cella_slice in, cella_tee_kind *kind, cella_slice *evidence);

#endif
