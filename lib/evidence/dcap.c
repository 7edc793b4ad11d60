/* Intel DCAP quote verification. See dcap.h and docs/evidence.md. */
#include "evidence/dcap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/encoding.h"
#include "core/secure.h"
#include "evidence/ossl.h"
#include "evidence/pck_ext.h"

/* The pinned Intel SGX Root CA (P-256, 2018-05-21 to 2049-12-31). Its
 * SHA-256(DER) is checked at load as a second guard against an edited copy. */
static const char g_intel_root_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw\n"
    "aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv\n"
    "cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ\n"
    "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG\n"
    "A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0\n"
    "aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT\n"
    "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7\n"
    "1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB\n"
    "uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ\n"
    "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50\n"
    "ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV\n"
    "Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI\n"
    "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg\n"
    "AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=\n"
    "-----END CERTIFICATE-----\n";
static const char g_intel_root_sha256[] =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

static const char *const g_status_names[] = {
    "UpToDate",  "SWHardeningNeeded",          "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded",
    "Revoked",   "Unknown"};

const char *cella_tcb_status_str(cella_tcb_status s)
{
    return (unsigned)s <= CELLA_TCB_UNKNOWN ? g_status_names[s] : "Unknown";
}

bool cella_tcb_status_parse(const char *s, cella_tcb_status *out)
{
    for (int i = 0; i < CELLA_TCB_UNKNOWN; i++)
        if (s && !strcmp(s, g_status_names[i])) {
            *out = (cella_tcb_status)i;
            return true;
        }
    return false;
}

/* ---- collateral ---------------------------------------------------------- */

CELLA_RESULT cella_dcap_collateral_parse(cella_slice in, cella_dcap_collateral *c)
{
    memset(c, 0, sizeof *c);
    json_error_t err;
    c->root = json_loadb((const char *)in.p, in.len, JSON_REJECT_DUPLICATES, &err);
    CELLA_ENSURE(c->root && json_is_object(c->root), CELLA_E_PARSE, "collateral",
                 "not a JSON object (line %d: %s)", err.line, err.text);
    struct {
        const char *key;
        const char **dst;
    } f[] = {{"pck_crl_issuer_chain", &c->pck_crl_issuer_chain},
             {"root_ca_crl", &c->root_ca_crl},
             {"pck_crl", &c->pck_crl},
             {"tcb_info_issuer_chain", &c->tcb_info_issuer_chain},
             {"tcb_info", &c->tcb_info},
             {"tcb_info_signature", &c->tcb_info_signature},
             {"qe_identity_issuer_chain", &c->qe_identity_issuer_chain},
             {"qe_identity", &c->qe_identity},
             {"qe_identity_signature", &c->qe_identity_signature}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        json_t *v = json_object_get(c->root, f[i].key);
        if (!json_is_string(v)) {
            cella_dcap_collateral_free(c);
            return cella_fail(CELLA_E_PARSE, "collateral", "missing string field \"%s\"",
                              f[i].key);
        }
        *f[i].dst = json_string_value(v);
    }
    return CELLA_OK_RES;
}

void cella_dcap_collateral_free(cella_dcap_collateral *c)
{
    json_decref(c->root);
    memset(c, 0, sizeof *c);
}

/* ---- small helpers ------------------------------------------------------- */

static cella_res hex_blob(const char *hex, uint8_t **out, size_t *n, const char *what)
{
    size_t hl = strlen(hex);
    *out = NULL;
    CELLA_ENSURE(hl % 2 == 0 && hl > 0 && hl < (1u << 24), CELLA_E_PARSE, what,
                 "not an even-length hex string");
    *n = hl / 2;
    *out = malloc(*n);
    if (!*out)
        return cella_fail(CELLA_E_NOMEM, what, "out of memory");
    cella_res r = cella_hex_decode(*out, *n, hex, hl, what);
    if (!cella_ok(r)) {
        free(*out);
        *out = NULL;
    }
    return r;
}

