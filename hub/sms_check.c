/* Whether a dataset's key is in cas's SMS (hub/sms_check.h). */
#include "hub/sms_check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/eth.h"
#include "net/http_client.h"

typedef struct {
    uint8_t dataset[20];
    int used;
    int64_t expires; /* monotonic seconds; a PENDING entry never expires */
    hub_sms_answer a;
} sms_entry;

struct hub_sms {
    cella_endpoints ep;
    cella_http_client http;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when a lookup ends */
    unsigned inflight;
    uint64_t lookups;
    sms_entry cache[HUB_SMS_CACHE];
};

typedef struct {
    hub_sms *s;
    size_t slot;
} lookup_job;

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

cella_res hub_sms_new(const char *urls, const char *pins, hub_sms **out)
{
    static const cella_endpoints_spec spec = {"cas", "--cas", "--cas-fingerprint", true};
    *out = NULL;
    hub_sms *s = calloc(1, sizeof *s);
    CELLA_ENSURE(s, CELLA_E_NOMEM, "--cas", "out of memory");
    cella_res r = cella_endpoints_parse(&s->ep, urls, pins, &spec);
    const char *unpinned = cella_ok(r) ? cella_endpoints_unpinned(&s->ep) : NULL;
    if (unpinned)
        r = cella_fail(CELLA_E_USAGE, "--cas-fingerprint",
                       "%s has no pin: give the fingerprint cas printed at its first start",
                       unpinned);
    if (!cella_ok(r)) {
        free(s);
        return r;
    }
    s->http.endpoints = &s->ep;
    s->http.timeout_s = HUB_SMS_TIMEOUT_S;
    s->http.max_response = 4096; /* a HEAD: no body expected */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    *out = s;
    return CELLA_OK_RES;
}

void hub_sms_free(hub_sms *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    while (s->inflight)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}

uint64_t hub_sms_lookups(const hub_sms *s)
{
    return __atomic_load_n(&s->lookups, __ATOMIC_RELAXED);
}

/* One HEAD to cas: 204 (or 200) the key is there, 404 it is not; anything
 * else, or no answer, is unknown with the reason. */
static void lookup(hub_sms *s, const uint8_t dataset[20], hub_sms_answer *a)
{
    char addr[43], path[120];
    cella_eth_address_checksum(addr, dataset);
    snprintf(path, sizeof path, "/secrets/web3?secretAddress=%s", addr);
    cella_http_response resp;
    memset(a, 0, sizeof *a);
    cella_res r = cella_http_call(&s->http, "HEAD", path, NULL, cella_slice_of("", 0), &resp);
    if (!cella_ok(r)) {
        a->state = HUB_SMS_UNKNOWN;
        snprintf(a->reason, sizeof a->reason, "cas unreachable: %s", cella_error_what());
        return;
    }
    long status = resp.status;
    cella_http_response_free(&resp);
    a->checked = (int64_t)time(NULL);
    if (status == 204 || status == 200) {
        a->state = HUB_SMS_YES;
    } else if (status == 404) {
        a->state = HUB_SMS_NO;
    } else {
        a->state = HUB_SMS_UNKNOWN;
        snprintf(a->reason, sizeof a->reason, "cas answered HTTP %ld", status);
    }
}

static void *lookup_thread(void *arg)
{
    lookup_job *j = arg;
    hub_sms *s = j->s;
    sms_entry *e = &s->cache[j->slot];
    hub_sms_answer a;
    lookup(s, e->dataset, &a); /* a PENDING entry keeps its dataset: read without the lock */
    pthread_mutex_lock(&s->mu);
    e->a = a;
    e->expires = mono_s() + (a.state == HUB_SMS_UNKNOWN ? HUB_SMS_RETRY_S : HUB_SMS_TTL_S);
    s->inflight--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    free(j);
    return NULL;
}

/* The entry for `dataset`, or the one to reuse for it (a free one, else the
 * one expiring first that is not being looked up); SIZE_MAX if none. */
static size_t slot_for(const hub_sms *s, const uint8_t dataset[20], int *found)
{
    size_t best = SIZE_MAX;
    *found = 0;
    for (size_t i = 0; i < HUB_SMS_CACHE; i++) {
        const sms_entry *e = &s->cache[i];
        if (e->used && !memcmp(e->dataset, dataset, 20)) {
            *found = 1;
            return i;
        }
        if (!e->used)
            best = i;
        else if (e->a.state != HUB_SMS_PENDING &&
                 (best == SIZE_MAX || (s->cache[best].used && e->expires < s->cache[best].expires)))
            best = i;
    }
    return best;
}

/* Starts the lookup of slot i (under the lock); false if no thread could be made. */
static int start_lookup(hub_sms *s, size_t i)
{
    lookup_job *j = malloc(sizeof *j);
    pthread_t th;
    pthread_attr_t at;
    if (!j || pthread_attr_init(&at)) {
        free(j);
        return 0;
    }
    j->s = s;
    j->slot = i;
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(&th, &at, lookup_thread, j) == 0;
    pthread_attr_destroy(&at);
    if (!ok)
        free(j);
    return ok;
}

void hub_sms_ask(hub_sms *s, const uint8_t dataset[20], int start, hub_sms_answer *a)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_lock(&s->mu);
    int found;
    size_t i = slot_for(s, dataset, &found);
    sms_entry *e = i == SIZE_MAX ? NULL : &s->cache[i];
    if (found && (e->a.state == HUB_SMS_PENDING || e->expires > mono_s() || !start)) {
        *a = e->a; /* fresh, being looked up, or only looked at */
    } else if (!start) {
        a->state = HUB_SMS_UNKNOWN;
        snprintf(a->reason, sizeof a->reason, "not asked yet");
    } else if (!e || s->inflight >= HUB_SMS_INFLIGHT) {
        a->state = HUB_SMS_UNKNOWN;
        snprintf(a->reason, sizeof a->reason,
                 "not asked: %d lookups of other datasets are running; retry in a moment",
                 HUB_SMS_INFLIGHT);
    } else {
        memset(e, 0, sizeof *e);
        memcpy(e->dataset, dataset, 20);
        e->used = 1;
        e->a.state = HUB_SMS_PENDING;
        s->inflight++;
        __atomic_add_fetch(&s->lookups, 1, __ATOMIC_RELAXED);
        if (!start_lookup(s, i)) {
            s->inflight--;
            e->a.state = HUB_SMS_UNKNOWN;
            snprintf(e->a.reason, sizeof e->a.reason, "not asked: no thread for the lookup");
            e->expires = mono_s(); /* asked again next time */
        }
        *a = e->a;
    }
    pthread_mutex_unlock(&s->mu);
}
