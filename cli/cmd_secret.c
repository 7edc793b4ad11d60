/* The client side of iExec's secret management service (SMS) as cas answers it
 * (docs/cas-api.md): push-secret and check-secret verbs of the dataset, app,
 * requester and result groups, as the iExec SDK has them.
 *
 * Secrets come from files only (never argv), are at most 4096 bytes, live in
 * secure memory (registered for log redaction) and are wiped after use; no
 * message ever carries one. A push is signed like the SDK's: EIP-191 over
 * keccak256(keccak256("IEXEC_SMS_DOMAIN") || address [|| keccak256(name)] ||
 * keccak256(value)) (lib/iexec/sms.h). check-* ask with HEAD, which only tells
 * whether the secret exists: exit 0 when it does, 3 when it does not. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cas_client.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"
#include "hub/resource.h"
#include "identity/eth.h"
#include "iexec/dataset.h"
#include "iexec/result.h"
#include "iexec/sms.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define PROJECT_CONF "cella.json"
#define DEFAULT_SECRETS ".secrets"
#define EXIT_NOT_SET 3

/* A secret value in secure memory of exactly its length (so the redaction
 * filter knows it), wiped by secret_free. */
typedef struct {
    uint8_t *p;
    size_t len;
} secret;

static void secret_free(secret *s)
{
    if (s->p)
        cella_secure_free(s->p, s->len);
    *s = (secret){0};
}

typedef enum { TRIM_ALL, TRIM_ONE_NEWLINE, TRIM_NONE } trim_rule;

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads the secret in `path` (1 to 4096 bytes after trimming). `what` names it
 * in errors, which name the file, never its content. */
static cella_res secret_read(const char *path, const char *what, trim_rule trim, secret *out)
{
    *out = (secret){0};
    uint8_t *buf = NULL;
    size_t len = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_IEXEC_SMS_MAX_SECRET, true, &buf, &len));
    size_t cap = len + 1, off = 0;
    if (trim == TRIM_ALL) { /* JavaScript's trim(), as the SDK does for dataset keys */
        while (len && is_space(buf[len - 1]))
            len--;
        while (off < len && is_space(buf[off]))
            off++;
    } else if (trim == TRIM_ONE_NEWLINE && len && buf[len - 1] == '\n') {
        len -= len > 1 && buf[len - 2] == '\r' ? 2 : 1;
    }
    cella_res r = len > off ? CELLA_OK_RES : cella_fail(CELLA_E_PARSE, path, "%s file is empty", what);
    if (cella_ok(r)) {
        out->len = len - off;
        out->p = cella_secure_alloc(out->len);
        if (out->p)
            memcpy(out->p, buf + off, out->len);
        else
            r = cella_fail(CELLA_E_NOMEM, path, "out of memory");
    }
    cella_secure_free(buf, cap);
    return r;
}

/* --- talking to the SMS ---------------------------------------------------- */

typedef struct {
    cas_conn c;
    cella_http_response resp;
    bool have_resp;
} sms_conn;

static void sms_close(sms_conn *s)
{
    if (s->have_resp)
        cella_http_response_free(&s->resp);
    s->have_resp = false;
    cas_conn_close(&s->c);
}

/* A refusal: the status, cas's reason (never a secret) and a hint. */
static cella_res refused(const sms_conn *s, const char *hint)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)s->resp.body.p, s->resp.body.len, 0, &je);
    const char *msg = json_string_value(json_object_get(j, "error"));
    long st = s->resp.status;
    cella_code code = st == 401 || st == 403 ? CELLA_E_PERM
                      : st == 404            ? CELLA_E_NOTFOUND
                      : st == 409            ? CELLA_E_EXISTS
                      : st == 413            ? CELLA_E_TOOBIG
                                             : CELLA_E_IO;
    cella_res r = cella_fail(code, s->c.url, "the SMS refused (HTTP %ld): %s%s", st,
                             msg ? msg : "no reason given", hint ? hint : "");
    json_decref(j);
    return r;
}

/* METHOD path with the secret `value` as body, signed by the wallet over the
 * challenge for (addr, name, value). Leaves the reply in s->resp. */