static cella_res load_crl(const char *hex, X509_CRL **out, const char *what)
{
    uint8_t *der = NULL;
    size_t n = 0;
    CELLA_TRY(hex_blob(hex, &der, &n, what));
    const unsigned char *p = der;
    *out = d2i_X509_CRL(NULL, &p, (long)n);
    bool whole = *out && p == der + n;
    free(der);
    ERR_clear_error();
    if (!whole) {
        X509_CRL_free(*out);
        *out = NULL;
        return cella_fail(CELLA_E_PARSE, what, "malformed CRL");
    }
    return CELLA_OK_RES;
}

static cella_res check_crl(X509_CRL *crl, X509 *issuer, time_t now, const char *what)
{
    time_t last = cella_ev_asn1_time(X509_CRL_get0_lastUpdate(crl));
    time_t next = cella_ev_asn1_time(X509_CRL_get0_nextUpdate(crl));
    CELLA_ENSURE(last != (time_t)-1 && next != (time_t)-1, CELLA_E_PARSE, what,
                 "CRL has no readable update times");
    CELLA_ENSURE(now >= last, CELLA_E_AUTH, what, "CRL is not yet valid");
    CELLA_ENSURE(now <= next, CELLA_E_AUTH, what, "CRL has expired");
    CELLA_ENSURE(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) == 0,
                 CELLA_E_AUTH, what, "CRL is not issued by the expected CA");
    EVP_PKEY *k = X509_get0_pubkey(issuer);
    int ok = k && X509_CRL_verify(crl, k) == 1;
    ERR_clear_error();
    CELLA_ENSURE(ok, CELLA_E_AUTH, what, "CRL signature does not verify");
    return CELLA_OK_RES;
}

static cella_res load_root(X509 **out)
{
    STACK_OF(X509) *sk;
    CELLA_TRY(cella_ev_load_certs(cella_slice_of(g_intel_root_pem, sizeof g_intel_root_pem - 1),
                                  &sk, "Intel SGX Root CA"));
    *out = sk_X509_shift(sk);
    sk_X509_pop_free(sk, X509_free);
    uint8_t fp[32];
    char hex[65];
    cella_res r = cella_ev_cert_sha256(*out, fp);
    if (cella_ok(r)) {
        cella_hex_encode(hex, fp, 32, false);
        if (strcmp(hex, g_intel_root_sha256) != 0)
            r = cella_fail(CELLA_E_INTERNAL, "Intel SGX Root CA", "pinned root does not match");
    }
    if (!cella_ok(r)) {
        X509_free(*out);
        *out = NULL;
    }
    return r;
}

/* Chain `leaf` (+ `untrusted`) to the pinned root at `now`, checking every
 * certificate against `crls` (which must cover every CA in the chain). */
static cella_res verify_chain(X509 *leaf, STACK_OF(X509) *untrusted, X509 *root,
                              STACK_OF(X509_CRL) *crls, time_t now, const char *what)
{
    cella_res res = CELLA_OK_RES;
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!st || !ctx || X509_STORE_add_cert(st, root) != 1 ||
        X509_STORE_CTX_init(ctx, st, leaf, untrusted) != 1) {
        res = cella_fail(CELLA_E_CRYPTO, what, "cannot set up chain verification");
        goto out;
    }
    X509_STORE_CTX_set0_crls(ctx, crls);
    X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(p, now);
    X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    X509_VERIFY_PARAM_set_depth(p, 4);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        res = cella_fail(e == X509_V_ERR_CERT_REVOKED ? CELLA_E_AUTH : CELLA_E_AUTH, what,
                         "%s%s (at depth %d)",
                         e == X509_V_ERR_CERT_REVOKED ? "revoked: " : "chain does not verify: ",
                         X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
    }
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    ERR_clear_error();
    return res;
}

static cella_res verify_json_sig(X509 *signer, const char *text, const char *sighex,
                                 const char *what)
{
    uint8_t sig[64];
    CELLA_TRY(cella_hex_decode(sig, 64, sighex, strlen(sighex), what));
    EVP_PKEY *k = X509_get0_pubkey(signer);
    CELLA_ENSURE(k && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC, CELLA_E_AUTH, what,
                 "signing key is not ECDSA");
    return cella_ev_ecdsa_verify(k, EVP_sha256(), sig, sig + 32, 32, false, text, strlen(text),
                                 what);
}

