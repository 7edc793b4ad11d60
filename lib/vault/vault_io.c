#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vault/vault_msg.h"

static cella_res io_fail(const char *what)
{
    return cella_fail(CELLA_E_IO, "vault", "%s: %s", what, errno ? strerror(errno) : "closed");
}

CELLA_RESULT cella_vault_send(int fd, const cella_vault_msg *m)
{
    cella_buf b;
    cella_buf_init(&b, true); /* it may carry a secret */
    cella_vault_encode(&b, m);
    cella_res r = cella_buf_result(&b);
    for (size_t off = 0; cella_ok(r) && off < b.len;) {
        ssize_t n = send(fd, b.p + off, b.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            r = io_fail("send");
        else
            off += (size_t)n;
    }
    cella_buf_free(&b);
    return r;
}

static cella_res read_full(int fd, uint8_t *p, size_t n, int timeout_ms)
{
    for (size_t off = 0; off < n;) {
        if (timeout_ms >= 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int k = poll(&pfd, 1, timeout_ms);
            if (k < 0 && errno == EINTR)
                continue;
            if (k == 0) {
                errno = ETIMEDOUT;
                return io_fail("no answer");
            }
            if (k < 0)
                return io_fail("poll");
        }
        errno = 0;
        ssize_t got = recv(fd, p + off, n - off, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return io_fail("recv");
        off += (size_t)got;
    }
    return CELLA_OK_RES;
}

CELLA_RESULT cella_vault_recv(int fd, bool reply, int timeout_ms, cella_buf *buf,
                              cella_vault_msg *m)
{
    uint8_t hdr[CELLA_VAULT_HDR];
    size_t rest;
    CELLA_TRY(read_full(fd, hdr, sizeof hdr, timeout_ms));
    cella_res h = cella_vault_header(cella_slice_of(hdr, sizeof hdr), reply, &rest);
    if (!cella_ok(h)) {
        /* Where the next message starts is unknown: the stream is unusable. */
        char what[256];
        snprintf(what, sizeof what, "%s", cella_error_what());
        return cella_fail(CELLA_E_IO, "vault", "malformed header: %s", what);
    }
    cella_buf_append(buf, hdr, sizeof hdr);
    /* One allocation of the announced size (bounded by the header check). */
    uint8_t *body = NULL;
    if (rest) {
        static const uint8_t zero[4096];
        for (size_t left = rest; left;) {
            size_t k = left < sizeof zero ? left : sizeof zero;
            cella_buf_append(buf, zero, k);
            left -= k;
        }
        CELLA_TRY(cella_buf_result(buf));
        body = buf->p + CELLA_VAULT_HDR;
    }
    CELLA_TRY(cella_buf_result(buf));
    if (rest)
        CELLA_TRY(read_full(fd, body, rest, timeout_ms));
    return cella_vault_parse(cella_slice_of(buf->p, buf->len), reply, m);
}
