/* PoCo's consensus without I/O: see consensus.h. */
#include "hub/consensus.h"

#include <string.h>

#include "hub/match.h"

static const char *const g_status[] = {"CONTRIBUTED", "PROVED", "REJECTED"};

const char *hub_contrib_status_name(hub_contrib_status s)
{
    return (unsigned)s < 3 ? g_status[s] : "?";
}

bool hub_contrib_status_from_name(const char *name, hub_contrib_status *s)
{
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, g_status[i])) {
            *s = (hub_contrib_status)i;
            return true;
        }
    return false;
}

uint64_t hub_worker_weight(uint64_t score)
{
    uint64_t w = score / 3;
    return (w > 3 ? w : 3) - 1;
}

uint64_t hub_log2(uint64_t x)
{
    uint64_t r = 0;
    while (x >>= 1)
        r++;
    return r;
}

/* out = a * m (uint256 big-endian); false on overflow. out may alias a. */
static bool u256_mul64(uint8_t out[32], const uint8_t a[32], uint64_t m)
{
    uint8_t r[32];
    unsigned __int128 carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned __int128 v = (unsigned __int128)a[i] * m + carry;
        r[i] = (uint8_t)v;
        carry = v >> 8;
    }
    if (carry)
        return false;
    memcpy(out, r, 32);
    return true;
}

bool hub_consensus_check(const hub_contrib *c, size_t n, const uint8_t hash[32], uint64_t trust,
                         bool *reached, size_t *winners, uint8_t group[32], uint8_t total[32])
{
    *reached = false;
    *winners = 0;
    /* total = 1 + the product of the weights on each hash; group: on `hash` */
    uint8_t tot[32], grp[32];
    hub_u256_from_u64(tot, 1);
    memset(grp, 0, 32);
    for (size_t i = 0; i < n; i++) {
        if (c[i].status == HUB_CONTRIB_REJECTED)
            continue;
        bool first = true; /* the first live contribution on its hash */
        for (size_t j = 0; j < i && first; j++)
            first = c[j].status == HUB_CONTRIB_REJECTED ||
                    memcmp(c[j].result_hash, c[i].result_hash, 32) != 0;
        if (!first)
            continue;
        uint8_t g[32];
        hub_u256_from_u64(g, 1);
        for (size_t j = i; j < n; j++)
            if (c[j].status != HUB_CONTRIB_REJECTED && !memcmp(c[j].result_hash, c[i].result_hash, 32))
                if (!u256_mul64(g, g, c[j].weight))
                    return false;
        if (!hub_u256_add(tot, tot, g))
            return false;
        if (!memcmp(c[i].result_hash, hash, 32))
            memcpy(grp, g, 32);
    }
    for (size_t i = 0; i < n; i++)
        if (c[i].status == HUB_CONTRIB_CONTRIBUTED && !memcmp(c[i].result_hash, hash, 32))
            (*winners)++;
    uint8_t lhs[32], rhs[32];
    if (trust == 0 || !u256_mul64(lhs, grp, trust) || !u256_mul64(rhs, tot, trust - 1))
        return false;
    *reached = hub_u256_cmp(lhs, rhs) > 0;
    if (group)
        memcpy(group, grp, 32);
    if (total)
        memcpy(total, tot, 32);
    return true;
}

/* a * b / d, rounded down (Math.mulDiv); false if the result exceeds 64 bits. */
static bool mul_div(uint64_t a, uint64_t b, uint64_t d, uint64_t *out)
{
    if (!d)
        return false;
    unsigned __int128 v = (unsigned __int128)a * b / d;
    if (v > UINT64_MAX)
        return false;
    *out = (uint64_t)v;
    return true;
}

bool hub_distribute_rewards(const hub_contrib *c, size_t n, uint64_t pool_price,
                            uint64_t worker_stake, uint64_t scheduler_reward_ratio,
                            uint64_t *reward, uint64_t *scheduler, uint64_t *seized)
{
    if (scheduler_reward_ratio > 100)
        return false;
    uint64_t total_log = 0, total = pool_price, bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].status == HUB_CONTRIB_PROVED) {
            if (__builtin_add_overflow(total_log, hub_log2(c[i].weight), &total_log))
                return false;
        } else if (__builtin_add_overflow(total, worker_stake, &total) ||
                   __builtin_add_overflow(bad, worker_stake, &bad)) {
            return false;
        }
    }
    uint64_t workers;
    if (!mul_div(total, 100 - scheduler_reward_ratio, 100, &workers))
        return false;
    for (size_t i = 0; i < n; i++) {
        reward[i] = 0;
        if (c[i].status != HUB_CONTRIB_PROVED)
            continue;
        if (!mul_div(workers, hub_log2(c[i].weight), total_log, &reward[i]))
            return false;
        total -= reward[i]; /* the sum of rewards is at most workers <= total */
    }
    *scheduler = total;
    *seized = bad;
    return true;
}

uint64_t hub_score_after(uint64_t score, bool proved, size_t contributors)
{
    if (proved)
        return contributors > 1 && score < UINT64_MAX ? score + 1 : score;
    unsigned __int128 v = (unsigned __int128)score * 2 / 3;
    return (uint64_t)v;
}
