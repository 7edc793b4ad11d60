/* The pure part of cas's per-task TEE sessions (cas/tee_task.c): reading what
 * the hub says about a task and its deal, checking it again (defence in
 * depth, not trusting the hub's match), and building the session document.
 * No I/O here: tests/unit/test_cas_task.c drives these functions directly.
 *
 * Every refusal is a cella error whose text names fields, addresses and
 * environment variable names, never a secret value. */
#ifndef CELLA_CAS_TASK_POLICY_H
#define CELLA_CAS_TASK_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"
#include "identity/eip712.h"
#include "iexec/params.h"

#define CAS_TASK_MAX_INPUT_FILES CELLA_IEXEC_MAX_INPUT_FILES
#define CAS_TASK_MAX_SECRETS CELLA_IEXEC_MAX_SECRETS
#define CAS_TASK_SERVICE "app"
#define CAS_TASK_SESSION_PREFIX "iexec-" /* reserved: POST /v1/sessions refuses it */

/* GET /v1/tasks/ID: only status, dealid and idx are read. */
typedef struct {
    uint8_t taskid[32];
    uint8_t dealid[32];
    uint64_t idx;
    char status[24];
} cas_task;

/* GET /v1/deals/ID. `params` is borrowed from the JSON it was parsed from. */
typedef struct {
    uint8_t dealid[32];
    uint8_t app[20], app_owner[20];
    bool has_dataset;
    uint8_t dataset[20], dataset_owner[20]; /* zero without a dataset */
    uint8_t pool[20], pool_owner[20];
    uint8_t tag[32];
    uint8_t requester[20], beneficiary[20];
    const char *params;
    uint64_t bot_first, bot_size;
    uint8_t order[CELLA_ORDER__COUNT][32]; /* order hashes (the dataset's zero without one) */
} cas_deal;

/* The iExec request params (iexec/params.h). */
typedef cella_iexec_params cas_params;

/* "iexec-0x<64 hex>" */
void cas_task_session_name(char out[73], const uint8_t taskid[32]);

/* The 32-byte message the pool owner signs (EIP-191) to ask for a challenge. */
void cas_task_challenge_message(uint8_t out[32], const uint8_t taskid[32]);

CELLA_RESULT cas_task_parse(const json_t *j, const uint8_t taskid[32], cas_task *t);
CELLA_RESULT cas_deal_parse(const json_t *j, cas_deal *d);

/* The task is the deal's (taskid = keccak256(dealid || idx), idx within the
 * bag of tasks), ACTIVE, and the deal is a TEE deal (tag bit 0). */
CELLA_RESULT cas_task_check(const cas_task *t, const cas_deal *d);

/* The hardware evidence kinds a TEE deal's tag admits, as session TEE names
 * ("sgx", "tdx", "snp"): SCONE or Gramine -> sgx, TDX -> tdx, SNP -> snp, no
 * framework bit -> all three. Frameworks of two technologies at once (e.g.
 * scone and tdx) are refused: no enclave is both. Sim is never implied: the
 * session adds it only where cas allows sim. */
CELLA_RESULT cas_deal_tee_kinds(const cas_deal *d, const char *kinds[3], size_t *n);

/* The deal's orders (the "order" objects of GET /v1/orders/HASH, index by
 * cella_order_kind; the dataset's NULL without a dataset): each hashes to the
 * deal's hash for it under `dom`, is signed by its resource's owner (the
 * request by its requester), names the deal's resources and accounts, agrees
 * on tag, params and beneficiary, and every restriction allows the deal's
 * accounts (request.workerpool and the nine *restrict fields). */
CELLA_RESULT cas_deal_check_orders(const cas_deal *d, const json_t *const orders[CELLA_ORDER__COUNT],
                                   const cella_domain *dom);

/* Parses the deal's params (empty: defaults). */
CELLA_RESULT cas_params_parse(const char *params, cas_params *p);
void cas_params_free(cas_params *p);

/* Everything the session is made of. Secret values are slices (not
 * NUL-terminated); `app_secret.p` / `result_key.p` are NULL when absent. */
typedef struct {
    const cas_task *task;
    const cas_deal *deal;
    const cas_params *params;
    const char *measurement; /* the app's, 64 or 96 hex digits */
    const char *dataset_url, *dataset_checksum;
    cella_slice dataset_key;
    cella_slice requester_secret[CAS_TASK_MAX_SECRETS]; /* parallel to params->secrets */
    cella_slice app_secret;
    cella_slice result_key;
    const uint8_t *challenge_priv; /* 32 bytes */
    uint8_t worker[20];
    bool allow_sim;
} cas_task_inputs;

/* The normalised session document (cella_session_normalize): service "app",
 * the app's measurement, the iExec environment, access NONE/NONE. */
CELLA_RESULT cas_task_session(const cas_task_inputs *in, json_t **doc);

/* Best effort: overwrites every string of `doc`'s service environments before
 * the caller drops it (jansson frees without wiping). */
void cas_task_session_wipe(json_t *doc);

#endif
