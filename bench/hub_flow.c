/* The marketplace load of bench_hub: see hub_flow.h. */
#include "hub_flow.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/secure.h"
#include "identity/eth.h"

double flow_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void flow_die(const char *what)
{
    fprintf(stderr, "bench_hub: %s: %s (%s)\n", what, cella_error_what(), cella_error_where());
    exit(1);
}

void flow_set_u(cella_order *o, const char *f, uint64_t v)
{
    uint8_t w[32];
    hub_u256_from_u64(w, v);
    if (!cella_ok(cella_order_set_word(o, f, w)))
        flow_die("set");
}

void flow_set_a(cella_order *o, const char *f, const uint8_t a[20])
{
    uint8_t w[32] = {0};
    memcpy(w + 12, a, 20);
    if (!cella_ok(cella_order_set_word(o, f, w)))
        flow_die("set");
}

void flow_salted_sign(const cella_domain *d, cella_order *o, const uint8_t priv[32], uint64_t i)
{
    uint8_t salt[32] = {0};
    hub_u256_from_u64(salt, i + 1);
    salt[0] = 0x5a;
    if (!cella_ok(cella_order_set_word(o, "salt", salt)) ||
        !cella_ok(cella_order_sign(d, o, priv, false)))
        flow_die("sign");
}

void flow_request(const flow_market *m, cella_order *q, uint64_t volume)
{
    cella_order_init(q, CELLA_ORDER_REQUEST);
    flow_set_a(q, "app", m->res[0]);
    flow_set_u(q, "appmaxprice", 5);
    flow_set_a(q, "dataset", m->res[1]);
    flow_set_u(q, "datasetmaxprice", 3);
    flow_set_u(q, "workerpoolmaxprice", 100);
    flow_set_a(q, "requester", m->addr[3]);
    flow_set_u(q, "volume", volume);
}

/* ---- one run's shared state ---- */

static const hub_flow_ops *g_ops;
static flow_market *g_m;
static void *g_client[FLOW_CLIENTS_MAX];
static double g_deadline;
static flow_order *g_reqs;
static bool *g_published;
static long g_cap;
static atomic_long g_next, g_done, g_conflicts, g_errors;

static void *publisher(void *arg)
{
    void *c = g_client[(uintptr_t)arg];
    long i;
    while (flow_now() < g_deadline && (i = atomic_fetch_add(&g_next, 1)) < g_cap) {
        flow_order *q = &g_reqs[i];
        flow_request(g_m, &q->o, 1);
        if (!cella_ok(cella_order_sign(&g_m->dom, &q->o, g_m->priv[3], true)))
            flow_die("sign");
        if (g_ops->publish(c, q)) {
            g_published[i] = true;
            atomic_fetch_add(&g_done, 1);
        } else {
            atomic_fetch_add(&g_errors, 1);
        }
    }
    return NULL;
}

static void *matcher(void *arg)
{
    void *c = g_client[(uintptr_t)arg];
    long i, tasks;
    while (flow_now() < g_deadline && (i = atomic_fetch_add(&g_next, 1)) < g_cap) {
        if (!g_published[i])
            continue;
        if (g_ops->match(c, g_m, &g_reqs[i], &tasks))
            atomic_fetch_add(&g_done, 1);
        else
            atomic_fetch_add(&g_errors, 1);
    }
    return NULL;
}

/* As cella worker claims: the next runnable task, leased by the hub. */
static void *claimer(void *arg)
{
    uintptr_t index = (uintptr_t)arg;
    void *c = g_client[index];
    char holder[33];
    snprintf(holder, sizeof holder, "%032lx", (unsigned long)index + 1);
    while (flow_now() < g_deadline) {
        lease_outcome o = g_ops->lease_next(c, g_m, holder);
        if (o == LEASE_NONE)
            break; /* every task is leased */
        atomic_fetch_add(o == LEASE_GRANTED ? &g_done : &g_errors, 1);
    }
    return NULL;
}

/* The former claim: list, then lease one, from the slot's index on. */
static void *list_claimer(void *arg)
{
    uintptr_t index = (uintptr_t)arg;
    void *c = g_client[index];
    char holder[33];
    snprintf(holder, sizeof holder, "%032lx", (unsigned long)index + 1);
    char ids[FLOW_LIST][67];
    while (flow_now() < g_deadline) {
        int n = g_ops->list(c, g_m, ids, FLOW_LIST);
        if (n < 0) {
            atomic_fetch_add(&g_errors, 1);
            continue;
        }
        if (n == 0)
            break; /* every task is leased */
        for (int k = 0; k < n; k++) {
            lease_outcome o = g_ops->lease(c, g_m, ids[(index + (unsigned)k) % (unsigned)n], holder);
            if (o == LEASE_GRANTED) {
                atomic_fetch_add(&g_done, 1);
                break;
            }
            atomic_fetch_add(o == LEASE_CONFLICT ? &g_conflicts : &g_errors, 1);
        }
    }
    return NULL;
}

