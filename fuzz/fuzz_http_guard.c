/* The connection guard (lib/net/http_guard.c) on arbitrary request bytes:
 * a real evhttp on loopback with the guard attached (body caps, spooling of
 * PUT /u/... bodies into a temporary folder), one connection per input that
 * sends the bytes, ends its half, and reads until the server closes or a
 * bounded number of loop turns has passed. */
#include <event2/event.h>
#include <event2/http.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "net/http_guard.h"
#include "net/http_server.h"

static struct event_base *g_base;
static cella_http_guard *g_guard;
static int g_dirfd = -1;
static struct sockaddr_in g_addr;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    cella_http_spool sp;
    if (cella_http_guard_take_spool(g_guard, req, &sp)) {
        close(sp.fd);
        unlinkat(g_dirfd, sp.name, 0);
    }
    evhttp_send_reply(req, 200, "OK", NULL);
}

static const cella_http_body_limit caps[] = {{"PUT", "/u/", 4096}, {NULL, NULL, 0}};
static cella_http_guard_config g_cfg = {
    .server = "fuzz", .max_body = 1024, .body_limits = caps, .spool_prefix = "/u/"};

static void setup(void)
{
    char dir[] = "/tmp/cella-fuzz-guard-XXXXXX";
    char url[64];
    int fd;
    if (!mkdtemp(dir) || (g_dirfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
        abort();
    g_cfg.spool_dirfd = g_dirfd;
    setenv("CELLA_HTTP_LIMITS", "request_seconds=1", 1);
    g_base = event_base_new();
    struct evhttp *http = g_base ? evhttp_new(g_base) : NULL;
    if (!http || !cella_ok(cella_http_listen("127.0.0.1:0", "fuzz", &fd, url)) ||
        !cella_http_attach(g_base, http, fd) ||
        !cella_ok(cella_http_guard_new(&g_cfg, &g_guard)))
        abort();
    cella_http_guard_attach(g_guard, http);
    evhttp_set_gencb(http, handle, NULL);
    evhttp_set_timeout(http, 1);
    socklen_t sl = sizeof g_addr;
    if (getsockname(fd, (struct sockaddr *)&g_addr, &sl) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_base)
        setup();
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c < 0)
        return 0;
    (void)connect(c, (struct sockaddr *)&g_addr, sizeof g_addr); /* EINPROGRESS on loopback */
    size_t off = 0;
    bool shut = false;
    char buf[4096];
    for (int turn = 0; turn < 400; turn++) {
        event_base_loop(g_base, EVLOOP_NONBLOCK);
        if (off < size) {
            ssize_t w = send(c, data + off, size - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
        } else if (!shut) {
            shutdown(c, SHUT_WR);
            shut = true;
        }
        ssize_t r = recv(c, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN))
            break;
        if (r < 0)
            usleep(500);
    }
    close(c);
    for (int turn = 0; turn < 20; turn++) /* let the server free the connection */
        event_base_loop(g_base, EVLOOP_NONBLOCK);
    return 0;
}