static void adv_add(cella_advisories *a, const char *id)
{
    size_t i = 0;
    while (i < a->n && strcmp(a->id[i], id) < 0)
        i++;
    if ((i < a->n && !strcmp(a->id[i], id)) || a->n == CELLA_MAX_ADVISORIES ||
        strlen(id) >= sizeof a->id[0])
        return;
    memmove(a->id[i + 1], a->id[i], (a->n - i) * sizeof a->id[0]);
    snprintf(a->id[i], sizeof a->id[0], "%s", id);
    a->n++;
}

static void adv_union(cella_advisories *dst, const cella_advisories *src)
{
    for (size_t i = 0; i < src->n; i++)
        adv_add(dst, src->id[i]);
}

static cella_res adv_from_json(json_t *level, cella_advisories *a, const char *what)
{
    memset(a, 0, sizeof *a);
    json_t *ids = json_object_get(level, "advisoryIDs");
    if (!ids)
        return CELLA_OK_RES;
    CELLA_ENSURE(json_is_array(ids), CELLA_E_PARSE, what, "advisoryIDs is not an array");
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        CELLA_ENSURE(json_is_string(v) && json_string_length(v) < sizeof a->id[0],
                     CELLA_E_PARSE, what, "malformed advisory id");
        adv_add(a, json_string_value(v));
    }
    return CELLA_OK_RES;
}

/* Intel QVL's convergence: a worse QE or TDX module status degrades the
 * platform status. */
static cella_tcb_status converge(cella_tcb_status platform, cella_tcb_status other)
{
    if (other == CELLA_TCB_REVOKED)
        return CELLA_TCB_REVOKED;
    if (other == CELLA_TCB_OUT_OF_DATE) {
        switch (platform) {
        case CELLA_TCB_UP_TO_DATE:
        case CELLA_TCB_SW_HARDENING_NEEDED:
            return CELLA_TCB_OUT_OF_DATE;
        case CELLA_TCB_CONFIGURATION_NEEDED:
        case CELLA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
            return CELLA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
        default:
            return platform;
        }
    }
    return platform;
}

static cella_res json_hex(json_t *o, const char *key, uint8_t *out, size_t n, const char *what)
{
    json_t *v = json_object_get(o, key);
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, what, "missing \"%s\"", key);
    return cella_hex_decode(out, n, json_string_value(v), json_string_length(v), what);
}

static cella_res json_uint(json_t *o, const char *key, long long max, long long *out,
                           const char *what)
{
    json_t *v = json_object_get(o, key);
    CELLA_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0 &&
                     json_integer_value(v) <= max,
                 CELLA_E_PARSE, what, "missing or invalid \"%s\"", key);
    *out = json_integer_value(v);
    return CELLA_OK_RES;
}

static cella_res json_window(json_t *o, time_t now, const char *what)
{
    json_t *a = json_object_get(o, "issueDate"), *b = json_object_get(o, "nextUpdate");
    CELLA_ENSURE(json_is_string(a) && json_is_string(b), CELLA_E_PARSE, what,
                 "missing issueDate or nextUpdate");
    time_t ta, tb;
    CELLA_TRY(cella_ev_parse_time(json_string_value(a), &ta, what));
    CELLA_TRY(cella_ev_parse_time(json_string_value(b), &tb, what));
    CELLA_ENSURE(now >= ta, CELLA_E_AUTH, what, "issued after the verification time");
    CELLA_ENSURE(now <= tb, CELLA_E_AUTH, what, "has expired (nextUpdate passed)");
    return CELLA_OK_RES;
}

static cella_res level_status(json_t *level, cella_tcb_status *st, const char *what)
{
    json_t *s = json_object_get(level, "tcbStatus");
    CELLA_ENSURE(json_is_string(s) && cella_tcb_status_parse(json_string_value(s), st),
                 CELLA_E_PARSE, what, "unknown tcbStatus");
    return CELLA_OK_RES;
}

