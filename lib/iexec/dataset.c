#include "iexec/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/stage.h"
#include "core/secure.h"
#include "crypto/aead.h"

size_t cella_iexec_cbc_sealed_size(size_t n)
{
    size_t blocks = n / CELLA_IEXEC_BLOCK + 1; /* PKCS#7 always adds 1..16 bytes */
    if (blocks > (SIZE_MAX - CELLA_IEXEC_IV_BYTES) / CELLA_IEXEC_BLOCK)
        return 0;
    return CELLA_IEXEC_IV_BYTES + blocks * CELLA_IEXEC_BLOCK;
}

/* EVP takes int lengths: feed it in bounded steps. */
#define CBC_STEP ((size_t)1 << 30)

cella_res cella_iexec_cbc_encrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                  const uint8_t *in, size_t n, uint8_t *out, size_t out_cap,
                                  size_t *out_len)
{
    *out_len = 0;
    size_t need = cella_iexec_cbc_sealed_size(n);
    CELLA_ENSURE(need != 0, CELLA_E_TOOBIG, "AES-256-CBC", "input too large");
    if (out_cap < need)
        CELLA_MISUSE("cella_iexec_cbc_encrypt: output buffer too small");
    CELLA_TRY(cella_random(out, CELLA_IEXEC_IV_BYTES));
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    CELLA_ENSURE(c, CELLA_E_NOMEM, "AES-256-CBC", "cannot allocate cipher context");
    cella_res r = CELLA_OK_RES;
    size_t off = CELLA_IEXEC_IV_BYTES;
    int got = 0;
    if (EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), NULL, key, out) != 1) {
        r = cella_fail(CELLA_E_CRYPTO, "AES-256-CBC", "cipher initialisation failed");
        goto done;
    }
    for (size_t done = 0; done < n;) {
        size_t step = n - done > CBC_STEP ? CBC_STEP : n - done;
        if (EVP_EncryptUpdate(c, out + off, &got, in + done, (int)step) != 1) {
            r = cella_fail(CELLA_E_CRYPTO, "AES-256-CBC", "encryption failed");
            goto done;
        }
        off += (size_t)got;
        done += step;
    }
    if (EVP_EncryptFinal_ex(c, out + off, &got) != 1) {
        r = cella_fail(CELLA_E_CRYPTO, "AES-256-CBC", "encryption failed");
        goto done;
    }
    off += (size_t)got;
    if (off != need)
        r = cella_fail(CELLA_E_INTERNAL, "AES-256-CBC", "unexpected ciphertext length");
    else
        *out_len = off;
done:
    EVP_CIPHER_CTX_free(c);
    if (!cella_ok(r))
        cella_wipe(out, out_cap);
    return r;
}

cella_res cella_iexec_cbc_decrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                  const uint8_t *in, size_t n, uint8_t *out, size_t out_cap,
                                  size_t *out_len, const char *what)
{
    *out_len = 0;
    CELLA_ENSURE(n >= CELLA_IEXEC_IV_BYTES + CELLA_IEXEC_BLOCK, CELLA_E_PARSE, what,
                 "encrypted data too short (%zu bytes; IV and at least one block needed)", n);
    CELLA_ENSURE((n - CELLA_IEXEC_IV_BYTES) % CELLA_IEXEC_BLOCK == 0, CELLA_E_PARSE, what,
                 "encrypted data is not a whole number of AES blocks (truncated?)");
    size_t ct_len = n - CELLA_IEXEC_IV_BYTES;
    if (out_cap < ct_len)
        CELLA_MISUSE("cella_iexec_cbc_decrypt: output buffer too small");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    CELLA_ENSURE(c, CELLA_E_NOMEM, what, "cannot allocate cipher context");
    cella_res r = CELLA_OK_RES;
    size_t off = 0;
    int got = 0;
    if (EVP_DecryptInit_ex(c, EVP_aes_256_cbc(), NULL, key, in) != 1) {
        r = cella_fail(CELLA_E_CRYPTO, what, "cipher initialisation failed");
        goto done;
    }
    const uint8_t *ct = in + CELLA_IEXEC_IV_BYTES;
    for (size_t done = 0; done < ct_len;) {
        size_t step = ct_len - done > CBC_STEP ? CBC_STEP : ct_len - done;
        if (EVP_DecryptUpdate(c, out + off, &got, ct + done, (int)step) != 1) {
            r = cella_fail(CELLA_E_CRYPTO, what, "decryption failed");
            goto done;
        }
        off += (size_t)got;
        done += step;
    }
    if (EVP_DecryptFinal_ex(c, out + off, &got) != 1) {
        r = cella_fail(CELLA_E_AUTH, what, "wrong key or corrupted data (bad padding)");
        goto done;
    }
    off += (size_t)got;
    *out_len = off;
done:
    EVP_CIPHER_CTX_free(c);
    if (!cella_ok(r))
        cella_wipe(out, out_cap);
    return r;
}

