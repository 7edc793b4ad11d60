/* PoCo matchOrders without I/O: see match.h. */
#include "hub/match.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "identity/eth.h"
#include "identity/keccak.h"

static const hub_category g_categories[] = {
    {"XS", 300}, {"S", 1200}, {"M", 3600}, {"L", 10800}, {"XL", 36000},
};

size_t hub_categories(const hub_category **out)
{
    *out = g_categories;
    return sizeof g_categories / sizeof g_categories[0];
}

/* ---- uint256 ---- */

int hub_u256_cmp(const uint8_t a[32], const uint8_t b[32]) { return memcmp(a, b, 32); }

bool hub_u256_is_zero(const uint8_t a[32])
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= a[i];
    return acc == 0;
}

bool hub_u256_sub(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    if (memcmp(a, b, 32) < 0)
        return false;
    uint8_t r[32];
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int v = (int)a[i] - (int)b[i] - borrow;
        borrow = v < 0;
        r[i] = (uint8_t)(v + (borrow ? 256 : 0));
    }
    memcpy(out, r, 32);
    return true;
}

bool hub_u256_add(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    uint8_t r[32];
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned v = (unsigned)a[i] + (unsigned)b[i] + carry;
        r[i] = (uint8_t)v;
        carry = v >> 8;
    }
    if (carry)
        return false;
    memcpy(out, r, 32);
    return true;
}

void hub_u256_from_u64(uint8_t out[32], uint64_t v)
{
    memset(out, 0, 24);
    for (int i = 0; i < 8; i++)
        out[31 - i] = (uint8_t)(v >> (8 * i));
}

bool hub_u256_to_u64(const uint8_t in[32], uint64_t *v)
{
    for (int i = 0; i < 24; i++)
        if (in[i])
            return false;
    uint64_t x = 0;
    for (int i = 24; i < 32; i++)
        x = (x << 8) | in[i];
    *v = x;
    return true;
}

void hub_order_field(const cella_order *o, const char *field, uint8_t word[32])
{
    if (!cella_ok(cella_order_word(o, field, word)))
        CELLA_MISUSE("hub_order_field: no such field for this order kind");
}

/* ---- ids ---- */

void hub_deal_id(const uint8_t request_hash[32], const uint8_t consumed_before[32],
                 uint8_t out[32])
{
    uint8_t buf[64];
    memcpy(buf, request_hash, 32);
    memcpy(buf + 32, consumed_before, 32);
    cella_keccak256(out, buf, sizeof buf);
}

void hub_task_id(const uint8_t dealid[32], uint64_t idx, uint8_t out[32])
{
    uint8_t buf[64];
    memcpy(buf, dealid, 32);
    hub_u256_from_u64(buf + 32, idx);
    cella_keccak256(out, buf, sizeof buf);
}

/* ---- matching ---- */

