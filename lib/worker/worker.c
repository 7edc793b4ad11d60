#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "blobs/client.h"
#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "net/http_client.h"
#include "runtime/task.h"
#include "worker/fetch.h"
#include "worker/metrics.h"
#include "worker/replicate.h"
#include "worker/signer.h"
#include "worker/spawn.h"
#include "worker/standby.h"
#include "worker/standard_env.h"

#define LOG_CAP (1u << 20) /* per stream, as the hub stores it */

typedef struct {
    const cella_worker_opts *o;
    cella_http_client hub, cas;
    uint8_t owner[20];
    char owner_text[43];
    uint8_t worker[20];      /* who contributes: the worker's key, else the owner */
    char worker_text[43];
    char holder[33];
    unsigned index;
    int64_t last_event;
    unsigned done, failed;
    worker_metrics *metrics; /* shared by the slots */
    cella_standby standby;   /* the next task's enclave process, started ahead */
} slot;

/* What one task went through, for the log line and the benchmark: every
 * step of the slot's wall clock from the lease request on (docs/worker.md). */
typedef struct {
    double lease, task, session, fetch, enclave, logs, upload, finalize;
} phases;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void hex0x(char *out, const uint8_t *p, size_t n)
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, p, n, false);
}

static cella_res hub_get(slot *s, const char *path, json_t **out)
{
    return cella_cas_call(&s->hub, "GET", path, cella_slice_of("", 0), out);
}

/* The owner's signature of one hub request, made by the signer process. */
static cella_res sign_by_signer(void *ctx, const char *method, const char *path,
                                const char *nonce_hex, const uint8_t body_sha256[32],
                                uint8_t sig[65], uint8_t addr[20])
{
    cella_signer *signer = ctx;
    CELLA_TRY(cella_signer_sign_request(signer, method, path, nonce_hex, body_sha256, sig));
    memcpy(addr, signer->addr, 20);
    return CELLA_OK_RES;
}

/* The key that contributes and reveals: the worker's own, else the owner's. */
static cella_signer *worker_key(const slot *s)
{
    return s->o->worker_signer ? s->o->worker_signer : s->o->signer;
}

/* A request signed by `signer` (the pool owner's or the worker's); `repeatable`:
 * safe to send again to another replica if one may have received it and did
 * not answer. */
static cella_res hub_signed_by(slot *s, cella_signer *signer, const char *method,
                               const char *path, json_t *body, bool repeatable, json_t **out)
{
    char *text = json_dumps(body, JSON_COMPACT);
    CELLA_ENSURE(text, CELLA_E_NOMEM, path, "out of memory");
    json_t *ignored = NULL;
    cella_http_client hub = s->hub;
    hub.repeatable = repeatable;
    cella_res r = cella_cas_signed_call_by(&hub, sign_by_signer, signer, method, path,
                                           cella_slice_of(text, strlen(text)), "application/json",
                                           out ? out : &ignored);
    json_decref(ignored);
    free(text);
    return r;
}

/* A request signed by the pool owner. */
static cella_res hub_signed(slot *s, const char *method, const char *path, json_t *body,
                            bool repeatable, json_t **out)
{
    return hub_signed_by(s, s->o->signer, method, path, body, repeatable, out);
}

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* ---- the lease ---------------------------------------------------------------- */

static cella_res lease(slot *s, const char *tid, unsigned seconds)
{
    char path[160];
    const char *method = cella_signer_task_path(CELLA_SIGNER_TASK_LEASE, tid, path, sizeof path);
    json_t *b = json_pack("{s:s, s:I}", "holder", s->holder, "seconds", (json_int_t)seconds);
    CELLA_ENSURE(b, CELLA_E_NOMEM, tid, "out of memory");
    /* the same holder renews its own lease: safe to repeat */
    cella_res r = hub_signed(s, method, path, b, true, NULL);
    json_decref(b);
    return r;
}

/* The pool's next runnable task, leased in one request (the hub picks it,
 * so slots and workers asking at once get different tasks): tid "" when
 * nothing is runnable. Not repeated on another replica once sent: a lost
 * reply's lease just lapses. */
static cella_res lease_next(slot *s, unsigned seconds, char tid[67])
{
    tid[0] = 0;
    /* "worker": never a task this worker already contributed to (trust > 1:
     * the other workers of the pool take it, one after the other) */
    json_t *b = json_pack("{s:s, s:s, s:I, s:s}", "workerpool", s->o->pool, "holder", s->holder,
                          "seconds", (json_int_t)seconds, "worker", s->worker_text);
    CELLA_ENSURE(b, CELLA_E_NOMEM, "lease", "out of memory");
    json_t *out = NULL;
    cella_res r = hub_signed(s, "POST", CELLA_SIGNER_LEASE_NEXT, b, false, &out);
    json_decref(b);
    const char *t = cella_ok(r) ? jstr(out, "taskid") : NULL;
    if (t && strlen(t) == 66)
        memcpy(tid, t, 67);
    else if (cella_ok(r) && !json_is_null(json_object_get(out, "taskid")))
        r = cella_fail(CELLA_E_PARSE, "lease-next", "the hub's reply has no task id");
    json_decref(out);
    return r;
}

