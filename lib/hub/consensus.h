/* PoCo's consensus for trust > 1, without I/O (IexecPoco2Facet: contribute,
 * checkConsensus, reveal, reopen, distributeRewards; research/iexec.md §3).
 *
 * Worker weight (score policy 1/3, k = 3): a contribution made by a worker of
 * score s weighs w = max(s / 3, 3) - 1 (so 2 for every score below 12), and
 * counts log2(w) (rounded down) in the reward split.
 *
 * Consensus state: PoCo keeps, per task, group[resultHash] and total (1 at
 * initialize); a contribution of weight w on hash h adds
 * delta = max(group[h], 1) * w - group[h] to both. So group[h] is the product
 * of the weights of the contributions on h (0 when none) and
 * total = 1 + sum of the groups. reopen zeroes the group of the consensus
 * value (its contributions become REJECTED). The hub does not store group and
 * total: it derives them from the contributions that are not REJECTED, which
 * gives the same numbers (uint256, as PoCo).
 *
 * Consensus on h when group[h] * trust > total * (trust - 1). With every
 * worker below score 12 (weight 2), k agreeing contributions and the others
 * adding O to total, that is 2^k > (trust - 1) * (1 + O): for trust 3 two
 * contributions agreeing with nobody against reach it, two against one do
 * not (three against one do); trust 1 and 2 are reached by the first
 * contribution.
 *
 * Rewards at finalize (distributeRewards): totalReward = workerpoolprice +
 * workerStake for each contribution not PROVED (revealed); the workers get
 * workersReward = totalReward * (100 - schedulerRewardRatio) / 100, each
 * PROVED contribution workersReward * log2w / sum(log2w) (rounded down); the
 * scheduler (pool owner) what is left. PROVED contributions get their stake
 * back and, if more than one worker contributed, score + 1; the others lose
 * their stake (into totalReward) and their score becomes score * 2 / 3. */
#ifndef CELLA_HUB_CONSENSUS_H
#define CELLA_HUB_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HUB_CONTRIB_CONTRIBUTED, /* PoCo CONTRIBUTED */
    HUB_CONTRIB_PROVED,      /* revealed */
    HUB_CONTRIB_REJECTED,    /* on a consensus value that was reopened */
} hub_contrib_status;

const char *hub_contrib_status_name(hub_contrib_status s); /* "CONTRIBUTED", ... */
bool hub_contrib_status_from_name(const char *name, hub_contrib_status *s);

typedef struct {
    uint8_t worker[20];
    uint8_t result_hash[32];
    uint64_t weight; /* hub_worker_weight(score) when it contributed */
    hub_contrib_status status;
} hub_contrib;

/* max(score / 3, 3) - 1 */
uint64_t hub_worker_weight(uint64_t score);
/* floor(log2(x)), 0 for 0 (OpenZeppelin Math.log2) */
uint64_t hub_log2(uint64_t x);

/* The consensus state for `hash` over the contributions c[0..n) (REJECTED ones
 * excluded): group (32-byte big-endian), total and whether
 * group * trust > total * (trust - 1). *winners: the CONTRIBUTED ones on
 * `hash` (PoCo's winnerCounter). False on a uint256 overflow (PoCo reverts). */
bool hub_consensus_check(const hub_contrib *c, size_t n, const uint8_t hash[32], uint64_t trust,
                         bool *reached, size_t *winners, uint8_t group[32], uint8_t total[32]);

/* The payout of distributeRewards: reward[i] for each contribution (0 for the
 * ones not PROVED, whose stake is seized), *scheduler for the pool owner,
 * *seized the stakes taken. False on overflow. */
bool hub_distribute_rewards(const hub_contrib *c, size_t n, uint64_t pool_price,
                            uint64_t worker_stake, uint64_t scheduler_reward_ratio,
                            uint64_t *reward, uint64_t *scheduler, uint64_t *seized);

/* Score policy 2/3 and 3/3: the worker's score after finalize. */
uint64_t hub_score_after(uint64_t score, bool proved, size_t contributors);

#endif
