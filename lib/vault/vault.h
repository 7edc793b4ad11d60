/* The cas vault: a child process, forked before any thread, that alone reads
 * DATA/master.key and seals, unseals and creates secrets for the network
 * process over a socketpair (lib/vault/vault_msg.h; docs/architecture.md,
 * "The cas vault"). The network process keeps no key; it names, for every
 * unseal, on whose behalf it asks (a grant), and the vault checks that the
 * grant may open that kind of value, rate-limits unseals and audits each. */
#ifndef CELLA_CELLA_VAULT_H
#define CELLA_CELLA_VAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/slice.h"
#include "vault/vault_msg.h"

/* Unseals per second the vault allows (a token bucket: this many tokens a
 * second, up to CELLA_VAULT_BURST saved). Above it an unseal is refused (503). */
#define CELLA_VAULT_RATE 5000
#define CELLA_VAULT_BURST 10000
/* A ticket (VERIFIED) opens values of its session for this long, this often. */
#define CELLA_VAULT_TICKET_TTL_S 10
#define CELLA_VAULT_TICKET_USES 64
#define CELLA_VAULT_TICKETS 256 /* live tickets kept; the oldest is dropped beyond */

typedef struct cella_vault cella_vault;

/* The unseal token bucket: `rate` tokens a second, up to `burst` saved. */
typedef struct {
    uint32_t rate, burst;
} cella_vault_limits;
#define CELLA_VAULT_DEFAULT_LIMITS ((cella_vault_limits){CELLA_VAULT_RATE, CELLA_VAULT_BURST})

/* Forks the vault, which loads the key at `key_path` (DATA/master.key;
 * created, 0600, if absent) and waits until it has; its error (a bad key
 * file) is returned. Call before any thread starts: the child must not
 * inherit locks held by other threads. The child keeps only stdin, stdout,
 * stderr and its socket: every other descriptor (a listening socket) is closed. */
CELLA_RESULT cella_vault_start(const char *key_path, cella_vault **out);
/* The same with another unseal rate than CELLA_VAULT_DEFAULT_LIMITS (a test
 * that must empty the bucket whatever the machine's speed). */
CELLA_RESULT cella_vault_start_limited(const char *key_path, cella_vault_limits lim,
                                       cella_vault **out);
/* Closes the socket (the vault exits when it reads its end) and reaps it. */
void cella_vault_stop(cella_vault *v);
pid_t cella_vault_pid(const cella_vault *v);

/* Each fails with CELLA_E_UNAVAILABLE when the vault is gone (no answer, or
 * it died): cas then answers 503 to what needs it and serves the rest. */
CELLA_RESULT cella_vault_seal(cella_vault *v, const char *ctx, cella_slice plain, cella_buf *out);
/* A fresh secret made and sealed by the vault; only the sealed value leaves it. */
CELLA_RESULT cella_vault_create(cella_vault *v, const char *ctx, cella_vault_form form,
                              uint16_t size, cella_buf *sealed);
/* Reports that `session`'s attestation evidence (hash) verified; the ticket
 * lets this request unseal that session's values (CELLA_VAULT_TICKET_*). */
CELLA_RESULT cella_vault_verified(cella_vault *v, const char *session, const uint8_t evidence[32],
                                uint8_t ticket[CELLA_VAULT_TICKET]);
/* A keyed tag of `in` under `domain` (HMAC-SHA256 under a key derived from
 * the master key): for records that must not let their reader test guesses. */
CELLA_RESULT cella_vault_tag(cella_vault *v, const char *domain, const uint8_t in[32],
                             uint8_t out[32]);
/* Unseals into `out` (a secret buffer) under this thread's grant (below). */
CELLA_RESULT cella_vault_unseal(cella_vault *v, const char *ctx, cella_slice sealed, cella_buf *out);

/* The grant of the request this thread is serving: reset for each request,
 * set by the handler once it has authenticated the caller. Without one,
 * nothing is unsealed. */
void cella_vault_grant_clear(void);
void cella_vault_grant_ticket(const uint8_t ticket[CELLA_VAULT_TICKET]);
void cella_vault_grant_owner(const char *address); /* 0x + 40 hex digits */
void cella_vault_grant_instance(void);
void cella_vault_grant_task(void);

/* The vault's side (lib/vault/vault.c): serves requests on `fd` with `master`
 * until the socket closes; never returns. */
_Noreturn void cella_vault_main(int fd, uint8_t *master, cella_vault_limits lim);

#endif
