/* The app sandbox: what an app can and cannot do inside it. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "app/app.h"
#include "runtime/manifest.h"
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

/* Runs `s` with its stdout captured in `out` (NULL: dropped). */
static cella_sandbox_result run_spec(cella_sandbox_spec *s, char *out, size_t cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/stdout", g_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    s->stdout_fd = fd;
    s->stderr_fd = -1;
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(s, &r));
    if (out) {
        ssize_t n = pread(fd, out, cap - 1, 0);
        out[n > 0 ? n : 0] = '\0';
    }
    close(fd);
    return r;
}

/* Runs `script` with /bin/sh in the sandbox; stdout captured in `out`. */
static cella_sandbox_result run_sh(const char *script, const cella_bind *b, size_t nb,
                                   const char *const *env, uint32_t wall, uint64_t mem, char *out,
                                   size_t cap)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    cella_sandbox_spec s = {.argv = argv, .env = env, .binds = b, .nbinds = nb,
                            .wall_seconds = wall, .mem_bytes = mem};
    return run_spec(&s, out, cap);
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
    setenv("CELLA_SECRET_CANARY", "canary-3c1f", 1); /* the worker's environment */
    cella_sandbox_result r = run_sh("echo leak > /tmp/cella-sandbox-probe; env", NULL, 0, env, 10, 0,
                                    out, sizeof out);
    unsetenv("CELLA_SECRET_CANARY");
    assert_null(strstr(out, "canary-3c1f"));
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(access("/tmp/cella-sandbox-probe", F_OK), -1);
    assert_non_null(strstr(out, "SECRET=s3cr3t"));
    assert_null(strstr(out, "HOME="));   /* nothing from the host's environment */
    assert_null(strstr(out, "CELLA="));
}

/* A descriptor the runtime holds without O_CLOEXEC (its own, or one its
 * parent left open) does not reach the app. */
static void no_inherited_fds(void **state)
{
    (void)state;
    char f[700];
    snprintf(f, sizeof f, "%s/held.txt", g_dir);
    int fd = open(f, O_CREAT | O_RDWR, 0600);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 37), 37);
    const char *env[] = {"PATH=/usr/bin:/bin", NULL};
    cella_sandbox_result r = run_sh("test -e /proc/self/fd/37 && exit 5; "
                                    "test -e /proc/self/fd/0 || exit 6; exit 0",
                                    NULL, 0, env, 10, 0, NULL, 0);
    close(37);
    close(fd);
    assert_int_equal(r.exit_code, 0);
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

static void parse_manifest(unsigned heap_mb, cella_app_manifest *m)
{
    char j[300];
    int n = snprintf(j, sizeof j,
                     "{\"entrypoint\": \"app\", \"args\": [], \"heap_mb\": %u, \"stack_kb\": 8192,"
                     " \"env\": [\"B\", \"A\"], \"host_files\": [], \"runtime\": \"cella-runtime-1\"}",
                     heap_mb);
    assert_succeeds(cella_app_manifest_parse(cella_slice_of(j, (size_t)n), m));
}

