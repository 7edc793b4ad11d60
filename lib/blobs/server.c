/* The blob server on libevent's evhttp: one event loop per thread, all
 * accepting from the one listening socket they are given. Replies are raw
 * bytes for blobs and JSON for everything else. */
#include "blobs/server.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobs/store.h"
#include "core/encoding.h"
#include "core/metrics.h"
#include "net/http_guard.h"
#include "net/http_metrics.h"
#include "net/http_server.h"

#define PREFIX "/v1/blobs/"

#define SMALL_BODY (64u * 1024)

static const char *const routes[] = {PREFIX ":sha256", NULL};

/* Shared by the threads (docs/metrics.md). */
typedef struct {
    cella_http_metrics *http;
    cella_counter received, sent; /* bytes of PUT bodies read, of GET bodies answered */
} blob_metrics;

typedef struct {
    const cella_blob_server_config *cfg;
    cella_blob_store *store;
    uint64_t max;
    blob_metrics *metrics;
    cella_http_guard *guard; /* shared by the threads */
    int status; /* of the request being answered, for the metrics */
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    int ready; /* 1 bound, -1 failed */
    char err[256];
} worker;

/* Every reply goes through here, so its status is counted. */
static void send_reply(worker *w, struct evhttp_request *req, int status, struct evbuffer *out)
{
    const char *reason = status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    evhttp_send_reply(req, status, reason, out);
    w->status = status;
}

static void reply_json(worker *w, struct evhttp_request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *out = evbuffer_new();
    if (text && out && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add(out, "\n", 1);
    }
    free(text);
    send_reply(w, req, status, out);
    if (out)
        evbuffer_free(out);
}

static void reply_error(worker *w, struct evhttp_request *req, int status, const char *code,
                        const char *msg)
{
    reply_json(w, req, status, json_pack("{s:s, s:s}", "error", msg, "code", code));
}

/* The body was spooled to a file in the store's folder as it arrived
 * (net/http_guard.h): adopt it, or refuse it if its hash is not the name. */
static void do_put(worker *w, struct evhttp_request *req, const uint8_t sha[32], const char *hex,
                   cella_http_spool *sp)
{
    if (sp->fd < 0) { /* every PUT under PREFIX is spooled: a bug otherwise */
        reply_error(w, req, 500, "internal", "upload was not received");
        return;
    }
    cella_counter_add(&w->metrics->received, sp->size);
    bool created = false;
    cella_res r = cella_blob_store_adopt(w->store, sha, sp->sha256, sp->name, sp->fd, &created);
    sp->fd = -1; /* adopted: closed, and renamed or removed */
    if (!cella_ok(r)) {
        if (r.code == CELLA_E_AUTH)
            reply_error(w, req, 400, "hash_mismatch", "body does not match the SHA-256 in the path");
        else
            reply_error(w, req, 500, "store", cella_error_what());
        return;
    }
    reply_json(w, req, created ? 201 : 200,
               json_pack("{s:s, s:I, s:b}", "sha256", hex, "size", (json_int_t)sp->size,
                         "created", created));
}

static void do_get(worker *w, struct evhttp_request *req, const uint8_t sha[32], bool head)
{
    int fd;
    uint64_t size;
    cella_res r = cella_blob_store_open_blob(w->store, sha, &fd, &size);
    if (!cella_ok(r)) {
        if (r.code == CELLA_E_NOTFOUND)
            reply_error(w, req, 404, "not_found", "no such blob");
        else
            reply_error(w, req, 500, "store", cella_error_what());
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/octet-stream");
    evhttp_add_header(h, "Cache-Control", "public, max-age=31536000, immutable");
    if (head) {
        char len[32];
        snprintf(len, sizeof len, "%" PRIu64, size);
        evhttp_add_header(h, "Content-Length", len);
        close(fd);
        send_reply(w, req, 200, NULL);
        return;
    }
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        close(fd);
        reply_error(w, req, 500, "internal", "out of memory");
        return;
    }
    if (size == 0)
        close(fd);
    else if (evbuffer_add_file(out, fd, 0, (ev_off_t)size) != 0) { /* takes the fd */
        evbuffer_free(out);
        evhttp_clear_headers(h);
        reply_error(w, req, 500, "internal", "cannot send the blob");
        return;
    }
    send_reply(w, req, 200, out);
    cella_counter_add(&w->metrics->sent, size);
    evbuffer_free(out);
}

static void scrape(worker *w, struct evhttp_request *req)
{
    enum evhttp_cmd_type c = evhttp_request_get_command(req);
    if (c != EVHTTP_REQ_GET && c != EVHTTP_REQ_HEAD) {
        reply_error(w, req, 405, "method", "use GET");
        return;
    }
    cella_buf b;
    cella_buf_init(&b, false);
    cella_http_metrics_write(w->metrics->http, &b);
    cella_http_guard_metrics(w->guard, &b);
    cella_metrics_family(&b, "cella_blobs_received_bytes_total", "counter",
                         "Bytes of blob bodies received (PUT).");
    cella_metrics_u64(&b, "cella_blobs_received_bytes_total", NULL,
                      cella_counter_get(&w->metrics->received));
    cella_metrics_family(&b, "cella_blobs_sent_bytes_total", "counter",
                         "Bytes of blobs answered (GET 200).");
    cella_metrics_u64(&b, "cella_blobs_sent_bytes_total", NULL,
                      cella_counter_get(&w->metrics->sent));
    struct evbuffer *out = b.failed ? NULL : evbuffer_new();
    if (!out) {
        reply_error(w, req, 500, "internal", "out of memory");
    } else {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", CELLA_METRICS_CONTENT_TYPE);
        evhttp_add_header(h, "Cache-Control", "no-store");
        evbuffer_add(out, b.p, b.len);
        send_reply(w, req, 200, out);
        evbuffer_free(out);
    }
    cella_buf_free(&b);
}