/* Runs fn on every client at once; ops per second. */
static double phase(const flow_plan *p, const char *what, void *(*fn)(void *), long *ops)
{
    atomic_store(&g_next, 0);
    atomic_store(&g_done, 0);
    atomic_store(&g_conflicts, 0);
    long err0 = atomic_load(&g_errors);
    pthread_t th[FLOW_CLIENTS_MAX];
    double t0 = flow_now();
    g_deadline = t0 + p->seconds;
    for (int i = 0; i < p->clients; i++)
        if (pthread_create(&th[i], NULL, fn, (void *)(uintptr_t)i) != 0)
            flow_die("thread");
    for (int i = 0; i < p->clients; i++)
        pthread_join(th[i], NULL);
    double dt = flow_now() - t0;
    *ops = atomic_load(&g_done);
    printf("%s_%s %.0f %ld (%d clients, %.1f s, %ld errors, %ld conflicts)\n", p->name, what,
           *ops / dt, *ops, p->clients, dt, (long)(atomic_load(&g_errors) - err0),
           (long)atomic_load(&g_conflicts));
    fflush(stdout);
    return *ops / dt;
}

/* The app, dataset and workerpool orders every match uses. */
static bool publish_fixed(void *c)
{
    static const char *const field[3] = {"app", "dataset", "workerpool"};
    static const char *const price[3] = {"appprice", "datasetprice", "workerpoolprice"};
    static const uint64_t prices[3] = {5, 3, 100};
    for (int k = 0; k < 3; k++) {
        flow_order *o = &g_m->fixed[k];
        cella_order_init(&o->o, (cella_order_kind)k);
        flow_set_a(&o->o, field[k], g_m->res[k]);
        flow_set_u(&o->o, price[k], prices[k]);
        flow_set_u(&o->o, "volume", 1000000000);
        if (!cella_ok(cella_order_sign(&g_m->dom, &o->o, g_m->priv[k], true)) ||
            !g_ops->publish(c, o))
            return false;
    }
    return true;
}

/* A request of volume p->bag, matched: that many tasks more to claim. */
static bool bag(void *c, const flow_plan *p, long *tasks)
{
    *tasks = 0;
    if (!p->bag)
        return true;
    flow_order q;
    flow_request(g_m, &q.o, (uint64_t)p->bag);
    bool ok = cella_ok(cella_order_sign(&g_m->dom, &q.o, g_m->priv[3], true)) &&
              g_ops->publish(c, &q) && g_ops->match(c, g_m, &q, tasks);
    cella_order_free(&q.o);
    return ok;
}

bool hub_flow_run(const hub_flow_ops *ops, void *ctx, flow_market *m, const flow_plan *p,
                  flow_result *out)
{
    memset(out, 0, sizeof *out);
    if (p->clients < 1 || p->clients > FLOW_CLIENTS_MAX || p->requests < 1)
        return false;
    g_ops = ops;
    g_m = m;
    for (int i = 0; i < 4; i++)
        if (!cella_ok(cella_random(m->priv[i], 32)) ||
            !cella_ok(cella_eth_address_from_privkey(m->priv[i], m->addr[i])))
            flow_die("key");
    for (int i = 0; i < p->clients; i++)
        if (!(g_client[i] = ops->client_new(ctx, i)))
            flow_die("client");
    if (!ops->setup(ctx, m) || !publish_fixed(g_client[0]))
        return false;
    g_cap = p->requests;
    g_reqs = calloc((size_t)g_cap, sizeof *g_reqs);
    g_published = calloc((size_t)g_cap, sizeof *g_published);
    if (!g_reqs || !g_published)
        flow_die("out of memory");
    atomic_store(&g_errors, 0);
    long n, tasks;
    out->publish = phase(p, "publish", publisher, &n);
    g_cap = atomic_load(&g_next) < g_cap ? atomic_load(&g_next) : g_cap; /* as far as it got */
    out->match = phase(p, "match", matcher, &n);
    if (!bag(g_client[0], p, &tasks))
        flow_die("bag");
    /* BENCH_HUB_CLAIM_LIST=1: claims as the worker made them before lease-next */
    bool by_list = getenv("BENCH_HUB_CLAIM_LIST") && *getenv("BENCH_HUB_CLAIM_LIST") == '1';
    out->claim = phase(p, by_list ? "claim-list" : "claim", by_list ? list_claimer : claimer,
                       &out->claims);
    out->conflicts = atomic_load(&g_conflicts);
    out->errors = atomic_load(&g_errors);
    for (long i = 0; i < p->requests; i++)
        cella_order_free(&g_reqs[i].o);
    for (int k = 0; k < 3; k++)
        cella_order_free(&m->fixed[k].o);
    for (int i = 0; i < p->clients; i++)
        ops->client_free(g_client[i]);
    free(g_reqs);
    free(g_published);
    return true;
}
