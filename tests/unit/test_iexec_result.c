/* Unit tests for lib/iexec/result: the SDK/post-compute vector, round trips
 * through our zip and RSA code, and hostile zips. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core/fs.h"
#include "core/secure.h"
#include "iexec/result.h"
#include "testutil.h"

#define BENEFICIARY "0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1"

static void vpath(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/iexec/result/%s", test_vectors_dir(), rel);
}

static void slurp_v(const char *rel, uint8_t **p, size_t *n)
{
    char path[4096];
    vpath(path, sizeof path, rel);
    assert_succeeds(cella_read_file(AT_FDCWD, path, 1 << 20, false, p, n));
}

typedef struct {
    uint8_t *p;
    size_t n;
} blob;

static blob vec(const char *rel)
{
    blob b;
    slurp_v(rel, &b.p, &b.n);
    return b;
}

static cella_slice sl(blob b) { return cella_slice_of(b.p, b.n); }

/* A zip made with libzip from (name, data) pairs; for hostile-input tests. */
static blob make_zip(const char *const *names, const blob *data, size_t n)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    zip_source_keep(src);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, data[i].p, data[i].n, 0);
        assert_non_null(s);
        assert_true(zip_file_add(za, names[i], s, 0) >= 0);
    }
    assert_int_equal(zip_close(za), 0);
    zip_stat_t st;
    assert_int_equal(zip_source_stat(src, &st), 0);
    blob b = {malloc(st.size), st.size};
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_read(src, b.p, st.size), (zip_int64_t)st.size);
    zip_source_close(src);
    zip_source_free(src);
    return b;
}

/* The post-compute output of the SDK vectors opens to iexec_out.zip byte for
 * byte, and its entries are the recorded aes-key.rsa and iexec_out.zip.aes. */
static void sdk_vector_decrypts(void **state)
{
    (void)state;
    blob enc = vec("encrypted-iexec_out.zip"), want = vec("iexec_out.zip"),
         priv = vec(".secrets/beneficiary/" BENEFICIARY "_key"), rsa = vec("aes-key.rsa"),
         aes = vec("iexec_out.zip.aes");
    cella_iexec_secret out;
    assert_succeeds(cella_iexec_result_decrypt(sl(enc), sl(priv), &out));
    assert_int_equal(out.len, want.n);
    assert_memory_equal(out.p, want.p, want.n);
    cella_iexec_secret_free(&out);

    uint8_t *k, *d;
    size_t kl, dl;
    assert_succeeds(cella_iexec_result_unpack(sl(enc), &k, &kl, &d, &dl));
    assert_int_equal(kl, 512);
    assert_int_equal(kl, rsa.n);
    assert_memory_equal(k, rsa.p, kl);
    assert_int_equal(dl, aes.n);
    assert_memory_equal(d, aes.p, dl);
    free(k);
    free(d);

    /* the recorded AES key and IV (encryption-params.json) decrypt the .aes entry */
    static const uint8_t key[32] = {0xf8, 0xbb, 0x3f, 0x1e, 0xe9, 0xed, 0x0b, 0x2b,
                                    0xa1, 0x1c, 0x45, 0x50, 0xaa, 0x63, 0xd8, 0xcb,
                                    0x27, 0xe2, 0x9c, 0xb8, 0x54, 0x55, 0x6a, 0x11,
                                    0xe8, 0x6b, 0x7e, 0x3e, 0x3d, 0x62, 0x9b, 0xf8};
    static const uint8_t iv[16] = {0x02, 0x49, 0x41, 0xad, 0x43, 0x26, 0x1a, 0xd0,
                                   0xfc, 0xf5, 0xa9, 0x22, 0x79, 0x6f, 0x07, 0x10};
    assert_memory_equal(aes.p, iv, 16);
    assert_succeeds(cella_iexec_dataset_decrypt(key, sl(aes), NULL, &out, "aes"));
    assert_memory_equal(out.p, want.p, want.n);
    cella_iexec_secret_free(&out);
    free(enc.p), free(want.p), free(priv.p), free(rsa.p), free(aes.p);
}

/* Flipping any byte of the vector never yields a different plaintext: it is
 * refused, or (header fields nobody reads) still gives the exact original. */