CELLA_RESULT cella_dcap_platform(const cella_quote *q, uint8_t fmspc[6], cella_pck_ca *ca)
{
    STACK_OF(X509) *chain = NULL;
    CELLA_TRY(cella_ev_load_certs(q->pck_chain_pem, &chain, "PCK certificate chain"));
    X509 *leaf = sk_X509_value(chain, 0);
    cella_pck_ext e;
    cella_res r = cella_pck_ext_of(leaf, &e);
    if (cella_ok(r)) {
        char issuer[256] = "";
        X509_NAME_oneline(X509_get_issuer_name(leaf), issuer, sizeof issuer);
        if (strstr(issuer, "CN=Intel SGX PCK Processor CA"))
            *ca = CELLA_PCK_CA_PROCESSOR;
        else if (strstr(issuer, "CN=Intel SGX PCK Platform CA"))
            *ca = CELLA_PCK_CA_PLATFORM;
        else
            r = cella_fail(CELLA_E_AUTH, "PCK certificate",
                           "issued by neither the PCK Processor CA nor the PCK Platform CA");
        memcpy(fmspc, e.fmspc, 6);
    }
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return r;
}

const char *cella_pck_ca_str(cella_pck_ca ca)
{
    return ca == CELLA_PCK_CA_PLATFORM ? "platform" : "processor";
}

/* ---- TCB evaluation ------------------------------------------------------ */

static cella_res comps_of(json_t *tcb, const char *key, uint8_t out[16], const char *what)
{
    json_t *a = json_object_get(tcb, key);
    CELLA_ENSURE(json_is_array(a) && json_array_size(a) == 16, CELLA_E_PARSE, what,
                 "\"%s\" must list 16 components", key);
    for (size_t i = 0; i < 16; i++) {
        long long v;
        CELLA_TRY(json_uint(json_array_get(a, i), "svn", 255, &v, what));
        out[i] = (uint8_t)v;
    }
    return CELLA_OK_RES;
}

static cella_res platform_tcb(const cella_quote *q, const cella_pck_ext *pck, json_t *info,
                              int version, cella_dcap_result *out)
{
    static const char *const W = "TCB info";
    json_t *levels = json_object_get(info, "tcbLevels");
    CELLA_ENSURE(json_is_array(levels), CELLA_E_PARSE, W, "missing tcbLevels");
    size_t i;
    json_t *lv;
    json_array_foreach(levels, i, lv)
    {
        json_t *tcb = json_object_get(lv, "tcb");
        CELLA_ENSURE(json_is_object(tcb), CELLA_E_PARSE, W, "tcb level without \"tcb\"");
        uint8_t sgx[16];
        if (version >= 3) {
            CELLA_TRY(comps_of(tcb, "sgxtcbcomponents", sgx, W));
        } else {
            for (int k = 0; k < 16; k++) {
                char key[32];
                long long v;
                snprintf(key, sizeof key, "sgxtcbcomp%02dsvn", k + 1);
                CELLA_TRY(json_uint(tcb, key, 255, &v, W));
                sgx[k] = (uint8_t)v;
            }
        }
        long long pcesvn;
        CELLA_TRY(json_uint(tcb, "pcesvn", 65535, &pcesvn, W));
        bool ok = pck->pcesvn >= pcesvn;
        for (int k = 0; k < 16; k++)
            ok = ok && pck->tcb_comps[k] >= sgx[k];
        if (ok && q->is_tdx) {
            uint8_t tdx[16];
            CELLA_TRY(comps_of(tcb, "tdxtcbcomponents", tdx, W));
            /* From TDX 1.5 (TEE_TCB_SVN[1] > 0) the first two bytes are the
             * module's SVN and version, judged by the module identity. */
            for (int k = q->td.tee_tcb_svn[1] > 0 ? 2 : 0; k < 16; k++)
                ok = ok && q->td.tee_tcb_svn[k] >= tdx[k];
        }
        if (ok) {
            CELLA_TRY(level_status(lv, &out->platform_status, W));
            return adv_from_json(lv, &out->platform_advisories, W);
        }
    }
    return cella_fail(CELLA_E_POLICY, W, "no matching TCB level (platform TCB not supported)");
}

