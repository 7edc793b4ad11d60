/* Unit tests for lib/store/db.h on SQLite, and on PostgreSQL when
 * $CELLA_TEST_PG names a server (ctest's pg.* tests start one): values of
 * every type round-trip, parameters, constraints, the schema's version, and
 * read-modify-write transactions from several connections at once that lose
 * no update (rows locked FOR UPDATE), the server's clock, prepared statements. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db.h"
#include "store/pq_lib.h"
#include "testutil.h"

static pthread_mutex_t g_turn = PTHREAD_MUTEX_INITIALIZER;

static const char SCHEMA_LITE[] =
    "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, i INTEGER, b BLOB, t TEXT);";
static const char SCHEMA_PG[] =
    "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, i BIGINT, b BYTEA, t TEXT);";
static const cella_db_schema g_schema = {"test", 1, SCHEMA_LITE, SCHEMA_PG, NULL};

static char g_url[1024];
static char *g_dir;

static cella_db *open_db(void)
{
    cella_db *db;
    assert_succeeds(cella_db_open(g_url, &g_schema, NULL, &g_turn, &db));
    return db;
}

static int setup(void **state)
{
    (void)state;
    g_dir = test_tmpdir();
    test_db_url(g_url, sizeof g_url, g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmdir(g_dir);
    return 0;
}

static void values(void **state)
{
    (void)state;
    cella_db *db = open_db();
    const uint8_t blob[5] = {0, 1, 0, 0xff, 0};
    dbq q = db_prep(db, "INSERT INTO kv(k, i, b, t) VALUES(?, ?, ?, ?)");
    db_bt(&q, 1, "a");
    db_bi(&q, 2, -1234567890123LL);
    db_bb(&q, 3, blob, sizeof blob);
    db_bt(&q, 4, "it's");
    assert_int_equal(db_write_step(&q), DB_DONE);
    db_done(&q);
    q = db_prep(db, "INSERT INTO kv(k, i, b, t) VALUES(?, ?, ?, ?)");
    db_bt(&q, 1, "a");
    db_bi(&q, 2, 1);
    db_bnull(&q, 3);
    db_bnull(&q, 4);
    assert_int_equal(db_write_step(&q), DB_CONSTRAINT); /* the same key */
    db_done(&q);
    /* ?N names a parameter; a quoted '?' is text */
    q = db_prep(db, "SELECT i, b, t, '?', i + ?2 FROM kv WHERE k = ?1");
    db_bt(&q, 1, "a");
    db_bi(&q, 2, 10);
    assert_int_equal(db_step(&q), DB_ROW);
    assert_int_equal(db_col_int(&q, 0), -1234567890123LL);
    size_t n;
    const void *b = db_col_blob(&q, 1, &n);
    assert_int_equal(n, sizeof blob);
    assert_memory_equal(b, blob, sizeof blob);
    assert_string_equal(db_col_text(&q, 2), "it's");
    assert_string_equal(db_col_text(&q, 3), "?");
    assert_int_equal(db_col_int(&q, 4), -1234567890113LL);
    assert_int_equal(db_step(&q), DB_DONE);
    db_done(&q);
    q = db_prep(db, "SELECT b, t FROM kv WHERE k = ? FOR UPDATE");
    db_bt(&q, 1, "missing");
    assert_int_equal(db_step(&q), DB_DONE);
    db_done(&q);
    q = db_prep(db, "SELECT no_such_column FROM kv");
    assert_int_equal(db_step(&q), DB_ERROR);
    db_done(&q);
    assert_true(strlen(db_errmsg(db)) > 0);
    int64_t now;
    assert_succeeds(db_now(db, &now));
    assert_true(now > 1700000000);
    cella_db_close(db);
}

static void newer_schema_refused(void **state)
{
    (void)state;
    cella_db *db = open_db();
    assert_succeeds(db_exec(db, "UPDATE cella_schema SET version = 99 WHERE name = 'test'"));
    cella_db_close(db);
    assert_fails_with(cella_db_open(g_url, &g_schema, NULL, &g_turn, &db), CELLA_E_UNSUPPORTED);
    cella_db *raw;
    assert_succeeds(cella_db_open(g_url, NULL, NULL, &g_turn, &raw));
    assert_succeeds(db_exec(raw, "UPDATE cella_schema SET version = 1 WHERE name = 'test'"));
    cella_db_close(raw);
}