static void report_failure(slot *s, const char *tid, const char *why)
{
    char path[160];
    const char *method = cella_signer_task_path(CELLA_SIGNER_TASK_REPORT, tid, path, sizeof path);
    json_t *b = json_pack("{s:s, s:s}", "holder", s->holder, "error", why);
    if (!b || !cella_ok(hub_signed(s, method, path, b, false, NULL)))
        cella_warn("task %s: could not report the failure to the hub: %s", tid, cella_error_what());
    json_decref(b);
}

/* ---- cas: enclave challenge and session (iExec's SMS /tee endpoints) ------------- */

static cella_res cas_post(slot *s, const char *path, const uint8_t sig[65], json_t *body,
                          json_t **out)
{
    char auth[160] = "Authorization: ";
    hex0x(auth + strlen(auth), sig, 65);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    char *text = body ? json_dumps(body, JSON_COMPACT) : strdup("");
    CELLA_ENSURE(text, CELLA_E_NOMEM, path, "out of memory");
    /* Both of iExec's task POSTs may go to another cas replica after one that
     * may have received them went silent: /tee/challenges gives the task's
     * challenge again, and /tee/sessions makes the same session again (or
     * replaces it for this worker); docs/cas-api.md. */
    cella_http_client cas = s->cas;
    cas.repeatable = true;
    cella_http_response resp;
    cella_res r = cella_http_call(&cas, "POST", path, headers, cella_slice_of(text, strlen(text)),
                                  &resp);
    free(text);
    CELLA_TRY(r);
    if (resp.status / 100 != 2) {
        r = cella_http_fail_from(&resp, path);
    } else {
        json_error_t je;
        *out = json_loadb((const char *)resp.body.p, resp.body.len, 0, &je);
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            r = cella_fail(CELLA_E_PARSE, path, "cas answered something that is not JSON");
        }
    }
    cella_http_response_free(&resp);
    return r;
}

static cella_res task_session(slot *s, const uint8_t taskid[32], const char *tid, char *session,
                              size_t cap, uint8_t challenge[20], uint8_t auth[65])
{
    char path[200];
    uint8_t sig[65];
    /* iExec: the workerpool owner signs keccak256(taskid) to get the challenge. */
    CELLA_TRY(cella_signer_sign_task_challenge(s->o->signer, taskid, sig));
    snprintf(path, sizeof path, "/tee/challenges/%s", tid);
    json_t *reply = NULL;
    CELLA_TRY(cas_post(s, path, sig, NULL, &reply));
    cella_res r = jstr(reply, "enclaveChallenge")
                      ? cella_eth_address_parse(challenge, jstr(reply, "enclaveChallenge"),
                                                "enclaveChallenge")
                      : cella_fail(CELLA_E_PARSE, path, "cas sent no enclave challenge");
    json_decref(reply);
    CELLA_TRY(r);
    /* PoCo's authorization, the workerpool's consent for this worker, this
     * task and this enclave; the worker (here the same key) signs it too. */
    CELLA_TRY(cella_signer_sign_authorization(s->o->signer, taskid, challenge, s->worker, auth));
    char ch[43], sg[133];
    cella_eth_address_checksum(ch, challenge);
    hex0x(sg, auth, 65);
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "workerWallet", s->worker_text, "chainTaskId",
                          tid, "enclaveChallenge", ch, "signature", sg);
    CELLA_ENSURE(b, CELLA_E_NOMEM, tid, "out of memory");
    /* the header: the worker's own signature of the same hash (cas checks
     * both); the owner's when the owner is the worker */
    uint8_t hdr[65];
    memcpy(hdr, auth, 65);
    r = s->o->worker_signer ? cella_signer_sign_authorization(s->o->worker_signer, taskid,
                                                              challenge, s->worker, hdr)
                            : CELLA_OK_RES;
    if (cella_ok(r))
        r = cas_post(s, "/tee/sessions", hdr, b, &reply);
    json_decref(b);
    CELLA_TRY(r);
    const char *id = jstr(reply, "sessionId");
    r = id && strlen(id) < cap ? CELLA_OK_RES
                               : cella_fail(CELLA_E_PARSE, "/tee/sessions", "cas sent no session id");
    if (cella_ok(r))
        snprintf(session, cap, "%s", id);
    json_decref(reply);
    return r;
}

