#include "core/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/encoding.h"
#include "core/secure.h"

static cella_log_level g_min = CELLA_LOG_INFO;
static cella_log_sink g_sink;
static void *g_sink_ctx;

void cella_log_set_level(cella_log_level min) { g_min = min; }

void cella_log_set_sink(cella_log_sink sink, void *ctx)
{
    g_sink = sink;
    g_sink_ctx = ctx;
}

static const char *level_name(cella_log_level l)
{
    switch (l) {
    case CELLA_LOG_DEBUG:
        return "debug";
    case CELLA_LOG_INFO:
        return "info";
    case CELLA_LOG_WARN:
        return "warning";
    case CELLA_LOG_ERROR:
        return "error";
    default:
        return "log";
    }
}

static void replace_all(char *s, size_t cap, const char *needle, size_t nlen)
{
    static const char mark[] = "[REDACTED]";
    if (nlen == 0)
        return;
    char *hit;
    while ((hit = memmem(s, strlen(s), needle, nlen)) != NULL) {
        size_t tail = strlen(hit + nlen);
        size_t mlen = sizeof mark - 1;
        size_t head = (size_t)(hit - s);
        if (head + mlen + tail + 1 > cap) {
            /* No room to splice: blank the secret out instead. */
            memset(hit, '*', nlen);
            continue;
        }
        memmove(hit + mlen, hit + nlen, tail + 1);
        memcpy(hit, mark, mlen);
    }
}

struct redact_ctx {
    char *s;
    size_t cap;
};

static void redact_one(const uint8_t *p, size_t n, void *vctx)
{
    struct redact_ctx *c = vctx;
    char enc[2 * 1024 + 8];
    if (n > 1024)
        n = 1024; /* long secrets: their first KiB is distinctive enough */
    replace_all(c->s, c->cap, (const char *)p, n);
    cella_hex_encode(enc, p, n, false);
    replace_all(c->s, c->cap, enc, 2 * n);
    cella_hex_encode(enc, p, n, true);
    replace_all(c->s, c->cap, enc, 2 * n);
    size_t blen = cella_base64_encode(enc, sizeof enc, p, n);
    /* drop '=' padding so a secret embedded in a longer base64 run still matches */
    while (blen && enc[blen - 1] == '=')
        blen--;
    if (blen >= 8)
        replace_all(c->s, c->cap, enc, blen - 2);
    cella_wipe(enc, sizeof enc);
}

void cella_redact(char *s, size_t cap)
{
    struct redact_ctx c = {s, cap};
    cella_secret_foreach(redact_one, &c);
}

void cella_log(cella_log_level level, const char *fmt, ...)
{
    if (level < g_min)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cella_redact(line, sizeof line);
    if (g_sink)
        g_sink(level, line, g_sink_ctx);
    else
        fprintf(stderr, "cella: %s: %s\n", level_name(level), line);
    cella_wipe(line, sizeof line);
}
