/* PoCo matchOrders, as IexecPoco1Facet._matchOrders does it, without I/O.
 *
 * The caller (the hub store, inside one transaction) looks up what the chain
 * would know: whether each resource is registered and who owns it, how much of
 * each order is already consumed, the sponsor's and the pool owner's balances.
 * hub_match() then applies every check in PoCo's order and, if all pass,
 * describes the deal; it changes nothing. Each refusal carries iExec's code
 * ("iExecV5-matchOrders-0x06") and a plain sentence.
 *
 * Checks, in order (research/iexec.md section 3):
 *   0x00 request.category == workerpool.category   0x01 the category exists
 *   0x02 request.trust <= workerpool.trust         0x03-0x05 each maxprice >= price
 *   tag = app.tag | (dataset.tag & ~0x0E) | request.tag (bytes32)
 *   0x06 tag & ~workerpool.tag == 0                0x07 tag's TEE bit == app.tag's TEE bit
 *   0x10 request.app == app                        0x11 request.dataset == dataset
 *   0x12-0x1b the ten restrictions (0 or the account itself; no ERC-734 groups):
 *     0x12 request.workerpool      vs workerpool   0x13 app.datasetrestrict        vs dataset
 *     0x14 app.workerpoolrestrict  vs workerpool   0x15 app.requesterrestrict      vs requester
 *     0x16 dataset.apprestrict     vs app          0x17 dataset.workerpoolrestrict vs workerpool
 *     0x18 dataset.requesterrestrict vs requester  0x19 workerpool.apprestrict     vs app
 *     0x1a workerpool.datasetrestrict vs dataset   0x1b workerpool.requesterrestrict vs requester
 *   0x20/0x21 app registered / signed by its owner; 0x30/0x31 the same for the
 *   dataset (skipped without a dataset); 0x40/0x41 workerpool; 0x50 request
 *   signed by its requester; 0x60 volume = min(remaining volumes) > 0.
 * Then (not iExec codes): the deal size cap, and the escrow: the sponsor
 * (requester) must hold (appprice + datasetprice + workerpoolprice) * volume,
 * and the pool owner workerpoolprice * 30 / 100 * volume.
 *
 * The deal: dealid = keccak256(requestorderHash || uint256 consumedBefore),
 * botFirst = consumedBefore, botSize = volume, trust = max(1, request.trust),
 * workerStake = workerpoolprice * workerStakeRatio / 100; task i (botFirst <=
 * i < botFirst + botSize) is keccak256(dealid || uint256 i). */
#ifndef CELLA_HUB_MATCH_H
#define CELLA_HUB_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "identity/eip712.h"

#define HUB_WORKERPOOL_STAKE_RATIO 30 /* % of workerpoolprice the pool owner locks per task */
#define HUB_MAX_BOT 10000             /* tasks per deal (cella's limit, not PoCo's) */
#define HUB_DEFAULT_WORKER_STAKE_RATIO 30
#define HUB_DEFAULT_SCHEDULER_REWARD_RATIO 1

typedef struct {
    const char *name;
    uint64_t time_ref; /* workClockTimeRef, seconds */
} hub_category;

/* PoCo's categories (config/config.json): 0 XS 300 s, 1 S 1200, 2 M 3600,
 * 3 L 10800, 4 XL 36000. */
size_t hub_categories(const hub_category **out);

/* ---- uint256 words (32 bytes, big-endian) ---- */
int hub_u256_cmp(const uint8_t a[32], const uint8_t b[32]);
bool hub_u256_is_zero(const uint8_t a[32]);
/* out = a - b; false (out untouched) if b > a. out may alias a or b. */
bool hub_u256_sub(uint8_t out[32], const uint8_t a[32], const uint8_t b[32]);
/* out = a + b; false (out untouched) on overflow. */
bool hub_u256_add(uint8_t out[32], const uint8_t a[32], const uint8_t b[32]);
void hub_u256_from_u64(uint8_t out[32], uint64_t v);
bool hub_u256_to_u64(const uint8_t in[32], uint64_t *v);

/* A word of an order's field (the field must exist for the order's kind). */
void hub_order_field(const cella_order *o, const char *field, uint8_t word[32]);

typedef struct {
    bool registered;
    uint8_t owner[20];
} hub_resource_state;

/* What the chain would know at match time. */
typedef struct {
    hub_resource_state app, dataset, workerpool;
    uint8_t consumed[CELLA_ORDER__COUNT][32]; /* m_consumed of each order hash */
    uint64_t sponsor_balance;                 /* the requester's free balance (nRLC) */
    uint64_t pool_owner_balance;              /* the workerpool owner's free balance */
    uint64_t worker_stake_ratio;              /* the pool's policy, % (default 30) */
    uint64_t scheduler_reward_ratio;          /* the pool's policy, % (default 1) */
    /* Signatures verified before: the hub recovered sig_signer[k] from this
     * exact order (same hash) and these exact signature bytes when it was
     * published, so recovering again would give the same address. The check
     * against the owner still happens; only the ECDSA recovery is skipped. */
    bool sig_known[CELLA_ORDER__COUNT];
    uint8_t sig_signer[CELLA_ORDER__COUNT][20];
    /* The orders' hashes (hub_order_hashes) when the caller computed them
     * already (has_hashes), so hub_match does not compute them again. */
    bool has_hashes;
    uint8_t hash[CELLA_ORDER__COUNT][32];
} hub_match_state;

typedef struct {
    char code[40];    /* "iExecV5-matchOrders-0x06", or "cella-hub-..." */
    char reason[320]; /* a plain sentence */
} hub_refusal;

typedef struct {
    uint8_t hash[CELLA_ORDER__COUNT][32]; /* order hashes (dataset: zero without one) */
    bool has_dataset;
    uint8_t dealid[32];
    uint8_t tag[32];
    uint8_t app[20], dataset[20], workerpool[20];
    uint8_t app_owner[20], dataset_owner[20], workerpool_owner[20];
    uint8_t requester[20], beneficiary[20], callback[20], sponsor[20];
    uint64_t app_price, dataset_price, workerpool_price;
    uint64_t category, trust;
    uint64_t bot_first, bot_size;
    uint64_t worker_stake, scheduler_reward_ratio;
    uint64_t sponsor_lock, pool_lock; /* amounts the escrow locks */
} hub_deal;

/* Order hashes of the four orders (o[CELLA_ORDER_DATASET] may be NULL: zero). */
void hub_order_hashes(const cella_domain *d, const cella_order *const o[CELLA_ORDER__COUNT],
                      uint8_t hash[CELLA_ORDER__COUNT][32]);

/* Applies matchOrders. o[k] is the order of kind k; o[CELLA_ORDER_DATASET] is
 * NULL when there is no dataset. True and *deal filled if the orders match;
 * false and *why filled otherwise. */
bool hub_match(const cella_domain *d, const cella_order *const o[CELLA_ORDER__COUNT],
               const hub_match_state *st, hub_deal *deal, hub_refusal *why);

/* The refusal as the thread's error: CELLA_E_POLICY, "<code>: <reason>". */
cella_res hub_refusal_fail(const hub_refusal *why);

/* taskid = keccak256(dealid || uint256 idx) */
void hub_task_id(const uint8_t dealid[32], uint64_t idx, uint8_t out[32]);
/* dealid = keccak256(requestorderHash || uint256 consumedBefore) */
void hub_deal_id(const uint8_t request_hash[32], const uint8_t consumed_before[32],
                 uint8_t out[32]);

#endif
