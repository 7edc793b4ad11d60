/* What every part of cas uses: the clock, audit rows, error replies, hex in JSON. */
#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "cas/internal.h"
#include "cas/metrics.h"
#include "core/encoding.h"
#include "core/log.h"

int64_t cas_now(void) { return (int64_t)time(NULL); }

void cas_audit(cas_thread *t, const char *who, const char *action, const char *object,
                  const char *outcome, const char *why)
{
    cas_metrics_audited(action, outcome);
    /* A refusal is audited before it is answered: a failed audit write must
     * not replace the refusal's message in the thread's error context (with
     * the database down, a 401 would read as the audit's failure). */
    cella_code code = cella_error_code();
    char what[1024], where[1024];
    snprintf(what, sizeof what, "%s", cella_error_what());
    snprintf(where, sizeof where, "%s", cella_error_where());
    if (!cella_ok(cella_cas_audit(t->st, cas_now(), who, action, object, outcome, why ? why : ""))) {
        cella_warn("audit log write failed: %s", cella_error_what());
        (void)cella_fail(code, where, "%s", what);
    }
    cella_info("audit: %s %s %s %s%s%s", who, action, object, outcome, why && *why ? ": " : "",
               why ? why : "");
}

void cas_reply_err(cella_http_req *req, cella_res r) { cella_http_reply_failure(req, r); }

json_t *cas_hex_json(const uint8_t *p, size_t n)
{
    char buf[257];
    cella_hex_encode(buf, p, n, false);
    return json_string(buf);
}
