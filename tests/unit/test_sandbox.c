/* The app sandbox: what an app can and cannot do inside it. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "runtime/sandbox.h"
#include "testutil.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    if (!cella_sandbox_available()) {
        fprintf(stderr, "bubblewrap cannot create namespaces here\n");
        return -1;
    }
    g_dir = test_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmdir(g_dir);
    return 0;
}

/* Runs `script` with /bin/sh in the sandbox; stdout captured in `out`. */
static cella_sandbox_result run_sh(const char *script, const cella_bind *b, size_t nb,
                                   const char *const *env, uint32_t wall, uint64_t mem, char *out,
                                   size_t cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/stdout", g_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    cella_sandbox_spec s = {.argv = argv, .env = env, .binds = b, .nbinds = nb,
                            .wall_seconds = wall, .mem_bytes = mem, .stdout_fd = fd,
                            .stderr_fd = -1};
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(&s, &r));
    if (out) {
        ssize_t n = pread(fd, out, cap - 1, 0);
        out[n > 0 ? n : 0] = '\0';
    }
    close(fd);
    return r;
}

static void exit_status_and_volumes(void **state)
{
    (void)state;
    char in[600], outd[600], f[700], buf[256];
    snprintf(in, sizeof in, "%s/in", g_dir);
    snprintf(outd, sizeof outd, "%s/out", g_dir);
    mkdir(in, 0755);
    mkdir(outd, 0755);
    snprintf(f, sizeof f, "%s/hello.txt", in);
    FILE *h = fopen(f, "w");
    fputs("Hello world\n", h);
    fclose(h);
    cella_bind b[] = {{in, "/encryptedInputs", false}, {outd, "/encryptedOutputs", true}};
    cella_sandbox_result r = run_sh("cp /encryptedInputs/hello.txt /encryptedOutputs/ && exit 3",
                                    b, 2, NULL, 10, 0, NULL, 0);
    assert_int_equal(r.exit_code, 3);
    snprintf(f, sizeof f, "%s/hello.txt", outd);
    assert_int_equal(access(f, F_OK), 0);
    /* inputs are read-only */
    r = run_sh("echo x > /encryptedInputs/new", b, 2, NULL, 10, 0, NULL, 0);
    assert_int_not_equal(r.exit_code, 0);
    snprintf(f, sizeof f, "%s/new", in);
    assert_int_equal(access(f, F_OK), -1);
    /* the root is read-only and holds no host data */
    r = run_sh("touch /usr/x || exit 9", b, 2, NULL, 10, 0, NULL, 0);
    assert_int_equal(r.exit_code, 9);
    snprintf(buf, sizeof buf, "test -e %s && exit 1; test -e /root && exit 2; test -e /work && exit 3; exit 0", g_dir);
    r = run_sh(buf, b, 2, NULL, 10, 0, NULL, 0);
    assert_int_equal(r.exit_code, 0);
}

static void private_tmp_and_env(void **state)
{
    (void)state;
    char out[4096];
    const char *env[] = {"SECRET=s3cr3t", "PATH=/usr/bin:/bin", NULL};
    cella_sandbox_result r = run_sh("echo leak > /tmp/cella-sandbox-probe; env", NULL, 0, env, 10, 0,
                                    out, sizeof out);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(access("/tmp/cella-sandbox-probe", F_OK), -1);
    assert_non_null(strstr(out, "SECRET=s3cr3t"));
    assert_null(strstr(out, "HOME="));   /* nothing from the host's environment */
    assert_null(strstr(out, "CELLA="));
}

static void no_network(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    listen(s, 1);
    getsockname(s, (struct sockaddr *)&a, &l);
    char script[256];
    snprintf(script, sizeof script,
             "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", %d), 2)' 2>/dev/null"
             " && exit 0 || exit 7", ntohs(a.sin_port));
    const char *env[] = {"PATH=/usr/bin:/bin", NULL};
    cella_sandbox_result r = run_sh(script, NULL, 0, env, 20, 0, NULL, 0);
    assert_int_equal(r.exit_code, 7);
    close(s);
}

static void limits(void **state)
{
    (void)state;
    cella_sandbox_result r = run_sh("sleep 30", NULL, 0, NULL, 1, 0, NULL, 0);
    assert_true(r.timed_out);
    assert_int_equal(r.exit_code, 128 + 9);
    const char *env[] = {"PATH=/usr/bin:/bin", NULL};
    r = run_sh("python3 -c 'b = bytearray(600 * 1024 * 1024)' 2>/dev/null && exit 0 || exit 5",
               NULL, 0, env, 20, 256ull << 20, NULL, 0);
    assert_int_equal(r.exit_code, 5);
}

static void bad_specs(void **state)
{
    (void)state;
    cella_bind b[] = {{"/tmp", "relative", true}};
    const char *argv[] = {"/bin/true", NULL};
    cella_sandbox_spec s = {.argv = argv, .binds = b, .nbinds = 1, .stdout_fd = -1, .stderr_fd = -1};
    cella_sandbox_result r;
    assert_fails_with(cella_sandbox_run(&s, &r), CELLA_E_PATH);
    cella_bind up[] = {{"/tmp", "/a/../etc", true}};
    s.binds = up;
    assert_fails_with(cella_sandbox_run(&s, &r), CELLA_E_PATH);
    const char *none[] = {NULL};
    cella_sandbox_spec e = {.argv = none, .stdout_fd = -1, .stderr_fd = -1};
    assert_fails_with(cella_sandbox_run(&e, &r), CELLA_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_status_and_volumes), cmocka_unit_test(private_tmp_and_env),
        cmocka_unit_test(no_network), cmocka_unit_test(limits), cmocka_unit_test(bad_specs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