static void sdk_vector_tamper(void **state)
{
    (void)state;
    blob enc = vec("encrypted-iexec_out.zip"), want = vec("iexec_out.zip"),
         priv = vec(".secrets/beneficiary/" BENEFICIARY "_key");
    size_t refused = 0;
    for (size_t off = 0; off < enc.n; off++) {
        enc.p[off] ^= 0x01;
        cella_iexec_secret out;
        cella_res r = cella_iexec_result_decrypt(sl(enc), sl(priv), &out);
        if (cella_ok(r)) {
            assert_int_equal(out.len, want.n);
            assert_memory_equal(out.p, want.p, want.n);
            cella_iexec_secret_free(&out);
        } else {
            assert_null(out.p);
            refused++;
        }
        enc.p[off] ^= 0x01;
    }
    /* every byte of both entries' data is covered by the CRC */
    assert_true(refused >= 848);
    for (size_t len = 0; len < enc.n; len += 13) {
        cella_iexec_secret out;
        cella_res r = cella_iexec_result_decrypt(cella_slice_of(enc.p, len), sl(priv), &out);
        assert_false(cella_ok(r));
    }
    free(enc.p), free(want.p), free(priv.p);
}

static void zip_dir_is_deterministic_and_complete(void **state)
{
    (void)state;
    char dir[4096];
    vpath(dir, sizeof dir, "iexec_out");
    cella_iexec_secret a, b;
    assert_succeeds(cella_iexec_zip_dir(dir, &a));
    sleep(1); /* a clock-dependent timestamp would show */
    assert_succeeds(cella_iexec_zip_dir(dir, &b));
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    /* the entries are the files, by relative name, in order, with their bytes */
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(a.p, a.len, 0, &ze);
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    assert_non_null(za);
    assert_int_equal(zip_get_num_entries(za, 0), 2);
    assert_string_equal(zip_get_name(za, 0, 0), "computed.json");
    assert_string_equal(zip_get_name(za, 1, 0), "result.txt");
    blob want = vec("iexec_out/result.txt");
    uint8_t got[64];
    zip_file_t *zf = zip_fopen_index(za, 1, 0);
    assert_non_null(zf);
    assert_int_equal(zip_fread(zf, got, sizeof got), (zip_int64_t)want.n);
    assert_memory_equal(got, want.p, want.n);
    zip_fclose(zf);
    zip_discard(za);
    free(want.p);
    cella_iexec_secret_free(&a);
    cella_iexec_secret_free(&b);
}

static void round_trip_with_vector_key(void **state)
{
    (void)state;
    char dir[4096];
    vpath(dir, sizeof dir, "iexec_out");
    blob pub = vec(".secrets/beneficiary/" BENEFICIARY "_key.pub"),
         pub64 = vec("RESULT_ENCRYPTION_PUBLIC_KEY.b64"),
         priv = vec(".secrets/beneficiary/" BENEFICIARY "_key");
    cella_iexec_secret zip, out;
    assert_succeeds(cella_iexec_zip_dir(dir, &zip));
    const blob *keys[] = {&pub, &pub64}; /* PEM, and base64 of PEM as given to post-compute */
    for (size_t i = 0; i < 2; i++) {
        uint8_t *enc;
        size_t enc_len;
        assert_succeeds(cella_iexec_result_encrypt(cella_slice_of(zip.p, zip.len), sl(*keys[i]),
                                                   &enc, &enc_len));
        uint8_t *k, *d;
        size_t kl, dl;
        assert_succeeds(cella_iexec_result_unpack(cella_slice_of(enc, enc_len), &k, &kl, &d, &dl));
        assert_int_equal(kl, 512);
        assert_int_equal(dl, cella_iexec_cbc_sealed_size(zip.len));
        free(k);
        free(d);
        assert_succeeds(cella_iexec_result_decrypt(cella_slice_of(enc, enc_len), sl(priv), &out));
        assert_int_equal(out.len, zip.len);
        assert_memory_equal(out.p, zip.p, zip.len);
        cella_iexec_secret_free(&out);
        free(enc);
    }
    cella_iexec_secret_free(&zip);
    free(pub.p), free(pub64.p), free(priv.p);
}

/* One 2048-bit key pair for the tests below (4096 is slow to generate). */
static cella_iexec_pem g_priv;
static char *g_pub;
static size_t g_pub_len;

static int gen_key(void **state)
{
    (void)state;
    return cella_ok(cella_iexec_rsa_generate(2048, &g_priv, &g_pub, &g_pub_len)) ? 0 : -1;
}

static int free_key(void **state)
{
    (void)state;
    cella_iexec_secret_free(&g_priv);
    free(g_pub);
    return 0;
}

