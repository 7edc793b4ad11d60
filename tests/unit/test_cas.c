/* cas end to end: a real `cella cas serve` process on loopback, driven through
 * the client library. Every refusal the cas issue lists is checked for its
 * status and reason; the server must keep serving throughout, and an
 * acknowledged tag must survive kill -9. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "iexec/sms.h"
#include "net/tls_http.h"
#include "tee/ratls.h"
#include "tee/sim.h"
#include "testutil.h"

static const char *MEAS = "1111111111111111111111111111111111111111111111111111111111111111";

static char *g_dir;
static char g_url[64], g_fp[65], g_listen[32];
static pid_t g_pid;
static cella_http_client g_http;
static EVP_PKEY *g_platform;
static uint8_t g_owner[32], g_other[32];

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static void start_server(void)
{
    char data[600], pub[600], log[600];
    snprintf(data, sizeof data, "%s/cas", g_dir);
    snprintf(pub, sizeof pub, "%s/sim/sim-platform.pub", g_dir);
    snprintf(log, sizeof log, "%s/cas.log", g_dir);
    g_pid = fork();
    if (g_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("CELLA"), "cella", "cas", "serve", "--data", data, "--allow-sim",
              "--sim-platform", pub, "--listen", g_listen, "--threads", "2", (char *)NULL);
        _exit(127);
    }
    /* Ready when the fingerprint line is printed and health answers. */
    for (int i = 0; i < 500; i++) {
        int st;
        if (waitpid(g_pid, &st, WNOHANG) == g_pid) {
            char cmd[700];
            snprintf(cmd, sizeof cmd, "cat %s >&2", log);
            if (system(cmd) != 0)
                fprintf(stderr, "(no cas log)\n");
            fail_msg("cas exited during startup (status %d); its log is above", st);
        }
        FILE *f = fopen(log, "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "fingerprint %64s", g_fp) == 1)
                break;
        if (f)
            fclose(f);
        if (strlen(g_fp) == 64) {
            json_t *h = NULL;
            if (cella_ok(cella_cas_call(&g_http, "GET", "/v1/health", cella_slice_of("", 0), &h))) {
                json_decref(h);
                return;
            }
        }
        usleep(20000);
    }
    fail_msg("cas did not start; see %s", log);
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(getenv("CELLA"));
    g_dir = test_tmpdir();
    char sim[600];
    snprintf(sim, sizeof sim, "%s/sim", g_dir);
    assert_succeeds(cella_sim_platform_init(sim, false));
    assert_succeeds(cella_sim_load_private(sim, &g_platform));
    snprintf(g_listen, sizeof g_listen, "127.0.0.1:%d", free_port());
    snprintf(g_url, sizeof g_url, "https://%s", g_listen);
    g_http = (cella_http_client){.base_url = g_url, .pin = g_fp};
    assert_succeeds(cella_eth_privkey_generate(g_owner));
    assert_succeeds(cella_eth_privkey_generate(g_other));
    start_server();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kill(g_pid, SIGTERM);
    waitpid(g_pid, NULL, 0);
    EVP_PKEY_free(g_platform);
    test_rmdir(g_dir);
    return 0;
}

/* Asserts a call failed with `code` and a reason containing `why`. */
#define assert_refused(expr, want, why)                                        \
    do {                                                                       \
        cella_res r__ = (expr);                                                \
        if (r__.code != (want) || !strstr(cella_error_what(), (why)))          \
            fail_msg("expected %s /%s/, got %s: %s", cella_code_str(want), why, \
                     cella_code_str(r__.code), cella_error_what());            \
    } while (0)

static const char *session_yaml(const char *name, const char *extra_security, const char *pred)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "name: %s\n%s%s%s"
             "services:\n"
             "  - name: app\n"
             "    image_name: copy\n"
             "    mrenclaves: [%s]\n"
             "    command: /app --fast\n"
             "    pwd: /\n"
             "    environment:\n"
             "      TOKEN: \"$$SCONE::token$$\"\n"
             "volumes:\n"
             "  - name: in\n"
             "    fspf_key: %s\n"
             "    fspf_tag: 00112233445566778899aabbccddeeff\n"
             "  - name: out\n"
             "images:\n"
             "  - name: copy\n"
             "    volumes:\n"
             "      - {name: in, path: /encryptedInputs}\n"
             "      - {name: out, path: /encryptedOutputs}\n"
             "secrets:\n"
             "  - name: token\n"
             "security:\n%s",
             name, pred ? "predecessor: " : "", pred ? pred : "", pred ? "\n" : "", MEAS,
             "abababababababababababababababababababababababababababababababab",
             extra_security ? extra_security : "  allow_sim: true\n");
    return buf;
}

static cella_res create(const uint8_t *who, const char *yaml, json_t **out)
{
    return cella_cas_signed_call(&g_http, who, "POST", "/v1/sessions",
                                 cella_slice_of(yaml, strlen(yaml)), "application/yaml", out);
}

typedef struct {
    cella_sim_report rep;
    const uint8_t *override_rd; /* evidence bound to something else */
    bool fail;                  /* the TEE cannot quote */
    int calls;                  /* evidence made */
} quote_ctx;

static cella_res quote(const uint8_t rd[64], cella_buf *ev, void *vctx)
{
    quote_ctx *q = vctx;
    q->calls++;
    if (q->fail)
        return cella_fail(CELLA_E_UNSUPPORTED, "tee", "no quote today");
    memcpy(q->rep.report_data, q->override_rd ? q->override_rd : rd, 64);
    return cella_sim_quote(g_platform, &q->rep, ev);
}

static quote_ctx good_quote(void)
{
    quote_ctx q;
    memset(&q, 0, sizeof q);
    assert_succeeds(cella_hex_decode(q.rep.measurement, 32, MEAS, 64, "m"));
    return q;
}

