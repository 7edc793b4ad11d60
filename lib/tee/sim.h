/* The sim TEE backend: for development and tests, it PROTECTS NOTHING.
 *
 * A platform key on the host (an ECDSA P-256 key made by `cella tee sim init`)
 * signs a report holding a measurement, signer, product id, svn, debug flag and
 * 64 bytes of report data, in the shape of an SGX report. Anyone who can read
 * the platform key file can forge reports, so cas accepts sim evidence only
 * when started with --allow-sim and only for sessions whose policy allows sim.
 * Format: docs/sim-tee.md.
 */
#ifndef CELLA_TEE_SIM_H
#define CELLA_TEE_SIM_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

#define CELLA_SIM_MAGIC "CELLASIM"
#define CELLA_SIM_SIGNED_BYTES 184 /* bytes covered by the signature */
#define CELLA_SIM_MAX_BYTES (CELLA_SIM_SIGNED_BYTES + 2 + 80)

typedef struct {
    uint8_t measurement[32];
    uint8_t signer[32];
    uint16_t product_id;
    uint16_t svn;
    bool debug;
    uint8_t report_data[64];
    uint8_t platform_id[32]; /* SHA-256 of the platform public key (SPKI DER) */
} cella_sim_report;

/* Default directory for the platform key: $XDG_CONFIG_HOME/cella or ~/.config/cella. */
CELLA_RESULT cella_sim_default_dir(char *out, size_t cap);

/* Creates DIR/sim-platform.key (PKCS#8 PEM, 0600) and DIR/sim-platform.pub
 * (SPKI PEM). Refuses to replace existing keys unless `force`. */
CELLA_RESULT cella_sim_platform_init(const char *dir, bool force);

CELLA_RESULT cella_sim_load_private(const char *dir, EVP_PKEY **out);
CELLA_RESULT cella_sim_load_public(const char *path, EVP_PKEY **out);

/* Produces evidence: the report (with platform_id filled in) signed by the
 * platform key. */
CELLA_RESULT cella_sim_quote(EVP_PKEY *platform, const cella_sim_report *r, cella_buf *out);
/* The same with the platform id computed once by the caller
 * (cella_sim_platform_id): encoding a key costs more than the signature in
 * OpenSSL 3, and a process that quotes many times need not repeat it. */
CELLA_RESULT cella_sim_quote_id(EVP_PKEY *platform, const uint8_t platform_id[32],
                                const cella_sim_report *r, cella_buf *out);

/* A quote function (tee/ratls.h's cella_quote_fn) for the sim TEE: ctx is a
 * cella_sim_quoter whose report is filled in, report data excepted. */
typedef struct {
    EVP_PKEY *platform;
    cella_sim_report rep;
} cella_sim_quoter;
cella_res cella_sim_quote_fn(const uint8_t report_data[64], cella_buf *evidence, void *ctx);

/* Parses evidence (bounds-checked) without verifying it. */
CELLA_RESULT cella_sim_parse(cella_slice ev, cella_sim_report *r);

/* Parses and verifies the signature against the trusted platform public key. */
CELLA_RESULT cella_sim_verify(cella_slice ev, EVP_PKEY *platform_pub, cella_sim_report *r);

/* The same with the platform id (SHA-256 of its SPKI) computed once by the
 * caller (cella_sim_platform_id): encoding a key is slow in OpenSSL 3. */
CELLA_RESULT cella_sim_platform_id(EVP_PKEY *platform_pub, uint8_t id[32]);
CELLA_RESULT cella_sim_verify_id(cella_slice ev, EVP_PKEY *platform_pub,
                                 const uint8_t platform_id[32], cella_sim_report *r);

#endif
