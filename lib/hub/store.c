/* The hub's state over store/db.h (SQLite or PostgreSQL): see store.h. This
 * file opens the database (schema, migrations), commits with the pending
 * events, and holds the helpers the other store_*.c files share
 * (store_int.h). */
#include "hub/store_int.h"
#include "store/challenges.h"

/* The event counter: one row, locked by each committing transaction that
 * records events (hs_commit). */
#define HUB_META_TABLE                                                                             \
    "CREATE TABLE IF NOT EXISTS hub_meta(one INTEGER PRIMARY KEY CHECK (one = 1),"                 \
    " event_seq BIGINT NOT NULL);"

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
    /* a deal's tasks, paged (the web page's deal and account pages) */
    "CREATE INDEX IF NOT EXISTS tasks_deal ON tasks(dealid, start, idx, taskid);"
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
    "CREATE TABLE IF NOT EXISTS worker_scores(address BLOB PRIMARY KEY, score INTEGER NOT NULL);"
    HUB_META_TABLE;

static const char SCHEMA_POSTGRES[] =
    "CREATE TABLE IF NOT EXISTS resources(address BYTEA PRIMARY KEY, kind BIGINT NOT NULL,"
    " owner BYTEA NOT NULL, name TEXT NOT NULL, multiaddr TEXT NOT NULL, checksum BYTEA NOT NULL,"
    " measurement TEXT NOT NULL, created BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS resources_owner ON resources(kind, owner);"
    "CREATE TABLE IF NOT EXISTS orders(id BIGSERIAL PRIMARY KEY, hash BYTEA NOT NULL UNIQUE,"
    " kind BIGINT NOT NULL, signer BYTEA NOT NULL, app BYTEA, dataset BYTEA, workerpool BYTEA,"
    " requester BYTEA, category BIGINT, tag BYTEA NOT NULL, price BYTEA NOT NULL,"
    " volume BYTEA NOT NULL, json TEXT NOT NULL, published BIGINT NOT NULL, sign BYTEA NOT NULL);"
    "CREATE INDEX IF NOT EXISTS orders_kind ON orders(kind);"
    "CREATE TABLE IF NOT EXISTS consumed(hash BYTEA PRIMARY KEY, amount BYTEA NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deals(dealid BYTEA PRIMARY KEY, json TEXT NOT NULL,"
    " created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tasks(taskid BYTEA PRIMARY KEY, dealid BYTEA NOT NULL,"
    " idx BIGINT NOT NULL, status TEXT NOT NULL, start BIGINT NOT NULL,"
    " contribution_deadline BIGINT NOT NULL, final_deadline BIGINT NOT NULL,"
    " worker BYTEA, result_digest BYTEA, result_hash BYTEA, result_seal BYTEA, finalized BIGINT,"
    " workerpool BYTEA, lease_holder TEXT, lease_until BIGINT, error TEXT, results TEXT,"
    " consensus_value BYTEA, reveal_deadline BIGINT, reveal_counter BIGINT, winner_counter BIGINT,"
    " tee TEXT, enclave TEXT);"
    "CREATE INDEX IF NOT EXISTS tasks_pool_order ON tasks(workerpool, start, idx, taskid);"
    "CREATE INDEX IF NOT EXISTS tasks_deal ON tasks(dealid, start, idx, taskid);"
    "CREATE TABLE IF NOT EXISTS accounts(address BYTEA PRIMARY KEY, balance BIGINT NOT NULL,"
    " locked BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS task_logs(taskid BYTEA PRIMARY KEY, stdout TEXT NOT NULL,"
    " stderr TEXT NOT NULL, updated BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events(seq BIGINT PRIMARY KEY, type TEXT NOT NULL,"
    " taskid BYTEA NOT NULL, dealid BYTEA NOT NULL, workerpool BYTEA NOT NULL, time BIGINT NOT NULL,"
    " detail TEXT);"
    "CREATE INDEX IF NOT EXISTS events_task ON events(taskid, seq);"
    "CREATE INDEX IF NOT EXISTS events_pool ON events(workerpool, seq);"
    /* consensus (trust > 1): PoCo's m_contributions and m_workerScores */
    "CREATE TABLE IF NOT EXISTS contributions(taskid BYTEA NOT NULL, worker BYTEA NOT NULL,"
    " seq BIGINT NOT NULL, status TEXT NOT NULL, result_hash BYTEA NOT NULL,"
    " result_seal BYTEA NOT NULL, enclave_challenge BYTEA NOT NULL, weight BIGINT NOT NULL,"
    " stake BIGINT NOT NULL, time BIGINT NOT NULL, PRIMARY KEY(taskid, worker));"
    "CREATE TABLE IF NOT EXISTS worker_scores(address BYTEA PRIMARY KEY, score BIGINT NOT NULL);"
    HUB_META_TABLE CELLA_CHALLENGE_TABLES_PG;

