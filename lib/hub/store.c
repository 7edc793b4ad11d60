/* The hub's state in SQLite: see store.h. This file opens the database (schema,
 * migrations) and holds the helpers the other store_*.c files share (store_int.h). */
#include "hub/store_int.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS resources(address BLOB PRIMARY KEY, kind INTEGER NOT NULL,"
    " owner BLOB NOT NULL, name TEXT NOT NULL, multiaddr TEXT NOT NULL, checksum BLOB NOT NULL,"
    " measurement TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS resources_owner ON resources(kind, owner);"
    "CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
    " kind INTEGER NOT NULL, signer BLOB NOT NULL, app BLOB, dataset BLOB, workerpool BLOB,"
    " requester BLOB, category INTEGER, tag BLOB NOT NULL, price BLOB NOT NULL,"
    " volume BLOB NOT NULL, json TEXT NOT NULL, published INTEGER NOT NULL, sign BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS orders_kind ON orders(kind);"
    "CREATE TABLE IF NOT EXISTS consumed(hash BLOB PRIMARY KEY, amount BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deals(dealid BLOB PRIMARY KEY, json TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tasks(taskid BLOB PRIMARY KEY, dealid BLOB NOT NULL,"
    " idx INTEGER NOT NULL, status TEXT NOT NULL, start INTEGER NOT NULL,"
    " contribution_deadline INTEGER NOT NULL, final_deadline INTEGER NOT NULL,"
    " worker BLOB, result_digest BLOB, result_hash BLOB, result_seal BLOB, finalized INTEGER);"
    "CREATE TABLE IF NOT EXISTS accounts(address BLOB PRIMARY KEY, balance INTEGER NOT NULL,"
    " locked INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS task_logs(taskid BLOB PRIMARY KEY, stdout TEXT NOT NULL,"
    " stderr TEXT NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,"
    " taskid BLOB NOT NULL, dealid BLOB NOT NULL, workerpool BLOB NOT NULL, time INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_pool ON events(workerpool, seq);"
    /* consensus (trust > 1): PoCo's m_contributions and m_workerScores */
    "CREATE TABLE IF NOT EXISTS contributions(taskid BLOB NOT NULL, worker BLOB NOT NULL,"
    " seq INTEGER NOT NULL, status TEXT NOT NULL, result_hash BLOB NOT NULL,"
    " result_seal BLOB NOT NULL, enclave_challenge BLOB NOT NULL, weight INTEGER NOT NULL,"
    " stake INTEGER NOT NULL, time INTEGER NOT NULL, PRIMARY KEY(taskid, worker));"
    "CREATE TABLE IF NOT EXISTS worker_scores(address BLOB PRIMARY KEY, score INTEGER NOT NULL);";

/* Columns added to tasks after the first release (the worker flow, then
 * consensus); a database made before them gets them at open. */
static const char *const g_task_columns[][2] = {
    {"workerpool", "BLOB"},      {"lease_holder", "TEXT"},      {"lease_until", "INTEGER"},
    {"error", "TEXT"},           {"results", "TEXT"},           {"consensus_value", "BLOB"},
    {"reveal_deadline", "INTEGER"}, {"reveal_counter", "INTEGER"}, {"winner_counter", "INTEGER"},
};

/* ---- SQLite plumbing (as store/cas_store.c) ---- */

cella_res hs_db_fail(hub_store *s, const char *what)
{
    return cella_fail(CELLA_E_IO, s->path, "%s: %s", what, sqlite3_errmsg(s->db));
}

static cella_res exec(hub_store *s, const char *sql) { return sql_exec(s->db, s->path, sql); }

/* The turn every hub store handle of this process takes to write (store/sql.h). */
static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER;

/* Steps a statement that returns no row (a write), and gives it back. */
cella_res hs_run(hub_store *s, stmt *q, const char *what)
{
    int rc = sql_write_step(&s->writer, q);
    cella_res r = rc == SQLITE_DONE ? CELLA_OK_RES : hs_db_fail(s, what);
    hs_sdone(s, q);
    return r;
}


static cella_res has_column(hub_store *s, const char *table, const char *col, bool *has)
{
    stmt q = hs_sprep(s, "SELECT name FROM pragma_table_info(?)");
    bt(&q, 1, table);
    int rc;
    *has = false;
    while ((rc = step(&q)) == SQLITE_ROW)
        *has = *has || !strcmp((const char *)sqlite3_column_text(q.st, 0), col);
    hs_sdone(s, &q);
    if (rc != SQLITE_DONE)
        return hs_db_fail(s, "cannot read the schema");
    return CELLA_OK_RES;
}

