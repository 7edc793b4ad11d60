/* A worker's part in a replicated task (trust > 1), PoCo's consensus on the
 * hub (hub/consensus.h; the hub's contribute, reveal and finalize):
 *
 *   1. contribute: resultHash = keccak256(taskid || digest) and resultSeal =
 *      keccak256(worker || taskid || digest), never the digest (it stays here
 *      until the consensus, so no worker can copy another's), with the pool's
 *      authorization and, for a TEE task, the enclave's challenge and signature;
 *      the worker's stake is locked;
 *   2. wait, polling the task, until it is REVEALING (the consensus), or
 *      COMPLETED/FAILED, or its contribution deadline or our bound passes;
 *   3. if the consensus is this worker's resultHash: reveal the digest;
 *      otherwise stop (the hub seizes the stake at finalize);
 *   4. wait until every winner revealed (or the reveal deadline passed) and
 *      finalize as the pool owner with the result's URL; a refusal because
 *      another winner finalized first is success.
 *
 * Every wait is bounded by the task's deadlines and by `wait_s`. The hub
 * refuses a second contribution of one worker to a task, and lease-next never
 * hands a worker a task it contributed to. */
#ifndef CELLA_WORKER_REPLICATE_H
#define CELLA_WORKER_REPLICATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef struct {
    void *ctx;
    /* a hub request signed by the worker's key (as_worker) or the owner's */
    cella_res (*signed_call)(void *ctx, bool as_worker, const char *method, const char *path,
                             json_t *body, json_t **out);
    cella_res (*get)(void *ctx, const char *path, json_t **out);
    const uint8_t *worker; /* the contributing address (20 bytes) */
    unsigned wait_s;       /* bound of each wait, seconds */
    double poll_ms;        /* between two looks at the task */
} cella_replica_io;

/* `proof`: {"authorizationSign", "enclaveChallenge"?, "enclaveSign"?} (taken
 * over: the contribution's body). *contributed tells whether the hub took
 * the contribution (then a later failure is this worker's, not the task's). */
CELLA_RESULT cella_worker_replicate(const cella_replica_io *io, const char *tid,
                                    const uint8_t taskid[32], const uint8_t digest[32],
                                    json_t *proof, const char *results_url, bool *contributed);

#endif
