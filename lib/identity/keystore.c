/* V3 keystores (scrypt / pbkdf2, AES-128-CTR, Keccak MAC) and the iExec SDK's
 * unencrypted wallet JSON. */
#include "identity/keystore.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "identity/jsonin.h"
#include "identity/keccak.h"

#define KS_MAX_SALT 256
#define KS_DEFAULT_N 131072u
#define KS_DEFAULT_R 8u
#define KS_DEFAULT_P 1u
#define KS_DEFAULT_C 262144u

typedef struct {
    cella_kdf kdf;
    uint64_t n, r, p, c;
    uint8_t salt[KS_MAX_SALT];
    size_t salt_len;
} kdf_spec;

static cella_res check_scrypt(const kdf_spec *k)
{
    CELLA_ENSURE(k->n >= 2 && (k->n & (k->n - 1)) == 0, CELLA_E_PARSE, "kdfparams.n",
                 "scrypt n must be a power of two");
    CELLA_ENSURE(k->n <= (1u << 20), CELLA_E_POLICY, "kdfparams.n", "scrypt n above 2^20 refused");
    CELLA_ENSURE(k->r >= 1 && k->r <= 32, CELLA_E_POLICY, "kdfparams.r", "scrypt r must be 1..32");
    CELLA_ENSURE(k->p >= 1 && k->p <= 16, CELLA_E_POLICY, "kdfparams.p", "scrypt p must be 1..16");
    /* RFC 7914 requires n < 2^(16 r); OpenSSL enforces it (geth does not). */
    CELLA_ENSURE(16 * k->r >= 64 || k->n < (1ull << (16 * k->r)), CELLA_E_UNSUPPORTED,
                 "kdfparams.n", "scrypt n must be below 2^(16 r) (RFC 7914)");
    CELLA_ENSURE(128 * k->r * k->n <= CELLA_KEYSTORE_MAX_SCRYPT_MEM, CELLA_E_POLICY, "kdfparams",
                 "scrypt parameters need more than 1 GiB of memory");
    return CELLA_OK_RES;
}

/* derived = KDF(password, salt), 32 bytes. */
static cella_res derive(const kdf_spec *k, const char *pw, size_t pwlen, uint8_t derived[32])
{
    if (k->kdf == CELLA_KDF_SCRYPT) {
        CELLA_TRY(check_scrypt(k));
        uint64_t maxmem = 128 * k->r * (k->n + 2) + 128 * k->r * k->p + 65536;
        CELLA_ENSURE(EVP_PBE_scrypt(pw, pwlen, k->salt, k->salt_len, k->n, k->r, k->p, maxmem,
                                    derived, 32) == 1,
                     CELLA_E_CRYPTO, "scrypt", "key derivation failed");
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(k->c >= 1 && k->c <= CELLA_KEYSTORE_MAX_PBKDF2_C, CELLA_E_POLICY, "kdfparams.c",
                 "pbkdf2 iteration count must be 1..%u", CELLA_KEYSTORE_MAX_PBKDF2_C);
    CELLA_ENSURE(pwlen <= INT32_MAX && k->salt_len <= INT32_MAX, CELLA_E_TOOBIG, "password",
                 "too long");
    CELLA_ENSURE(PKCS5_PBKDF2_HMAC(pw, (int)pwlen, k->salt, (int)k->salt_len, (int)k->c,
                                   EVP_sha256(), 32, derived) == 1,
                 CELLA_E_CRYPTO, "pbkdf2", "key derivation failed");
    return CELLA_OK_RES;
}

static cella_res aes128ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                           uint8_t *out, size_t n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    CELLA_ENSURE(c != NULL, CELLA_E_NOMEM, "aes-128-ctr", "cannot allocate a cipher context");
    int len = 0, fin = 0;
    int ok = EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) == 1 &&
             EVP_EncryptUpdate(c, out, &len, in, (int)n) == 1 &&
             EVP_EncryptFinal_ex(c, out + len, &fin) == 1 && (size_t)(len + fin) == n;
    EVP_CIPHER_CTX_free(c);
    CELLA_ENSURE(ok, CELLA_E_CRYPTO, "aes-128-ctr", "cipher failed");
    return CELLA_OK_RES;
}

