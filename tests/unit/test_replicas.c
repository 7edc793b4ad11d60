/* Replicas of one marketplace: REPLICAS hub_store (and cas_store) handles on
 * one database, each in a thread of its own as each replica has its own
 * connections, released together by a barrier to race for the same rows:
 * matches of the same orders (no volume matched twice), leases of one task
 * (one holder), withdrawals from one account (never below zero), session and
 * tag compare-and-swaps (one winner), and a follower reading the events while
 * others write (no seq skipped, none out of order). On PostgreSQL
 * (pg.test_replicas) that is the row locks and conditional statements at
 * work; on SQLite (unit.test_replicas) the writer turn. Threads only record
 * what happened: the main thread asserts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "hub/store.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "store/cas_store.h"
#include "testutil.h"

#define REPLICAS 4
#define ROUNDS 8

enum { APP, DATASET, POOL, SAVER, REQUESTER }; /* keys; REQUESTER + t for thread t */
#define KEYS (REQUESTER + REPLICAS)

typedef struct {
    char *dir;
    char url[1200];
    hub_store *s[REPLICAS];
    cella_domain dom;
    uint8_t priv[KEYS][32], addr[KEYS][20];
    uint8_t res[3][20]; /* the app, dataset and workerpool */
    cella_order o[3];   /* their orders */
} fx_t;

typedef struct worker worker;
struct worker {
    fx_t *fx;
    int t;
    void (*run)(worker *w);
    /* what happened, for the main thread to judge */
    int granted[ROUNDS], refused[ROUNDS], tags[ROUNDS], failed;
    uint64_t volume;
    char error[300], refusal[64];
};

static pthread_barrier_t g_go;

static void note_failure(worker *w, const char *what)
{
    if (!w->failed++)
        snprintf(w->error, sizeof w->error, "%s: %s (%s)", what, cella_error_what(),
                 cella_error_where());
}

/* A refusal is expected to be this one (the first other is kept). */
static void note_refusal(worker *w, int round, const char *code, const char *want)
{
    w->refused[round]++;
    if (strcmp(code, want) && !w->refusal[0])
        snprintf(w->refusal, sizeof w->refusal, "%s", code);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    w->run(w);
    return NULL;
}

/* How many replicas were granted their request in this round. */
static int granted_in(const worker w[REPLICAS], int round)
{
    int n = 0;
    for (int t = 0; t < REPLICAS; t++)
        n += w[t].granted[round];
    return n;
}

/* Runs one worker per replica, `run` in each, and checks none failed. */
static void race(fx_t *fx, void (*run)(worker *), worker w[REPLICAS])
{
    pthread_t th[REPLICAS];
    assert_int_equal(pthread_barrier_init(&g_go, NULL, REPLICAS), 0);
    for (int t = 0; t < REPLICAS; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].fx = fx;
        w[t].t = t;
        w[t].run = run;
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < REPLICAS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&g_go);
    for (int t = 0; t < REPLICAS; t++) {
        if (w[t].failed)
            fail_msg("replica %d: %s", t, w[t].error);
        if (w[t].refusal[0])
            fail_msg("replica %d: refused with %s", t, w[t].refusal);
    }
}

/* A request of thread t's requester for the fixture's orders (a new salt:
 * another order each time). Called from the workers: no assertions. */
static cella_res request(fx_t *fx, int t, uint64_t volume, cella_order *o)
{
    cella_order_init(o, CELLA_ORDER_REQUEST);
    uint8_t w[32] = {0};
    static const char *const addr_fields[] = {"app", "dataset", "workerpool"};
    cella_res r = CELLA_OK_RES;
    for (int k = 0; k < 3 && cella_ok(r); k++) {
        memcpy(w + 12, fx->res[k], 20);
        r = cella_order_set_word(o, addr_fields[k], w);
    }
    memcpy(w + 12, fx->addr[REQUESTER + t], 20);
    if (cella_ok(r))
        r = cella_order_set_word(o, "requester", w);
    static const char *const number_fields[] = {"appmaxprice", "datasetmaxprice",
                                                "workerpoolmaxprice", "volume"};
    const uint64_t values[] = {1, 1, 10, volume};
    for (int k = 0; k < 4 && cella_ok(r); k++) {
        hub_u256_from_u64(w, values[k]);
        r = cella_order_set_word(o, number_fields[k], w);
    }
    return cella_ok(r) ? cella_order_sign(&fx->dom, o, fx->priv[REQUESTER + t], true) : r;
}

/* The app, dataset and workerpool registered, their orders (prices 1, 1
 * and 10, trust 1) signed with this volume, funds for the requesters and the
 * pool owner's stakes. */
