/* The guard's shared books: what each client address holds (connections,
 * long polls, bytes of unfinished bodies), the limits, and the refusal
 * counters. One mutex, held for a few comparisons per event. */
#include "net/http_guard_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[GUARD_REASONS] = {
    [GUARD_CONNS] = "conns",       [GUARD_DEADLINE] = "deadline", [GUARD_TOO_LARGE] = "too_large",
    [GUARD_PENDING] = "pending",   [GUARD_POLLS] = "polls",       [GUARD_MALFORMED] = "malformed",
    [GUARD_STORAGE] = "storage",
};

/* ---- limits ---------------------------------------------------------------------- */

static const struct {
    const char *key;
    size_t unit;
    size_t offset;
    bool wide; /* size_t rather than unsigned */
} limit_keys[] = {
    {"conns", 1, offsetof(cella_http_limits, conns), false},
    {"conns_per_addr", 1, offsetof(cella_http_limits, conns_per_addr), false},
    {"request_seconds", 1, offsetof(cella_http_limits, request_seconds), false},
    {"polls_per_addr", 1, offsetof(cella_http_limits, polls_per_addr), false},
    {"pending_mib", 1024 * 1024, offsetof(cella_http_limits, pending), true},
    {"pending_per_addr_mib", 1024 * 1024, offsetof(cella_http_limits, pending_per_addr), true},
};

/* One "key=N" of CELLA_HTTP_LIMITS. */
static cella_res set_limit(cella_http_limits *l, const char *item, size_t len)
{
    const char *eq = memchr(item, '=', len);
    CELLA_ENSURE(eq, CELLA_E_USAGE, "CELLA_HTTP_LIMITS", "expected key=N, got '%.*s'", (int)len,
                 item);
    size_t klen = (size_t)(eq - item);
    char num[16];
    size_t nlen = len - klen - 1;
    CELLA_ENSURE(nlen > 0 && nlen < sizeof num, CELLA_E_USAGE, "CELLA_HTTP_LIMITS",
                 "'%.*s' needs a number from 1 to 1000000", (int)klen, item);
    memcpy(num, eq + 1, nlen);
    num[nlen] = '\0';
    char *end;
    errno = 0;
    unsigned long v = strtoul(num, &end, 10);
    CELLA_ENSURE(num[0] >= '0' && num[0] <= '9' && !*end && !errno && v >= 1 && v <= 1000000,
                 CELLA_E_USAGE, "CELLA_HTTP_LIMITS", "'%.*s' needs a number from 1 to 1000000",
                 (int)klen, item);
    for (size_t i = 0; i < sizeof limit_keys / sizeof limit_keys[0]; i++) {
        if (strlen(limit_keys[i].key) != klen || memcmp(limit_keys[i].key, item, klen) != 0)
            continue;
        char *field = (char *)l + limit_keys[i].offset;
        if (limit_keys[i].wide)
            *(size_t *)field = (size_t)v * limit_keys[i].unit;
        else
            *(unsigned *)field = (unsigned)v;
        return CELLA_OK_RES;
    }
    return cella_fail(CELLA_E_USAGE, "CELLA_HTTP_LIMITS", "unknown key '%.*s'", (int)klen, item);
}

cella_res cella_http_limits_from_env(cella_http_limits *out)
{
    *out = (cella_http_limits){
        .conns = 1024,
        .conns_per_addr = 64,
        .request_seconds = 30,
        .polls_per_addr = 32,
        .pending = 64u * 1024 * 1024,
        .pending_per_addr = 16u * 1024 * 1024,
    };
    const char *s = getenv("CELLA_HTTP_LIMITS");
    while (s && *s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        CELLA_TRY(set_limit(out, s, len));
        s = comma ? comma + 1 : s + len;
    }
    return CELLA_OK_RES;
}

/* ---- per-address books ------------------------------------------------------------- */

struct guard_addr {
    struct guard_addr *next;
    uint32_t addr;
    unsigned conns, polls;
    size_t pending;
};

static unsigned bucket_of(uint32_t addr)
{
    return (addr * 2654435761u) >> (32 - GUARD_BUCKET_BITS);
}

/* The entry for addr, made if `make`; NULL if absent (or out of memory). */
static guard_addr *addr_find(cella_http_guard *g, uint32_t addr, bool make)
{
    guard_addr **slot = &g->buckets[bucket_of(addr)];
    for (guard_addr *a = *slot; a; a = a->next)
        if (a->addr == addr)
            return a;
    guard_addr *a = make ? calloc(1, sizeof *a) : NULL;
    if (a) {
        a->addr = addr;
        a->next = *slot;
        *slot = a;
    }
    return a;
}

/* Frees addr's entry once it holds nothing. */
static void addr_prune(cella_http_guard *g, uint32_t addr)
{
    for (guard_addr **p = &g->buckets[bucket_of(addr)]; *p; p = &(*p)->next) {
        guard_addr *a = *p;
        if (a->addr != addr)
            continue;
        if (!a->conns && !a->polls && !a->pending) {
            *p = a->next;
            free(a);
        }
        return;
    }
}