/* ---- a standard task (no TEE bit) ------------------------------------------------- */

/* PoCo's authorization for a contribution without enclave: the challenge is
 * the zero address. */
static cella_res standard_authorization(slot *s, const uint8_t taskid[32], uint8_t challenge[20],
                                        uint8_t auth[65])
{
    memset(challenge, 0, 20);
    return cella_signer_sign_authorization(s->o->signer, taskid, challenge, s->worker, auth);
}

/* iExec gives a standard task its dataset as it is, never decrypted: one
 * whose key was pushed to cas (the SMS) is encrypted and is refused, before
 * anything is fetched. cas answers existence only (HEAD). */
static cella_res standard_dataset_check(slot *s, const char *addr)
{
    char path[120], where[80];
    snprintf(path, sizeof path, "/secrets/web3?secretAddress=%s", addr);
    snprintf(where, sizeof where, "dataset %s", addr);
    cella_http_response resp;
    CELLA_TRY(cella_http_call(&s->cas, "HEAD", path, NULL, cella_slice_of("", 0), &resp));
    long status = resp.status;
    cella_http_response_free(&resp);
    CELLA_ENSURE(status != 204 && status != 200, CELLA_E_POLICY, where,
                 "the dataset is encrypted (its key is in cas): a standard task gets no key, as "
                 "in iExec; request it with a TEE tag");
    CELLA_ENSURE(status == 404, CELLA_E_IO, where,
                 "cas answered HTTP %ld when asked whether the dataset is encrypted", status);
    return CELLA_OK_RES;
}

/* ---- the enclave process ----------------------------------------------------------- */

/* The slot's standby runtime handed this task (worker/standby.h), else, if
 * there is none or it is gone, a new process started now. */
static cella_res start_enclave(slot *s, const char *tid, const char *const *argv,
                               const char *logf, cella_child *child)
{
    if (s->standby.child.pid > 0) {
        if (cella_ok(cella_standby_hand(&s->standby, logf, argv + 2, child)))
            return CELLA_OK_RES;
        cella_warn("task %s: %s; starting its enclave now", tid, cella_error_what());
    }
    int lfd = open(logf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CELLA_ENSURE(lfd >= 0, CELLA_E_IO, logf, "open: %s", strerror(errno));
    cella_res r = cella_child_spawn(argv, lfd, tid, child);
    close(lfd);
    return r;
}

/* Starts the slot's next enclave process ahead of its task, while the slot
 * leases, reads the task and makes its cas session. */
static void standby_ahead(slot *s)
{
    if (s->standby.child.pid > 0 || *s->o->stop)
        return;
    if (!cella_ok(cella_standby_start(s->o->cella_exe, 2, &s->standby)))
        cella_warn("worker: cannot start a standby runtime (%s): enclaves start per task",
                   cella_error_what());
}

/* `session`: a TEE task's cas session; NULL for a standard task, whose
 * environment the worker wrote to tdir/standard-env.json. */
static cella_res run_enclave(slot *s, const char *tid, const char *session, const char *app_dir,
                             const char *dataset, const char *tdir, bool *failed)
{
    char senv[1200];
    snprintf(senv, sizeof senv, "%s/standard-env.json", tdir);
    char out[1200], logf[1200], errf[1200], timeout[16];
    char cas_urls[CELLA_ENDPOINTS_TEXT_MAX], cas_pins[CELLA_ENDPOINTS_TEXT_MAX];
    /* the enclave gets cas's replicas too, the one that answered last first */
    CELLA_TRY(cella_endpoints_text(s->o->cas, cas_urls, sizeof cas_urls, cas_pins, sizeof cas_pins));
    snprintf(out, sizeof out, "%s/out", tdir);
    snprintf(logf, sizeof logf, "%s/enclave.log", tdir);
    snprintf(errf, sizeof errf, "%s/error.txt", tdir);
    snprintf(timeout, sizeof timeout, "%u", s->o->app_timeout ? s->o->app_timeout : 3600);
    CELLA_ENSURE(mkdir(out, 0700) == 0, CELLA_E_IO, out, "mkdir: %s", strerror(errno));
    const char *argv[32];
    int n = 0;
    argv[n++] = s->o->cella_exe;
    argv[n++] = "run-task";
    argv[n++] = session ? "--session" : "--standard";
    argv[n++] = session ? session : senv;
    argv[n++] = "--app";
    argv[n++] = app_dir;
    if (dataset) {
        argv[n++] = "--dataset";
        argv[n++] = dataset;
    }
    argv[n++] = "--out";
    argv[n++] = out;
    argv[n++] = "--log-dir";
    argv[n++] = tdir;
    argv[n++] = "--error-file";
    argv[n++] = errf;
    argv[n++] = "--timeout";
    argv[n++] = timeout;
    if (session) { /* the enclave: attests to cas */
        argv[n++] = "--cas";
        argv[n++] = cas_urls;
        argv[n++] = "--cas-fingerprint";
        argv[n++] = cas_pins;
        argv[n++] = "--tee";
        argv[n++] = s->o->tee ? s->o->tee : "sim";
    }
    if (session && s->o->sim_dir) {
        argv[n++] = "--sim-dir";
        argv[n++] = s->o->sim_dir;
    }
    argv[n] = NULL;
    cella_child child;
    CELLA_TRY(start_enclave(s, tid, argv, logf, &child));
    /* Keep the lease alive while the enclave works. */
    unsigned ls = s->o->lease_seconds ? s->o->lease_seconds : 30;
    double next = now_ms() + ls * 1000.0 / 3;
    /* The app has its own limit; the enclave around it gets five more minutes. */
    double deadline = now_ms() + ((s->o->app_timeout ? s->o->app_timeout : 3600) + 300) * 1000.0;
    bool killed = false;
    int status = 0;
    /* Woken by the enclave's end, else at the next lease renewal or the deadline. */
    for (;;) {
        double until = killed ? next : (next < deadline ? next : deadline);
        double wait = until - now_ms();
        if (cella_child_wait(&child, wait < 1 ? 1 : wait > 60000 ? 60000 : (int)wait, &status))
            break;
        if (!killed && now_ms() > deadline) {
            cella_warn("task %s: the enclave ran past its time limit; killing it", tid);
            kill(child.pid, SIGKILL);
            killed = true;
        }
        if (now_ms() >= next) {
            if (!cella_ok(lease(s, tid, ls)))
                cella_warn("task %s: lease renewal failed: %s", tid, cella_error_what());
            next = now_ms() + ls * 1000.0 / 3;
        }
    }
    *failed = killed || status == -1 || !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return CELLA_OK_RES;
}

/* The enclave's one-line reason, or a generic one. */
static void enclave_reason(const char *tdir, char *why, size_t cap)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/error.txt", tdir);
    uint8_t *t = NULL;
    size_t n = 0;
    if (cella_ok(cella_read_file(AT_FDCWD, p, 2000, false, &t, &n)) && n) {
        while (n && (t[n - 1] == '\n' || t[n - 1] == '\r'))
            t[--n] = '\0';
        snprintf(why, cap, "%s", (char *)t);
    } else {
        snprintf(why, cap, "the enclave stopped without a result (see the worker's enclave log)");
    }
    free(t);
}