static void bad_urls(void **state)
{
    (void)state;
    assert_fails_with(cella_db_url_check(""), CELLA_E_USAGE);
    assert_fails_with(cella_db_url_check("sqlite:"), CELLA_E_USAGE);
    assert_fails_with(cella_db_url_check("mysql://x/y"), CELLA_E_USAGE);
    assert_fails_with(cella_db_url_check("postgres://[bad"), CELLA_E_USAGE);
    assert_succeeds(cella_db_url_check("postgresql://u@h:5432/d"));
    /* a password would sit in argv: refused, and never repeated in the message */
    assert_fails_with(cella_db_url_check("postgresql://u:s3cr3tpw@h:5432/d"), CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "PGPASSFILE"));
    assert_null(strstr(cella_error_what(), "s3cr3tpw"));
    assert_fails_with(cella_db_url_check("postgresql:///d?host=/tmp&password=s3cr3tpw"),
                      CELLA_E_USAGE);
    /* a malformed URL's message does not quote it (libpq's does) */
    assert_fails_with(cella_db_url_check("postgres://u:s3cr3tpw@[bad"), CELLA_E_USAGE);
    assert_non_null(strstr(cella_error_what(), "not a PostgreSQL URL"));
    assert_null(strstr(cella_error_what(), "s3cr3tpw"));
    assert_succeeds(cella_db_url_check("sqlite:/tmp/x.db"));
}

/* A server that is down: CELLA_E_UNAVAILABLE (servers answer 503), and the
 * reason in one line, though libpq's message has two ("... Connection
 * refused\n\tIs the server running ...?"). Nothing listens on port 1. */
static void down_server_one_line(void **state)
{
    (void)state;
    cella_db *db = NULL;
    assert_fails_with(cella_db_open("postgresql://cella@127.0.0.1:1/x?connect_timeout=5", &g_schema,
                                    NULL, &g_turn, &db),
                      CELLA_E_UNAVAILABLE);
    assert_null(db);
    const char *what = cella_error_what();
    assert_non_null(strstr(what, "Connection refused"));
    assert_null(strpbrk(what, "\n\t"));
    assert_null(strstr(what, "  "));
}

/* ---- lost updates: several connections incrementing one counter ---- */

#define THREADS 4
#define INCREMENTS 50

static bool g_lock_rows = true; /* false: the test shows what FOR UPDATE prevents */

static cella_res increment_once(cella_db *db)
{
    CELLA_TRY(db_begin(db));
    dbq q = db_prep(db, g_lock_rows ? "SELECT i FROM kv WHERE k = 'n' FOR UPDATE"
                                    : "SELECT i FROM kv WHERE k = 'n'");
    int rc = db_step(&q);
    int64_t v = rc == DB_ROW ? db_col_int(&q, 0) : 0;
    db_done(&q);
    cella_res r = rc == DB_ROW ? CELLA_OK_RES : db_failure(db, "read");
    if (cella_ok(r)) {
        dbq u = db_prep(db, "UPDATE kv SET i = ? WHERE k = 'n'");
        db_bi(&u, 1, v + 1);
        rc = db_step(&u);
        db_done(&u);
        if (rc != DB_DONE)
            r = db_failure(db, "write");
    }
    if (cella_ok(r))
        return db_commit(db);
    db_rollback(db);
    return r;
}

static void *incrementer(void *arg)
{
    (void)arg;
    cella_db *db;
    if (!cella_ok(cella_db_open(g_url, &g_schema, NULL, &g_turn, &db)))
        return (void *)1;
    intptr_t failed = 0;
    for (int i = 0; i < INCREMENTS; i++) {
        cella_res r;
        CELLA_DB_RETRY(db, r, increment_once(db));
        failed += !cella_ok(r);
    }
    cella_db_close(db);
    return (void *)failed;
}

static int64_t run_incrementers(void)
{
    cella_db *db = open_db();
    assert_succeeds(db_exec(db, "DELETE FROM kv; INSERT INTO kv(k, i) VALUES('n', 0)"));
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, incrementer, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failed;
        pthread_join(t[i], &failed);
        assert_null(failed);
    }
    dbq q = db_prep(db, "SELECT i FROM kv WHERE k = 'n'");
    assert_int_equal(db_step(&q), DB_ROW);
    int64_t n = db_col_int(&q, 0);
    db_done(&q);
    cella_db_close(db);
    return n;
}

static void no_lost_update(void **state)
{
    (void)state;
    g_lock_rows = true;
    assert_int_equal(run_incrementers(), THREADS * INCREMENTS);
}

/* Without the row lock, PostgreSQL's READ COMMITTED loses increments: the
 * check above is what keeps them (SQLite lets one writer in at a time). */
static void lost_update_without_lock(void **state)
{
    (void)state;
    if (!getenv("CELLA_TEST_PG"))
        skip();
    g_lock_rows = false;
    int64_t n = run_incrementers();
    g_lock_rows = true;
    print_message("without FOR UPDATE: %lld of %d increments kept\n", (long long)n,
                  THREADS * INCREMENTS);
    assert_true(n < THREADS * INCREMENTS);
}

