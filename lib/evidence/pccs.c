/* Intel PCS / PCCS v4 client and collateral cache. See pccs.h. */
#include "evidence/pccs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "evidence/ossl.h"
#include "net/curl_lib.h"

#define PCCS_MAX_BODY (1u << 20)
#define PCCS_MAX_HEADER (64u * 1024u)

/* ---- parsers ------------------------------------------------------------- */

cella_res cella_pccs_url_decode(cella_slice in, cella_buf *out)
{
    for (size_t i = 0; i < in.len; i++) {
        uint8_t ch = in.p[i];
        if (ch == '%') {
            CELLA_ENSURE(i + 2 < in.len && in.p[i + 1] != 'x' && in.p[i + 1] != 'X',
                         CELLA_E_PARSE, "PCCS issuer chain", "bad percent escape at byte %zu",
                         i);
            CELLA_TRY(cella_hex_decode(&ch, 1, (const char *)in.p + i + 1, 2,
                                       "PCCS issuer chain (percent escape)"));
            i += 2;
        }
        CELLA_ENSURE(ch != 0, CELLA_E_PARSE, "PCCS issuer chain", "contains a NUL byte");
        cella_buf_u8(out, ch);
    }
    return cella_buf_result(out);
}

typedef struct {
    cella_slice s;
    size_t i;
    int depth;
} jscan;

static void ws(jscan *j)
{
    while (j->i < j->s.len && (j->s.p[j->i] == ' ' || j->s.p[j->i] == '\t' ||
                               j->s.p[j->i] == '\n' || j->s.p[j->i] == '\r'))
        j->i++;
}

