/* Fuzzes the hub's matcher: the input is parsed as order JSON (any of the
 * forms cella_orders_parse accepts) and each order found replaces its kind in
 * a fixed, valid, signed set of four orders, which is then matched.
 * Invariants: no crash; a refusal carries an iExec or hub code and a sentence;
 * a match has 1 <= volume <= every order's volume and the PoCo deal id. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/match.h"
#include "identity/eip712.h"
#include "identity/eth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cella_domain g_dom = {421614, {0xb2, 0x15, 0x7b}};
static cella_order g_fixed[CELLA_ORDER__COUNT];
static hub_match_state g_st;
static int g_ready;

static void set_u(cella_order *o, const char *f, uint64_t v)
{
    uint8_t w[32];
    hub_u256_from_u64(w, v);
    if (!cella_ok(cella_order_set_word(o, f, w)))
        __builtin_trap();
}

static void set_a(cella_order *o, const char *f, const uint8_t a[20])
{
    uint8_t w[32] = {0};
    memcpy(w + 12, a, 20);
    if (!cella_ok(cella_order_set_word(o, f, w)))
        __builtin_trap();
}

static void init(void)
{
    uint8_t priv[4][32], addr[4][20];
    static const uint8_t app[20] = {0xa1}, ds[20] = {0xd5}, wp[20] = {0x3b};
    for (int i = 0; i < 4; i++) {
        memset(priv[i], 0x11 * (i + 1), 32);
        if (!cella_ok(cella_eth_address_from_privkey(priv[i], addr[i])))
            __builtin_trap();
        cella_order_init(&g_fixed[i], (cella_order_kind)i);
    }
    cella_order *a = &g_fixed[0], *d = &g_fixed[1], *w = &g_fixed[2], *r = &g_fixed[3];
    set_a(a, "app", app);
    set_u(a, "appprice", 5);
    set_u(a, "volume", 10);
    set_a(d, "dataset", ds);
    set_u(d, "datasetprice", 3);
    set_u(d, "volume", 10);
    set_a(w, "workerpool", wp);
    set_u(w, "workerpoolprice", 100);
    set_u(w, "volume", 10);
    set_u(w, "trust", 1);
    set_a(r, "app", app);
    set_u(r, "appmaxprice", 5);
    set_a(r, "dataset", ds);
    set_u(r, "datasetmaxprice", 3);
    set_u(r, "workerpoolmaxprice", 100);
    set_a(r, "requester", addr[3]);
    set_u(r, "volume", 2);
    for (int i = 0; i < 4; i++)
        if (!cella_ok(cella_order_sign(&g_dom, &g_fixed[i], priv[i], false)))
            __builtin_trap();
    g_st.app.registered = g_st.dataset.registered = g_st.workerpool.registered = true;
    memcpy(g_st.app.owner, addr[0], 20);
    memcpy(g_st.dataset.owner, addr[1], 20);
    memcpy(g_st.workerpool.owner, addr[2], 20);
    g_st.sponsor_balance = g_st.pool_owner_balance = 1000000;
    g_st.worker_stake_ratio = HUB_DEFAULT_WORKER_STAKE_RATIO;
    g_st.scheduler_reward_ratio = HUB_DEFAULT_SCHEDULER_REWARD_RATIO;
    const cella_order *o[4] = {a, d, w, r};
    hub_deal deal;
    hub_refusal why;
    if (!hub_match(&g_dom, o, &g_st, &deal, &why)) /* the fixed set matches */
        __builtin_trap();
}

static void check(const cella_order *const o[CELLA_ORDER__COUNT])
{
    hub_deal deal;
    hub_refusal why;
    if (!hub_match(&g_dom, o, &g_st, &deal, &why)) {
        if ((strncmp(why.code, "iExecV5-matchOrders-0x", 22) != 0 &&
             strncmp(why.code, "cella-hub-", 10) != 0) ||
            strlen(why.reason) == 0)
            __builtin_trap();
        return;
    }
    if (deal.bot_size < 1 || deal.bot_size > HUB_MAX_BOT)
        __builtin_trap();
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        if (!o[k])
            continue;
        uint8_t v[32], b[32];
        hub_order_field(o[k], "volume", v);
        hub_u256_from_u64(b, deal.bot_size);
        if (hub_u256_cmp(b, v) > 0)
            __builtin_trap();
    }
    uint8_t id[32];
    hub_deal_id(deal.hash[CELLA_ORDER_REQUEST], g_st.consumed[CELLA_ORDER_REQUEST], id);
    if (memcmp(id, deal.dealid, 32) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_ready) {
        init();
        g_ready = 1;
    }
    cella_order_set set;
    uint64_t chain = 0;
    if (!cella_ok(cella_orders_parse(data, size, false, &chain, &set)))
        return 0;
    const cella_order *o[CELLA_ORDER__COUNT];
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        o[k] = set.present[k] ? &set.o[k] : &g_fixed[k];
    check(o);
    /* and without a dataset */
    o[CELLA_ORDER_DATASET] = NULL;
    check(o);
    cella_order_set_free(&set);
    return 0;
}