/* The manifest is law: an app that allocates past heap_mb fails, and says why. */
static void manifest_heap_mb(void **state)
{
    (void)state;
    cella_app_manifest m;
    parse_manifest(16, &m);
    /* a string doubled to 32 MiB (and its 16 MiB half): past 16 MiB */
    const char *argv[] = {"/bin/sh", "-c",
                          "awk 'BEGIN { s = \"x\"; while (length(s) < 20000000) s = s s;"
                          " print length(s) }'",
                          NULL};
    cella_sandbox_spec s = {.argv = argv, .wall_seconds = 20, .stdout_fd = -1, .stderr_fd = -1};
    cella_manifest_limits(&m, 0, &s);
    assert_int_equal(s.mem_bytes, 16u << 20);
    assert_int_equal(s.stack_bytes, 8192u << 10);
    assert_int_equal(s.max_pids, CELLA_APP_MAX_PIDS);
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(&s, &r));
    assert_int_not_equal(r.exit_code, 0);
    assert_fails_with(cella_manifest_outcome(&m, &s, &r), CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "memory limit heap_mb=16"));
    /* a cgroup (v2, else v1) knows it was the limit; an rlimit cannot tell. As
     * root with the v1 memory hierarchy writable (this machine, CI) it is one. */
    if (geteuid() == 0 && access("/sys/fs/cgroup/memory", W_OK) == 0)
        assert_true(r.cgroup);
    if (r.cgroup)
        assert_non_null(strstr(cella_error_what(), "memory limit heap_mb=16 exceeded"));
    fprintf(stderr, "heap_mb=16 enforced by %s: %s\n", r.cgroup ? "a cgroup" : "RLIMIT_AS",
            cella_error_what());
    /* the operator's --memory only ever lowers it */
    cella_manifest_limits(&m, 8u << 20, &s);
    assert_int_equal(s.mem_bytes, 8u << 20);
    cella_manifest_limits(&m, 1u << 30, &s);
    assert_int_equal(s.mem_bytes, 16u << 20);
    /* the same app within its heap_mb succeeds */
    cella_app_manifest_free(&m);
    parse_manifest(512, &m);
    cella_manifest_limits(&m, 0, &s);
    assert_succeeds(cella_sandbox_run(&s, &r));
    assert_int_equal(r.exit_code, 0);
    assert_succeeds(cella_manifest_outcome(&m, &s, &r));
    /* the variables it lists */
    assert_true(cella_manifest_env_lists(&m, "A") && cella_manifest_env_lists(&m, "B"));
    assert_false(cella_manifest_env_lists(&m, "C") || cella_manifest_env_lists(&m, "AB"));
    cella_app_manifest_free(&m);
}

/* A time limit: the app is killed and the reason says so. */
static void manifest_time_limit(void **state)
{
    (void)state;
    cella_app_manifest m;
    parse_manifest(64, &m);
    const char *argv[] = {"/bin/sleep", "30", NULL};
    cella_sandbox_spec s = {.argv = argv, .wall_seconds = 1, .stdout_fd = -1, .stderr_fd = -1};
    cella_manifest_limits(&m, 0, &s);
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(&s, &r));
    assert_true(r.timed_out);
    assert_fails_with(cella_manifest_outcome(&m, &s, &r), CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "time limit of 1 s exceeded"));
    cella_app_manifest_free(&m);
}

/* A bounded fork bomb: 200 processes at once against a limit of 32. Root is
 * exempt from RLIMIT_NPROC, so without a cgroup there is nothing to show. */
static void manifest_pids_limit(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sh", "-c",
                          "i=0; while [ $i -lt 200 ]; do sleep 2 & i=$((i+1)); done; wait; exit 0",
                          NULL};
    cella_sandbox_spec s = {.argv = argv, .max_pids = 32, .wall_seconds = 20, .stdout_fd = -1,
                            .stderr_fd = -1};
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(&s, &r));
    if (!r.cgroup && geteuid() == 0)
        skip(); /* neither a cgroup's pids.max nor RLIMIT_NPROC binds root here */
    assert_int_not_equal(r.exit_code, 0);
}

/* A runtime killed mid-run leaves its (empty) v1 leaf behind; the next run
 * removes it, but not the leaf of a runtime of another pid namespace, whose
 * pid means nothing here. Only where this test finds the v1 memory cgroup at
 * its usual place (the runtime itself reads mountinfo). */
static void stale_leaf_swept(void **state)
{
    (void)state;
    char own[256] = "", line[512];
    struct stat ns;
    assert_int_equal(stat("/proc/self/ns/pid", &ns), 0);
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%*[0-9]:memory:%255s", own) == 1)
            break;
    if (f)
        fclose(f);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char leaf[512], other[512];
    const char *dir = strcmp(own, "/") == 0 ? "" : own;
    snprintf(leaf, sizeof leaf, "/sys/fs/cgroup/memory%s/cella-%lu-%ld-0", dir,
             (unsigned long)ns.st_ino, (long)dead);
    snprintf(other, sizeof other, "/sys/fs/cgroup/memory%s/cella-%lu-%ld-0", dir,
             (unsigned long)ns.st_ino + 1, (long)dead);
    if (geteuid() != 0 || !own[0] || mkdir(leaf, 0755) != 0)
        skip();
    assert_int_equal(mkdir(other, 0755), 0);
    const char *argv[] = {"/bin/true", NULL};
    cella_sandbox_spec s = {.argv = argv, .mem_bytes = 64u << 20, .stdout_fd = -1,
                            .stderr_fd = -1};
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(&s, &r));
    bool gone = access(leaf, F_OK) != 0, kept = access(other, F_OK) == 0;
    rmdir(leaf);
    rmdir(other);
    assert_true(r.cgroup);
    assert_true(gone);
    assert_true(kept);
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

