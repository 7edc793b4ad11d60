/* cella cas serve, tee sim init, session create|show|update|volume, attest */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "args.h"
#include "cas/cas.h"
#include "casapi/casapi.h"
#include "cas_client.h"
#include "project.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "policy/session.h"
#include "tee/ratls.h"
#include "tee/sim.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))

/* The PEM certificates of every replica (each once), each checked against
 * its pin: the SDK then trusts whichever replica it reaches. */
static cella_res replica_certs(const cella_endpoints *e, long timeout, char **pem)
{
    *pem = NULL;
    size_t len = 0;
    cella_res r = CELLA_OK_RES;
    for (unsigned i = 0; cella_ok(r) && i < e->n; i++) {
        char *one = NULL;
        r = cella_tls_fetch_pinned_pem(e->at[i].url, e->at[i].pin, timeout, &one);
        if (one && *pem && strstr(*pem, one)) { /* replicas that share a certificate */
            free(one);
            one = NULL;
        }
        char *grown = one ? realloc(*pem, len + strlen(one) + 1) : *pem;
        if (one && !grown)
            r = cella_fail(CELLA_E_NOMEM, "cas cert", "out of memory");
        else if (one) {
            memcpy(grown + len, one, strlen(one) + 1);
            len += strlen(one);
            *pem = grown;
        }
        free(one);
    }
    if (!cella_ok(r)) {
        free(*pem);
        *pem = NULL;
    }
    return r;
}

/* The cas's TLS certificate, checked against its pin, for tools that trust
 * certificates rather than pinned keys: Node, and so the iExec SDK, with
 * NODE_EXTRA_CA_CERTS=FILE (docs/iexec-sdk.md). */
static int cas_cert_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"cas", true, NULL},
                   {"cas-fingerprint", true, NULL},
                   {"output", true, NULL},
                   {"timeout", true, NULL}};
    const char *pos[1];
    int np;
    cas_conn c;
    char *pem = NULL;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "cas cert");
    unsigned long long timeout = 10;
    if (cella_ok(r) && cli_get(o, NOPTS(o), "timeout"))
        r = cli_parse_uint(cli_get(o, NOPTS(o), "timeout"), "--timeout", 600, &timeout);
    if (cella_ok(r) && !timeout)
        r = cella_fail(CELLA_E_USAGE, "--timeout", "must be 1 or more");
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = replica_certs(&c.ep, (long)timeout, &pem);
    const char *out = cli_get(o, NOPTS(o), "output");
    if (cella_ok(r) && out)
        r = cella_write_file_atomic(AT_FDCWD, out, pem, strlen(pem), 0644, false);
    else if (cella_ok(r))
        fputs(pem, stdout);
    free(pem);
    return cli_report(r);
}

static int cas_serve_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"listen", true, NULL},       {"data", true, NULL}, {"db", true, NULL},
                   {"allow-sim", false, NULL},    {"sim-platform", true, NULL},
                   {"threads", true, NULL},       {"hub", true, NULL},
                   {"hub-fingerprint", true, NULL},
                   {"collateral", true, NULL},    {"pccs", true, NULL},
                   {"pccs-insecure-tls", false, NULL}, {"evidence-time", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "cas serve");
    cas_options co = {.listen = cli_get(o, NOPTS(o), "listen"),
                      .data_dir = cli_get(o, NOPTS(o), "data"),
                      .db = cli_get(o, NOPTS(o), "db"),
                      .allow_sim = cli_get(o, NOPTS(o), "allow-sim") != NULL,
                      .sim_platform = cli_get(o, NOPTS(o), "sim-platform"),
                      .hub_url = cli_get(o, NOPTS(o), "hub"),
                      .collateral_dir = cli_get(o, NOPTS(o), "collateral"),
                      .pccs_url = cli_get(o, NOPTS(o), "pccs"),
                      .pccs_insecure_tls = cli_get(o, NOPTS(o), "pccs-insecure-tls") != NULL,
                      .evidence_time = cli_get(o, NOPTS(o), "evidence-time")};
    /* Development/test only (docs/cas-api.md): not in the usage line. */
    if (co.evidence_time)
        fprintf(stderr, "cella: warning: --evidence-time %s: hardware evidence is verified at "
                        "that time, not now (tests only)\n", co.evidence_time);
    if (!co.data_dir)
        co.data_dir = "cas-data";
    const char *th = cli_get(o, NOPTS(o), "threads");
    if (cella_ok(r) && th) {
        unsigned long long v;
        r = cli_parse_size(th, "--threads", &v);
        co.threads = (unsigned)v;
    }
    /* An https:// hub is pinned like every other TLS peer of cella's; its
     * replicas are tried as net/endpoints.h says. */
    static cella_endpoints hub; /* lives as long as the server */
    const char *hub_pins = cli_get(o, NOPTS(o), "hub-fingerprint");
    if (cella_ok(r) && co.hub_url)
        r = cli_hub_endpoints(co.hub_url, hub_pins, "--hub", &hub);
    else if (cella_ok(r) && hub_pins)
        r = cella_fail(CELLA_E_USAGE, "--hub-fingerprint", "only with an https:// --hub");
    co.hub = co.hub_url ? &hub : NULL;
    if (cella_ok(r) && co.db)
        r = cella_db_url_check(co.db);
    if (cella_ok(r))
        r = cas_serve(&co);
    return cli_report(r);
}

