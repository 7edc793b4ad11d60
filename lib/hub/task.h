/* PoCo task contributions without I/O (IexecPoco2Facet, research/iexec.md §3):
 *
 *   resultHash  = keccak256(taskid || resultDigest)
 *   resultSeal  = keccak256(worker || taskid || resultDigest)
 *   authorization: EIP-191 signature of keccak256(worker || taskid || enclaveChallenge)
 *                  by the workerpool owner (no TEE broker on the hub)
 *   enclaveSign:   EIP-191 signature of keccak256(resultHash || resultSeal) by the
 *                  enclave challenge address; required for a TEE deal (tag bit 0),
 *                  whose enclaveChallenge must not be zero.
 * Refusals carry a cella code ("cella-hub-task-...") and a plain sentence:
 * PoCo's codes for these checks are not in the research notes, so none are
 * made up. */
#ifndef CELLA_HUB_TASK_H
#define CELLA_HUB_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "hub/match.h"

typedef struct {
    uint8_t taskid[32];
    uint8_t worker[20];
    uint8_t digest[32];            /* resultDigest (unused when sealed) */
    /* contribute (trust > 1) sends PoCo's resultHash and resultSeal, not the
     * digest, which stays with the worker until it reveals */
    bool sealed;
    uint8_t result_hash[32], result_seal[32];
    uint8_t enclave_challenge[20]; /* zero: none */
    bool has_enclave_sign;
    uint8_t enclave_sign[65];
    uint8_t authorization_sign[65];
    const char *results; /* where the result is (a blob URL), or NULL; stored as is */
    /* contribute-and-finalize: the worker's lease holder id, or NULL; given, the
     * contribution is refused while another holder's lease is live */
    const char *holder;
    /* contribute-and-finalize: the enclave's kind ("sim", "sgx", "tdx", "snp") as
     * the worker read it in the enclave's computed.json, or NULL; informative
     * (the worker could lie), so the requester sees a result made in sim */
    const char *tee;
} hub_contribution;

void hub_result_hash(const uint8_t taskid[32], const uint8_t digest[32], uint8_t out[32]);
void hub_result_seal(const uint8_t worker[20], const uint8_t taskid[32], const uint8_t digest[32],
                     uint8_t out[32]);
void hub_authorization_hash(const uint8_t worker[20], const uint8_t taskid[32],
                            const uint8_t challenge[20], uint8_t out[32]);

/* The signature checks of contribute for a deal with this tag and pool owner. */
bool hub_contribution_check(const hub_contribution *c, const uint8_t deal_tag[32],
                            const uint8_t pool_owner[20], hub_refusal *why);

#endif
