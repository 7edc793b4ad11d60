/* The task enclave's pure parts: iexec_args splitting and the result digest
 * (what an app's computed.json may name, and what it may not). */
#include <fcntl.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "identity/keccak.h"
#include "runtime/task.h"

static void put(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void sha(const char *text, uint8_t out[32])
{
    SHA256((const unsigned char *)text, strlen(text), out);
}

/* ---- cella_task_split_args ---- */

static void split_ok(const char *s, size_t want_n, const char *const *want)
{
    char **v = NULL;
    size_t n = 99;
    assert_succeeds(cella_task_split_args(s, &v, &n));
    assert_int_equal(n, want_n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i], want[i]);
    assert_null(v[n]);
    free(v);
}

static void test_split_args(void **state)
{
    (void)state;
    split_ok("", 0, NULL);
    split_ok(" \t\n ", 0, NULL);
    split_ok("a", 1, (const char *const[]){"a"});
    split_ok("  2  ", 1, (const char *const[]){"2"});
    split_ok("a b\tc\nd", 4, (const char *const[]){"a", "b", "c", "d"});
    split_ok("'a b' \"c d\" e\\ f", 3, (const char *const[]){"a b", "c d", "e f"});
    split_ok("'' \"\"", 2, (const char *const[]){"", ""});
    split_ok("x'y'\"z\"", 1, (const char *const[]){"xyz"});
    split_ok("'a\\b' \"c\\\"d\"", 2, (const char *const[]){"a\\b", "c\"d"});
    split_ok("trailing\\", 1, (const char *const[]){"trailing\\"});
    char **v = NULL;
    size_t n = 0;
    assert_fails_with(cella_task_split_args("'open", &v, &n), CELLA_E_PARSE);
    assert_fails_with(cella_task_split_args("a \"open", &v, &n), CELLA_E_PARSE);
    /* the densest input: one-letter words, up to the limit and past it */
    char big[2 * 300 + 1];
    for (int i = 0; i < 300; i++) {
        big[2 * i] = 'x';
        big[2 * i + 1] = ' ';
    }
    big[2 * 256 - 1] = '\0';
    assert_succeeds(cella_task_split_args(big, &v, &n));
    assert_int_equal(n, 256);
    free(v);
    big[2 * 256 - 1] = ' ';
    big[2 * 257 - 1] = '\0';
    assert_fails_with(cella_task_split_args(big, &v, &n), CELLA_E_TOOBIG);
}

/* ---- cella_task_digest ---- */

static void test_digest_file_and_folder(void **state)
{
    (void)state;
    char *d = test_tmpdir();
    char p[1024];
    put(d, "b.txt", "bee");
    put(d, "a.txt", "ay");
    snprintf(p, sizeof p, "%s/sub", d);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/link", d);
    assert_int_equal(symlink("a.txt", p), 0);
    uint8_t got[32], want[32], h[64];
    snprintf(p, sizeof p, "%s/a.txt", d);
    assert_succeeds(cella_task_digest(p, got));
    sha("ay", want);
    assert_memory_equal(got, want, 32);
    /* a folder: keccak256 of its regular files' SHA-256, sorted by name */
    sha("ay", h);
    sha("bee", h + 32);
    cella_keccak256(want, h, 64);
    assert_succeeds(cella_task_digest(d, got));
    assert_memory_equal(got, want, 32);
    snprintf(p, sizeof p, "%s/link", d);
    assert_int_not_equal(cella_task_digest(p, got).code, CELLA_OK);
    test_rmdir(d);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "cella_task_digest blocked on a FIFO\n";
    (void)!write(2, m, sizeof m - 1);
    _exit(1);
}

/* An app can leave a FIFO in /iexec_out and name it: the digest must refuse
 * it at once, not wait forever for a writer (the enclave, the worker's slot
 * and the task's lease would hang with it). */
static void test_digest_fifo_does_not_block(void **state)
{
    (void)state;
    char *d = test_tmpdir();
    char p[1024];
    snprintf(p, sizeof p, "%s/fifo", d);
    assert_int_equal(mkfifo(p, 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(5);
    uint8_t got[32];
    assert_fails_with(cella_task_digest(p, got), CELLA_E_PARSE);
    assert_fails_with(cella_task_digest_beneath(d, "fifo", got), CELLA_E_PARSE);
    alarm(0);
    test_rmdir(d);
}

/* What computed.json names is resolved beneath the output folder: no symlink
 * anywhere on the way (the app makes them), so neither a host file nor the
 * existence of one can be reached through it. */
static void test_digest_beneath(void **state)
{
    (void)state;
    char *d = test_tmpdir();
    char out[512], p[1024], host[512];
    snprintf(out, sizeof out, "%s/out", d);
    snprintf(host, sizeof host, "%s/host", d);
    assert_int_equal(mkdir(out, 0700), 0);
    assert_int_equal(mkdir(host, 0700), 0);
    put(host, "secret", "host secret");
    snprintf(p, sizeof p, "%s/sub", out);
    assert_int_equal(mkdir(p, 0700), 0);
    put(p, "x", "ex");
    snprintf(p, sizeof p, "%s/l", out);
    assert_int_equal(symlink(host, p), 0);
    snprintf(p, sizeof p, "%s/abs", out);
    assert_int_equal(symlink("/", p), 0);
    uint8_t got[32], want[32];
    assert_succeeds(cella_task_digest_beneath(out, "sub/x", got));
    sha("ex", want);
    assert_memory_equal(got, want, 32);
    assert_fails_with(cella_task_digest_beneath(out, "l/secret", got), CELLA_E_PATH);
    assert_fails_with(cella_task_digest_beneath(out, "l", got), CELLA_E_PATH);
    assert_fails_with(cella_task_digest_beneath(out, "abs/etc/hostname", got), CELLA_E_PATH);
    /* a path that does not exist beyond a symlink says the same as one that does */
    assert_fails_with(cella_task_digest_beneath(out, "abs/no/such/file", got), CELLA_E_PATH);
    assert_fails_with(cella_task_digest_beneath(out, "sub/../../host/secret", got), CELLA_E_PATH);
    assert_fails_with(cella_task_digest_beneath(out, "missing", got), CELLA_E_NOTFOUND);
    /* the errors name the path as the app wrote it, not the host's folders */
    assert_int_not_equal(cella_task_digest_beneath(out, "l/secret", got).code, CELLA_OK);
    assert_null(strstr(cella_error_what(), d));
    assert_null(strstr(cella_error_where(), d));
    /* "" is the whole output folder; an empty folder hashes to keccak256("") */
    assert_succeeds(cella_task_digest_beneath(out, "", got));
    snprintf(p, sizeof p, "%s/empty", out);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_succeeds(cella_task_digest_beneath(out, "empty", got));
    cella_keccak256(want, "", 0);
    assert_memory_equal(got, want, 32);
    test_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_args),
        cmocka_unit_test(test_digest_file_and_folder),
        cmocka_unit_test(test_digest_fifo_does_not_block),
        cmocka_unit_test(test_digest_beneath),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
