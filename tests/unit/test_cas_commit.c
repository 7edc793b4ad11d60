/* cas's group commit (cas/commit.c): attestations queued behind a commit go
 * into the next one together; each is then stored with its own instance and
 * audit row, and one that cannot be stored (its token already taken) is
 * refused alone, never taking the others of its group with it. */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "cas/internal.h"
#include "testutil.h"

#define N 6

static cas_app g_app;

typedef struct {
    uint8_t token[32], spki[32];
    cella_cas_store *st;
    cella_code got;
    bool stored_on_return; /* the instance could be read back when the call returned */
} worker;

static void *attest(void *arg)
{
    worker *w = arg;
    cas_thread t = {.app = &g_app, .st = w->st};
    cella_cas_attested a = {w->token, "s", "svc", w->spki, 1000, 1, "sim enclave", "test"};
    w->got = cas_commit_attested(&t, &a).code;
    /* The reply waits for the commit that holds its own rows. */
    char sess[256], svc[256];
    uint8_t spki[32];
    w->stored_on_return = cella_ok(cella_cas_instance_get(w->st, w->token, 0, sess, svc, spki));
    return NULL;
}

static void count_attest(int64_t ts, const char *who, const char *action, const char *object,
                         const char *outcome, const char *why, void *ctx)
{
    (void)ts, (void)who, (void)object, (void)why;
    if (!strcmp(action, "attest") && !strcmp(outcome, "ok"))
        (*(int *)ctx)++;
}

static void group_commit(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char url[600];
    test_db_url(url, sizeof url, dir);
    cella_cas_store *st;
    assert_succeeds(cella_cas_store_open(url, &st));
    worker w[N];
    memset(w, 0, sizeof w);
    for (int i = 0; i < N; i++) {
        memset(w[i].token, i + 1, 32);
        memset(w[i].spki, 0x40 + i, 32);
        assert_succeeds(cella_cas_store_open(url, &w[i].st));
    }
    /* The last one's token is taken already: its attestation must fail. */
    assert_succeeds(cella_cas_instance_put(st, w[N - 1].token, "s", "svc", w[0].spki, 1000));
    cas_commits_init(&g_app.commits);
    /* A commit under way: every attestation queues behind it, and the next
     * commit takes them all as one group. */
    pthread_mutex_lock(&g_app.commits.lock);
    g_app.commits.busy = true;
    pthread_mutex_unlock(&g_app.commits.lock);
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, attest, &w[i]), 0);
    while (cas_commits_queued(&g_app.commits) < N)
        sched_yield();
    pthread_mutex_lock(&g_app.commits.lock);
    g_app.commits.busy = false;
    pthread_cond_broadcast(&g_app.commits.done);
    pthread_mutex_unlock(&g_app.commits.lock);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N - 1; i++) {
        assert_int_equal(w[i].got, CELLA_OK);
        assert_true(w[i].stored_on_return);
        char sess[256], svc[256];
        uint8_t spki[32];
        assert_succeeds(cella_cas_instance_get(st, w[i].token, 0, sess, svc, spki));
        assert_memory_equal(spki, w[i].spki, 32); /* each bound to its own key */
    }
    assert_int_not_equal(w[N - 1].got, CELLA_OK);
    int audited = 0;
    assert_succeeds(cella_cas_audit_each(st, count_attest, &audited));
    assert_int_equal(audited, N - 1); /* the refused one has no "ok" row */
    assert_int_equal(cas_commits_queued(&g_app.commits), 0);
    cas_commits_destroy(&g_app.commits);
    for (int i = 0; i < N; i++)
        cella_cas_store_close(w[i].st);
    cella_cas_store_close(st);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
