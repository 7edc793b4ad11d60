/* Several replicas of one service (a hub, a cas) behind one setting, and the
 * one place that decides when a request may go to the next of them
 * (docs/failover.md).
 *
 * A list is URLs separated by commas (or, in cella.json, a JSON array), each
 * with the pin of its TLS key: one pin shared by every https:// replica (they
 * share one key), or one pin per URL in the same order.
 *
 * A request is sent to the replica that answered last (sticky: a healthy
 * cluster pays no failed connect per request) and goes to the next one only
 * when the connection failed, never on an HTTP status (an answer), and only
 * when that is safe: a request that failed before it was sent, always; one
 * that may have reached the server, only when it is safe to repeat (GET,
 * HEAD, PUT, DELETE, or a POST its caller marks repeatable). A signed request
 * is never replayed: each replica it goes to gives it a new challenge and it
 * is signed again. */
#ifndef CELLA_NET_ENDPOINTS_H
#define CELLA_NET_ENDPOINTS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define CELLA_ENDPOINTS_MAX 8
#define CELLA_ENDPOINT_URL_MAX 1024
/* The most a list or its pins take as text (commas included). */
#define CELLA_ENDPOINTS_TEXT_MAX 4096

typedef struct {
    char url[CELLA_ENDPOINT_URL_MAX]; /* http(s)://HOST:PORT, no trailing '/' */
    char pin[65]; /* lower-case hex SHA-256 of the SPKI; "" when none (http://) */
} cella_endpoint;

typedef struct cella_endpoints {
    unsigned n;
    cella_endpoint at[CELLA_ENDPOINTS_MAX];
    atomic_uint first; /* the replica that answered last: tried first */
} cella_endpoints;

/* How a list is named in its errors. */
typedef struct {
    const char *noun;     /* "hub", "cas": "the hub URL must be ..." */
    const char *url_what; /* the setting of the URLs ("--hub-url") */
    const char *pin_what; /* the setting of the pins ("--hub-fingerprint") */
    bool https_only;      /* http:// refused (cas) */
} cella_endpoints_spec;

/* The next entry of a comma-separated list *s, blanks around it removed,
 * into out (cap bytes; longer: "" and *too_long); *s moves past it. False
 * once the list is used up. */
bool cella_list_next(const char **s, char *out, size_t cap, bool *too_long);

/* Parses `urls` (one URL, or several separated by commas; blanks around
 * each ignored, trailing '/' removed) and `pins` (NULL or "": none; one
 * pin, shared by every https:// URL; or one per URL, the entry of an
 * http:// URL empty). A pin is 64 hex digits; one given for an http:// URL
 * is an error. An https:// URL left without a pin is not an error here:
 * cella_endpoints_unpinned finds it, for the caller's own advice. */
CELLA_RESULT cella_endpoints_parse(cella_endpoints *e, const char *urls, const char *pins,
                                   const cella_endpoints_spec *spec);

/* The first https:// URL without a pin, or NULL. */
const char *cella_endpoints_unpinned(const cella_endpoints *e);

/* A setting of cella.json as list text: a string as it is, an array of
 * strings joined by commas (an element may be "" or null: an http:// URL's
 * pin); absent (NULL): "". Anything else, or an element holding a comma, is
 * an error naming `what`. */
CELLA_RESULT cella_endpoints_json_text(const json_t *v, const char *what, char *out, size_t cap);

/* The list and its pins back as text, in the order they will be tried (the
 * sticky one first), for a child process: pins "" when there are none, else
 * one per URL. */
CELLA_RESULT cella_endpoints_text(const cella_endpoints *e, char *urls, size_t ucap, char *pins,
                                  size_t pcap);

/* ---- when to go to the next replica ---- */

typedef enum {
    CELLA_NET_ANSWERED,   /* an HTTP status came back: an answer, whatever it says */
    CELLA_NET_UNSENT,     /* the connection failed before the request was sent */
    CELLA_NET_UNANSWERED, /* it failed after the request may have been sent, before an answer */
    CELLA_NET_LOCAL,      /* anything else (a wrong key, a local failure): not a replica down */
} cella_net_outcome;

/* Whether a method is safe to repeat: GET, HEAD, PUT, DELETE, OPTIONS. */
bool cella_net_repeatable_method(const char *method);

/* Whether a request that ended with `o` may go to another replica. */
bool cella_net_may_retry(cella_net_outcome o, bool repeatable);

/* One try of a request on one replica: `one` is the caller's client narrowed
 * to it (no endpoints; base_url and pin that replica's). Sets *outcome. */
struct cella_http_client;
typedef cella_res (*cella_failover_attempt)(const struct cella_http_client *one, void *ctx,
                                            cella_net_outcome *outcome);

/* Runs `attempt` on c's replicas, the sticky one first, moving on as
 * cella_net_may_retry allows (a warning names each replica left), and makes
 * the replica that answered the sticky one. `what` ("GET /v1/x") names the
 * request in errors. A client without endpoints is one try on base_url. */
CELLA_RESULT cella_failover(const struct cella_http_client *c, bool repeatable, const char *what,
                            cella_failover_attempt attempt, void *ctx);

#endif
