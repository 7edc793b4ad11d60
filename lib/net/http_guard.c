/* The guard's connections: a callback on each connection's input buffer
 * reads every request with http-parser before evhttp does (net/http_guard.h
 * says why). It runs as bytes are added, before evhttp's read callback.
 *
 * The new bytes are parsed with the parser paused at each message's begin,
 * end of headers and end, so each stretch between two pauses belongs to one
 * phase. A stretch stays for evhttp (FWD), is held back until its headers are
 * complete (HOLD: only where bodies may be spooled, to decide whether evhttp
 * sees the original headers), or is dropped (a spooled body: its bytes went
 * to a file in on_body). Only HOLD and DROP rewrite the buffer; evhttp has
 * not seen those bytes. A refusal is written on the socket itself (evhttp
 * is reading, its writing side idle), which then shuts.
 *
 * (A bufferevent filter would be the textbook hook, but libevent 2.1's filter
 * holds evhttp's replies until the socket's next write event, and loses the
 * last one when evhttp closes the connection.) */
#include "net/http_guard_int.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <http_parser.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "crypto/aead.h"

#define URL_MAX 4096
#define CUT_LINGER_MS 200 /* time for a refusal to leave before the socket shuts */
#define SPOOL_RATE (64u * 1024) /* bytes a second an upload must average */

typedef enum { ROUTE_FWD, ROUTE_HOLD, ROUTE_DROP } route_mode;
typedef enum { OP_BYTES, OP_FLUSH_HOLD, OP_DISCARD_HOLD, OP_SYNTH, OP_CONTINUE } op_kind;

typedef struct {
    op_kind kind;
    route_mode mode; /* OP_BYTES */
    size_t n;        /* OP_BYTES */
} run_op;

struct guard_conn {
    cella_http_guard *g;
    struct bufferevent *bev;
    struct evhttp_connection *evcon;
    struct event *timer;
    bool busy;      /* in conn_in: our own changes to the buffer call it again */
    int fd;         /* known from the first check on */
    uint32_t addr;  /* network order */
    bool counted;   /* holds a connection place */
    bool reading;   /* a request is being read: the deadline runs */
    bool dead;      /* refused: input is dropped until the socket shuts */
    uint64_t start_ns;
    http_parser parser;
    route_mode mode;
    struct evbuffer *hold;
    /* the message being read */
    char url[URL_MAX];
    size_t url_len;
    bool url_over;
    char field[16];   /* the header name being read, if short */
    size_t field_len;
    bool last_value;  /* the last header callback was a value */
    bool expect_continue;
    size_t cap;       /* its body cap */
    uint64_t body;    /* body bytes so far */
    size_t pending;   /* of them, held in memory and counted */
    bool spooling;
    bool keep_alive;
    int cut_status;   /* set by a callback that stops the parser */
    guard_reason cut_why;
    char cut_msg[160];
    /* ops queued by callbacks for the stretch that ends at the pause */
    op_kind queued[2];
    int nqueued;
    /* the spool: being written, then ready for the handler */
    int spool_fd;
    char spool_name[32];
    EVP_MD_CTX *md;
    bool spool_ready;
    uint8_t spool_sha[32];
    uint64_t spool_size;
};

static const uint64_t NS = 1000000000ull;

static uint32_t peer_addr(int fd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &sl) != 0 || sa.sin_family != AF_INET)
        return 0;
    return sa.sin_addr.s_addr;
}

/* ---- spool ------------------------------------------------------------------------ */