/* Columns added to tasks after the first release (the worker flow, then
 * consensus); a database made before them gets them at open. */
static const char *const g_task_columns[][2] = {
    {"workerpool", "BLOB"},      {"lease_holder", "TEXT"},      {"lease_until", "INTEGER"},
    {"error", "TEXT"},           {"results", "TEXT"},           {"consensus_value", "BLOB"},
    {"reveal_deadline", "INTEGER"}, {"reveal_counter", "INTEGER"}, {"winner_counter", "INTEGER"},
    {"tee", "TEXT"},             {"enclave", "TEXT"},
};

/* ---- plumbing ---- */

static cella_res exec(hub_store *s, const char *sql) { return db_exec(s->db, sql); }

/* The turn every SQLite hub store handle of this process takes to write. */
static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER;

/* Steps a statement that returns no row (a write), and gives it back. */
cella_res hs_run(hub_store *s, dbq *q, const char *what)
{
    int rc = db_write_step(q);
    cella_res r = rc == DB_DONE ? CELLA_OK_RES : db_failure(s->db, what);
    db_done(q);
    return r;
}

cella_res hs_lock_row(hub_store *s, const char *ensure_sql, const void *key, size_t n)
{
    if (!hs_locking(s) || cella_db_kind_of(s->db) != CELLA_DB_POSTGRES)
        return CELLA_OK_RES; /* SQLite: BEGIN IMMEDIATE keeps other writers out */
    dbq q = db_prep(s->db, ensure_sql);
    db_bb(&q, 1, key, n);
    return hs_run(s, &q, "cannot create a row to lock");
}

static void events_forget(hub_store *s)
{
    for (size_t i = 0; i < s->nevents; i++)
        free(s->events[i].detail);
    s->nevents = 0;
}

static cella_res events_write(hub_store *s)
{
    dbq c = db_prep(s->db, "UPDATE hub_meta SET event_seq = event_seq + ? WHERE one = 1"
                           " RETURNING event_seq");
    db_bi(&c, 1, (int64_t)s->nevents);
    int rc = db_step(&c);
    int64_t last = rc == DB_ROW ? db_col_int(&c, 0) : 0;
    db_done(&c);
    if (rc != DB_ROW)
        return db_failure(s->db, "cannot number the events");
    dbq q = db_prep(s->db, "INSERT INTO events(seq, type, taskid, dealid, workerpool, time, detail)"
                           " VALUES(?,?,?,?,?,?,?)");
    int64_t seq = last - (int64_t)s->nevents;
    for (size_t i = 0; i < s->nevents; i++) {
        const hs_event *e = &s->events[i];
        db_reset(&q);
        db_bi(&q, 1, ++seq);
        db_bt(&q, 2, e->type);
        db_bb(&q, 3, e->taskid, 32);
        db_bb(&q, 4, e->dealid, 32);
        db_bb(&q, 5, e->pool, 20);
        db_bi(&q, 6, e->time);
        if (e->detail)
            db_bt(&q, 7, e->detail);
        else
            db_bnull(&q, 7);
        if (db_step(&q) != DB_DONE) {
            cella_res r = db_failure(s->db, "cannot record an event");
            db_done(&q);
            return r;
        }
    }
    db_done(&q);
    char payload[24];
    snprintf(payload, sizeof payload, "%lld", (long long)last);
    return db_notify(s->db, HS_EVENTS_CHANNEL, payload);
}

cella_res hs_commit(hub_store *s)
{
    cella_res r = s->nevents ? events_write(s) : CELLA_OK_RES;
    events_forget(s);
    if (!cella_ok(r)) {
        db_rollback(s->db);
        return r;
    }
    return db_commit(s->db);
}

void hs_rollback(hub_store *s)
{
    events_forget(s);
    db_rollback(s->db);
}

static cella_res has_column(hub_store *s, const char *table, const char *col, bool *has)
{
    dbq q = db_prep(s->db, "SELECT name FROM pragma_table_info(?)");
    db_bt(&q, 1, table);
    int rc;
    *has = false;
    while ((rc = db_step(&q)) == DB_ROW)
        *has = *has || !strcmp(db_col_text(&q, 0), col);
    db_done(&q);
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot read the schema");
    return CELLA_OK_RES;
}

