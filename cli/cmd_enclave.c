/* The enclave verbs, `run` and `run-task`: shared by the `cella` binary and
 * the lean `cella-runtime` (rt/main.c), which builds this file with
 * CELLA_RUNTIME_LEAN (no transfer service: --blobs and --push need `cella`). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "args.h"
#include "cas_client.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "enclave.h"
#include "runtime/run.h"
#include "runtime/standby.h"
#include "runtime/task.h"
#include "tee/producers.h"
#include "tee/sim.h"
#ifndef CELLA_RUNTIME_LEAN
#include "blobs/client.h"
#else
/* No transfer service in the lean binary: its client is libcurl's. */
static cella_res no_blobs(void)
{
    return cella_fail(CELLA_E_UNSUPPORTED, "--blobs",
                      "cella-runtime has no transfer service: use `cella run` for blob: inputs "
                      "and --push");
}
#define cella_blob_get_dir(u, s, d) ((void)(u), (void)(s), (void)(d), no_blobs())
#define cella_blob_put_dir(u, d, s) ((void)(u), (void)(d), (void)(s), no_blobs())
#define cella_blob_url(u, s, o, n) ((void)(u), (void)(s), (void)(o), (void)(n), no_blobs())
#endif

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))

/* ---- run ----------------------------------------------------------------------- */

static cella_res parse_inputs(const char *spec, cella_run_input *in, size_t *n, char *buf,
                              size_t cap)
{
    *n = 0;
    if (!spec)
        return CELLA_OK_RES;
    CELLA_ENSURE(strlen(spec) < cap, CELLA_E_USAGE, "--input", "too long");
    strcpy(buf, spec);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        CELLA_ENSURE(eq && eq != item && eq[1], CELLA_E_USAGE, "--input",
                     "expected VOLUME=DIR[,VOLUME=DIR...], got '%s'", item);
        CELLA_ENSURE(*n < CELLA_RUN_MAX_VOLUMES, CELLA_E_USAGE, "--input", "too many inputs");
        *eq = '\0';
        in[*n].name = item;
        in[(*n)++].dir = eq + 1;
    }
    return CELLA_OK_RES;
}

/* How an enclave process proves what it runs: real hardware measures the code
 * and quotes; the sim "hardware" measures the app bundle it will run and signs
 * with the platform key (development only). */
typedef struct {
    cella_tee_kind kind;
    cella_quote_fn quote;
    void *quote_ctx;
    cella_sim_quoter sim; /* quote_ctx points here: do not copy the struct */
} enclave_id;

static cella_res enclave_id_open(enclave_id *e, const cli_opt *o, int n, const char *app)
{
    const char *tee = cli_get(o, n, "tee");
    e->kind = CELLA_TEE_SIM;
    if (tee)
        CELLA_TRY(cella_tee_kind_parse(tee, &e->kind));
    if (e->kind != CELLA_TEE_SIM) {
        e->quote = cella_quote_fn_for(e->kind);
        e->quote_ctx = (void *)"";
        return CELLA_OK_RES;
    }
    e->quote = cella_sim_quote_fn;
    e->quote_ctx = &e->sim;
    CELLA_TRY(cella_app_measure(app, e->sim.rep.measurement));
    char dir[4096];
    const char *sd = cli_get(o, n, "sim-dir");
    if (!sd) {
        CELLA_TRY(cella_sim_default_dir(dir, sizeof dir));
        sd = dir;
    }
    return cella_sim_load_private(sd, &e->sim.platform);
}

static void enclave_id_close(enclave_id *e)
{
    EVP_PKEY_free(e->sim.platform);
    e->sim.platform = NULL;
}

/* --memory, --cpu-seconds, --timeout (default one hour of wall clock). */
static cella_res run_limits(const cli_opt *o, int n, uint64_t *mem, uint32_t *cpu, uint32_t *wall)
{
    unsigned long long v;
    *wall = 3600;
    if (cli_get(o, n, "memory")) {
        CELLA_TRY(cli_parse_size(cli_get(o, n, "memory"), "--memory", &v));
        *mem = v;
    }
    if (cli_get(o, n, "cpu-seconds")) {
        CELLA_TRY(cli_parse_size(cli_get(o, n, "cpu-seconds"), "--cpu-seconds", &v));
        *cpu = (uint32_t)v;
    }
    if (cli_get(o, n, "timeout")) {
        CELLA_TRY(cli_parse_size(cli_get(o, n, "timeout"), "--timeout", &v));
        *wall = (uint32_t)v;
    }
    return CELLA_OK_RES;
}