static void spool_drop(guard_conn *c)
{
    if (c->spool_fd >= 0) {
        close(c->spool_fd);
        unlinkat(c->g->cfg->spool_dirfd, c->spool_name, 0);
    }
    c->spool_fd = -1;
    c->spool_ready = false;
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

static bool spool_open(guard_conn *c)
{
    uint8_t rnd[8];
    char hex[17];
    if (!cella_ok(cella_random(rnd, sizeof rnd)))
        return false;
    cella_hex_encode(hex, rnd, sizeof rnd, false);
    snprintf(c->spool_name, sizeof c->spool_name, ".up-%s", hex);
    c->spool_fd = openat(c->g->cfg->spool_dirfd, c->spool_name,
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    c->md = EVP_MD_CTX_new();
    if (c->spool_fd < 0 || !c->md || !EVP_DigestInit_ex(c->md, cella_md_sha256(), NULL)) {
        spool_drop(c);
        return false;
    }
    return true;
}

/* Appends the body bytes at..len, which end at offset c->body. */
static bool spool_write(guard_conn *c, const char *at, size_t len)
{
    return EVP_DigestUpdate(c->md, at, len) &&
           cella_ok(cella_pwrite_full(c->spool_fd, at, len, c->body - len, "upload"));
}

/* ---- refusals --------------------------------------------------------------------- */

static void stop_parser(guard_conn *c, int status, guard_reason why, const char *msg)
{
    c->cut_status = status;
    c->cut_why = why;
    snprintf(c->cut_msg, sizeof c->cut_msg, "%s", msg);
}

static const char *code_for(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 408: return "timeout";
    case 413: return "too_large";
    case 414: return "too_long";
    case 503: return "busy";
    default: return "internal";
    }
}

/* Writes a small reply on the socket itself: evhttp is reading, so its
 * bufferevent's writing side is idle (a TLS record goes through the session). */
static void send_raw(guard_conn *c, const char *text, size_t len)
{
    SSL *ssl = c->g->cfg->ssl ? bufferevent_openssl_get_ssl(c->bev) : NULL;
    if (ssl)
        (void)SSL_write(ssl, text, (int)len);
    else if (c->fd >= 0)
        (void)send(c->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Answers {"error","code"} with `status`, drops what the client sends from
 * now on, and shuts the socket after a short linger (evhttp then sees the end
 * of the connection and frees it). */
static void cut(guard_conn *c, int status, guard_reason why, const char *msg)
{
    if (c->dead)
        return;
    c->dead = true;
    c->reading = false;
    guard_count(c->g, why);
    guard_pending_release(c->g, c->addr, c->pending);
    c->pending = 0;
    spool_drop(c);
    json_t *j = json_pack("{s:s, s:s}", "error", msg, "code", code_for(status));
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    const char *reason = status == 408   ? "Request Timeout"
                         : status == 413 ? "Payload Too Large"
                         : status == 503 ? "Service Unavailable"
                                         : "Bad Request";
    char text[512];
    int n = snprintf(text, sizeof text,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s\n",
                     status, reason, body ? strlen(body) + 1 : 1, body ? body : "");
    free(body);
    if (n > 0 && (size_t)n < sizeof text)
        send_raw(c, text, (size_t)n);
    struct timeval linger = {0, CUT_LINGER_MS * 1000};
    event_add(c->timer, &linger);
}

/* ---- books ------------------------------------------------------------------------ */

/* Counts the connection against the caps (at its first bytes). */
static void check_conn(guard_conn *c)
{
    c->fd = bufferevent_getfd(c->bev);
    c->addr = peer_addr(c->fd);
    guard_fd_set(c->g, c->fd, c);
    if (guard_conn_open(c->g, c->addr) != GUARD_OK) {
        cut(c, 503, GUARD_CONNS, "too many connections (from this address or in all); retry later");
        return;
    }
    c->counted = true;
}

/* A request's time: request_seconds, plus for a spooled upload one second
 * per SPOOL_RATE bytes received (a large upload on a slow link still
 * finishes; a trickle of a few bytes a second does not). */
static uint64_t deadline_ns(const guard_conn *c)
{
    uint64_t limit = (uint64_t)c->g->limits.request_seconds * NS;
    if (c->spooling)
        limit += c->body / SPOOL_RATE * NS;
    return limit;
}

static void arm_deadline(guard_conn *c)
{
    uint64_t limit = deadline_ns(c);
    uint64_t spent = cella_monotonic_ns() - c->start_ns;
    uint64_t left = spent < limit ? limit - spent : 0;
    struct timeval tv = {(time_t)(left / NS), (suseconds_t)(left % NS / 1000)};
    event_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    guard_conn *c = arg;
    if (c->dead) { /* the refusal had its time to leave */
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
        return;
    }
    if (!c->reading)
        return;
    if (cella_monotonic_ns() - c->start_ns >= deadline_ns(c)) {
        char msg[128];
        snprintf(msg, sizeof msg, "request not received within %u seconds",
                 c->g->limits.request_seconds);
        cut(c, 408, GUARD_DEADLINE, msg);
    } else {
        arm_deadline(c);
    }
}

/* ---- parser callbacks ------------------------------------------------------------- */

static void queue_op(guard_conn *c, op_kind k)
{
    if (c->nqueued < 2)
        c->queued[c->nqueued++] = k;
}

static int on_begin(http_parser *p)
{
    guard_conn *c = p->data;
    c->url_len = 0;
    c->url_over = false;
    c->field_len = 0;
    c->last_value = false;
    c->expect_continue = false;
    c->body = 0;
    c->spooling = false;
    if (!c->reading) {
        c->reading = true;
        c->start_ns = cella_monotonic_ns();
        arm_deadline(c);
    }
    http_parser_pause(p, 1);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    guard_conn *c = p->data;
    if (len >= URL_MAX - c->url_len) {
        c->url_over = true;
        return 0;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    guard_conn *c = p->data;
    if (c->last_value) { /* a new header starts */
        c->last_value = false;
        c->field_len = 0;
    }
    if (c->field_len + len < sizeof c->field) {
        memcpy(c->field + c->field_len, at, len);
        c->field_len += len;
    } else {
        c->field_len = sizeof c->field; /* too long to be one we look at */
    }
    return 0;
}

/* Notes "Expect: 100-continue" (a value split between two reads is missed:
 * the client then sends its body after its own wait). */
static int on_value(http_parser *p, const char *at, size_t len)
{
    guard_conn *c = p->data;
    bool first = !c->last_value;
    c->last_value = true;
    if (first && c->field_len == 6 && !strncasecmp(c->field, "expect", 6) && len >= 12 &&
        !strncasecmp(at, "100-continue", 12))
        c->expect_continue = true;
    return 0;
}

/* The body cap for method and path (the URL up to '?'). */
static size_t cap_for(const cella_http_guard_config *cfg, const char *method, const char *path)
{
    for (const cella_http_body_limit *l = cfg->body_limits; l && l->prefix; l++)
        if ((!l->method || !strcmp(l->method, method)) &&
            !strncmp(path, l->prefix, strlen(l->prefix)))
            return l->max;
    return cfg->max_body;
}

size_t cella_http_guard_cap(const cella_http_guard *g, const char *method, const char *path)
{
    return cap_for(g->cfg, method, path);
}

static int on_headers(http_parser *p)
{
    guard_conn *c = p->data;
    const cella_http_guard_config *cfg = c->g->cfg;
    if (c->url_over) {
        stop_parser(c, 414, GUARD_MALFORMED, "request target too long");
        return -1;
    }
    if (p->upgrade) { /* CONNECT, or Connection: upgrade: what follows is not HTTP */
        stop_parser(c, 400, GUARD_MALFORMED, "protocol upgrades are not served");
        return -1;
    }
    c->url[c->url_len] = '\0';
    char *q = strchr(c->url, '?');
    if (q)
        *q = '\0';
    const char *method = http_method_str((enum http_method)p->method);
    c->cap = cap_for(cfg, method, c->url);
    bool declared = !(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX;
    if (declared && p->content_length > c->cap) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes (%s %.64s)", c->cap, method,
                 c->url);
        stop_parser(c, 413, GUARD_TOO_LARGE, msg);
        return -1;
    }
    c->spooling = cfg->spool_prefix && p->method == HTTP_PUT &&
                  !strncmp(c->url, cfg->spool_prefix, strlen(cfg->spool_prefix));
    if (q)
        *q = '?';
    if (c->spooling && c->spool_ready) { /* the last upload is not taken yet: no pipelining */
        stop_parser(c, 503, GUARD_PENDING, "one upload at a time on a connection");
        return -1;
    }
    if (c->spooling && !spool_open(c)) {
        stop_parser(c, 503, GUARD_STORAGE, "cannot store the upload now; retry later");
        return -1;
    }
    if (c->mode == ROUTE_HOLD)
        queue_op(c, c->spooling ? OP_DISCARD_HOLD : OP_FLUSH_HOLD);
    if (c->spooling && c->expect_continue)
        queue_op(c, OP_CONTINUE);
    http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    guard_conn *c = p->data;
    c->body += len;
    if (c->body > c->cap) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes", c->cap);
        stop_parser(c, 413, GUARD_TOO_LARGE, msg);
        return -1;
    }
    if (c->spooling) {
        if (!spool_write(c, at, len)) {
            stop_parser(c, 503, GUARD_STORAGE, "cannot store the upload now; retry later");
            return -1;
        }
        return 0;
    }
    if (guard_pending_add(c->g, c->addr, len) != GUARD_OK) {
        stop_parser(c, 503, GUARD_PENDING,
                    "too many unfinished request bodies (from this address or in all); retry later");
        return -1;
    }
    c->pending += len;
    return 0;
}

static int on_complete(http_parser *p)
{
    guard_conn *c = p->data;
    c->reading = false;
    event_del(c->timer);
    guard_pending_release(c->g, c->addr, c->pending);
    c->pending = 0;
    c->keep_alive = http_should_keep_alive(p) != 0;
    if (c->spooling) {
        unsigned int dl = 0;
        if (!EVP_DigestFinal_ex(c->md, c->spool_sha, &dl)) {
            stop_parser(c, 503, GUARD_STORAGE, "cannot store the upload now; retry later");
            return -1;
        }
        c->spool_ready = true;
        c->spool_size = c->body;
        queue_op(c, OP_SYNTH);
    }
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* ---- the input callback ---------------------------------------------------------- */

/* evhttp's view of a spooled request: its line, no body. */
static void synth(guard_conn *c, struct evbuffer *dst)
{
    evbuffer_add_printf(dst, "PUT %s HTTP/1.1\r\nHost: spool\r\nContent-Length: 0\r\n%s\r\n",
                        c->url, c->keep_alive ? "" : "Connection: close\r\n");
}

static void apply(guard_conn *c, const run_op *op, struct evbuffer *src, struct evbuffer *dst)
{
    switch (op->kind) {
    case OP_BYTES:
        if (op->mode == ROUTE_FWD)
            evbuffer_remove_buffer(src, dst, op->n);
        else if (op->mode == ROUTE_HOLD)
            evbuffer_remove_buffer(src, c->hold, op->n);
        else
            evbuffer_drain(src, op->n);
        break;
    case OP_FLUSH_HOLD: evbuffer_add_buffer(dst, c->hold); break;
    case OP_DISCARD_HOLD: evbuffer_drain(c->hold, evbuffer_get_length(c->hold)); break;
    case OP_SYNTH: synth(c, dst); break;
    case OP_CONTINUE: {
        static const char go[] = "HTTP/1.1 100 Continue\r\n\r\n";
        send_raw(c, go, sizeof go - 1);
        break;
    }
    }
}

/* Where the next bytes go once the queued ops are done. */
static void next_mode(guard_conn *c, op_kind k)
{
    switch (k) {
    case OP_FLUSH_HOLD: c->mode = ROUTE_FWD; break;
    case OP_DISCARD_HOLD: c->mode = ROUTE_DROP; break;
    case OP_SYNTH: c->mode = ROUTE_HOLD; break;
    default: break;
    }
}

/* The ops of one batch of new bytes: a few (one per pause, three pauses a
 * message), so they start in `local` and only a long pipelined burst
 * allocates. */
#define LOCAL_OPS 16
typedef struct {
    run_op *v;
    size_t n, cap;
    bool rewrite; /* some op is not FWD */
    run_op local[LOCAL_OPS];
} op_list;

static void push_op(op_list *l, run_op op)
{
    if (l->n && op.kind == OP_BYTES && l->v[l->n - 1].kind == OP_BYTES &&
        l->v[l->n - 1].mode == op.mode) {
        l->v[l->n - 1].n += op.n; /* one stretch more of the same */
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        run_op *v = l->v == l->local ? malloc(cap * sizeof *v) : realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->rewrite = true; /* caller sees the loss through n < parsed */
            return;
        }
        if (l->v == l->local)
            memcpy(v, l->local, sizeof l->local);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = op;
    if (op.kind != OP_BYTES || op.mode != ROUTE_FWD)
        l->rewrite = true;
}

/* Parses one segment of new bytes, adding what to do with them to ops. */
static void parse_segment(guard_conn *c, const char *data, size_t len, op_list *ops)
{
    size_t off = 0;
    while (off < len && !c->dead) {
        c->nqueued = 0;
        bool was_reading = c->reading;
        size_t n = http_parser_execute(&c->parser, &settings, data + off, len - off);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        route_mode mode = c->mode;
        if (e == HPE_CLOSED_CONNECTION) {
            /* bytes after a "Connection: close" request: evhttp closes anyway */
            push_op(ops, (run_op){OP_BYTES, ROUTE_DROP, len - off});
            return;
        }
        if (e != HPE_OK && e != HPE_PAUSED) {
            /* the stretch that failed never reaches evhttp: only the refusal answers */
            push_op(ops, (run_op){OP_BYTES, ROUTE_DROP, len - off});
            if (c->cut_status)
                cut(c, c->cut_status, c->cut_why, c->cut_msg);
            else
                cut(c, 400, GUARD_MALFORMED, http_errno_description(e));
            return;
        }
        push_op(ops, (run_op){OP_BYTES, mode, n});
        off += n;
        if (e == HPE_PAUSED)
            http_parser_pause(&c->parser, 0);
        for (int i = 0; i < c->nqueued; i++) {
            push_op(ops, (run_op){c->queued[i], ROUTE_FWD, 0});
            next_mode(c, c->queued[i]);
        }
        /* a message not spooled returns to HOLD after its end */
        if (was_reading && !c->reading && c->g->cfg->spool_prefix)
            c->mode = ROUTE_HOLD;
        if (n == 0 && e != HPE_PAUSED)
            return;
    }
}

/* Rebuilds buf: the `old` bytes evhttp has seen, then the new ones as ops say. */
static void rewrite(guard_conn *c, struct evbuffer *buf, size_t old, const op_list *ops)
{
    struct evbuffer *src = evbuffer_new();
    if (!src) {
        cut(c, 503, GUARD_STORAGE, "out of memory");
        return;
    }
    evbuffer_add_buffer(src, buf);
    evbuffer_remove_buffer(src, buf, old);
    for (size_t i = 0; i < ops->n; i++)
        apply(c, &ops->v[i], src, buf);
    evbuffer_free(src);
}

/* New bytes in the connection's input buffer. */
static void conn_in(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    guard_conn *c = arg;
    if (c->busy || !info->n_added)
        return;
    c->busy = true;
    size_t len = evbuffer_get_length(buf);
    size_t added = info->n_added < len ? info->n_added : len;
    size_t old = len - added;
    op_list ops = {.cap = LOCAL_OPS};
    ops.v = ops.local;
    struct evbuffer_ptr at;
    if (!c->dead && evbuffer_ptr_set(buf, &at, old, EVBUFFER_PTR_SET) == 0) {
        /* a read adds one or two chunks: no allocation unless it is more */
        struct evbuffer_iovec local[8];
        int nvec = evbuffer_peek(buf, (ev_ssize_t)added, &at, NULL, 0);
        struct evbuffer_iovec *vec = nvec > 0 && nvec <= 8 ? local
                                     : nvec > 0 ? calloc((size_t)nvec, sizeof *vec) : NULL;
        if (vec) {
            nvec = evbuffer_peek(buf, (ev_ssize_t)added, &at, vec, nvec);
            size_t left = added;
            for (int i = 0; i < nvec && left && !c->dead; i++) {
                size_t n = vec[i].iov_len < left ? vec[i].iov_len : left;
                parse_segment(c, vec[i].iov_base, n, &ops);
                left -= n;
            }
            if (vec != local)
                free(vec);
        } else if (nvec > 0) {
            cut(c, 503, GUARD_STORAGE, "out of memory");
        }
    }
    if (c->dead) /* evhttp never sees what a refused client sends */
        evbuffer_drain(buf, len - old);
    else if (ops.rewrite)
        rewrite(c, buf, old, &ops);
    if (ops.v != ops.local)
        free(ops.v);
    c->busy = false;
}

/* evhttp frees the connection (after its bufferevent stops). */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    guard_conn *c = arg;
    evbuffer_remove_cb(bufferevent_get_input(c->bev), conn_in, c);
    event_free(c->timer);
    guard_pending_release(c->g, c->addr, c->pending);
    if (c->counted)
        guard_conn_close(c->g, c->addr);
    guard_fd_clear(c->g, c->fd, c);
    spool_drop(c);
    if (c->hold)
        evbuffer_free(c->hold);
    free(c);
}

/* The guard of the thread's evhttp (cella_http_guard_attach runs on the
 * thread that serves it, and every callback of its connections runs there). */
static _Thread_local cella_http_guard *tl_guard;

/* The first bytes of a connection: its books start here (a connection that
 * never sends is evhttp's, closed by its idle timeout, and costs us
 * nothing). evhttp's close callback frees them. */
static void first_in(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct bufferevent *bev = arg;
    cella_http_guard *g = tl_guard;
    void *evcon = NULL;
    if (!info->n_added || !g)
        return;
    bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
    guard_conn *c = evcon ? calloc(1, sizeof *c) : NULL;
    if (c) {
        c->g = g;
        c->bev = bev;
        c->evcon = evcon;
        c->fd = -1;
        c->spool_fd = -1;
        c->mode = g->cfg->spool_prefix ? ROUTE_HOLD : ROUTE_FWD;
        c->start_ns = cella_monotonic_ns();
        c->reading = true; /* the first request's deadline runs from its first byte */
        http_parser_init(&c->parser, HTTP_REQUEST);
        c->parser.data = c;
        c->timer = evtimer_new(bufferevent_get_base(bev), on_timer, c);
        c->hold = g->cfg->spool_prefix ? evbuffer_new() : NULL;
    }
    if (!c || !c->timer || (g->cfg->spool_prefix && !c->hold)) {
        if (c && c->timer)
            event_free(c->timer);
        if (c && c->hold)
            evbuffer_free(c->hold);
        free(c);
        /* unguarded is not an option: the connection ends */
        evbuffer_drain(buf, evbuffer_get_length(buf));
        shutdown(bufferevent_getfd(bev), SHUT_RDWR);
        return;
    }
    evbuffer_remove_cb(buf, first_in, bev);
    evbuffer_add_cb(buf, conn_in, c);
    evhttp_connection_set_closecb(evcon, conn_closed, c);
    arm_deadline(c);
    check_conn(c);
    conn_in(buf, info, c);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    cella_http_guard *g = arg;
    SSL *ssl = g->cfg->ssl ? SSL_new(g->cfg->ssl) : NULL;
    if (g->cfg->ssl && !ssl)
        return NULL;
    struct bufferevent *bev =
        ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE)
            : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    if (ssl)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    evbuffer_add_cb(bufferevent_get_input(bev), first_in, bev);
    return bev;
}

void cella_http_guard_attach(cella_http_guard *g, struct evhttp *http)
{
    tl_guard = g;
    evhttp_set_bevcb(http, make_bev, g);
}

SSL *cella_http_guard_ssl(struct bufferevent *bev)
{
    return bev ? bufferevent_openssl_get_ssl(bev) : NULL;
}

static guard_conn *conn_of(cella_http_guard *g, struct evhttp_request *req)
{
    struct evhttp_connection *evc = evhttp_request_get_connection(req);
    struct bufferevent *bev = evc ? evhttp_connection_get_bufferevent(evc) : NULL;
    guard_conn *c = bev ? guard_fd_get(g, bufferevent_getfd(bev)) : NULL;
    return c && c->bev == bev ? c : NULL;
}

uint32_t cella_http_guard_addr(struct evhttp_request *req)
{
    struct evhttp_connection *evc = evhttp_request_get_connection(req);
    char *host = NULL;
    ev_uint16_t port = 0;
    struct in_addr a = {0};
    if (evc)
        evhttp_connection_get_peer(evc, &host, &port);
    if (!host || inet_pton(AF_INET, host, &a) != 1)
        return 0;
    return a.s_addr;
}

bool cella_http_guard_take_spool(cella_http_guard *g, struct evhttp_request *req,
                                 cella_http_spool *out)
{
    guard_conn *c = conn_of(g, req);
    if (!c || !c->spool_ready || c->spool_fd < 0)
        return false;
    out->fd = c->spool_fd;
    memcpy(out->name, c->spool_name, sizeof out->name);
    memcpy(out->sha256, c->spool_sha, 32);
    out->size = c->spool_size;
    c->spool_fd = -1;
    c->spool_ready = false;
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
    return true;
}
