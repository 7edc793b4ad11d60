/* Logging to stderr (or an injected sink), one line per call.
 *
 * A log line can never carry a secret: before a line is written it is checked
 * against every live secret registered in core/secure.h, in raw, lower/upper hex
 * and base64 form, and any occurrence is replaced by "[REDACTED]". Code should
 * of course never pass secrets to the logger; this is the net below that rule.
 */
#ifndef CELLA_CORE_LOG_H
#define CELLA_CORE_LOG_H

#include <stddef.h>

typedef enum { CELLA_LOG_DEBUG, CELLA_LOG_INFO, CELLA_LOG_WARN, CELLA_LOG_ERROR } cella_log_level;

typedef void (*cella_log_sink)(cella_log_level level, const char *line, void *ctx);

void cella_log_set_level(cella_log_level min);
/* NULL restores the default sink (stderr, "cella: <level>: <line>"). */
void cella_log_set_sink(cella_log_sink sink, void *ctx);

void cella_log(cella_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cella_debug(...) cella_log(CELLA_LOG_DEBUG, __VA_ARGS__)
#define cella_info(...) cella_log(CELLA_LOG_INFO, __VA_ARGS__)
#define cella_warn(...) cella_log(CELLA_LOG_WARN, __VA_ARGS__)

/* Redact live secrets in place in a NUL-terminated string of capacity `cap`.
 * Exposed for the error printer and for tests. */
void cella_redact(char *s, size_t cap);

#endif
