/* Unit tests for lib/store/sql.h: the statement cache and writers taking
 * turns (one transaction at a time per process, never nested, always ended). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/sql.h"
#include "testutil.h"

static pthread_mutex_t g_turn = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    sqlite3 *db;
    stmt_cache stmts;
    sql_writer w;
} handle;

static void open_handle(const char *path, handle *h)
{
    memset(h, 0, sizeof *h);
    assert_int_equal(sqlite3_open(path, &h->db), SQLITE_OK);
    sqlite3_busy_timeout(h->db, 5000);
    h->w.turn = &g_turn;
}

static void close_handle(handle *h)
{
    stmt_cache_clear(&h->stmts);
    sqlite3_close(h->db);
}

static int insert(handle *h, int v)
{
    stmt q = cached_prep(&h->stmts, h->db, "INSERT INTO t(v) VALUES(?)");
    bi(&q, 1, v);
    int rc = sql_write_step(&h->w, &q);
    cached_done(&h->stmts, &q);
    return rc;
}

static int count(handle *h)
{
    stmt q = cached_prep(&h->stmts, h->db, "SELECT count(*) FROM t");
    int n = step(&q) == SQLITE_ROW ? sqlite3_column_int(q.st, 0) : -1;
    cached_done(&h->stmts, &q);
    return n;
}

/* The second handle's writer, started while the first holds the turn. */
static void *second_writer(void *arg)
{
    handle *h = arg;
    if (sql_txn_begin(&h->w, &h->stmts, h->db) != SQLITE_DONE || insert(h, 2) != SQLITE_DONE ||
        sql_txn_end(&h->w, &h->stmts, h->db, true, NULL, 0) != SQLITE_DONE)
        return (void *)1;
    return NULL;
}

static void turns(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/t.db", dir);
    handle a, b;
    open_handle(path, &a);
    open_handle(path, &b);
    assert_int_equal(sql_run_cached(&a.stmts, a.db, "CREATE TABLE t(v INTEGER)"), SQLITE_DONE);

    /* a transaction holds the turn; nesting is refused, not waited on */
    assert_int_equal(sql_txn_begin(&a.w, &a.stmts, a.db), SQLITE_DONE);
    assert_true(a.w.in_txn);
    assert_int_equal(sql_txn_begin(&a.w, &a.stmts, a.db), SQLITE_MISUSE);
    assert_int_equal(insert(&a, 1), SQLITE_DONE);
    /* the other handle's writer waits for the turn, not for SQLite's lock */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, second_writer, &b), 0);
    usleep(50 * 1000);
    assert_int_equal(count(&a), 1); /* b has not written */
    assert_int_equal(sql_txn_end(&a.w, &a.stmts, a.db, true, NULL, 0), SQLITE_DONE);
    assert_false(a.w.in_txn);
    void *res;
    assert_int_equal(pthread_join(th, &res), 0);
    assert_null(res);
    assert_int_equal(count(&a), 2);

    /* a rolled-back transaction writes nothing; ending twice is harmless */
    assert_int_equal(sql_txn_begin(&a.w, &a.stmts, a.db), SQLITE_DONE);
    assert_int_equal(insert(&a, 3), SQLITE_DONE);
    assert_int_equal(sql_txn_end(&a.w, &a.stmts, a.db, false, NULL, 0), SQLITE_DONE);
    assert_int_equal(sql_txn_end(&a.w, &a.stmts, a.db, false, NULL, 0), SQLITE_DONE);
    assert_int_equal(count(&b), 2);

    /* a failed COMMIT (a deferred foreign key still broken) is rolled back,
     * its message kept, and the turn given back */
    assert_int_equal(sql_run_cached(&a.stmts, a.db, "PRAGMA foreign_keys=ON"), SQLITE_DONE);
    assert_int_equal(sql_run_cached(&a.stmts, a.db, "CREATE TABLE p(id INTEGER PRIMARY KEY)"),
                     SQLITE_DONE);
    assert_int_equal(sql_run_cached(&a.stmts, a.db,
                                    "CREATE TABLE c(p INTEGER REFERENCES p(id) "
                                    "DEFERRABLE INITIALLY DEFERRED)"),
                     SQLITE_DONE);
    assert_int_equal(sql_txn_begin(&a.w, &a.stmts, a.db), SQLITE_DONE);
    assert_int_equal(insert(&a, 4), SQLITE_DONE);
    stmt q = cached_prep(&a.stmts, a.db, "INSERT INTO c(p) VALUES(42)");
    assert_int_equal(sql_write_step(&a.w, &q), SQLITE_DONE);
    cached_done(&a.stmts, &q);
    char err[256] = "";
    assert_int_not_equal(sql_txn_end(&a.w, &a.stmts, a.db, true, err, sizeof err), SQLITE_DONE);
    assert_non_null(strstr(err, "FOREIGN KEY"));
    assert_false(a.w.in_txn);
    assert_int_equal(count(&b), 2); /* the row of the failed transaction is gone */
    assert_int_equal(pthread_mutex_trylock(&g_turn), 0); /* the turn is free */
    pthread_mutex_unlock(&g_turn);
    /* autocommit writes take the turn too */
    assert_int_equal(insert(&b, 5), SQLITE_DONE);
    assert_int_equal(count(&a), 3);

    close_handle(&a);
    close_handle(&b);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(turns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