static void market(fx_t *fx, uint64_t volume)
{
    for (int k = 0; k < 3; k++) {
        hub_resource r;
        memset(&r, 0, sizeof r);
        r.kind = (hub_kind)k;
        memset(fx->res[k], 0xa0 + k, 20);
        memcpy(r.address, fx->res[k], 20);
        memcpy(r.owner, fx->addr[k], 20);
        snprintf(r.name, sizeof r.name, "replicas");
        assert_succeeds(hub_store_register_at(fx->s[0], &r, 1));
        cella_order_init(&fx->o[k], (cella_order_kind)k);
    }
    test_order_addr(&fx->o[APP], "app", fx->res[APP]);
    test_order_u64(&fx->o[APP], "appprice", 1);
    test_order_addr(&fx->o[DATASET], "dataset", fx->res[DATASET]);
    test_order_u64(&fx->o[DATASET], "datasetprice", 1);
    test_order_addr(&fx->o[POOL], "workerpool", fx->res[POOL]);
    test_order_u64(&fx->o[POOL], "workerpoolprice", 10);
    test_order_u64(&fx->o[POOL], "trust", 1);
    uint64_t bal;
    for (int k = 0; k < 3; k++) {
        test_order_u64(&fx->o[k], "volume", volume);
        assert_succeeds(cella_order_sign(&fx->dom, &fx->o[k], fx->priv[k], true));
    }
    assert_succeeds(hub_store_deposit(fx->s[1], fx->addr[POOL], 100000, &bal));
    for (int t = 0; t < REPLICAS; t++)
        assert_succeeds(hub_store_deposit(fx->s[t], fx->addr[REQUESTER + t], 100000, &bal));
}

/* Matches a new request of thread t's (volume); *vol the deal's size, 0
 * when refused (*why). */