static cella_res tdx_module(const cella_quote *q, json_t *info, cella_dcap_result *out)
{
    static const char *const W = "TCB info TDX module";
    out->module_status = CELLA_TCB_UNKNOWN;
    const cella_td_report *td = &q->td;
    uint8_t sig[48], attr[8], mask[8];
    if (td->tee_tcb_svn[1] == 0) {
        json_t *m = json_object_get(info, "tdxModule");
        CELLA_ENSURE(json_is_object(m), CELLA_E_PARSE, W, "missing tdxModule");
        CELLA_TRY(json_hex(m, "mrsigner", sig, 48, W));
        CELLA_TRY(json_hex(m, "attributes", attr, 8, W));
        CELLA_TRY(json_hex(m, "attributesMask", mask, 8, W));
    } else {
        char id[16];
        snprintf(id, sizeof id, "TDX_%02X", td->tee_tcb_svn[1]);
        json_t *ids = json_object_get(info, "tdxModuleIdentities"), *m = NULL, *it;
        size_t i;
        CELLA_ENSURE(json_is_array(ids), CELLA_E_PARSE, W, "missing tdxModuleIdentities");
        json_array_foreach(ids, i, it)
        {
            json_t *v = json_object_get(it, "id");
            if (json_is_string(v) && !strcasecmp(json_string_value(v), id))
                m = it;
        }
        CELLA_ENSURE(m, CELLA_E_POLICY, W, "no TDX module identity %s", id);
        CELLA_TRY(json_hex(m, "mrsigner", sig, 48, W));
        CELLA_TRY(json_hex(m, "attributes", attr, 8, W));
        CELLA_TRY(json_hex(m, "attributesMask", mask, 8, W));
        json_t *levels = json_object_get(m, "tcbLevels"), *lv;
        CELLA_ENSURE(json_is_array(levels), CELLA_E_PARSE, W, "missing tcbLevels");
        bool found = false;
        json_array_foreach(levels, i, lv)
        {
            long long svn;
            CELLA_TRY(json_uint(json_object_get(lv, "tcb"), "isvsvn", 255, &svn, W));
            if (td->tee_tcb_svn[0] >= svn) {
                CELLA_TRY(level_status(lv, &out->module_status, W));
                cella_advisories a;
                CELLA_TRY(adv_from_json(lv, &a, W));
                adv_union(&out->advisories, &a);
                found = true;
                break;
            }
        }
        CELLA_ENSURE(found, CELLA_E_POLICY, W, "TDX module SVN %u has no TCB level",
                     td->tee_tcb_svn[0]);
    }
    CELLA_ENSURE(!memcmp(sig, td->mrsignerseam, 48), CELLA_E_POLICY, W,
                 "MRSIGNERSEAM does not match the TDX module identity");
    for (int k = 0; k < 8; k++)
        CELLA_ENSURE((td->seamattributes[k] & mask[k]) == attr[k], CELLA_E_POLICY, W,
                     "SEAMATTRIBUTES do not match the TDX module identity");
    return CELLA_OK_RES;
}

static cella_res qe_identity(const cella_quote *q, json_t *id, time_t now,
                             cella_dcap_result *out)
{
    static const char *const W = "QE identity";
    json_t *v = json_object_get(id, "id");
    const char *want = q->is_tdx ? "TD_QE" : "QE";
    CELLA_ENSURE(json_is_string(v) && !strcmp(json_string_value(v), want), CELLA_E_POLICY, W,
                 "identity id is not \"%s\"", want);
    CELLA_TRY(json_window(id, now, W));
    const cella_sgx_report *r = &q->qe_report;
    uint8_t mrsigner[32], attr[16], amask[16], misc[4], mmask[4];
    CELLA_TRY(json_hex(id, "mrsigner", mrsigner, 32, W));
    CELLA_TRY(json_hex(id, "attributes", attr, 16, W));
    CELLA_TRY(json_hex(id, "attributesMask", amask, 16, W));
    CELLA_TRY(json_hex(id, "miscselect", misc, 4, W));
    CELLA_TRY(json_hex(id, "miscselectMask", mmask, 4, W));
    long long prodid;
    CELLA_TRY(json_uint(id, "isvprodid", 65535, &prodid, W));
    CELLA_ENSURE(!memcmp(mrsigner, r->mrsigner, 32), CELLA_E_POLICY, W,
                 "QE MRSIGNER does not match");
    CELLA_ENSURE(prodid == r->isvprodid, CELLA_E_POLICY, W, "QE ISVPRODID does not match");
    /* The hex strings are big-endian renderings of the little-endian fields
     * for miscselect; attributes are byte strings. */
    uint32_t m = ((uint32_t)misc[0] << 24) | ((uint32_t)misc[1] << 16) |
                 ((uint32_t)misc[2] << 8) | misc[3];
    uint32_t mm = ((uint32_t)mmask[0] << 24) | ((uint32_t)mmask[1] << 16) |
                  ((uint32_t)mmask[2] << 8) | mmask[3];
    CELLA_ENSURE((r->miscselect & mm) == m, CELLA_E_POLICY, W, "QE MISCSELECT does not match");
    for (int k = 0; k < 16; k++)
        CELLA_ENSURE((r->attributes[k] & amask[k]) == attr[k], CELLA_E_POLICY, W,
                     "QE ATTRIBUTES do not match");
    json_t *levels = json_object_get(id, "tcbLevels"), *lv;
    CELLA_ENSURE(json_is_array(levels), CELLA_E_PARSE, W, "missing tcbLevels");
    size_t i;
    json_array_foreach(levels, i, lv)
    {
        long long svn;
        CELLA_TRY(json_uint(json_object_get(lv, "tcb"), "isvsvn", 65535, &svn, W));
        if (r->isvsvn >= svn) {
            CELLA_TRY(level_status(lv, &out->qe_status, W));
            return adv_from_json(lv, &out->qe_advisories, W);
        }
    }
    return cella_fail(CELLA_E_POLICY, W, "QE ISVSVN %u has no TCB level (revoked)",
                      (unsigned)r->isvsvn);
}