/* Logs go to the hub as JSON strings: keep valid UTF-8 as it is, else ASCII. */
static json_t *log_json(const char *path)
{
    uint8_t *t = NULL;
    size_t n = 0;
    cella_error_clear();
    if (!cella_ok(cella_read_file(AT_FDCWD, path, 64u << 20, false, &t, &n)))
        return json_string("");
    if (n > LOG_CAP)
        n = LOG_CAP;
    json_t *j = json_stringn((const char *)t, n);
    if (!j) {
        for (size_t i = 0; i < n; i++)
            if (t[i] >= 0x80 || (t[i] < 0x20 && t[i] != '\n' && t[i] != '\t'))
                t[i] = '?';
        j = json_stringn((const char *)t, n);
    }
    free(t);
    return j ? j : json_string("");
}

static void upload_logs(slot *s, const char *tid, const char *tdir)
{
    char p1[1200], p2[1200], path[160];
    snprintf(p1, sizeof p1, "%s/app-stdout.txt", tdir);
    snprintf(p2, sizeof p2, "%s/app-stderr.txt", tdir);
    struct stat st;
    if (stat(p1, &st) != 0)
        return; /* the app never started */
    const char *method = cella_signer_task_path(CELLA_SIGNER_TASK_LOGS, tid, path, sizeof path);
    json_t *b = json_pack("{s:o, s:o}", "stdout", log_json(p1), "stderr", log_json(p2));
    if (!b || !cella_ok(hub_signed(s, method, path, b, true, NULL)))
        cella_warn("task %s: could not store the app's logs on the hub: %s", tid,
                   cella_error_what());
    json_decref(b);
}

/* The app's logs go to the hub on a thread of their own while the result goes
 * to the blob store: both are needed before the task is finalized (the
 * requester reads the logs of a completed task), neither needs the other. */
typedef struct {
    slot *s;
    const char *tid, *tdir;
    pthread_t th;
    bool running;
} logs_job;

static void *logs_main(void *arg)
{
    logs_job *j = arg;
    upload_logs(j->s, j->tid, j->tdir);
    return NULL;
}