static void sessions(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_succeeds(create(g_owner, session_yaml("s1", NULL, NULL), &j));
    const char *hash = json_string_value(json_object_get(j, "hash"));
    assert_non_null(hash);
    char h1[65];
    strcpy(h1, hash);
    json_decref(j);
    /* the name is taken */
    assert_refused(create(g_other, session_yaml("s1", NULL, NULL), &j), CELLA_E_ROLLBACK, "exists");
    /* a create naming a predecessor */
    assert_refused(create(g_owner, session_yaml("s2", NULL, h1), &j), CELLA_E_PERM, "predecessor");
    /* malformed YAML and JSON bodies: 400 with the line */
    assert_refused(create(g_owner, "name: [unclosed\n", &j), CELLA_E_IO, "line");
    assert_refused(cella_cas_signed_call(&g_http, g_owner, "POST", "/v1/sessions",
                                         cella_slice_of("{\"name\": ", 9), "application/json", &j),
                   CELLA_E_IO, "not a JSON object");

    /* show: owner sees it redacted; another wallet is refused */
    assert_succeeds(cella_cas_signed_call(&g_http, g_owner, "GET", "/v1/sessions/s1",
                                          cella_slice_of("", 0), "application/json", &j));
    char *txt = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(txt, "abababababababab"));
    assert_non_null(strstr(txt, "<redacted>"));
    free(txt);
    json_decref(j);
    assert_succeeds(cella_cas_signed_call(&g_http, g_owner, "GET", "/v1/sessions/s1?reveal=1",
                                          cella_slice_of("", 0), "application/json", &j));
    txt = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(txt, "abababababababab"));
    free(txt);
    json_decref(j);
    assert_refused(cella_cas_signed_call(&g_http, g_other, "GET", "/v1/sessions/s1",
                                         cella_slice_of("", 0), "application/json", &j),
                   CELLA_E_PERM, "may not read");

    /* update: needs the current hash as predecessor, and the owner */
    const char *upd_nopred = session_yaml("s1", "  allow_sim: true\n  allow_debug: false\n", NULL);
    assert_refused(cella_cas_signed_call(&g_http, g_owner, "PUT", "/v1/sessions/s1",
                                         cella_slice_of(upd_nopred, strlen(upd_nopred)),
                                         "application/yaml", &j),
                   CELLA_E_PERM, "predecessor");
    char wrong[65];
    memset(wrong, 'e', 64);
    wrong[64] = 0;
    const char *upd_wrong = session_yaml("s1", NULL, wrong);
    assert_refused(cella_cas_signed_call(&g_http, g_owner, "PUT", "/v1/sessions/s1",
                                         cella_slice_of(upd_wrong, strlen(upd_wrong)),
                                         "application/yaml", &j),
                   CELLA_E_ROLLBACK, "predecessor");
    char upd_ok[4096];
    strcpy(upd_ok, session_yaml("s1", NULL, h1));
    assert_refused(cella_cas_signed_call(&g_http, g_other, "PUT", "/v1/sessions/s1",
                                         cella_slice_of(upd_ok, strlen(upd_ok)), "application/yaml", &j),
                   CELLA_E_PERM, "may not update");
    assert_succeeds(cella_cas_signed_call(&g_http, g_owner, "PUT", "/v1/sessions/s1",
                                          cella_slice_of(upd_ok, strlen(upd_ok)), "application/yaml", &j));
    json_decref(j);
    /* the same update again is now stale */
    assert_refused(cella_cas_signed_call(&g_http, g_owner, "PUT", "/v1/sessions/s1",
                                         cella_slice_of(upd_ok, strlen(upd_ok)), "application/yaml", &j),
                   CELLA_E_ROLLBACK, "predecessor");
}

/* GETs /v1/sessions/s1 with an Authorization header claiming the owner's
 * address over `nonce`, the message (for `signed_target`) signed by `key`.
 * Gives the status; `why` (may be NULL) receives the reply's body. */
static long owner_get(const uint8_t key[32], const char *nonce, const char *signed_target,
                      char *why, size_t cap)
{
    char msg[1024], auth[512], addr[43], sighex[131];
    uint8_t sig[65], a[20];
    assert_succeeds(cella_cas_auth_message(msg, sizeof msg, "GET", signed_target, nonce, "", 0));
    assert_succeeds(cella_eth_personal_sign(key, msg, strlen(msg), sig));
    assert_succeeds(cella_eth_address_from_privkey(g_owner, a));
    cella_eth_address_checksum(addr, a);
    cella_hex_encode(sighex, sig, 65, false);
    snprintf(auth, sizeof auth, "Authorization: CELLA-EIP191 %s %s 0x%s", addr, nonce, sighex);
    const char *hdr[] = {auth, NULL};
    cella_http_response resp;
    assert_succeeds(cella_http_call(&g_http, "GET", "/v1/sessions/s1", hdr, cella_slice_of("", 0), &resp));
    long st = resp.status;
    if (why)
        snprintf(why, cap, "%.*s", (int)resp.body.len, (const char *)resp.body.p);
    cella_http_response_free(&resp);
    return st;
}

static void assert_owner_get_refused(const uint8_t key[32], const char *nonce,
                                     const char *signed_target, const char *reason)
{
    char why[512];
    long st = owner_get(key, nonce, signed_target, why, sizeof why);
    if (st != 401 || !strstr(why, reason))
        fail_msg("%ld %s, expected 401 \"%s\"", st, why, reason);
}

