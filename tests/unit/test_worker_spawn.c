/* Unit tests for worker/spawn (the enclave process of a worker slot): its exit
 * status, waiting with a time limit, and what it does not inherit from the
 * worker (a terminal's Ctrl-C, the worker's stdin, a slot thread's blocked
 * signals). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "testutil.h"
#include "worker/spawn.h"

static int run_to_end(const char *const *argv, int log_fd)
{
    cella_child c;
    assert_succeeds(cella_child_spawn(argv, log_fd, "test", &c));
    int status = 0;
    assert_true(cella_child_wait(&c, 20000, &status));
    return status;
}

static void exit_status_is_the_childs(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    int st = run_to_end(argv, 2);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
}

static void wait_returns_when_the_time_runs_out(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sleep", "30", NULL};
    cella_child c;
    assert_succeeds(cella_child_spawn(argv, 2, "test", &c));
    int status = 0;
    assert_false(cella_child_wait(&c, 50, &status)); /* still running */
    kill(c.pid, SIGKILL);
    assert_true(cella_child_wait(&c, 20000, &status));
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void a_missing_program_is_an_error(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/cella-enclave", NULL};
    cella_child c;
    assert_fails_with(cella_child_spawn(argv, 2, "test", &c), CELLA_E_IO);
    assert_non_null(strstr(cella_error_what(), strerror(ENOENT))); /* the child's errno */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* reaped: no child left */
    assert_int_equal(errno, ECHILD);
}

/* Runs argv (a program that reports on itself: /proc/self is the child)
 * and returns what it wrote; with stdin a file and SIGUSR1 blocked in the
 * calling thread, as a slot thread could have them. */
static char *report(const char *const *argv)
{
    char *dir = test_tmpdir();
    char logp[600], inp[600];
    snprintf(logp, sizeof logp, "%s/log", dir);
    snprintf(inp, sizeof inp, "%s/in", dir);
    test_put_file(dir, "in", "the worker's stdin\n", 0600);
    int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int in = open(inp, O_RDONLY | O_CLOEXEC), saved = dup(0);
    assert_true(fd >= 0 && in >= 0 && saved >= 0);
    assert_int_equal(dup2(in, 0), 0);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    cella_child c;
    cella_res r = cella_child_spawn(argv, fd, "test", &c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    dup2(saved, 0);
    close(saved);
    close(in);
    close(fd);
    assert_succeeds(r);
    int status = 0;
    assert_true(cella_child_wait(&c, 20000, &status));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    uint8_t *t = NULL;
    size_t n = 0;
    assert_succeeds(cella_read_file(AT_FDCWD, logp, 4096, false, &t, &n));
    test_rmdir(dir);
    return (char *)t;
}

/* A terminal's Ctrl-C to the worker's group does not kill the enclave (the
 * worker finishes its tasks), but killing that group does: the enclave is in
 * it. SigIgn is a hex mask, bit 1 (value 2) is SIGINT. */
static void the_child_ignores_sigint_in_the_workers_group(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/grep", "-E", "^(NSpgid|SigIgn)", "/proc/self/status", NULL};
    char *t = report(argv);
    char want[80];
    snprintf(want, sizeof want, "NSpgid:\t%d\n", (int)getpgrp());
    assert_non_null(strstr(t, want));
    const char *ign = strstr(t, "SigIgn:\t");
    assert_non_null(ign);
    unsigned long long mask = strtoull(ign + 8, NULL, 16);
    assert_true(mask & (1ull << (SIGINT - 1)));
    free(t);
}

/* Nothing of the worker's stdin (a terminal, a pipe) reaches the enclave. */
static void the_child_reads_dev_null(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/readlink", "/proc/self/fd/0", NULL};
    char *t = report(argv);
    assert_string_equal(t, "/dev/null\n");
    free(t);
}

/* A signal the slot thread blocks is not blocked in the enclave. */
static void the_child_blocks_no_signal(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/grep", "^SigBlk", "/proc/self/status", NULL};
    char *t = report(argv);
    assert_string_equal(t, "SigBlk:\t0000000000000000\n");
    free(t);
}

/* The CPU of an enclave is counted once the worker waited for it. */
static void a_childs_cpu_is_counted(void **state)
{
    (void)state;
    double self = cella_cpu_ms(false), before = cella_cpu_ms(true);
    const char *argv[] = {"/bin/sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
                          NULL};
    int st = run_to_end(argv, 2);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(cella_cpu_ms(true) > before);
    assert_true(cella_cpu_ms(false) >= self);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_status_is_the_childs),
        cmocka_unit_test(wait_returns_when_the_time_runs_out),
        cmocka_unit_test(a_missing_program_is_an_error),
        cmocka_unit_test(the_child_ignores_sigint_in_the_workers_group),
        cmocka_unit_test(the_child_reads_dev_null),
        cmocka_unit_test(the_child_blocks_no_signal),
        cmocka_unit_test(a_childs_cpu_is_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