/* ---- the verifier -------------------------------------------------------- */

typedef struct {
    X509 *root;
    STACK_OF(X509) *pck;      /* from the quote */
    STACK_OF(X509) *pck_iss;  /* PCK CRL issuer chain */
    STACK_OF(X509) *tcb_iss;  /* TCB info issuer chain */
    STACK_OF(X509) *qe_iss;   /* QE identity issuer chain */
    X509_CRL *root_crl, *pck_crl;
    STACK_OF(X509_CRL) *crls;
    json_t *tcb_json, *qe_json;
    EVP_PKEY *att_key;
} dcap_ctx;

static void ctx_free(dcap_ctx *c)
{
    X509_free(c->root);
    sk_X509_pop_free(c->pck, X509_free);
    sk_X509_pop_free(c->pck_iss, X509_free);
    sk_X509_pop_free(c->tcb_iss, X509_free);
    sk_X509_pop_free(c->qe_iss, X509_free);
    sk_X509_CRL_free(c->crls); /* does not own the CRLs */
    X509_CRL_free(c->root_crl);
    X509_CRL_free(c->pck_crl);
    json_decref(c->tcb_json);
    json_decref(c->qe_json);
    EVP_PKEY_free(c->att_key);
    ERR_clear_error();
}

static X509 *find_subject_cn(STACK_OF(X509) *sk, const char *cn_part)
{
    for (int i = 0; i < sk_X509_num(sk); i++) {
        char s[256];
        cella_ev_subject(sk_X509_value(sk, i), s, sizeof s);
        if (strstr(s, cn_part))
            return sk_X509_value(sk, i);
    }
    return NULL;
}

/* Verifies the signer of a JSON collateral item: its issuer chain (leaf
 * "Intel SGX TCB Signing") to the pinned root under the root CRL, and the
 * signature over the exact text. Then parses the JSON. */
static cella_res signed_json(dcap_ctx *c, const char *chain_pem, STACK_OF(X509) **chain,
                             const char *text, const char *sighex, json_t **out, time_t now, const char *what)
{
    CELLA_TRY(cella_ev_load_certs(cella_slice_of(chain_pem, strlen(chain_pem)), chain, what));
    X509 *signer = find_subject_cn(*chain, "CN=Intel SGX TCB Signing");
    CELLA_ENSURE(signer, CELLA_E_AUTH, what, "issuer chain has no Intel SGX TCB Signing cert");
    CELLA_TRY(verify_chain(signer, *chain, c->root, c->crls, now, what));
    CELLA_TRY(verify_json_sig(signer, text, sighex, what));
    json_error_t err;
    *out = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    CELLA_ENSURE(*out && json_is_object(*out), CELLA_E_PARSE, what, "not a JSON object");
    return CELLA_OK_RES;
}

