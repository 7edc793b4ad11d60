/* The messages between cas's network process and its vault (the child that
 * alone holds the master key), over a socketpair. Fixed, length-checked
 * binary framing; the byte layout is in docs/architecture.md ("The cas
 * vault"). Parsing is pure (no I/O) so it is fuzzed
 * (fuzz/fuzz_vault_msg.c). Both sides parse what they receive: the vault
 * trusts nothing the network process sends, and the network process nothing
 * the vault answers. */
#ifndef CELLA_VAULT_VAULT_MSG_H
#define CELLA_VAULT_VAULT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

#define CELLA_VAULT_MAGIC "CVLT"
#define CELLA_VAULT_VERSION 1
#define CELLA_VAULT_HDR 48
#define CELLA_VAULT_ARG 32
#define CELLA_VAULT_MAX_CTX 512
#define CELLA_VAULT_MAX_DATA (1u << 20)
#define CELLA_VAULT_MAX_ERR 256
#define CELLA_VAULT_TICKET 16
#define CELLA_VAULT_MAX_SECRET 4096 /* CREATE: largest generated secret */
#define CELLA_VAULT_SEAL_OVERHEAD 28 /* nonce(12) + tag(16) */
#define CELLA_VAULT_REPLY 0x80 /* a reply's op is the request's op | 0x80 */

typedef enum {
    CELLA_VAULT_SEAL = 1,     /* ctx, data = plain -> data = sealed */
    CELLA_VAULT_CREATE = 2,   /* ctx, arg = form, size -> data = sealed fresh secret */
    CELLA_VAULT_VERIFIED = 3, /* ctx = session, arg = evidence hash -> arg = ticket */
    CELLA_VAULT_UNSEAL = 4,   /* ctx, data = sealed, arg = grant -> data = plain */
    CELLA_VAULT_TAG = 5,      /* ctx = domain, arg = 32 bytes -> arg = keyed tag */
} cella_vault_op;

/* CREATE: what the fresh secret is (arg[0]); its size is arg[1..2]. */
typedef enum {
    CELLA_VAULT_FORM_RAW = 1,   /* random bytes */
    CELLA_VAULT_FORM_ALNUM = 2, /* printable: A-Z a-z 0-9 */
    CELLA_VAULT_FORM_HEX = 3,   /* random bytes as lowercase hex (2 x size characters) */
} cella_vault_form;

/* UNSEAL: on whose behalf (arg[0]); what the vault checks is in lib/vault/vault.c. */
typedef enum {
    CELLA_VAULT_GRANT_TICKET = 1,   /* arg[1..16]: a ticket from VERIFIED */
    CELLA_VAULT_GRANT_OWNER = 2,    /* arg[1..20]: the wallet that signed the request */
    CELLA_VAULT_GRANT_INSTANCE = 3, /* an attested instance's token (tag pushes) */
    CELLA_VAULT_GRANT_TASK = 4,     /* iExec task flows: SMS secrets, task sessions */
} cella_vault_grant;

typedef struct {
    uint8_t op;      /* cella_vault_op, | CELLA_VAULT_REPLY in replies */
    uint16_t status; /* replies: 0 or a cella_code; requests: 0 */
    uint8_t arg[CELLA_VAULT_ARG];
    cella_slice ctx;  /* printable ASCII, no NUL */
    cella_slice data; /* replies with a status: the reason, printable */
} cella_vault_msg;

/* Checks a header (exactly CELLA_VAULT_HDR bytes) and says how many bytes
 * follow it. `reply` selects which side's messages are valid. */
CELLA_RESULT cella_vault_header(cella_slice hdr, bool reply, size_t *rest);
/* Parses one whole message (header and body, nothing more) and checks the
 * fields of its op; slices point into `in`. */
CELLA_RESULT cella_vault_parse(cella_slice in, bool reply, cella_vault_msg *m);
/* Appends the encoding of `m` to `out` (check with cella_buf_result). */
void cella_vault_encode(cella_buf *out, const cella_vault_msg *m);

/* I/O on a stream socket (lib/vault/vault_io.c). Receiving reads a header,
 * checks it, then reads exactly what it announces into `buf` (a secret
 * buffer when the body may hold a secret) and parses it into `m`, whose
 * slices point into `buf`. `timeout_ms` < 0 waits for ever. CELLA_E_IO: the
 * peer is gone, or timed out, or (the
 * stream is unusable: the header was malformed); CELLA_E_PARSE/TOOBIG: the
 * body broke a rule of its op (the stream is still in step). */
CELLA_RESULT cella_vault_send(int fd, const cella_vault_msg *m);
CELLA_RESULT cella_vault_recv(int fd, bool reply, int timeout_ms, cella_buf *buf,
                              cella_vault_msg *m);

#endif