static cella_res sms_push(sms_conn *s, const char *method, const char *path, const uint8_t addr[20],
                          const char *name, const secret *value)
{
    uint8_t challenge[32], sig[65];
    char hex[131], auth[160];
    cella_slice v = cella_slice_of(value->p, value->len);
    cella_iexec_sms_challenge(challenge, addr, name, v);
    CELLA_TRY(cella_eth_personal_sign(s->c.priv, challenge, 32, sig));
    cella_hex_encode(hex, sig, 65, false);
    snprintf(auth, sizeof auth, "Authorization: 0x%s", hex);
    const char *hdr[] = {auth, "Content-Type: text/plain", NULL};
    cella_res r = cella_http_call(&s->c.http, method, path, hdr, v, &s->resp);
    s->have_resp = cella_ok(r);
    return r;
}

/* HEAD path: *exists from 2xx / 404; anything else is an error. */
static cella_res sms_exists(sms_conn *s, const char *path, bool *exists)
{
    CELLA_TRY(cella_http_call(&s->c.http, "HEAD", path, NULL, cella_slice_of("", 0), &s->resp));
    s->have_resp = true;
    long st = s->resp.status;
    cella_res r = CELLA_OK_RES;
    if (st >= 200 && st < 300)
        *exists = true;
    else if (st == 404)
        *exists = false;
    else
        r = refused(s, NULL);
    cella_http_response_free(&s->resp);
    s->have_resp = false;
    return r;
}

/* Opens the cas connection; with `wallet` also loads the signing wallet. */
static cella_res sms_open(sms_conn *s, const cli_opt *o, int n, bool wallet)
{
    memset(s, 0, sizeof *s);
    CELLA_TRY(cas_conn_open(&s->c, o, n));
    return wallet ? cas_conn_wallet(&s->c, o, n) : CELLA_OK_RES;
}

/* Whether a wallet was named (for verbs where it is optional). */
static bool wallet_given(const cli_opt *o, int n) { return cli_wallet_named(o, n); }

/* --- addresses ------------------------------------------------------------- */

/* The address of cella.json's "dataset"/"app" object as `cella KIND deploy`
 * registers it: deterministic from its owner (the object's "owner", else the
 * wallet) and content (docs/hub-api.md). */
static cella_res address_from_conf(hub_kind k, const uint8_t *wallet, uint8_t out[20])
{
    const char *kind = hub_kind_name(k);
    json_error_t je;
    json_t *conf = json_load_file(PROJECT_CONF, JSON_REJECT_DUPLICATES, &je);
    const json_t *obj = json_object_get(conf, kind);
    const char *owner = json_string_value(json_object_get(obj, "owner"));
    const char *name = json_string_value(json_object_get(obj, "name"));
    const char *maddr = json_string_value(json_object_get(obj, "multiaddr"));
    const char *sum = json_string_value(json_object_get(obj, "checksum"));
    static hub_resource res; /* large; the CLI is single-threaded */
    memset(&res, 0, sizeof res);
    res.kind = k;
    cella_res r = CELLA_OK_RES;
    if (!json_is_object(obj))
        r = cella_fail(CELLA_E_USAGE, kind, "give the %s address (./%s has no \"%s\" object)",
                       kind, PROJECT_CONF, kind);
    else if (!name || !*name || !maddr || !sum || strlen(name) > HUB_NAME_MAX ||
             strlen(maddr) > HUB_MULTIADDR_MAX)
        r = cella_fail(CELLA_E_USAGE, kind,
                       "give the %s address (./%s's \"%s\" lacks a name, multiaddr or checksum)",
                       kind, PROJECT_CONF, kind);
    else if (!owner && !wallet)
        r = cella_fail(CELLA_E_USAGE, kind,
                       "give the %s address, or --wallet-file to find the address of ./%s's %s",
                       kind, PROJECT_CONF, kind);
    if (cella_ok(r) && owner)
        r = cella_eth_address_parse(res.owner, owner, "cella.json owner");
    else if (cella_ok(r))
        memcpy(res.owner, wallet, 20);
    if (cella_ok(r))
        r = cella_hex_decode(res.checksum, 32, sum, strlen(sum), "cella.json checksum");
    if (cella_ok(r)) {
        snprintf(res.name, sizeof res.name, "%s", name);
        snprintf(res.multiaddr, sizeof res.multiaddr, "%s", maddr);
        hub_resource_address(&res, out);
        char a[43], o[43];
        cella_eth_address_checksum(a, out);
        cella_eth_address_checksum(o, res.owner);
        fprintf(stderr, "cella: %s %s (./%s's, deployed by %s)\n", kind, a, PROJECT_CONF, o);
    }
    json_decref(conf);
    return r;
}