static bool refuse(hub_refusal *why, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool refuse(hub_refusal *why, unsigned code, const char *fmt, ...)
{
    snprintf(why->code, sizeof why->code, "iExecV5-matchOrders-0x%02x", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->reason, sizeof why->reason, fmt, ap);
    va_end(ap);
    return false;
}

static bool refuse_hub(hub_refusal *why, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool refuse_hub(hub_refusal *why, const char *code, const char *fmt, ...)
{
    snprintf(why->code, sizeof why->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->reason, sizeof why->reason, fmt, ap);
    va_end(ap);
    return false;
}

cella_res hub_refusal_fail(const hub_refusal *why)
{
    return cella_fail(CELLA_E_POLICY, NULL, "%s: %s", why->code, why->reason);
}

/* _checkIdentity without ERC-734 groups: a zero restriction allows anyone. */
static bool allowed(const uint8_t restrict_word[32], const uint8_t account[20])
{
    return hub_u256_is_zero(restrict_word) || memcmp(restrict_word + 12, account, 20) == 0;
}

static void addr_text(char out[43], const uint8_t a[20]) { cella_eth_address_checksum(out, a); }

void hub_order_hashes(const cella_domain *d, const cella_order *const o[CELLA_ORDER__COUNT],
                      uint8_t hash[CELLA_ORDER__COUNT][32])
{
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        if (o[k])
            cella_order_hash(d, o[k], hash[k]);
        else
            memset(hash[k], 0, 32);
    }
}

/* Signature by `owner` (ECDSA, or recovered before: see sig_known). */
static bool signed_by(const cella_domain *d, const cella_order *o, const hub_match_state *st,
                      const uint8_t owner[20])
{
    if (st->sig_known[o->kind] && o->has_sign)
        return memcmp(st->sig_signer[o->kind], owner, 20) == 0;
    uint8_t got[20];
    bool ok = cella_ok(cella_order_verify(d, o, owner, got));
    cella_error_clear();
    return ok;
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}


/* What the steps of hub_match share: the orders, and what the earlier steps
 * read from them. */
typedef struct {
    const cella_domain *d;
    const cella_order *const *in;
    const hub_match_state *st;
    const cella_order *app, *ds, *wp, *req; /* ds: an empty order without a dataset */
    uint64_t category;
    uint8_t r_trust[32];
    uint8_t price[3][32]; /* app, dataset, workerpool */
    uint8_t tag[32];
    uint8_t a_addr[32], d_addr[32], w_addr[32], requester[32];
    bool has_dataset;
    uint64_t vol;
    uint64_t p[3]; /* the prices, in nRLC */
    uint64_t sponsor_lock, pool_lock;
} match_ctx;

/* computation environment: the category and the trust */
static bool match_environment(match_ctx *m, hub_refusal *why)
{
    uint8_t r_cat[32], w_cat[32], w_trust[32];
    hub_order_field(m->req, "category", r_cat);
    hub_order_field(m->wp, "category", w_cat);
    hub_order_field(m->req, "trust", m->r_trust);
    hub_order_field(m->wp, "trust", w_trust);
    char t1[80], t2[80];
    if (hub_u256_cmp(r_cat, w_cat) != 0) {
        cella_u256_format(r_cat, t1);
        cella_u256_format(w_cat, t2);
        return refuse(why, 0x00, "the request is for category %s but the workerpool order is for "
                                 "category %s", t1, t2);
    }
    const hub_category *cats;
    size_t ncat = hub_categories(&cats);
    if (!hub_u256_to_u64(r_cat, &m->category) || m->category >= ncat) {
        cella_u256_format(r_cat, t1);
        return refuse(why, 0x01, "category %s does not exist (the hub has categories 0 to %zu)",
                      t1, ncat - 1);
    }
    if (hub_u256_cmp(m->r_trust, w_trust) > 0) {
        cella_u256_format(m->r_trust, t1);
        cella_u256_format(w_trust, t2);
        return refuse(why, 0x02, "the request asks for trust %s but the workerpool offers only %s",
                      t1, t2);
    }
    return true;
}

/* prices: each at most the request's maximum */
static bool match_prices(match_ctx *m, hub_refusal *why)
{
    static const struct {
        unsigned code;
        int kind;
        const char *price, *maxprice, *what;
    } prices[] = {
        {0x03, CELLA_ORDER_APP, "appprice", "appmaxprice", "app"},
        {0x04, CELLA_ORDER_DATASET, "datasetprice", "datasetmaxprice", "dataset"},
        {0x05, CELLA_ORDER_WORKERPOOL, "workerpoolprice", "workerpoolmaxprice", "workerpool"},
    };
    char t1[80], t2[80];
    for (int i = 0; i < 3; i++) {
        const cella_order *o = prices[i].kind == CELLA_ORDER_APP       ? m->app
                               : prices[i].kind == CELLA_ORDER_DATASET ? m->ds
                                                                       : m->wp;
        uint8_t maxp[32];
        hub_order_field(o, prices[i].price, m->price[i]);
        hub_order_field(m->req, prices[i].maxprice, maxp);
        if (hub_u256_cmp(maxp, m->price[i]) < 0) {
            cella_u256_format(m->price[i], t1);
            cella_u256_format(maxp, t2);
            return refuse(why, prices[i].code, "the %s price %s is above the request's %s %s",
                          prices[i].what, t1, prices[i].maxprice, t2);
        }
    }
    return true;
}

/* tags: bytes32 bit sets */
static bool match_tags(match_ctx *m, hub_refusal *why)
{
    uint8_t a_tag[32], d_tag[32], w_tag[32], r_tag[32];
    uint8_t *tag = m->tag;
    hub_order_field(m->app, "tag", a_tag);
    hub_order_field(m->ds, "tag", d_tag);
    hub_order_field(m->wp, "tag", w_tag);
    hub_order_field(m->req, "tag", r_tag);
    for (int i = 0; i < 32; i++) {
        uint8_t mask = i == 31 ? (uint8_t)~0x0E : 0xFF; /* ~bytes32(0x0E) */
        tag[i] = (uint8_t)(a_tag[i] | (d_tag[i] & mask) | r_tag[i]);
    }
    uint8_t extra[32];
    for (int i = 0; i < 32; i++)
        extra[i] = (uint8_t)(tag[i] & ~w_tag[i]);
    if (!hub_u256_is_zero(extra)) {
        char tn[160], wn[160];
        cella_tag_names(tag, tn, sizeof tn);
        cella_tag_names(w_tag, wn, sizeof wn);
        return refuse(why, 0x06, "the workerpool's tag (%s) lacks bits the app, dataset and "
                                 "request need (%s)", wn[0] ? wn : "none", tn);
    }
    if (((tag[31] ^ a_tag[31]) & 0x01) != 0)
        return refuse(why, 0x07, "the deal would be a TEE deal but the app is not a TEE app "
                                 "(the TEE bit of the combined tag differs from the app's)");
    return true;
}

/* resources: the request names the app and the dataset of the other orders */
static bool match_resources(match_ctx *m, hub_refusal *why)
{
    uint8_t w[32];
    hub_order_field(m->app, "app", m->a_addr);
    hub_order_field(m->ds, "dataset", m->d_addr);
    hub_order_field(m->wp, "workerpool", m->w_addr);
    hub_order_field(m->req, "requester", m->requester);
    char x1[43], x2[43];
    hub_order_field(m->req, "app", w);
    if (memcmp(w, m->a_addr, 32) != 0) {
        addr_text(x1, w + 12);
        addr_text(x2, m->a_addr + 12);
        return refuse(why, 0x10, "the request is for app %s, not %s", x1, x2);
    }
    hub_order_field(m->req, "dataset", w);
    if (memcmp(w, m->d_addr, 32) != 0) {
        addr_text(x1, w + 12);
        addr_text(x2, m->d_addr + 12);
        return refuse(why, 0x11, "the request is for dataset %s, not %s", x1, x2);
    }
    return true;
}

/* restrictions: each order's restrictions allow the others' resources */
static bool match_restrictions(const match_ctx *m, hub_refusal *why)
{
    static const struct {
        unsigned code;
        int kind;
        const char *field;
        int against; /* 0 app, 1 dataset, 2 workerpool, 3 requester */
        const char *sentence;
    } rules[] = {
        {0x12, CELLA_ORDER_REQUEST, "workerpool", 2, "the request is restricted to workerpool"},
        {0x13, CELLA_ORDER_APP, "datasetrestrict", 1, "the app order is restricted to dataset"},
        {0x14, CELLA_ORDER_APP, "workerpoolrestrict", 2,
         "the app order is restricted to workerpool"},
        {0x15, CELLA_ORDER_APP, "requesterrestrict", 3, "the app order is restricted to requester"},
        {0x16, CELLA_ORDER_DATASET, "apprestrict", 0, "the dataset order is restricted to app"},
        {0x17, CELLA_ORDER_DATASET, "workerpoolrestrict", 2,
         "the dataset order is restricted to workerpool"},
        {0x18, CELLA_ORDER_DATASET, "requesterrestrict", 3,
         "the dataset order is restricted to requester"},
        {0x19, CELLA_ORDER_WORKERPOOL, "apprestrict", 0,
         "the workerpool order is restricted to app"},
        {0x1a, CELLA_ORDER_WORKERPOOL, "datasetrestrict", 1,
         "the workerpool order is restricted to dataset"},
        {0x1b, CELLA_ORDER_WORKERPOOL, "requesterrestrict", 3,
         "the workerpool order is restricted to requester"},
    };
    const uint8_t *accounts[4] = {m->a_addr + 12, m->d_addr + 12, m->w_addr + 12,
                                  m->requester + 12};
    uint8_t w[32];
    char x1[43], x2[43];
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const cella_order *o = rules[i].kind == CELLA_ORDER_APP       ? m->app
                               : rules[i].kind == CELLA_ORDER_DATASET ? m->ds
                               : rules[i].kind == CELLA_ORDER_REQUEST ? m->req
                                                                      : m->wp;
        hub_order_field(o, rules[i].field, w);
        if (!allowed(w, accounts[rules[i].against])) {
            addr_text(x1, w + 12);
            addr_text(x2, accounts[rules[i].against]);
            return refuse(why, rules[i].code, "%s %s, not %s", rules[i].sentence, x1, x2);
        }
    }
    return true;
}