/* Skips a JSON string starting at '"'; its raw bytes are [*b, *e). */
static bool scan_string(jscan *j, size_t *b, size_t *e)
{
    if (j->i >= j->s.len || j->s.p[j->i] != '"')
        return false;
    *b = ++j->i;
    while (j->i < j->s.len) {
        uint8_t c = j->s.p[j->i];
        if (c == '\\') {
            j->i += 2;
            continue;
        }
        if (c == '"') {
            *e = j->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        j->i++;
    }
    return false;
}

/* Skips one JSON value (its extent only; jansson validates the whole body). */
static bool scan_value(jscan *j)
{
    ws(j);
    if (j->i >= j->s.len)
        return false;
    uint8_t c = j->s.p[j->i];
    size_t b, e;
    if (c == '"')
        return scan_string(j, &b, &e);
    if (c == '{' || c == '[') {
        if (++j->depth > 64)
            return false;
        uint8_t close = c == '{' ? '}' : ']';
        j->i++;
        ws(j);
        if (j->i < j->s.len && j->s.p[j->i] == close) {
            j->i++;
            j->depth--;
            return true;
        }
        for (;;) {
            if (c == '{') {
                ws(j);
                if (!scan_string(j, &b, &e))
                    return false;
                ws(j);
                if (j->i >= j->s.len || j->s.p[j->i++] != ':')
                    return false;
            }
            if (!scan_value(j))
                return false;
            ws(j);
            if (j->i >= j->s.len)
                return false;
            if (j->s.p[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->s.p[j->i] != close)
                return false;
            j->i++;
            j->depth--;
            return true;
        }
    }
    /* number, true, false, null */
    size_t start = j->i;
    while (j->i < j->s.len && (strchr("+-.eE", j->s.p[j->i]) ||
                               (j->s.p[j->i] >= '0' && j->s.p[j->i] <= '9') ||
                               (j->s.p[j->i] >= 'a' && j->s.p[j->i] <= 'z')))
        j->i++;
    return j->i > start;
}

cella_res cella_pccs_json_member(cella_slice body, const char *key, cella_slice *value)
{
    static const char *const W = "PCCS answer";
    json_error_t je;
    json_t *doc = json_loadb((const char *)body.p, body.len, JSON_REJECT_DUPLICATES, &je);
    bool is_obj = doc && json_is_object(doc) && json_is_object(json_object_get(doc, key));
    json_decref(doc);
    CELLA_ENSURE(is_obj, CELLA_E_PARSE, W, "not a JSON object with an object \"%s\"", key);
    jscan j = {body, 0, 0};
    ws(&j);
    CELLA_ENSURE(j.i < body.len && body.p[j.i] == '{', CELLA_E_PARSE, W, "not a JSON object");
    j.i++;
    size_t klen = strlen(key);
    bool found = false;
    for (;;) {
        size_t kb, ke;
        ws(&j);
        CELLA_ENSURE(scan_string(&j, &kb, &ke), CELLA_E_PARSE, W, "bad JSON key");
        ws(&j);
        CELLA_ENSURE(j.i < body.len && body.p[j.i++] == ':', CELLA_E_PARSE, W, "bad JSON");
        ws(&j);
        size_t vb = j.i;
        CELLA_ENSURE(scan_value(&j), CELLA_E_PARSE, W, "bad JSON value");
        if (ke - kb == klen && !memcmp(body.p + kb, key, klen)) {
            CELLA_ENSURE(!found, CELLA_E_PARSE, W, "\"%s\" twice", key);
            found = true;
            *value = cella_slice_of(body.p + vb, j.i - vb);
        }
        ws(&j);
        CELLA_ENSURE(j.i < body.len, CELLA_E_PARSE, W, "truncated JSON");
        if (body.p[j.i] == ',') {
            j.i++;
            continue;
        }
        CELLA_ENSURE(body.p[j.i] == '}', CELLA_E_PARSE, W, "bad JSON");
        break;
    }
    CELLA_ENSURE(found, CELLA_E_PARSE, W, "no \"%s\"", key);
    return CELLA_OK_RES;
}

cella_res cella_pccs_crl_hex(cella_slice body, cella_buf *hex)
{
    static const char *const W = "PCCS CRL";
    size_t b = 0, e = body.len;
    while (b < e && strchr(" \t\r\n", body.p[b]))
        b++;
    while (e > b && strchr(" \t\r\n", body.p[e - 1]))
        e--;
    CELLA_ENSURE(e > b, CELLA_E_PARSE, W, "empty");
    cella_slice t = cella_slice_of(body.p + b, e - b);
    static const char digits[] = "0123456789abcdefABCDEF";
    bool all_hex = t.len % 2 == 0;
    for (size_t i = 0; all_hex && i < t.len; i++)
        all_hex = t.p[i] && strchr(digits, t.p[i]) != NULL;
    uint8_t *der = NULL;
    size_t dlen = 0;
    X509_CRL *crl = NULL;
    cella_res r = CELLA_OK_RES;
    if (all_hex) {
        dlen = t.len / 2;
        der = malloc(dlen ? dlen : 1);
        r = der ? cella_hex_decode(der, dlen, (const char *)t.p, t.len, W)
                : cella_fail(CELLA_E_NOMEM, W, "out of memory");
    } else if (t.len > 10 && !memcmp(t.p, "-----BEGIN", 10)) {
        BIO *bio = BIO_new_mem_buf(t.p, (int)t.len);
        crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        unsigned char *d = NULL;
        int n = crl ? i2d_X509_CRL(crl, &d) : -1;
        if (n > 0) {
            der = malloc((size_t)n);
            if (der)
                memcpy(der, d, (size_t)n);
            dlen = (size_t)n;
        }
        OPENSSL_free(d);
        X509_CRL_free(crl);
        crl = NULL;
        if (!der)
            r = cella_fail(CELLA_E_PARSE, W, "not a PEM CRL");
    } else {
        der = malloc(t.len);
        if (der)
            memcpy(der, t.p, t.len);
        dlen = t.len;
        r = der ? CELLA_OK_RES : cella_fail(CELLA_E_NOMEM, W, "out of memory");
    }
    if (cella_ok(r)) {
        const unsigned char *q = der;
        crl = d2i_X509_CRL(NULL, &q, (long)dlen);
        if (!crl || q != der + dlen)
            r = cella_fail(CELLA_E_PARSE, W, "not a DER CRL");
    }
    if (cella_ok(r)) {
        char *h = malloc(2 * dlen + 1);
        if (h) {
            cella_hex_encode(h, der, dlen, false);
            cella_buf_append(hex, h, 2 * dlen);
            free(h);
        }
        r = h ? cella_buf_result(hex) : cella_fail(CELLA_E_NOMEM, W, "out of memory");
    }
    X509_CRL_free(crl);
    free(der);
    ERR_clear_error();
    return r;
}

static cella_res crl_next(const char *hex, time_t *out, const char *what)
{
    size_t n = strlen(hex) / 2;
    uint8_t *der = malloc(n ? n : 1);
    CELLA_ENSURE(der, CELLA_E_NOMEM, what, "out of memory");
    cella_res r = cella_hex_decode(der, n, hex, strlen(hex), what);
    X509_CRL *crl = NULL;
    if (cella_ok(r)) {
        const unsigned char *q = der;
        crl = d2i_X509_CRL(NULL, &q, (long)n);
        if (!crl || !X509_CRL_get0_nextUpdate(crl))
            r = cella_fail(CELLA_E_PARSE, what, "not a CRL with a nextUpdate");
    }
    if (cella_ok(r))
        *out = cella_ev_asn1_time(X509_CRL_get0_nextUpdate(crl));
    X509_CRL_free(crl);
    free(der);
    ERR_clear_error();
    return r;
}

static cella_res json_next(const char *text, time_t *out, const char *what)
{
    json_t *o = json_loads(text, 0, NULL);
    const char *s = json_string_value(json_object_get(o, "nextUpdate"));
    cella_res r = s ? cella_ev_parse_time(s, out, what)
                    : cella_fail(CELLA_E_PARSE, what, "no nextUpdate");
    json_decref(o);
    return r;
}

cella_res cella_pccs_next_update(cella_slice collateral, time_t *out)
{
    cella_dcap_collateral c;
    CELLA_TRY(cella_dcap_collateral_parse(collateral, &c));
    time_t t[4] = {0};
    cella_res r = json_next(c.tcb_info, &t[0], "TCB info");
    if (cella_ok(r))
        r = json_next(c.qe_identity, &t[1], "QE identity");
    if (cella_ok(r))
        r = crl_next(c.pck_crl, &t[2], "PCK CRL");
    if (cella_ok(r))
        r = crl_next(c.root_ca_crl, &t[3], "Root CA CRL");
    cella_dcap_collateral_free(&c);
    CELLA_TRY(r);
    *out = t[0];
    for (int i = 1; i < 4; i++)
        if (t[i] < *out)
            *out = t[i];
    return CELLA_OK_RES;
}

/* ---- fetching ------------------------------------------------------------ */

typedef struct {
    cella_buf *body;
    bool overflow;
    const char *const *names; /* issuer-chain header names accepted */
    cella_buf *header;        /* raw value of the first one seen */
    bool header_seen;
} fetch_ctx;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    fetch_ctx *f = ud;
    size_t len = sz * n;
    if (f->body->len + len > PCCS_MAX_BODY) {
        f->overflow = true;
        return 0;
    }
    cella_buf_append(f->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    fetch_ctx *f = ud;
    size_t len = sz * n;
    for (const char *const *nm = f->names; nm && *nm && !f->header_seen; nm++) {
        size_t k = strlen(*nm);
        if (len > k + 1 && !strncasecmp(p, *nm, k) && p[k] == ':') {
            size_t b = k + 1, e = len;
            while (b < e && (p[b] == ' ' || p[b] == '\t'))
                b++;
            while (e > b && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
                e--;
            if (e - b > PCCS_MAX_HEADER) {
                f->overflow = true;
                return 0;
            }
            cella_buf_append(f->header, p + b, e - b);
            f->header_seen = true;
        }
    }
    return len;
}

/* GET url+path; the body, and the URL-decoded issuer chain if `names`. */
static cella_res fetch(const cella_pccs *p, const char *path, const char *const *names,
                       cella_buf *body, cella_buf *chain)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", p->url, path);
    const cella_curl_lib *C;
    CELLA_TRY(cella_curl_lib_get(&C));
    CURL *h = C->curl_easy_init();
    CELLA_ENSURE(h, CELLA_E_NOMEM, url, "cannot start an HTTP client");
    cella_buf raw;
    cella_buf_init(&raw, false);
    fetch_ctx f = {body, false, names, &raw, false};
    C->curl_easy_setopt(h, CURLOPT_URL, url);
    C->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    C->curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    C->curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    C->curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
    C->curl_easy_setopt(h, CURLOPT_TIMEOUT, p->timeout_s ? p->timeout_s : 20L);
    C->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    C->curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (p->insecure_tls) {
        C->curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        C->curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = C->curl_easy_perform(h);
    long status = 0;
    C->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    C->curl_easy_cleanup(h);
    cella_res r = CELLA_OK_RES;
    if (f.overflow)
        r = cella_fail(CELLA_E_TOOBIG, url, "PCCS answer too large");
    else if (rc != CURLE_OK)
        r = cella_fail(CELLA_E_IO, url, "PCCS request failed: %s", C->curl_easy_strerror(rc));
    else if (status == 404)
        r = cella_fail(CELLA_E_NOTFOUND, url, "PCCS has no such collateral (404)");
    else if (status != 200)
        r = cella_fail(CELLA_E_IO, url, "PCCS answered HTTP %ld", status);
    if (cella_ok(r))
        r = cella_buf_result(body);
    if (cella_ok(r) && names) {
        r = f.header_seen ? cella_pccs_url_decode(cella_slice_of(raw.p, raw.len), chain)
                          : cella_fail(CELLA_E_PARSE, url, "PCCS answer lacks the %s header",
                                       names[0]);
        cella_buf_u8(chain, 0);
        if (cella_ok(r))
            r = cella_buf_result(chain);
    }
    if (!cella_ok(r) && !*cella_error_where())
        cella_error_set_where(url);
    cella_buf_free(&raw);
    return r;
}

/* {"tcbInfo":{...},"signature":"hex"} -> the exact text and the signature. */
static cella_res signed_part(cella_buf *body, const char *key, json_t *out, const char *tkey,
                             const char *skey)
{
    cella_slice b = cella_slice_of(body->p, body->len), v;
    CELLA_TRY(cella_pccs_json_member(b, key, &v));
    json_t *doc = json_loadb((const char *)b.p, b.len, 0, NULL);
    const char *sig = json_string_value(json_object_get(doc, "signature"));
    cella_res r = sig ? CELLA_OK_RES
                      : cella_fail(CELLA_E_PARSE, "PCCS answer", "no \"signature\" string");
    if (cella_ok(r) && (json_object_set_new(out, tkey, json_stringn((const char *)v.p, v.len)) ||
                        json_object_set_new(out, skey, json_string(sig))))
        r = cella_fail(CELLA_E_PARSE, "PCCS answer", "not UTF-8");
    json_decref(doc);
    return r;
}

static cella_res assemble(const cella_pccs *p, bool tdx, const char *fm, cella_pck_ca ca,
                          json_t *out)
{
    static const char *const tcb_h[] = {"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain",
                                        NULL};
    static const char *const qe_h[] = {"SGX-Enclave-Identity-Issuer-Chain",
                                       "Enclave-Identity-Issuer-Chain", NULL};
    static const char *const crl_h[] = {"SGX-PCK-CRL-Issuer-Chain", NULL};
    const char *tee = tdx ? "tdx" : "sgx";
    char path[256];
    cella_buf body, chain;
    cella_res r = CELLA_OK_RES;
    for (int step = 0; step < 4 && cella_ok(r); step++) {
        cella_buf_init(&body, false);
        cella_buf_init(&chain, false);
        if (step == 0) {
            snprintf(path, sizeof path, "/%s/certification/v4/tcb?fmspc=%s", tee, fm);
            r = fetch(p, path, tcb_h, &body, &chain);
            if (cella_ok(r))
                r = signed_part(&body, "tcbInfo", out, "tcb_info", "tcb_info_signature");
            if (cella_ok(r))
                json_object_set_new(out, "tcb_info_issuer_chain", json_string((char *)chain.p));
        } else if (step == 1) {
            snprintf(path, sizeof path, "/%s/certification/v4/qe/identity", tee);
            r = fetch(p, path, qe_h, &body, &chain);
            if (cella_ok(r))
                r = signed_part(&body, "enclaveIdentity", out, "qe_identity",
                                "qe_identity_signature");
            if (cella_ok(r))
                json_object_set_new(out, "qe_identity_issuer_chain",
                                    json_string((char *)chain.p));
        } else {
            cella_buf hex;
            cella_buf_init(&hex, false);
            if (step == 2)
                snprintf(path, sizeof path, "/sgx/certification/v4/pckcrl?ca=%s&encoding=der",
                         cella_pck_ca_str(ca));
            else
                snprintf(path, sizeof path, "/sgx/certification/v4/rootcacrl");
            r = fetch(p, path, step == 2 ? crl_h : NULL, &body, &chain);
            if (cella_ok(r))
                r = cella_pccs_crl_hex(cella_slice_of(body.p, body.len), &hex);
            cella_buf_u8(&hex, 0);
            if (cella_ok(r))
                r = cella_buf_result(&hex);
            if (cella_ok(r)) {
                json_object_set_new(out, step == 2 ? "pck_crl" : "root_ca_crl",
                                    json_string((char *)hex.p));
                if (step == 2)
                    json_object_set_new(out, "pck_crl_issuer_chain",
                                        json_string((char *)chain.p));
            }
            cella_buf_free(&hex);
        }
        cella_buf_free(&body);
        cella_buf_free(&chain);
    }
    return r;
}

cella_res cella_pccs_collateral(const cella_pccs *p, bool tdx, const uint8_t fmspc[6],
                                cella_pck_ca ca, time_t now, cella_buf *json, bool *cached)
{
    char fm[13], name[96], path[4200];
    cella_hex_encode(fm, fmspc, 6, false);
    snprintf(name, sizeof name, "%s-%s-%s.json", tdx ? "tdx" : "sgx", fm, cella_pck_ca_str(ca));
    *cached = false;
    if (p->cache_dir) {
        snprintf(path, sizeof path, "%s/%s", p->cache_dir, name);
        uint8_t *d = NULL;
        size_t n = 0;
        time_t next;
        if (cella_ok(cella_read_file(AT_FDCWD, path, PCCS_MAX_BODY * 4, false, &d, &n)) &&
            cella_ok(cella_pccs_next_update(cella_slice_of(d, n), &next)) && now < next) {
            cella_buf_append(json, d, n);
            free(d);
            *cached = true;
            return cella_buf_result(json);
        }
        free(d);
        cella_error_clear();
    }
    json_t *o = json_object();
    CELLA_ENSURE(o, CELLA_E_NOMEM, "PCCS", "out of memory");
    /* Intel's FMSPC query parameter is upper-case hex. */
    char FM[13];
    cella_hex_encode(FM, fmspc, 6, true);
    cella_res r = assemble(p, tdx, FM, ca, o);
    char *text = cella_ok(r) ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (cella_ok(r) && !text)
        r = cella_fail(CELLA_E_NOMEM, "PCCS", "out of memory");
    if (cella_ok(r)) {
        cella_buf_append(json, text, strlen(text));
        r = cella_buf_result(json);
    }
    free(text);
    return r;
}

cella_res cella_pccs_cache_put(const cella_pccs *p, bool tdx, const uint8_t fmspc[6],
                               cella_pck_ca ca, cella_slice json)
{
    if (!p->cache_dir)
        return CELLA_OK_RES;
    char fm[13], path[4200];
    cella_hex_encode(fm, fmspc, 6, false);
    snprintf(path, sizeof path, "%s/%s-%s-%s.json", p->cache_dir, tdx ? "tdx" : "sgx", fm,
             cella_pck_ca_str(ca));
    time_t next;
    CELLA_TRY(cella_pccs_next_update(json, &next));
    if (mkdir(p->cache_dir, 0700) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, p->cache_dir, "cannot create the PCCS cache: %s",
                          strerror(errno));
    return cella_write_file_atomic(AT_FDCWD, path, json.p, json.len, 0600, false);
}