/* Tasks recorded before tasks.workerpool existed get their deal's pool. */
static cella_res backfill_pools(hub_store *s)
{
    for (;;) {
        dbq q = db_prep(s->db, "SELECT dealid FROM tasks WHERE workerpool IS NULL LIMIT 1");
        uint8_t dealid[32];
        int rc = db_step(&q);
        if (rc == DB_ROW)
            db_col_bytes(&q, 0, dealid, 32);
        db_done(&q);
        if (rc == DB_DONE)
            return CELLA_OK_RES;
        if (rc != DB_ROW)
            return db_failure(s->db, "cannot read the tasks");
        json_t *d;
        CELLA_TRY(hub_store_deal_get(s, dealid, &d));
        const char *wp = json_string_value(json_object_get(json_object_get(d, "workerpool"),
                                                           "pointer"));
        uint8_t pool[20];
        cella_res r = wp ? cella_eth_address_parse(pool, wp, "deal workerpool")
                         : cella_fail(CELLA_E_INTERNAL, "deal", "the stored deal has no workerpool");
        json_decref(d);
        CELLA_TRY(r);
        dbq u = db_prep(s->db, "UPDATE tasks SET workerpool = ? WHERE dealid = ?");
        db_bb(&u, 1, pool, 20);
        db_bb(&u, 2, dealid, 32);
        CELLA_TRY(hs_run(s, &u, "cannot update the tasks"));
    }
}

/* A SQLite database made by an earlier cella (before the schema had a
 * version) gets the columns, indexes and counter added since. */
static cella_res migrate_sqlite(hub_store *s)
{
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
        r = exec(s, "CREATE INDEX IF NOT EXISTS tasks_pool_order"
                    " ON tasks(workerpool, start, idx, taskid)");
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
    return r;
}

static cella_res migrate(cella_db *db, int from_version, void *ctx)
{
    hub_store *s = ctx;
    s->db = db; /* cella_db_open has not returned it yet */
    (void)from_version;
    /* idempotent (it looks at the columns there are), so a database whose
     * version was recorded before a column went missing is mended too */
    if (cella_db_kind_of(s->db) == CELLA_DB_SQLITE)
        CELLA_TRY(migrate_sqlite(s));
    else { /* added after the first PostgreSQL release: the enclave kind of a task's
            * result, and the enclave key that signed a trust-1 result */
        CELLA_TRY(exec(s, "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS tee TEXT"));
        CELLA_TRY(exec(s, "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS enclave TEXT"));
    }
    /* a pool's tasks are listed in the order of tasks_pool_order, to the
     * task id, so a listing reads its page and stops; the index it
     * replaces left every task started in the same second to sort */
    CELLA_TRY(exec(s, "DROP INDEX IF EXISTS tasks_pool"));
    /* the event counter starts after the events there are */
    return exec(s, "INSERT INTO hub_meta(one, event_seq) SELECT 1, coalesce(max(seq), 0)"
                   " FROM events WHERE true ON CONFLICT DO NOTHING");
}

static const cella_db_schema g_schema = {"hub", 1, SCHEMA, SCHEMA_POSTGRES, migrate};

cella_res hub_store_open(const char *url, hub_store **out)
{
    *out = NULL;
    hub_store *s = calloc(1, sizeof *s);
    CELLA_ENSURE(s, CELLA_E_NOMEM, url, "out of memory");
    cella_res r = cella_db_open(url, &g_schema, s, &g_writer, &s->db);
    if (!cella_ok(r)) {
        free(s);
        return r;
    }
    *out = s;
    return CELLA_OK_RES;
}

void hub_store_close(hub_store *s)
{
    if (!s)
        return;
    events_forget(s);
    free(s->events);
    for (size_t i = 0; i < ORDER_CACHE_MAX; i++)
        if (s->orders[i].used)
            cella_order_free(&s->orders[i].o);
    cella_db_close(s->db);
    free(s);
}

cella_res hub_store_now(hub_store *s, int64_t *now) { return db_now(s->db, now); }
cella_db *hub_store_db(hub_store *s) { return s->db; }

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

/* A text column as a JSON string, or null. */
json_t *hs_col_text_json(dbq *q, int i)
{
    const char *t = db_col_text(q, i);
    return t ? json_stringn(t, (size_t)db_col_len(q, i)) : json_null();
}

void hs_id_text(const uint8_t id[32], char out[67])
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, id, 32, false);
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
