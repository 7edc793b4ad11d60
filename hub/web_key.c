/* GET /v1/datasets/ADDR/key: whether the dataset's key is in the SMS, as
 * cas answers it (hub/sms_check.h), never the key. A lookup runs on a thread
 * of its own; while it does, the request waits on its loop's timer (a
 * deferred reply, like the events' long poll), so no loop ever blocks on
 * cas. */
#include "hub/web.h"
#include "identity/eth.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_TICK_MS 20
/* a waiting request gives up after this (a lookup ends within its timeout) */
#define KEY_WAIT_MS (HUB_SMS_TIMEOUT_S * 1000 + 1000)

static void reply(cella_http_req *req, const char *addr, const hub_sms_answer *a)
{
    json_t *v = a->state == HUB_SMS_YES  ? json_true()
                : a->state == HUB_SMS_NO ? json_false()
                                         : json_null();
    json_t *o = json_pack("{s:s, s:o}", "dataset", addr, "keyInSms", v);
    if (o && a->checked)
        json_object_set_new(o, "checkedAt", json_integer(a->checked));
    if (o && (a->state == HUB_SMS_UNKNOWN || a->state == HUB_SMS_PENDING))
        json_object_set_new(o, "reason", json_string(a->state == HUB_SMS_PENDING
                                                         ? "cas has not answered yet"
                                                         : a->reason));
    cella_http_reply(req, 200, o);
}

typedef struct {
    hub_sms *sms;
    cella_http_req *req; /* deferred */
    struct event *timer;
    uint8_t dataset[20];
    char addr[43];
    unsigned waited_ms;
} key_waiter;

static void key_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    key_waiter *w = arg;
    hub_sms_answer a;
    hub_sms_ask(w->sms, w->dataset, 0, &a);
    w->waited_ms += KEY_TICK_MS;
    if (a.state == HUB_SMS_PENDING && w->waited_ms < KEY_WAIT_MS)
        return;
    reply(w->req, w->addr, &a);
    event_free(w->timer);
    free(w);
}

void hub_web_dataset_key(hub_store *st, hub_sms *sms, cella_http_req *req, const char *id)
{
    uint8_t d[20];
    hub_resource res;
    cella_res r = cella_eth_address_parse(d, id, "dataset");
    /* only registered datasets: an address made up is never asked of cas */
    if (cella_ok(r))
        r = hub_store_resource_get(st, HUB_DATASET, d, &res);
    if (!cella_ok(r)) {
        cella_http_reply_failure(req, r);
        return;
    }
    char addr[43];
    cella_eth_address_checksum(addr, d);
    hub_sms_answer a;
    memset(&a, 0, sizeof a);
    if (!sms) {
        a.state = HUB_SMS_UNKNOWN;
        snprintf(a.reason, sizeof a.reason,
                 "this hub does not ask a cas (hub serve --cas URL --cas-fingerprint FP)");
        reply(req, addr, &a);
        return;
    }
    hub_sms_ask(sms, d, 1, &a);
    if (a.state != HUB_SMS_PENDING) {
        reply(req, addr, &a);
        return;
    }
    key_waiter *w = calloc(1, sizeof *w);
    if (w) {
        w->sms = sms;
        memcpy(w->dataset, d, 20);
        memcpy(w->addr, addr, sizeof addr);
        w->timer = event_new(cella_http_base(req), -1, EV_PERSIST, key_tick, w);
    }
    struct timeval tick = {0, KEY_TICK_MS * 1000};
    if (w && w->timer && event_add(w->timer, &tick) == 0)
        w->req = cella_http_defer(req);
    if (!w || !w->req) { /* out of memory, or this client waits on too many already */
        if (w && w->timer)
            event_free(w->timer);
        free(w);
        reply(req, addr, &a);
    }
}
