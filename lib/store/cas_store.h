/* The cas's persistent state behind a narrow interface. Every call is one
 * transaction; a write is durable (fsync) before it returns, so an
 * acknowledged change survives kill -9. Over store/db.h: SQLite (one process)
 * or PostgreSQL (replicas sharing one database).
 *
 * Secret material (session documents, generated secrets, volume keys) arrives
 * here already sealed by the caller with a master key the store never sees.
 * The rows of challenges replicas share: store/challenges.h. */
#ifndef CELLA_STORE_CAS_STORE_H
#define CELLA_STORE_CAS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"
#include "store/db.h"

typedef struct cella_cas_store cella_cas_store; /* one per thread */

/* url: a SQLite path (or sqlite:PATH) or a postgres:// URL (store/db.h). */
CELLA_RESULT cella_cas_store_open(const char *url, cella_cas_store **out);
void cella_cas_store_close(cella_cas_store *s);
/* The database's clock, which every replica shares (store/db.h). */
CELLA_RESULT cella_cas_store_now(cella_cas_store *s, int64_t *now);
/* Its connection (for the challenges that replicas share: store/challenges.h). */
cella_db *cella_cas_store_db(cella_cas_store *s);

/* ---- sessions ---- */
typedef struct {
    char owner[43];       /* 0x-address of the creator */
    uint8_t hash[32];     /* session hash */
    int64_t version;      /* 1 at create, +1 per update */
    cella_buf sealed;     /* sealed normalised JSON */
} cella_cas_session_row;

/* CELLA_E_NOTFOUND if absent. `row->sealed` must be initialised (cella_buf_init). */
CELLA_RESULT cella_cas_session_get(cella_cas_store *s, const char *name, cella_cas_session_row *row);
/* CELLA_E_EXISTS if the name is taken. */
CELLA_RESULT cella_cas_session_create(cella_cas_store *s, const char *name,
                                      const cella_cas_session_row *row);
/* Replaces the session only if its current hash is `predecessor` (compare and
 * swap): CELLA_E_NOTFOUND, or CELLA_E_ROLLBACK when someone else updated first. */
CELLA_RESULT cella_cas_session_update(cella_cas_store *s, const char *name,
                                      const uint8_t predecessor[32], const cella_cas_session_row *row);

/* ---- sealed values generated once per session: secrets and volume keys ----
 * Stores `candidate` under (session, kind, name) unless a value is already
 * there; `out` receives the stored value either way (first writer wins). */
CELLA_RESULT cella_cas_sealed_get_or_put(cella_cas_store *s, const char *session, const char *kind,
                                         const char *name, cella_slice candidate, cella_buf *out);

/* Create-only (CELLA_E_EXISTS if present), replace, and lookup of a sealed
 * value: the SMS secrets, some of which can never be updated. */
CELLA_RESULT cella_cas_sealed_insert(cella_cas_store *s, const char *session, const char *kind,
                                     const char *name, cella_slice value);
CELLA_RESULT cella_cas_sealed_replace(cella_cas_store *s, const char *session, const char *kind,
                                      const char *name, cella_slice value);
/* CELLA_E_NOTFOUND if absent. */
CELLA_RESULT cella_cas_sealed_get(cella_cas_store *s, const char *session, const char *kind,
                                  const char *name, cella_buf *out);

/* ---- iExec SMS pushes: a signed challenge is accepted once, on any endpoint ----
 * `tag` is the caller's keyed hash of the challenge (the challenge itself is a
 * hash of the secret: stored bare, a weak secret could be guessed from it). */
/* In one transaction: records `tag` (CELLA_E_PERM if it was recorded before:
 * a replay) and inserts (CELLA_E_EXISTS if present) or replaces the sealed
 * value under ("", kind, name). */
CELLA_RESULT cella_cas_sms_put(cella_cas_store *s, const char *kind, const char *name,
                               cella_slice value, bool replace, const uint8_t tag[32], int64_t ts);

/* ---- volume tags ---- */
CELLA_RESULT cella_cas_tag_get(cella_cas_store *s, const char *session, const char *volume,
                               uint8_t tag[16], bool *has);
/* Sets the tag if the current one equals `old` (NULL = "no tag yet"):
 * CELLA_E_ROLLBACK otherwise, so two forks of a volume cannot both win. */
CELLA_RESULT cella_cas_tag_swap(cella_cas_store *s, const char *session, const char *volume,
                                const uint8_t *old, const uint8_t new_tag[16]);

/* ---- attested instances: a token issued at attestation, bound to the TLS key ---- */
CELLA_RESULT cella_cas_instance_put(cella_cas_store *s, const uint8_t token_hash[32],
                                    const char *session, const char *service,
                                    const uint8_t spki[32], int64_t expires);
/* One attestation's instance and its audit row ("attest ok"), for the batch
 * below. */
typedef struct {
    const uint8_t *token_hash; /* 32 bytes */
    const char *session, *service;
    const uint8_t *spki; /* 32 bytes */
    int64_t expires, ts;
    const char *who, *why;
} cella_cas_attested;
/* Several attestations' instances and audit rows in one transaction, all or
 * none: one commit (one fsync) for all of them (cas's group commit; n = 1
 * for one alone). */
CELLA_RESULT cella_cas_instances_put_audited(cella_cas_store *s, const cella_cas_attested *a,
                                             size_t n);
CELLA_RESULT cella_cas_instance_get(cella_cas_store *s, const uint8_t token_hash[32], int64_t now,
                                    char session[256], char service[256], uint8_t spki[32]);

/* ---- audit log (never holds secrets) ---- */
CELLA_RESULT cella_cas_audit(cella_cas_store *s, int64_t ts, const char *who, const char *action,
                             const char *object, const char *outcome, const char *why);
/* Calls fn for each audit row, oldest first (for tests and `cas audit`). */
CELLA_RESULT cella_cas_audit_each(cella_cas_store *s,
                                  void (*fn)(int64_t ts, const char *who, const char *action,
                                             const char *object, const char *outcome,
                                             const char *why, void *ctx),
                                  void *ctx);

#endif