static cella_res match(fx_t *fx, int t, uint64_t volume, hub_deal *deal, hub_refusal *why,
                       uint64_t *vol)
{
    cella_order req;
    *vol = 0;
    cella_res r = request(fx, t, volume, &req);
    const cella_order *o[4] = {&fx->o[APP], &fx->o[DATASET], &fx->o[POOL], &req};
    bool matched = false;
    if (cella_ok(r))
        r = hub_store_match(fx->s[t], &fx->dom, o, 1000, &matched, deal, why);
    if (cella_ok(r) && matched)
        *vol = deal->bot_size;
    cella_order_free(&req);
    return r;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = test_tmpdir();
    test_db_url(fx->url, sizeof fx->url, fx->dir);
    for (int t = 0; t < REPLICAS; t++)
        assert_succeeds(hub_store_open(fx->url, &fx->s[t]));
    fx->dom.chain_id = 65535;
    memset(fx->dom.hub, 0xab, 20);
    for (int i = 0; i < KEYS; i++) {
        memset(fx->priv[i], 0x11 * (i + 1), 32);
        assert_succeeds(cella_eth_address_from_privkey(fx->priv[i], fx->addr[i]));
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    for (int k = 0; k < 3; k++)
        cella_order_free(&fx->o[k]);
    for (int t = 0; t < REPLICAS; t++)
        hub_store_close(fx->s[t]);
    test_rmdir(fx->dir);
    free(fx);
    return 0;
}

/* ---- no order volume matched twice ---- */

#define MATCH_VOLUME 20

static void run_matches(worker *w)
{
    pthread_barrier_wait(&g_go);
    for (int k = 0; k < ROUNDS; k++) {
        hub_deal deal;
        hub_refusal why;
        uint64_t vol;
        if (!cella_ok(match(w->fx, w->t, 1 + k % 2, &deal, &why, &vol)))
            note_failure(w, "match");
        else if (vol) {
            w->volume += vol;
            w->granted[0]++;
        } else
            note_refusal(w, 0, why.code, "iExecV5-matchOrders-0x60");
    }
}

static void test_match_volume(void **state)
{
    fx_t *fx = *state;
    market(fx, MATCH_VOLUME);
    worker w[REPLICAS];
    race(fx, run_matches, w);
    uint64_t total = 0, deals = 0;
    for (int t = 0; t < REPLICAS; t++) {
        total += w[t].volume;
        deals += (uint64_t)w[t].granted[0];
    }
    print_message("%llu deals of %d requests, %llu tasks\n", (unsigned long long)deals,
                  REPLICAS * ROUNDS, (unsigned long long)total);
    assert_int_equal(total, MATCH_VOLUME);
    json_t *list;
    uint64_t stored;
    assert_succeeds(hub_store_deal_list(fx->s[0], 0, 1000, &list, &stored));
    json_decref(list);
    assert_int_equal(stored, deals);
    uint8_t hash[32], used[32], want[32];
    hub_u256_from_u64(want, MATCH_VOLUME);
    for (int k = 0; k < 3; k++) {
        cella_order_hash(&fx->dom, &fx->o[k], hash);
        assert_succeeds(hub_store_consumed(fx->s[k], hash, used));
        assert_memory_equal(used, want, 32);
    }
}

/* ---- no task leased twice ---- */

static hub_deal g_lease_deal;

static void run_leases(worker *w)
{
    char holder[HUB_HOLDER_HEX + 1];
    snprintf(holder, sizeof holder, "%032x", 0xbeef00 + w->t);
    for (int round = 0; round < ROUNDS; round++) {
        uint8_t task[32];
        hub_task_id(g_lease_deal.dealid, (uint64_t)round, task);
        bool done;
        hub_refusal why;
        int64_t until;
        pthread_barrier_wait(&g_go);
        if (!cella_ok(hub_store_lease(w->fx->s[w->t], task, w->fx->addr[POOL], holder, 60, 1001,
                                      &done, &why, &until)))
            note_failure(w, "lease");
        else if (done)
            w->granted[round]++;
        else
            note_refusal(w, round, why.code, "cella-hub-task-leased");
    }
}

static void test_lease_once(void **state)
{
    fx_t *fx = *state;
    market(fx, ROUNDS);
    hub_refusal why;
    uint64_t vol;
    assert_succeeds(match(fx, 0, ROUNDS, &g_lease_deal, &why, &vol));
    assert_int_equal(vol, ROUNDS);
    worker w[REPLICAS];
    race(fx, run_leases, w);
    for (int round = 0; round < ROUNDS; round++)
        if (granted_in(w, round) != 1)
            fail_msg("task %d: %d of %d holders got a lease", round, granted_in(w, round),
                     REPLICAS);
}

/* ---- no balance below zero ---- */

static void run_withdrawals(worker *w)
{
    fx_t *fx = w->fx;
    for (int round = 0; round < ROUNDS; round++) {
        bool done;
        hub_refusal why;
        uint64_t b, l;
        pthread_barrier_wait(&g_go);
        if (!cella_ok(hub_store_withdraw(fx->s[w->t], fx->addr[SAVER], 30, &done, &why, &b, &l)))
            note_failure(w, "withdraw");
        else if (done)
            w->granted[round]++;
        else
            note_refusal(w, round, why.code, "cella-hub-insufficient-balance");
        pthread_barrier_wait(&g_go);
        /* between rounds: back to 100 from the 10 that should be left */
        if (w->t == 0 && !cella_ok(hub_store_deposit(fx->s[0], fx->addr[SAVER], 90, &b)))
            note_failure(w, "deposit");
    }
}

static void test_withdraw_covered(void **state)
{
    fx_t *fx = *state;
    uint64_t b, l;
    assert_succeeds(hub_store_deposit(fx->s[0], fx->addr[SAVER], 100, &b));
    worker w[REPLICAS];
    race(fx, run_withdrawals, w);
    for (int round = 0; round < ROUNDS; round++)
        if (granted_in(w, round) != 3)
            fail_msg("round %d: %d withdrawals of 30 from 100", round, granted_in(w, round));
    assert_succeeds(hub_store_account_get(fx->s[1], fx->addr[SAVER], &b, &l));
    assert_int_equal(b, 100); /* the last round's 10, and the 90 after it */
    assert_int_equal(l, 0);
}

/* ---- session and tag compare-and-swaps: one winner ---- */

static cella_cas_store *g_cas[REPLICAS];

static void run_swaps(worker *w)
{
    cella_cas_store *s = g_cas[w->t];
    cella_cas_session_row row = {.owner = "0xabc"}, cur = {0};
    cella_buf_init(&row.sealed, false);
    cella_buf_init(&cur.sealed, false);
    cella_buf_append(&row.sealed, "sealed", 6);
    for (int round = 0; round < ROUNDS; round++) {
        /* what every replica reads now: the predecessor and the old tag */
        uint8_t old[16], tag[16];
        bool has = false;
        cella_buf_free(&cur.sealed);
        cella_buf_init(&cur.sealed, false);
        if (!cella_ok(cella_cas_session_get(s, "n", &cur)) ||
            !cella_ok(cella_cas_tag_get(s, "n", "v", old, &has)))
            note_failure(w, "read");
        memset(row.hash, 0, 32);
        row.hash[0] = (uint8_t)(round + 1);
        row.hash[1] = (uint8_t)(w->t + 1);
        memset(tag, 0, 16);
        tag[0] = (uint8_t)(round + 1);
        tag[1] = (uint8_t)(w->t + 1);
        pthread_barrier_wait(&g_go);
        cella_res r = cella_cas_session_update(s, "n", cur.hash, &row);
        if (cella_ok(r))
            w->granted[round]++;
        else if (r.code == CELLA_E_ROLLBACK)
            w->refused[round]++;
        else
            note_failure(w, "session update");
        r = cella_cas_tag_swap(s, "n", "v", has ? old : NULL, tag);
        if (cella_ok(r))
            w->tags[round]++;
        else if (r.code != CELLA_E_ROLLBACK)
            note_failure(w, "tag swap");
        pthread_barrier_wait(&g_go);
    }
    cella_buf_free(&row.sealed);
    cella_buf_free(&cur.sealed);
}

static void test_swaps_once(void **state)
{
    fx_t *fx = *state;
    for (int t = 0; t < REPLICAS; t++)
        assert_succeeds(cella_cas_store_open(fx->url, &g_cas[t]));
    cella_cas_session_row row = {.owner = "0xabc", .hash = {0xff}};
    cella_buf_init(&row.sealed, false);
    cella_buf_append(&row.sealed, "sealed", 6);
    assert_succeeds(cella_cas_session_create(g_cas[0], "n", &row));
    cella_buf_free(&row.sealed);
    worker w[REPLICAS];
    race(fx, run_swaps, w);
    for (int round = 0; round < ROUNDS; round++) {
        int sessions = granted_in(w, round), tags = 0;
        for (int t = 0; t < REPLICAS; t++)
            tags += w[t].tags[round];
        if (sessions != 1 || tags != 1)
            fail_msg("round %d: %d session updates and %d tag pushes of %d won", round,
                     sessions, tags, REPLICAS);
    }
    cella_cas_session_row got = {0};
    cella_buf_init(&got.sealed, false);
    assert_succeeds(cella_cas_session_get(g_cas[3], "n", &got));
    assert_int_equal(got.version, 1 + ROUNDS);
    cella_buf_free(&got.sealed);
    for (int t = 0; t < REPLICAS; t++)
        cella_cas_store_close(g_cas[t]);
}

/* ---- events: a follower never skips one ---- */

#define FOLLOWED_CHANGES 12 /* per writer */

static unsigned g_writing_done; /* writers that finished (atomic) */

/* Replica 0 follows; the others match bags of tasks and publish orders. */
static void run_events(worker *w)
{
    fx_t *fx = w->fx;
    pthread_barrier_wait(&g_go);
    if (w->t) {
        for (int k = 0; k < FOLLOWED_CHANGES; k++) {
            hub_deal deal;
            hub_refusal why;
            uint64_t vol;
            cella_order req;
            uint8_t hash[32];
            bool created;
            cella_res r = k % 2 ? match(fx, w->t, 5, &deal, &why, &vol)
                                : request(fx, w->t, 1, &req);
            if (cella_ok(r) && !(k % 2)) {
                r = hub_store_order_publish(fx->s[w->t], &fx->dom, &req, 1000, hash, &created);
                cella_order_free(&req);
            }
            if (!cella_ok(r))
                note_failure(w, "change");
        }
        __atomic_add_fetch(&g_writing_done, 1, __ATOMIC_RELEASE);
        return;
    }
    /* the follower: after = the reply's last, as GET /v1/events; the seqs
     * seen, in order, in w->volume (count) and checked as they come */
    int64_t last = 0, want = 1;
    for (long polls = 0; polls < 200000; polls++) {
        bool done = __atomic_load_n(&g_writing_done, __ATOMIC_ACQUIRE) == REPLICAS - 1;
        json_t *ev;
        if (!cella_ok(hub_store_events(fx->s[0], last, NULL, NULL, 0, &ev, &last))) {
            note_failure(w, "events");
            return;
        }
        size_t i;
        json_t *e;
        json_array_foreach(ev, i, e) {
            int64_t seq = json_integer_value(json_object_get(e, "seq"));
            if (seq != want && !w->failed++)
                snprintf(w->error, sizeof w->error, "seq %lld came where %lld was due",
                         (long long)seq, (long long)want);
            want = seq + 1;
            w->volume++;
        }
        json_decref(ev);
        if (done && !i)
            return; /* caught up after the last change */
        if (!i) { /* nothing new: let the writers run (valgrind runs one thread at a time) */
            struct timespec pause = {0, 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    note_failure(w, "the follower did not catch up");
}

static void test_events_in_order(void **state)
{
    fx_t *fx = *state;
    market(fx, 1000);
    worker w[REPLICAS];
    race(fx, run_events, w);
    json_t *all;
    int64_t last;
    assert_succeeds(hub_store_events(fx->s[1], 0, NULL, NULL, 0, &all, &last));
    print_message("the follower saw %llu events of %zu\n", (unsigned long long)w[0].volume,
                  json_array_size(all));
    assert_int_equal(w[0].volume, json_array_size(all));
    assert_int_equal(last, (int64_t)json_array_size(all));
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_match_volume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_covered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swaps_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_in_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