static void keystore_mac(uint8_t mac[32], const uint8_t derived[32], const uint8_t ct[32])
{
    cella_keccak_ctx c;
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, derived + 16, 16);
    cella_keccak256_update(&c, ct, 32);
    cella_keccak256_final(&c, mac);
}

/* ---- writing ---- */

static void uuid4(char out[37], const uint8_t r[16])
{
    uint8_t b[16];
    memcpy(b, r, 16);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33];
    cella_hex_encode(hex, b, 16, false);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

cella_res cella_keystore_encrypt(const uint8_t priv[32], const char *password, size_t pwlen,
                                 const cella_keystore_params *params, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    cella_keystore_params dp = {0};
    if (!params)
        params = &dp;
    kdf_spec k = {.kdf = params->kdf,
                  .n = params->scrypt_n ? params->scrypt_n : KS_DEFAULT_N,
                  .r = params->scrypt_r ? params->scrypt_r : KS_DEFAULT_R,
                  .p = params->scrypt_p ? params->scrypt_p : KS_DEFAULT_P,
                  .c = params->pbkdf2_c ? params->pbkdf2_c : KS_DEFAULT_C,
                  .salt_len = 32};
    uint8_t addr[20], iv[16], ct[32], mac[32], idb[16];
    CELLA_TRY(cella_eth_address_from_privkey(priv, addr));
    CELLA_TRY(cella_random(k.salt, k.salt_len));
    CELLA_TRY(cella_random(iv, sizeof iv));
    CELLA_TRY(cella_random(idb, sizeof idb));
    CELLA_KEY32(derived);
    CELLA_TRY(derive(&k, password, pwlen, derived.b));
    CELLA_TRY(aes128ctr(derived.b, iv, priv, ct, 32));
    keystore_mac(mac, derived.b, ct);

    char addr_hex[41], iv_hex[33], ct_hex[65], mac_hex[65], salt_hex[2 * KS_MAX_SALT + 1], id[37];
    cella_hex_encode(addr_hex, addr, 20, false);
    cella_hex_encode(iv_hex, iv, 16, false);
    cella_hex_encode(ct_hex, ct, 32, false);
    cella_hex_encode(mac_hex, mac, 32, false);
    cella_hex_encode(salt_hex, k.salt, k.salt_len, false);
    uuid4(id, idb);

    json_t *kdfparams;
    if (k.kdf == CELLA_KDF_SCRYPT)
        kdfparams = json_pack("{s:s, s:I, s:i, s:I, s:I}", "salt", salt_hex, "n", (json_int_t)k.n,
                              "dklen", 32, "p", (json_int_t)k.p, "r", (json_int_t)k.r);
    else
        kdfparams = json_pack("{s:s, s:I, s:i, s:s}", "salt", salt_hex, "c", (json_int_t)k.c,
                              "dklen", 32, "prf", "hmac-sha256");
    json_t *doc = kdfparams
                      ? json_pack("{s:s, s:s, s:i, s:{s:s, s:{s:s}, s:s, s:s, s:o, s:s}}",
                                  "address", addr_hex, "id", id, "version", 3, "Crypto", "cipher",
                                  "aes-128-ctr", "cipherparams", "iv", iv_hex, "ciphertext", ct_hex,
                                  "kdf", k.kdf == CELLA_KDF_SCRYPT ? "scrypt" : "pbkdf2",
                                  "kdfparams", kdfparams, "mac", mac_hex)
                      : NULL;
    CELLA_ENSURE(doc != NULL, CELLA_E_NOMEM, "keystore", "cannot build JSON");
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    CELLA_ENSURE(text != NULL, CELLA_E_NOMEM, "keystore", "cannot serialise JSON");
    *out = text;
    *out_len = strlen(text);
    return CELLA_OK_RES;
}

/* ---- reading ---- */

static cella_res get_crypto(const json_t *doc, const json_t **out)
{
    const json_t *c = json_object_get(doc, "Crypto");
    if (!c)
        c = json_object_get(doc, "crypto");
    CELLA_ENSURE(c != NULL, CELLA_E_PARSE, "Crypto", "not a V3 keystore (no Crypto object)");
    CELLA_ENSURE(json_is_object(c), CELLA_E_PARSE, "Crypto", "not an object");
    *out = c;
    return CELLA_OK_RES;
}