int cli_run_cmd(int argc, char **argv)
{
    /* Before any thread exists: our mounts (plaintext) stay invisible to the host. */
    bool private_ns = cella_runtime_private_mounts();
    cli_opt o[] = {{"cas", true, NULL},          {"cas-fingerprint", true, NULL},
                   {"session", true, NULL},      {"app", true, NULL},
                   {"input", true, NULL},        {"outputs", true, NULL},
                   {"tee", true, NULL},          {"sim-dir", true, NULL},
                   {"memory", true, NULL},       {"cpu-seconds", true, NULL},
                   {"timeout", true, NULL},      {"blobs", true, NULL},
                   {"push", true, NULL}};
    const char *pos[1];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    enclave_id eid;
    memset(&eid, 0, sizeof eid);
    char sess[256], svc[256], inbuf[8192], work[256] = "";
    cella_run_input inputs[CELLA_RUN_MAX_VOLUMES];
    size_t ninputs = 0;
    cella_run_result res;
    memset(&res, 0, sizeof res);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "run");
    const char *ss = cli_get(o, NOPTS(o), "session"), *app = cli_get(o, NOPTS(o), "app");
    const char *outs = cli_get(o, NOPTS(o), "outputs");
    if (cella_ok(r) && (!ss || sscanf(ss, "%255[^/]/%255s", sess, svc) != 2 || !app))
        r = cella_fail(CELLA_E_USAGE, "run",
                       "usage: cella run --session NAME/SERVICE --app DIR [--input VOLUME=DIR] "
                       "[--outputs DIR] --cas URL --cas-fingerprint FP");
    cella_run_opts ro = {.session = sess, .service = svc, .app_stdout = -1, .app_stderr = -1,
                         .outputs_dir = outs ? outs : "outputs"};
#ifdef CELLA_RUNTIME_LEAN
    if (cella_ok(r) && (cli_get(o, NOPTS(o), "blobs") || cli_get(o, NOPTS(o), "push")))
        r = no_blobs(); /* refused before anything runs */
#endif
    if (cella_ok(r))
        r = run_limits(o, NOPTS(o), &ro.mem_bytes, &ro.cpu_seconds, &ro.wall_seconds);
    if (cella_ok(r))
        r = parse_inputs(cli_get(o, NOPTS(o), "input"), inputs, &ninputs, inbuf, sizeof inbuf);
    ro.inputs = inputs;
    ro.ninputs = ninputs;
    if (cella_ok(r))
        r = enclave_id_open(&eid, o, NOPTS(o), app);
    ro.tee = eid.kind;
    ro.quote = eid.quote;
    ro.quote_ctx = eid.quote_ctx;
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    /* Kept-alive connections (net/tls_http.h): the tag push rides on the
     * attested connection (same client certificate). */
    c.http.reuse = cella_http_pool_new();
    ro.cas = &c.http;
    ro.app_dir = app;
    if (cella_ok(r)) {
        const char *tmp = getenv("TMPDIR");
        snprintf(work, sizeof work, "%s/cella-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work))
            r = cella_fail(CELLA_E_IO, work, "cannot create a work directory: %s", strerror(errno));
        ro.work_dir = work;
    }
    /* Inputs given as blob:SHA come from the transfer service (ciphertext:
     * fetched to the work directory, checked against its hash). */
    char fetched[CELLA_RUN_MAX_VOLUMES][400];
    bool any_fetched = false;
    for (size_t i = 0; cella_ok(r) && i < ninputs; i++) {
        if (strncmp(inputs[i].dir, "blob:", 5))
            continue;
        const char *bu = cli_get(o, NOPTS(o), "blobs");
        uint8_t sha[32];
        r = bu ? cella_hex_decode(sha, 32, inputs[i].dir + 5, strlen(inputs[i].dir + 5), "--input")
               : cella_fail(CELLA_E_USAGE, "--blobs", "blob:SHA inputs need --blobs URL");
        snprintf(fetched[i], sizeof fetched[i], "%s/in-%zu", work, i);
        if (cella_ok(r))
            r = cella_blob_get_dir(bu, sha, fetched[i]);
        inputs[i].dir = fetched[i];
        any_fetched = true;
    }
    if (cella_ok(r)) {
        if (!private_ns)
            cella_warn("running without a private mount namespace");
        r = cella_runtime_run(&ro, &res);
    }
    if (any_fetched)
        for (size_t i = 0; i < ninputs; i++)
            if (inputs[i].dir == fetched[i])
                cella_rm_tree(AT_FDCWD, fetched[i]);
    if (work[0])
        rmdir(work);
    const char *push = cli_get(o, NOPTS(o), "push");
    if (cella_ok(r)) {
        for (size_t i = 0; cella_ok(r) && i < res.noutputs; i++) {
            char th[33], url[1200] = "";
            cella_hex_encode(th, res.outputs[i].tag, 16, false);
            if (push) {
                uint8_t sha[32];
                r = cella_blob_put_dir(push, res.outputs[i].dir, sha);
                if (cella_ok(r))
                    r = cella_blob_url(push, sha, url, sizeof url);
            }
            if (cella_ok(r))
                printf("output %s %s tag %s%s%s\n", res.outputs[i].name, res.outputs[i].dir, th,
                       push ? " url " : "", url);
        }
        if (res.exit_code != 0)
            fprintf(stderr, "cella: the app exited with status %d%s; outputs discarded\n",
                    res.exit_code, res.timed_out ? " (time limit)" : "");
    }
    enclave_id_close(&eid);
    cella_http_pool_free(c.http.reuse);
    if (!cella_ok(r))
        return cli_report(r);
    return res.exit_code;
}

