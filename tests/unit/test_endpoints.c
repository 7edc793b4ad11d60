/* Unit tests for lib/net/endpoints.h: replica lists and their pins, the
 * classification of a failed request, and failover (in order, sticky, never
 * repeating what is not safe to repeat), with scripted attempts and with
 * the HTTP client against real loopback sockets (a closed port, a server that
 * reads the request and hangs up, one that answers, one that keeps
 * connections alive). */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "net/endpoints.h"
#include "net/http_client.h"
#include "testutil.h"

#define PIN_A "AB" "00000000000000000000000000000000000000000000000000000000000000"
#define PIN_a "ab" "00000000000000000000000000000000000000000000000000000000000000"
#define PIN_B "cd" "00000000000000000000000000000000000000000000000000000000000000"

static const cella_endpoints_spec HUB = {"hub", "--hub-url", "--hub-fingerprint", false};
static const cella_endpoints_spec CAS = {"cas", "--cas", "--cas-fingerprint", true};

static cella_endpoints g_e; /* 9 KiB: off the stack */

static void parses_lists(void **state)
{
    (void)state;
    assert_succeeds(cella_endpoints_parse(&g_e, "http://a:1/", NULL, &HUB));
    assert_int_equal(g_e.n, 1);
    assert_string_equal(g_e.at[0].url, "http://a:1");
    assert_string_equal(g_e.at[0].pin, "");
    assert_succeeds(cella_endpoints_parse(&g_e, " http://a:1 ,https://b:2//,http://c:3", NULL, &HUB));
    assert_int_equal(g_e.n, 3);
    assert_string_equal(g_e.at[1].url, "https://b:2");
    assert_string_equal(cella_endpoints_unpinned(&g_e), "https://b:2");
    assert_fails_with(cella_endpoints_parse(&g_e, "http://a:1,,http://b:2", NULL, &HUB), CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "empty entry"));
    assert_fails_with(cella_endpoints_parse(&g_e, "http://a:1,http://A:1/", NULL, &HUB), CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "listed twice"));
    assert_fails_with(cella_endpoints_parse(&g_e, "", NULL, &HUB), CELLA_E_USAGE);
    assert_fails_with(cella_endpoints_parse(&g_e, "ftp://a:1", NULL, &HUB), CELLA_E_USAGE);
    assert_string_equal(cella_error_where(), "--hub-url");
    assert_fails_with(cella_endpoints_parse(&g_e, "http://a:1", NULL, &CAS), CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "the cas URL must be https://HOST:PORT"));
    char nine[400] = "";
    for (int i = 0; i < 9; i++)
        snprintf(nine + strlen(nine), sizeof nine - strlen(nine), "%shttp://h%d:1", i ? "," : "", i);
    assert_fails_with(cella_endpoints_parse(&g_e, nine, NULL, &HUB), CELLA_E_USAGE);
    nine[strlen(nine) - strlen(",http://h8:1")] = '\0';
    assert_succeeds(cella_endpoints_parse(&g_e, nine, NULL, &HUB));
    assert_int_equal(g_e.n, CELLA_ENDPOINTS_MAX);
}

static void parses_pins(void **state)
{
    (void)state;
    /* one pin: shared by every https:// replica, never given to http:// */
    assert_succeeds(cella_endpoints_parse(&g_e, "https://a:1,http://b:2,https://c:3", PIN_A, &HUB));
    assert_string_equal(g_e.at[0].pin, PIN_a);
    assert_string_equal(g_e.at[1].pin, "");
    assert_string_equal(g_e.at[2].pin, PIN_a);
    assert_null(cella_endpoints_unpinned(&g_e));
    /* one per URL, in order; an http:// URL's entry empty */
    assert_succeeds(cella_endpoints_parse(&g_e, "https://a:1,http://b:2,https://c:3",
                                          PIN_A ", ," PIN_B, &HUB));
    assert_string_equal(g_e.at[0].pin, PIN_a);
    assert_string_equal(g_e.at[1].pin, "");
    assert_string_equal(g_e.at[2].pin, PIN_B);
    /* an https:// replica left without one is found, for the caller's advice */
    assert_succeeds(cella_endpoints_parse(&g_e, "https://a:1,https://c:3", PIN_A ",", &HUB));
    assert_string_equal(cella_endpoints_unpinned(&g_e), "https://c:3");
    assert_fails_with(cella_endpoints_parse(&g_e, "https://a:1,https://b:2,https://c:3",
                                            PIN_A "," PIN_B, &HUB), CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "2 fingerprints for 3 hub URLs"));
    assert_fails_with(cella_endpoints_parse(&g_e, "https://a:1,http://b:2", PIN_A "," PIN_B, &HUB),
                      CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "only for an https:// hub"));
    assert_fails_with(cella_endpoints_parse(&g_e, "http://a:1", PIN_A, &HUB), CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "only for an https:// hub"));
    assert_fails_with(cella_endpoints_parse(&g_e, "https://a:1", "0x12", &HUB), CELLA_E_PARSE);
    assert_string_equal(cella_error_where(), "--hub-fingerprint");
}

