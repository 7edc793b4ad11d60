/* Whether a dataset's key is in the SMS, for the web page (docs/web-page.md):
 * the hub asks its cas (hub serve --cas URL --cas-fingerprint FP, pinned as
 * every cas client is: net/http_client.h) with iExec's existence request,
 * HEAD /secrets/web3?secretAddress=A, whose answer is a status and never the
 * key. The answer is public, but page views must not become cas calls one
 * for one: answers are cached per dataset for a short time, at most
 * HUB_SMS_INFLIGHT lookups run at once (each on a thread of its own, never on
 * an event loop), and each ends within HUB_SMS_TIMEOUT_S. */
#ifndef CELLA_HUB_SMS_CHECK_H
#define CELLA_HUB_SMS_CHECK_H

#include <stdint.h>

#include "core/error.h"

#define HUB_SMS_CACHE 64      /* datasets remembered */
#define HUB_SMS_INFLIGHT 4    /* lookups running at once */
#define HUB_SMS_TIMEOUT_S 2L  /* one lookup: connect, TLS, answer */
#define HUB_SMS_TTL_S 30      /* a yes or no is asked again after this */
#define HUB_SMS_RETRY_S 5     /* an unknown (cas unreachable) after this */

typedef struct hub_sms hub_sms;

typedef enum { HUB_SMS_PENDING, HUB_SMS_YES, HUB_SMS_NO, HUB_SMS_UNKNOWN } hub_sms_state;

typedef struct {
    hub_sms_state state;
    char reason[256]; /* UNKNOWN: why (no key bytes: cas's HEAD has no body) */
    int64_t checked;  /* when cas answered (unix seconds); 0 if it did not */
} hub_sms_answer;

/* The cas replicas and their pins, as the worker takes them (--cas,
 * --cas-fingerprint: https:// only, every URL pinned). */
CELLA_RESULT hub_sms_new(const char *urls, const char *pins, hub_sms **out);
/* Waits for the lookups still running (each ends within its timeout). */
void hub_sms_free(hub_sms *s);

/* The answer for `dataset`: a fresh one from the cache, else PENDING after
 * starting a lookup (or joining the one running), or UNKNOWN when
 * HUB_SMS_INFLIGHT lookups run already. `start` false: only look. */
void hub_sms_ask(hub_sms *s, const uint8_t dataset[20], int start, hub_sms_answer *a);

/* Lookups made (HEAD requests sent) since the start. */
uint64_t hub_sms_lookups(const hub_sms *s);

#endif
