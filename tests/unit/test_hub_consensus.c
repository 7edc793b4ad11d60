/* Unit tests for lib/hub/consensus: PoCo's worker weights, the consensus rule
 * (against a step-by-step replay of IexecPoco2Facet's group/total updates),
 * reopen's rejected contributions, the reward split of distributeRewards
 * and the score policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/consensus.h"
#include "hub/match.h"
#include "testutil.h"

static hub_contrib mk(uint8_t hash, uint64_t weight, hub_contrib_status st)
{
    hub_contrib c;
    memset(&c, 0, sizeof c);
    c.worker[0] = hash;
    memset(c.result_hash, hash, 32);
    c.weight = weight;
    c.status = st;
    return c;
}

static bool reached(const hub_contrib *c, size_t n, uint8_t hash, uint64_t trust, size_t *winners)
{
    uint8_t h[32];
    memset(h, hash, 32);
    bool r;
    size_t w;
    assert_true(hub_consensus_check(c, n, h, trust, &r, &w, NULL, NULL));
    if (winners)
        *winners = w;
    return r;
}

static void test_weights(void **state)
{
    (void)state;
    assert_int_equal(hub_worker_weight(0), 2);
    assert_int_equal(hub_worker_weight(11), 2);
    assert_int_equal(hub_worker_weight(12), 3);
    assert_int_equal(hub_worker_weight(30), 9);
    assert_int_equal(hub_log2(0), 0);
    assert_int_equal(hub_log2(1), 0);
    assert_int_equal(hub_log2(2), 1);
    assert_int_equal(hub_log2(3), 1);
    assert_int_equal(hub_log2(8), 3);
    assert_int_equal(hub_log2(UINT64_MAX), 63);
    hub_contrib_status s;
    assert_true(hub_contrib_status_from_name("REJECTED", &s));
    assert_int_equal(s, HUB_CONTRIB_REJECTED);
    assert_false(hub_contrib_status_from_name("proved", &s));
    assert_string_equal(hub_contrib_status_name(HUB_CONTRIB_PROVED), "PROVED");
}

/* Fresh workers (weight 2): the thresholds the hub documents. */
static void test_rule_fresh_workers(void **state)
{
    (void)state;
    const hub_contrib_status C = HUB_CONTRIB_CONTRIBUTED;
    hub_contrib a = mk(0xa, 2, C), d = mk(0xd, 2, C);
    size_t w;
    /* trust 1 and 2: the first contribution */
    hub_contrib one[1] = {a};
    assert_true(reached(one, 1, 0xa, 1, &w));
    assert_int_equal(w, 1);
    assert_true(reached(one, 1, 0xa, 2, NULL));
    /* the rule for trust 2 with one against (in a task the first contribution already won) */
    hub_contrib da[3] = {d, a, a};
    assert_false(reached(da, 2, 0xa, 2, NULL));
    assert_true(reached(da, 3, 0xa, 2, NULL));
    /* trust 3: one is not enough (6 > 6), two are (12 > 10) */
    assert_false(reached(one, 1, 0xa, 3, NULL));
    hub_contrib aa[2] = {a, a};
    assert_true(reached(aa, 2, 0xa, 3, &w));
    assert_int_equal(w, 2);
    /* trust 3, two against one (in any order): no consensus; three against one: yes */
    hub_contrib daa[4] = {d, a, a, a}, ada[3] = {a, d, a};
    assert_false(reached(daa, 3, 0xa, 3, NULL));
    assert_false(reached(ada, 3, 0xa, 3, NULL));
    uint8_t h[32], g[32], t[32], want[32];
    memset(h, 0xa, 32);
    bool r;
    assert_true(hub_consensus_check(daa, 4, h, 3, &r, &w, g, t));
    assert_true(r);
    assert_int_equal(w, 3);
    hub_u256_from_u64(want, 8);
    assert_memory_equal(g, want, 32);
    hub_u256_from_u64(want, 11);
    assert_memory_equal(t, want, 32);
    /* trust 4: two alone (16 > 15), not three against one (32 > 33), four against one */
    assert_true(reached(aa, 2, 0xa, 4, NULL));
    assert_false(reached(daa, 4, 0xa, 4, NULL));
    hub_contrib daaaa[5] = {d, a, a, a, a};
    assert_true(reached(daaaa, 5, 0xa, 4, NULL));
    /* trust 5: three alone, not two (20 > 20) */
    assert_false(reached(aa, 2, 0xa, 5, NULL));
    assert_true(reached(daa + 1, 3, 0xa, 5, NULL));
    /* the dissenting hash never wins here */
    assert_false(reached(daa, 4, 0xd, 3, NULL));
    /* trust 0 is not a deal's (max(1, trust)): refused */
    bool rr;
    assert_false(hub_consensus_check(one, 1, h, 0, &rr, &w, NULL, NULL));
}

/* Scores change weights: two experienced workers (weight 3) outweigh a fresh one. */
static void test_rule_weights(void **state)
{
    (void)state;
    const hub_contrib_status C = HUB_CONTRIB_CONTRIBUTED;
    hub_contrib c[3] = {mk(0xd, 2, C), mk(0xa, 3, C), mk(0xa, 3, C)};
    assert_true(reached(c, 3, 0xa, 3, NULL)); /* 9 * 3 > 12 * 2 */
    c[1].weight = c[2].weight = 2;
    assert_false(reached(c, 3, 0xa, 3, NULL));
}

