/* The RA-TLS key is made through the EC_KEY interface, deprecated in OpenSSL
 * 3.0 but still supported there: see ratls_keygen. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "tee/ratls.h"

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/spki.h"

const char *cella_tee_kind_name(cella_tee_kind k)
{
    switch (k) {
    case CELLA_TEE_SIM:
        return "sim";
    case CELLA_TEE_SGX:
        return "sgx";
    case CELLA_TEE_TDX:
        return "tdx";
    case CELLA_TEE_SNP:
        return "snp";
    default:
        return "unknown";
    }
}

cella_res cella_tee_kind_parse(const char *name, cella_tee_kind *out)
{
    static const cella_tee_kind all[] = {CELLA_TEE_SIM, CELLA_TEE_SGX, CELLA_TEE_TDX, CELLA_TEE_SNP};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(name, cella_tee_kind_name(all[i]))) {
            *out = all[i];
            return CELLA_OK_RES;
        }
    return cella_fail(CELLA_E_USAGE, "--tee", "unknown TEE '%s' (sim, sgx, tdx or snp)", name);
}

cella_res cella_ratls_handshake_binding(const uint8_t client_random[32],
                                        const uint8_t server_random[32], uint8_t out[32])
{
    uint8_t in[sizeof CELLA_RATLS_HANDSHAKE_LABEL - 1 + 64];
    memcpy(in, CELLA_RATLS_HANDSHAKE_LABEL, sizeof CELLA_RATLS_HANDSHAKE_LABEL - 1);
    memcpy(in + sizeof CELLA_RATLS_HANDSHAKE_LABEL - 1, client_random, 32);
    memcpy(in + sizeof CELLA_RATLS_HANDSHAKE_LABEL - 1 + 32, server_random, 32);
    return cella_sha256(out, in, sizeof in);
}

cella_res cella_ratls_report_data(EVP_PKEY *key, const uint8_t nonce[32], uint8_t rd[64])
{
    memcpy(rd + 32, nonce, 32);
    return cella_spki_sha256(key, rd);
}

/* A fresh P-256 key held as a "legacy" EC_KEY. X509_set_pubkey encodes a
 * provider key by an ENCODER round trip (DER out, then parsed back), which in
 * OpenSSL 3.0 cost the attesting client more than generating and signing
 * together; a legacy key is encoded directly. OpenSSL still signs with it
 * through the default provider (the key is exported once and cached). */
static EC_GROUP *g_p256;
static pthread_once_t g_p256_once = PTHREAD_ONCE_INIT;
static void p256_init(void) { g_p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1); }

static EVP_PKEY *ratls_keygen(void)
{
    /* Setting up a curve from its name costs about as much as the key itself
     * (Montgomery constants); one group is made once and copied per key. */
    pthread_once(&g_p256_once, p256_init);
    EC_KEY *ec = g_p256 ? EC_KEY_new() : NULL;
    EVP_PKEY *key = EVP_PKEY_new();
    if (!ec || !key || EC_KEY_set_group(ec, g_p256) != 1 || EC_KEY_generate_key(ec) != 1 ||
        EVP_PKEY_assign_EC_KEY(key, ec) != 1) {
        EC_KEY_free(ec);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static cella_res add_evidence_ext(X509 *cert, cella_tee_kind kind, const cella_buf *ev)
{
    cella_buf env;
    cella_buf_init(&env, false);
    cella_buf_append(&env, CELLA_RATLS_MAGIC, 8);
    cella_buf_u8(&env, (uint8_t)kind);
    cella_buf_append(&env, "\0\0\0", 3);
    cella_buf_u32le(&env, (uint32_t)ev->len);
    cella_buf_append(&env, ev->p, ev->len);
    cella_res r = cella_buf_result(&env);
    ASN1_OBJECT *obj = OBJ_txt2obj(CELLA_RATLS_OID, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    if (cella_ok(r) && (!obj || !os || !ASN1_OCTET_STRING_set(os, env.p, (int)env.len) ||
                        !(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) ||
                        !X509_add_ext(cert, ext, -1)))
        r = cella_fail(CELLA_E_CRYPTO, NULL, "cannot add the evidence extension");
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    cella_buf_free(&env);
    return r;
}

cella_res cella_ratls_make(cella_tee_kind kind, const uint8_t nonce[32], cella_quote_fn quote,
                           void *quote_ctx, EVP_PKEY **key_out, X509 **cert_out)
{
    *key_out = NULL;
    *cert_out = NULL;
    EVP_PKEY *key = ratls_keygen();
    CELLA_ENSURE(key, CELLA_E_CRYPTO, NULL, "cannot generate the RA-TLS key");
    uint8_t rd[64];
    cella_buf ev;
    cella_buf_init(&ev, false);
    X509 *cert = X509_new();
    cella_res r = cella_ratls_report_data(key, nonce, rd);
    if (cella_ok(r))
        r = quote(rd, &ev, quote_ctx);
    if (cella_ok(r) && ev.len > CELLA_RATLS_MAX_EVIDENCE)
        r = cella_fail(CELLA_E_TOOBIG, NULL, "evidence too large for a certificate");
    X509_NAME *name = X509_NAME_new();
    if (cella_ok(r) &&
        (!cert || !name || !X509_set_version(cert, 2) ||
         !ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) ||
         !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"cella RA-TLS",
                                     -1, -1, 0) ||
         !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
         !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
         !X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600) || !X509_set_pubkey(cert, key)))
        r = cella_fail(CELLA_E_CRYPTO, NULL, "cannot build the RA-TLS certificate");
    if (cella_ok(r))
        r = add_evidence_ext(cert, kind, &ev);
    if (cella_ok(r) && !X509_sign(cert, key, EVP_sha256()))
        r = cella_fail(CELLA_E_CRYPTO, NULL, "cannot sign the RA-TLS certificate");
    X509_NAME_free(name);
    cella_buf_free(&ev);
    if (!cella_ok(r)) {
        X509_free(cert);
        EVP_PKEY_free(key);
        return r;
    }
    *key_out = key;
    *cert_out = cert;
    return CELLA_OK_RES;
}