/* Signed requests: a replay of the exact same request, and a forged signature. */
static void owner_auth(void **state)
{
    (void)state;
    json_t *ch = NULL;
    assert_succeeds(cella_cas_call(&g_http, "GET", "/v1/challenge", cella_slice_of("", 0), &ch));
    const char *nonce = json_string_value(json_object_get(ch, "nonce"));
    assert_int_equal(owner_get(g_owner, nonce, "/v1/sessions/s1", NULL, 0), 200);
    /* replay: the challenge was consumed */
    assert_owner_get_refused(g_owner, nonce, "/v1/sessions/s1", "already used");
    json_decref(ch);

    /* forged: signed by another key, claiming the owner's address */
    assert_succeeds(cella_cas_call(&g_http, "GET", "/v1/challenge", cella_slice_of("", 0), &ch));
    nonce = json_string_value(json_object_get(ch, "nonce"));
    assert_owner_get_refused(g_other, nonce, "/v1/sessions/s1", "does not match");
    /* a signature over another request (path) does not transfer */
    assert_owner_get_refused(g_owner, nonce, "/v1/sessions/zz", "does not match");
    /* the refused requests burnt nothing: the owner's own request over that
     * challenge still passes (consumed only after the signature verified) */
    assert_int_equal(owner_get(g_owner, nonce, "/v1/sessions/s1", NULL, 0), 200);
    json_decref(ch);
    /* no signature at all */
    cella_http_response resp;
    assert_succeeds(cella_http_call(&g_http, "GET", "/v1/sessions/s1", NULL, cella_slice_of("", 0), &resp));
    assert_int_equal(resp.status, 401);
    cella_http_response_free(&resp);
}

static void attestation(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_succeeds(create(g_owner, session_yaml("nosim", "  allow_sim: false\n", NULL), &j));
    json_decref(j);
    assert_succeeds(create(g_owner, session_yaml("dbg", "  allow_sim: true\n  allow_debug: true\n", NULL), &j));
    json_decref(j);

    cella_cas_instance inst;
    quote_ctx q = good_quote();
    assert_succeeds(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "s1", "app", &inst));
    const json_t *cfg = inst.config;
    assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "command"), 1)), "--fast");
    const char *token = json_string_value(json_object_get(json_object_get(cfg, "environment"), "TOKEN"));
    assert_non_null(token);
    assert_int_equal(strlen(token), 20); /* generated ascii secret, default size */
    const json_t *vols = json_object_get(cfg, "volumes");
    assert_int_equal(json_array_size(vols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, 0), "key")),
                        "abababababababababababababababababababababababababababababababab");
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, 0), "tag")),
                        "00112233445566778899aabbccddeeff");
    char outkey[65];
    strcpy(outkey, json_string_value(json_object_get(json_array_get(vols, 1), "key")));
    assert_true(json_is_null(json_object_get(json_array_get(vols, 1), "tag")));

    /* a second attestation gets the same generated secret and volume key */
    cella_cas_instance inst2;
    assert_succeeds(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "s1", "app", &inst2));
    assert_string_equal(json_string_value(json_object_get(json_object_get(inst2.config, "environment"), "TOKEN")), token);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(inst2.config, "volumes"), 1), "key")), outkey);

    /* refusals */
    quote_ctx bad = good_quote();
    bad.rep.measurement[0] ^= 1;
    cella_cas_instance x;
    assert_refused(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &bad, "s1", "app", &x),
                   CELLA_E_PERM, "is not allowed for this service");
    quote_ctx dq = good_quote();
    dq.rep.debug = true;
    assert_refused(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &dq, "s1", "app", &x),
                   CELLA_E_PERM, "debug enclave refused");
    assert_succeeds(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &dq, "dbg", "app", &x));
    cella_cas_instance_free(&x);
    assert_refused(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "nosim", "app", &x),
                   CELLA_E_PERM, "not accepted by this session");
    assert_refused(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "s1", "nosuch", &x),
                   CELLA_E_PERM, "no such session or service");
    uint8_t other_rd[64] = {9};
    quote_ctx relay = good_quote();
    relay.override_rd = other_rd;
    assert_refused(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &relay, "s1", "app", &x),
                   CELLA_E_PERM, "bound to another TLS key");
    /* a server that is not the pinned one never sees evidence: none is made */
    quote_ctx pinq = good_quote();
    cella_http_client wrong = g_http;
    wrong.pin = "abababababababababababababababababababababababababababababababab";
    assert_refused(cella_cas_attest(&wrong, CELLA_TEE_SIM, quote, &pinq, "s1", "app", &x),
                   CELLA_E_AUTH, "does not match the pinned fingerprint");
    assert_int_equal(pinq.calls, 0);
    assert_null(x.cert);
    /* a TEE that cannot quote during the handshake: its error, and no identity */
    quote_ctx noq = good_quote();
    noq.fail = true;
    assert_fails_with(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &noq, "s1", "app", &x),
                      CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "no quote today"));
    assert_null(x.cert);
    /* evidence signed by another platform key */
    char sim2[600];
    snprintf(sim2, sizeof sim2, "%s/sim2", g_dir);
    EVP_PKEY *saved = g_platform;
    assert_succeeds(cella_sim_platform_init(sim2, false));
    assert_succeeds(cella_sim_load_private(sim2, &g_platform));
    assert_refused(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "s1", "app", &x),
                   CELLA_E_PERM, "another platform key");
    EVP_PKEY_free(g_platform);
    g_platform = saved;

    /* a replayed nonce: same certificate and body sent twice */
    json_t *nj = NULL;
    assert_succeeds(cella_cas_call(&g_http, "GET", "/v1/attest/nonce", cella_slice_of("", 0), &nj));
    const char *nh = json_string_value(json_object_get(nj, "nonce"));
    uint8_t nonce[32];
    assert_succeeds(cella_hex_decode(nonce, 32, nh, 64, "n"));
    EVP_PKEY *k;
    X509 *c;
    assert_succeeds(cella_ratls_make(CELLA_TEE_SIM, nonce, quote, &q, &k, &c));
    cella_http_client mc = g_http;
    mc.client_cert = c;
    mc.client_key = k;
    char body[300];
    snprintf(body, sizeof body, "{\"session\":\"s1\",\"service\":\"app\",\"nonce\":\"%s\"}", nh);
    assert_succeeds(cella_cas_call(&mc, "POST", "/v1/attest", cella_slice_of(body, strlen(body)), &j));
    json_decref(j);
    assert_refused(cella_cas_call(&mc, "POST", "/v1/attest", cella_slice_of(body, strlen(body)), &j),
                   CELLA_E_PERM, "already used");
    /* evidence bound to an earlier handshake (that of inst's attestation),
     * presented again on a new connection and naming no nonce */
    cella_http_client again = g_http;
    again.client_cert = inst.cert;
    again.client_key = inst.key;
    const char *nonceless = "{\"session\":\"s1\",\"service\":\"app\"}";
    assert_refused(cella_cas_call(&again, "POST", "/v1/attest", cella_slice_of(nonceless, strlen(nonceless)), &j),
                   CELLA_E_PERM, "bound to another TLS handshake");
    /* nor does it pass with a fresh nonce it does not name */
    json_t *nj2 = NULL;
    assert_succeeds(cella_cas_call(&g_http, "GET", "/v1/attest/nonce", cella_slice_of("", 0), &nj2));
    snprintf(body, sizeof body, "{\"session\":\"s1\",\"service\":\"app\",\"nonce\":\"%s\"}",
             json_string_value(json_object_get(nj2, "nonce")));
    assert_refused(cella_cas_call(&again, "POST", "/v1/attest", cella_slice_of(body, strlen(body)), &j),
                   CELLA_E_PERM, "bound to another nonce");
    json_decref(nj2);
    /* without a client certificate */
    assert_refused(cella_cas_call(&g_http, "POST", "/v1/attest", cella_slice_of(body, strlen(body)), &j),
                   CELLA_E_PERM, "RA-TLS client certificate");
    X509_free(c);
    EVP_PKEY_free(k);
    json_decref(nj);

    /* tags: compare and swap, only from the attested instance */
    uint8_t t1[16] = {1}, t2[16] = {2}, init[16];
    assert_succeeds(cella_hex_decode(init, 16, "00112233445566778899aabbccddeeff", 32, "t"));
    assert_succeeds(cella_cas_push_tag(&g_http, &inst, "out", NULL, t1));
    assert_refused(cella_cas_push_tag(&g_http, &inst2, "out", NULL, t2), CELLA_E_ROLLBACK, "stale");
    assert_succeeds(cella_cas_push_tag(&g_http, &inst2, "out", t1, t2));
    assert_refused(cella_cas_push_tag(&g_http, &inst, "out", t1, t1), CELLA_E_ROLLBACK, "stale");
    assert_refused(cella_cas_push_tag(&g_http, &inst, "in", t1, t2), CELLA_E_ROLLBACK, "stale");
    assert_succeeds(cella_cas_push_tag(&g_http, &inst, "in", init, t1));
    /* an instance token presented with another key, and no key at all */
    cella_cas_instance mixed = inst;
    mixed.cert = inst2.cert;
    mixed.key = inst2.key;
    assert_refused(cella_cas_push_tag(&g_http, &mixed, "out", t2, t1), CELLA_E_PERM, "another attested key");
    cella_cas_instance nocert = inst;
    nocert.cert = NULL;
    nocert.key = NULL;
    assert_refused(cella_cas_push_tag(&g_http, &nocert, "out", t2, t1), CELLA_E_PERM, "TLS certificate");

    /* the owner reads the output volume's key and latest tag */
    assert_succeeds(cella_cas_signed_call(&g_http, g_owner, "GET", "/v1/sessions/s1/volumes/out",
                                          cella_slice_of("", 0), "application/json", &j));
    assert_string_equal(json_string_value(json_object_get(j, "key")), outkey);
    assert_string_equal(json_string_value(json_object_get(j, "tag")), "02000000000000000000000000000000");
    json_decref(j);
    assert_refused(cella_cas_signed_call(&g_http, g_other, "GET", "/v1/sessions/s1/volumes/out",
                                         cella_slice_of("", 0), "application/json", &j),
                   CELLA_E_PERM, "may not read");
    cella_cas_instance_free(&inst);
    cella_cas_instance_free(&inst2);
}

