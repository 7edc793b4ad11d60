#include "task_watch.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

#include "casapi/casapi.h"

#define WATCH_WAIT 25    /* seconds of one long poll (the hub allows 30) */
#define WATCH_RETRIES 10 /* failed polls in a row before giving up (a hub restarting) */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static cella_res get(const cella_http_client *hub, const char *path, long timeout_s, json_t **out)
{
    cella_http_client c = *hub;
    if (timeout_s)
        c.timeout_s = timeout_s;
    return cella_cas_call(&c, "GET", path, cella_slice_of("", 0), out);
}

/* Prints the task's status when it changed (last: the previous line); says
 * whether the watch is over, with its result in *r. */
static bool task_over(const json_t *t, const char *tid, FILE *out, char last[64], cella_res *r)
{
    const char *st = jstr(t, "status"), *err = jstr(t, "error");
    const json_t *lease = json_object_get(t, "lease");
    char now[64];
    snprintf(now, 64, "%s%s", st ? st : "?",
             st && !strcmp(st, "ACTIVE") && json_is_object(lease) ? " (running)" : "");
    if (strcmp(now, last)) {
        fprintf(out, "task %s: %s\n", tid, now);
        fflush(out);
        snprintf(last, 64, "%s", now);
    }
    *r = CELLA_OK_RES;
    if (err) {
        *r = cella_fail(CELLA_E_POLICY, tid, "the task failed: %s", err);
        return true;
    }
    if (st && !strcmp(st, "COMPLETED"))
        return true;
    if (st && !strcmp(st, "FAILED")) {
        *r = cella_fail(CELLA_E_POLICY, tid,
                        "the task failed (claimed after its final deadline: the requester was "
                        "refunded)");
        return true;
    }
    const json_t *fd = json_object_get(t, "finalDeadline");
    if (json_is_integer(fd) && (json_int_t)time(NULL) >= json_integer_value(fd)) {
        *r = cella_fail(CELLA_E_POLICY, tid,
                        "the task is past its final deadline, unfinished (%s): cella task claim "
                        "refunds the requester",
                        now);
        return true;
    }
    return false;
}

cella_res cli_task_watch(const cella_http_client *hub, const char *taskid, FILE *out,
                         long timeout_s, json_t **task)
{
    if (task)
        *task = NULL;
    char tpath[128], epath[256], last[64] = "";
    snprintf(tpath, sizeof tpath, "/v1/tasks/%s", taskid);
    time_t start = time(NULL);
    long long after = 0;
    int failures = 0;
    for (;;) {
        json_t *t = NULL;
        CELLA_TRY(get(hub, tpath, 0, &t));
        cella_res r;
        bool over = task_over(t, taskid, out, last, &r);
        if (over && cella_ok(r) && task)
            *task = t;
        else
            json_decref(t);
        if (over)
            return r;
        long wait = WATCH_WAIT;
        if (timeout_s > 0) {
            long left = timeout_s - (long)(time(NULL) - start);
            if (left <= 0)
                return cella_fail(CELLA_E_IO, taskid, "the task is still %s after %ld s (--timeout)",
                                  last, timeout_s);
            wait = left < wait ? left : wait;
        }
        /* the task's events after the last seen: the reply comes when one is
         * recorded (or after `wait` seconds, to look at the deadlines again) */
        snprintf(epath, sizeof epath, "/v1/events?taskid=%s&after=%lld&wait=%ld", taskid, after,
                 wait);
        json_t *ev = NULL;
        r = get(hub, epath, wait + 15, &ev);
        const json_t *lj = json_object_get(ev, "last");
        if (cella_ok(r) && json_is_integer(lj)) {
            after = json_integer_value(lj);
            failures = 0;
        } else if (++failures > WATCH_RETRIES) {
            json_decref(ev);
            return cella_ok(r) ? cella_fail(CELLA_E_PARSE, "events", "the hub's reply has no \"last\"")
                               : r;
        } else {
            cella_error_clear();
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
        json_decref(ev);
    }
}