/* reopen: the rejected contributions leave group and total, and are no winners. */
static void test_rule_reopen(void **state)
{
    (void)state;
    const hub_contrib_status C = HUB_CONTRIB_CONTRIBUTED, R = HUB_CONTRIB_REJECTED;
    hub_contrib c[4] = {mk(0xa, 2, R), mk(0xa, 2, R), mk(0xb, 2, C), mk(0xa, 2, C)};
    size_t w;
    assert_false(reached(c, 3, 0xb, 3, NULL)); /* 2 * 3 > 3 * 2 is false */
    /* a new contribution on the old value starts a new group */
    assert_false(reached(c, 4, 0xa, 3, &w));    /* group 2, total 5 */
    assert_int_equal(w, 1);
    c[2] = mk(0xa, 2, C);
    assert_true(reached(c, 4, 0xa, 3, &w));     /* group 4, total 5 */
    assert_int_equal(w, 2);
}

/* The derived group/total equal PoCo's step-by-step updates on any sequence. */
static void test_rule_matches_poco_replay(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 300; round++) {
        hub_contrib c[12];
        size_t n = 1 + (size_t)(rand() % 12);
        uint64_t grp[3] = {0, 0, 0}, total = 1;
        uint64_t trust = 1 + (uint64_t)(rand() % 5);
        for (size_t i = 0; i < n; i++) {
            int h = rand() % 3;
            uint64_t wt = hub_worker_weight((uint64_t)(rand() % 40));
            c[i] = mk((uint8_t)(0x10 + h), wt, HUB_CONTRIB_CONTRIBUTED);
            /* IexecPoco2Facet.contribute */
            uint64_t g = grp[h], delta = (g > 0 ? g : 1) * wt - g;
            grp[h] = g + delta;
            total += delta;
            uint8_t hh[32], gw[32], tw[32], want[32];
            memset(hh, 0x10 + h, 32);
            bool r;
            size_t w;
            assert_true(hub_consensus_check(c, i + 1, hh, trust, &r, &w, gw, tw));
            hub_u256_from_u64(want, grp[h]);
            assert_memory_equal(gw, want, 32);
            hub_u256_from_u64(want, total);
            assert_memory_equal(tw, want, 32);
            assert_int_equal(r, grp[h] * trust > total * (trust - 1));
            if (r)
                break; /* REVEALING: no more contributions */
        }
    }
}

static void test_rule_overflow(void **state)
{
    (void)state;
    hub_contrib c[40];
    for (int i = 0; i < 40; i++)
        c[i] = mk(0xa, UINT64_MAX, HUB_CONTRIB_CONTRIBUTED);
    uint8_t h[32];
    memset(h, 0xa, 32);
    bool r;
    size_t w;
    assert_true(hub_consensus_check(c, 3, h, 3, &r, &w, NULL, NULL)); /* 2^192 fits */
    assert_false(hub_consensus_check(c, 5, h, 3, &r, &w, NULL, NULL)); /* 2^320 does not */
}

static void test_rewards(void **state)
{
    (void)state;
    const hub_contrib_status C = HUB_CONTRIB_CONTRIBUTED, P = HUB_CONTRIB_PROVED,
                             R = HUB_CONTRIB_REJECTED;
    /* the CLI test's task: one dissenter, three winners; price 100, stake 30 */
    hub_contrib c[4] = {mk(0xd, 2, C), mk(0xa, 2, P), mk(0xa, 2, P), mk(0xa, 2, P)};
    uint64_t rw[4], sched, seized;
    assert_true(hub_distribute_rewards(c, 4, 100, 30, 1, rw, &sched, &seized));
    assert_int_equal(rw[0], 0);
    assert_int_equal(rw[1], 42); /* 130 * 99 / 100 = 128, / 3 */
    assert_int_equal(rw[2], 42);
    assert_int_equal(rw[3], 42);
    assert_int_equal(sched, 4);
    assert_int_equal(seized, 30);
    /* a winner who did not reveal and a rejected contribution lose their stakes too */
    hub_contrib d[4] = {mk(0xa, 2, R), mk(0xb, 2, P), mk(0xb, 2, C), mk(0xb, 8, P)};
    assert_true(hub_distribute_rewards(d, 4, 100, 30, 1, rw, &sched, &seized));
    /* 160 * 99 / 100 = 158: log2 weights 1 and 3 of 4 */
    assert_int_equal(rw[1], 39);
    assert_int_equal(rw[2], 0);
    assert_int_equal(rw[3], 118);
    assert_int_equal(sched, 160 - 39 - 118);
    assert_int_equal(seized, 60);
    /* free tasks and free stakes: nothing moves */
    assert_true(hub_distribute_rewards(c, 4, 0, 0, 1, rw, &sched, &seized));
    assert_int_equal(rw[1] + sched + seized, 0);
    assert_false(hub_distribute_rewards(c, 4, 100, 30, 101, rw, &sched, &seized));
    assert_false(hub_distribute_rewards(c, 4, UINT64_MAX, 30, 1, rw, &sched, &seized));
}

static void test_scores(void **state)
{
    (void)state;
    assert_int_equal(hub_score_after(0, true, 3), 1);
    assert_int_equal(hub_score_after(5, true, 1), 5); /* no replication, no reward */
    assert_int_equal(hub_score_after(10, false, 3), 6);
    assert_int_equal(hub_score_after(1, false, 1), 0);
    assert_int_equal(hub_score_after(UINT64_MAX, false, 2), UINT64_MAX / 3 * 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights),          cmocka_unit_test(test_rule_fresh_workers),
        cmocka_unit_test(test_rule_weights),     cmocka_unit_test(test_rule_reopen),
        cmocka_unit_test(test_rule_matches_poco_replay), cmocka_unit_test(test_rule_overflow),
        cmocka_unit_test(test_rewards),          cmocka_unit_test(test_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