static int64_t server_clock(cella_db *db)
{
    dbq q = db_prep(db, "SELECT CAST(floor(extract(epoch FROM clock_timestamp())) AS BIGINT)");
    assert_int_equal(db_step(&q), DB_ROW);
    int64_t t = db_col_int(&q, 0);
    db_done(&q);
    return t;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The server ends db's connection (asked through other). */
static void cut_connection(cella_db *db, cella_db *other)
{
    dbq q = db_prep(db, "SELECT pg_backend_pid()");
    assert_int_equal(db_step(&q), DB_ROW);
    int64_t pid = db_col_int(&q, 0);
    db_done(&q);
    q = db_prep(other, "SELECT pg_terminate_backend(CAST(? AS INTEGER))");
    db_bi(&q, 1, pid);
    assert_int_equal(db_step(&q), DB_ROW);
    db_done(&q);
    sleep_ms(50);
}

/* PostgreSQL: db_now tells the server's time, though it asks the server at
 * most once a second (a reading moved on by this host's monotonic clock). */
static void clock_of_the_server(void **state)
{
    (void)state;
    if (!getenv("CELLA_TEST_PG"))
        skip();
    cella_db *db = open_db(), *other = open_db();
    int64_t first, prev, mine;
    assert_succeeds(db_now(db, &first));
    prev = first;
    for (int i = 0; i < 25; i++) { /* 2.5 s: several readings, and the time between */
        sleep_ms(100);
        assert_succeeds(db_now(db, &mine));
        int64_t server = server_clock(other);
        assert_true(mine >= prev);
        assert_true(mine >= server - 1 && mine <= server + 1);
        prev = mine;
    }
    assert_true(prev >= first + 2);
    /* a fresh reading, then the connection is cut: within the second the
     * time is still told, without the server */
    sleep_ms(1050);
    assert_succeeds(db_now(db, &first));
    cut_connection(db, other);
    assert_succeeds(db_now(db, &mine));
    assert_true(mine >= first && mine <= first + 1);
    cella_db_close(db);
    cella_db_close(other);
}

static int64_t prepared_count(cella_db *db, const char *sql)
{
    dbq q = db_prep(db, "SELECT count(*) FROM pg_prepared_statements WHERE statement = ?");
    db_bt(&q, 1, sql);
    assert_int_equal(db_step(&q), DB_ROW);
    int64_t n = db_col_int(&q, 0);
    db_done(&q);
    return n;
}

static int run_lookup(cella_db *db)
{
    dbq q = db_prep(db, "SELECT i FROM kv WHERE k = ?");
    db_bt(&q, 1, "prepared");
    int rc = db_step(&q);
    db_done(&q);
    return rc;
}

/* PostgreSQL: a statement run again is prepared on its connection (parsed
 * and planned once), and prepared again on a new connection. */
static void statements_prepared(void **state)
{
    (void)state;
    if (!getenv("CELLA_TEST_PG"))
        skip();
    static const char SQL[] = "SELECT i FROM kv WHERE k = $1";
    cella_db *db = open_db(), *other = open_db();
    assert_int_equal(run_lookup(db), DB_DONE);
    assert_int_equal(prepared_count(db, SQL), 0); /* once: not worth a round trip more */
    for (int i = 0; i < 3; i++)
        assert_int_equal(run_lookup(db), DB_DONE);
    assert_int_equal(prepared_count(db, SQL), 1);
    cut_connection(db, other);
    assert_int_equal(run_lookup(db), DB_ERROR); /* the connection is gone */
    assert_true(db_retryable(db));
    for (int i = 0; i < 2; i++) /* connected again: it runs, and is prepared again */
        assert_int_equal(run_lookup(db), DB_DONE);
    assert_int_equal(prepared_count(db, SQL), 1);
    cella_db_close(db);
    cella_db_close(other);
}

/* libpq is loaded when a postgres:// URL is first checked (store/pq_lib.h):
 * a library that is missing, not a shared object, or not libpq is refused
 * with an error naming it, and no table is left half filled. */
static void pq_lib_refused(void **state)
{
    (void)state;
    cella_pq_lib lib;
    assert_fails_with(cella_pq_lib_load("libcella-no-such-library.so.0", &lib),
                      CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "cannot load the PostgreSQL client library"));
    assert_string_equal(cella_error_where(), "libcella-no-such-library.so.0");
    assert_null(lib.PQconnectdb);
    char *o = test_tmpdir();
    test_put_file(o, "libpq.so.5", "not an ELF object", 0644);
    char bogus[4200];
    snprintf(bogus, sizeof bogus, "%s/libpq.so.5", o);
    assert_fails_with(cella_pq_lib_load(bogus, &lib), CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "cannot load the PostgreSQL client library"));
    assert_fails_with(cella_pq_lib_load("libc.so.6", &lib), CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "has no PQclear"));
    assert_null(lib.PQclear);
    assert_null(lib.PQtransactionStatus);
    cella_error_clear();
    const cella_pq_lib *real;
    assert_succeeds(cella_pq_lib_get(&real));
    assert_non_null(real->PQconnectdb);
    test_rmdir(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values),
        cmocka_unit_test(newer_schema_refused),
        cmocka_unit_test(bad_urls),
        cmocka_unit_test(down_server_one_line),
        cmocka_unit_test(no_lost_update),
        cmocka_unit_test(lost_update_without_lock),
        cmocka_unit_test(clock_of_the_server),
        cmocka_unit_test(statements_prepared),
        cmocka_unit_test(pq_lib_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