/* authenticity: registered resources, orders signed by their owners */
static bool match_authenticity(match_ctx *m, hub_refusal *why)
{
    const cella_domain *d = m->d;
    const hub_match_state *st = m->st;
    char x1[43];
    m->has_dataset = !hub_u256_is_zero(m->d_addr);
    if (!st->app.registered) {
        addr_text(x1, m->a_addr + 12);
        return refuse(why, 0x20, "app %s is not registered on this hub", x1);
    }
    if (!signed_by(d, m->app, st, st->app.owner)) {
        addr_text(x1, st->app.owner);
        return refuse(why, 0x21, "the app order is not signed by the app's owner %s", x1);
    }
    if (m->has_dataset) {
        if (!st->dataset.registered) {
            addr_text(x1, m->d_addr + 12);
            return refuse(why, 0x30, "dataset %s is not registered on this hub", x1);
        }
        if (!signed_by(d, m->ds, st, st->dataset.owner)) {
            addr_text(x1, st->dataset.owner);
            return refuse(why, 0x31, "the dataset order is not signed by the dataset's owner %s",
                          x1);
        }
    }
    if (!st->workerpool.registered) {
        addr_text(x1, m->w_addr + 12);
        return refuse(why, 0x40, "workerpool %s is not registered on this hub", x1);
    }
    if (!signed_by(d, m->wp, st, st->workerpool.owner)) {
        addr_text(x1, st->workerpool.owner);
        return refuse(why, 0x41, "the workerpool order is not signed by the workerpool's owner %s",
                      x1);
    }
    if (!signed_by(d, m->req, st, m->requester + 12)) {
        addr_text(x1, m->requester + 12);
        return refuse(why, 0x50, "the request order is not signed by its requester %s", x1);
    }
    return true;
}