static void json_lists(void **state)
{
    (void)state;
    char out[CELLA_ENDPOINTS_TEXT_MAX];
    json_t *v = json_loads("[\"https://a:1\", \"https://b:2\"]", 0, NULL);
    assert_succeeds(cella_endpoints_json_text(v, "hubUrl", out, sizeof out));
    assert_string_equal(out, "https://a:1,https://b:2");
    json_decref(v);
    v = json_loads("[\"" PIN_A "\", null, \"\"]", 0, NULL);
    assert_succeeds(cella_endpoints_json_text(v, "pins", out, sizeof out));
    assert_string_equal(out, PIN_A ",,");
    json_decref(v);
    v = json_string("http://a:1");
    assert_succeeds(cella_endpoints_json_text(v, "hubUrl", out, sizeof out));
    assert_string_equal(out, "http://a:1");
    json_decref(v);
    assert_succeeds(cella_endpoints_json_text(NULL, "hubUrl", out, sizeof out));
    assert_string_equal(out, "");
    const char *bad[] = {"[]", "[\"http://a:1,http://b:2\"]", "[1]", "7", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        assert_fails_with(cella_endpoints_json_text(v, "hubUrl", out, sizeof out), CELLA_E_PARSE);
        assert_string_equal(cella_error_where(), "hubUrl");
        json_decref(v);
    }
}

static void text_starts_at_the_sticky_one(void **state)
{
    (void)state;
    char urls[CELLA_ENDPOINTS_TEXT_MAX], pins[CELLA_ENDPOINTS_TEXT_MAX];
    assert_succeeds(cella_endpoints_parse(&g_e, "https://a:1,https://b:2,https://c:3", PIN_A, &CAS));
    atomic_store(&g_e.first, 1);
    assert_succeeds(cella_endpoints_text(&g_e, urls, sizeof urls, pins, sizeof pins));
    assert_string_equal(urls, "https://b:2,https://c:3,https://a:1");
    assert_string_equal(pins, PIN_a "," PIN_a "," PIN_a);
    assert_succeeds(cella_endpoints_parse(&g_e, "http://a:1,http://b:2", NULL, &HUB));
    assert_succeeds(cella_endpoints_text(&g_e, urls, sizeof urls, pins, sizeof pins));
    assert_string_equal(urls, "http://a:1,http://b:2");
    assert_string_equal(pins, "");
}

static void repeats_only_what_is_safe(void **state)
{
    (void)state;
    const char *safe[] = {"GET", "HEAD", "PUT", "DELETE"}, *unsafe[] = {"POST", "PATCH", "get"};
    for (size_t i = 0; i < 4; i++)
        assert_true(cella_net_repeatable_method(safe[i]));
    for (size_t i = 0; i < 3; i++)
        assert_false(cella_net_repeatable_method(unsafe[i]));
    assert_true(cella_net_may_retry(CELLA_NET_UNSENT, false));
    assert_false(cella_net_may_retry(CELLA_NET_UNANSWERED, false));
    assert_true(cella_net_may_retry(CELLA_NET_UNANSWERED, true));
    assert_false(cella_net_may_retry(CELLA_NET_ANSWERED, true));
    assert_false(cella_net_may_retry(CELLA_NET_LOCAL, true));
}

/* ---- failover with scripted attempts ---- */