/* ---- image apps: the image's root filesystem is the sandbox's / ------------------ */

/* g_dir/rootfs: a busybox image lacking /tmp, /proc, /dev and /iexec_in, with
 * a directory /data and a symbolic link /link -> bin; skips without a static
 * busybox. */
static void image_rootfs(char *rootfs, size_t cap)
{
    snprintf(rootfs, cap, "%s/rootfs", g_dir);
    test_rmdir(strdup(rootfs)); /* from a previous test */
    if (!test_busybox_rootfs(rootfs))
        skip();
    char p[700];
    snprintf(p, sizeof p, "%s/data", rootfs);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/link", rootfs);
    assert_int_equal(symlink("bin", p), 0);
}

/* Runs `script` with sh (found through PATH inside the image) in `rootfs`. */
static cella_sandbox_result run_image(const char *rootfs, const char *script, const cella_bind *b,
                                      size_t nb, const char *cwd, char *out, size_t cap)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    const char *env[] = {"PATH=/bin", NULL};
    cella_sandbox_spec s = {.argv = argv, .env = env, .rootfs = rootfs, .cwd = cwd, .binds = b,
                            .nbinds = nb, .set_user = true, .uid = 1234, .gid = 5678,
                            .wall_seconds = 20};
    return run_spec(&s, out, cap);
}

/* / is the image, read-only; /tmp, /proc, /dev, /iexec_in and /iexec_out
 * exist although the image lacks them; nothing of the host is there. */
static void image_is_the_root(void **state)
{
    (void)state;
    char rootfs[600], in[600], outd[600], vol[600], f[700], out[512];
    image_rootfs(rootfs, sizeof rootfs);
    snprintf(in, sizeof in, "%s/in", g_dir);
    snprintf(outd, sizeof outd, "%s/out", g_dir);
    snprintf(vol, sizeof vol, "%s/vol", g_dir);
    mkdir(in, 0755);
    mkdir(outd, 0777);
    mkdir(vol, 0755);
    snprintf(f, sizeof f, "%s/dataset.txt", in);
    FILE *h = fopen(f, "w");
    fputs("data\n", h);
    fclose(h);
    cella_bind b[] = {{in, "/iexec_in", false}, {outd, "/iexec_out", true}, {vol, "/data/vol", false}};
    cella_sandbox_result r = run_image(
        rootfs,
        "touch /x 2>/dev/null && exit 1; touch /bin/x 2>/dev/null && exit 2;"
        "touch /data/x 2>/dev/null && exit 3; touch /tmp/y || exit 4;"
        "test -e /usr && exit 5; test -e /etc/hostname && exit 6; test -e /usr/bin/python3 && exit 7;"
        "test -e /app && exit 8; test -d /proc/self || exit 9; test -c /dev/null || exit 10;"
        "cat /iexec_in/dataset.txt > /iexec_out/copy || exit 11; touch /iexec_in/z 2>/dev/null && exit 12;"
        "test -d /data/vol || exit 13; test -x /link/busybox || exit 14; echo \"$(pwd) $(id -u):$(id -g)\"",
        b, 3, "/data", out, sizeof out);
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(out, "/data 1234:5678\n");
    snprintf(f, sizeof f, "%s/copy", outd);
    assert_int_equal(access(f, F_OK), 0);
    /* the mount points were made on the sandbox's root, never in the image */
    const char *made[] = {"tmp", "proc", "dev", "iexec_in", "iexec_out", "data/vol", "x"};
    for (size_t i = 0; i < sizeof made / sizeof *made; i++) {
        snprintf(f, sizeof f, "%s/%s", rootfs, made[i]);
        assert_int_equal(access(f, F_OK), -1);
    }
    /* what the host has and the image hides (else the checks above prove nothing) */
    assert_int_equal(access("/etc/hostname", F_OK), 0);
}