guard_verdict guard_conn_open(cella_http_guard *g, uint32_t addr)
{
    pthread_mutex_lock(&g->lock);
    guard_verdict v = GUARD_OK;
    guard_addr *a = g->conns < g->limits.conns ? addr_find(g, addr, true) : NULL;
    if (!a || a->conns >= g->limits.conns_per_addr) {
        v = GUARD_REFUSE;
    } else {
        a->conns++;
        g->conns++;
    }
    pthread_mutex_unlock(&g->lock);
    return v;
}

void guard_conn_close(cella_http_guard *g, uint32_t addr)
{
    pthread_mutex_lock(&g->lock);
    guard_addr *a = addr_find(g, addr, false);
    if (a && a->conns) {
        a->conns--;
        g->conns--;
        addr_prune(g, addr);
    }
    pthread_mutex_unlock(&g->lock);
}

guard_verdict guard_pending_add(cella_http_guard *g, uint32_t addr, size_t n)
{
    pthread_mutex_lock(&g->lock);
    guard_addr *a = addr_find(g, addr, false);
    guard_verdict v = GUARD_OK;
    if (!a || g->pending + n > g->limits.pending || a->pending + n > g->limits.pending_per_addr) {
        v = GUARD_REFUSE;
    } else {
        a->pending += n;
        g->pending += n;
    }
    pthread_mutex_unlock(&g->lock);
    return v;
}

void guard_pending_release(cella_http_guard *g, uint32_t addr, size_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&g->lock);
    guard_addr *a = addr_find(g, addr, false);
    if (a) {
        a->pending -= n < a->pending ? n : a->pending;
        g->pending -= n < g->pending ? n : g->pending;
        addr_prune(g, addr);
    }
    pthread_mutex_unlock(&g->lock);
}

bool cella_http_guard_poll_begin(cella_http_guard *g, uint32_t addr)
{
    pthread_mutex_lock(&g->lock);
    guard_addr *a = addr_find(g, addr, true);
    bool ok = a && a->polls < g->limits.polls_per_addr;
    if (ok)
        a->polls++;
    pthread_mutex_unlock(&g->lock);
    if (!ok)
        guard_count(g, GUARD_POLLS);
    return ok;
}

void cella_http_guard_poll_end(cella_http_guard *g, uint32_t addr)
{
    pthread_mutex_lock(&g->lock);
    guard_addr *a = addr_find(g, addr, false);
    if (a && a->polls) {
        a->polls--;
        addr_prune(g, addr);
    }
    pthread_mutex_unlock(&g->lock);
}

/* ---- connections by descriptor (for cella_http_guard_take_spool) --------------------- */

void guard_fd_set(cella_http_guard *g, int fd, guard_conn *c)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&g->lock);
    if ((size_t)fd >= g->nfds) {
        size_t n = (size_t)fd + 64;
        guard_conn **p = realloc(g->fds, n * sizeof *p);
        if (p) {
            memset(p + g->nfds, 0, (n - g->nfds) * sizeof *p);
            g->fds = p;
            g->nfds = n;
        }
    }
    if ((size_t)fd < g->nfds)
        g->fds[fd] = c;
    pthread_mutex_unlock(&g->lock);
}

/* Forgets fd's connection only if it is still c: a closed descriptor may
 * already serve a new connection. */
void guard_fd_clear(cella_http_guard *g, int fd, guard_conn *c)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&g->lock);
    if ((size_t)fd < g->nfds && g->fds[fd] == c)
        g->fds[fd] = NULL;
    pthread_mutex_unlock(&g->lock);
}

guard_conn *guard_fd_get(cella_http_guard *g, int fd)
{
    pthread_mutex_lock(&g->lock);
    guard_conn *c = fd >= 0 && (size_t)fd < g->nfds ? g->fds[fd] : NULL;
    pthread_mutex_unlock(&g->lock);
    return c;
}

/* ---- the guard ---------------------------------------------------------------------- */

cella_res cella_http_guard_new(const cella_http_guard_config *cfg, cella_http_guard **out)
{
    cella_http_guard *g = calloc(1, sizeof *g);
    CELLA_ENSURE(g, CELLA_E_NOMEM, NULL, "out of memory");
    cella_res r = cella_http_limits_from_env(&g->limits);
    if (!cella_ok(r)) {
        free(g);
        return r;
    }
    g->cfg = cfg;
    pthread_mutex_init(&g->lock, NULL);
    *out = g;
    return CELLA_OK_RES;
}

void cella_http_guard_free(cella_http_guard *g)
{
    if (!g)
        return;
    for (unsigned i = 0; i < (1u << GUARD_BUCKET_BITS); i++)
        while (g->buckets[i]) {
            guard_addr *a = g->buckets[i];
            g->buckets[i] = a->next;
            free(a);
        }
    free(g->fds);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void guard_count(cella_http_guard *g, guard_reason why)
{
    cella_counter_add(&g->refused[why], 1);
}

void cella_http_guard_metrics(const cella_http_guard *g, cella_buf *out)
{
    cella_metrics_family(out, "cella_http_refused_total", "counter",
                         "Connections or requests cut before a handler saw them, by reason.");
    for (int i = 0; i < GUARD_REASONS; i++) {
        const char *labels[] = {"server", g->cfg->server ? g->cfg->server : "", "reason",
                                reason_names[i], NULL};
        cella_metrics_u64(out, "cella_http_refused_total", labels,
                          cella_counter_get(&g->refused[i]));
    }
}