/* availability: the volume left in every order (the deal's order hashes too) */
static bool match_volume(match_ctx *m, hub_deal *deal, hub_refusal *why)
{
    const hub_match_state *st = m->st;
    if (st->has_hashes)
        memcpy(deal->hash, st->hash, sizeof deal->hash);
    else
        hub_order_hashes(m->d, m->in, deal->hash);
    uint8_t volume[32], rem[32];
    bool first = true;
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        if (k == CELLA_ORDER_DATASET && !m->has_dataset)
            continue;
        uint8_t v[32];
        hub_order_field(m->in[k], "volume", v);
        if (!hub_u256_sub(rem, v, st->consumed[k]))
            memset(rem, 0, 32); /* consumed beyond volume: nothing left */
        if (first || hub_u256_cmp(rem, volume) < 0)
            memcpy(volume, rem, 32);
        first = false;
    }
    if (hub_u256_is_zero(volume))
        return refuse(why, 0x60, "no volume left: one of the orders is fully consumed (or "
                                 "cancelled)");
    if (!hub_u256_to_u64(volume, &m->vol) || m->vol > HUB_MAX_BOT)
        return refuse_hub(why, "cella-hub-deal-too-large",
                          "a deal on this hub has at most %d tasks; lower the request volume",
                          HUB_MAX_BOT);
    return true;
}

/* escrow: every amount must fit the nRLC accounts (64 bits) */
static bool match_escrow(match_ctx *m, hub_refusal *why)
{
    const hub_match_state *st = m->st;
    uint64_t *p = m->p;
    uint64_t total = 0, stake_unit;
    bool fits = true;
    for (int i = 0; i < 3; i++)
        fits = fits && hub_u256_to_u64(m->price[i], &p[i]);
    fits = fits && !__builtin_add_overflow(p[0], p[1], &total) &&
           !__builtin_add_overflow(total, p[2], &total) && mul_ok(total, m->vol, &m->sponsor_lock);
    if (fits) {
        /* percentage(): workerpoolprice * 30 / 100, without overflowing */
        stake_unit = p[2] / 100 * HUB_WORKERPOOL_STAKE_RATIO +
                     p[2] % 100 * HUB_WORKERPOOL_STAKE_RATIO / 100;
        fits = mul_ok(stake_unit, m->vol, &m->pool_lock);
    }
    const uint8_t *pool_owner = st->workerpool.owner;
    bool same = memcmp(pool_owner, m->requester + 12, 20) == 0;
    char t1[80], x1[43], x2[43];
    addr_text(x1, m->requester + 12);
    if (!fits || m->sponsor_lock > st->sponsor_balance) {
        if (fits)
            snprintf(t1, sizeof t1, "%llu", (unsigned long long)m->sponsor_lock);
        else
            snprintf(t1, sizeof t1, "more than 2^64");
        return refuse_hub(why, "cella-hub-insufficient-balance",
                          "the sponsor %s cannot pay the deal: it needs %s nRLC free, it has %llu",
                          x1, t1, (unsigned long long)st->sponsor_balance);
    }
    uint64_t pool_free = same ? st->sponsor_balance - m->sponsor_lock : st->pool_owner_balance;
    if (m->pool_lock > pool_free) {
        addr_text(x2, pool_owner);
        return refuse_hub(why, "cella-hub-insufficient-balance",
                          "the workerpool owner %s cannot stake the deal: it needs %llu nRLC "
                          "free, it has %llu",
                          x2, (unsigned long long)m->pool_lock, (unsigned long long)pool_free);
    }
    return true;
}

