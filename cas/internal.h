/* Internals of the cas program shared by its files. The dependencies go one
 * way: server.c (routing, handlers, start-up) calls attest.c, sessions.c,
 * tee_task.c and sms.c; these call sessions.c and common.c, never server.c. */
#ifndef CELLA_CAS_INTERNAL_H
#define CELLA_CAS_INTERNAL_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cas/cas.h"
#include "evidence/collateral.h"
#include "net/http_server.h"
#include "net/signed_request.h"
#include "store/cas_store.h"

/* Attestations waiting for their commit (cas/commit.c). */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t done;
    struct cas_commit_item *head; /* queued, not yet taken by a commit */
    bool busy;                    /* a thread is committing a group */
} cas_commits;

typedef struct {
    cas_options opt;
    char db_path[4200];
    struct cella_vault *vault; /* the child that holds the master key (vault/vault.h) */
    bool test_hooks;         /* CELLA_TEST_HOOKS=1: GET /v1/test/open-master-key */
    EVP_PKEY *sim_pub;
    uint8_t sim_id[32]; /* SHA-256 of sim_pub's SPKI, computed once */
    SSL_CTX *ssl;
    char fingerprint[65];
    char bound[64]; /* the address listened on, with the port bound */
    cella_sigreq *auth; /* challenges, attestation nonces, signed requests */
    /* Hardware evidence: where collateral comes from, and the fixed
     * verification time of --evidence-time (0: the current time). */
    cella_pccs pccs;
    char pccs_cache[4200];
    cella_collateral_source collateral;
    time_t evidence_now;
    cas_commits commits;
} cas_app;

typedef struct {
    cas_app *app;
    cella_cas_store *st;
    /* Kept-alive connections to the hub (net/http_client.h's pool): a TEE
     * session asks it about the task, the deal, its orders and the app, and
     * a new connection per question cost cas more than the answers. */
    void *hub_pool;
} cas_thread;

int64_t cas_now(void);

/* Seals at rest: nonce(12) || AES-256-GCM(master key, AAD = context) || tag,
 * by the vault (lib/vault/client.c). */
CELLA_RESULT cas_seal(const cas_app *a, const char *context, cella_slice plain, cella_buf *out);
/* Unseals into `out` (a secret buffer), by the vault, under this thread's
 * grant (vault/vault.h): without one, nothing is unsealed. */
CELLA_RESULT cas_unseal(const cas_app *a, const char *context, cella_slice in, cella_buf *out);

/* ---- cas/common.c ---- */
/* Writes an audit row (never a secret) and logs it. */
void cas_audit(cas_thread *t, const char *who, const char *action, const char *object,
               const char *outcome, const char *why);
/* Replies with the current error as JSON, mapping its code to a status. */
void cas_reply_err(cella_http_req *req, cella_res r);
/* n bytes as a JSON string of lowercase hex (n <= 128). */
json_t *cas_hex_json(const uint8_t *p, size_t n);

/* ---- cas/commit.c ---- */
void cas_commits_init(cas_commits *c);
void cas_commits_destroy(cas_commits *c);
/* How many attestations wait for a commit to take them (for tests). */
size_t cas_commits_queued(cas_commits *c);
/* Stores an attestation's instance and audit row durably, in one commit with
 * the attestations that arrive meanwhile (group commit); returns once that
 * commit is on disk, or failed. */
CELLA_RESULT cas_commit_attested(cas_thread *t, const cella_cas_attested *a);

/* ---- cas/sessions.c ---- */

/* Session rows: load and unseal, or seal a normalised document into a row
 * (`row->sealed` is initialised by both; the caller frees it). */
CELLA_RESULT cas_load_session(cas_thread *t, const char *name, cella_cas_session_row *row,
                              json_t **doc);
CELLA_RESULT cas_store_row(cas_thread *t, const char *name, const json_t *doc, const char *owner,
                           cella_cas_session_row *row);

/* A session volume's key: given in the session, else generated once (sealed). */
CELLA_RESULT cas_volume_key(cas_thread *t, const char *session, const json_t *doc,
                            const char *volume, uint8_t key[32]);
/* Its current tag as JSON: the last one pushed, else the session's initial tag. */
CELLA_RESULT cas_volume_tag(cas_thread *t, const char *session, const json_t *doc,
                            const char *volume, json_t **tag_json);
/* The configuration released to an attested service: its command and
 * environment with secrets substituted, volumes with keys and tags, files. */
CELLA_RESULT cas_build_config(cas_thread *t, const char *session, const json_t *doc,
                              const json_t *svc, json_t **out);

/* ---- cas/tee_task.c ---- */
/* GET PATH on the hub (--hub) as JSON: CELLA_E_NOTFOUND on 404, naming `what`. */
CELLA_RESULT cas_hub_get(cas_thread *t, const char *path, const char *what, json_t **out);
/* For a task session (iexec-0x<taskid>): the hub must still say ACTIVE. */
CELLA_RESULT cas_task_session_live(cas_thread *t, const char *session);

/* iExec's per-task TEE endpoints (/tee/challenges/ID, /tee/sessions);
 * returns false if the request is not one of them. */
bool cas_tee_route(cas_thread *t, cella_http_req *req);

/* ---- cas/sms.c ---- */
/* iExec's SMS endpoints; returns false if the request is not one of them. */
bool cas_sms_route(cas_thread *t, cella_http_req *req);

#endif