/* SCONE's attestation variants: signer, product and minimum version; a
 * measurement AND a signer in one variant; OR across variants. */
static void signer_attestation(void **state)
{
    (void)state;
#define SIGNER_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SIGNER_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define OTHER_M "3333333333333333333333333333333333333333333333333333333333333333"
    const char *yaml = "name: signed\n"
                       "services:\n"
                       "  - name: app\n"
                       "    command: /app\n"
                       "    pwd: /\n"
                       "    attestation:\n"
                       "      - signer: {mrsigner: " SIGNER_A ", isvprodid: 7, isvsvn_min: 3}\n"
                       "      - mrenclave: [" OTHER_M "]\n"
                       "        signer: {mrsigner: " SIGNER_B ", isvprodid: 1}\n"
                       "security:\n  allow_sim: true\n";
    json_t *j = NULL;
    assert_succeeds(create(g_owner, yaml, &j));
    json_decref(j);
    struct {
        const char *signer, *measurement;
        uint16_t prodid, svn;
        bool ok;
    } cases[] = {
        {SIGNER_A, MEAS, 7, 3, true},     /* variant 1, at the minimum version */
        {SIGNER_A, OTHER_M, 7, 9, true},  /* variant 1 names no measurement */
        {SIGNER_A, MEAS, 7, 2, false},    /* an older version */
        {SIGNER_A, MEAS, 8, 3, false},    /* another product */
        {SIGNER_B, MEAS, 7, 3, false},    /* another signer */
        {SIGNER_B, OTHER_M, 1, 0, true},  /* variant 2: measurement and signer */
        {SIGNER_B, MEAS, 1, 0, false},    /* variant 2 with another measurement */
        {SIGNER_A, OTHER_M, 1, 0, false}, /* variant 2's measurement, another signer */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        quote_ctx q = good_quote();
        assert_succeeds(cella_hex_decode(q.rep.signer, 32, cases[i].signer, 64, "s"));
        assert_succeeds(cella_hex_decode(q.rep.measurement, 32, cases[i].measurement, 64, "m"));
        q.rep.product_id = cases[i].prodid;
        q.rep.svn = cases[i].svn;
        cella_cas_instance x;
        cella_res r = cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "signed", "app", &x);
        if (cases[i].ok) {
            if (!cella_ok(r))
                fail_msg("case %zu: %s", i, cella_error_what());
            cella_cas_instance_free(&x);
        } else {
            assert_refused(r, CELLA_E_PERM, "match no attestation variant");
        }
    }
}

