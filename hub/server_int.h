/* Internals of the hub program shared by its files. The dependencies go one
 * way: server.c (routing, start-up) calls the handlers of registries.c,
 * orders.c, tasks.c, accounts.c and events.c; these call the request and
 * reply helpers of server.c and events_bump, never each other. */
#ifndef CELLA_HUB_SERVER_INT_H
#define CELLA_HUB_SERVER_INT_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub/hub.h"
#include "hub/sms_check.h"
#include "hub/store.h"
#include "identity/eip712.h"
#include "net/http_server.h"
#include "net/signed_request.h"

typedef struct events_waiter events_waiter;

typedef struct {
    hub_options opt;
    cella_domain dom;
    char db_path[4200];
    cella_sigreq *auth;       /* challenges and signed requests (net/signed_request.h) */
    unsigned long events_gen; /* bumped (atomically) after each change that records events */
    unsigned events_waiting;  /* deferred GET /v1/events (atomic) */
    pthread_mutex_t waiters_lock; /* guards `waiters`, a list over every thread's loop */
    events_waiter *waiters;       /* deferred GET /v1/events, woken by events_wake */
    unsigned events_tick_ms;      /* EVENTS_TICK_MS, or EVENTS_TICK_ENV's (hub/events.c) */
    bool stopping;            /* the listener thread ends (atomic) */
    SSL_CTX *ssl;             /* --tls, else NULL */
    char fingerprint[65];     /* --tls: the SPKI SHA-256 clients pin */
    char bound[64];           /* the address listened on, with the port bound */
    hub_sms *sms;             /* --cas: the dataset key lookups, else NULL */
} hub_app;

typedef struct {
    hub_app *app;
    hub_store *st;
} hub_thread;

/* ---- hub/server.c: requests and replies ---- */
int64_t now_s(hub_thread *t);
void reply_err(cella_http_req *req, cella_res r);
bool replied_unless_done(cella_http_req *req, cella_res r, bool done,
                         const hub_refusal *why);
CELLA_RESULT parse_json_body(cella_http_req *req, json_t **out);
json_t *addr_json(const uint8_t a[20]);
json_t *hex_json(const uint8_t *p, size_t n);
CELLA_RESULT authenticate(hub_thread *t, cella_http_req *req, uint8_t who[20]);
CELLA_RESULT opt_string(const json_t *body, const char *key, size_t max, bool required,
                        const char **out);
CELLA_RESULT query_addr(cella_http_req *req, const char *key, uint8_t out[20], bool *has);
CELLA_RESULT query_limit(cella_http_req *req, size_t *out);
CELLA_RESULT parse_hash(const char *s, uint8_t h[32], const char *what);
CELLA_RESULT only_keys(const json_t *body, const char *const *allowed);

/* ---- hub/registries.c: /v1/apps, /v1/datasets, /v1/workerpools ---- */
void deploy(hub_thread *t, cella_http_req *req, hub_kind k);
void resource_transfer(hub_thread *t, cella_http_req *req, hub_kind k, const char *addr_s);
void resource_show(hub_thread *t, cella_http_req *req, hub_kind k, const char *addr_s);
void resource_count(hub_thread *t, cella_http_req *req, hub_kind k);

/* ---- hub/orders.c: /v1/orders, /v1/deals, GET /v1/tasks/ID ---- */
void order_publish(hub_thread *t, cella_http_req *req);
void order_book(hub_thread *t, cella_http_req *req);
void order_show(hub_thread *t, cella_http_req *req, const char *hs);
void order_cancel(hub_thread *t, cella_http_req *req);
void deal_create(hub_thread *t, cella_http_req *req);
void deal_show(hub_thread *t, cella_http_req *req, const char *id, bool task);

/* ---- hub/tasks.c: /v1/tasks, /v1/tasks/lease-next, /v1/tasks/ID/VERB ---- */
void task_list(hub_thread *t, cella_http_req *req);
void task_lease_next(hub_thread *t, cella_http_req *req);
void task_verb(hub_thread *t, cella_http_req *req, const char *id, const char *verb);

/* ---- hub/accounts.c: /v1/accounts ---- */
void account_show(hub_thread *t, cella_http_req *req, const char *as);
void withdraw(hub_thread *t, cella_http_req *req);
void deposit(hub_thread *t, cella_http_req *req);

/* ---- hub/events.c: GET /v1/events and its waiters ---- */
/* The waiters' lock and tick, before the server starts. */
void events_init(hub_app *a);
void events_bump(hub_thread *t);
void events_get(hub_thread *t, cella_http_req *req);
/* cella_http_config.thread_stop: a stopped loop's waiters go. */
void events_thread_stop(void *tctx);
/* The PostgreSQL LISTEN thread (arg: the hub_app), until a->stopping. */
void *events_listener(void *arg);

#endif