/* ---- run-task: the enclave of a market task --------------------------------------- */

static cella_res open_log(const char *dir, const char *name, int *fd)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    *fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    CELLA_ENSURE(*fd >= 0, CELLA_E_IO, p, "cannot create: %s", strerror(errno));
    return CELLA_OK_RES;
}

static int run_task(int argc, char **argv, bool private_ns)
{
    cli_opt o[] = {{"cas", true, NULL},        {"cas-fingerprint", true, NULL},
                   {"session", true, NULL},    {"app", true, NULL},
                   {"dataset", true, NULL},    {"out", true, NULL},
                   {"log-dir", true, NULL},    {"error-file", true, NULL},
                   {"tee", true, NULL},        {"sim-dir", true, NULL},
                   {"memory", true, NULL},     {"cpu-seconds", true, NULL},
                   {"timeout", true, NULL},    {"standard", true, NULL}};
    const char *pos[1];
    int np, out_fd = -1, err_fd = -1;
    cas_conn c;
    memset(&c, 0, sizeof c);
    enclave_id eid;
    memset(&eid, 0, sizeof eid);
    char work[256] = "";
    cella_task_result res;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "run-task");
    const char *session = cli_get(o, NOPTS(o), "session"), *app = cli_get(o, NOPTS(o), "app"),
               *out = cli_get(o, NOPTS(o), "out"), *logs = cli_get(o, NOPTS(o), "log-dir"),
               *standard = cli_get(o, NOPTS(o), "standard");
    /* A standard task (runtime/standard.h): the worker's environment file
     * instead of a session; no cas, no enclave. */
    json_t *senv = NULL;
    if (cella_ok(r) && standard) {
        json_error_t je;
        senv = json_load_file(standard, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(senv))
            r = cella_fail(CELLA_E_PARSE, standard, "not a JSON object: %s", je.text);
        session = "standard";
    }
    if (cella_ok(r) && (!session || !app || !out))
        r = cella_fail(CELLA_E_USAGE, "run-task",
                       "usage: cella run-task --session iexec-0xTASKID --app DIR [--dataset FILE] "
                       "--out DIR [--log-dir DIR] --cas URL --cas-fingerprint FP");
    cella_task_opts to = {.session = session, .app_dir = app, .out_dir = out,
                          .dataset = cli_get(o, NOPTS(o), "dataset"), .app_stdout = -1,
                          .app_stderr = -1, .standard_env = senv};
    if (cella_ok(r))
        r = run_limits(o, NOPTS(o), &to.mem_bytes, &to.cpu_seconds, &to.wall_seconds);
    if (cella_ok(r) && !senv)
        r = enclave_id_open(&eid, o, NOPTS(o), app);
    to.tee = eid.kind;
    to.quote = eid.quote;
    to.quote_ctx = eid.quote_ctx;
    if (cella_ok(r) && !senv)
        r = cas_conn_open(&c, o, NOPTS(o));
    to.cas = &c.http;
    /* The app's own output, kept for the requester (`cella task debug --logs`). */
    if (cella_ok(r) && logs)
        r = open_log(logs, "app-stdout.txt", &out_fd);
    if (cella_ok(r) && logs)
        r = open_log(logs, "app-stderr.txt", &err_fd);
    to.app_stdout = out_fd;
    to.app_stderr = err_fd;
    if (cella_ok(r)) {
        const char *tmp = getenv("TMPDIR");
        snprintf(work, sizeof work, "%s/cella-task.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work)) {
            r = cella_fail(CELLA_E_IO, work, "cannot create a work directory: %s", strerror(errno));
            work[0] = '\0';
        }
        to.work_dir = work;
    }
    if (cella_ok(r)) {
        if (!private_ns)
            cella_warn("running without a private mount namespace");
        r = cella_task_run(&to, &res);
    }
    if (work[0])
        rmdir(work);
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    enclave_id_close(&eid);
    cas_conn_close(&c);
    json_decref(senv);
    if (cella_ok(r)) {
        char d[65];
        cella_hex_encode(d, res.digest, 32, false);
        printf("result-digest 0x%s %s\n", d, res.encrypted ? "encrypted" : "not encrypted");
        /* Phase times for the worker's log line and `make bench` (not secret). */
        char tp[4200], tj[200];
        snprintf(tp, sizeof tp, "%s/timings.json", out);
        int tn = snprintf(tj, sizeof tj,
                          "{\"attest\": %.1f, \"pre\": %.1f, \"app\": %.1f, \"post\": %.1f}\n",
                          res.ms_attest, res.ms_pre, res.ms_app, res.ms_post);
        if (!cella_ok(cella_task_write_out(tp, tj, (size_t)tn)))
            cella_warn("cannot write %s: %s", tp, cella_error_what());
        return 0;
    }
    /* The one-line reason, for the worker to show the requester. */
    const char *ef = cli_get(o, NOPTS(o), "error-file");
    char line[1200];
    const char *where = cella_error_where();
    int n = snprintf(line, sizeof line, "%s%s%s%s\n", cella_error_what(), where[0] ? " (" : "",
                     where, where[0] ? ")" : "");
    int rc = cli_report(r);
    if (ef && !cella_ok(cella_task_write_out(ef, line,
                                             n < (int)sizeof line ? (size_t)n : sizeof line - 1)))
        fprintf(stderr, "cella: cannot write the error file %s\n", ef);
    return rc;
}