/* ---- one handshake, two attestations (a raw libcurl client that keeps the
 * connection, unlike cella's) ---- */
typedef struct {
    quote_ctx *q;
    EVP_PKEY *key;
    X509 *cert;
} reuse_identity;

static int reuse_cert_cb(SSL *ssl, void *arg)
{
    reuse_identity *id = arg;
    uint8_t cr[32], sr[32], binding[32];
    SSL_get_client_random(ssl, cr, 32);
    SSL_get_server_random(ssl, sr, 32);
    if (id->cert || !cella_ok(cella_ratls_handshake_binding(cr, sr, binding)) ||
        !cella_ok(cella_ratls_make(CELLA_TEE_SIM, binding, quote, id->q, &id->key, &id->cert)))
        return 0;
    return SSL_use_certificate(ssl, id->cert) == 1 && SSL_use_PrivateKey(ssl, id->key) == 1;
}

static CURLcode reuse_ctx_fn(CURL *h, void *ctx, void *arg)
{
    (void)h;
    SSL_CTX_set_cert_cb(ctx, reuse_cert_cb, arg);
    return CURLE_OK;
}

static size_t reuse_sink(char *p, size_t size, size_t n, void *ctx)
{
    cella_buf_append(ctx, p, size * n);
    return size * n;
}

static long post_attest(CURL *h, cella_buf *body)
{
    body->len = 0;
    long status = 0;
    if (curl_easy_perform(h) != CURLE_OK)
        return -1;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void handshake_once(void **state)
{
    (void)state;
    quote_ctx q = good_quote();
    reuse_identity id = {&q, NULL, NULL};
    char url[300], pin[128], b64[64];
    uint8_t raw[32];
    snprintf(url, sizeof url, "%s/v1/attest", g_url);
    assert_succeeds(cella_hex_decode(raw, 32, g_fp, 64, "fp"));
    cella_base64_encode(b64, sizeof b64, raw, 32);
    snprintf(pin, sizeof pin, "sha256//%s", b64);
    const char *req = "{\"session\":\"s1\",\"service\":\"app\"}";
    cella_buf body;
    cella_buf_init(&body, true);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, reuse_ctx_fn);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, &id);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, reuse_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    long first = post_attest(h, &body);
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(first, 200);
    assert_int_equal(q.calls, 1);
    /* the same connection, the same evidence: refused */
    long second = post_attest(h, &body);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 0); /* no new connection: the kept one */
    assert_int_equal(second, 403);
    cella_buf_append(&body, "", 1);
    assert_non_null(strstr((const char *)body.p, "already used"));
    curl_easy_cleanup(h);
    cella_buf_free(&body);
    X509_free(id.cert);
    EVP_PKEY_free(id.key);
}

static void bad_requests(void **state)
{
    (void)state;
    json_t *j = NULL;
    size_t big = 300 * 1024;
    char *blob = malloc(big);
    memset(blob, 'a', big);
    cella_http_response resp;
    assert_succeeds(cella_http_call(&g_http, "POST", "/v1/sessions", NULL, cella_slice_of(blob, big), &resp));
    assert_int_equal(resp.status, 413);
    cella_http_response_free(&resp);
    free(blob);
    assert_refused(cella_cas_call(&g_http, "GET", "/v1/nothing", cella_slice_of("", 0), &j),
                   CELLA_E_NOTFOUND, "no such endpoint");
    assert_refused(cella_cas_call(&g_http, "DELETE", "/v1/sessions/s1", cella_slice_of("", 0), &j),
                   CELLA_E_IO, "not allowed");
    /* a client pinning another fingerprint refuses the server */
    cella_http_client wrong = g_http;
    char fp[65];
    memset(fp, '0', 64);
    fp[64] = 0;
    wrong.pin = fp;
    assert_refused(cella_cas_call(&wrong, "GET", "/v1/health", cella_slice_of("", 0), &j),
                   CELLA_E_AUTH, "pinned fingerprint");
    /* still serving */
    assert_succeeds(cella_cas_call(&g_http, "GET", "/v1/health", cella_slice_of("", 0), &j));
    json_decref(j);
}

/* The lean client of cella-runtime (net/tls_http.h) against the same cas:
 * answers, a server that is not the pinned one refused before any request or
 * evidence, the response cap, and the identity's error when it cannot be made. */
static int g_identity_calls;

static cella_res refuse_identity(const uint8_t cr[32], const uint8_t sr[32], void *ctx, X509 **cert,
                                 EVP_PKEY **key)
{
    (void)cr;
    (void)sr;
    (void)ctx;
    (void)cert;
    (void)key;
    g_identity_calls++;
    return cella_fail(CELLA_E_UNSUPPORTED, "test", "no identity today");
}

