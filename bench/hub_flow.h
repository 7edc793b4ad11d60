/* The marketplace load bench_hub drives, through the hub's HTTP API or its
 * store API directly (the same flow either way, behind hub_flow_ops):
 *   publish  request orders, signed by the requester as it goes;
 *   match    each published request with one app, dataset and workerpool
 *            order (large volumes, published at setup): one task per deal;
 *   bag      one request of volume `bag` matched: that many more tasks;
 *   claim    as cella worker claims: lease the pool's next runnable task in
 *            one request (POST /v1/tasks/lease-next, hub_store_lease_next),
 *            until none is runnable. (`claim-list` is the former way, kept
 *            for comparison: list 16 runnable tasks, lease one of them,
 *            starting at the client's index, the next on a conflict.)
 * Each phase runs CLIENTS threads at once and ends when its count is reached
 * (publish: `requests`; match: every published request; claim: every task)
 * or after `seconds`. Not a test. */
#ifndef CELLA_BENCH_HUB_FLOW_H
#define CELLA_BENCH_HUB_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "hub/match.h"
#include "identity/eip712.h"

#define FLOW_CLIENTS_MAX 64
#define FLOW_LIST 16 /* tasks a claimer lists at once, as cella worker does */

typedef struct {
    cella_order o;
    char hash[67]; /* 0x + hex */
} flow_order;

/* The parties (0 app owner, 1 dataset owner, 2 pool owner, 3 requester),
 * their resources, the fixed orders (app, dataset, workerpool). */
typedef struct {
    cella_domain dom;
    uint8_t priv[4][32], addr[4][20];
    uint8_t res[3][20];
    flow_order fixed[3];
} flow_market;

typedef enum { LEASE_GRANTED, LEASE_CONFLICT, LEASE_ERROR, LEASE_NONE } lease_outcome;

/* What a client does against a hub (its API, or its store). Each client
 * thread has its own context (client_new(ctx, index)). */
typedef struct {
    /* registers the three resources into m->res and funds the requester and
     * the pool owner */
    bool (*setup)(void *ctx, flow_market *m);
    void *(*client_new)(void *ctx, int index);
    void (*client_free)(void *client);
    /* publishes a signed order; o->hash set */
    bool (*publish)(void *client, flow_order *o);
    /* matches the fixed orders with `req`; *tasks: how many were made */
    bool (*match)(void *client, const flow_market *m, const flow_order *req, long *tasks);
    /* up to `max` runnable task ids of the pool; -1 on failure */
    int (*list)(void *client, const flow_market *m, char (*ids)[67], int max);
    lease_outcome (*lease)(void *client, const flow_market *m, const char *taskid,
                           const char *holder);
    /* the pool's next runnable task leased: GRANTED, NONE (nothing runnable) or ERROR */
    lease_outcome (*lease_next)(void *client, const flow_market *m, const char *holder);
} hub_flow_ops;

typedef struct {
    const char *name; /* prefix of the printed figures: NAME_publish ... */
    int clients;
    double seconds; /* at most, per phase */
    long requests;  /* to publish (and match) */
    long bag;       /* volume of the extra request (0: none) */
} flow_plan;

typedef struct {
    double publish, match, claim; /* per second */
    long claims, conflicts, errors;
} flow_result;

/* Sets up the market and runs the phases; prints one line per phase. False
 * on a failed setup. */
bool hub_flow_run(const hub_flow_ops *ops, void *ctx, flow_market *m, const flow_plan *p,
                  flow_result *out);

/* Order helpers. */
void flow_set_u(cella_order *o, const char *field, uint64_t v);
void flow_set_a(cella_order *o, const char *field, const uint8_t a[20]);
/* Signs with a salt made of i (the same i, the same order: reproducible). */
void flow_salted_sign(const cella_domain *d, cella_order *o, const uint8_t priv[32], uint64_t i);
/* A request of the market's requester for its app and dataset, of `volume`. */
void flow_request(const flow_market *m, cella_order *q, uint64_t volume);
void flow_die(const char *what);
double flow_now(void);

#endif
