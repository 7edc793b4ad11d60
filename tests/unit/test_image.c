/* Image apps (lib/runtime/image.c): the command and environment as Docker
 * combines an image's config with the task's, the home directory from the
 * image's /etc/passwd, and an image bundle run end to end in the sandbox
 * with its working directory, PATH, HOME, environment, args and user. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "runtime/image.h"
#include "runtime/manifest.h"
#include "runtime/sandbox.h"
#include "testutil.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = test_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmdir(g_dir);
    return 0;
}

/* The vector's strings joined by '|' (NULL-terminated vector). */
static void join(const char *const *v, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; v[i]; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "|" : "", v[i]);
}

static void argv_is(cella_app_image *im, const char *const *args, size_t nargs, const char *want)
{
    const char **v;
    char got[512];
    assert_succeeds(cella_image_argv(im, args, nargs, &v));
    join(v, got, sizeof got);
    assert_string_equal(got, want);
    free(v);
}

/* Entrypoint ++ (the task's args if any, else Cmd). */
static void docker_argv(void **state)
{
    (void)state;
    char *ep[] = {"/bin/app", "--fixed"}, *cmd[] = {"--default"};
    const char *args[] = {"t1", "t 2"};
    cella_app_image im = {.entrypoint = ep, .nentrypoint = 2, .cmd = cmd, .ncmd = 1};
    argv_is(&im, NULL, 0, "/bin/app|--fixed|--default");    /* both */
    argv_is(&im, args, 2, "/bin/app|--fixed|t1|t 2");        /* args replace Cmd */
    im.ncmd = 0;
    argv_is(&im, NULL, 0, "/bin/app|--fixed");               /* Entrypoint only */
    cella_app_image cmd_only = {.cmd = cmd, .ncmd = 1};
    argv_is(&cmd_only, NULL, 0, "--default");                /* Cmd only */
    argv_is(&cmd_only, args, 2, "t1|t 2");                   /* the args are the command */
    cella_app_image none = {0};
    const char **v;
    assert_fails_with(cella_image_argv(&none, NULL, 0, &v), CELLA_E_USAGE);
    assert_null(v);
}

/* The image's Env, the task's variables on top; PATH and HOME defaults. */
static void docker_env(void **state)
{
    (void)state;
    char *env[] = {"A=image", "PATH=/opt/bin", "B=image", "A=later"};
    const char *over[] = {"B=task", "IEXEC_IN=/iexec_in", NULL};
    cella_app_image im = {.env = env, .nenv = 4};
    const char **v;
    char got[512];
    assert_succeeds(cella_image_env(&im, over, "HOME=/root", &v));
    join(v, got, sizeof got);
    assert_string_equal(got, "A=later|PATH=/opt/bin|B=task|IEXEC_IN=/iexec_in|HOME=/root");
    free(v);
    cella_app_image bare = {0};
    const char *home[] = {"HOME=/h", NULL};
    assert_succeeds(cella_image_env(&bare, home, "HOME=/", &v));
    join(v, got, sizeof got);
    assert_string_equal(got, "HOME=/h|" CELLA_IMAGE_DEFAULT_PATH);
    free(v);
}

static void home_is(const char *passwd, uint32_t uid, const char *want)
{
    char out[64];
    cella_image_home(cella_slice_of(passwd, strlen(passwd)), uid, out, sizeof out);
    assert_string_equal(out, want);
}

/* runc's rule: the user's home in the image's passwd, else "/". */
static void passwd_home(void **state)
{
    (void)state;
    const char *pw = "root:x:0:0:root:/root:/bin/sh\n"
                     "app:x:1000:1000::/home/app:/bin/sh\n"
                     "rel:x:1001:1001::home/rel:/bin/sh\n"
                     "short:x:1002\n"
                     "dup:x:1000:1000::/home/dup:/bin/sh";
    home_is(pw, 0, "HOME=/root");
    home_is(pw, 1000, "HOME=/home/app"); /* the first entry of the uid */
    home_is(pw, 1001, "HOME=/");         /* not absolute */
    home_is(pw, 1002, "HOME=/");         /* too few fields */
    home_is(pw, 7, "HOME=/");            /* no entry */
    home_is("x:x:+0:0::/plus:/bin/sh\nx:x:00:0::/zeros:/bin/sh\n", 0, "HOME=/zeros");
    home_is("big:x:4294967296:0::/wrap:/bin/sh\n", 0, "HOME=/"); /* 2^32 is not uid 0 */
    home_is("long:x:5:5::/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:/sh\n", 5,
            "HOME=/");                   /* does not fit */
    home_is("", 0, "HOME=/");
}

/* ---- an image bundle run end to end ------------------------------------------------ */

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* g_dir/NAME: an image bundle (busybox rootfs, /etc/passwd, /work) with the
 * image object `image` (JSON). Skips without a static busybox. */
