/* GET /v1/events: the events changes recorded, after a sequence number.
 * With wait=S, a request that finds none waits on its thread's loop, up to S
 * seconds, for a change to commit (events_wake): here, or on PostgreSQL on
 * any replica (the LISTEN thread, events_listener). */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "hub/server_int.h"
#include "hub/store.h"
#include "net/http_server.h"
#include "store/db.h"

#define EVENTS_WAIT_MAX 30      /* seconds a GET /v1/events may wait */
#define EVENTS_WAITING_MAX 256  /* deferred event requests at once (all threads) */
#define EVENTS_TICK_MS 50       /* how often a waiting request looks anyway (see events_wake) */
/* Tests set a longer tick (milliseconds) to show a change wakes the waiters:
 * answered within the tick, a waiter was not woken. */
#define EVENTS_TICK_ENV "CELLA_HUB_EVENTS_TICK_MS"

/* GET /v1/events?after=SEQ[&workerpool=0x..][&taskid=0x..][&limit=N][&wait=S], parsed. */
typedef struct {
    int64_t after;
    bool has_pool, has_task;
    uint8_t pool[20];
    uint8_t task[32];
    size_t limit;
    int64_t wait;
} events_query;

/* A waiting request: looked at when a change commits (events_wake), and
 * every EVENTS_TICK_MS on its thread's loop for its deadline. */
struct events_waiter {
    events_waiter *prev, *next; /* in app->waiters */
    hub_thread *t;
    cella_http_req *req; /* deferred */
    struct event *timer;
    events_query q;
    unsigned long gen; /* events_gen when last looked */
    struct timespec end;
};

/* A change committed: every waiting request looks now, each on its own
 * thread's loop (event_active is safe across threads: evthread_use_pthreads),
 * instead of at its next tick, up to EVENTS_TICK_MS later: a worker waiting
 * for work and a requester watching its task each paid that wait. At most
 * EVENTS_WAITING_MAX are woken, and one already woken is not queued again. */
static void events_wake(hub_app *a)
{
    __atomic_add_fetch(&a->events_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&a->waiters_lock);
    for (events_waiter *w = a->waiters; w; w = w->next)
        event_active(w->timer, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&a->waiters_lock);
}

static cella_res query_i64(cella_http_req *req, const char *key, int64_t max, int64_t *out)
{
    const char *v = cella_http_query(req, key);
    if (!v)
        return CELLA_OK_RES;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    CELLA_ENSURE(*v >= '0' && *v <= '9' && !*end && !errno && n <= max, CELLA_E_PARSE, key,
                 "an integer from 0 to %lld", (long long)max);
    *out = n;
    return CELLA_OK_RES;
}

/* Replies if there are events for q, or if `last_chance`; says whether it did. */
static bool events_reply(hub_thread *t, cella_http_req *req, const events_query *q,
                         bool last_chance)
{
    json_t *list = NULL;
    int64_t last = 0;
    cella_res r = hub_store_events(t->st, q->after, q->has_pool ? q->pool : NULL,
                                   q->has_task ? q->task : NULL, q->limit, &list, &last);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return true;
    }
    if (!json_array_size(list) && !last_chance) {
        json_decref(list);
        return false;
    }
    cella_http_reply(req, 200, json_pack("{s:o, s:I}", "events", list, "last", (json_int_t)last));
    return true;
}

/* Takes w out of app->waiters; the caller holds waiters_lock. */
static void events_waiter_unlink(events_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->t->app->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

/* Unlinks and frees w; the caller holds waiters_lock. */
static void events_waiter_drop(events_waiter *w)
{
    events_waiter_unlink(w);
    event_free(w->timer);
    __atomic_sub_fetch(&w->t->app->events_waiting, 1, __ATOMIC_RELAXED);
    free(w);
}

static void events_waiter_free(events_waiter *w)
{
    hub_app *a = w->t->app;
    pthread_mutex_lock(&a->waiters_lock);
    events_waiter_drop(w);
    pthread_mutex_unlock(&a->waiters_lock);
}

/* The thread's loop stopped: its waiters go (their requests are dropped with
 * the loop), before events_wake could touch an event of a freed loop. */
void events_thread_stop(void *tctx)
{
    hub_thread *t = tctx;
    hub_app *a = t->app;
    pthread_mutex_lock(&a->waiters_lock);
    for (events_waiter *w = a->waiters, *next; w; w = next) {
        next = w->next;
        if (w->t == t)
            events_waiter_drop(w);
    }
    pthread_mutex_unlock(&a->waiters_lock);
}

/* The waiter's next look: a tick from now, or its deadline if sooner. */
static int events_arm(events_waiter *w)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t left_us = (int64_t)(w->end.tv_sec - now.tv_sec) * 1000000 +
                      (w->end.tv_nsec - now.tv_nsec) / 1000;
    int64_t us = (int64_t)w->t->app->events_tick_ms * 1000;
    if (left_us < us)
        us = left_us > 0 ? left_us : 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    return event_add(w->timer, &tv);
}