static cella_res read_kdf(const json_t *crypto, kdf_spec *k)
{
    const char *kdf;
    CELLA_TRY(cella_json_str(crypto, "kdf", &kdf));
    const json_t *kp = json_object_get(crypto, "kdfparams");
    CELLA_ENSURE(json_is_object(kp), CELLA_E_PARSE, "kdfparams", "missing or not an object");
    uint64_t dklen;
    CELLA_TRY(cella_json_u64(kp, "dklen", &dklen));
    CELLA_ENSURE(dklen == 32, CELLA_E_UNSUPPORTED, "kdfparams.dklen", "must be 32");
    const char *salt;
    CELLA_TRY(cella_json_str(kp, "salt", &salt));
    if (salt[0] == '0' && salt[1] == 'x')
        salt += 2;
    size_t sl = strlen(salt);
    CELLA_ENSURE(sl % 2 == 0 && sl / 2 <= KS_MAX_SALT, CELLA_E_PARSE, "kdfparams.salt",
                 "salt must be at most %d bytes of hex", KS_MAX_SALT);
    k->salt_len = sl / 2;
    CELLA_TRY(cella_hex_decode(k->salt, k->salt_len, salt, sl, "kdfparams.salt"));
    if (!strcmp(kdf, "scrypt")) {
        k->kdf = CELLA_KDF_SCRYPT;
        CELLA_TRY(cella_json_u64(kp, "n", &k->n));
        CELLA_TRY(cella_json_u64(kp, "r", &k->r));
        CELLA_TRY(cella_json_u64(kp, "p", &k->p));
        return check_scrypt(k);
    }
    if (!strcmp(kdf, "pbkdf2")) {
        k->kdf = CELLA_KDF_PBKDF2;
        const char *prf;
        CELLA_TRY(cella_json_u64(kp, "c", &k->c));
        CELLA_TRY(cella_json_str(kp, "prf", &prf));
        CELLA_ENSURE(!strcmp(prf, "hmac-sha256"), CELLA_E_UNSUPPORTED, "kdfparams.prf",
                     "only hmac-sha256 is supported");
        CELLA_ENSURE(k->c >= 1 && k->c <= CELLA_KEYSTORE_MAX_PBKDF2_C, CELLA_E_POLICY,
                     "kdfparams.c", "pbkdf2 iteration count must be 1..%u",
                     CELLA_KEYSTORE_MAX_PBKDF2_C);
        return CELLA_OK_RES;
    }
    return cella_fail(CELLA_E_UNSUPPORTED, "kdf", "unknown key derivation function");
}

/* Parses everything but the password-dependent part. */
typedef struct {
    kdf_spec kdf;
    uint8_t iv[16], ct[32], mac[32], addr[20];
    bool has_addr;
} keystore_doc;

static cella_res parse_keystore(const void *json, size_t len, keystore_doc *d)
{
    json_t *doc;
    CELLA_TRY(cella_json_parse_object(json, len, CELLA_WALLET_MAX_JSON, "keystore", &doc));
    cella_res r = CELLA_OK_RES;
    const json_t *crypto = NULL;
    uint64_t version = 0;
    const char *cipher;
    CELLA_GUARD(r, cella_json_u64(doc, "version", &version), out);
    if (version != 3) {
        r = cella_fail(CELLA_E_UNSUPPORTED, "version", "only V3 keystores are supported");
        goto out;
    }
    CELLA_GUARD(r, get_crypto(doc, &crypto), out);
    CELLA_GUARD(r, cella_json_str(crypto, "cipher", &cipher), out);
    if (strcmp(cipher, "aes-128-ctr") != 0) {
        r = cella_fail(CELLA_E_UNSUPPORTED, "cipher", "only aes-128-ctr is supported");
        goto out;
    }
    const json_t *cp = json_object_get(crypto, "cipherparams");
    if (!json_is_object(cp)) {
        r = cella_fail(CELLA_E_PARSE, "cipherparams", "missing or not an object");
        goto out;
    }
    CELLA_GUARD(r, cella_json_hex(cp, "iv", d->iv, 16), out);
    CELLA_GUARD(r, cella_json_hex(crypto, "ciphertext", d->ct, 32), out);
    CELLA_GUARD(r, cella_json_hex(crypto, "mac", d->mac, 32), out);
    CELLA_GUARD(r, read_kdf(crypto, &d->kdf), out);
    d->has_addr = json_object_get(doc, "address") != NULL;
    if (d->has_addr) {
        const char *a;
        CELLA_GUARD(r, cella_json_str(doc, "address", &a), out);
        CELLA_GUARD(r, cella_eth_address_parse(d->addr, a, "address"), out);
    }
out:
    json_decref(doc);
    return r;
}