cella_res cella_iexec_checksum(const void *data, size_t n, char out[static CELLA_IEXEC_CHECKSUM_LEN])
{
    uint8_t d[32];
    CELLA_TRY(cella_sha256(d, data, n));
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, d, sizeof d, false);
    return CELLA_OK_RES;
}

static cella_res check_checksum(cella_slice enc, const char *expected, const char *what)
{
    uint8_t want[32], got[32];
    CELLA_TRY(cella_hex_decode(want, sizeof want, expected, strlen(expected), "checksum"));
    CELLA_TRY(cella_sha256(got, enc.p, enc.len));
    CELLA_ENSURE(cella_ct_eq(want, got, sizeof got), CELLA_E_AUTH, what,
                 "checksum mismatch: the encrypted file was modified or is not the expected one");
    return CELLA_OK_RES;
}

void cella_iexec_key_encode(char out[static CELLA_IEXEC_KEY_B64_LEN + 1],
                            const uint8_t key[static CELLA_IEXEC_KEY_BYTES])
{
    size_t n = cella_base64_encode(out, CELLA_IEXEC_KEY_B64_LEN + 1, key, CELLA_IEXEC_KEY_BYTES);
    if (n != CELLA_IEXEC_KEY_B64_LEN)
        CELLA_MISUSE("base64 key length");
}

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

cella_res cella_iexec_key_decode(uint8_t key[static CELLA_IEXEC_KEY_BYTES], const char *text,
                                 size_t len, const char *what)
{
    while (len && is_space(text[len - 1]))
        len--;
    while (len && is_space(*text)) {
        text++;
        len--;
    }
    CELLA_ENSURE(len == CELLA_IEXEC_KEY_B64_LEN, CELLA_E_PARSE, what,
                 "not an iExec dataset key (44 base64 characters of a 32-byte key expected)");
    uint8_t tmp[CELLA_IEXEC_KEY_BYTES + 4];
    size_t got = 0;
    cella_res r = cella_base64_decode(tmp, sizeof tmp, &got, text, len, what);
    if (cella_ok(r) && got != CELLA_IEXEC_KEY_BYTES)
        r = cella_fail(CELLA_E_PARSE, what, "key is %zu bytes, 32 expected", got);
    if (cella_ok(r))
        memcpy(key, tmp, CELLA_IEXEC_KEY_BYTES);
    cella_wipe(tmp, sizeof tmp);
    return r;
}

cella_res cella_iexec_key_load(const char *path, uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                               bool *loose)
{
    struct stat st;
    *loose = false;
    if (stat(path, &st) == 0)
        *loose = (st.st_mode & 077) != 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, 256, true, &buf, &len));
    cella_res r = cella_iexec_key_decode(key, (const char *)buf, len, path);
    cella_secure_free(buf, len + 1);
    return r;
}

cella_res cella_iexec_key_save(const char *path, const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                               bool exclusive)
{
    char text[CELLA_IEXEC_KEY_B64_LEN + 1];
    cella_iexec_key_encode(text, key);
    cella_res r = cella_write_file_atomic(AT_FDCWD, path, text, CELLA_IEXEC_KEY_B64_LEN, 0600,
                                          exclusive);
    cella_wipe(text, sizeof text);
    return r;
}

cella_res cella_iexec_secret_alloc(cella_iexec_secret *s, size_t cap)
{
    *s = (cella_iexec_secret){0};
    size_t n = cap ? cap : 1; /* cella_secure_alloc refuses 0 */
    s->p = cella_secure_alloc(n);
    CELLA_ENSURE(s->p, CELLA_E_NOMEM, NULL, "cannot allocate %zu bytes of secure memory", n);
    s->cap = n;
    return CELLA_OK_RES;
}

void cella_iexec_secret_free(cella_iexec_secret *s)
{
    if (s->p)
        cella_secure_free(s->p, s->cap);
    *s = (cella_iexec_secret){0};
}

