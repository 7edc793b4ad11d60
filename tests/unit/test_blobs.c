/* Unit tests for lib/blobs: the on-disk store (hash check, idempotence,
 * missing blobs), and the client against a real `cella blobs serve` on a free
 * loopback port: file and directory round trips, refusals leaving nothing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/app.h"
#include "blobs/client.h"
#include "blobs/store.h"
#include "core/fs.h"
#include "net/curl_lib.h"
#include "crypto/aead.h"
#include "testutil.h"

static void store_basics(void **state)
{
    (void)state;
    char *d = test_tmpdir();
    cella_blob_store st;
    assert_succeeds(cella_blob_store_open(d, &st));
    const char *a = "Hello ", *b = "world\n";
    struct iovec iov[2] = {{(void *)a, 6}, {(void *)b, 6}};
    uint8_t sha[32], other[32] = {0};
    assert_succeeds(cella_sha256(sha, "Hello world\n", 12));
    bool created = false;
    assert_fails_with(cella_blob_store_put(&st, other, iov, 2, &created), CELLA_E_AUTH);
    assert_false(created);
    assert_succeeds(cella_blob_store_put(&st, sha, iov, 2, &created));
    assert_true(created);
    assert_succeeds(cella_blob_store_put(&st, sha, iov, 2, &created));
    assert_false(created);
    int fd;
    uint64_t size;
    assert_succeeds(cella_blob_store_open_blob(&st, sha, &fd, &size));
    assert_int_equal(size, 12);
    char got[16];
    assert_int_equal(read(fd, got, sizeof got), 12);
    assert_memory_equal(got, "Hello world\n", 12);
    close(fd);
    assert_fails_with(cella_blob_store_open_blob(&st, other, &fd, &size), CELLA_E_NOTFOUND);
    /* Ids: exactly 64 lowercase hex digits. */
    uint8_t id[32];
    assert_succeeds(cella_blob_parse_id(
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", id));
    assert_fails_with(cella_blob_parse_id(
                          "5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03", id),
                      CELLA_E_PARSE);
    assert_fails_with(cella_blob_parse_id("../../etc/passwd", id), CELLA_E_PARSE);
    assert_fails_with(cella_blob_parse_id("", id), CELLA_E_PARSE);
    cella_blob_store_close(&st);
    test_rmdir(d);
}

/* ---- against the server --------------------------------------------------------------- */

static pid_t g_pid;
static char g_url[128];
static char *g_dir;

static int start_server(void **state)
{
    (void)state;
    const char *cella = getenv("CELLA");
    if (!cella)
        return -1;
    g_dir = test_tmpdir();
    char data[4200];
    snprintf(data, sizeof data, "%s/store", g_dir);
    int p[2];
    if (pipe(p) != 0)
        return -1;
    g_pid = fork();
    if (g_pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(cella, cella, "blobs", "serve", "--listen", "127.0.0.1:0", "--data", data,
              "--max-size", "256K", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f))
        return -1;
    fclose(f);
    const char *u = strstr(line, "http://");
    if (!u)
        return -1;
    snprintf(g_url, sizeof g_url, "%s", u);
    g_url[strcspn(g_url, "\n")] = '\0';
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        int st;
        waitpid(g_pid, &st, 0);
    }
    test_rmdir(g_dir);
    return 0;
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_succeeds(cella_write_file_atomic(fd, name, data, n, 0644, false));
    close(fd);
}

static void file_round_trip(void **state)
{
    (void)state;
    char *d = test_tmpdir();
    char src[4200], dst[4200];
    write_file(d, "a.bin", "Hello together\n", 15);
    snprintf(src, sizeof src, "%s/a.bin", d);
    snprintf(dst, sizeof dst, "%s/b.bin", d);
    uint8_t sha[32], want[32];
    assert_succeeds(cella_blob_put_file(g_url, src, sha));
    assert_succeeds(cella_sha256(want, "Hello together\n", 15));
    assert_memory_equal(sha, want, 32);
    assert_succeeds(cella_blob_get_file(g_url, sha, dst));
    uint8_t *b;
    size_t n;
    assert_succeeds(cella_read_file(AT_FDCWD, dst, 100, false, &b, &n));
    assert_int_equal(n, 15);
    assert_memory_equal(b, "Hello together\n", 15);
    free(b);
    assert_fails_with(cella_blob_get_file(g_url, sha, dst), CELLA_E_EXISTS);
    uint8_t missing[32] = {1};
    char m[4200];
    snprintf(m, sizeof m, "%s/missing", d);
    assert_fails_with(cella_blob_get_file(g_url, missing, m), CELLA_E_NOTFOUND);
    struct stat st;
    assert_int_not_equal(lstat(m, &st), 0);
    /* Over the server's 256 KiB limit: refused as too large. */
    static uint8_t big[300 * 1024];
    memset(big, 'z', sizeof big);
    write_file(d, "big", big, sizeof big);
    snprintf(src, sizeof src, "%s/big", d);
    assert_fails_with(cella_blob_put_file(g_url, src, sha), CELLA_E_TOOBIG);
    /* Forged on the server: refused, nothing written. */
    char forged[4300];
    char hex[65];
    assert_succeeds(cella_sha256(want, "Hello together\n", 15));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", want[i]);
    snprintf(forged, sizeof forged, "%s/store/sha256/%s", g_dir, hex);
    FILE *f = fopen(forged, "w");
    assert_non_null(f);
    fputs("Hello t0gether\n", f);
    fclose(f);
    snprintf(dst, sizeof dst, "%s/c.bin", d);
    assert_fails_with(cella_blob_get_file(g_url, want, dst), CELLA_E_AUTH);
    assert_int_not_equal(lstat(dst, &st), 0);
    f = fopen(forged, "w");
    fputs("Hello together\n", f);
    fclose(f);
    test_rmdir(d);
}