cella_res cella_keystore_inspect(const void *json, size_t len, cella_keystore_info *info)
{
    keystore_doc d;
    memset(&d, 0, sizeof d);
    memset(info, 0, sizeof *info);
    CELLA_TRY(parse_keystore(json, len, &d));
    info->kdf = d.kdf.kdf;
    info->scrypt_n = d.kdf.n;
    info->scrypt_r = d.kdf.r;
    info->scrypt_p = d.kdf.p;
    info->pbkdf2_c = d.kdf.c;
    info->has_address = d.has_addr;
    memcpy(info->address, d.addr, 20);
    return CELLA_OK_RES;
}

cella_res cella_keystore_decrypt(const void *json, size_t len, const char *password, size_t pwlen,
                                 uint8_t priv[32], uint8_t addr[20])
{
    keystore_doc d;
    memset(&d, 0, sizeof d);
    CELLA_TRY(parse_keystore(json, len, &d));
    CELLA_KEY32(derived);
    uint8_t mac[32];
    CELLA_TRY(derive(&d.kdf, password, pwlen, derived.b));
    keystore_mac(mac, derived.b, d.ct);
    CELLA_ENSURE(cella_ct_eq(mac, d.mac, 32), CELLA_E_AUTH, "keystore", "wrong password");
    CELLA_TRY(aes128ctr(derived.b, d.iv, d.ct, priv, 32));
    cella_res r = cella_eth_address_from_privkey(priv, addr);
    if (cella_ok(r) && d.has_addr && memcmp(addr, d.addr, 20) != 0)
        r = cella_fail(CELLA_E_AUTH, "keystore", "the key does not match the keystore's address");
    if (!cella_ok(r))
        cella_wipe(priv, 32);
    return r;
}

bool cella_wallet_is_encrypted(const void *json, size_t len)
{
    json_t *doc;
    cella_res r = cella_json_parse_object(json, len, CELLA_WALLET_MAX_JSON, "wallet", &doc);
    if (!cella_ok(r)) {
        cella_error_clear();
        return false;
    }
    bool enc = json_object_get(doc, "Crypto") || json_object_get(doc, "crypto");
    json_decref(doc);
    return enc;
}

cella_res cella_wallet_peek_address(const void *json, size_t len, uint8_t addr[20])
{
    json_t *doc;
    CELLA_TRY(cella_json_parse_object(json, len, CELLA_WALLET_MAX_JSON, "wallet", &doc));
    cella_res r = CELLA_OK_RES;
    const char *a;
    if (!json_object_get(doc, "address"))
        r = cella_fail(CELLA_E_NOTFOUND, "address", "the wallet file names no address");
    else if (cella_ok(r = cella_json_str(doc, "address", &a)))
        r = cella_eth_address_parse(addr, a, "address");
    json_decref(doc);
    return r;
}

/* ---- unencrypted wallets ---- */