/* What every task's enclave pays first and no task owns: OpenSSL's default
 * provider and the algorithms a task fetches (hashes, AES-GCM, a TLS client
 * context's ciphers and groups), cached per process. Done by a standby
 * before it has a task, so off the task's path. */
static void warm_up(void)
{
    EVP_MD_free(EVP_MD_fetch(NULL, "SHA256", NULL));
    EVP_CIPHER_free(EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL));
    SSL_CTX_free(SSL_CTX_new(TLS_client_method()));
}

/* run-task --standby (runtime/standby.h): started by the worker before it
 * has a task for this process; gets it, once, on stdin. */
static int run_task_standby(void)
{
    bool private_ns = cella_runtime_private_mounts();
    warm_up();
    uint8_t *buf = malloc(CELLA_STANDBY_MSG_MAX);
    const char *log_path = NULL, *args[CELLA_STANDBY_ARGS_MAX + 1];
    size_t n = 0;
    cella_res r = buf ? cella_standby_receive(0, buf, &log_path, args, CELLA_STANDBY_ARGS_MAX, &n)
                      : cella_fail(CELLA_E_NOMEM, "standby", "out of memory");
    if (r.code == CELLA_E_NOTFOUND) { /* stopped unused: nothing to say */
        free(buf);
        return 0;
    }
    /* The task's own log, as a freshly started enclave's stdout and stderr;
     * stdin /dev/null again (the app inherits it, never the worker's socket). */
    int lfd = cella_ok(r) ? open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)
                          : -1;
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (cella_ok(r) && (lfd < 0 || nul < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0 || dup2(nul, 0) < 0))
        r = cella_fail(CELLA_E_IO, log_path, "cannot set up the task's log: %s", strerror(errno));
    if (lfd >= 0)
        close(lfd);
    if (nul >= 0)
        close(nul);
    int rc = cella_ok(r) ? (args[n] = NULL, run_task((int)n, (char **)args, private_ns))
                         : cli_report(r);
    free(buf);
    return rc;
}

int cli_run_task_cmd(int argc, char **argv)
{
    if (argc == 1 && !strcmp(argv[0], "--standby"))
        return run_task_standby();
    /* Before any thread exists: the plaintext mounts stay invisible to the host. */
    return run_task(argc, argv, cella_runtime_private_mounts());
}
