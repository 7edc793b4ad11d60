/* Unit tests for lib/core: errors, slices, encodings, secrets, logging, files. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/json_wipe.h"
#include "core/keyfile.h"
#include "core/log.h"
#include "core/safepath.h"
#include "core/secure.h"
#include "core/slice.h"
#include "testutil.h"

static void error_context(void **state)
{
    (void)state;
    cella_res r = cella_fail(CELLA_E_PARSE, "some/file", "bad byte %d", 7);
    assert_int_equal(r.code, CELLA_E_PARSE);
    assert_string_equal(cella_error_what(), "bad byte 7");
    assert_string_equal(cella_error_where(), "some/file");
    assert_non_null(strstr(cella_error_origin(), "test_core.c:"));
    cella_error_set_where("other");
    assert_string_equal(cella_error_where(), "other");
    assert_string_equal(cella_code_str(CELLA_E_AUTH), "authentication failed");
    assert_string_equal(cella_code_str((cella_code)999), "unknown error");
    /* re-raising the current error with its own text is safe */
    cella_fail(CELLA_E_AUTH, "here", "original reason");
    cella_fail(CELLA_E_POLICY, cella_error_where(), "%s", cella_error_what());
    assert_string_equal(cella_error_what(), "original reason");
    assert_string_equal(cella_error_where(), "here");
}

static void reader_bounds(void **state)
{
    (void)state;
    const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    cella_reader r = cella_reader_of(cella_slice_of(b, sizeof b), "thing");
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    assert_succeeds(cella_read_u8(&r, &u8));
    assert_int_equal(u8, 1);
    assert_succeeds(cella_read_u16le(&r, &u16));
    assert_int_equal(u16, 0x0302);
    assert_succeeds(cella_read_u64le(&r, &u64));
    assert_true(u64 == 0x0b0a090807060504ull);
    /* exhausted: every read fails and the cursor does not move */
    assert_fails_with(cella_read_u32le(&r, &u32), CELLA_E_PARSE);
    assert_non_null(strstr(cella_error_what(), "thing truncated"));
    assert_int_equal(r.off, 11);
    assert_succeeds(cella_read_end(&r));
    cella_reader r2 = cella_reader_of(cella_slice_of(b, 3), "x");
    assert_fails_with(cella_read_u32le(&r2, &u32), CELLA_E_PARSE);
    assert_int_equal(r2.off, 0);
    assert_fails_with(cella_read_end(&r2), CELLA_E_PARSE);
    cella_slice s;
    assert_fails_with(cella_slice_sub(cella_slice_of(b, 11), 5, 7, &s), CELLA_E_PARSE);
    assert_fails_with(cella_slice_sub(cella_slice_of(b, 11), SIZE_MAX, 2, &s), CELLA_E_PARSE);
    assert_succeeds(cella_slice_sub(cella_slice_of(b, 11), 5, 6, &s));
    assert_int_equal(s.p[0], 6);
}

static void buf_growth(void **state)
{
    (void)state;
    cella_buf b;
    cella_buf_init(&b, true);
    for (int i = 0; i < 1000; i++)
        cella_buf_u32le(&b, (uint32_t)i);
    assert_succeeds(cella_buf_result(&b));
    assert_int_equal(b.len, 4000);
    assert_int_equal(cella_get_u32le(b.p + 4 * 999), 999);
    cella_buf_free(&b);
    assert_null(b.p);
}

static void hex_codec(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x9f, 0xa0, 0xff};
    char out[9];
    cella_hex_encode(out, in, 4, false);
    assert_string_equal(out, "009fa0ff");
    cella_hex_encode(out, in, 4, true);
    assert_string_equal(out, "009FA0FF");
    uint8_t back[4];
    assert_succeeds(cella_hex_decode(back, 4, "009fA0Ff", 8, "t"));
    assert_memory_equal(back, in, 4);
    assert_succeeds(cella_hex_decode(back, 4, "0x009fa0ff", 10, "t"));
    assert_memory_equal(back, in, 4);
    /* every non-hex character is refused, and the output is wiped */
    const char *bad[] = {"009fa0fg", "009fa0f ", "/09fa0ff", ":09fa0ff", "@09fa0ff", "G09fa0ff",
                         "`09fa0ff", "g09fa0ff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(back, 0xAA, 4);
        assert_fails_with(cella_hex_decode(back, 4, bad[i], 8, "t"), CELLA_E_PARSE);
        assert_memory_equal(back, "\0\0\0\0", 4);
    }
    assert_fails_with(cella_hex_decode(back, 4, "009fa0", 6, "t"), CELLA_E_PARSE);
    /* exhaustive: each byte value decodes iff it is a hex digit */
    for (int c = 0; c < 256; c++) {
        char s[2] = {(char)c, '0'};
        uint8_t v;
        bool is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        cella_res r = cella_hex_decode(&v, 1, s, 2, "t");
        assert_int_equal(cella_ok(r), is_hex);
    }
}

