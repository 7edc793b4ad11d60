/* Fuzzes the standby runtime's message (lib/runtime/standby.c): what the
 * worker, the enclave's host, writes on its stdin. The bytes go through
 * cella_standby_receive on a socket pair, as in the runtime. Invariants: an
 * accepted message has a non-empty log path and at most
 * CELLA_STANDBY_ARGS_MAX arguments, each inside the buffer; encoding them
 * again gives back the same bytes (length prefix included). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/standby.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sp[2];
    if (size > CELLA_STANDBY_MSG_MAX + 8 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
        return 0;
    /* a socket's buffer holds far more than one message: no reader thread needed */
    int big = 1 << 20;
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (size && write(sp[0], data, size) != (ssize_t)size) {
        close(sp[0]);
        close(sp[1]);
        return 0;
    }
    close(sp[0]);
    uint8_t *buf = malloc(CELLA_STANDBY_MSG_MAX);
    const char *log = NULL, *args[CELLA_STANDBY_ARGS_MAX + 1];
    size_t n = 0;
    if (buf && cella_ok(cella_standby_receive(sp[1], buf, &log, args, CELLA_STANDBY_ARGS_MAX, &n))) {
        if (!log || !log[0] || n > CELLA_STANDBY_ARGS_MAX)
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if ((const uint8_t *)args[i] < buf || (const uint8_t *)args[i] >= buf + CELLA_STANDBY_MSG_MAX)
                __builtin_trap();
        args[n] = NULL;
        uint8_t *again = malloc(CELLA_STANDBY_MSG_MAX + 4);
        size_t len = 0;
        if (!again || !cella_ok(cella_standby_encode(log, args, again, CELLA_STANDBY_MSG_MAX + 4, &len)) ||
            len != size || memcmp(again, data, size))
            __builtin_trap();
        free(again);
    }
    free(buf);
    close(sp[1]);
    return 0;
}