static void lean_client(void **state)
{
    (void)state;
    cella_http_response resp;
    assert_succeeds(cella_tls_http_call(&g_http, "GET", "/v1/health", NULL, cella_slice_of("", 0),
                                        &resp));
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.outcome, CELLA_NET_ANSWERED);
    assert_true(resp.body.len > 0 && resp.body.p[0] == '{');
    cella_http_response_free(&resp);
    /* an error status is an answer, with its body */
    assert_succeeds(cella_tls_http_call(&g_http, "GET", "/v1/nothing", NULL, cella_slice_of("", 0),
                                        &resp));
    assert_int_equal(resp.status, 404);
    cella_http_response_free(&resp);
    /* a body larger than the cap is refused */
    cella_http_client small = g_http;
    small.max_response = 4;
    assert_refused(cella_tls_http_call(&small, "GET", "/v1/health", NULL, cella_slice_of("", 0),
                                       &resp),
                   CELLA_E_TOOBIG, "larger than");
    /* another key than the pinned one: refused before the request is sent,
     * and with an identity to make, none is made */
    cella_http_client wrong = g_http;
    wrong.pin = "abababababababababababababababababababababababababababababababab";
    assert_refused(cella_tls_http_call(&wrong, "GET", "/v1/health", NULL, cella_slice_of("", 0),
                                       &resp),
                   CELLA_E_AUTH, "does not match the pinned fingerprint");
    wrong.identity = refuse_identity;
    g_identity_calls = 0;
    assert_refused(cella_tls_http_call(&wrong, "POST", "/v1/attest", NULL, cella_slice_of("{}", 2),
                                       &resp),
                   CELLA_E_AUTH, "does not match the pinned fingerprint");
    assert_int_equal(g_identity_calls, 0);
    assert_int_equal(resp.outcome, CELLA_NET_LOCAL);
    /* the right server: the identity is asked for, and its failure is the error */
    cella_http_client ident = g_http;
    ident.identity = refuse_identity;
    assert_refused(cella_tls_http_call(&ident, "POST", "/v1/attest", NULL, cella_slice_of("{}", 2),
                                       &resp),
                   CELLA_E_UNSUPPORTED, "no identity today");
    assert_int_equal(g_identity_calls, 1);
    /* without a pin, https is refused */
    cella_http_client nopin = g_http;
    nopin.pin = NULL;
    assert_refused(cella_tls_http_call(&nopin, "GET", "/v1/health", NULL, cella_slice_of("", 0),
                                       &resp),
                   CELLA_E_USAGE, "no pinned fingerprint");
}

/* The lean client's kept connection (tls_http.h's pool): attest over it as
 * cella-runtime does, then push a tag. A call rides only on a connection
 * made with its own certificate: with another instance's connection kept, the
 * push opens its own, and cas sees the right key (a stale tag: 409), never
 * another instance's (403 "another attested key"), nor does a call without a
 * certificate (401); and only to the URL, with the pin, it was made to. */
struct lean_id {
    quote_ctx q;
    EVP_PKEY *key;
    X509 *cert;
};

static cella_res lean_identity(const uint8_t cr[32], const uint8_t sr[32], void *ctx, X509 **cert,
                               EVP_PKEY **key)
{
    struct lean_id *a = ctx;
    uint8_t b[32];
    CELLA_TRY(cella_ratls_handshake_binding(cr, sr, b));
    CELLA_TRY(cella_ratls_make(CELLA_TEE_SIM, b, quote, &a->q, &a->key, &a->cert));
    *cert = a->cert;
    *key = a->key;
    return CELLA_OK_RES;
}

static json_t *lean_attest(cella_tls_pool *pool, struct lean_id *id)
{
    id->q = good_quote();
    cella_http_client c = g_http;
    c.identity = lean_identity;
    c.identity_ctx = id;
    c.reuse = pool;
    const char *b = "{\"session\":\"s1\",\"service\":\"app\"}";
    cella_http_response resp;
    assert_succeeds(cella_tls_http_call(&c, "POST", "/v1/attest", NULL, cella_slice_of(b, strlen(b)),
                                        &resp));
    assert_int_equal(resp.status, 200);
    json_t *j = json_loadb((const char *)resp.body.p, resp.body.len, 0, NULL);
    cella_http_response_free(&resp);
    assert_non_null(json_object_get(j, "instance"));
    return j;
}

static long lean_push(cella_tls_pool *pool, const struct lean_id *id, const json_t *cfg)
{
    json_t *req = json_pack("{s:O, s:s, s:s, s:s}", "instance", json_object_get(cfg, "instance"),
                            "volume", "out", "new_tag", "0a000000000000000000000000000000",
                            "old_tag", "0b000000000000000000000000000000"); /* stale */
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    cella_http_client c = g_http;
    c.client_cert = id ? id->cert : NULL;
    c.client_key = id ? id->key : NULL;
    c.reuse = pool;
    const char *hdr[] = {"Content-Type: application/json", NULL};
    cella_http_response resp;
    assert_succeeds(cella_tls_http_call(&c, "POST", "/v1/volumes/tag", hdr,
                                        cella_slice_of(body, strlen(body)), &resp));
    free(body);
    long st = resp.status;
    cella_http_response_free(&resp);
    return st;
}