static int tee_sim_init(int argc, char **argv)
{
    cli_opt o[] = {{"dir", true, NULL}, {"force", false, NULL}};
    const char *pos[1];
    int np;
    char dir[4096];
    cella_res r = cli_parse(argc, argv, o, 2, pos, 1, &np, "tee sim init");
    if (cella_ok(r) && (np != 1 || strcmp(pos[0], "init")))
        r = cella_fail(CELLA_E_USAGE, "tee sim", "usage: cella tee sim init [--dir DIR] [--force]");
    const char *d = cli_get(o, 2, "dir");
    if (cella_ok(r) && !d) {
        r = cella_sim_default_dir(dir, sizeof dir);
        d = dir;
    }
    if (cella_ok(r))
        r = cella_sim_platform_init(d, cli_get(o, 2, "force") != NULL);
    if (cella_ok(r)) {
        printf("%s/sim-platform.pub\n", d);
        fprintf(stderr, "cella: sim platform key created in %s. The sim TEE protects nothing: "
                        "use it for development only.\n", d);
    }
    return cli_report(r);
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s) {
        printf("%s\n", s);
        cella_wipe(s, strlen(s));
        free(s);
    }
}

/* Encodes a session name for a URL path ('/' in namespaces becomes %2F). */
static void path_escape(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    for (; *in && n + 4 < cap; in++) {
        if (*in == '/') {
            memcpy(out + n, "%2F", 3);
            n += 3;
        } else {
            out[n++] = *in;
        }
    }
    out[n] = '\0';
}

static int session_write(int argc, char **argv, bool update)
{
    cli_opt o[] = {CAS_CONN_OPTS};
    const char *pos[1];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    uint8_t *yaml = NULL;
    size_t len = 0;
    json_t *reply = NULL;
    const char *verb = update ? "session update" : "session create";
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, verb, "usage: cella %s FILE.yml", verb);
    if (cella_ok(r))
        r = cella_read_file(AT_FDCWD, pos[0], 256 * 1024, true, &yaml, &len);
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = cas_conn_wallet(&c, o, NOPTS(o));
    /* Validate locally first: YAML errors come with line numbers, before any
     * request; the URL of an update names the session from the document. */
    json_t *doc = NULL;
    char path[600] = "/v1/sessions", esc[400];
    if (cella_ok(r))
        r = cella_session_from_yaml((const char *)yaml, len, &doc);
    if (cella_ok(r) && update) {
        path_escape(esc, sizeof esc, json_string_value(json_object_get(doc, "name")));
        snprintf(path, sizeof path, "/v1/sessions/%s", esc);
    }
    json_decref(doc);
    if (cella_ok(r))
        r = cas_signed_call(&c, update ? "PUT" : "POST", path, cella_slice_of(yaml, len),
                            "application/yaml", &reply);
    if (cella_ok(r))
        printf("%s\n", json_string_value(json_object_get(reply, "hash")));
    json_decref(reply);
    if (yaml)
        cella_secure_free(yaml, len + 1);
    cas_conn_close(&c);
    return cli_report(r);
}