/* Tasks recorded before tasks.workerpool existed get their deal's pool. */
static cella_res backfill_pools(hub_store *s)
{
    for (;;) {
        stmt q = hs_sprep(s, "SELECT dealid FROM tasks WHERE workerpool IS NULL LIMIT 1");
        uint8_t dealid[32];
        int rc = step(&q);
        if (rc == SQLITE_ROW)
            col_blob(&q, 0, dealid, 32);
        hs_sdone(s, &q);
        if (rc == SQLITE_DONE)
            return CELLA_OK_RES;
        if (rc != SQLITE_ROW)
            return hs_db_fail(s, "cannot read the tasks");
        json_t *d;
        CELLA_TRY(hub_store_deal_get(s, dealid, &d));
        const char *wp = json_string_value(json_object_get(json_object_get(d, "workerpool"),
                                                           "pointer"));
        uint8_t pool[20];
        cella_res r = wp ? cella_eth_address_parse(pool, wp, "deal workerpool")
                         : cella_fail(CELLA_E_INTERNAL, "deal", "the stored deal has no workerpool");
        json_decref(d);
        CELLA_TRY(r);
        stmt u = hs_sprep(s, "UPDATE tasks SET workerpool = ? WHERE dealid = ?");
        bb(&u, 1, pool, 20);
        bb(&u, 2, dealid, 32);
        CELLA_TRY(hs_run(s, &u, "cannot update the tasks"));
    }
}

static cella_res migrate(hub_store *s)
{
    CELLA_TRY(hs_begin(s));
    cella_res r = CELLA_OK_RES;
    for (size_t i = 0; cella_ok(r) && i < sizeof g_task_columns / sizeof g_task_columns[0]; i++) {
        bool has;
        r = has_column(s, "tasks", g_task_columns[i][0], &has);
        char sql[128];
        snprintf(sql, sizeof sql, "ALTER TABLE tasks ADD COLUMN %s %s", g_task_columns[i][0],
                 g_task_columns[i][1]);
        if (cella_ok(r) && !has)
            r = exec(s, sql);
    }
    if (cella_ok(r))
        r = exec(s, "CREATE INDEX IF NOT EXISTS tasks_pool ON tasks(workerpool, start, idx)");
    /* events of orders and deals carry their details (JSON); task watchers
     * read one task's events */
    bool has_detail = false;
    if (cella_ok(r))
        r = has_column(s, "events", "detail", &has_detail);
    if (cella_ok(r) && !has_detail)
        r = exec(s, "ALTER TABLE events ADD COLUMN detail TEXT");
    if (cella_ok(r))
        r = exec(s, "CREATE INDEX IF NOT EXISTS events_task ON events(taskid, seq)");
    if (cella_ok(r))
        r = backfill_pools(s);
    if (cella_ok(r))
        r = hs_commit(s);
    else
        hs_rollback(s);
    return r;
}

cella_res hub_store_open(const char *path, hub_store **out)
{
    *out = NULL;
    hub_store *s = calloc(1, sizeof *s);
    CELLA_ENSURE(s, CELLA_E_NOMEM, path, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    s->writer.turn = &g_writer;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        cella_res r = cella_fail(CELLA_E_IO, path, "cannot open database: %s",
                                 s->db ? sqlite3_errmsg(s->db) : "?");
        hub_store_close(s);
        return r;
    }
    sqlite3_busy_timeout(s->db, 10000);
    /* WAL for concurrent readers; FULL: each commit is fsynced before it returns. */
    cella_res r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    if (cella_ok(r))
        r = exec(s, SCHEMA);
    if (cella_ok(r))
        r = migrate(s);
    if (!cella_ok(r)) {
        hub_store_close(s);
        return r;
    }
    *out = s;
    return CELLA_OK_RES;
}

void hub_store_close(hub_store *s)
{
    if (!s)
        return;
    stmt_cache_clear(&s->stmts);
    for (size_t i = 0; i < ORDER_CACHE_MAX; i++)
        if (s->orders[i].used)
            cella_order_free(&s->orders[i].o);
    sqlite3_close_v2(s->db);
    free(s);
}

/* ---- text helpers ---- */

json_t *hs_addr_json(const uint8_t a[20])
{
    char t[43];
    cella_eth_address_checksum(t, a);
    return json_string(t);
}

json_t *hs_hex_json(const uint8_t *p, size_t n)
{
    char t[2 * 64 + 3];
    t[0] = '0';
    t[1] = 'x';
    cella_hex_encode(t + 2, p, n, false);
    return json_string(t);
}

json_t *hs_u64_json(uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    return json_string(t);
}

/* ---- read-only listings (the web page) ---- */

/* Appends v to *arr; on failure frees both and sets *arr NULL. */
void hs_append_or_drop(json_t **arr, json_t *v)
{
    if (!v || json_array_append_new(*arr, v)) {
        json_decref(*arr);
        *arr = NULL;
    }
}

size_t hs_list_limit(size_t limit)
{
    return limit && limit < HUB_LIST_MAX ? limit : HUB_LIST_MAX;
}