static cella_res verify_all(dcap_ctx *c, const cella_quote *q, const cella_dcap_collateral *col,
                            time_t now, cella_dcap_result *out)
{
    CELLA_TRY(load_root(&c->root));

    /* The PCK chain in the quote: leaf first. */
    CELLA_TRY(cella_ev_load_certs(q->pck_chain_pem, &c->pck, "PCK certificate chain"));
    CELLA_ENSURE(sk_X509_num(c->pck) >= 2, CELLA_E_AUTH, "PCK certificate chain",
                 "needs the PCK certificate and its CA");
    X509 *leaf = sk_X509_value(c->pck, 0);
    X509 *pck_ca = sk_X509_value(c->pck, 1);
    for (int i = 0; i < sk_X509_num(c->pck) && i < 4; i++)
        cella_ev_subject(sk_X509_value(c->pck, i), out->pck_subjects[i],
                         sizeof out->pck_subjects[0]);
    out->n_subjects = (size_t)(sk_X509_num(c->pck) < 4 ? sk_X509_num(c->pck) : 4);
    out->pck_not_after = cella_ev_asn1_time(X509_get0_notAfter(leaf));
    for (int i = 1; i < sk_X509_num(c->pck); i++) {
        X509 *x = sk_X509_value(c->pck, i);
        if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0)
            CELLA_ENSURE(X509_cmp(x, c->root) == 0, CELLA_E_AUTH, "PCK certificate chain",
                         "its root is not the pinned Intel SGX Root CA");
    }
    CELLA_TRY(cella_pck_ext_of(leaf, &out->pck));
    out->have_pck = true;

    /* CRLs: the root CA CRL is signed by the pinned root; the PCK CRL by the
     * PCK CA that issued the leaf (the PCK CRL issuer chain must contain the
     * same CA). */
    CELLA_TRY(load_crl(col->root_ca_crl, &c->root_crl, "Root CA CRL"));
    CELLA_TRY(load_crl(col->pck_crl, &c->pck_crl, "PCK CRL"));
    CELLA_TRY(check_crl(c->root_crl, c->root, now, "Root CA CRL"));
    CELLA_TRY(check_crl(c->pck_crl, pck_ca, now, "PCK CRL"));
    CELLA_TRY(cella_ev_load_certs(cella_slice_of(col->pck_crl_issuer_chain,
                                                 strlen(col->pck_crl_issuer_chain)),
                                  &c->pck_iss, "PCK CRL issuer chain"));
    bool same = false;
    for (int i = 0; i < sk_X509_num(c->pck_iss); i++)
        same = same || X509_cmp(sk_X509_value(c->pck_iss, i), pck_ca) == 0;
    CELLA_ENSURE(same, CELLA_E_AUTH, "PCK CRL issuer chain",
                 "does not contain the CA that issued the PCK certificate");
    c->crls = sk_X509_CRL_new_null();
    CELLA_ENSURE(c->crls && sk_X509_CRL_push(c->crls, c->root_crl) > 0 &&
                     sk_X509_CRL_push(c->crls, c->pck_crl) > 0,
                 CELLA_E_NOMEM, "collateral", "out of memory");

    /* JSON collateral validity windows, before any heavier work. */
    {
        json_error_t err;
        json_t *t = json_loads(col->tcb_info, 0, &err);
        cella_res r = t ? json_window(t, now, "TCB info")
                        : cella_fail(CELLA_E_PARSE, "TCB info", "not JSON");
        json_decref(t);
        CELLA_TRY(r);
        t = json_loads(col->qe_identity, 0, &err);
        r = t ? json_window(t, now, "QE identity")
              : cella_fail(CELLA_E_PARSE, "QE identity", "not JSON");
        json_decref(t);
        CELLA_TRY(r);
    }

    CELLA_TRY(verify_chain(leaf, c->pck, c->root, c->crls, now, "PCK certificate chain"));

    /* Quote, QE report, and their binding. */
    CELLA_TRY(cella_ev_p256_key(q->att_key, &c->att_key));
    CELLA_TRY(cella_ev_ecdsa_verify(c->att_key, EVP_sha256(), q->signature, q->signature + 32,
                                    32, false, q->signed_part.p, q->signed_part.len,
                                    "quote signature"));
    EVP_PKEY *pck_key = X509_get0_pubkey(leaf);
    CELLA_ENSURE(pck_key && EVP_PKEY_get_base_id(pck_key) == EVP_PKEY_EC, CELLA_E_AUTH,
                 "PCK certificate", "key is not ECDSA");
    CELLA_TRY(cella_ev_ecdsa_verify(pck_key, EVP_sha256(), q->qe_report_sig,
                                    q->qe_report_sig + 32, 32, false, q->qe_report_raw.p,
                                    q->qe_report_raw.len, "QE report signature"));
    {
        uint8_t h[32], zero[32] = {0};
        unsigned int hl = 0;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
                 EVP_DigestUpdate(md, q->att_key, 64) == 1 &&
                 EVP_DigestUpdate(md, q->qe_auth_data.p, q->qe_auth_data.len) == 1 &&
                 EVP_DigestFinal_ex(md, h, &hl) == 1 && hl == 32;
        EVP_MD_CTX_free(md);
        CELLA_ENSURE(ok, CELLA_E_CRYPTO, "QE report", "SHA-256 failed");
        CELLA_ENSURE(!memcmp(h, q->qe_report.reportdata, 32) &&
                         !memcmp(zero, q->qe_report.reportdata + 32, 32),
                     CELLA_E_AUTH, "QE report",
                     "REPORTDATA does not bind the attestation key");
    }

    /* TCB info and QE identity. */
    CELLA_TRY(signed_json(c, col->tcb_info_issuer_chain, &c->tcb_iss, col->tcb_info,
                          col->tcb_info_signature, &c->tcb_json, now, "TCB info"));
    CELLA_TRY(signed_json(c, col->qe_identity_issuer_chain, &c->qe_iss, col->qe_identity,
                          col->qe_identity_signature, &c->qe_json, now,
                          "QE identity"));

    json_t *info = c->tcb_json;
    json_t *idv = json_object_get(info, "id");
    long long version;
    CELLA_TRY(json_uint(info, "version", 100, &version, "TCB info"));
    CELLA_ENSURE(version == 2 || version == 3, CELLA_E_UNSUPPORTED, "TCB info",
                 "version %lld is not supported (2 or 3)", version);
    const char *want_id = q->is_tdx ? "TDX" : "SGX";
    if (version == 3 || q->is_tdx)
        CELLA_ENSURE(json_is_string(idv) && !strcmp(json_string_value(idv), want_id),
                     CELLA_E_POLICY, "TCB info", "id is not \"%s\"", want_id);
    CELLA_TRY(json_window(info, now, "TCB info"));
    uint8_t fmspc[6], pceid[2];
    CELLA_TRY(json_hex(info, "fmspc", fmspc, 6, "TCB info"));
    CELLA_TRY(json_hex(info, "pceId", pceid, 2, "TCB info"));
    CELLA_ENSURE(!memcmp(fmspc, out->pck.fmspc, 6), CELLA_E_POLICY, "TCB info",
                 "FMSPC does not match the PCK certificate");
    CELLA_ENSURE(!memcmp(pceid, out->pck.pceid, 2), CELLA_E_POLICY, "TCB info",
                 "PCEID does not match the PCK certificate");

    CELLA_TRY(qe_identity(q, c->qe_json, now, out));
    CELLA_TRY(platform_tcb(q, &out->pck, info, (int)version, out));
    out->status = converge(out->platform_status, out->qe_status);
    adv_union(&out->advisories, &out->platform_advisories);
    adv_union(&out->advisories, &out->qe_advisories);
    if (q->is_tdx) {
        CELLA_TRY(tdx_module(q, info, out));
        if (out->module_status != CELLA_TCB_UNKNOWN)
            out->status = converge(out->status, out->module_status);
    }
    return CELLA_OK_RES;
}

CELLA_RESULT cella_dcap_verify(const cella_quote *q, const cella_dcap_collateral *col, time_t now,
                               cella_dcap_result *out)
{
    memset(out, 0, sizeof *out);
    out->platform_status = out->qe_status = out->module_status = out->status = CELLA_TCB_UNKNOWN;
    dcap_ctx c;
    memset(&c, 0, sizeof c);
    cella_res r = verify_all(&c, q, col, now, out);
    ctx_free(&c);
    if (!cella_ok(r))
        out->status = CELLA_TCB_UNKNOWN;
    return r;
}