static void logs_start(logs_job *j, slot *s, const char *tid, const char *tdir)
{
    *j = (logs_job){.s = s, .tid = tid, .tdir = tdir};
    j->running = pthread_create(&j->th, NULL, logs_main, j) == 0;
    if (!j->running) /* no thread: in line, as before */
        upload_logs(s, tid, tdir);
}

static void logs_join(logs_job *j)
{
    if (j->running)
        pthread_join(j->th, NULL);
    j->running = false;
}

/* ---- one task ---------------------------------------------------------------------- */

/* `tee`: the enclave's challenge and signature go with the digest; a
 * standard task contributes the digest alone (PoCo: enclaveChallenge zero,
 * enclaveSign empty), which the hub accepts only for a deal without TEE. */
static cella_res replica_signed(void *ctx, bool as_worker, const char *method, const char *path,
                                json_t *body, json_t **out)
{
    slot *s = ctx;
    return hub_signed_by(s, as_worker ? worker_key(s) : s->o->signer, method, path, body, false,
                         out);
}

static cella_res replica_get(void *ctx, const char *path, json_t **out)
{
    return hub_get(ctx, path, out);
}

/* trust > 1: PoCo's consensus (worker/replicate.h); `proof` is taken over */
static cella_res replicate(slot *s, const char *tid, const char *digest, json_t *proof,
                           const char *url, bool *to_consensus)
{
    uint8_t taskid[32], d[32];
    cella_res r = cella_hex_decode(taskid, 32, tid + 2, 64, "task id");
    if (cella_ok(r))
        r = cella_hex_decode(d, 32, digest + 2 * !strncmp(digest, "0x", 2),
                             strlen(digest) - 2 * !strncmp(digest, "0x", 2), "result-digest");
    if (!cella_ok(r)) {
        json_decref(proof);
        return r;
    }
    cella_replica_io io = {s, replica_signed, replica_get, s->worker,
                           s->o->consensus_wait ? s->o->consensus_wait : 600, 500};
    r = cella_worker_replicate(&io, tid, taskid, d, proof, url);
    /* the run succeeded: a refused contribution (this worker's stake, say) or
     * what follows it is this worker's trouble, not the task's (the other
     * workers of the pool go on) */
    *to_consensus = true;
    return r;
}

static cella_res contribute(slot *s, const char *tid, const char *tdir, const uint8_t auth[65],
                            const uint8_t challenge[20], bool tee, uint64_t trust,
                            bool *to_consensus, logs_job *logs, phases *ph)
{
    char p[1200], url[1200];
    snprintf(p, sizeof p, "%s/out/" CELLA_TASK_COMPUTED_FILE, tdir);
    json_error_t je;
    json_t *computed = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
    CELLA_ENSURE(computed, CELLA_E_PARSE, p, "the enclave left no computed.json: %s", je.text);
    const char *digest = jstr(computed, "result-digest"), *sign = jstr(computed, "enclave-signature"),
               *ch = jstr(computed, "enclave-challenge");
    uint8_t c2[20] = {0};
    cella_res r = !digest || (tee && !(sign && ch))
                      ? cella_fail(CELLA_E_PARSE, p, "incomplete computed.json")
                  : tee ? cella_eth_address_parse(c2, ch, "enclave-challenge")
                        : CELLA_OK_RES;
    if (cella_ok(r) && memcmp(c2, challenge, 20) != 0)
        r = cella_fail(CELLA_E_AUTH, p, "the enclave signed with another challenge than this task's");
    double t0 = now_ms();
    uint8_t sha[32];
    snprintf(p, sizeof p, "%s/out/" CELLA_TASK_RESULT_FILE, tdir);
    if (cella_ok(r))
        r = cella_blob_put_file(s->o->blobs_url, p, sha);
    if (cella_ok(r))
        r = cella_blob_url(s->o->blobs_url, sha, url, sizeof url);
    logs_join(logs); /* the logs are on the hub before the task is finished */
    double t1 = now_ms();
    ph->upload = t1 - t0;
    if (cella_ok(r)) {
        char sg[133], chx[43], path[200];
        hex0x(sg, auth, 65);
        cella_eth_address_checksum(chx, challenge);
        json_t *b = json_pack("{s:s}", "authorizationSign", sg);
        if (b && tee && (json_object_set_new(b, "enclaveChallenge", json_string(chx)) ||
                         json_object_set_new(b, "enclaveSign", json_string(sign)))) {
            json_decref(b);
            b = NULL;
        }
        if (b && trust > 1) {
            r = replicate(s, tid, digest, b, url, to_consensus);
            ph->finalize = now_ms() - t1;
            json_decref(computed);
            return r;
        }
        /* the holder: a contribution after this lease lapsed and another worker
         * took the task is refused (409) */
        if (b && (json_object_set_new(b, "resultDigest", json_string(digest)) ||
                  json_object_set_new(b, "results", json_string(url)) ||
                  json_object_set_new(b, "holder", json_string(s->holder)))) {
            json_decref(b);
            b = NULL;
        }
        /* the enclave's kind, for the task record: "sim" tells the requester */
        const char *kind = jstr(computed, "tee");
        if (b && tee && kind)
            json_object_set_new(b, "tee", json_string(kind));
        const char *method =
            cella_signer_task_path(CELLA_SIGNER_TASK_CONTRIBUTE, tid, path, sizeof path);
        r = b ? hub_signed_by(s, worker_key(s), method, path, b, false, NULL)
              : cella_fail(CELLA_E_NOMEM, tid, "out of memory");
        json_decref(b);
    }
    ph->finalize = now_ms() - t1;
    json_decref(computed);
    return r;
}