typedef struct {
    cella_net_outcome by_url[3]; /* what a try on http://rN:1 ends with */
    bool fail_answered[3];       /* an answer that is an error (an HTTP 4xx/5xx) */
    char tried[200];
} script;

static cella_res scripted(const cella_http_client *one, void *ctx, cella_net_outcome *outcome)
{
    script *s = ctx;
    int i = one->base_url[8] - '0';
    snprintf(s->tried + strlen(s->tried), sizeof s->tried - strlen(s->tried), "%d", i);
    *outcome = s->by_url[i];
    if (*outcome == CELLA_NET_ANSWERED && !s->fail_answered[i])
        return CELLA_OK_RES;
    return cella_fail(CELLA_E_IO, one->base_url, "try %d failed", i);
}

static void run(script *s, bool repeatable, cella_res *r)
{
    cella_http_client c = {.endpoints = &g_e};
    s->tried[0] = '\0';
    *r = cella_failover(&c, repeatable, "POST /v1/x", scripted, s);
}

static void fails_over_in_order_and_sticks(void **state)
{
    (void)state;
    cella_log_set_level(CELLA_LOG_ERROR); /* the warnings of each failover */
    cella_res r;
    assert_succeeds(cella_endpoints_parse(&g_e, "http://r0:1,http://r1:1,http://r2:1", NULL, &HUB));
    script s = {{CELLA_NET_UNSENT, CELLA_NET_UNSENT, CELLA_NET_ANSWERED}, {0}, ""};
    run(&s, false, &r);
    assert_succeeds(r);
    assert_string_equal(s.tried, "012");
    /* sticky: the next request starts where the last answer came from */
    run(&s, false, &r);
    assert_string_equal(s.tried, "2");
    /* the sticky one down: the others in order, wrapping */
    s.by_url[2] = CELLA_NET_UNSENT;
    s.by_url[1] = CELLA_NET_ANSWERED;
    run(&s, false, &r);
    assert_succeeds(r);
    assert_string_equal(s.tried, "201");
    assert_int_equal(atomic_load(&g_e.first), 1);
    /* an answer, even an error, is final, and is where the next one goes */
    s.by_url[1] = CELLA_NET_UNSENT;
    s.by_url[2] = CELLA_NET_ANSWERED;
    s.fail_answered[2] = true;
    run(&s, true, &r);
    assert_fails_with(r, CELLA_E_IO);
    assert_string_equal(s.tried, "12");
    assert_string_equal(cella_error_what(), "try 2 failed");
    assert_int_equal(atomic_load(&g_e.first), 2);
}

static void never_repeats_what_is_unsafe(void **state)
{
    (void)state;
    cella_res r;
    assert_succeeds(cella_endpoints_parse(&g_e, "http://r0:1,http://r1:1,http://r2:1", NULL, &HUB));
    /* may have reached r0: a POST stops there, saying so */
    script s = {{CELLA_NET_UNANSWERED, CELLA_NET_ANSWERED, CELLA_NET_ANSWERED}, {0}, ""};
    run(&s, false, &r);
    assert_fails_with(r, CELLA_E_IO);
    assert_string_equal(s.tried, "0");
    assert_non_null(strstr(cella_error_what(), "try 0 failed; the request may have reached "
                                               "http://r0:1 and taken effect, so it is not sent to "
                                               "another replica"));
    assert_string_equal(cella_error_where(), "POST /v1/x");
    assert_int_equal(atomic_load(&g_e.first), 0);
    /* ... a repeatable one goes on */
    run(&s, true, &r);
    assert_succeeds(r);
    assert_string_equal(s.tried, "01");
    /* a local failure (a wrong key) is final: no other replica is tried */
    s.by_url[1] = CELLA_NET_LOCAL;
    run(&s, true, &r);
    assert_fails_with(r, CELLA_E_IO);
    assert_string_equal(s.tried, "1");
    /* all down: every replica named */
    atomic_store(&g_e.first, 0);
    s.by_url[0] = s.by_url[1] = s.by_url[2] = CELLA_NET_UNSENT;
    run(&s, false, &r);
    assert_fails_with(r, CELLA_E_IO);
    assert_string_equal(s.tried, "012");
    assert_string_equal(cella_error_what(),
                        "no replica answered: http://r0:1: try 0 failed; http://r1:1: try 1 "
                        "failed; http://r2:1: try 2 failed");
    /* one replica: its own error, as without a list */
    assert_succeeds(cella_endpoints_parse(&g_e, "http://r0:1", NULL, &HUB));
    s.by_url[0] = CELLA_NET_UNANSWERED;
    run(&s, false, &r);
    assert_string_equal(cella_error_what(), "try 0 failed");
}

