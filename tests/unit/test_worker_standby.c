/* Unit tests for the standby runtime (worker/standby.h, runtime/standby.h):
 * one message handed, one process per task; a second task is never handed
 * to a process that had one (worker side), and a stream carrying more than
 * one message is refused before anything runs (runtime side). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "runtime/standby.h"
#include "testutil.h"
#include "worker/standby.h"

static const char *const ARGS[] = {"--session", "iexec-0x01", "--app", "/a", NULL};

/* A stand-in runtime that keeps what it was handed on stdin. */
static char *fake_runtime(const char *dir)
{
    test_put_file(dir, "rt", "#!/bin/sh\ncat > \"${0%/*}/got\"\n", 0700);
    static char exe[600];
    snprintf(exe, sizeof exe, "%s/rt", dir);
    return exe;
}

/* Once handed, the process is the caller's and the slot holds none: the
 * next task cannot reach it (it gets CELLA_E_NOTFOUND and starts another). */
static void a_standby_gets_one_task_only(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    cella_standby sb;
    assert_succeeds(cella_standby_start(fake_runtime(dir), 2, &sb));
    cella_child c;
    assert_succeeds(cella_standby_hand(&sb, "/log/enclave.log", ARGS, &c));
    assert_true(sb.child.pid == -1 && sb.fd == -1);
    cella_child again;
    assert_fails_with(cella_standby_hand(&sb, "/log/other.log", ARGS, &again), CELLA_E_NOTFOUND);
    int st = 0;
    assert_true(cella_child_wait(&c, 20000, &st));
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* it got exactly the one message, then the end of its stdin */
    uint8_t want[1024], *got = NULL;
    size_t wn = 0, gn = 0;
    assert_succeeds(cella_standby_encode("/log/enclave.log", ARGS, want, sizeof want, &wn));
    char p[700];
    snprintf(p, sizeof p, "%s/got", dir);
    assert_succeeds(cella_read_file(AT_FDCWD, p, 4096, false, &got, &gn));
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
    free(got);
    test_rmdir(dir);
}

/* An unused standby is stopped by the end of its stdin. */
static void an_unused_standby_stops(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    cella_standby sb;
    assert_succeeds(cella_standby_start(fake_runtime(dir), 2, &sb));
    cella_standby_stop(&sb);
    assert_true(sb.child.pid == -1 && sb.fd == -1);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* reaped */
    test_rmdir(dir);
}

/* The runtime's side: what arrives on its stdin. */
static cella_res receive(const uint8_t *bytes, size_t n, const char **log, const char **args,
                         size_t *na, uint8_t *buf)
{
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    assert_int_equal(write(sp[0], bytes, n), (ssize_t)n);
    close(sp[0]);
    cella_res r = cella_standby_receive(sp[1], buf, log, args, CELLA_STANDBY_ARGS_MAX, na);
    close(sp[1]);
    return r;
}

static void the_runtime_reads_one_message(void **state)
{
    (void)state;
    uint8_t msg[1024], *buf = malloc(CELLA_STANDBY_MSG_MAX);
    size_t n = 0, na = 0;
    const char *log = NULL, *args[CELLA_STANDBY_ARGS_MAX + 1];
    assert_succeeds(cella_standby_encode("/l", ARGS, msg, sizeof msg, &n));
    assert_succeeds(receive(msg, n, &log, args, &na, buf));
    assert_string_equal(log, "/l");
    assert_int_equal(na, 4);
    assert_string_equal(args[1], "iexec-0x01");
    /* nothing handed: the worker stopped; stopping is not an error */
    assert_fails_with(receive(msg, 0, &log, args, &na, buf), CELLA_E_NOTFOUND);
    free(buf);
}

/* Two tasks in one stream: refused, so neither runs in this process. */
static void a_second_task_in_the_stream_is_refused(void **state)
{
    (void)state;
    uint8_t msg[2048], *buf = malloc(CELLA_STANDBY_MSG_MAX);
    size_t n = 0, na = 0;
    const char *log = NULL, *args[CELLA_STANDBY_ARGS_MAX + 1];
    assert_succeeds(cella_standby_encode("/l", ARGS, msg, 1024, &n));
    memcpy(msg + n, msg, n);
    assert_fails_with(receive(msg, 2 * n, &log, args, &na, buf), CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "one task only"));
    /* one byte after the message is as much a second task */
    assert_fails_with(receive(msg, n + 1, &log, args, &na, buf), CELLA_E_POLICY);
    /* truncated, or without its final NUL */
    assert_fails_with(receive(msg, n - 1, &log, args, &na, buf), CELLA_E_PARSE);
    msg[n - 1] = 'x';
    assert_fails_with(receive(msg, n, &log, args, &na, buf), CELLA_E_PARSE);
    /* a length beyond the bound is refused before reading it */
    uint8_t big[4] = {0x7f, 0xff, 0xff, 0xff};
    assert_fails_with(receive(big, 4, &log, args, &na, buf), CELLA_E_TOOBIG);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_standby_gets_one_task_only),
        cmocka_unit_test(an_unused_standby_stops),
        cmocka_unit_test(the_runtime_reads_one_message),
        cmocka_unit_test(a_second_task_in_the_stream_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
