/* One error type for the whole project.
 *
 * Functions that can fail return `cella_res` (a one-field struct, so it cannot be
 * confused with an int and the compiler warns when it is ignored). On failure the
 * details live in a thread-local context: a code, a sentence saying what went
 * wrong, and "where" (usually a file path or field name). The CLI prints them as
 *     cella: error: <what> (<where>)
 * Error text must never contain secret material: callers pass paths and field
 * names, never key bytes.
 */
#ifndef CELLA_CORE_ERROR_H
#define CELLA_CORE_ERROR_H

#include <stdarg.h>

#define CELLA_ERRORS(X)                                                        \
    X(CELLA_OK, "ok")                                                          \
    X(CELLA_E_USAGE, "invalid usage")                                          \
    X(CELLA_E_IO, "input/output error")                                        \
    X(CELLA_E_NOMEM, "out of memory")                                          \
    X(CELLA_E_PARSE, "malformed input")                                        \
    X(CELLA_E_TOOBIG, "input too large")                                       \
    X(CELLA_E_AUTH, "authentication failed")                                   \
    X(CELLA_E_ROLLBACK, "stale state (rollback)")                              \
    X(CELLA_E_PATH, "unsafe path")                                             \
    X(CELLA_E_EXISTS, "already exists")                                        \
    X(CELLA_E_NOTFOUND, "not found")                                           \
    X(CELLA_E_CRYPTO, "cryptographic library failure")                         \
    X(CELLA_E_UNSUPPORTED, "unsupported")                                      \
    X(CELLA_E_PERM, "permission denied")                                       \
    X(CELLA_E_POLICY, "refused by policy")                                     \
    X(CELLA_E_UNAVAILABLE, "service unavailable")                              \
    X(CELLA_E_INTERNAL, "internal error")

typedef enum {
#define CELLA_X_ENUM(name, text) name,
    CELLA_ERRORS(CELLA_X_ENUM)
#undef CELLA_X_ENUM
        CELLA_E__COUNT
} cella_code;

typedef struct {
    cella_code code;
} cella_res;

#define CELLA_RESULT __attribute__((warn_unused_result)) cella_res
#define CELLA_OK_RES ((cella_res){CELLA_OK})

static inline int cella_ok(cella_res r) { return r.code == CELLA_OK; }

/* Records a failure in the thread's error context and returns it.
 * `where` may be NULL; `fmt` describes what went wrong (printf-style). */
cella_res cella_fail_at(cella_code code, const char *where, const char *src_file,
                        int src_line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define cella_fail(code, where, ...)                                           \
    cella_fail_at((code), (where), __FILE__, __LINE__, __VA_ARGS__)

/* Propagate a failure unchanged. */
#define CELLA_TRY(expr)                                                        \
    do {                                                                       \
        cella_res cella_r_ = (expr);                                           \
        if (cella_r_.code != CELLA_OK)                                         \
            return cella_r_;                                                   \
    } while (0)

/* Fail with `code` unless `cond` holds. */
#define CELLA_ENSURE(cond, code, where, ...)                                   \
    do {                                                                       \
        if (!(cond))                                                           \
            return cella_fail((code), (where), __VA_ARGS__);                   \
    } while (0)

/* Like CELLA_TRY, but jumps to a cleanup label, keeping the result in `res`. */
#define CELLA_GUARD(res, expr, label)                                          \
    do {                                                                       \
        (res) = (expr);                                                        \
        if ((res).code != CELLA_OK)                                            \
            goto label;                                                        \
    } while (0)

cella_code cella_error_code(void);
const char *cella_error_what(void);  /* never NULL */
const char *cella_error_where(void); /* "" when unknown */
const char *cella_error_origin(void); /* "file.c:123" of the first failure */
const char *cella_code_str(cella_code code);

/* Replace "where" on the current error (used when a lower layer knew only an
 * offset and the caller knows the file). Keeps the message. */
void cella_error_set_where(const char *where);
void cella_error_clear(void);

/* Programming errors (not hostile input): print and abort. */
_Noreturn void cella_misuse(const char *what, const char *src_file, int src_line);
#define CELLA_MISUSE(what) cella_misuse((what), __FILE__, __LINE__)

#endif