/* The address given on the command line, else cella.json's resource. */
static cella_res resource_address(hub_kind k, const char *given, const uint8_t *wallet,
                                  uint8_t out[20])
{
    if (given)
        return cella_eth_address_parse(out, given, hub_kind_name(k));
    return address_from_conf(k, wallet, out);
}

static cella_res check_requester_name(const char *name)
{
    CELLA_ENSURE(cella_iexec_secret_name_ok(name), CELLA_E_USAGE, "NAME",
                 "a secret name is 1 to %d of A-Z a-z 0-9 - _", CELLA_IEXEC_SECRET_NAME_MAX);
    return CELLA_OK_RES;
}

/* --- verbs ----------------------------------------------------------------- */

/* Prints the outcome of a check and returns the exit code. */
static int report_check(cella_res r, bool exists, const char *what, const uint8_t addr[20])
{
    if (!cella_ok(r))
        return cli_report(r);
    char a[43];
    cella_eth_address_checksum(a, addr);
    printf("%s of %s: %s\n", what, a, exists ? "set" : "not set");
    return exists ? 0 : EXIT_NOT_SET;
}

/* POST of a secret that can never be updated (dataset key, app secret,
 * requester secret). */
static cella_res push_once(sms_conn *s, const char *path, const uint8_t addr[20], const char *name,
                           const secret *v, const char *what)
{
    CELLA_TRY(sms_push(s, "POST", path, addr, name, v));
    long st = s->resp.status;
    if (st >= 200 && st < 300)
        return CELLA_OK_RES;
    char hint[160] = "";
    if (st == 409)
        snprintf(hint, sizeof hint, "; %s can never be replaced", what);
    return refused(s, hint);
}

/* The secrets of a registered resource, signed by its owner: the dataset key
 * and the app developer's secret. */
typedef struct {
    hub_kind kind;
    const char *path_pre, *path_post; /* around the address */
    const char *name;     /* in the challenge: none for web3, "1" for the app secret */
    const char *what;
    const char *a_what; /* with its article */
    trim_rule trim;
} resource_secret;

static const resource_secret DATASET_KEY = {
    HUB_DATASET, "/secrets/web3?secretAddress=", "", NULL, "dataset key", "a dataset key", TRIM_ALL};
static const resource_secret APP_SECRET = {
    HUB_APP, "/apps/", "/secrets", "1", "app secret", "an app secret", TRIM_ONE_NEWLINE};

static cella_res resource_path(const resource_secret *rs, const uint8_t addr[20], char *out,
                               size_t cap)
{
    char a[43];
    cella_eth_address_checksum(a, addr);
    snprintf(out, cap, "%s%s%s", rs->path_pre, a, rs->path_post);
    return CELLA_OK_RES;
}

/* A cella volume key file (64 hex digits, `cella dataset encrypt`'s default
 * format) is pushed in the SMS's form for dataset keys, base64 of the 32
 * bytes, so the enclave reads both formats' keys the same way. */
static cella_res volume_key_as_base64(secret *v, const char *file)
{
    if (v->len != 64)
        return CELLA_OK_RES;
    CELLA_KEY32(key);
    cella_res r = cella_hex_decode(key.b, 32, (const char *)v->p, 64, file);
    if (!cella_ok(r)) {
        cella_error_clear(); /* not hex: an iExec key, checked next */
        return CELLA_OK_RES;
    }
    /* A new secret of exactly the new length (the redaction filter and
     * secret_free rely on it). */
    uint8_t *p = cella_secure_alloc(CELLA_IEXEC_KEY_B64_LEN);
    CELLA_ENSURE(p, CELLA_E_NOMEM, file, "out of memory");
    char b64[CELLA_IEXEC_KEY_B64_LEN + 1];
    cella_iexec_key_encode(b64, key.b);
    memcpy(p, b64, CELLA_IEXEC_KEY_B64_LEN);
    cella_wipe(b64, sizeof b64);
    secret_free(v);
    v->p = p;
    v->len = CELLA_IEXEC_KEY_B64_LEN;
    return CELLA_OK_RES;
}