static void dir_round_trip(void **state)
{
    (void)state;
    char *d = test_tmpdir();
    char vol[4200], sub[4300], out[4200];
    snprintf(vol, sizeof vol, "%s/vol", d);
    mkdir(vol, 0755);
    snprintf(sub, sizeof sub, "%s/sub", vol);
    mkdir(sub, 0755);
    write_file(vol, "meta", "m", 1);
    write_file(sub, "chunk", "ciphertext", 10);
    uint8_t sha[32], sha2[32];
    assert_succeeds(cella_blob_put_dir(g_url, vol, sha));
    assert_succeeds(cella_blob_put_dir(g_url, vol, sha2));
    assert_memory_equal(sha, sha2, 32); /* deterministic */
    snprintf(out, sizeof out, "%s/out", d);
    assert_succeeds(cella_blob_get_dir(g_url, sha, out));
    char f[4300];
    snprintf(f, sizeof f, "%s/sub/chunk", out);
    uint8_t *b;
    size_t n;
    assert_succeeds(cella_read_file(AT_FDCWD, f, 100, false, &b, &n));
    assert_int_equal(n, 10);
    assert_memory_equal(b, "ciphertext", 10);
    free(b);
    assert_fails_with(cella_blob_get_dir(g_url, sha, out), CELLA_E_EXISTS);
    /* A symlink in the directory is refused before anything is sent. */
    char l[4300];
    snprintf(l, sizeof l, "%s/link", vol);
    assert_int_equal(symlink("/etc/passwd", l), 0);
    assert_fails_with(cella_blob_put_dir(g_url, vol, sha), CELLA_E_PATH);
    test_rmdir(d);
}

/* libcurl is loaded on first use (net/curl_lib.h): a library that is
 * missing, not a shared object, or not libcurl is refused with an error
 * naming it, and no table is left half filled; the real one loads. */
static void curl_lib_refused(void **state)
{
    (void)state;
    cella_curl_lib lib;
    assert_fails_with(cella_curl_lib_load("libcella-no-such-library.so.0", &lib),
                      CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "cannot load the HTTP transfer library"));
    assert_string_equal(cella_error_where(), "libcella-no-such-library.so.0");
    assert_null(lib.curl_easy_init);
    char *o = test_tmpdir();
    test_put_file(o, "libcurl.so.4", "not an ELF object", 0644);
    char bogus[4200];
    snprintf(bogus, sizeof bogus, "%s/libcurl.so.4", o);
    assert_fails_with(cella_curl_lib_load(bogus, &lib), CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "cannot load the HTTP transfer library"));
    assert_fails_with(cella_curl_lib_load("libc.so.6", &lib), CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "has no curl_global_init"));
    assert_null(lib.curl_global_init);
    assert_null(lib.curl_slist_free_all);
    cella_error_clear();
    const cella_curl_lib *real;
    assert_succeeds(cella_curl_lib_get(&real));
    assert_non_null(real->curl_easy_perform);
    test_rmdir(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_basics),
        cmocka_unit_test(curl_lib_refused),
    };
    const struct CMUnitTest server_tests[] = {
        cmocka_unit_test(file_round_trip),
        cmocka_unit_test(dir_round_trip),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (!getenv("CELLA")) {
        fprintf(stderr, "CELLA not set: skipping the server tests\n");
        return rc;
    }
    return rc | cmocka_run_group_tests(server_tests, start_server, stop_server);
}
