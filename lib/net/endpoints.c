/* Replica lists and failover (see endpoints.h). */
#include "net/endpoints.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"
#include "core/log.h"
#include "net/http_client.h"

bool cella_list_next(const char **s, char *out, size_t cap, bool *too_long)
{
    if (!*s)
        return false;
    const char *p = *s, *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    *s = comma ? comma + 1 : NULL;
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    *too_long = len >= cap;
    if (*too_long)
        len = 0;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

static cella_res parse_url(cella_endpoint *ep, const char *url, const cella_endpoints_spec *sp)
{
    size_t scheme = !strncmp(url, "https://", 8) ? 8 : !strncmp(url, "http://", 7) ? 7 : 0;
    if (sp->https_only && scheme != 8)
        scheme = 0;
    CELLA_ENSURE(scheme && strlen(url) > scheme, CELLA_E_USAGE, sp->url_what,
                 "the %s URL must be %s, not '%s'", sp->noun,
                 sp->https_only ? "https://HOST:PORT" : "http://HOST:PORT or https://HOST:PORT",
                 url);
    snprintf(ep->url, sizeof ep->url, "%s", url);
    size_t l = strlen(ep->url);
    while (l > scheme + 1 && ep->url[l - 1] == '/')
        ep->url[--l] = '\0';
    ep->pin[0] = '\0';
    return CELLA_OK_RES;
}

static cella_res parse_pin(cella_endpoint *ep, const char *pin, const cella_endpoints_spec *sp)
{
    bool https = !strncmp(ep->url, "https://", 8);
    if (!*pin)
        return CELLA_OK_RES;
    CELLA_ENSURE(https, CELLA_E_USAGE, sp->pin_what, "only for an https:// %s (the %s URL is %s)",
                 sp->noun, sp->noun, ep->url);
    uint8_t raw[32];
    CELLA_TRY(cella_hex_decode(raw, 32, pin, strlen(pin), sp->pin_what));
    cella_hex_encode(ep->pin, raw, 32, false);
    return CELLA_OK_RES;
}

cella_res cella_endpoints_parse(cella_endpoints *e, const char *urls, const char *pins,
                                const cella_endpoints_spec *sp)
{
    memset(e, 0, sizeof *e);
    atomic_init(&e->first, 0);
    char item[CELLA_ENDPOINT_URL_MAX];
    bool too_long;
    for (const char *s = urls; cella_list_next(&s, item, sizeof item, &too_long);) {
        CELLA_ENSURE(!too_long, CELLA_E_USAGE, sp->url_what, "a %s URL is too long", sp->noun);
        CELLA_ENSURE(item[0], CELLA_E_USAGE, sp->url_what,
                     "an empty entry in the list of %s URLs '%s'", sp->noun, urls);
        CELLA_ENSURE(e->n < CELLA_ENDPOINTS_MAX, CELLA_E_USAGE, sp->url_what,
                     "at most %d %s URLs", CELLA_ENDPOINTS_MAX, sp->noun);
        CELLA_TRY(parse_url(&e->at[e->n], item, sp));
        for (unsigned i = 0; i < e->n; i++)
            CELLA_ENSURE(strcasecmp(e->at[i].url, e->at[e->n].url), CELLA_E_USAGE, sp->url_what,
                         "%s is listed twice", e->at[i].url);
        e->n++;
    }
    CELLA_ENSURE(e->n, CELLA_E_USAGE, sp->url_what, "no %s URL", sp->noun);
    if (!pins || !*pins)
        return CELLA_OK_RES;
    char pin[80];
    unsigned k = 0;
    for (const char *s = pins; cella_list_next(&s, pin, sizeof pin, &too_long); k++)
        ;
    CELLA_ENSURE(k == 1 || k == e->n, CELLA_E_USAGE, sp->pin_what,
                 "%u fingerprints for %u %s URLs: give one, shared by every replica (they share "
                 "one TLS key), or one per URL in the same order",
                 k, e->n, sp->noun);
    if (k == 1) { /* shared by every https:// replica */
        unsigned https = 0;
        for (unsigned i = 0; i < e->n; i++)
            https += !strncmp(e->at[i].url, "https://", 8);
        CELLA_ENSURE(https, CELLA_E_USAGE, sp->pin_what,
                     "only for an https:// %s (the %s URL is %s)", sp->noun, sp->noun, urls);
        cella_list_next(&pins, pin, sizeof pin, &too_long);
        CELLA_ENSURE(!too_long && pin[0], CELLA_E_USAGE, sp->pin_what,
                     "expected 64 hex digits");
        for (unsigned i = 0; i < e->n; i++)
            if (!strncmp(e->at[i].url, "https://", 8))
                CELLA_TRY(parse_pin(&e->at[i], pin, sp));
        return CELLA_OK_RES;
    }
    for (unsigned i = 0; i < e->n && cella_list_next(&pins, pin, sizeof pin, &too_long); i++) {
        CELLA_ENSURE(!too_long, CELLA_E_USAGE, sp->pin_what, "expected 64 hex digits");
        CELLA_TRY(parse_pin(&e->at[i], pin, sp));
    }
    return CELLA_OK_RES;
}

const char *cella_endpoints_unpinned(const cella_endpoints *e)
{
    for (unsigned i = 0; i < e->n; i++)
        if (!strncmp(e->at[i].url, "https://", 8) && !e->at[i].pin[0])
            return e->at[i].url;
    return NULL;
}

cella_res cella_endpoints_json_text(const json_t *v, const char *what, char *out, size_t cap)
{
    out[0] = '\0';
    if (!v)
        return CELLA_OK_RES;
    if (json_is_string(v)) {
        CELLA_ENSURE(json_string_length(v) < cap, CELLA_E_USAGE, what, "too long");
        snprintf(out, cap, "%s", json_string_value(v));
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(json_is_array(v) && json_array_size(v) > 0, CELLA_E_PARSE, what,
                 "expected a string or a non-empty array of strings");
    size_t i, len = 0;
    const json_t *x;
    json_array_foreach(v, i, x) {
        const char *s = json_is_null(x) ? "" : json_string_value(x);
        CELLA_ENSURE(s && !strchr(s, ','), CELLA_E_PARSE, what,
                     "element %zu: expected a string without a comma", i);
        int n = snprintf(out + len, cap - len, "%s%s", i ? "," : "", s);
        CELLA_ENSURE(n >= 0 && (size_t)n < cap - len, CELLA_E_USAGE, what, "too long");
        len += (size_t)n;
    }
    return CELLA_OK_RES;
}

cella_res cella_endpoints_text(const cella_endpoints *e, char *urls, size_t ucap, char *pins,
                               size_t pcap)
{
    size_t ul = 0, pl = 0;
    bool any_pin = false;
    urls[0] = pins[0] = '\0';
    unsigned start = e->n ? atomic_load(&e->first) % e->n : 0;
    for (unsigned k = 0; k < e->n; k++)
        any_pin |= e->at[k].pin[0] != '\0';
    for (unsigned k = 0; k < e->n; k++) {
        const cella_endpoint *ep = &e->at[(start + k) % e->n];
        int a = snprintf(urls + ul, ucap - ul, "%s%s", k ? "," : "", ep->url);
        int b = any_pin ? snprintf(pins + pl, pcap - pl, "%s%s", k ? "," : "", ep->pin) : 0;
        CELLA_ENSURE(a >= 0 && (size_t)a < ucap - ul && b >= 0 && (size_t)b < pcap - pl,
                     CELLA_E_USAGE, ep->url, "the list of URLs is too long");
        ul += (size_t)a;
        pl += (size_t)b;
    }
    return CELLA_OK_RES;
}

bool cella_net_repeatable_method(const char *method)
{
    static const char *const safe[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (!strcmp(method, safe[i]))
            return true;
    return false;
}

bool cella_net_may_retry(cella_net_outcome o, bool repeatable)
{
    return o == CELLA_NET_UNSENT || (o == CELLA_NET_UNANSWERED && repeatable);
}

cella_res cella_failover(const cella_http_client *c, bool repeatable, const char *what,
                         cella_failover_attempt attempt, void *ctx)
{
    cella_net_outcome o = CELLA_NET_LOCAL;
    cella_endpoints *e = c->endpoints;
    if (!e || e->n == 0)
        return attempt(c, ctx, &o);
    unsigned n = e->n, start = atomic_load(&e->first) % n;
    char tried[700] = "", err[300];
    size_t tl = 0;
    cella_res r = CELLA_OK_RES;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (start + k) % n;
        cella_http_client one = *c;
        one.endpoints = NULL;
        one.base_url = e->at[i].url;
        one.pin = e->at[i].pin[0] ? e->at[i].pin : NULL;
        o = CELLA_NET_LOCAL;
        r = attempt(&one, ctx, &o);
        if (cella_ok(r) || o == CELLA_NET_ANSWERED) {
            if (i != start)
                atomic_store(&e->first, i);
            return r;
        }
        if (n == 1)
            return r;
        snprintf(err, sizeof err, "%s", cella_error_what());
        if (!cella_net_may_retry(o, repeatable)) {
            if (o != CELLA_NET_UNANSWERED)
                return r;
            return cella_fail(r.code, what,
                              "%s; the request may have reached %s and taken effect, so it is "
                              "not sent to another replica (it is not safe to repeat): check "
                              "whether it did, then retry",
                              err, e->at[i].url);
        }
        int m = snprintf(tried + tl, sizeof tried - tl, "%s%s: %s", k ? "; " : "", e->at[i].url, err);
        if (m > 0)
            tl = tl + (size_t)m < sizeof tried ? tl + (size_t)m : sizeof tried - 1;
        if (k + 1 < n)
            cella_warn("%s did not answer (%s): trying %s", e->at[i].url, err,
                       e->at[(i + 1) % n].url);
    }
    return cella_fail(r.code, what, "no replica answered: %s", tried);
}
