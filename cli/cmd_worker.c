/* cella worker start: a workerpool's worker (lib/worker/worker.h). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cas_client.h"
#include "casapi/casapi.h"
#include "commands.h"
#include "core/log.h"
#include "identity/eth.h"
#include "project.h"
#include "wallet_opts.h"
#include "worker/signer.h"
#include "worker/worker.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* The wallet must own the pool: only its owner's signatures authorize workers. */
static cella_res check_pool_owner(const cli_hub *hub, const char *pool, const uint8_t owner[20])
{
    cella_http_client h = hub->http;
    h.timeout_s = 10;
    char path[128];
    snprintf(path, sizeof path, "/v1/workerpools/%s", pool);
    json_t *wp = NULL;
    CELLA_TRY(cella_cas_call(&h, "GET", path, cella_slice_of("", 0), &wp));
    uint8_t got[20];
    const char *o = json_string_value(json_object_get(wp, "owner"));
    cella_res r = o ? cella_eth_address_parse(got, o, "workerpool owner")
                    : cella_fail(CELLA_E_PARSE, pool, "the hub sent no owner");
    if (cella_ok(r) && memcmp(got, owner, 20) != 0) {
        char mine[43];
        cella_eth_address_checksum(mine, owner);
        r = cella_fail(CELLA_E_PERM, pool,
                       "the wallet %s does not own this workerpool (its owner is %s)", mine, o);
    }
    json_decref(wp);
    return r;
}

typedef struct {
    const cli_opt *o;
    int n;
} wallet_opts;

/* Runs in the signer process only: the worker never holds the key. */
static cella_res load_pool_key(void *ctx, uint8_t priv[32])
{
    const wallet_opts *w = ctx;
    uint8_t addr[20];
    return cli_wallet_open(w->o, w->n, priv, addr);
}

/* The worker's own key (--worker-wallet-file, --worker-password-file): its
 * signer opens it as the pool owner's opens --wallet-file. */
static cella_res load_worker_key(void *ctx, uint8_t priv[32])
{
    const wallet_opts *w = ctx;
    cli_opt k[] = {{"wallet-file", true, cli_get(w->o, w->n, "worker-wallet-file")},
                   {"password-file", true, cli_get(w->o, w->n, "worker-password-file")}};
    uint8_t addr[20];
    return cli_wallet_open(k, NOPTS(k), priv, addr);
}
/* The enclave runs `cella-runtime run-task` when it is installed beside this
 * binary (same verbs and options, about half the libraries, so each task
 * starts faster: docs/architecture.md "The enclave start"); else this binary. */
static void prefer_lean_runtime(char *exe, size_t size)
{
    char lean[PATH_MAX];
    const char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    int n = snprintf(lean, sizeof lean, "%.*s/cella-runtime", (int)(slash - exe), exe);
    if (n > 0 && (size_t)n < sizeof lean && (size_t)n < size && access(lean, X_OK) == 0)
        memcpy(exe, lean, (size_t)n + 1);
}

