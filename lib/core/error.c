#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct error_ctx {
    cella_code code;
    char what[1024]; /* room for a failure and what was done about it */
    char where[1024];
    char origin[128];
};

static _Thread_local struct error_ctx g_err;

static const char *const g_code_text[] = {
#define CELLA_X_TEXT(name, text) [name] = text,
    CELLA_ERRORS(CELLA_X_TEXT)
#undef CELLA_X_TEXT
};

const char *cella_code_str(cella_code code)
{
    if ((unsigned)code >= CELLA_E__COUNT)
        return "unknown error";
    return g_code_text[code];
}

cella_res cella_fail_at(cella_code code, const char *where, const char *src_file,
                        int src_line, const char *fmt, ...)
{
    /* Format into locals first: callers may re-raise the current error, passing
     * pointers into this very context. */
    char what[sizeof g_err.what], w[sizeof g_err.where];
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
    } else {
        snprintf(what, sizeof what, "%s", cella_code_str(code));
    }
    snprintf(w, sizeof w, "%s", where ? where : "");
    g_err.code = code;
    memcpy(g_err.what, what, sizeof what);
    memcpy(g_err.where, w, sizeof w);
    const char *base = strrchr(src_file, '/');
    snprintf(g_err.origin, sizeof g_err.origin, "%s:%d", base ? base + 1 : src_file,
             src_line);
    return (cella_res){code};
}

cella_code cella_error_code(void) { return g_err.code; }

const char *cella_error_what(void)
{
    return g_err.what[0] ? g_err.what : cella_code_str(g_err.code);
}

const char *cella_error_where(void) { return g_err.where; }
const char *cella_error_origin(void) { return g_err.origin; }

void cella_error_set_where(const char *where)
{
    snprintf(g_err.where, sizeof g_err.where, "%s", where ? where : "");
}

void cella_error_clear(void) { memset(&g_err, 0, sizeof g_err); }

void cella_misuse(const char *what, const char *src_file, int src_line)
{
    fprintf(stderr, "cella: internal error: %s (%s:%d)\n", what, src_file, src_line);
    abort();
}