/* A directory bundle still sees the host's system directories at their places. */
static void bundle_sees_system_dirs(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    cella_sandbox_result r =
        run_sh("test -x /usr/bin/python3 && test -e /etc/ld.so.cache && test ! -e /etc/hostname",
               NULL, 0, NULL, 10, 0, NULL, 0);
    assert_int_equal(r.exit_code, 0);
}

/* A mount point beneath a symbolic link of the image is refused (the link
 * would take it elsewhere); so is an image with a bundle at /app. */
static void image_bad_specs(void **state)
{
    (void)state;
    char rootfs[600];
    image_rootfs(rootfs, sizeof rootfs);
    const char *argv[] = {"sh", NULL};
    cella_bind b[] = {{g_dir, "/link/vol", false}};
    cella_sandbox_spec s = {.argv = argv, .rootfs = rootfs, .binds = b, .nbinds = 1,
                            .stdout_fd = -1, .stderr_fd = -1};
    cella_sandbox_result r;
    assert_fails_with(cella_sandbox_run(&s, &r), CELLA_E_PATH);
    assert_string_equal(cella_error_where(), "/link");
    cella_bind dots[] = {{g_dir, "/data/./vol", false}};
    s.binds = dots;
    assert_fails_with(cella_sandbox_run(&s, &r), CELLA_E_PATH);
    assert_non_null(strstr(cella_error_what(), "'.' or '..'"));
    s.nbinds = 0;
    s.app_dir = g_dir;
    assert_fails_with(cella_sandbox_run(&s, &r), CELLA_E_USAGE);
}

/* The manifest's heap_mb binds an image app as it binds a bundle, and the
 * failure says the same. */
static void image_heap_mb(void **state)
{
    (void)state;
    char rootfs[600];
    image_rootfs(rootfs, sizeof rootfs);
    cella_app_manifest m;
    parse_manifest(16, &m);
    const char *argv[] = {"awk", "BEGIN { s = \"x\"; while (length(s) < 20000000) s = s s;"
                                 " print length(s) }", NULL};
    const char *env[] = {"PATH=/bin", NULL};
    cella_sandbox_spec s = {.argv = argv, .env = env, .rootfs = rootfs, .wall_seconds = 20,
                            .stdout_fd = -1, .stderr_fd = -1};
    cella_manifest_limits(&m, 0, &s);
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(&s, &r));
    assert_int_not_equal(r.exit_code, 0);
    assert_fails_with(cella_manifest_outcome(&m, &s, &r), CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "memory limit heap_mb=16"));
    if (r.cgroup)
        assert_non_null(strstr(cella_error_what(), "memory limit heap_mb=16 exceeded"));
    cella_app_manifest_free(&m);
    parse_manifest(512, &m);
    cella_manifest_limits(&m, 0, &s);
    assert_succeeds(cella_sandbox_run(&s, &r));
    assert_succeeds(cella_manifest_outcome(&m, &s, &r));
    /* and the wall-clock limit */
    const char *sl[] = {"sleep", "30", NULL};
    s.argv = sl;
    s.wall_seconds = 1;
    assert_succeeds(cella_sandbox_run(&s, &r));
    assert_fails_with(cella_manifest_outcome(&m, &s, &r), CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "time limit of 1 s exceeded"));
    cella_app_manifest_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_status_and_volumes), cmocka_unit_test(private_tmp_and_env),
        cmocka_unit_test(no_inherited_fds),
        cmocka_unit_test(no_network), cmocka_unit_test(limits), cmocka_unit_test(bad_specs),
        cmocka_unit_test(manifest_heap_mb), cmocka_unit_test(manifest_time_limit),
        cmocka_unit_test(manifest_pids_limit), cmocka_unit_test(stale_leaf_swept),
        cmocka_unit_test(image_is_the_root), cmocka_unit_test(bundle_sees_system_dirs),
        cmocka_unit_test(image_bad_specs), cmocka_unit_test(image_heap_mb),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