static void make_bundle(const char *name, const char *image, char *dir, size_t cap)
{
    char p[1200];
    snprintf(dir, cap, "%s/%s", g_dir, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(p, sizeof p, "%s/rootfs", dir);
    if (!test_busybox_rootfs(p))
        skip();
    snprintf(p, sizeof p, "%s/rootfs/etc", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/rootfs/etc/passwd", dir);
    write_file(p, "root:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1000::/home/app:/bin/sh\n", 0644);
    snprintf(p, sizeof p, "%s/rootfs/work", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/" CELLA_APP_MANIFEST, dir);
    char m[2048];
    snprintf(m, sizeof m,
             "{\"heap_mb\": 64, \"stack_kb\": 8192, \"env\": [], \"host_files\": [],"
             " \"runtime\": \"cella-runtime-1\", \"image\": %s}", image);
    write_file(p, m, 0644);
}

/* Runs the bundle as a task would (task args, task variables); its stdout. */
static int run_bundle(const char *dir, const char *const *args, size_t nargs, char *out,
                      size_t cap)
{
    cella_app_manifest m;
    assert_succeeds(cella_app_load(dir, &m));
    const char *over[] = {"IEXEC_IN=/iexec_in", "GREETING=task", NULL};
    char path[1300];
    snprintf(path, sizeof path, "%s.out", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cella_sandbox_spec spec = {.wall_seconds = 20, .stdout_fd = fd, .stderr_fd = -1,
                               .app_dir = dir, .cwd = "/"};
    cella_image_run ir;
    assert_succeeds(cella_image_prepare(&m, dir, args, nargs, over, &ir, &spec));
    cella_manifest_limits(&m, 0, &spec);
    cella_sandbox_result r;
    assert_succeeds(cella_sandbox_run(&spec, &r));
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    cella_image_run_free(&ir);
    cella_app_manifest_free(&m);
    return r.exit_code;
}

/* What the app prints: where it is, who, PATH, HOME, two variables, its args. */
#define SHOW "\"echo \\\"$(pwd) $(id -u):$(id -g) $PATH $HOME $GREETING $IEXEC_IN [$*]\\\"\""

static void image_bundle_runs(void **state)
{
    (void)state;
    if (!cella_sandbox_available())
        skip();
    char dir[1100], out[1024];
    const char *args[] = {"t1", "t2"};
    /* Entrypoint and Cmd; a relative "sh" found through the image's PATH */
    make_bundle("both",
                "{\"entrypoint\": [\"sh\", \"-c\", " SHOW ", \"app\"], \"cmd\": [\"c1\"],"
                " \"env\": [\"PATH=/bin\", \"GREETING=image\", \"HOME=/img\"],"
                " \"working_dir\": \"/work\", \"user\": \"1000:1000\"}",
                dir, sizeof dir);
    assert_int_equal(run_bundle(dir, NULL, 0, out, sizeof out), 0);
    assert_string_equal(out, "/work 1000:1000 /bin /img task /iexec_in [c1]\n");
    assert_int_equal(run_bundle(dir, args, 2, out, sizeof out), 0); /* args replace Cmd */
    assert_string_equal(out, "/work 1000:1000 /bin /img task /iexec_in [t1 t2]\n");
    /* Cmd only, no PATH nor HOME in the image: Docker's PATH, the passwd home */
    make_bundle("cmd",
                "{\"entrypoint\": [], \"cmd\": [\"/bin/sh\", \"-c\", " SHOW ", \"app\", \"c1\"],"
                " \"env\": [], \"working_dir\": \"/\", \"user\": \"0:0\"}",
                dir, sizeof dir);
    assert_int_equal(run_bundle(dir, NULL, 0, out, sizeof out), 0);
    char want[300];
    snprintf(want, sizeof want, "/ 0:0 %s /root task /iexec_in [c1]\n",
             &CELLA_IMAGE_DEFAULT_PATH[strlen("PATH=")]);
    assert_string_equal(out, want);
    /* with args the Cmd is gone: the args are the whole command */
    const char *cmd[] = {"sh", "-c", "echo \"$HOME $0\"", "only"};
    assert_int_equal(run_bundle(dir, cmd, 4, out, sizeof out), 0);
    assert_string_equal(out, "/root only\n");
    /* Entrypoint only, a user the image's passwd does not know: HOME=/ */
    make_bundle("entry",
                "{\"entrypoint\": [\"/bin/sh\", \"-c\", " SHOW ", \"app\", \"e1\"], \"cmd\": [],"
                " \"env\": [\"PATH=/bin\"], \"working_dir\": \"/work\", \"user\": \"4242:7\"}",
                dir, sizeof dir);
    assert_int_equal(run_bundle(dir, NULL, 0, out, sizeof out), 0);
    assert_string_equal(out, "/work 4242:7 /bin / task /iexec_in [e1]\n");
    /* the host's python3 and hostname are not there */
    const char *probe[] = {"-c", "test ! -e /usr/bin/python3 && test ! -e /etc/hostname"};
    make_bundle("probe",
                "{\"entrypoint\": [\"/bin/sh\"], \"cmd\": [], \"env\": [],"
                " \"working_dir\": \"/\", \"user\": \"0:0\"}",
                dir, sizeof dir);
    assert_int_equal(run_bundle(dir, probe, 2, out, sizeof out), 0);
    assert_int_equal(access("/etc/hostname", F_OK), 0);
}

/* The image's /etc/passwd is read inside rootfs only: a link there (to a
 * host file) is not followed, and the home is then "/". */
static void passwd_link_not_followed(void **state)
{
    (void)state;
    if (!cella_sandbox_available())
        skip();
    char dir[1100], p[1300], host[1300], out[256];
    make_bundle("link",
                "{\"entrypoint\": [\"/bin/sh\", \"-c\", \"echo $HOME\"], \"cmd\": [], \"env\": [],"
                " \"working_dir\": \"/\", \"user\": \"0:0\"}",
                dir, sizeof dir);
    snprintf(host, sizeof host, "%s/host-passwd", g_dir);
    write_file(host, "root:x:0:0:root:/leaked:/bin/sh\n", 0644);
    snprintf(p, sizeof p, "%s/rootfs/etc/passwd", dir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(host, p), 0);
    assert_int_equal(run_bundle(dir, NULL, 0, out, sizeof out), 0);
    assert_string_equal(out, "/\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(docker_argv),
        cmocka_unit_test(docker_env),
        cmocka_unit_test(passwd_home),
        cmocka_unit_test(image_bundle_runs),
        cmocka_unit_test(passwd_link_not_followed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