static void generated_keys_and_wrong_key(void **state)
{
    (void)state;
    assert_non_null(strstr((const char *)g_priv.p, "-----BEGIN PRIVATE KEY-----"));
    assert_non_null(strstr(g_pub, "-----BEGIN PUBLIC KEY-----"));
    blob priv = vec(".secrets/beneficiary/" BENEFICIARY "_key"),
         enc = vec("encrypted-iexec_out.zip");
    uint8_t data[300];
    assert_succeeds(cella_random(data, sizeof data));
    uint8_t *e;
    size_t el;
    assert_succeeds(cella_iexec_result_encrypt(cella_slice_of(data, sizeof data),
                                               cella_slice_of(g_pub, g_pub_len), &e, &el));
    cella_iexec_secret out;
    assert_succeeds(cella_iexec_result_decrypt(cella_slice_of(e, el),
                                               cella_slice_of(g_priv.p, g_priv.len), &out));
    assert_int_equal(out.len, sizeof data);
    assert_memory_equal(out.p, data, sizeof data);
    cella_iexec_secret_free(&out);
    /* wrong key, both ways */
    assert_fails_with(cella_iexec_result_decrypt(cella_slice_of(e, el), sl(priv), &out),
                      CELLA_E_AUTH);
    assert_null(out.p);
    assert_fails_with(cella_iexec_result_decrypt(sl(enc), cella_slice_of(g_priv.p, g_priv.len),
                                                 &out),
                      CELLA_E_AUTH);
    free(e);
    /* a public key is not a private key, and garbage is neither */
    assert_fails_with(cella_iexec_result_decrypt(sl(enc), cella_slice_of(g_pub, g_pub_len), &out),
                      CELLA_E_PARSE);
    assert_fails_with(cella_iexec_result_encrypt(cella_slice_of(data, 10),
                                                 cella_slice_of("nonsense", 8), &e, &el),
                      CELLA_E_PARSE);
    assert_null(e);
    free(priv.p), free(enc.p);
}

static void keypair_files(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char sub[512], p[600];
    snprintf(sub, sizeof sub, "%s/.secrets/beneficiary", dir);
    assert_succeeds(cella_iexec_keypair_write(sub, BENEFICIARY, 2048, false));
    struct stat st;
    snprintf(p, sizeof p, "%s/%s_key", sub, BENEFICIARY);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(p, sizeof p, "%s/%s_key.pub", sub, BENEFICIARY);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_fails_with(cella_iexec_keypair_write(sub, BENEFICIARY, 2048, false), CELLA_E_EXISTS);
    assert_fails_with(cella_iexec_keypair_write(sub, "../x", 2048, false), CELLA_E_USAGE);
    test_rmdir(dir);
}

/* Hostile zips built around a valid key entry. */
static void malicious_zips(void **state)
{
    (void)state;
    blob rsa = vec("aes-key.rsa"), aes = vec("iexec_out.zip.aes"),
         priv = vec(".secrets/beneficiary/" BENEFICIARY "_key");
    cella_iexec_secret out;
    struct {
        const char *n0, *n1;
        cella_code want;
    } cases[] = {
        {"../aes-key.rsa", "iexec_out.zip.aes", CELLA_E_PATH},
        {"aes-key.rsa", "/iexec_out.zip.aes", CELLA_E_PATH},
        {"aes-key.rsa", "a/../iexec_out.zip.aes", CELLA_E_PATH},
        {"aes-key.rsa", "..", CELLA_E_PATH},
        {"aes-key.rsa", "c:\\evil", CELLA_E_PATH},
        {"aes-key.rsa", "other.txt", CELLA_E_PARSE},      /* missing data entry */
        {"key.rsa", "iexec_out.zip.aes", CELLA_E_PARSE},  /* missing key entry */
        {"aes-key.rsa", "iexec_out.zip.aes", CELLA_OK},   /* control */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *names[] = {cases[i].n0, cases[i].n1};
        blob data[] = {rsa, aes};
        blob z = make_zip(names, data, 2);
        cella_res r = cella_iexec_result_decrypt(sl(z), sl(priv), &out);
        if (r.code != cases[i].want)
            fail_msg("case %zu (%s, %s): got %s: %s", i, cases[i].n0, cases[i].n1,
                     cella_code_str(r.code), cella_error_what());
        cella_iexec_secret_free(&out);
        free(z.p);
    }
    /* an oversize key entry is refused before it is read */
    uint8_t big[1001] = {0};
    {
        const char *names[] = {"aes-key.rsa", "iexec_out.zip.aes"};
        blob data[] = {{big, sizeof big}, aes};
        blob z = make_zip(names, data, 2);
        assert_fails_with(cella_iexec_result_decrypt(sl(z), sl(priv), &out), CELLA_E_TOOBIG);
        free(z.p);
    }
    /* a data entry claiming 3.75 GiB (local and central headers patched) */
    {
        const char *names[] = {"aes-key.rsa", "iexec_out.zip.aes"};
        blob data[] = {rsa, aes};
        blob z = make_zip(names, data, 2);
        int patched = 0;
        for (size_t o = 0; o + 46 < z.n; o++) {
            bool local = !memcmp(z.p + o, "PK\x03\x04", 4);
            bool central = !memcmp(z.p + o, "PK\x01\x02", 4);
            size_t name_off = local ? 30 : 46, size_off = local ? 22 : 24;
            size_t name_len = (size_t)z.p[o + (local ? 26 : 28)];
            if ((local || central) && name_len == 17 && o + name_off + 17 <= z.n &&
                !memcmp(z.p + o + name_off, "iexec_out.zip.aes", 17)) {
                memcpy(z.p + o + size_off, "\x00\x00\x00\xf0", 4);
                patched++;
            }
        }
        assert_int_equal(patched, 2);
        assert_fails_with(cella_iexec_result_decrypt(sl(z), sl(priv), &out), CELLA_E_TOOBIG);
        free(z.p);
    }
    /* duplicate entries (second name patched into the first) */
    {
        const char *names[] = {"aes-key.rsa", "aes-key.rsb", "iexec_out.zip.aes"};
        blob data[] = {rsa, rsa, aes};
        blob z = make_zip(names, data, 3);
        for (size_t o = 0; o + 11 <= z.n; o++)
            if (!memcmp(z.p + o, "aes-key.rsb", 11))
                z.p[o + 10] = 'a';
        cella_res r = cella_iexec_result_decrypt(sl(z), sl(priv), &out);
        assert_false(cella_ok(r));
        free(z.p);
    }
    /* not a zip at all */
    assert_fails_with(cella_iexec_result_decrypt(cella_slice_of("PK\x05\x06garbage", 11), sl(priv),
                                                 &out),
                      CELLA_E_PARSE);
    assert_fails_with(cella_iexec_result_decrypt(cella_slice_of("", 0), sl(priv), &out),
                      CELLA_E_PARSE);
    free(rsa.p), free(aes.p), free(priv.p);
}