static int session_create(int argc, char **argv) { return session_write(argc, argv, false); }
static int session_update(int argc, char **argv) { return session_write(argc, argv, true); }

static int session_show(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS, {"reveal", false, NULL}};
    const char *pos[1];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    json_t *reply = NULL;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "session show");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "session show", "usage: cella session show NAME [--reveal]");
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = cas_conn_wallet(&c, o, NOPTS(o));
    char name[300], path[400];
    if (cella_ok(r)) {
        path_escape(name, sizeof name, pos[0]);
        snprintf(path, sizeof path, "/v1/sessions/%s%s", name,
                 cli_get(o, NOPTS(o), "reveal") ? "?reveal=1" : "");
        r = cas_signed_call(&c, "GET", path, cella_slice_of("", 0), "application/json", &reply);
    }
    if (cella_ok(r))
        print_json(reply);
    json_decref(reply);
    cas_conn_close(&c);
    return cli_report(r);
}

/* Fetches a volume's key (into a 0600 key file) and current tag (printed). */
static int session_volume(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS, {"key-file", true, NULL}};
    const char *pos[2];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    json_t *reply = NULL;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 2, &np, "session volume");
    const char *kf = cli_get(o, NOPTS(o), "key-file");
    if (cella_ok(r) && (np != 2 || !kf))
        r = cella_fail(CELLA_E_USAGE, "session volume",
                       "usage: cella session volume NAME VOLUME --key-file OUT");
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = cas_conn_wallet(&c, o, NOPTS(o));
    char name[300], vol[300], path[700];
    if (cella_ok(r)) {
        path_escape(name, sizeof name, pos[0]);
        path_escape(vol, sizeof vol, pos[1]);
        snprintf(path, sizeof path, "/v1/sessions/%s/volumes/%s", name, vol);
        r = cas_signed_call(&c, "GET", path, cella_slice_of("", 0), "application/json", &reply);
    }
    const char *key = cella_ok(r) ? json_string_value(json_object_get(reply, "key")) : NULL;
    if (cella_ok(r) && (!key || strlen(key) != 64))
        r = cella_fail(CELLA_E_PARSE, c.url, "the cas reply has no volume key");
    if (cella_ok(r)) {
        char line[66];
        memcpy(line, key, 64);
        line[64] = '\n';
        r = cella_write_file_atomic(AT_FDCWD, kf, line, 65, 0600, false);
        cella_wipe(line, sizeof line);
    }
    if (cella_ok(r)) {
        const char *tag = json_string_value(json_object_get(reply, "tag"));
        printf("%s\n", tag ? tag : "none");
    }
    json_decref(reply);
    cas_conn_close(&c);
    return cli_report(r);
}

/* ---- cella attest: the enclave side, for testing ---- */

/* --evidence-file: replays recorded hardware evidence whatever the report data
 * asked for. A recorded quote cannot name the fresh RA-TLS key and cas's
 * nonce, so cas must refuse it on the binding once the evidence itself
 * verified: the tests use it to show the order of cas's checks. */
typedef struct {
    const uint8_t *p;
    size_t n;
} replay_ctx;

static cella_res replay_quote_fn(const uint8_t report_data[64], cella_buf *evidence, void *ctx)
{
    (void)report_data;
    const replay_ctx *rc = ctx;
    cella_buf_append(evidence, rc->p, rc->n);
    return cella_buf_result(evidence);
}