/* the deal */
static bool match_deal(const match_ctx *m, hub_deal *deal, hub_refusal *why)
{
    const hub_match_state *st = m->st;
    uint8_t w[32];
    deal->has_dataset = m->has_dataset;
    hub_deal_id(deal->hash[CELLA_ORDER_REQUEST], st->consumed[CELLA_ORDER_REQUEST], deal->dealid);
    memcpy(deal->tag, m->tag, 32);
    memcpy(deal->app, m->a_addr + 12, 20);
    memcpy(deal->dataset, m->d_addr + 12, 20);
    memcpy(deal->workerpool, m->w_addr + 12, 20);
    memcpy(deal->app_owner, st->app.owner, 20);
    if (m->has_dataset)
        memcpy(deal->dataset_owner, st->dataset.owner, 20);
    memcpy(deal->workerpool_owner, st->workerpool.owner, 20);
    memcpy(deal->requester, m->requester + 12, 20);
    memcpy(deal->sponsor, m->requester + 12, 20);
    hub_order_field(m->req, "beneficiary", w);
    memcpy(deal->beneficiary, w + 12, 20);
    hub_order_field(m->req, "callback", w);
    memcpy(deal->callback, w + 12, 20);
    deal->app_price = m->p[0];
    deal->dataset_price = m->p[1];
    deal->workerpool_price = m->p[2];
    deal->category = m->category;
    uint64_t trust = 0;
    if (!hub_u256_to_u64(m->r_trust, &trust))
        trust = UINT64_MAX; /* cannot happen: r_trust <= w_trust and prices fit; keep bounded */
    deal->trust = trust < 1 ? 1 : trust;
    uint64_t before = 0;
    if (!hub_u256_to_u64(st->consumed[CELLA_ORDER_REQUEST], &before))
        return refuse_hub(why, "cella-hub-deal-too-large", "the request's consumed volume is "
                                                           "beyond 2^64");
    deal->bot_first = before;
    deal->bot_size = m->vol;
    uint64_t ratio = st->worker_stake_ratio;
    deal->worker_stake = m->p[2] / 100 * ratio + m->p[2] % 100 * ratio / 100;
    deal->scheduler_reward_ratio = st->scheduler_reward_ratio;
    deal->sponsor_lock = m->sponsor_lock;
    deal->pool_lock = m->pool_lock;
    return true;
}

/* PoCo's checks in its order: the first that fails is the refusal. */
bool hub_match(const cella_domain *d, const cella_order *const in[CELLA_ORDER__COUNT],
               const hub_match_state *st, hub_deal *deal, hub_refusal *why)
{
    memset(deal, 0, sizeof *deal);
    memset(why, 0, sizeof *why);
    cella_order none;
    cella_order_init(&none, CELLA_ORDER_DATASET);
    match_ctx m = {.d = d, .in = in, .st = st};
    m.app = in[CELLA_ORDER_APP];
    m.wp = in[CELLA_ORDER_WORKERPOOL];
    m.req = in[CELLA_ORDER_REQUEST];
    m.ds = in[CELLA_ORDER_DATASET] ? in[CELLA_ORDER_DATASET] : &none;
    if (!m.app || !m.wp || !m.req || m.app->kind != CELLA_ORDER_APP ||
        m.ds->kind != CELLA_ORDER_DATASET || m.wp->kind != CELLA_ORDER_WORKERPOOL ||
        m.req->kind != CELLA_ORDER_REQUEST)
        CELLA_MISUSE("hub_match: orders of the wrong kinds");
    return match_environment(&m, why) && match_prices(&m, why) && match_tags(&m, why) &&
           match_resources(&m, why) && match_restrictions(&m, why) &&
           match_authenticity(&m, why) && match_volume(&m, deal, why) && match_escrow(&m, why) &&
           match_deal(&m, deal, why);
}
