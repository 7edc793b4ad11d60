/* The standby runtime's one message: runtime/standby.h. */
#include "runtime/standby.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

cella_res cella_standby_encode(const char *log_path, const char *const *args, uint8_t *buf,
                               size_t cap, size_t *len)
{
    size_t off = 4, nargs = 0;
    CELLA_ENSURE(cap >= 4, CELLA_E_TOOBIG, "standby", "no room for the message");
    for (const char *const *a = args; *a; a++)
        nargs++;
    CELLA_ENSURE(nargs <= CELLA_STANDBY_ARGS_MAX, CELLA_E_TOOBIG, "standby", "too many arguments");
    for (size_t i = 0; i <= nargs; i++) {
        const char *s = i == 0 ? log_path : args[i - 1];
        size_t l = strlen(s) + 1;
        CELLA_ENSURE(l <= cap - off && off + l - 4 <= CELLA_STANDBY_MSG_MAX, CELLA_E_TOOBIG,
                     "standby", "the task's arguments are too long");
        memcpy(buf + off, s, l);
        off += l;
    }
    size_t body = off - 4;
    buf[0] = (uint8_t)(body >> 24);
    buf[1] = (uint8_t)(body >> 16);
    buf[2] = (uint8_t)(body >> 8);
    buf[3] = (uint8_t)body;
    *len = off;
    return CELLA_OK_RES;
}

cella_res cella_standby_parse(const uint8_t *msg, size_t len, const char **log_path,
                              const char **args, size_t max, size_t *n)
{
    *n = 0;
    CELLA_ENSURE(len > 0 && msg[len - 1] == '\0', CELLA_E_PARSE, "standby",
                 "the task message does not end with a NUL");
    size_t off = 0, k = 0;
    while (off < len) {
        const char *s = (const char *)msg + off;
        size_t l = strlen(s); /* bounded: msg[len - 1] is NUL */
        if (k == 0) {
            *log_path = s;
        } else {
            CELLA_ENSURE(k - 1 < max, CELLA_E_TOOBIG, "standby", "too many arguments");
            args[k - 1] = s;
        }
        k++;
        off += l + 1;
    }
    CELLA_ENSURE(k >= 1 && (*log_path)[0], CELLA_E_PARSE, "standby", "the task message has no log file");
    *n = k - 1;
    return CELLA_OK_RES;
}

/* Reads exactly n bytes; *got tells how many came before the end of stream. */
static cella_res read_exact(int fd, uint8_t *p, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, p + *got, n - *got);
        if (r < 0 && errno == EINTR)
            continue;
        CELLA_ENSURE(r >= 0, CELLA_E_IO, "standby", "read: %s", strerror(errno));
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return CELLA_OK_RES;
}

cella_res cella_standby_receive(int fd, uint8_t *buf, const char **log_path, const char **args,
                                size_t max, size_t *n)
{
    uint8_t hdr[4];
    size_t got;
    CELLA_TRY(read_exact(fd, hdr, 4, &got));
    CELLA_ENSURE(got != 0, CELLA_E_NOTFOUND, "standby", "no task was handed (the worker stopped)");
    CELLA_ENSURE(got == 4, CELLA_E_PARSE, "standby", "the task message is truncated");
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    CELLA_ENSURE(len > 0 && len <= CELLA_STANDBY_MSG_MAX, CELLA_E_TOOBIG, "standby",
                 "the task message is %zu bytes", len);
    CELLA_TRY(read_exact(fd, buf, len, &got));
    CELLA_ENSURE(got == len, CELLA_E_PARSE, "standby", "the task message is truncated");
    /* One task per process: anything after the message means someone tries
     * to run a second task in this one, which is refused before the first. */
    uint8_t more;
    CELLA_TRY(read_exact(fd, &more, 1, &got));
    CELLA_ENSURE(got == 0, CELLA_E_POLICY, "standby",
                 "more than one task handed to a standby runtime: it runs one task only");
    return cella_standby_parse(buf, len, log_path, args, max, n);
}