/* A tick, the deadline, or a wake (events_wake). */
static void events_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    events_waiter *w = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    bool over = now.tv_sec > w->end.tv_sec ||
                (now.tv_sec == w->end.tv_sec && now.tv_nsec >= w->end.tv_nsec);
    unsigned long gen = __atomic_load_n(&w->t->app->events_gen, __ATOMIC_ACQUIRE);
    if (gen != w->gen || over) {
        w->gen = gen;
        if (events_reply(w->t, w->req, &w->q, over)) {
            events_waiter_free(w);
            return;
        }
    }
    if (events_arm(w) != 0) { /* cannot wait on: answer with what there is */
        (void)events_reply(w->t, w->req, &w->q, true);
        events_waiter_free(w);
    }
}

void events_get(hub_thread *t, cella_http_req *req)
{
    events_query q = {.after = 0};
    cella_res r = query_i64(req, "after", INT64_MAX, &q.after);
    if (cella_ok(r))
        r = query_i64(req, "wait", EVENTS_WAIT_MAX, &q.wait);
    if (cella_ok(r))
        r = query_addr(req, "workerpool", q.pool, &q.has_pool);
    const char *tq = cella_http_query(req, "taskid");
    q.has_task = tq != NULL;
    if (cella_ok(r) && tq)
        r = parse_hash(tq, q.task, "taskid");
    if (cella_ok(r))
        r = query_limit(req, &q.limit);
    if (!cella_ok(r)) {
        reply_err(req, r);
        return;
    }
    hub_app *a = t->app;
    unsigned long gen = __atomic_load_n(&a->events_gen, __ATOMIC_ACQUIRE);
    if (events_reply(t, req, &q, q.wait == 0))
        return;
    /* nothing yet: wait on this thread's loop, without blocking it */
    if (__atomic_add_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED) > EVENTS_WAITING_MAX) {
        __atomic_sub_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED);
        cella_http_error(req, 503, "cella-hub-busy",
                         "cella-hub-busy: %d requests are already waiting for events; retry "
                         "later or without wait (events)",
                         EVENTS_WAITING_MAX);
        return;
    }
    events_waiter *w = calloc(1, sizeof *w);
    if (w) {
        w->t = t;
        w->q = q;
        w->gen = gen;
        clock_gettime(CLOCK_MONOTONIC, &w->end);
        w->end.tv_sec += q.wait;
        w->timer = event_new(cella_http_base(req), -1, 0, events_tick, w);
    }
    if (w && w->timer && events_arm(w) == 0)
        w->req = cella_http_defer(req);
    if (w && w->req) {
        pthread_mutex_lock(&a->waiters_lock);
        w->next = a->waiters;
        if (a->waiters)
            a->waiters->prev = w;
        a->waiters = w;
        pthread_mutex_unlock(&a->waiters_lock);
    }
    if (!w || !w->req) {
        if (w && w->timer)
            event_free(w->timer);
        free(w);
        __atomic_sub_fetch(&a->events_waiting, 1, __ATOMIC_RELAXED);
        (void)events_reply(t, req, &q, true);
    }
}

/* Tells waiting event requests (GET /v1/events?wait=) to look again. */
void events_bump(hub_thread *t)
{
    events_wake(t->app);
}

/* With PostgreSQL, another replica's commits are announced by NOTIFY: this
 * thread LISTENs and wakes the waiting event requests, so a long poll here
 * sees a change made anywhere as it is announced. A lost
 * connection is made again every second; waiters are woken then too, since
 * announcements may have been missed meanwhile. */
void *events_listener(void *arg)
{
    hub_app *a = arg;
    cella_db *db = NULL;
    while (!__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE)) {
        if (!db) {
            if (!cella_ok(db_listen(a->db_path, HUB_EVENTS_CHANNEL, &db))) {
                db = NULL;
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
                continue;
            }
            events_wake(a);
        }
        struct pollfd p = {.fd = db_listen_fd(db), .events = POLLIN};
        if (poll(&p, 1, 500) <= 0)
            continue;
        unsigned n;
        if (!cella_ok(db_listen_drain(db, &n))) {
            cella_db_close(db);
            db = NULL;
            events_wake(a);
        } else if (n) {
            events_wake(a);
        }
    }
    cella_db_close(db);
    return NULL;
}

void events_init(hub_app *a)
{
    pthread_mutex_init(&a->waiters_lock, NULL);
    a->events_tick_ms = EVENTS_TICK_MS;
    const char *tick = getenv(EVENTS_TICK_ENV);
    if (tick && atoi(tick) > 0 && atoi(tick) <= 600000)
        a->events_tick_ms = (unsigned)atoi(tick);
}
