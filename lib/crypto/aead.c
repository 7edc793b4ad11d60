#include "crypto/aead.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <string.h>
#include <unistd.h>

#include "core/secure.h"

#include <pthread.h>

struct cella_gcm {
    EVP_CIPHER_CTX *ctx;
    bool keyed;
    bool encrypt;
};

/* OpenSSL 3 looks algorithms up by name on every implicit use, which costs
 * more than hashing a short message: fetch them once per process. */
static pthread_once_t g_fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *g_aes256gcm;
static EVP_MD *g_sha256;

static void fetch_algorithms(void)
{
    g_aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_CIPHER *aes256gcm(void)
{
    pthread_once(&g_fetch_once, fetch_algorithms);
    return g_aes256gcm;
}

const EVP_MD *cella_md_sha256(void)
{
    pthread_once(&g_fetch_once, fetch_algorithms);
    return g_sha256;
}

cella_gcm *cella_gcm_new(void)
{
    cella_gcm *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->ctx = EVP_CIPHER_CTX_new();
    if (!g->ctx || !aes256gcm()) {
        cella_gcm_free(g);
        return NULL;
    }
    return g;
}

void cella_gcm_free(cella_gcm *g)
{
    if (!g)
        return;
    EVP_CIPHER_CTX_free(g->ctx); /* OpenSSL cleanses the key schedule */
    free(g);
}

cella_res cella_gcm_set_key(cella_gcm *g, const uint8_t key[static CELLA_GCM_KEY_BYTES],
                            bool encrypt)
{
    int ok = encrypt ? EVP_EncryptInit_ex2(g->ctx, aes256gcm(), key, NULL, NULL)
                     : EVP_DecryptInit_ex2(g->ctx, aes256gcm(), key, NULL, NULL);
    CELLA_ENSURE(ok == 1, CELLA_E_CRYPTO, NULL, "AES-256-GCM key setup failed");
    g->keyed = true;
    g->encrypt = encrypt;
    return CELLA_OK_RES;
}

cella_res cella_gcm_seal(cella_gcm *g, const uint8_t iv[static CELLA_GCM_IV_BYTES],
                         const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n,
                         uint8_t *out, uint8_t tag[static CELLA_GCM_TAG_BYTES])
{
    if (!g->keyed || !g->encrypt)
        CELLA_MISUSE("cella_gcm_seal without an encryption key");
    CELLA_ENSURE(n <= INT_MAX && aad_len <= INT_MAX, CELLA_E_TOOBIG, NULL, "chunk too large");
    int len = 0;
    int ok = EVP_EncryptInit_ex2(g->ctx, NULL, NULL, iv, NULL);
    if (ok && aad_len)
        ok = EVP_EncryptUpdate(g->ctx, NULL, &len, aad, (int)aad_len);
    if (ok && n)
        ok = EVP_EncryptUpdate(g->ctx, out, &len, in, (int)n);
    if (ok)
        ok = EVP_EncryptFinal_ex(g->ctx, out + n, &len);
    if (ok)
        ok = EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_GET_TAG, CELLA_GCM_TAG_BYTES, tag);
    CELLA_ENSURE(ok == 1, CELLA_E_CRYPTO, NULL, "AES-256-GCM encryption failed");
    return CELLA_OK_RES;
}

cella_res cella_gcm_open(cella_gcm *g, const uint8_t iv[static CELLA_GCM_IV_BYTES],
                         const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n,
                         uint8_t *out, const uint8_t tag[static CELLA_GCM_TAG_BYTES])
{
    if (!g->keyed || g->encrypt)
        CELLA_MISUSE("cella_gcm_open without a decryption key");
    CELLA_ENSURE(n <= INT_MAX && aad_len <= INT_MAX, CELLA_E_TOOBIG, NULL, "chunk too large");
    int len = 0;
    uint8_t t[CELLA_GCM_TAG_BYTES];
    memcpy(t, tag, sizeof t);
    int ok = EVP_DecryptInit_ex2(g->ctx, NULL, NULL, iv, NULL);
    if (ok)
        ok = EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_TAG, CELLA_GCM_TAG_BYTES, t);
    if (ok && aad_len)
        ok = EVP_DecryptUpdate(g->ctx, NULL, &len, aad, (int)aad_len);
    if (ok && n)
        ok = EVP_DecryptUpdate(g->ctx, out, &len, in, (int)n);
    if (ok) {
        /* Final is where the tag is checked: until it succeeds `out` holds
         * unauthenticated plaintext, which must not escape. */
        if (EVP_DecryptFinal_ex(g->ctx, out + n, &len) != 1) {
            cella_wipe(out, n);
            return cella_fail(CELLA_E_AUTH, NULL, "authentication tag mismatch");
        }
        return CELLA_OK_RES;
    }
    cella_wipe(out, n);
    return cella_fail(CELLA_E_CRYPTO, NULL, "AES-256-GCM decryption failed");
}

cella_res cella_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                            const uint8_t *salt, size_t salt_len, const char *info)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    CELLA_ENSURE(kctx, CELLA_E_CRYPTO, NULL, "HKDF unavailable");
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    if (salt_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    *p = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kctx, out, out_len, params);
    EVP_KDF_CTX_free(kctx);
    CELLA_ENSURE(ok == 1, CELLA_E_CRYPTO, NULL, "HKDF derivation failed");
    return CELLA_OK_RES;
}

cella_res cella_sha256(uint8_t out[static 32], const void *data, size_t n)
{
    unsigned int len = 0;
    CELLA_ENSURE(EVP_Digest(data, n, out, &len, cella_md_sha256(), NULL) == 1 && len == 32,
                 CELLA_E_CRYPTO, NULL, "SHA-256 failed");
    return CELLA_OK_RES;
}

#define SHA_FD_CHUNK (256u * 1024u)

cella_res cella_sha256_fd(int fd, uint8_t sha[static 32], uint64_t *size, const char *what)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(SHA_FD_CHUNK);
    cella_res r = CELLA_OK_RES;
    if (!md || !buf || !EVP_DigestInit_ex(md, cella_md_sha256(), NULL))
        r = cella_fail(CELLA_E_CRYPTO, what, "SHA-256 unavailable");
    uint64_t total = 0;
    while (cella_ok(r)) {
        ssize_t k = pread(fd, buf, SHA_FD_CHUNK, (off_t)total);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = cella_fail(CELLA_E_IO, what, "read: %s", strerror(errno));
            break;
        }
        if (k == 0)
            break;
        total += (uint64_t)k;
        if (!EVP_DigestUpdate(md, buf, (size_t)k))
            r = cella_fail(CELLA_E_CRYPTO, what, "SHA-256 failed");
    }
    unsigned int dl = 0;
    if (cella_ok(r) && !EVP_DigestFinal_ex(md, sha, &dl))
        r = cella_fail(CELLA_E_CRYPTO, what, "SHA-256 failed");
    if (size)
        *size = total;
    EVP_MD_CTX_free(md);
    free(buf);
    return r;
}
