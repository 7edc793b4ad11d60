/* The worker's signer: the workerpool owner's key in a child process of its
 * own (core/privsep.h), never in the worker's address space.
 *
 * The worker parses HTTP, JSON and app bundles from the network and runs
 * apps; the key that authorizes its leases and contributions lives in a child
 * forked before any thread, which loads (decrypts) the wallet itself and then
 * may only read, write and exit (seccomp). The worker asks it for typed
 * signatures only, never for a signature over bytes of its choosing:
 *
 *   ADDRESS             -> the owner's address (20 bytes)
 *   SIGN_REQUEST        method, path, nonce, SHA-256 of the body -> EIP-191
 *                       signature of cella's signed-request message
 *                       ("cella-cas-request-v1\n..." , casapi.h), for the
 *                       worker's own hub requests only (cella_signer_path_allowed)
 *   SIGN_TASK_CHALLENGE taskid -> EIP-191 signature of keccak256(taskid) (cas's
 *                       enclave challenge request, iExec's SMS formula)
 *   SIGN_AUTHORIZATION  taskid, enclave challenge, worker -> EIP-191 signature of
 *                       PoCo's keccak256(worker || taskid || challenge): the
 *                       owner's consent for that worker (the owner itself, or a
 *                       worker of the pool with its own key, `--worker-wallet-file`)
 *
 * Requests (payload of a privsep frame, magic "CSGN", version 1):
 *   ADDRESS             empty
 *   SIGN_REQUEST        u8 m, method[m] (1..8 of A-Z), u16le n, path[n] (1..1024
 *                       bytes 0x21..0x7e), nonce[64] (hex), body_sha256[32]
 *   SIGN_TASK_CHALLENGE taskid[32]
 *   SIGN_AUTHORIZATION  taskid[32], challenge[20], worker[20]
 * nothing after the last field. Replies: the 20 or 65 bytes, or an error.
 *
 * What a compromised worker process can still do: ask for any of the above,
 * i.e. act as the pool's worker (lease, report, store logs, contribute,
 * reveal and finalize for any task of the pool, authorize any enclave
 * challenge and any worker address) while it runs. What
 * it cannot: read the key (nor keep it after the worker is fixed), sign any
 * other hub or cas request as the owner (withdrawals, orders, deployments,
 * secret pushes), an EIP-712 order, a transaction, or a message of its
 * choosing. It can read the wallet and password files if the worker's user
 * can: keep them readable only at start (docs/threat-model.md). */
#ifndef CELLA_WORKER_SIGNER_H
#define CELLA_WORKER_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/privsep.h"
#include "core/slice.h"

#define CELLA_SIGNER_MAGIC 0x4e475343u /* "CSGN" */
#define CELLA_SIGNER_VERSION 2
#define CELLA_SIGNER_MAX_METHOD 8
#define CELLA_SIGNER_MAX_PATH 1024

typedef enum {
    CELLA_SIGNER_ADDRESS = 1,
    CELLA_SIGNER_SIGN_REQUEST = 2,
    CELLA_SIGNER_SIGN_TASK_CHALLENGE = 3,
    CELLA_SIGNER_SIGN_AUTHORIZATION = 4,
} cella_signer_op;

/* One request, decoded. */
typedef struct {
    uint16_t op;
    char method[CELLA_SIGNER_MAX_METHOD + 1];
    char path[CELLA_SIGNER_MAX_PATH + 1];
    char nonce_hex[65];
    uint8_t body_sha256[32];
    uint8_t taskid[32];
    uint8_t challenge[20];
    uint8_t worker[20];
} cella_signer_req;

/* The payload of a request (see above), and back. Parsing is pure and strict
 * (fuzz/fuzz_signer_msg.c): an unknown op, a length out of range, a byte
 * outside its alphabet or a trailing byte is refused. */
CELLA_RESULT cella_signer_req_encode(const cella_signer_req *q, uint8_t *out, size_t cap,
                                     size_t *len);
CELLA_RESULT cella_signer_req_parse(uint16_t op, cella_slice payload, cella_signer_req *q);

/* The hub requests the worker signs, named once here: the worker builds
 * them with these and the signer refuses every other one (CELLA_E_POLICY).
 *   POST /v1/tasks/lease-next
 *   POST /v1/tasks/0xTASK/{lease,report,contribute-and-finalize}
 *   POST /v1/tasks/0xTASK/{contribute,reveal,finalize}   (trust > 1)
 *   PUT  /v1/tasks/0xTASK/logs */
#define CELLA_SIGNER_LEASE_NEXT "/v1/tasks/lease-next" /* POST */
typedef enum {
    CELLA_SIGNER_TASK_LEASE,
    CELLA_SIGNER_TASK_REPORT,
    CELLA_SIGNER_TASK_CONTRIBUTE,
    CELLA_SIGNER_TASK_LOGS,
    CELLA_SIGNER_TASK_CONTRIBUTE_SEALED, /* PoCo contribute: hash and seal only */
    CELLA_SIGNER_TASK_REVEAL,
    CELLA_SIGNER_TASK_FINALIZE,
    CELLA_SIGNER_TASK__COUNT
} cella_signer_task_route;

/* A task's route: its path ("/v1/tasks/TID/VERB") into path, its method
 * returned. */
const char *cella_signer_task_path(cella_signer_task_route route, const char *tid, char *path,
                                   size_t cap);

bool cella_signer_path_allowed(const char *method, const char *path);

/* Loads the owner's key into priv (in the child, before the filter); the
 * child's error is the start's error. */
typedef cella_res (*cella_signer_load_fn)(void *ctx, uint8_t priv[32]);

typedef struct {
    cella_privsep ps;
    uint8_t addr[20]; /* the owner's address, from the child */
} cella_signer;

/* Forks the signer (before any thread) and asks it for its address. */
CELLA_RESULT cella_signer_start(cella_signer *s, cella_signer_load_fn load, void *load_ctx);
void cella_signer_stop(cella_signer *s);
bool cella_signer_alive(cella_signer *s);
/* Fails (CELLA_E_UNAVAILABLE, naming how the signer ended) once it is gone. */
CELLA_RESULT cella_signer_check(cella_signer *s);
static inline pid_t cella_signer_pid(const cella_signer *s) { return s->ps.pid; }

CELLA_RESULT cella_signer_sign_request(cella_signer *s, const char *method, const char *path,
                                       const char *nonce_hex, const uint8_t body_sha256[32],
                                       uint8_t sig[65]);
CELLA_RESULT cella_signer_sign_task_challenge(cella_signer *s, const uint8_t taskid[32],
                                              uint8_t sig[65]);
CELLA_RESULT cella_signer_sign_authorization(cella_signer *s, const uint8_t taskid[32],
                                             const uint8_t challenge[20], const uint8_t worker[20],
                                             uint8_t sig[65]);

#endif
