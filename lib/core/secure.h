/* Secret handling: wiping the optimiser cannot remove, constant-time comparison,
 * locked non-dumpable memory, randomness, and process hardening.
 *
 * Secret buffers allocated here are also registered with the logger's redaction
 * filter (core/log.h): any log line that would contain a live secret, raw or
 * hex- or base64-encoded, is redacted before it is written.
 */
#ifndef CELLA_CORE_SECURE_H
#define CELLA_CORE_SECURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

void cella_wipe(void *p, size_t n);

/* True iff a and b are equal; time depends only on n. */
__attribute__((warn_unused_result)) bool cella_ct_eq(const void *a, const void *b, size_t n);

/* Page-aligned allocation, mlock()ed, excluded from core dumps (MADV_DONTDUMP),
 * with a guard page after it, registered for log redaction. Returns NULL on
 * failure. Wiped and unregistered by cella_secure_free. */
void *cella_secure_alloc(size_t n);
void cella_secure_free(void *p, size_t n);

/* Registry used by the log filter. Regions shorter than 8 bytes are ignored. */
void cella_secret_register(const void *p, size_t n);
void cella_secret_unregister(const void *p);
/* Calls fn for each live secret region, under the registry lock. */
void cella_secret_foreach(void (*fn)(const uint8_t *p, size_t n, void *ctx), void *ctx);

/* Cryptographically secure random bytes (getrandom). */
CELLA_RESULT cella_random(void *out, size_t n);

/* No core dumps, no ptrace by non-root peers: secrets must not leave the process
 * that way. Called first thing by every program. */
void cella_harden_process(void);

/* A 32-byte key that wipes itself when it goes out of scope:
 *     CELLA_KEY32(k);  ... use k.b ... */
typedef struct {
    uint8_t b[32];
} cella_key32;
static inline void cella_key32_drop(cella_key32 *k) { cella_wipe(k->b, sizeof k->b); }
#define CELLA_KEY32(name) cella_key32 name __attribute__((cleanup(cella_key32_drop))) = {{0}}

#endif
