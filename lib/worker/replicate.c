/* A worker's part in a replicated task: see replicate.h. */
#include "worker/replicate.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/encoding.h"
#include "core/log.h"
#include "hub/task.h"
#include "worker/signer.h"

static void hex0x(char *out, const uint8_t *p, size_t n)
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, p, n, false);
}

static void sleep_ms(double ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&t, NULL);
}

static int64_t jint(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* Looks at the task until `done` says so (*task holds it) or the time is up
 * (*task NULL): `until` (epoch seconds, a deadline of the task) or wait_s. */
static cella_res await_task(const cella_replica_io *io, const char *tid,
                            bool (*done)(const json_t *t, int64_t now), const char *deadline_key,
                            json_t **task)
{
    char path[120];
    snprintf(path, sizeof path, "/v1/tasks/%s", tid);
    time_t bound = time(NULL) + (time_t)io->wait_s;
    *task = NULL;
    for (;;) {
        json_t *t = NULL;
        CELLA_TRY(io->get(io->ctx, path, &t));
        int64_t now = (int64_t)time(NULL);
        int64_t until = jint(t, deadline_key);
        if (done(t, now)) {
            *task = t;
            return CELLA_OK_RES;
        }
        json_decref(t);
        if (now >= bound || (until && now > until))
            return CELLA_OK_RES;
        sleep_ms(io->poll_ms);
    }
}

static const char *status_of(const json_t *t)
{
    const char *s = json_string_value(json_object_get(t, "status"));
    return s ? s : "";
}

static bool consensus_or_end(const json_t *t, int64_t now)
{
    (void)now;
    return strcmp(status_of(t), "ACTIVE") != 0;
}

/* Finalize is possible: all winners revealed, or the reveal deadline passed
 * (with at least one reveal, ours), or someone else finalized. */
static bool revealed_or_end(const json_t *t, int64_t now)
{
    return strcmp(status_of(t), "REVEALING") != 0 ||
           jint(t, "revealCounter") >= jint(t, "winnerCounter") || now >= jint(t, "revealDeadline");
}

static cella_res post(const cella_replica_io *io, bool as_worker, cella_signer_task_route route,
                      const char *tid, json_t *body)
{
    char path[160];
    const char *method = cella_signer_task_path(route, tid, path, sizeof path);
    cella_res r = body ? io->signed_call(io->ctx, as_worker, method, path, body, NULL)
                       : cella_fail(CELLA_E_NOMEM, tid, "out of memory");
    json_decref(body);
    return r;
}

cella_res cella_worker_replicate(const cella_replica_io *io, const char *tid,
                                 const uint8_t taskid[32], const uint8_t digest[32],
                                 json_t *proof, const char *results_url, bool *contributed)
{
    *contributed = false;
    uint8_t rh[32], rs[32];
    char rht[67], rst[67], dig[67];
    hub_result_hash(taskid, digest, rh);
    hub_result_seal(io->worker, taskid, digest, rs);
    hex0x(rht, rh, 32);
    hex0x(rst, rs, 32);
    hex0x(dig, digest, 32);
    if (json_object_set_new(proof, "resultHash", json_string(rht)) ||
        json_object_set_new(proof, "resultSeal", json_string(rst))) {
        json_decref(proof);
        return cella_fail(CELLA_E_NOMEM, tid, "out of memory");
    }
    CELLA_TRY(post(io, true, CELLA_SIGNER_TASK_CONTRIBUTE_SEALED, tid, proof));
    *contributed = true;
    cella_info("task %s: contributed its result's hash and seal; waiting for the consensus", tid);
    json_t *t = NULL;
    CELLA_TRY(await_task(io, tid, consensus_or_end, "contributionDeadline", &t));
    CELLA_ENSURE(t, CELLA_E_UNAVAILABLE, tid,
                 "no consensus was reached while this worker waited (the task can be claimed "
                 "after its final deadline)");
    char st[16];
    snprintf(st, sizeof st, "%s", status_of(t));
    const char *cv = json_string_value(json_object_get(t, "consensusValue"));
    bool other = cv && strcasecmp(cv, rht) != 0;
    json_decref(t);
    /* REVEALING, or already COMPLETED by the winners' reveals: either way */
    CELLA_ENSURE(!other, CELLA_E_POLICY, tid,
                 "the consensus is another result than this worker's: it does not reveal, and "
                 "loses its stake");
    CELLA_ENSURE(!strcmp(st, "REVEALING"), CELLA_E_POLICY, tid,
                 "the task became %s before this worker revealed", st);
    CELLA_TRY(post(io, true, CELLA_SIGNER_TASK_REVEAL, tid,
                   json_pack("{s:s}", "resultDigest", dig)));
    cella_info("task %s: revealed; finalizing once every winner has", tid);
    CELLA_TRY(await_task(io, tid, revealed_or_end, "revealDeadline", &t));
    CELLA_ENSURE(t, CELLA_E_UNAVAILABLE, tid,
                 "the other winners did not reveal while this worker waited");
    bool revealing = !strcmp(status_of(t), "REVEALING");
    json_decref(t);
    if (!revealing) /* another winner finalized */
        return CELLA_OK_RES;
    cella_res r = post(io, false, CELLA_SIGNER_TASK_FINALIZE, tid,
                       json_pack("{s:s}", "results", results_url));
    if (cella_ok(r))
        return r;
    /* refused: fine if another winner finalized meanwhile */
    char path[120];
    snprintf(path, sizeof path, "/v1/tasks/%s", tid);
    cella_res saved = r;
    if (cella_ok(io->get(io->ctx, path, &t)) && !strcmp(status_of(t), "COMPLETED"))
        saved = CELLA_OK_RES;
    json_decref(t);
    return saved;
}