/* Pushes the secret in `file` for the resource `given` (NULL: cella.json's);
 * `r` is the verb's own parsing so far. */
static int push_resource(const resource_secret *rs, cella_res r, const char *file,
                         const char *given, const cli_opt *o, int n)
{
    sms_conn s;
    memset(&s, 0, sizeof s);
    secret v = {0};
    uint8_t addr[20];
    char path[128];
    /* Local checks first: these secrets can never be replaced once pushed. */
    if (cella_ok(r))
        r = secret_read(file, rs->what, rs->trim, &v);
    if (cella_ok(r) && rs->kind == HUB_DATASET)
        r = volume_key_as_base64(&v, file);
    if (cella_ok(r) && rs->kind == HUB_DATASET) {
        CELLA_KEY32(key);
        r = cella_iexec_key_decode(key.b, (const char *)v.p, v.len, file);
        struct stat st;
        if (cella_ok(r) && stat(file, &st) == 0 && (st.st_mode & 077))
            cella_warn("key file %s is readable by others (chmod 600 it)", file);
    }
    if (cella_ok(r))
        r = sms_open(&s, o, n, true);
    if (cella_ok(r))
        r = resource_address(rs->kind, given, s.c.addr, addr);
    if (cella_ok(r))
        r = resource_path(rs, addr, path, sizeof path);
    if (cella_ok(r))
        r = push_once(&s, path, addr, rs->name, &v, rs->a_what);
    secret_free(&v);
    sms_close(&s);
    if (!cella_ok(r))
        return cli_report(r);
    char a[43];
    cella_eth_address_checksum(a, addr);
    printf("%s of %s: pushed\n", rs->what, a);
    return 0;
}

static int check_resource(const resource_secret *rs, int argc, char **argv, const char *verb)
{
    cli_opt o[] = {CAS_CONN_OPTS};
    const char *pos[1];
    int np;
    sms_conn s;
    memset(&s, 0, sizeof s);
    uint8_t addr[20];
    bool exists = false;
    char path[128];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    if (cella_ok(r))
        r = sms_open(&s, o, NOPTS(o), !np && wallet_given(o, NOPTS(o)));
    if (cella_ok(r))
        r = resource_address(rs->kind, np ? pos[0] : NULL, s.c.priv ? s.c.addr : NULL, addr);
    if (cella_ok(r))
        r = resource_path(rs, addr, path, sizeof path);
    if (cella_ok(r))
        r = sms_exists(&s, path, &exists);
    sms_close(&s);
    return report_check(r, exists, rs->what, addr);
}

static int dataset_push_secret(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS, {"key-file", true, NULL}, {"secret-path", true, NULL},
                   {"secrets-dir", true, NULL}};
    const char *pos[1];
    int np;
    char kf[4096];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "dataset push-secret");
    const char *k = cli_get(o, NOPTS(o), "key-file"), *sp = cli_get(o, NOPTS(o), "secret-path");
    const char *sd = cli_get(o, NOPTS(o), "secrets-dir");
    if (cella_ok(r) && ((k && sp) || ((k || sp) && sd)))
        r = cella_fail(CELLA_E_USAGE, "--key-file",
                       "give one of --key-file, --secret-path (its SDK name) or --secrets-dir");
    if (cella_ok(r)) {
        int w = k || sp ? snprintf(kf, sizeof kf, "%s", k ? k : sp)
                        : snprintf(kf, sizeof kf, "%s/datasets/dataset.key",
                                   sd ? sd : DEFAULT_SECRETS);
        if (w <= 0 || (size_t)w >= sizeof kf)
            r = cella_fail(CELLA_E_PATH, "--key-file", "path too long");
    }
    return push_resource(&DATASET_KEY, r, kf, np ? pos[0] : NULL, o, NOPTS(o));
}

static int dataset_check_secret(int argc, char **argv)
{
    return check_resource(&DATASET_KEY, argc, argv, "dataset check-secret");
}