/* ---- the HTTP client (net/tls_http.c) against real sockets ---- */

typedef struct {
    int fd;
    bool answer; /* else read the request and hang up */
    _Atomic int served;
} server;

/* Reads one request's head (enough for curl to have sent it). */
static void read_request(int c)
{
    char buf[4096];
    size_t got = 0;
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < sizeof buf - 1) {
        ssize_t k = read(c, buf + got, sizeof buf - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
}

static void *serve(void *arg)
{
    server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        read_request(c);
        s->served++;
        if (s->answer) {
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
            if (write(c, ok, sizeof ok - 1) < 0)
                perror("write");
        }
        close(c);
    }
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void real_sockets(void **state)
{
    (void)state;
    int dead, mute_port, live_port;
    close(listen_loopback(&dead)); /* nothing listens there now */
    server mute = {listen_loopback(&mute_port), false, 0}, live = {listen_loopback(&live_port), true, 0};
    assert_int_equal(listen(mute.fd, 8), 0);
    assert_int_equal(listen(live.fd, 8), 0);
    pthread_t t1, t2;
    pthread_create(&t1, NULL, serve, &mute);
    pthread_create(&t2, NULL, serve, &live);
    char urls[200];
    cella_http_response resp;
    cella_http_client c = {.endpoints = &g_e, .timeout_s = 5};
    /* a closed port: nothing was sent, even a POST goes on; then sticky */
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", dead, live_port);
    assert_succeeds(cella_endpoints_parse(&g_e, urls, NULL, &HUB));
    assert_succeeds(cella_http_call(&c, "POST", "/v1/x", NULL, cella_slice_of("{}", 2), &resp));
    assert_int_equal(resp.status, 200);
    assert_int_equal(atomic_load(&g_e.first), 1);
    cella_http_response_free(&resp);
    /* a server that reads the request and hangs up: a GET goes on ... */
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d,http://127.0.0.1:%d", mute_port, live_port);
    assert_succeeds(cella_endpoints_parse(&g_e, urls, NULL, &HUB));
    assert_succeeds(cella_http_call(&c, "GET", "/v1/x", NULL, cella_slice_of("", 0), &resp));
    assert_int_equal(resp.status, 200);
    assert_int_equal(mute.served, 1);
    cella_http_response_free(&resp);
    /* ... a POST does not: it may have been acted on */
    atomic_store(&g_e.first, 0);
    int before = live.served;
    assert_fails_with(cella_http_call(&c, "POST", "/v1/x", NULL, cella_slice_of("{}", 2), &resp),
                      CELLA_E_IO);
    assert_int_equal(resp.outcome, CELLA_NET_UNANSWERED);
    assert_non_null(strstr(cella_error_what(), "may have reached"));
    assert_int_equal(mute.served, 2);
    assert_int_equal(live.served, before);
    /* one replica alone: the outcome of a refused connection */
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d", dead);
    cella_http_client one = {.base_url = urls, .timeout_s = 5};
    assert_fails_with(cella_http_call(&one, "POST", "/v1/x", NULL, cella_slice_of("{}", 2), &resp),
                      CELLA_E_IO);
    assert_int_equal(resp.outcome, CELLA_NET_UNSENT);
    /* a refusal is an answer: the call fails at once and says so, rather
     * than retrying the port until its timeout (a worker whose hub was gone
     * spun a core that way) */
    assert_non_null(strstr(cella_error_what(), "Connection refused"));
    uint64_t t0 = cella_monotonic_ns();
    assert_fails_with(cella_http_call(&one, "GET", "/v1/x", NULL, cella_slice_of("", 0), &resp),
                      CELLA_E_IO);
    assert_true(cella_monotonic_ns() - t0 < 2000000000u);
    shutdown(mute.fd, SHUT_RDWR);
    shutdown(live.fd, SHUT_RDWR);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    close(mute.fd);
    close(live.fd);
}

/* A server keeping connections open: it answers every request on a
 * connection, or (hang_up_second) the first only, then reads the next and
 * hangs up, as one that closed an idle connection at that moment would. */
typedef struct {
    int fd;
    bool hang_up_second;
    _Atomic int accepted, served;
} keeper;

typedef struct {
    keeper *s;
    int c;
} keeper_conn;

static void *keep_conn(void *arg)
{
    keeper_conn *kc = arg;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    for (int n = 0;; n++) {
        char buf[4096];
        struct timeval tv = {5, 0};
        setsockopt(kc->c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t k = read(kc->c, buf, sizeof buf); /* one small request per read here */
        if (k <= 0 || (n > 0 && kc->s->hang_up_second))
            break;
        kc->s->served++;
        if (write(kc->c, ok, sizeof ok - 1) < 0)
            break;
    }
    close(kc->c);
    free(kc);
    return NULL;
}

/* A thread per connection: kept connections stay open side by side. */
static void *keep_serving(void *arg)
{
    keeper *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        s->accepted++;
        keeper_conn *kc = malloc(sizeof *kc);
        assert_non_null(kc);
        *kc = (keeper_conn){s, c};
        pthread_t t;
        pthread_create(&t, NULL, keep_conn, kc);
        pthread_detach(t);
    }
}

static long get_status(const cella_http_client *c)
{
    cella_http_response resp;
    assert_succeeds(cella_http_call(c, "GET", "/v1/x", NULL, cella_slice_of("", 0), &resp));
    long st = resp.status;
    cella_http_response_free(&resp);
    return st;
}

/* A client with a pool makes its calls on one kept-alive connection (the hub
 * client's several calls per `app run`); without one, a connection per call;
 * a kept connection serves only its own URL; one the server hung up on is
 * replaced once, transparently. */
static void kept_alive(void **state)
{
    (void)state;
    int port;
    keeper k = {listen_loopback(&port), false, 0, 0};
    assert_int_equal(listen(k.fd, 8), 0);
    pthread_t t;
    pthread_create(&t, NULL, keep_serving, &k);
    char url[100], other[100];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    snprintf(other, sizeof other, "http://localhost:%d", port);
    void *pool = cella_http_pool_new();
    cella_http_client c = {.base_url = url, .timeout_s = 5, .reuse = pool};
    for (int i = 0; i < 3; i++)
        assert_int_equal(get_status(&c), 200);
    assert_int_equal(k.accepted, 1);
    cella_http_client o = {.base_url = other, .timeout_s = 5, .reuse = pool};
    assert_int_equal(get_status(&o), 200); /* another URL: not on url's connection */
    assert_int_equal(k.accepted, 2);
    assert_int_equal(get_status(&c), 200); /* url's is still kept */
    assert_int_equal(k.accepted, 2);
    cella_http_client lone = {.base_url = url, .timeout_s = 5};
    assert_int_equal(get_status(&lone), 200);
    assert_int_equal(get_status(&lone), 200);
    assert_int_equal(k.accepted, 4);
    cella_http_pool_free(pool);
    /* the server hangs up on the kept connection's next request: a new one */
    k.hang_up_second = true;
    pool = cella_http_pool_new();
    c.reuse = pool;
    int served = k.served;
    assert_int_equal(get_status(&c), 200);
    assert_int_equal(get_status(&c), 200);
    assert_int_equal(k.accepted, 6);
    assert_int_equal(k.served, served + 2);
    cella_http_pool_free(pool);
    shutdown(k.fd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(k.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_lists),
        cmocka_unit_test(parses_pins),
        cmocka_unit_test(json_lists),
        cmocka_unit_test(text_starts_at_the_sticky_one),
        cmocka_unit_test(repeats_only_what_is_safe),
        cmocka_unit_test(fails_over_in_order_and_sticks),
        cmocka_unit_test(never_repeats_what_is_unsafe),
        cmocka_unit_test(real_sockets),
        cmocka_unit_test(kept_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
