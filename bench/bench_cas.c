/* Load generator for cas (and, for the baseline, any HTTPS URL), bounded in
 * time. Prints "<operations/s> <operations> <client CPU us per operation>" (this
 * process's user + system time: the client shares the machine's cores with
 * the server, so its cost is part of every figure).
 *
 *   bench_cas attest  URL FP THREADS SECONDS SIMDIR   full attestation + key release,
 *                                                       a new TLS connection each time
 *   bench_cas keyread URL FP THREADS SECONDS SIMDIR   signed volume-key reads on
 *                                                       kept-alive connections
 *   bench_cas get     URL FP THREADS SECONDS new|keep  GET URL (nginx baseline)
 *
 * attest/keyread first create their own session (allow_sim) with a fresh wallet. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <unistd.h>

#include "casapi/casapi.h"
#include "core/encoding.h"
#include "identity/eth.h"
#include "tee/sim.h"

static const char *MEAS = "2222222222222222222222222222222222222222222222222222222222222222";

static cella_http_client g_c;
static EVP_PKEY *g_platform;
static uint8_t g_platform_id[32]; /* encoded once: see cella_sim_quote_id */
static uint8_t g_owner[32];
static char g_session[64], g_path[256];
static double g_seconds;
static int g_mode; /* 0 attest, 1 keyread, 2 get */
static atomic_long g_ops, g_errors;

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cella_res quote(const uint8_t rd[64], cella_buf *ev, void *ctx)
{
    (void)ctx;
    cella_sim_report r = {0};
    if (!cella_ok(cella_hex_decode(r.measurement, 32, MEAS, 64, "m")))
        return cella_fail(CELLA_E_INTERNAL, NULL, "bad measurement");
    memcpy(r.report_data, rd, 64);
    return cella_sim_quote_id(g_platform, g_platform_id, &r, ev);
}

static void *run(void *arg)
{
    (void)arg;
    double end = now() + g_seconds;
    while (now() < end) {
        cella_res r;
        json_t *j = NULL;
        if (g_mode == 0) {
            cella_cas_instance inst;
            r = cella_cas_attest(&g_c, CELLA_TEE_SIM, quote, NULL, g_session, "app", &inst);
            if (cella_ok(r))
                cella_cas_instance_free(&inst);
        } else if (g_mode == 1) {
            r = cella_cas_signed_call(&g_c, g_owner, "GET", g_path, cella_slice_of("", 0),
                                      "application/json", &j);
        } else {
            cella_http_response resp;
            r = cella_http_call(&g_c, "GET", "", NULL, cella_slice_of("", 0), &resp);
            if (cella_ok(r) && resp.status != 200)
                r = cella_fail(CELLA_E_IO, NULL, "status %ld", resp.status);
            if (cella_ok(r))
                cella_http_response_free(&resp);
        }
        json_decref(j);
        if (cella_ok(r))
            atomic_fetch_add(&g_ops, 1);
        else if (atomic_fetch_add(&g_errors, 1) < 3)
            fprintf(stderr, "bench_cas: %s\n", cella_error_what());
    }
    return NULL;
}

static int setup_session(const char *simdir)
{
    if (!cella_ok(cella_sim_load_private(simdir, &g_platform)) ||
        !cella_ok(cella_sim_platform_id(g_platform, g_platform_id)) ||
        !cella_ok(cella_eth_privkey_generate(g_owner)))
        return -1;
    snprintf(g_session, sizeof g_session, "bench-%ld", (long)time(NULL) ^ (long)rand());
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "name: %s\nservices:\n  - name: app\n    image_name: img\n    mrenclaves: [%s]\n"
             "    command: /app\n    pwd: /\nvolumes:\n  - name: out\nimages:\n  - name: img\n"
             "    volumes: [{name: out, path: /out}]\nsecurity:\n  allow_sim: true\n",
             g_session, MEAS);
    json_t *j = NULL;
    cella_res r = cella_cas_signed_call(&g_c, g_owner, "POST", "/v1/sessions",
                                        cella_slice_of(yaml, strlen(yaml)), "application/yaml", &j);
    json_decref(j);
    snprintf(g_path, sizeof g_path, "/v1/sessions/%s/volumes/out", g_session);
    if (!cella_ok(r))
        fprintf(stderr, "bench_cas: cannot create the session: %s\n", cella_error_what());
    return cella_ok(r) ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_cas attest|keyread|get URL FP THREADS SECONDS SIMDIR|new|keep\n");
        return 2;
    }
    g_mode = !strcmp(argv[1], "attest") ? 0 : !strcmp(argv[1], "keyread") ? 1 : 2;
    int threads = atoi(argv[4]);
    g_seconds = atof(argv[5]);
    srand((unsigned)getpid());
    g_c = (cella_http_client){.base_url = argv[2], .pin = argv[3]};
    /* attest: the nonce fetch reuses a connection; the attestation itself has a
     * new client certificate, hence always a new TLS connection. */
    if (g_mode != 2 || !strcmp(argv[6], "keep"))
        g_c.reuse = cella_http_pool_new();
    if (g_mode != 2 && setup_session(argv[6]) != 0)
        return 1;
    pthread_t th[64];
    if (threads < 1 || threads > 64)
        return 2;
    double t0 = now(), cpu0 = cpu_seconds();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, run, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double el = now() - t0, cpu = cpu_seconds() - cpu0;
    long ops = atomic_load(&g_ops);
    printf("%.0f %ld %.0f\n", (double)ops / el, ops, ops ? cpu * 1e6 / (double)ops : 0.0);
    if (atomic_load(&g_errors))
        fprintf(stderr, "bench_cas: %ld errors\n", atomic_load(&g_errors));
    cella_http_pool_free(g_c.reuse);
    EVP_PKEY_free(g_platform);
    return atomic_load(&g_errors) && !ops ? 1 : 0;
}
