/* core/stage: staged output published with one rename. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/stage.h"

/* Staging entries left in `dir`. */
static int stagings(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += !strncmp(e->d_name, CELLA_STAGE_PREFIX, strlen(CELLA_STAGE_PREFIX));
    closedir(d);
    return n;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void files(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/out.bin", dir);
    cella_stage s;
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, false, 0640));
    assert_int_equal(stagings(dir), 1);
    assert_succeeds(cella_pwrite_full(s.fd, "new", 3, 0, p));
    assert_succeeds(cella_stage_publish(&s, false));
    cella_stage_abort(&s); /* a no-op once published */
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(st.st_size, 3);
    /* not replaced unless asked; the refused staging file is gone */
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, false, 0600));
    assert_fails_with(cella_stage_publish(&s, false), CELLA_E_EXISTS);
    assert_int_equal(stagings(dir), 0);
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, false, 0600));
    assert_succeeds(cella_stage_publish(&s, true));
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    /* aborted: nothing left */
    snprintf(p, sizeof p, "%s/never", dir);
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, false, 0600));
    cella_stage_abort(&s);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(stagings(dir), 0);
    assert_fails_with(cella_stage_open(&s, AT_FDCWD, ".", false, 0600), CELLA_E_PATH);
    test_rmdir(dir);
}

static void directories(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char p[600], q[700];
    snprintf(p, sizeof p, "%s/out", dir);
    /* an empty directory is replaced in one step and keeps its mode */
    assert_int_equal(mkdir(p, 0751), 0);
    chmod(p, 0751);
    cella_stage s;
    snprintf(q, sizeof q, "%s/", p); /* a trailing slash names the same output */
    assert_succeeds(cella_stage_check_new(AT_FDCWD, q, true));
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, q, true, 0700));
    assert_int_equal(mkdirat(s.fd, "sub", 0700), 0);
    assert_succeeds(cella_stage_publish(&s, false));
    struct stat st;
    snprintf(q, sizeof q, "%s/sub", p);
    assert_int_equal(stat(q, &st), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0751);
    /* a non-empty one is refused, untouched, and the staging tree removed */
    assert_fails_with(cella_stage_check_new(AT_FDCWD, p, true), CELLA_E_EXISTS);
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, true, 0700));
    assert_int_equal(mkdirat(s.fd, "other", 0700), 0);
    assert_fails_with(cella_stage_publish(&s, false), CELLA_E_EXISTS);
    snprintf(q, sizeof q, "%s/other", p);
    assert_int_equal(access(q, F_OK), -1);
    assert_int_equal(stagings(dir), 0);
    test_rmdir(dir);
}

/* A mount point cannot be renamed over: refused before any work is done. */
static void mount_point(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/mnt", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0) {
        print_message("skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        test_rmdir(dir);
        return;
    }
    cella_stage s;
    assert_fails_with(cella_stage_open(&s, AT_FDCWD, p, true, 0700), CELLA_E_UNSUPPORTED);
    assert_int_equal(stagings(dir), 0);
    assert_int_equal(umount(p), 0);
    test_rmdir(dir);
}

static void exchange(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char p[600], q[700], aside[700];
    snprintf(p, sizeof p, "%s/vol", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(q, sizeof q, "%s/old", p);
    put(q, "old");
    struct stat old;
    assert_int_equal(stat(p, &old), 0);
    cella_stage s;
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, true, 0700));
    assert_int_equal(mkdirat(s.fd, "new", 0700), 0);
    assert_succeeds(cella_stage_publish_exchange(&s, &old));
    assert_int_equal(access(q, F_OK), -1);
    snprintf(q, sizeof q, "%s/new", p);
    assert_int_equal(access(q, F_OK), 0);
    assert_int_equal(stagings(dir), 0);
    /* the directory was replaced by someone else since we looked: no swap */
    assert_int_equal(stat(p, &old), 0);
    snprintf(aside, sizeof aside, "%s/aside", dir);
    assert_int_equal(rename(p, aside), 0);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, true, 0700));
    assert_int_equal(mkdirat(s.fd, "mine", 0700), 0);
    assert_fails_with(cella_stage_publish_exchange(&s, &old), CELLA_E_EXISTS);
    snprintf(q, sizeof q, "%s/mine", p);
    assert_int_equal(access(q, F_OK), -1);
    assert_int_equal(stagings(dir), 0);
    test_rmdir(dir);
}

/* Staging entries of dead processes are removed by the next run on the same
 * destination; those of live processes, and of other destinations, are not. */
static void stale_entries(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    assert_true(dead > 0);
    waitpid(dead, NULL, 0);
    char gone[700], mine[700], live[700], other[700], p[800];
    snprintf(gone, sizeof gone, "%s/" CELLA_STAGE_PREFIX "out-%ld-0123456789abcdef", dir, (long)dead);
    snprintf(mine, sizeof mine, "%s/" CELLA_STAGE_PREFIX "out-%ld-0123456789abcdef", dir,
             (long)getpid());
    snprintf(live, sizeof live, "%s/" CELLA_STAGE_PREFIX "out-%ld-0123456789abcdef", dir,
             (long)getppid());
    snprintf(other, sizeof other, "%s/" CELLA_STAGE_PREFIX "out-2-%ld-0123456789abcdef", dir,
             (long)dead);
    assert_int_equal(mkdir(gone, 0700), 0);
    snprintf(p, sizeof p, "%s/plain", gone);
    put(p, "plaintext");
    put(mine, "left by an earlier process with our pid");
    put(live, "a running process's");
    put(other, "another destination's");
    snprintf(p, sizeof p, "%s/out", dir);
    cella_stage s;
    assert_succeeds(cella_stage_open(&s, AT_FDCWD, p, true, 0700));
    cella_stage_abort(&s);
    assert_int_equal(access(gone, F_OK), -1);
    assert_int_equal(access(mine, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(files),
        cmocka_unit_test(directories),
        cmocka_unit_test(mount_point),
        cmocka_unit_test(exchange),
        cmocka_unit_test(stale_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