static int attest_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"cas", true, NULL},     {"cas-fingerprint", true, NULL},
                   {"session", true, NULL}, {"measurement", true, NULL},
                   {"debug", false, NULL},  {"tee", true, NULL},
                   {"sim-dir", true, NULL}, {"show-keys", false, NULL},
                   {"push-tag", true, NULL}, {"old-tag", true, NULL},
                   {"new-tag", true, NULL}, {"evidence-file", true, NULL},
                   {"signer", true, NULL},  {"isvprodid", true, NULL},
                   {"isvsvn", true, NULL}};
    const char *pos[1];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    cella_sim_quoter q;
    memset(&q, 0, sizeof q);
    cella_cas_instance inst;
    memset(&inst, 0, sizeof inst);
    char sess[256], svc[256], dir[4096];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "attest");
    const char *ss = cli_get(o, NOPTS(o), "session"), *ms = cli_get(o, NOPTS(o), "measurement");
    const char *tee = cli_get(o, NOPTS(o), "tee");
    cella_tee_kind kind = CELLA_TEE_SIM;
    const char *evf = cli_get(o, NOPTS(o), "evidence-file");
    replay_ctx replay = {NULL, 0};
    uint8_t *evbytes = NULL;
    if (cella_ok(r) && (!ss || sscanf(ss, "%255[^/]/%255s", sess, svc) != 2 || (!ms && !evf)))
        r = cella_fail(CELLA_E_USAGE, "attest",
                       "usage: cella attest --session NAME/SERVICE --measurement HEX [--tee sim] "
                       "| --tee sgx|tdx|snp --evidence-file FILE");
    if (cella_ok(r) && tee)
        r = cella_tee_kind_parse(tee, &kind);
    if (cella_ok(r) && evf) {
        if (kind == CELLA_TEE_SIM)
            r = cella_fail(CELLA_E_USAGE, "--evidence-file", "needs --tee sgx, tdx or snp");
        if (cella_ok(r))
            r = cella_read_file(AT_FDCWD, evf, CELLA_RATLS_MAX_EVIDENCE, false, &evbytes,
                                &replay.n);
        replay.p = evbytes;
    } else if (cella_ok(r) && kind != CELLA_TEE_SIM) {
        r = cella_fail(CELLA_E_UNSUPPORTED, "--tee",
                       "this host can only produce sim evidence (or replay --evidence-file)");
    }
    if (cella_ok(r) && !evf)
        r = cella_hex_decode(q.rep.measurement, 32, ms, strlen(ms), "--measurement");
    /* The sim report's signer, product and version (an attestation variant's
     * signer factor checks them); zero unless given. */
    const char *sg = cli_get(o, NOPTS(o), "signer");
    if (cella_ok(r) && sg)
        r = cella_hex_decode(q.rep.signer, 32, sg, strlen(sg), "--signer");
    const char *prodid = cli_get(o, NOPTS(o), "isvprodid"), *svn = cli_get(o, NOPTS(o), "isvsvn");
    unsigned long long n;
    if (cella_ok(r) && prodid && cella_ok(r = cli_parse_uint(prodid, "--isvprodid", 65535, &n)))
        q.rep.product_id = (uint16_t)n;
    if (cella_ok(r) && svn && cella_ok(r = cli_parse_uint(svn, "--isvsvn", 65535, &n)))
        q.rep.svn = (uint16_t)n;
    if (cella_ok(r) && evf && (sg || prodid || svn))
        r = cella_fail(CELLA_E_USAGE, "--signer", "only for sim evidence, not with --evidence-file");
    q.rep.debug = cli_get(o, NOPTS(o), "debug") != NULL;
    const char *sd = cli_get(o, NOPTS(o), "sim-dir");
    if (cella_ok(r) && !sd && !evf) {
        r = cella_sim_default_dir(dir, sizeof dir);
        sd = dir;
    }
    if (cella_ok(r) && !evf)
        r = cella_sim_load_private(sd, &q.platform);
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = evf ? cella_cas_attest(&c.http, kind, replay_quote_fn, &replay, sess, svc, &inst)
                : cella_cas_attest(&c.http, kind, cella_sim_quote_fn, &q, sess, svc, &inst);
    const char *push = cli_get(o, NOPTS(o), "push-tag");
    if (cella_ok(r) && push) {
        const char *old = cli_get(o, NOPTS(o), "old-tag"), *nt = cli_get(o, NOPTS(o), "new-tag");
        uint8_t ob[16], nb[16];
        r = nt ? cella_hex_decode(nb, 16, nt, strlen(nt), "--new-tag")
               : cella_fail(CELLA_E_USAGE, "--new-tag", "--push-tag needs --new-tag");
        if (cella_ok(r) && old)
            r = cella_hex_decode(ob, 16, old, strlen(old), "--old-tag");
        if (cella_ok(r))
            r = cella_cas_push_tag(&c.http, &inst, push, old ? ob : NULL, nb);
    }
    if (cella_ok(r)) {
        json_t *shown = json_deep_copy(inst.config);
        if (!cli_get(o, NOPTS(o), "show-keys")) {
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(shown, "volumes"), i, v)
                json_object_set_new(v, "key", json_string("<redacted>"));
            json_object_set_new(shown, "instance", json_string("<redacted>"));
        }
        print_json(shown);
        json_decref(shown);
    }
    cella_cas_instance_free(&inst);
    EVP_PKEY_free(q.platform);
    free(evbytes);
    return cli_report(r);
}

