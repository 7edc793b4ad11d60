/* The baselines of bench/hub_pg.sh: what PostgreSQL does for a claim and for
 * a match when a C program drives it directly with libpq, with statements
 * prepared once per connection (PQprepare) and no checks beyond SQL. The
 * hub's figures are divided by these, measured on the same database in the
 * same run, with the same number of concurrent clients.
 *
 *   bench_pgraw claim URL CLIENTS SECONDS N [ROUNDS]
 *     a table shaped like the hub's tasks (same columns, the same index on
 *     (workerpool, start, idx)) with N runnable rows; each client loops
 *       BEGIN; SELECT taskid ... runnable ... ORDER BY start, idx LIMIT 1
 *       FOR UPDATE SKIP LOCKED; UPDATE ... SET lease_holder, lease_until; COMMIT
 *     until SECONDS pass or no runnable row is left.
 *   bench_pgraw match URL CLIENTS SECONDS N [ROUNDS]
 *     each client loops, in one transaction: the consumed volume of 4 orders
 *     (3 shared by every match, as the bench's app, dataset and pool orders
 *     are, and a new request's) upserted, a deal row inserted (JSON of a real
 *     deal's size), its task row inserted, 2 account rows updated (the
 *     sponsor's and the pool owner's escrow), 2 event rows inserted
 *     (deal-created, task-created); until SECONDS pass or N matches.
 * Each runs ROUNDS times (default 1) on new tables and prints the median
 * round (a round of a few hundred claims is over in a fraction of a second):
 * "raw_claim|raw_match <ops/s> <ops> (<clients> clients, <s> s, <n> errors ...)".
 * Its tables are raw_* (dropped and made again), beside the hub's. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLIENTS_MAX 64
#define DEAL_JSON_BYTES 1400 /* about a one-task deal's JSON in the hub */

static const char *g_url;
static double g_deadline;
static long g_max;
static atomic_long g_done, g_errors;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(PGconn *c, const char *what)
{
    fprintf(stderr, "bench_pgraw: %s: %s\n", what, c ? PQerrorMessage(c) : "?");
    exit(1);
}

static PGconn *connect_db(void)
{
    PGconn *c = PQconnectdb(g_url);
    if (PQstatus(c) != CONNECTION_OK)
        die(c, "connect");
    return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die(c, sql);
    PQclear(r);
}

static void prepare(PGconn *c, const char *name, const char *sql)
{
    PGresult *r = PQprepare(c, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, name);
    PQclear(r);
}

/* Runs a prepared statement; the result, or NULL (counted as an error) when
 * it failed. */