static void base64_codec(void **state)
{
    (void)state;
    char enc[64];
    uint8_t dec[64];
    size_t n;
    assert_int_equal(cella_base64_encode(enc, sizeof enc, (const uint8_t *)"hello", 5), 8);
    assert_string_equal(enc, "aGVsbG8=");
    assert_succeeds(cella_base64_decode(dec, sizeof dec, &n, "aGVsbG8=", 8, "t"));
    assert_int_equal(n, 5);
    assert_memory_equal(dec, "hello", 5);
    assert_succeeds(cella_base64_decode(dec, sizeof dec, &n, "aGk=", 4, "t"));
    assert_int_equal(n, 2);
    assert_fails_with(cella_base64_decode(dec, sizeof dec, &n, "aGVsbG8", 7, "t"), CELLA_E_PARSE);
    assert_fails_with(cella_base64_decode(dec, sizeof dec, &n, "aG!sbG8=", 8, "t"), CELLA_E_PARSE);
    assert_fails_with(cella_base64_decode(dec, sizeof dec, &n, "a=Vs", 4, "t"), CELLA_E_PARSE);
    assert_fails_with(cella_base64_decode(dec, 2, &n, "aGVsbG8=", 8, "t"), CELLA_E_TOOBIG);
}

static void constant_time_and_wipe(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    memset(a, 7, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(cella_ct_eq(a, b, 32));
    b[31] ^= 1;
    assert_false(cella_ct_eq(a, b, 32));
    b[31] ^= 1;
    b[0] ^= 0x80;
    assert_false(cella_ct_eq(a, b, 32));
    cella_wipe(a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        assert_int_equal(a[i], 0);
    {
        CELLA_KEY32(k);
        memset(k.b, 0x5a, sizeof k.b);
        assert_int_equal(k.b[3], 0x5a);
    }
}

static void secure_alloc(void **state)
{
    (void)state;
    uint8_t *p = cella_secure_alloc(100);
    assert_non_null(p);
    memset(p, 0xee, 100);
    cella_secure_free(p, 100);
    assert_null(cella_secure_alloc(0));
    uint8_t r1[32], r2[32];
    assert_succeeds(cella_random(r1, sizeof r1));
    assert_succeeds(cella_random(r2, sizeof r2));
    assert_false(cella_ct_eq(r1, r2, sizeof r1));
}

struct captured {
    char line[4096];
};

static void capture_sink(cella_log_level level, const char *line, void *ctx)
{
    (void)level;
    struct captured *c = ctx;
    snprintf(c->line, sizeof c->line, "%s", line);
}

/* A live secret cannot reach a log line: raw, hex (either case) or base64. */
static void log_redacts_secrets(void **state)
{
    (void)state;
    struct captured cap;
    cella_log_set_sink(capture_sink, &cap);
    uint8_t *key = cella_secure_alloc(32);
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x41 + i % 26); /* printable, so raw %s is meaningful */
    char hex[65], HEX[65], b64[64];
    cella_hex_encode(hex, key, 32, false);
    cella_hex_encode(HEX, key, 32, true);
    cella_base64_encode(b64, sizeof b64, key, 32);

    cella_info("key is %s!", hex);
    assert_null(strstr(cap.line, hex));
    assert_non_null(strstr(cap.line, "[REDACTED]"));
    cella_info("KEY=%s", HEX);
    assert_null(strstr(cap.line, HEX));
    cella_info("b64 %s", b64);
    assert_null(strstr(cap.line, b64));
    cella_info("raw %.32s end", (const char *)key);
    assert_null(memmem(cap.line, strlen(cap.line), key, 32));
    cella_info("harmless line");
    assert_string_equal(cap.line, "harmless line");
    cella_secure_free(key, 32);
    /* after free the bytes are no longer secret (and no longer exist) */
    cella_info("key is %s!", hex);
    assert_non_null(strstr(cap.line, hex));
    cella_log_set_sink(NULL, NULL);
}

static void atomic_write_and_read(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_succeeds(cella_write_file_atomic(dfd, "f", "one", 3, 0600, true));
    assert_fails_with(cella_write_file_atomic(dfd, "f", "two", 3, 0600, true), CELLA_E_EXISTS);
    assert_succeeds(cella_write_file_atomic(dfd, "f", "three", 5, 0640, false));
    struct stat st;
    assert_int_equal(fstatat(dfd, "f", &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    uint8_t *data;
    size_t len;
    assert_succeeds(cella_read_file(dfd, "f", 100, false, &data, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(data, "three", 5);
    free(data);
    assert_fails_with(cella_read_file(dfd, "f", 4, false, &data, &len), CELLA_E_TOOBIG);
    assert_fails_with(cella_read_file(dfd, "nope", 4, false, &data, &len), CELLA_E_NOTFOUND);
    assert_int_equal(symlinkat("f", dfd, "link"), 0);
    assert_fails_with(cella_read_file(dfd, "link", 100, false, &data, &len), CELLA_E_IO);
    /* no temp files remain */
    assert_int_equal(faccessat(dfd, "f.tmp", F_OK, 0), -1);
    close(dfd);
    test_rmdir(dir);
}

static void open_beneath_refuses_escapes(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_int_equal(cella_mkdirs_beneath(dfd, "a/b/c", 0700), 0);
    int fd = cella_open_beneath(dfd, "a/b/c/file", O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlinkat("/tmp", dfd, "a/esc"), 0);
    assert_true(cella_open_beneath(dfd, "a/esc/x", O_WRONLY | O_CREAT, 0600) < 0);
    assert_true(cella_open_beneath(dfd, "../x", O_WRONLY | O_CREAT, 0600) < 0);
    assert_true(cella_open_beneath(dfd, "/etc/passwd", O_RDONLY, 0) < 0);
    assert_int_equal(symlinkat("b", dfd, "a/lnk"), 0);
    assert_true(cella_mkdirs_beneath(dfd, "a/lnk/d", 0700) < 0);
    close(dfd);
    test_rmdir(dir);
}

static void keyfiles(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/k.key", dir);
    uint8_t k1[32], k2[32];
    bool created;
    assert_succeeds(cella_keyfile_load_or_create(path, k1, &created));
    assert_true(created);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_succeeds(cella_keyfile_load_or_create(path, k2, &created));
    assert_false(created);
    assert_memory_equal(k1, k2, 32);
    chmod(path, 0644);
    assert_fails_with(cella_keyfile_load(path, k2), CELLA_E_PERM);
    chmod(path, 0600);
    FILE *f = fopen(path, "w");
    fputs("abc\n", f);
    fclose(f);
    assert_fails_with(cella_keyfile_load(path, k2), CELLA_E_PARSE);
    snprintf(path, sizeof path, "%s/missing.key", dir);
    assert_fails_with(cella_keyfile_load(path, k2), CELLA_E_NOTFOUND);
    test_rmdir(dir);
}

/* ---- jansson's freed blocks are wiped (core/json_wipe.h) ---- */

#define JSON_SECRET "s3cr3t-dataset-key-0123456789abcdef"
static unsigned g_blocks_seen, g_blocks_with_secret;

static void observe_block(const void *p, size_t n)
{
    g_blocks_seen++;
    if (memmem(p, n, JSON_SECRET, strlen(JSON_SECRET)))
        g_blocks_with_secret++;
}

static void json_free_wipes(void **state)
{
    (void)state;
    /* the seam itself, on a plain malloc block: every usable byte becomes 0 */
    uint8_t *b = malloc(100);
    assert_non_null(b);
    memset(b, 'S', 100);
    cella_json_wipe_block(b);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(b[i], 0);
    free(b);
    cella_json_wipe_block(NULL);
    /* installed: the blocks jansson frees (a secret string in an object, its
     * key, a loaded document) hold no trace of the secret at free time */
    cella_json_wipe_install();
    cella_json_wipe_set_observer(observe_block);
    g_blocks_seen = g_blocks_with_secret = 0;
    json_t *o = json_pack("{s:s}", "key", JSON_SECRET);
    assert_non_null(o);
    json_decref(o);
    json_t *d = json_loads("{\"volume\": {\"key\": \"" JSON_SECRET "\"}}", 0, NULL);
    assert_non_null(d);
    json_decref(d);
    cella_json_wipe_set_observer(NULL);
    assert_true(g_blocks_seen >= 4);
    assert_int_equal(g_blocks_with_secret, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_context),
        cmocka_unit_test(reader_bounds),
        cmocka_unit_test(buf_growth),
        cmocka_unit_test(hex_codec),
        cmocka_unit_test(base64_codec),
        cmocka_unit_test(constant_time_and_wipe),
        cmocka_unit_test(secure_alloc),
        cmocka_unit_test(log_redacts_secrets),
        cmocka_unit_test(atomic_write_and_read),
        cmocka_unit_test(open_beneath_refuses_escapes),
        cmocka_unit_test(keyfiles),
        cmocka_unit_test(json_free_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