cella_res cella_wallet_plain_encode(const uint8_t priv[32], char **out, size_t *len, size_t *cap)
{
    uint8_t pub[64], addr[20];
    CELLA_TRY(cella_eth_pubkey_from_privkey(priv, pub));
    cella_eth_address_from_pubkey(pub, addr);
    size_t n = 512;
    char *buf = cella_secure_alloc(n);
    CELLA_ENSURE(buf != NULL, CELLA_E_NOMEM, "wallet", "cannot allocate secure memory");
    char pubhex[129], addrtext[43];
    cella_hex_encode(pubhex, pub, 64, false);
    cella_eth_address_checksum(addrtext, addr);
    /* the key's hex digits are written straight into the secure buffer */
    static const char head[] = "{\n  \"privateKey\": \"0x";
    memcpy(buf, head, sizeof head - 1);
    size_t off = sizeof head - 1;
    cella_hex_encode(buf + off, priv, 32, false);
    off += 64;
    int w =
        snprintf(buf + off, n - off,
                 "\",\n  \"publicKey\": \"0x04%s\",\n  \"address\": \"%s\"\n}\n", pubhex, addrtext);
    if (w < 0 || (size_t)w >= n - off) {
        cella_secure_free(buf, n);
        return cella_fail(CELLA_E_INTERNAL, "wallet", "wallet text does not fit");
    }
    *out = buf;
    *len = off + (size_t)w;
    *cap = n;
    return CELLA_OK_RES;
}

cella_res cella_wallet_plain_decode(const void *json, size_t len, uint8_t priv[32],
                                    uint8_t addr[20])
{
    json_t *doc;
    CELLA_TRY(cella_json_parse_object(json, len, CELLA_WALLET_MAX_JSON, "wallet", &doc));
    cella_res r = CELLA_OK_RES;
    json_t *pk = json_object_get(doc, "privateKey");
    if (!json_is_string(pk)) {
        r = cella_fail(CELLA_E_PARSE, "privateKey", "missing: not an unencrypted wallet");
        goto out;
    }
    r = cella_json_hex(doc, "privateKey", priv, 32);
    /* jansson owns the string: wipe it before it is freed */
    cella_wipe((char *)json_string_value(pk), json_string_length(pk));
    if (!cella_ok(r))
        goto out;
    uint8_t pub[64];
    CELLA_GUARD(r, cella_eth_pubkey_from_privkey(priv, pub), out);
    cella_eth_address_from_pubkey(pub, addr);
    if (json_object_get(doc, "publicKey")) {
        uint8_t want[65];
        CELLA_GUARD(r, cella_json_hex(doc, "publicKey", want, 65), out);
        if (want[0] != 4 || memcmp(want + 1, pub, 64) != 0) {
            r = cella_fail(CELLA_E_PARSE, "publicKey", "does not match the private key");
            goto out;
        }
    }
    if (json_object_get(doc, "address")) {
        const char *a;
        uint8_t want[20];
        CELLA_GUARD(r, cella_json_str(doc, "address", &a), out);
        CELLA_GUARD(r, cella_eth_address_parse(want, a, "address"), out);
        if (memcmp(want, addr, 20) != 0)
            r = cella_fail(CELLA_E_PARSE, "address", "does not match the private key");
    }
out:
    json_decref(doc);
    if (!cella_ok(r))
        cella_wipe(priv, 32);
    return r;
}

cella_res cella_wallet_load(const char *path, const char *password, size_t pwlen, uint8_t priv[32],
                            uint8_t addr[20])
{
    uint8_t *data = NULL;
    size_t len = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_WALLET_MAX_JSON, true, &data, &len));
    cella_res r;
    if (cella_wallet_is_encrypted(data, len)) {
        if (!password)
            r = cella_fail(CELLA_E_USAGE, path,
                           "the wallet is encrypted: give its password with --password-file");
        else
            r = cella_keystore_decrypt(data, len, password, pwlen, priv, addr);
    } else {
        r = cella_wallet_plain_decode(data, len, priv, addr);
    }
    cella_secure_free(data, len + 1);
    if (!cella_ok(r))
        cella_error_set_where(path);
    return r;
}

cella_res cella_keystore_filename(char *out, size_t cap, const uint8_t addr[20])
{
    struct timespec ts;
    struct tm tm;
    char stamp[64], text[43];
    CELLA_ENSURE(clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL,
                 CELLA_E_INTERNAL, "clock", "cannot read the time");
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H-%M-%S", &tm);
    cella_eth_address_checksum(text, addr);
    int w = snprintf(out, cap, "UTC--%s.%09ldZ--%s", stamp, (long)ts.tv_nsec, text + 2);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_INTERNAL, "keystore", "file name too long");
    return CELLA_OK_RES;
}