static void lean_pool(void **state)
{
    (void)state;
    cella_tls_pool *pool = cella_tls_pool_new();
    struct lean_id a = {0}, b = {0};
    json_t *ca = lean_attest(pool, &a); /* the pool keeps a's connection */
    assert_int_equal(lean_push(pool, &a, ca), 409); /* on it: a's key, a stale tag */
    json_t *cb = lean_attest(pool, &b);             /* now b's */
    assert_int_equal(lean_push(pool, &a, ca), 409); /* not on b's: its own, a's key */
    assert_int_equal(lean_push(pool, &b, cb), 409); /* keeps b's connection */
    /* no certificate: not on b's connection either (cas would see b's key) */
    assert_int_equal(lean_push(pool, NULL, cb), 401);
    assert_int_equal(lean_push(pool, &b, cb), 409); /* b's is still kept */
    /* b's certificate to another URL: not on b's connection to cas (nothing
     * listens there; riding on it would have reached cas) */
    cella_http_client other = g_http;
    other.base_url = "https://127.0.0.1:1";
    other.client_cert = b.cert;
    other.client_key = b.key;
    other.reuse = pool;
    cella_http_response resp;
    assert_refused(cella_tls_http_call(&other, "POST", "/v1/volumes/tag", NULL,
                                       cella_slice_of("{}", 2), &resp),
                   CELLA_E_IO, "cannot connect");
    /* b's certificate to cas with another pin: the kept connection was checked
     * against the right one, so this call makes its own and is refused */
    assert_int_equal(lean_push(pool, &b, cb), 409); /* keeps b's connection again */
    other = g_http;
    other.pin = "abababababababababababababababababababababababababababababababab";
    other.client_cert = b.cert;
    other.client_key = b.key;
    other.reuse = pool;
    assert_refused(cella_tls_http_call(&other, "POST", "/v1/volumes/tag", NULL,
                                       cella_slice_of("{}", 2), &resp),
                   CELLA_E_AUTH, "does not match the pinned fingerprint");
    json_decref(ca);
    json_decref(cb);
    EVP_PKEY_free(a.key);
    X509_free(a.cert);
    EVP_PKEY_free(b.key);
    X509_free(b.cert);
    cella_tls_pool_free(pool);
}

/* A client attesting again and again with one pool: each attestation's
 * connection is kept for its own identity, which is never presented again.
 * Kept without bound they reached cas's 64 connections per address, and the
 * 65th attestation was refused (503). */
static void lean_pool_bounded(void **state)
{
    (void)state;
    cella_tls_pool *pool = cella_tls_pool_new();
    for (int i = 0; i < 70; i++) {
        struct lean_id id = {0};
        json_decref(lean_attest(pool, &id)); /* asserts a 200 */
        EVP_PKEY_free(id.key);
        X509_free(id.cert);
    }
    cella_tls_pool_free(pool);
}

/* iExec's SMS endpoints: the SDK's challenge, statuses and update rules.
 * `why` (may be NULL) receives the reply's body. */
static long sms_call_why(const char *method, const char *target, const uint8_t *signer,
                         const uint8_t addr[20], const char *name, const char *value, char *why,
                         size_t cap)
{
    char auth[200];
    const char *hdr[] = {auth, NULL};
    if (signer) {
        /* the challenge has known answers in test_iexec_sms */
        uint8_t ch[32], sig[65];
        cella_iexec_sms_challenge(ch, addr, name, cella_slice_of(value, strlen(value)));
        assert_succeeds(cella_eth_personal_sign(signer, ch, 32, sig));
        char hex[131];
        cella_hex_encode(hex, sig, 65, false);
        snprintf(auth, sizeof auth, "Authorization: 0x%s", hex);
    } else {
        snprintf(auth, sizeof auth, "X-None: 1");
    }
    cella_http_response resp;
    assert_succeeds(cella_http_call(&g_http, method, target, hdr,
                                    cella_slice_of(value, strlen(value)), &resp));
    long st = resp.status;
    if (why)
        snprintf(why, cap, "%.*s", (int)resp.body.len, (const char *)resp.body.p);
    cella_http_response_free(&resp);
    return st;
}

static long sms_call(const char *method, const char *target, const uint8_t *signer,
                     const uint8_t addr[20], const char *name, const char *value)
{
    return sms_call_why(method, target, signer, addr, name, value, NULL, 0);
}

static void assert_replay_refused(const char *method, const char *target, const uint8_t addr[20],
                                  const char *name, const char *value)
{
    char why[512];
    long st = sms_call_why(method, target, g_owner, addr, name, value, why, sizeof why);
    if (st != 403 || !strstr(why, "accepted before (replay)"))
        fail_msg("%s %s: %ld %s, expected a 403 replay refusal", method, target, st, why);
}

/* A signed push is accepted once, on any endpoint, even after a restart:
 * iExec's challenge has no nonce (the replayed result key). */
static void sms_replay(void **state)
{
    (void)state;
    uint8_t me[20];
    char mine[43], web2[200], req[200];
    assert_succeeds(cella_eth_address_from_privkey(g_owner, me));
    cella_eth_address_checksum(mine, me);
    const char *pk = "rotated-key"; /* as the result key, which the sms test pushed */
    snprintf(web2, sizeof web2, "/secrets/web2?ownerAddress=%s&secretName=%s", mine, pk);
    assert_int_equal(sms_call("POST", web2, g_owner, me, pk, "OLD-KEY"), 204);
    assert_int_equal(sms_call("PUT", web2, g_owner, me, pk, "NEW-KEY"), 200); /* rotated */
    /* the old value with its old signature, sent again */
    assert_replay_refused("PUT", web2, me, pk, "OLD-KEY");
    assert_replay_refused("PUT", web2, me, pk, "NEW-KEY");
    /* a requester secret's signature is one for web2 with the same name too */
    snprintf(req, sizeof req, "/requesters/%s/secrets/apikey", mine);
    snprintf(web2, sizeof web2, "/secrets/web2?ownerAddress=%s&secretName=apikey", mine);
    assert_int_equal(sms_call("POST", req, g_owner, me, "apikey", "v1"), 204);
    assert_replay_refused("POST", web2, me, "apikey", "v1");
    /* and the other way round */
    snprintf(req, sizeof req, "/requesters/%s/secrets/other", mine);
    snprintf(web2, sizeof web2, "/secrets/web2?ownerAddress=%s&secretName=other", mine);
    assert_int_equal(sms_call("POST", web2, g_owner, me, "other", "w1"), 204);
    assert_replay_refused("POST", req, me, "other", "w1");
    /* remembered durably: after a restart too */
    kill(g_pid, SIGTERM);
    waitpid(g_pid, NULL, 0);
    start_server();
    snprintf(web2, sizeof web2, "/secrets/web2?ownerAddress=%s&secretName=%s", mine, pk);
    assert_replay_refused("PUT", web2, me, pk, "OLD-KEY");
    assert_int_equal(sms_call("PUT", web2, g_owner, me, pk, "NEWER-KEY"), 200);
}