static int app_push_secret(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS, {"secret-file", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "app push-secret");
    const char *f = cli_get(o, NOPTS(o), "secret-file");
    if (cella_ok(r) && !f)
        r = cella_fail(CELLA_E_USAGE, "app push-secret",
                       "usage: cella app push-secret [APP] --secret-file F (secrets are never "
                       "given on the command line)");
    return push_resource(&APP_SECRET, r, f, np ? pos[0] : NULL, o, NOPTS(o));
}

static int app_check_secret(int argc, char **argv)
{
    return check_resource(&APP_SECRET, argc, argv, "app check-secret");
}

static int requester_push_secret(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS, {"secret-file", true, NULL}};
    const char *pos[1];
    int np;
    sms_conn s;
    memset(&s, 0, sizeof s);
    secret v = {0};
    char path[200], a[43];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "requester push-secret");
    const char *f = cli_get(o, NOPTS(o), "secret-file");
    if (cella_ok(r) && (np != 1 || !f))
        r = cella_fail(CELLA_E_USAGE, "requester push-secret",
                       "usage: cella requester push-secret NAME --secret-file F (secrets are "
                       "never given on the command line)");
    if (cella_ok(r))
        r = check_requester_name(pos[0]);
    if (cella_ok(r))
        r = secret_read(f, "requester secret", TRIM_ONE_NEWLINE, &v);
    if (cella_ok(r))
        r = sms_open(&s, o, NOPTS(o), true);
    if (cella_ok(r)) {
        cella_eth_address_checksum(a, s.c.addr);
        snprintf(path, sizeof path, "/requesters/%s/secrets/%s", a, pos[0]);
        r = push_once(&s, path, s.c.addr, pos[0], &v, "a requester secret");
    }
    secret_free(&v);
    sms_close(&s);
    if (!cella_ok(r))
        return cli_report(r);
    printf("requester secret \"%s\" of %s: pushed\n", pos[0], a);
    return 0;
}

static int requester_check_secret(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS, {"requester", true, NULL}};
    const char *pos[2];
    int np;
    sms_conn s;
    memset(&s, 0, sizeof s);
    uint8_t addr[20];
    bool exists = false;
    char path[200], what[100];
    /* The SDK's form, NAME [REQUESTER], works too. */
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 2, &np, "requester check-secret");
    const char *who = cli_get(o, NOPTS(o), "requester");
    if (cella_ok(r) && (np < 1 || (np == 2 && who)))
        r = cella_fail(CELLA_E_USAGE, "requester check-secret",
                       "usage: cella requester check-secret NAME [--requester 0xADDRESS]");
    if (cella_ok(r) && np == 2)
        who = pos[1];
    if (cella_ok(r))
        r = check_requester_name(pos[0]);
    if (cella_ok(r))
        r = sms_open(&s, o, NOPTS(o), !who);
    if (cella_ok(r)) {
        if (who)
            r = cella_eth_address_parse(addr, who, "--requester");
        else
            memcpy(addr, s.c.addr, 20);
    }
    if (cella_ok(r)) {
        char a[43];
        cella_eth_address_checksum(a, addr);
        snprintf(path, sizeof path, "/requesters/%s/secrets/%s", a, pos[0]);
        r = sms_exists(&s, path, &exists);
    }
    sms_close(&s);
    snprintf(what, sizeof what, "requester secret \"%s\"", cella_ok(r) ? pos[0] : "");
    return report_check(r, exists, what, addr);
}

/* The SPKI PEM to push: --public-key/--secret-path, else
 * <secrets>/beneficiary/<wallet address>_key.pub (as the SDK and
 * `cella result generate-encryption-keypair` name it). */