static int worker_start(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS,
                   {"hub-url", true, NULL},
                   {"hub-fingerprint", true, NULL},
                   {"pool", true, NULL},
                   {"slots", true, NULL},
                   {"blobs", true, NULL},
                   {"work-dir", true, NULL},
                   {"sim-dir", true, NULL},
                   {"tee", true, NULL},
                   {"lease", true, NULL},
                   {"timeout", true, NULL},
                   {"once", false, NULL},
                   {"metrics", true, NULL},
                   {"worker-wallet-file", true, NULL},
                   {"worker-password-file", true, NULL},
                   {"consensus-wait", true, NULL}};
    const char *pos[1];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    cli_hub hub = {0};
    char exe[PATH_MAX], blobs[1024];
    cella_signer signer, wsigner;
    bool signing = false, wsigning = false;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "worker start");
    const char *pool = cli_get(o, NOPTS(o), "pool");
    if (cella_ok(r) && !pool)
        r = cella_fail(CELLA_E_USAGE, "worker start",
                       "usage: cella worker start --pool 0xWORKERPOOL --wallet-file POOL_OWNER "
                       "[--slots N] [--hub-url URL[,URL...] [--hub-fingerprint FP[,FP...]]] [--cas URL[,URL...] "
                       "--cas-fingerprint FP[,FP...]] [--blobs URL]");
    uint8_t pa[20];
    if (cella_ok(r))
        r = cella_eth_address_parse(pa, pool, "--pool");
    unsigned long long slots = 1, lease = 30, timeout = 3600, cwait = 600;
    if (cella_ok(r) && cli_get(o, NOPTS(o), "slots"))
        r = cli_parse_size(cli_get(o, NOPTS(o), "slots"), "--slots", &slots);
    if (cella_ok(r) && (slots < 1 || slots > CELLA_WORKER_MAX_SLOTS))
        r = cella_fail(CELLA_E_USAGE, "--slots", "between 1 and %d", CELLA_WORKER_MAX_SLOTS);
    if (cella_ok(r) && cli_get(o, NOPTS(o), "lease"))
        r = cli_parse_size(cli_get(o, NOPTS(o), "lease"), "--lease", &lease);
    if (cella_ok(r) && (lease < 3 || lease > 600))
        r = cella_fail(CELLA_E_USAGE, "--lease", "between 3 and 600 seconds");
    if (cella_ok(r) && cli_get(o, NOPTS(o), "timeout"))
        r = cli_parse_size(cli_get(o, NOPTS(o), "timeout"), "--timeout", &timeout);
    if (cella_ok(r) && cli_get(o, NOPTS(o), "consensus-wait"))
        r = cli_parse_size(cli_get(o, NOPTS(o), "consensus-wait"), "--consensus-wait", &cwait);
    if (cella_ok(r) && (cwait < 1 || cwait > 86400))
        r = cella_fail(CELLA_E_USAGE, "--consensus-wait", "between 1 and 86400 seconds");
    /* First, while this process has no thread: the signer process, which
     * opens the wallet (and asks for its password) itself. */
    wallet_opts wopts = {o, NOPTS(o)};
    if (cella_ok(r)) {
        r = cella_signer_start(&signer, load_pool_key, &wopts);
        signing = cella_ok(r);
    }
    if (cella_ok(r) && cli_get(o, NOPTS(o), "worker-wallet-file")) {
        r = cella_signer_start(&wsigner, load_worker_key, &wopts);
        wsigning = cella_ok(r);
    }
    if (cella_ok(r))
        r = cli_hub_open(o, NOPTS(o), &hub);
    if (cella_ok(r))
        r = cli_project_url(o, NOPTS(o), "blobs", "blobsUrl", "http://127.0.0.1:8082", blobs,
                            sizeof blobs);
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = check_pool_owner(&hub, pool, signer.addr);
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (cella_ok(r) && el <= 0)
        r = cella_fail(CELLA_E_IO, "/proc/self/exe", "cannot find this binary: %s", strerror(errno));
    if (el > 0)
        exe[el] = '\0';
    if (cella_ok(r))
        prefer_lean_runtime(exe, sizeof exe);
    const char *wd = cli_get(o, NOPTS(o), "work-dir");
    if (cella_ok(r)) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        cella_worker_opts wo = {
            .hub = &hub.ep,
            .cas = &c.ep,
            .blobs_url = blobs,
            .signer = &signer,
            .worker_signer = wsigning ? &wsigner : NULL,
            .pool = pool,
            .work_dir = wd ? wd : "./cella-worker",
            .cella_exe = exe,
            .sim_dir = cli_get(o, NOPTS(o), "sim-dir"),
            .tee = cli_get(o, NOPTS(o), "tee"),
            .slots = (unsigned)slots,
            .lease_seconds = (unsigned)lease,
            .app_timeout = (unsigned)timeout,
            .consensus_wait = (unsigned)cwait,
            .once = cli_get(o, NOPTS(o), "once") != NULL,
            .metrics_listen = cli_get(o, NOPTS(o), "metrics"),
            .stop = &g_stop,
        };
        if (!wo.once)
            printf("worker for pool %s: %llu slot(s), hub %s, cas %s\n", pool, slots, hub.url, c.url);
        fflush(stdout);
        r = cella_worker_run(&wo);
    }
    if (signing)
        cella_signer_stop(&signer);
    if (wsigning)
        cella_signer_stop(&wsigner);
    cas_conn_close(&c);
    return cli_report(r);
}

const cli_command cli_worker_commands[] = {
    {"worker", "start", worker_start,
     "cella worker start --pool 0xWORKERPOOL --wallet-file POOL_OWNER [--password-file P] "
     "[--slots N] [--hub-url URL[,URL...] [--hub-fingerprint FP[,FP...]]] [--cas URL[,URL...] "
     "--cas-fingerprint FP[,FP...]] [--blobs URL] [--work-dir DIR] [--lease S] [--timeout S] [--once] "
     "[--metrics ADDR:PORT] [--worker-wallet-file W [--worker-password-file P]] "
     "[--consensus-wait S]",
     "Run a worker of the pool: follow the hub for the pool's runnable tasks, lease them, get "
     "each task's session from cas, fetch and check the app and dataset, run the enclave (cella "
     "run-task), upload the encrypted result and contribute. --once: stop when nothing is left "
     "to run. --metrics: serve GET /metrics (Prometheus text) on ADDR:PORT, unauthenticated "
     "(docs/metrics.md). SIGINT/SIGTERM: finish the current tasks and stop. Several hub or cas "
     "replicas (comma-separated, with one pin for all or one per URL): the worker fails over "
     "between them (docs/failover.md). The pool owner's key stays in a signer process of its own, "
     "which opens the wallet; if it stops, the worker stops (docs/worker.md). A deal without the "
     "TEE tag is a standard task: no enclave, no secrets, the result unencrypted. "
     "--worker-wallet-file: the worker's own key (in a signer of its own) contributes and "
     "reveals, authorized by the owner: several workers of one pool then replicate a trust > 1 "
     "task (each stakes; the hub's consensus pays the winners). --consensus-wait: how long a "
     "worker waits after its contribution for the consensus, then for the reveals (default 600)."},
    {NULL, NULL, NULL, NULL, NULL},
};