static void sms(void **state)
{
    (void)state;
    uint8_t me[20], other[20];
    char mine[43], path[200];
    assert_succeeds(cella_eth_address_from_privkey(g_owner, me));
    assert_succeeds(cella_eth_address_from_privkey(g_other, other));
    cella_eth_address_checksum(mine, me);
    const char *pk = "iexec-result-encryption-public-key";
    snprintf(path, sizeof path, "/secrets/web2?ownerAddress=%s&secretName=%s", mine, pk);
    assert_int_equal(sms_call("HEAD", path, NULL, me, pk, ""), 404);
    assert_int_equal(sms_call("POST", path, g_other, me, pk, "PEM"), 401); /* another wallet */
    assert_int_equal(sms_call("POST", path, g_owner, me, pk, "PEM"), 204);
    assert_int_equal(sms_call("HEAD", path, NULL, me, pk, ""), 204);
    assert_int_equal(sms_call("POST", path, g_owner, me, pk, "PEM2"), 409); /* exists */
    assert_int_equal(sms_call("PUT", path, g_owner, me, pk, "PEM2"), 200);  /* web2 updates */
    /* a signature over another value does not transfer */
    assert_int_equal(sms_call("PUT", path, g_owner, me, pk, "PEM3") , 200);
    /* requester secrets: name rules, no update */
    snprintf(path, sizeof path, "/requesters/%s/secrets/my-key_1", mine);
    assert_int_equal(sms_call("POST", path, g_owner, me, "my-key_1", "s3"), 204);
    assert_int_equal(sms_call("POST", path, g_owner, me, "my-key_1", "s4"), 409);
    assert_int_equal(sms_call("PUT", path, g_owner, me, "my-key_1", "s4"), 409);
    snprintf(path, sizeof path, "/requesters/%s/secrets/bad%%20name", mine);
    assert_int_equal(sms_call("POST", path, g_owner, me, "bad name", "s"), 400);
    /* dataset keys need the hub's registry to know the owner: refused without it */
    snprintf(path, sizeof path, "/secrets/web3?secretAddress=%s", mine);
    assert_int_equal(sms_call("POST", path, g_owner, me, NULL, "key"), 403);
    /* size limit */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    snprintf(path, sizeof path, "/secrets/web2?ownerAddress=%s&secretName=big", mine);
    assert_int_equal(sms_call("POST", path, g_owner, me, "big", big), 413);
    (void)other;
}

/* kill -9 after an acknowledged tag push: the tag is there after restart. */
static void crash_durability(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_succeeds(create(g_owner, session_yaml("crash", NULL, NULL), &j));
    json_decref(j);
    quote_ctx q = good_quote();
    cella_cas_instance inst;
    assert_succeeds(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "crash", "app", &inst));
    uint8_t t[16] = {0x77}, t2[16] = {0x78};
    assert_succeeds(cella_cas_push_tag(&g_http, &inst, "out", NULL, t));
    /* an instance whose attestation was answered (its group committed) is
     * known after kill -9 too */
    cella_cas_instance inst2;
    assert_succeeds(cella_cas_attest(&g_http, CELLA_TEE_SIM, quote, &q, "crash", "app", &inst2));
    kill(g_pid, SIGKILL);
    waitpid(g_pid, NULL, 0);
    start_server();
    assert_succeeds(cella_cas_signed_call(&g_http, g_owner, "GET", "/v1/sessions/crash/volumes/out",
                                          cella_slice_of("", 0), "application/json", &j));
    assert_string_equal(json_string_value(json_object_get(j, "tag")), "77000000000000000000000000000000");
    json_decref(j);
    assert_succeeds(cella_cas_push_tag(&g_http, &inst2, "out", t, t2));
    cella_cas_instance_free(&inst);
    cella_cas_instance_free(&inst2);
    /* the master key never lands in the database (file or WAL), and the
     * session's volume key is only stored sealed */
    char key[600];
    snprintf(key, sizeof key, "%s/cas/master.key", g_dir);
    uint8_t *kb, raw[32];
    size_t kn;
    assert_succeeds(cella_read_file(AT_FDCWD, key, 1024, false, &kb, &kn));
    assert_succeeds(cella_hex_decode(raw, 32, (const char *)kb, 64, "master"));
    const char *files[] = {"cas.db", "cas.db-wal"};
    for (int i = 0; i < 2; i++) {
        char db[600];
        snprintf(db, sizeof db, "%s/cas/%s", g_dir, files[i]);
        uint8_t *dbb;
        size_t dbn;
        if (!cella_ok(cella_read_file(AT_FDCWD, db, 64 << 20, false, &dbb, &dbn)))
            continue;
        assert_null(memmem(dbb, dbn, kb, 64));
        assert_null(memmem(dbb, dbn, raw, 32));
        assert_null(memmem(dbb, dbn, "abababababababab", 16));
        assert_null(memmem(dbb, dbn, "\xab\xab\xab\xab\xab\xab\xab\xab", 8));
        free(dbb);
    }
    free(kb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sessions),      cmocka_unit_test(owner_auth),
        cmocka_unit_test(attestation),   cmocka_unit_test(signer_attestation),
        cmocka_unit_test(handshake_once),
        cmocka_unit_test(bad_requests),
        cmocka_unit_test(lean_client),
        cmocka_unit_test(lean_pool),
        cmocka_unit_test(lean_pool_bounded),
        cmocka_unit_test(sms),
        cmocka_unit_test(sms_replay),
        cmocka_unit_test(crash_durability),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