/* Runs a task this slot has leased. */
static void process(slot *s, const char *tid, double lease_ms)
{
    phases ph = {.lease = lease_ms};
    double t0 = now_ms() - lease_ms;
    uint8_t taskid[32], challenge[20], auth[65];
    char tdir[1100], session[200], app_dir[1300], dataset[1200], why[1200] = "", path[200];
    json_t *task = NULL, *deal = NULL, *app = NULL, *ds = NULL;
    bool leased = false, enclave_ran = false, failed = false;
    /* Per slot: if a lease lapsed while this slot still works, another slot
     * re-leasing the task must not remove this one's files. */
    snprintf(tdir, sizeof tdir, "%s/tasks/%s-%s", s->o->work_dir, tid, s->holder);
    cella_res r = cella_hex_decode(taskid, 32, tid + 2, strlen(tid + 2), "task id");
    if (!cella_ok(r)) {
        cella_warn("task %s: %s", tid, cella_error_what());
        return;
    }
    leased = true;
    cella_counter_add(&s->metrics->started, 1);
    cella_gauge_add(&s->metrics->busy, 1);
    uint64_t started_ns = cella_monotonic_ns();
    double tl = now_ms();
    cella_info("task %s: leased", tid);
    snprintf(path, sizeof path, "/v1/tasks/%s", tid);
    r = hub_get(s, path, &task);
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/deals/%s", jstr(task, "dealid") ? jstr(task, "dealid") : "");
        r = hub_get(s, path, &deal);
    }
    const char *tag = cella_ok(r) ? jstr(deal, "tag") : NULL;
    if (cella_ok(r) && (!tag || strlen(tag) != 66))
        r = cella_fail(CELLA_E_PARSE, tid, "the hub's deal has no tag");
    /* bit 0 of the tag: a TEE task; without it, a standard task (runtime/standard.h) */
    bool tee = cella_ok(r) && strchr("13579bdfBDF", tag[65]);
    /* trust > 1: replicated, PoCo's consensus (worker/replicate.h) */
    const char *tr = cella_ok(r) ? jstr(deal, "trust") : NULL;
    uint64_t trust = tr ? strtoull(tr, NULL, 10) : 0;
    bool to_consensus = false;
    json_t *senv = NULL;
    if (cella_ok(r) && !tee)
        r = cella_worker_standard_env(task, deal, &senv);
    const char *app_addr = cella_ok(r) ? jstr(json_object_get(deal, "app"), "pointer") : NULL;
    const char *ds_addr = cella_ok(r) ? jstr(json_object_get(deal, "dataset"), "pointer") : NULL;
    if (ds_addr && !strcmp(ds_addr, "0x0000000000000000000000000000000000000000"))
        ds_addr = NULL;
    double t1 = now_ms();
    ph.task = t1 - tl;
    if (cella_ok(r))
        r = tee ? task_session(s, taskid, tid, session, sizeof session, challenge, auth)
                : standard_authorization(s, taskid, challenge, auth);
    double t2 = now_ms();
    ph.session = t2 - t1;
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/apps/%s", app_addr ? app_addr : "");
        r = hub_get(s, path, &app);
    }
    if (cella_ok(r))
        r = cella_worker_fetch_app(s->o, s->holder, app, app_dir, sizeof app_dir);
    if (cella_ok(r) && ds_addr) {
        snprintf(path, sizeof path, "/v1/datasets/%s", ds_addr);
        r = hub_get(s, path, &ds);
        if (cella_ok(r) && !tee)
            r = standard_dataset_check(s, ds_addr);
        if (cella_ok(r))
            r = cella_worker_fetch_cached(s->o, s->holder, "datasets", ds, "dataset", dataset,
                                              sizeof dataset);
        if (!cella_ok(r)) {
            char where[80];
            snprintf(where, sizeof where, "dataset %s", ds_addr);
            cella_error_set_where(where);
        }
    }
    double t3 = now_ms();
    ph.fetch = t3 - t2;
    if (cella_ok(r)) {
        cella_rm_tree(AT_FDCWD, tdir);
        r = mkdir(tdir, 0700) == 0 ? CELLA_OK_RES
                                   : cella_fail(CELLA_E_IO, tdir, "mkdir: %s", strerror(errno));
    }
    if (cella_ok(r) && senv) {
        char ep[1200];
        snprintf(ep, sizeof ep, "%s/standard-env.json", tdir);
        if (json_dump_file(senv, ep, JSON_COMPACT) != 0)
            r = cella_fail(CELLA_E_IO, ep, "cannot write the task's environment");
    }
    if (cella_ok(r)) {
        r = run_enclave(s, tid, tee ? session : NULL, app_dir, ds_addr ? dataset : NULL, tdir,
                        &failed);
        enclave_ran = cella_ok(r);
        if (cella_ok(r) && failed)
            enclave_reason(tdir, why, sizeof why);
    }
    double t4 = now_ms();
    ph.enclave = t4 - t3;
    logs_job logs = {0};
    if (enclave_ran && cella_ok(r) && !failed) /* beside the result's upload */
        logs_start(&logs, s, tid, tdir);
    else if (enclave_ran)
        upload_logs(s, tid, tdir);
    ph.logs = now_ms() - t4;
    if (cella_ok(r) && !failed)
        r = contribute(s, tid, tdir, auth, challenge, tee, trust, &to_consensus, &logs, &ph);
    logs_join(&logs);
    if (!cella_ok(r)) {
        const char *where = cella_error_where();
        snprintf(why, sizeof why, "%s%s%s%s", cella_error_what(), where[0] ? " (" : "", where,
                 where[0] ? ")" : "");
    }
    cella_counter_add(why[0] ? &s->metrics->failed : &s->metrics->succeeded, 1);
    cella_histogram_observe(&s->metrics->duration, cella_monotonic_ns() - started_ns);
    cella_gauge_add(&s->metrics->busy, -1);
    if (why[0]) {
        s->failed++;
        cella_warn("task %s failed: %s", tid, why);
        /* trust > 1, once its run succeeded: the consensus decides the task; this
         * worker's trouble from then on (a refused contribution, a dissent, a
         * wait that ran out) is its own */
        if (!to_consensus)
            report_failure(s, tid, why);
    } else {
        s->done++;
        /* The enclave's own phases, from its public timings.json. */
        char tp[1200];
        snprintf(tp, sizeof tp, "%s/out/timings.json", tdir);
        json_t *tj = json_load_file(tp, 0, NULL);
        cella_info("task %s completed in %.0f ms (lease %.0f, task %.0f, session %.0f, fetch "
                   "%.0f, enclave %.0f [attest %.0f, decrypt %.0f, app %.0f, encrypt %.0f], logs "
                   "%.0f, upload %.0f, finalize %.0f)",
                   tid, now_ms() - t0, ph.lease, ph.task, ph.session, ph.fetch, ph.enclave,
                   json_number_value(json_object_get(tj, "attest")),
                   json_number_value(json_object_get(tj, "pre")),
                   json_number_value(json_object_get(tj, "app")),
                   json_number_value(json_object_get(tj, "post")), ph.logs, ph.upload,
                   ph.finalize);
        json_decref(tj);
    }
    (void)leased;
    cella_rm_tree(AT_FDCWD, tdir);
    json_decref(task);
    json_decref(deal);
    json_decref(app);
    json_decref(ds);
    json_decref(senv);
}

