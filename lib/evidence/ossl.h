/* OpenSSL helpers shared by the evidence verifiers (internal to lib/evidence).
 * Every failure is reported through cella_fail with the name of the object. */
#ifndef CELLA_EVIDENCE_OSSL_H
#define CELLA_EVIDENCE_OSSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/slice.h"

/* Verifies an ECDSA signature given as raw r and s of `n` bytes each
 * (big-endian, or little-endian as in SNP reports) over `msg`.
 * CELLA_E_AUTH with "<what>: signature does not verify" if it does not. */
CELLA_RESULT cella_ev_ecdsa_verify(EVP_PKEY *key, const EVP_MD *md, const uint8_t *r,
                                   const uint8_t *s, size_t n, bool little_endian,
                                   const void *msg, size_t len, const char *what);

/* A P-256 public key from raw x || y. */
CELLA_RESULT cella_ev_p256_key(const uint8_t xy[static 64], EVP_PKEY **out);

/* Certificates from PEM (one or more) or a single DER certificate. */
CELLA_RESULT cella_ev_load_certs(cella_slice in, STACK_OF(X509) **out, const char *what);

/* SHA-256 of the DER encoding. */
CELLA_RESULT cella_ev_cert_sha256(X509 *c, uint8_t out[static 32]);

/* notBefore <= now <= notAfter, else CELLA_E_AUTH "<what> is not yet valid / has expired". */
CELLA_RESULT cella_ev_check_validity(X509 *c, time_t now, const char *what);

time_t cella_ev_asn1_time(const ASN1_TIME *t);

/* "2025-06-19T10:56:11Z" (optionally with fractional seconds or +00:00). */
CELLA_RESULT cella_ev_parse_time(const char *s, time_t *out, const char *what);

/* Subject as "C=US,ST=CA,...,CN=..." into buf. */
void cella_ev_subject(X509 *c, char *buf, size_t cap);

/* Verifies `c` was signed by `issuer` and that the names chain. */
CELLA_RESULT cella_ev_check_issued(X509 *c, X509 *issuer, const char *what);

#endif
