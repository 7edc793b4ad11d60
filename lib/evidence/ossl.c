/* OpenSSL helpers for the evidence verifiers. */
#include "evidence/ossl.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

CELLA_RESULT cella_ev_ecdsa_verify(EVP_PKEY *key, const EVP_MD *md, const uint8_t *r,
                                   const uint8_t *s, size_t n, bool little_endian,
                                   const void *msg, size_t len, const char *what)
{
    cella_res res = CELLA_OK_RES;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = little_endian ? BN_lebin2bn(r, (int)n, NULL) : BN_bin2bn(r, (int)n, NULL);
    BIGNUM *bs = little_endian ? BN_lebin2bn(s, (int)n, NULL) : BN_bin2bn(s, (int)n, NULL);
    unsigned char *der = NULL;
    EVP_MD_CTX *ctx = NULL;
    if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
        BN_free(br);
        BN_free(bs);
        res = cella_fail(CELLA_E_CRYPTO, what, "cannot build ECDSA signature");
        goto out;
    }
    int dlen = i2d_ECDSA_SIG(sig, &der);
    ctx = EVP_MD_CTX_new();
    if (dlen <= 0 || !ctx || EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1) {
        res = cella_fail(CELLA_E_CRYPTO, what, "cannot set up ECDSA verification");
        goto out;
    }
    if (EVP_DigestVerify(ctx, der, (size_t)dlen, msg, len) != 1)
        res = cella_fail(CELLA_E_AUTH, what, "signature does not verify");
out:
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return res;
}

CELLA_RESULT cella_ev_p256_key(const uint8_t xy[static 64], EVP_PKEY **out)
{
    uint8_t pt[65];
    pt[0] = 0x04;
    memcpy(pt + 1, xy, 64);
    *out = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int ok = ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    if (!ok) {
        EVP_PKEY_free(*out);
        *out = NULL;
        return cella_fail(CELLA_E_AUTH, "attestation key", "not a valid P-256 point");
    }
    return CELLA_OK_RES;
}

CELLA_RESULT cella_ev_load_certs(cella_slice in, STACK_OF(X509) **out, const char *what)
{
    *out = NULL;
    CELLA_ENSURE(in.len > 0 && in.len < (1u << 24), CELLA_E_PARSE, what,
                 "empty or oversized certificate data");
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (!sk)
        return cella_fail(CELLA_E_NOMEM, what, "out of memory");
    /* DER if it starts with a SEQUENCE tag, else PEM. */
    if (in.p[0] == 0x30) {
        const unsigned char *p = in.p;
        X509 *c = d2i_X509(NULL, &p, (long)in.len);
        if (c && (size_t)(p - in.p) == in.len && sk_X509_push(sk, c) > 0) {
            *out = sk;
            return CELLA_OK_RES;
        }
        X509_free(c);
        sk_X509_free(sk);
        ERR_clear_error();
        return cella_fail(CELLA_E_PARSE, what, "malformed DER certificate");
    }
    BIO *b = BIO_new_mem_buf(in.p, (int)in.len);
    X509 *c;
    while (b && (c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        if (sk_X509_push(sk, c) <= 0) {
            X509_free(c);
            break;
        }
    BIO_free(b);
    ERR_clear_error();
    /* Every PEM block must parse: a damaged certificate is an error, never
     * silently dropped. */
    int blocks = 0;
    static const char begin[] = "-----BEGIN ";
    for (const uint8_t *p = in.p, *end = in.p + in.len;
         (p = memmem(p, (size_t)(end - p), begin, sizeof begin - 1)) != NULL; p++)
        blocks++;
    if (sk_X509_num(sk) != blocks) {
        sk_X509_pop_free(sk, X509_free);
        return cella_fail(CELLA_E_PARSE, what, "malformed PEM certificate");
    }
    if (sk_X509_num(sk) == 0) {
        sk_X509_pop_free(sk, X509_free);
        return cella_fail(CELLA_E_PARSE, what, "no certificate found");
    }
    *out = sk;
    return CELLA_OK_RES;
}

CELLA_RESULT cella_ev_cert_sha256(X509 *c, uint8_t out[static 32])
{
    unsigned int n = 0;
    if (X509_digest(c, EVP_sha256(), out, &n) != 1 || n != 32) {
        ERR_clear_error();
        return cella_fail(CELLA_E_CRYPTO, "certificate", "cannot hash certificate");
    }
    return CELLA_OK_RES;
}

time_t cella_ev_asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return (time_t)-1;
    return timegm(&tm);
}

CELLA_RESULT cella_ev_check_validity(X509 *c, time_t now, const char *what)
{
    time_t nb = cella_ev_asn1_time(X509_get0_notBefore(c));
    time_t na = cella_ev_asn1_time(X509_get0_notAfter(c));
    CELLA_ENSURE(nb != (time_t)-1 && na != (time_t)-1, CELLA_E_PARSE, what,
                 "certificate has an unreadable validity period");
    CELLA_ENSURE(now >= nb, CELLA_E_AUTH, what, "certificate is not yet valid");
    CELLA_ENSURE(now <= na, CELLA_E_AUTH, what, "certificate has expired");
    return CELLA_OK_RES;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

CELLA_RESULT cella_ev_parse_time(const char *s, time_t *out, const char *what)
{
    size_t n = s ? strlen(s) : 0;
    CELLA_ENSURE(n >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') &&
                     s[13] == ':' && s[16] == ':',
                 CELLA_E_PARSE, what, "not an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ)");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    CELLA_ENSURE(y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 &&
                     mi >= 0 && mi <= 59 && se >= 0 && se <= 60,
                 CELLA_E_PARSE, what, "not a valid date and time");
    const char *rest = s + 19;
    if (*rest == '.') {
        rest++;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    CELLA_ENSURE(!strcmp(rest, "Z") || !strcmp(rest, "+00:00") || !*rest, CELLA_E_PARSE, what,
                 "time must be UTC (Z)");
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *out = timegm(&tm);
    return CELLA_OK_RES;
}

void cella_ev_subject(X509 *c, char *buf, size_t cap)
{
    buf[0] = 0;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, X509_get_subject_name(c), 0,
                           XN_FLAG_SEP_COMMA_PLUS | XN_FLAG_DN_REV | XN_FLAG_FN_SN | ASN1_STRFLGS_RFC2253) >= 0) {
        int n = BIO_read(b, buf, (int)cap - 1);
        buf[n > 0 ? n : 0] = 0;
    }
    BIO_free(b);
    ERR_clear_error();
}

CELLA_RESULT cella_ev_check_issued(X509 *c, X509 *issuer, const char *what)
{
    EVP_PKEY *k = X509_get0_pubkey(issuer);
    int names = X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(issuer)) == 0;
    int ok = k && names && X509_verify(c, k) == 1;
    ERR_clear_error();
    CELLA_ENSURE(ok, CELLA_E_AUTH, what,
                 names ? "certificate signature does not verify"
                       : "certificate is not issued by the expected CA");
    return CELLA_OK_RES;
}