static void zip_dir_refusals(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char p[600];
    cella_iexec_secret z;
    assert_fails_with(cella_iexec_zip_dir(dir, &z), CELLA_E_USAGE); /* empty */
    snprintf(p, sizeof p, "%s/link", dir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    assert_fails_with(cella_iexec_zip_dir(dir, &z), CELLA_E_POLICY);
    unlink(p);
    snprintf(p, sizeof p, "%s/sub", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/sub/f", dir);
    assert_succeeds(cella_write_file_atomic(AT_FDCWD, p, "x", 1, 0600, true));
    snprintf(p, sizeof p, "%s/a", dir);
    assert_succeeds(cella_write_file_atomic(AT_FDCWD, p, "", 0, 0600, true));
    assert_succeeds(cella_iexec_zip_dir(dir, &z));
    zip_error_t ze;
    zip_error_init(&ze);
    zip_t *za = zip_open_from_source(zip_source_buffer_create(z.p, z.len, 0, &ze), ZIP_RDONLY, &ze);
    assert_non_null(za);
    assert_int_equal(zip_get_num_entries(za, 0), 2);
    assert_string_equal(zip_get_name(za, 0, 0), "a");
    assert_string_equal(zip_get_name(za, 1, 0), "sub/f");
    zip_discard(za);
    cella_iexec_secret_free(&z);
    test_rmdir(dir);
}

static void file_wrappers(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char src[4096], pub[4096], priv[4096], enc[600], out[600];
    vpath(src, sizeof src, "iexec_out");
    vpath(pub, sizeof pub, ".secrets/beneficiary/" BENEFICIARY "_key.pub");
    vpath(priv, sizeof priv, ".secrets/beneficiary/" BENEFICIARY "_key");
    snprintf(enc, sizeof enc, "%s/enc.zip", dir);
    snprintf(out, sizeof out, "%s/results.zip", dir);
    assert_succeeds(cella_iexec_result_encrypt_dir(src, pub, enc, false));
    assert_fails_with(cella_iexec_result_encrypt_dir(src, pub, enc, false), CELLA_E_EXISTS);
    assert_succeeds(cella_iexec_result_decrypt_file(enc, priv, out, false));
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a failure writes nothing */
    unlink(out);
    assert_fails_with(cella_iexec_result_decrypt_file(enc, pub, out, false), CELLA_E_PARSE);
    assert_int_not_equal(stat(out, &st), 0);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sdk_vector_decrypts),
        cmocka_unit_test(sdk_vector_tamper),
        cmocka_unit_test(zip_dir_is_deterministic_and_complete),
        cmocka_unit_test(round_trip_with_vector_key),
        cmocka_unit_test(generated_keys_and_wrong_key),
        cmocka_unit_test(keypair_files),
        cmocka_unit_test(malicious_zips),
        cmocka_unit_test(zip_dir_refusals),
        cmocka_unit_test(file_wrappers),
    };
    return cmocka_run_group_tests(tests, gen_key, free_key);
}