static cella_res result_key_path(const cli_opt *o, int n, const uint8_t addr[20], char *out,
                                 size_t cap)
{
    const char *k = cli_get(o, n, "public-key"), *sp = cli_get(o, n, "secret-path");
    const char *sd = cli_get(o, n, "secrets-dir"), *bk = cli_get(o, n, "beneficiary-keystoredir");
    CELLA_ENSURE((!!k + !!sp + !!sd + !!bk) <= 1, CELLA_E_USAGE, "--public-key",
                 "give one of --public-key, --secret-path, --secrets-dir or "
                 "--beneficiary-keystoredir");
    if (k || sp) {
        int w = snprintf(out, cap, "%s", k ? k : sp);
        CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_PATH, "--public-key", "path too long");
        return CELLA_OK_RES;
    }
    char dir[4096], a[43], lower[43];
    int w = bk ? snprintf(dir, sizeof dir, "%s", bk)
               : snprintf(dir, sizeof dir, "%s/beneficiary", sd ? sd : DEFAULT_SECRETS);
    CELLA_ENSURE(w > 0 && (size_t)w < sizeof dir, CELLA_E_PATH, "--secrets-dir", "path too long");
    cella_eth_address_checksum(a, addr);
    lower[0] = '0';
    lower[1] = 'x';
    cella_hex_encode(lower + 2, addr, 20, false);
    /* The SDK writes the checksummed name; an address typed in lower case works too. */
    w = snprintf(out, cap, "%s/%s_key.pub", dir, lower);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_PATH, "--secrets-dir", "path too long");
    if (access(out, F_OK) != 0)
        snprintf(out, cap, "%s/%s_key.pub", dir, a);
    return CELLA_OK_RES;
}

static int result_push_key(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS,
                   {"public-key", true, NULL},
                   {"secret-path", true, NULL},
                   {"secrets-dir", true, NULL},
                   {"beneficiary-keystoredir", true, NULL},
                   {"force", false, NULL},
                   {"force-update", false, NULL}};
    const char *pos[1];
    int np;
    sms_conn s;
    memset(&s, 0, sizeof s);
    secret pem = {0}, v = {0};
    bool exists = false, updated = false;
    char path[256], kf[4096 + 128], a[43];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "result push-encryption-key");
    bool force = cli_get(o, NOPTS(o), "force") || cli_get(o, NOPTS(o), "force-update");
    /* The wallet first: it names the default key file. */
    if (cella_ok(r))
        r = sms_open(&s, o, NOPTS(o), true);
    if (cella_ok(r))
        r = result_key_path(o, NOPTS(o), s.c.addr, kf, sizeof kf);
    if (cella_ok(r))
        r = secret_read(kf, "public key", TRIM_NONE, &pem);
    if (cella_ok(r) && !cella_ok(cella_iexec_result_public_key_check(
                           cella_slice_of(pem.p, pem.len)))) {
        char why[512];
        snprintf(why, sizeof why, "%s", cella_error_what());
        r = cella_fail(CELLA_E_PARSE, kf, "%s", why);
    }
    /* iExec pushes base64 of the PEM text. */
    size_t b64 = 4 * ((pem.len + 2) / 3);
    if (cella_ok(r) && b64 > CELLA_IEXEC_SMS_MAX_SECRET)
        r = cella_fail(CELLA_E_TOOBIG, kf, "public key too large: %zu bytes once base64-encoded, "
                       "the SMS takes %d", b64, CELLA_IEXEC_SMS_MAX_SECRET);
    if (cella_ok(r)) {
        v.p = cella_secure_alloc(b64 + 1);
        v.len = b64 + 1;
        if (!v.p || cella_base64_encode((char *)v.p, b64 + 1, pem.p, pem.len) != b64)
            r = cella_fail(CELLA_E_NOMEM, kf, "cannot encode the public key");
    }
    if (cella_ok(r)) {
        cella_eth_address_checksum(a, s.c.addr);
        snprintf(path, sizeof path, "/secrets/web2?ownerAddress=%s&secretName=%s", a,
                 CELLA_IEXEC_RESULT_KEY_NAME);
    }
    /* As the SDK: --force updates (PUT) a key that exists and pushes one that
     * does not; without it, POST, which cas refuses when one exists. */
    if (cella_ok(r) && force)
        r = sms_exists(&s, path, &exists);
    if (cella_ok(r)) {
        secret body = {v.p, b64};
        r = sms_push(&s, exists ? "PUT" : "POST", path, s.c.addr, CELLA_IEXEC_RESULT_KEY_NAME,
                     &body);
    }
    if (cella_ok(r)) {
        long st = s.resp.status;
        if (st >= 200 && st < 300)
            updated = exists;
        else
            r = refused(&s, st == 409 ? "; give --force to replace it" : NULL);
    }
    secret_free(&v);
    secret_free(&pem);
    sms_close(&s);
    if (!cella_ok(r))
        return cli_report(r);
    printf("result encryption key of %s: %s\n", a, updated ? "updated" : "pushed");
    return 0;
}