cella_res cella_ratls_parse_envelope(cella_slice in, cella_tee_kind *kind, cella_slice *evidence)
{
    cella_reader rd = cella_reader_of(in, "RA-TLS evidence extension");
    uint8_t magic[8], k, pad[3];
    uint32_t len;
    CELLA_TRY(cella_read_copy(&rd, magic, 8));
    CELLA_ENSURE(!memcmp(magic, CELLA_RATLS_MAGIC, 8), CELLA_E_PARSE, NULL,
                 "RA-TLS extension has a bad magic");
    CELLA_TRY(cella_read_u8(&rd, &k));
    CELLA_TRY(cella_read_copy(&rd, pad, 3));
    CELLA_TRY(cella_read_u32le(&rd, &len));
    CELLA_ENSURE(k >= CELLA_TEE_SIM && k <= CELLA_TEE_SNP && !pad[0] && !pad[1] && !pad[2],
                 CELLA_E_PARSE, NULL, "RA-TLS extension names an unknown TEE");
    CELLA_ENSURE(len <= CELLA_RATLS_MAX_EVIDENCE, CELLA_E_TOOBIG, NULL, "evidence too large");
    CELLA_TRY(cella_read_bytes(&rd, len, evidence));
    CELLA_TRY(cella_read_end(&rd));
    *kind = (cella_tee_kind)k;
    return CELLA_OK_RES;
}

cella_res cella_ratls_extract(X509 *cert, cella_tee_kind *kind, cella_buf *evidence,
                              uint8_t spki_hash[32])
{
    ASN1_OBJECT *obj = OBJ_txt2obj(CELLA_RATLS_OID, 1);
    CELLA_ENSURE(obj, CELLA_E_CRYPTO, NULL, "OID");
    int idx = X509_get_ext_by_OBJ(cert, obj, -1);
    int again = idx >= 0 ? X509_get_ext_by_OBJ(cert, obj, idx) : -1;
    ASN1_OBJECT_free(obj);
    CELLA_ENSURE(idx >= 0, CELLA_E_AUTH, NULL, "client certificate carries no TEE evidence");
    CELLA_ENSURE(again < 0, CELLA_E_PARSE, NULL, "client certificate carries evidence twice");
    ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    CELLA_ENSURE(os, CELLA_E_PARSE, NULL, "empty evidence extension");
    cella_slice ev;
    CELLA_TRY(cella_ratls_parse_envelope(
        cella_slice_of(ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os)), kind, &ev));
    cella_buf_append(evidence, ev.p, ev.len);
    CELLA_TRY(cella_buf_result(evidence));
    return cella_x509_spki_sha256(cert, spki_hash);
}