cella_res cella_iexec_dataset_encrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                      cella_slice plain, uint8_t **out, size_t *out_len,
                                      char *checksum)
{
    *out = NULL;
    *out_len = 0;
    CELLA_ENSURE(plain.len <= CELLA_IEXEC_DATASET_MAX, CELLA_E_TOOBIG, "dataset",
                 "dataset larger than %zu bytes", CELLA_IEXEC_DATASET_MAX);
    size_t cap = cella_iexec_cbc_sealed_size(plain.len);
    uint8_t *buf = malloc(cap);
    CELLA_ENSURE(buf, CELLA_E_NOMEM, "dataset", "out of memory");
    size_t n = 0;
    cella_res r = cella_iexec_cbc_encrypt(key, plain.p, plain.len, buf, cap, &n);
    if (cella_ok(r) && checksum)
        r = cella_iexec_checksum(buf, n, checksum);
    if (!cella_ok(r)) {
        free(buf);
        return r;
    }
    *out = buf;
    *out_len = n;
    return CELLA_OK_RES;
}

cella_res cella_iexec_dataset_decrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                      cella_slice enc, const char *expected_checksum,
                                      cella_iexec_secret *out, const char *what)
{
    *out = (cella_iexec_secret){0};
    if (expected_checksum)
        CELLA_TRY(check_checksum(enc, expected_checksum, what));
    CELLA_ENSURE(enc.len <= CELLA_IEXEC_DATASET_MAX + 32, CELLA_E_TOOBIG, what,
                 "dataset larger than %zu bytes", CELLA_IEXEC_DATASET_MAX);
    CELLA_ENSURE(enc.len >= CELLA_IEXEC_IV_BYTES + CELLA_IEXEC_BLOCK, CELLA_E_PARSE, what,
                 "encrypted data too short (%zu bytes; IV and at least one block needed)",
                 enc.len);
    cella_iexec_secret s;
    CELLA_TRY(cella_iexec_secret_alloc(&s, enc.len - CELLA_IEXEC_IV_BYTES));
    cella_res r = cella_iexec_cbc_decrypt(key, enc.p, enc.len, s.p, s.cap, &s.len, what);
    if (!cella_ok(r)) {
        cella_iexec_secret_free(&s);
        return r;
    }
    *out = s;
    return CELLA_OK_RES;
}

cella_res cella_iexec_dataset_encrypt_file(const char *src, const char *dst,
                                           const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                           const char *key_path, bool overwrite,
                                           char checksum[static CELLA_IEXEC_CHECKSUM_LEN])
{
    uint8_t *plain = NULL, *enc = NULL;
    size_t plain_len = 0, enc_len = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, src, CELLA_IEXEC_DATASET_MAX, true, &plain, &plain_len));
    char sum[CELLA_IEXEC_CHECKSUM_LEN];
    cella_res r = cella_iexec_dataset_encrypt(key, cella_slice_of(plain, plain_len), &enc,
                                              &enc_len, sum);
    cella_secure_free(plain, plain_len + 1);
    if (!cella_ok(r)) {
        cella_error_set_where(src);
        return r;
    }
    if (!overwrite)
        r = cella_stage_check_new(AT_FDCWD, dst, false);
    cella_stage s = {.done = true};
    if (cella_ok(r))
        r = cella_stage_open(&s, AT_FDCWD, dst, false, 0644);
    if (cella_ok(r))
        r = cella_pwrite_full(s.fd, enc, enc_len, 0, dst);
    bool key_made = false;
    if (cella_ok(r) && key_path)
        key_made = cella_ok(r = cella_iexec_key_save(key_path, key, !overwrite));
    if (cella_ok(r))
        r = cella_stage_publish(&s, overwrite);
    cella_stage_abort(&s);
    if (!cella_ok(r) && key_made && !overwrite && !s.published)
        unlink(key_path); /* ours, made for a file that was not published */
    free(enc);
    if (cella_ok(r))
        memcpy(checksum, sum, sizeof sum); /* only for a file actually written */
    return r;
}

cella_res cella_iexec_dataset_decrypt_file(const char *src, const char *dst,
                                           const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                           const char *expected_checksum, bool overwrite)
{
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, src, CELLA_IEXEC_DATASET_MAX + 32, false, &enc, &enc_len));
    cella_iexec_secret plain;
    cella_res r = cella_iexec_dataset_decrypt(key, cella_slice_of(enc, enc_len), expected_checksum,
                                              &plain, src);
    free(enc);
    if (!cella_ok(r))
        return r;
    r = cella_write_file_atomic(AT_FDCWD, dst, plain.p, plain.len, 0600, !overwrite);
    cella_iexec_secret_free(&plain);
    return r;
}