const cli_command cli_cas_commands[] = {
    {"cas", "serve", cas_serve_cmd,
     "cella cas serve [--listen 127.0.0.1:8081] [--data DIR] [--db sqlite:PATH|postgres://...] "
     "[--allow-sim [--sim-platform PUB.pem]] "
     "[--hub URL [--hub-fingerprint FP]] "
     "[--collateral DIR] [--pccs URL [--pccs-insecure-tls]] [--threads N]",
     "Run the configuration and attestation service (HTTPS, TLS 1.3), with iExec's secret "
     "management endpoints (--hub: the registry that says who owns datasets and apps). "
     "SGX, TDX and SNP evidence is verified with collateral from --collateral DIR and/or "
     "--pccs URL (docs/evidence.md). --db: the database, DIR/cas.db by default; cas instances "
     "given one postgres:// database and the same DIR/master.key are replicas "
     "(docs/deploy.md). Port 0 picks a free port; once listening it prints \"cas "
     "listening on URL\" and its fingerprint (a port in use fails before DIR is touched)."},
    {"cas", "cert", cas_cert_cmd,
     "cella cas cert [--cas URL --cas-fingerprint FP] [-o FILE] [--timeout S]",
     "Print (or write to FILE) the cas's TLS certificate after checking its key against the "
     "pin (--cas-fingerprint, or cella.json's), for clients that trust certificates instead of "
     "pins: the iExec SDK runs with NODE_EXTRA_CA_CERTS=FILE (docs/iexec-sdk.md). Connecting "
     "and the handshake each give up after --timeout seconds (default 10)."},
    {"tee", "sim", tee_sim_init, "cella tee sim init [--dir DIR] [--force]",
     "Create the sim TEE platform key (development only: sim protects nothing)."},
    {"session", "create", session_create,
     "cella session create FILE.yml [--cas URL --cas-fingerprint FP] --wallet-file W [--password-file P]",
     "Create a session on cas (signed by your wallet); prints the session hash."},
    {"session", "show", session_show, "cella session show NAME [--reveal] --wallet-file W",
     "Show a session (secrets redacted unless --reveal; owner only)."},
    {"session", "update", session_update, "cella session update FILE.yml --wallet-file W",
     "Replace a session; FILE.yml must name the current hash as predecessor."},
    {"session", "volume", session_volume,
     "cella session volume NAME VOLUME --key-file OUT --wallet-file W",
     "Fetch a volume's key (into OUT, mode 0600) and print its current tag."},
    {NULL, "attest", attest_cmd,
     "cella attest --session NAME/SERVICE --measurement HEX [--signer HEX] [--isvprodid N] "
     "[--isvsvn N] [--debug] [--show-keys] | --tee sgx|tdx|snp --evidence-file FILE",
     "Attest to cas as an enclave (sim TEE) and print the released configuration. --signer, "
     "--isvprodid and --isvsvn set the sim report's signer, product and version (checked by a "
     "session's attestation variants). "
     "--evidence-file replays recorded hardware evidence (tests: cas must refuse it on the "
     "key binding)."},
    {NULL, NULL, NULL, NULL, NULL},
};
