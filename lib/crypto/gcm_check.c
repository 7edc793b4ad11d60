#include "crypto/gcm_check.h"

#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/secure.h"

struct cella_gcm_check {
    EVP_CIPHER_CTX *gmac; /* AES-256-GCM, encrypting, fed AAD only */
    uint8_t h[16];        /* E_K(0^128): a secret (it allows forgeries) */
    bool keyed;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *g_gcm, *g_ecb;

static void fetch(void)
{
    g_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    g_ecb = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
}

cella_gcm_check *cella_gcm_check_new(void)
{
    pthread_once(&g_once, fetch);
    cella_gcm_check *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->gmac = EVP_CIPHER_CTX_new();
    if (!c->gmac || !g_gcm || !g_ecb) {
        cella_gcm_check_free(c);
        return NULL;
    }
    return c;
}

void cella_gcm_check_free(cella_gcm_check *c)
{
    if (!c)
        return;
    EVP_CIPHER_CTX_free(c->gmac);
    cella_wipe(c->h, sizeof c->h);
    free(c);
}

cella_res cella_gcm_check_set_key(cella_gcm_check *c, const uint8_t key[static CELLA_GCM_KEY_BYTES])
{
    static const uint8_t zero[16];
    c->keyed = false;
    EVP_CIPHER_CTX *ecb = EVP_CIPHER_CTX_new();
    int len = 0;
    int ok = ecb && EVP_EncryptInit_ex2(ecb, g_ecb, key, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_set_padding(ecb, 0) == 1 &&
             EVP_EncryptUpdate(ecb, c->h, &len, zero, sizeof zero) == 1 && len == 16 &&
             EVP_EncryptInit_ex2(c->gmac, g_gcm, key, NULL, NULL) == 1;
    EVP_CIPHER_CTX_free(ecb); /* OpenSSL cleanses the key schedule */
    if (!ok) {
        cella_wipe(c->h, sizeof c->h);
        return cella_fail(CELLA_E_CRYPTO, NULL, "AES-256-GCM key setup failed");
    }
    c->keyed = true;
    return CELLA_OK_RES;
}

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* z = x·y in GCM's GF(2^128) (NIST SP 800-38D, algorithm 1), in constant
 * time: no branch or index depends on x or y. */
static void gf128_mul(uint8_t z[16], const uint8_t x[16], const uint8_t y[16])
{
    uint64_t zh = 0, zl = 0, vh = load_be64(y), vl = load_be64(y + 8);
    for (int i = 0; i < 128; i++) {
        uint64_t take = 0 - (uint64_t)((x[i / 8] >> (7 - i % 8)) & 1);
        zh ^= vh & take;
        zl ^= vl & take;
        uint64_t reduce = 0 - (vl & 1);
        vl = (vl >> 1) | (vh << 63);
        vh = (vh >> 1) ^ (0xE100000000000000ull & reduce);
    }
    store_be64(z, zh);
    store_be64(z + 8, zl);
}

cella_res cella_gcm_check_tag(cella_gcm_check *c, const uint8_t iv[static CELLA_GCM_IV_BYTES],
                              const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n,
                              const uint8_t tag[static CELLA_GCM_TAG_BYTES])
{
    if (!c->keyed)
        CELLA_MISUSE("cella_gcm_check_tag without a key");
    static const uint8_t zeros[16];
    size_t pad = (16 - aad_len % 16) % 16;
    CELLA_ENSURE(n <= INT_MAX - 32 && aad_len <= INT_MAX - 32, CELLA_E_TOOBIG, NULL,
                 "chunk too large");
    int len = 0;
    uint8_t gmac[16], fix[16], diff[16], none[16];
    int ok = EVP_EncryptInit_ex2(c->gmac, NULL, NULL, iv, NULL) == 1;
    if (ok && aad_len)
        ok = EVP_EncryptUpdate(c->gmac, NULL, &len, aad, (int)aad_len) == 1;
    if (ok && pad)
        ok = EVP_EncryptUpdate(c->gmac, NULL, &len, zeros, (int)pad) == 1;
    if (ok && n)
        ok = EVP_EncryptUpdate(c->gmac, NULL, &len, in, (int)n) == 1;
    if (ok)
        ok = EVP_EncryptFinal_ex(c->gmac, none, &len) == 1 &&
             EVP_CIPHER_CTX_ctrl(c->gmac, EVP_CTRL_GCM_GET_TAG, 16, gmac) == 1;
    CELLA_ENSURE(ok, CELLA_E_CRYPTO, NULL, "AES-256-GCM tag computation failed");
    /* L xor L': lengths in bits, big-endian, A's then C's. */
    store_be64(diff, (uint64_t)aad_len * 8 ^ (uint64_t)(aad_len + pad + n) * 8);
    store_be64(diff + 8, (uint64_t)n * 8);
    gf128_mul(fix, diff, c->h);
    for (int i = 0; i < 16; i++)
        gmac[i] ^= fix[i];
    bool good = cella_ct_eq(gmac, tag, 16);
    cella_wipe(fix, sizeof fix);
    cella_wipe(gmac, sizeof gmac);
    if (!good)
        return cella_fail(CELLA_E_AUTH, NULL, "authentication tag mismatch");
    return CELLA_OK_RES;
}