/* ---- the loop ---------------------------------------------------------------------- */

/* Waits for something to happen on the hub for our pool (events long-poll),
 * or a short while if the hub has no event stream. */
static void wait_for_work(slot *s)
{
    char path[300];
    snprintf(path, sizeof path, "/v1/events?after=%lld&workerpool=%s&wait=5",
             (long long)s->last_event, s->o->pool);
    json_t *ev = NULL;
    cella_http_client c = s->hub;
    c.timeout_s = 15;
    if (cella_ok(cella_cas_call(&c, "GET", path, cella_slice_of("", 0), &ev)) &&
        json_is_integer(json_object_get(ev, "last"))) {
        s->last_event = json_integer_value(json_object_get(ev, "last"));
        json_decref(ev);
        return;
    }
    json_decref(ev);
    struct timespec t = {0, 500 * 1000 * 1000};
    nanosleep(&t, NULL);
}

static void *slot_main(void *arg)
{
    slot *s = arg;
    standby_ahead(s);
    while (!*s->o->stop) {
        if (!cella_signer_alive(s->o->signer) || !cella_signer_alive(worker_key(s))) {
            *s->o->stop = 1; /* nothing can be signed any more: every slot stops */
            break;
        }
        char tid[67];
        double t0 = now_ms();
        cella_res r = lease_next(s, s->o->lease_seconds ? s->o->lease_seconds : 30, tid);
        if (!cella_ok(r)) {
            cella_warn("worker: cannot lease a task: %s", cella_error_what());
            struct timespec t = {1, 0};
            nanosleep(&t, NULL);
            continue;
        }
        if (!tid[0]) {
            if (s->o->once)
                break;
            wait_for_work(s);
            continue;
        }
        process(s, tid, now_ms() - t0);
        standby_ahead(s);
    }
    cella_standby_stop(&s->standby);
    return NULL;
}