static void route(worker *w, struct evhttp_request *req, const char *path, cella_http_spool *sp)
{
    if (path && !strcmp(path, "/metrics")) {
        scrape(w, req);
        return;
    }
    if (!path || strncmp(path, PREFIX, strlen(PREFIX)) != 0) {
        reply_error(w, req, 404, "not_found", "no such route (expected /v1/blobs/<sha256>)");
        return;
    }
    const char *hex = path + strlen(PREFIX);
    uint8_t sha[32];
    if (!cella_ok(cella_blob_parse_id(hex, sha))) {
        reply_error(w, req, 400, "bad_id", "expected /v1/blobs/<64 lowercase hex digits>");
        return;
    }
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_PUT: do_put(w, req, sha, hex, sp); break;
    case EVHTTP_REQ_GET: do_get(w, req, sha, false); break;
    case EVHTTP_REQ_HEAD: do_get(w, req, sha, true); break;
    default: reply_error(w, req, 405, "method", "use GET, HEAD or PUT"); break;
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    worker *w = arg;
    uint64_t t0 = cella_monotonic_ns();
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    w->status = 0;
    cella_http_spool sp = {.fd = -1};
    (void)cella_http_guard_take_spool(w->guard, req, &sp);
    route(w, req, path, &sp);
    if (sp.fd >= 0) { /* refused before it was adopted */
        close(sp.fd);
        unlinkat(w->store->dirfd, sp.name, 0);
    }
    /* Every branch replies before it returns (a blob is streamed after). */
    cella_http_metrics_observe(w->metrics->http, cella_http_metrics_route(w->metrics->http, path),
                               w->status, cella_monotonic_ns() - t0);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    w->base = event_base_new();
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (!w->http || !cella_http_attach(w->base, w->http, w->cfg->fd)) {
        snprintf(w->err, sizeof w->err, "cannot accept on the listening socket: %s",
                 strerror(errno));
        __atomic_store_n(&w->ready, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    /* Uploads reach evhttp without their body (spooled by the guard, up to
     * w->max); nothing else needs one. */
    evhttp_set_max_body_size(w->http, (ev_ssize_t)SMALL_BODY);
    cella_http_guard_attach(w->guard, w->http);
    evhttp_set_max_headers_size(w->http, 16 * 1024);
    evhttp_set_timeout(w->http, 60);
    evhttp_set_allowed_methods(w->http, CELLA_HTTP_ALL_METHODS); /* others: JSON 405 below */
    evhttp_set_gencb(w->http, on_request, w);
    __atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
    event_base_dispatch(w->base);
    return NULL;
}

cella_res cella_blob_serve(const cella_blob_server_config *cfg)
{
    CELLA_ENSURE(cfg->fd >= 0, CELLA_E_INTERNAL, NULL, "no listening socket");
    uint64_t max = cfg->max_size ? cfg->max_size : CELLA_BLOB_DEFAULT_MAX;
    CELLA_ENSURE(max <= (uint64_t)SSIZE_MAX / 2, CELLA_E_USAGE, "--max-size", "too large");
    cella_blob_store store;
    blob_metrics metrics = {0};
    CELLA_TRY(cella_http_metrics_new("blobs", routes, &metrics.http));
    cella_res opened = cella_blob_store_open(cfg->data_dir, &store);
    if (!cella_ok(opened)) {
        cella_http_metrics_free(metrics.http);
        return opened;
    }
    evthread_use_pthreads();
    unsigned n = cfg->threads ? cfg->threads : 2;
    if (n > 64)
        n = 64;
    const cella_http_body_limit caps[] = {{"PUT", PREFIX, (size_t)max}, {NULL, NULL, 0}};
    const cella_http_guard_config gcfg = {.server = "blobs",
                                          .max_body = SMALL_BODY,
                                          .body_limits = caps,
                                          .spool_prefix = PREFIX,
                                          .spool_dirfd = store.dirfd};
    cella_http_guard *guard = NULL;
    cella_res made = cella_http_guard_new(&gcfg, &guard);
    worker *ws = cella_ok(made) ? calloc(n, sizeof *ws) : NULL;
    if (!ws) {
        cella_http_guard_free(guard);
        cella_blob_store_close(&store);
        cella_http_metrics_free(metrics.http);
        if (!cella_ok(made))
            return made;
        return cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    unsigned started = 0;
    cella_res r = CELLA_OK_RES;
    for (; started < n; started++) {
        ws[started] = (worker){
            .cfg = cfg, .store = &store, .max = max, .metrics = &metrics, .guard = guard};
        if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0) {
            r = cella_fail(CELLA_E_INTERNAL, NULL, "cannot start a server thread");
            break;
        }
        int st;
        while ((st = __atomic_load_n(&ws[started].ready, __ATOMIC_ACQUIRE)) == 0)
            usleep(1000);
        if (st < 0) {
            r = cella_fail(CELLA_E_IO, NULL, "%s", ws[started].err);
            pthread_join(ws[started].thread, NULL);
            if (ws[started].http)
                evhttp_free(ws[started].http);
            if (ws[started].base)
                event_base_free(ws[started].base);
            break;
        }
    }
    if (cella_ok(r)) {
        if (cfg->on_ready)
            cfg->on_ready(cfg->arg);
        int sig;
        sigwait(&stop, &sig);
    }
    for (unsigned i = 0; i < started; i++)
        event_base_loopbreak(ws[i].base);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].thread, NULL);
        evhttp_free(ws[i].http);
        event_base_free(ws[i].base);
    }
    free(ws);
    cella_http_guard_free(guard);
    cella_blob_store_close(&store);
    cella_http_metrics_free(metrics.http);
    return r;
}