static PGresult *run(PGconn *c, const char *name, int n, const char *const *v, const int *len,
                     const int *fmt)
{
    PGresult *r = PQexecPrepared(c, name, n, v, len, fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    PQclear(r);
    return NULL;
}

static bool run_ok(PGconn *c, const char *name, int n, const char *const *v, const int *len,
                   const int *fmt)
{
    PGresult *r = run(c, name, n, v, len, fmt);
    PQclear(r);
    return r != NULL;
}

static void fail_txn(PGconn *c)
{
    atomic_fetch_add(&g_errors, 1);
    exec_ok(c, "ROLLBACK");
}

/* ---- claims ---- */

static const uint8_t POOL[20] = {0x3b, 0x3b};

static void claim_setup(long n)
{
    PGconn *c = connect_db();
    exec_ok(c, "SET client_min_messages = warning");
    exec_ok(c, "DROP TABLE IF EXISTS raw_tasks");
    exec_ok(c, "CREATE TABLE raw_tasks(taskid BYTEA PRIMARY KEY, dealid BYTEA NOT NULL,"
               " idx BIGINT NOT NULL, status TEXT NOT NULL, start BIGINT NOT NULL,"
               " contribution_deadline BIGINT NOT NULL, final_deadline BIGINT NOT NULL,"
               " worker BYTEA, result_digest BYTEA, result_hash BYTEA, result_seal BYTEA,"
               " finalized BIGINT, workerpool BYTEA, lease_holder TEXT, lease_until BIGINT,"
               " error TEXT, results TEXT, consensus_value BYTEA, reveal_deadline BIGINT,"
               " reveal_counter BIGINT, winner_counter BIGINT)");
    exec_ok(c, "CREATE INDEX raw_tasks_pool ON raw_tasks(workerpool, start, idx)");
    /* one task per deal, about as many a second as the hub makes them */
    char sql[600];
    snprintf(sql, sizeof sql,
             "INSERT INTO raw_tasks(taskid, dealid, idx, status, start, contribution_deadline,"
             " final_deadline, workerpool) SELECT sha256(('t' || i)::bytea), sha256(('d' || i)::bytea),"
             " 0, 'ACTIVE', 1000000 + i / 500, 4000000000, 5000000000, '\\x3b3b%s'::bytea"
             " FROM generate_series(1, %ld) i",
             "000000000000000000000000000000000000", n);
    exec_ok(c, sql);
    exec_ok(c, "ANALYZE raw_tasks");
    PQfinish(c);
}

static void *claimer(void *arg)
{
    PGconn *c = connect_db();
    prepare(c, "pick",
            "SELECT taskid FROM raw_tasks WHERE workerpool = $1 AND status = 'ACTIVE'"
            " AND contribution_deadline > $2 AND error IS NULL"
            " AND (lease_holder IS NULL OR lease_until <= $2)"
            " ORDER BY start, idx LIMIT 1 FOR UPDATE SKIP LOCKED");
    prepare(c, "lease", "UPDATE raw_tasks SET lease_holder = $1, lease_until = $2 WHERE taskid = $3");
    char holder[33];
    snprintf(holder, sizeof holder, "%032lx", (unsigned long)(uintptr_t)arg + 1);
    while (now() < g_deadline) {
        char t[24], until[24];
        long s = (long)time(NULL);
        snprintf(t, sizeof t, "%ld", s);
        snprintf(until, sizeof until, "%ld", s + 60);
        exec_ok(c, "BEGIN");
        const char *pv[2] = {(const char *)POOL, t};
        const int pl[2] = {20, 0}, pf[2] = {1, 0};
        PGresult *r = run(c, "pick", 2, pv, pl, pf);
        if (!r) {
            fail_txn(c);
            continue;
        }
        if (PQntuples(r) == 0) { /* every task is leased */
            PQclear(r);
            exec_ok(c, "ROLLBACK");
            break;
        }
        const char *lv[3] = {holder, until, PQgetvalue(r, 0, 0)};
        const int ll[3] = {0, 0, PQgetlength(r, 0, 0)}, lf[3] = {0, 0, 0};
        bool ok = run_ok(c, "lease", 3, lv, ll, lf);
        PQclear(r);
        if (!ok) {
            fail_txn(c);
            continue;
        }
        r = PQexec(c, "COMMIT");
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            atomic_fetch_add(&g_done, 1);
        else
            atomic_fetch_add(&g_errors, 1);
        PQclear(r);
    }
    PQfinish(c);
    return NULL;
}

/* ---- matches ---- */

static void match_setup(void)
{
    PGconn *c = connect_db();
    exec_ok(c, "SET client_min_messages = warning");
    exec_ok(c, "DROP TABLE IF EXISTS raw_consumed, raw_deals, raw_match_tasks, raw_accounts,"
               " raw_events");
    exec_ok(c, "CREATE TABLE raw_consumed(hash BYTEA PRIMARY KEY, amount BIGINT NOT NULL)");
    exec_ok(c, "CREATE TABLE raw_deals(dealid BYTEA PRIMARY KEY, json TEXT NOT NULL,"
               " created BIGINT NOT NULL)");
    exec_ok(c, "CREATE TABLE raw_match_tasks(taskid BYTEA PRIMARY KEY, dealid BYTEA NOT NULL,"
               " idx BIGINT NOT NULL, status TEXT NOT NULL, start BIGINT NOT NULL,"
               " contribution_deadline BIGINT NOT NULL, final_deadline BIGINT NOT NULL,"
               " workerpool BYTEA)");
    exec_ok(c, "CREATE INDEX raw_match_tasks_pool ON raw_match_tasks(workerpool, start, idx)");
    exec_ok(c, "CREATE TABLE raw_accounts(address BYTEA PRIMARY KEY, balance BIGINT NOT NULL,"
               " locked BIGINT NOT NULL)");
    exec_ok(c, "INSERT INTO raw_accounts VALUES('\\x01'::bytea, 1000000000000, 0),"
               " ('\\x02'::bytea, 1000000000000, 0)");
    exec_ok(c, "CREATE TABLE raw_events(seq BIGSERIAL PRIMARY KEY, type TEXT NOT NULL,"
               " taskid BYTEA NOT NULL, dealid BYTEA NOT NULL, workerpool BYTEA NOT NULL,"
               " time BIGINT NOT NULL, detail TEXT)");
    exec_ok(c, "CREATE INDEX raw_events_pool ON raw_events(workerpool, seq)");
    exec_ok(c, "CREATE INDEX raw_events_task ON raw_events(taskid, seq)");
    PQfinish(c);
}

static void match_prepare(PGconn *c)
{
    prepare(c, "consume", "INSERT INTO raw_consumed(hash, amount) VALUES($1, 1)"
                          " ON CONFLICT(hash) DO UPDATE SET amount = raw_consumed.amount + 1");
    prepare(c, "deal", "INSERT INTO raw_deals(dealid, json, created) VALUES($1, $2, $3)");
    prepare(c, "task", "INSERT INTO raw_match_tasks(taskid, dealid, idx, status, start,"
                       " contribution_deadline, final_deadline, workerpool)"
                       " VALUES($1, $2, 0, 'ACTIVE', $3::bigint, $3::bigint + 2100, $3::bigint + 3000, $4)");
    prepare(c, "escrow", "UPDATE raw_accounts SET balance = balance - $2, locked = locked + $2"
                         " WHERE address = $1");
    prepare(c, "event", "INSERT INTO raw_events(type, taskid, dealid, workerpool, time, detail)"
                        " VALUES($1, $2, $3, $4, $5, $6)");
}

/* One match's rows, in one transaction. */
static bool match_once(PGconn *c, long client, long i, const char *deal_json)
{
    uint8_t req[32] = {0}, deal[32] = {0}, task[32] = {0};
    memcpy(req, &client, sizeof client);
    memcpy(req + 8, &i, sizeof i);
    memcpy(deal, req, 32);
    deal[31] = 1;
    memcpy(task, req, 32);
    task[31] = 2;
    static const uint8_t fixed[3][32] = {{0xa1}, {0xd5}, {0x3b}};
    char t[24];
    snprintf(t, sizeof t, "%ld", (long)time(NULL));
    const int bin1[1] = {1}, len32[1] = {32};
    exec_ok(c, "BEGIN");
    bool ok = true;
    for (int k = 0; k < 4 && ok; k++) {
        const char *v[1] = {(const char *)(k < 3 ? fixed[k] : req)};
        ok = run_ok(c, "consume", 1, v, len32, bin1);
    }
    const char *dv[3] = {(const char *)deal, deal_json, t};
    const int dl[3] = {32, 0, 0}, df[3] = {1, 0, 0};
    ok = ok && run_ok(c, "deal", 3, dv, dl, df);
    const char *tv[4] = {(const char *)task, (const char *)deal, t, (const char *)POOL};
    const int tl[4] = {32, 32, 0, 20}, tf[4] = {1, 1, 0, 1};
    ok = ok && run_ok(c, "task", 4, tv, tl, tf);
    static const char *const who[2] = {"\x01", "\x02"};
    for (int k = 0; k < 2 && ok; k++) {
        const char *v[2] = {who[k], "108"};
        const int l[2] = {1, 0}, f[2] = {1, 0};
        ok = run_ok(c, "escrow", 2, v, l, f);
    }
    static const char *const types[2] = {"deal-created", "task-created"};
    static const char detail[] = "{\"orders\":{},\"volume\":1}";
    static const uint8_t zero[32] = {0};
    for (int k = 0; k < 2 && ok; k++) {
        const char *v[6] = {types[k], (const char *)(k ? task : zero), (const char *)deal,
                            (const char *)POOL, t, k ? NULL : detail};
        const int l[6] = {0, 32, 32, 20, 0, 0}, f[6] = {0, 1, 1, 1, 0, 0};
        ok = run_ok(c, "event", 6, v, l, f);
    }
    if (!ok)
        return false;
    PGresult *r = PQexec(c, "COMMIT");
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static void *matcher(void *arg)
{
    long client = (long)(uintptr_t)arg;
    PGconn *c = connect_db();
    match_prepare(c);
    char deal_json[DEAL_JSON_BYTES + 1];
    memset(deal_json, 'x', DEAL_JSON_BYTES);
    deal_json[DEAL_JSON_BYTES] = 0;
    for (long i = 0; now() < g_deadline && atomic_load(&g_done) < g_max; i++) {
        if (match_once(c, client, i, deal_json))
            atomic_fetch_add(&g_done, 1);
        else
            fail_txn(c);
    }
    PQfinish(c);
    return NULL;
}

/* One round on new tables: ops per second, ops, seconds. */
static void one_round(bool claim, int clients, double seconds, long n, double *rate, long *ops,
                      double *secs)
{
    if (claim)
        claim_setup(n);
    else
        match_setup();
    g_max = n;
    atomic_store(&g_done, 0);
    pthread_t th[CLIENTS_MAX];
    double t0 = now();
    g_deadline = t0 + seconds;
    for (int i = 0; i < clients; i++)
        if (pthread_create(&th[i], NULL, claim ? claimer : matcher, (void *)(uintptr_t)i) != 0)
            die(NULL, "thread");
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    *secs = now() - t0;
    *ops = atomic_load(&g_done);
    *rate = (double)*ops / *secs;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7 || (strcmp(argv[1], "claim") && strcmp(argv[1], "match"))) {
        fprintf(stderr, "usage: bench_pgraw claim|match URL CLIENTS SECONDS N [ROUNDS]\n");
        return 2;
    }
    bool claim = !strcmp(argv[1], "claim");
    g_url = argv[2];
    int clients = atoi(argv[3]);
    double seconds = atof(argv[4]);
    long n = atol(argv[5]);
    if (clients < 1 || clients > CLIENTS_MAX || seconds <= 0 || seconds > 600 || n < 1 ||
        n > 10000000) {
        fprintf(stderr, "bench_pgraw: CLIENTS 1..%d, SECONDS 0..600, N 1..10^7\n", CLIENTS_MAX);
        return 2;
    }
    int rounds = argc == 7 ? atoi(argv[6]) : 1;
    if (rounds < 1 || rounds > 100) {
        fprintf(stderr, "bench_pgraw: ROUNDS 1..100\n");
        return 2;
    }
    double rate[100], secs[100];
    long ops[100];
    for (int k = 0; k < rounds; k++)
        one_round(claim, clients, seconds, n, &rate[k], &ops[k], &secs[k]);
    int med = 0; /* the median round */
    for (int k = 0; k < rounds; k++) {
        int below = 0;
        for (int j = 0; j < rounds; j++)
            below += rate[j] < rate[k] || (rate[j] == rate[k] && j < k);
        if (below == rounds / 2)
            med = k;
    }
    printf("%s %.0f %ld (%d clients, %.2f s, %ld errors; median of %d rounds)\n",
           claim ? "raw_claim" : "raw_match", rate[med], ops[med], clients, secs[med],
           (long)atomic_load(&g_errors), rounds);
    return atomic_load(&g_errors) ? 1 : 0;
}