cella_res cella_worker_run(const cella_worker_opts *o)
{
    unsigned n = o->slots ? o->slots : 1;
    CELLA_ENSURE(n <= CELLA_WORKER_MAX_SLOTS, CELLA_E_USAGE, "--slots", "at most %d slots",
                 CELLA_WORKER_MAX_SLOTS);
    CELLA_ENSURE(o->hub && o->hub->n && o->cas && o->cas->n && o->blobs_url && o->signer && o->pool,
                 CELLA_E_USAGE, "worker", "the worker needs a hub, a cas, a blob store and a signer");
    const uint8_t *owner = o->signer->addr;
    /* The port first: a taken one leaves the work directory as it was. */
    worker_metrics metrics;
    CELLA_TRY(worker_metrics_start(&metrics, o->metrics_listen, n));
    static const char *const sub[] = {"", "/bundles", "/datasets", "/tasks"};
    cella_res r = CELLA_OK_RES;
    for (size_t i = 0; i < 4 && cella_ok(r); i++) {
        char d[1100];
        snprintf(d, sizeof d, "%s%s", o->work_dir, sub[i]);
        if (mkdir(d, 0700) != 0 && errno != EEXIST)
            r = cella_fail(CELLA_E_IO, d, "mkdir: %s", strerror(errno));
    }
    if (!cella_ok(r)) {
        worker_metrics_stop(&metrics);
        return r;
    }
    /* Kept-alive connections to the hub and to cas: a task makes several
     * calls to each, and cas's are TLS (a handshake each without a pool). */
    void *pool = cella_http_pool_new(), *cas_pool = cella_http_pool_new();
    slot *slots = calloc(n, sizeof *slots);
    pthread_t *th = calloc(n, sizeof *th);
    if (!slots || !th)
        r = cella_fail(CELLA_E_NOMEM, "worker", "out of memory");
    for (unsigned i = 0; cella_ok(r) && i < n; i++) {
        slot *s = &slots[i];
        s->o = o;
        s->index = i;
        s->metrics = &metrics;
        s->standby = CELLA_STANDBY_NONE;
        s->hub = (cella_http_client){.endpoints = o->hub, .reuse = pool, .timeout_s = 30};
        s->cas = (cella_http_client){.endpoints = o->cas, .reuse = cas_pool, .timeout_s = 30};
        memcpy(s->owner, owner, 20);
        cella_eth_address_checksum(s->owner_text, owner);
        memcpy(s->worker, worker_key(s)->addr, 20);
        cella_eth_address_checksum(s->worker_text, s->worker);
        uint8_t id[16];
        r = cella_random(id, sizeof id);
        cella_hex_encode(s->holder, id, sizeof id, false);
    }
    unsigned started = 0;
    while (cella_ok(r) && started < n) {
        if (pthread_create(&th[started], NULL, slot_main, &slots[started]) != 0) {
            r = cella_fail(CELLA_E_IO, "worker", "cannot start a slot thread");
            *o->stop = 1; /* the slots already running finish their task and return */
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    unsigned done = 0, failed = 0;
    for (unsigned i = 0; i < n && slots; i++) {
        done += slots[i].done;
        failed += slots[i].failed;
    }
    if (cella_ok(r))
        r = cella_signer_check(o->signer);
    if (cella_ok(r) && o->worker_signer)
        r = cella_signer_check(o->worker_signer);
    if (cella_ok(r))
        cella_info("worker: %u task(s) completed, %u failed (CPU: worker %.0f ms, enclaves %.0f ms)",
                   done, failed, cella_cpu_ms(false), cella_cpu_ms(true));
    free(slots);
    free(th);
    cella_http_pool_free(pool);
    cella_http_pool_free(cas_pool);
    worker_metrics_stop(&metrics);
    return r;
}
