/* PoCo task contributions without I/O: see task.h. */
#include "hub/task.h"

#include <stdio.h>
#include <string.h>

#include "identity/eth.h"
#include "identity/keccak.h"

void hub_result_hash(const uint8_t taskid[32], const uint8_t digest[32], uint8_t out[32])
{
    uint8_t b[64];
    memcpy(b, taskid, 32);
    memcpy(b + 32, digest, 32);
    cella_keccak256(out, b, sizeof b);
}

void hub_result_seal(const uint8_t worker[20], const uint8_t taskid[32], const uint8_t digest[32],
                     uint8_t out[32])
{
    uint8_t b[84];
    memcpy(b, worker, 20);
    memcpy(b + 20, taskid, 32);
    memcpy(b + 52, digest, 32);
    cella_keccak256(out, b, sizeof b);
}

void hub_authorization_hash(const uint8_t worker[20], const uint8_t taskid[32],
                            const uint8_t challenge[20], uint8_t out[32])
{
    uint8_t b[72];
    memcpy(b, worker, 20);
    memcpy(b + 20, taskid, 32);
    memcpy(b + 52, challenge, 20);
    cella_keccak256(out, b, sizeof b);
}

static bool refuse(hub_refusal *why, const char *code, const char *reason)
{
    snprintf(why->code, sizeof why->code, "%s", code);
    snprintf(why->reason, sizeof why->reason, "%s", reason);
    return false;
}

/* EIP-191 signature of a 32-byte hash by `who`. */
static bool personal_signed(const uint8_t hash[32], const uint8_t sig[65], const uint8_t who[20])
{
    uint8_t got[20];
    bool ok = cella_ok(cella_eth_personal_recover(hash, 32, sig, got)) && !memcmp(got, who, 20);
    cella_error_clear();
    return ok;
}

bool hub_contribution_check(const hub_contribution *c, const uint8_t deal_tag[32],
                            const uint8_t pool_owner[20], hub_refusal *why)
{
    static const uint8_t zero[20] = {0};
    memset(why, 0, sizeof *why);
    uint8_t h[32];
    hub_authorization_hash(c->worker, c->taskid, c->enclave_challenge, h);
    if (!personal_signed(h, c->authorization_sign, pool_owner))
        return refuse(why, "cella-hub-task-authorization",
                      "the worker is not authorized for this task: the authorization is not "
                      "signed by the owner of the deal's workerpool");
    bool tee = (deal_tag[31] & 0x01) != 0;
    bool has_challenge = memcmp(c->enclave_challenge, zero, 20) != 0;
    if (tee && !has_challenge)
        return refuse(why, "cella-hub-task-enclave-challenge",
                      "a TEE deal needs a contribution from an enclave (no enclave challenge)");
    if (has_challenge) {
        if (!c->has_enclave_sign)
            return refuse(why, "cella-hub-task-enclave-signature",
                          "the contribution has an enclave challenge but no enclave signature");
        uint8_t rh[32], rs[32], b[64];
        if (c->sealed) {
            memcpy(rh, c->result_hash, 32);
            memcpy(rs, c->result_seal, 32);
        } else {
            hub_result_hash(c->taskid, c->digest, rh);
            hub_result_seal(c->worker, c->taskid, c->digest, rs);
        }
        memcpy(b, rh, 32);
        memcpy(b + 32, rs, 32);
        cella_keccak256(h, b, sizeof b);
        if (!personal_signed(h, c->enclave_sign, c->enclave_challenge))
            return refuse(why, "cella-hub-task-enclave-signature",
                          "the enclave signature does not sign this result for this challenge");
    }
    return true;
}