static int result_check_key(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS};
    const char *pos[1];
    int np;
    sms_conn s;
    memset(&s, 0, sizeof s);
    uint8_t addr[20];
    bool exists = false;
    char path[256];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "result check-encryption-key");
    if (cella_ok(r))
        r = sms_open(&s, o, NOPTS(o), !np);
    if (cella_ok(r)) {
        if (np)
            r = cella_eth_address_parse(addr, pos[0], "ADDRESS");
        else
            memcpy(addr, s.c.addr, 20);
    }
    if (cella_ok(r)) {
        char a[43];
        cella_eth_address_checksum(a, addr);
        snprintf(path, sizeof path, "/secrets/web2?ownerAddress=%s&secretName=%s", a,
                 CELLA_IEXEC_RESULT_KEY_NAME);
        r = sms_exists(&s, path, &exists);
    }
    sms_close(&s);
    return report_check(r, exists, "result encryption key", addr);
}

#define CONN_USAGE "[--cas URL --cas-fingerprint FP] "
#define WALLET_USAGE CLI_WALLET_USAGE
#define CHECK_HELP " Exit status: 0 set, 3 not set, 1 or 2 on errors."

const cli_command cli_secret_commands[] = {
    {"dataset", "push-secret", dataset_push_secret,
     "cella dataset push-secret [DATASET] [--key-file F] [--secrets-dir .secrets] " CONN_USAGE
     WALLET_USAGE,
     "Push the dataset key (default .secrets/datasets/dataset.key, trimmed; base64 of 32 bytes "
     "as `cella dataset encrypt --format iexec` writes it) to the SMS, signed by the dataset's "
     "owner. It can never be replaced. Without DATASET: the address of ./cella.json's dataset "
     "as `cella dataset deploy` registers it. --secret-path is the SDK's name of --key-file."},
    {"dataset", "check-secret", dataset_check_secret,
     "cella dataset check-secret [DATASET] " CONN_USAGE "[--wallet-file W]",
     "Tell whether the dataset's key was pushed (never the key)." CHECK_HELP},
    {"app", "push-secret", app_push_secret,
     "cella app push-secret [APP] --secret-file F " CONN_USAGE WALLET_USAGE,
     "Push the app developer's secret (the file's content, up to 4096 bytes; one trailing "
     "newline is not part of it), signed by the app's owner. It can never be replaced."},
    {"app", "check-secret", app_check_secret,
     "cella app check-secret [APP] " CONN_USAGE "[--wallet-file W]",
     "Tell whether the app developer's secret was pushed." CHECK_HELP},
    {"requester", "push-secret", requester_push_secret,
     "cella requester push-secret NAME --secret-file F " CONN_USAGE WALLET_USAGE,
     "Push a requester secret named NAME ([A-Za-z0-9-_]{1,64}) for the wallet's address: the "
     "file's content, up to 4096 bytes, one trailing newline not included. Tasks name it in "
     "iexec_secrets. It can never be replaced."},
    {"requester", "check-secret", requester_check_secret,
     "cella requester check-secret NAME [--requester 0xADDRESS] " CONN_USAGE "[--wallet-file W]",
     "Tell whether the requester (default: the wallet's address) has a secret NAME." CHECK_HELP},
    {"result", "push-encryption-key", result_push_key,
     "cella result push-encryption-key [--public-key F] [--secrets-dir .secrets] [--force] "
     CONN_USAGE WALLET_USAGE,
     "Push the beneficiary's RSA public key (default .secrets/beneficiary/<wallet "
     "address>_key.pub) as base64 of the PEM, web2 secret iexec-result-encryption-public-key; "
     "--force replaces one already pushed. SDK names: --secret-path, --force-update, "
     "result push-secret."},
    {"result", "push-secret", result_push_key,
     "cella result push-secret ...", "The iExec SDK's alias of result push-encryption-key."},
    {"result", "check-encryption-key", result_check_key,
     "cella result check-encryption-key [ADDRESS] " CONN_USAGE "[--wallet-file W]",
     "Tell whether ADDRESS (default: the wallet's) pushed a result encryption key." CHECK_HELP},
    {"result", "check-secret", result_check_key, "cella result check-secret ...",
     "The iExec SDK's alias of result check-encryption-key."},
    {NULL, NULL, NULL, NULL, NULL},
};
