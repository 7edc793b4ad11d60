/* The hub's state in SQLite: see store.h. */
#include "hub/store.h"
#include "store/sql.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"
#include "identity/eth.h"
#include "hub/consensus.h"
#include "hub/task.h"

#define ORDER_CACHE_MAX 16

struct hub_store {
    sqlite3 *db;
    char path[1024];
    uint64_t dev_timeref; /* 0: the categories' */
    stmt_cache stmts;
    sql_writer writer;
    /* Orders read by hash, parsed: an order's row never changes once
     * committed, and matches name the same app, dataset and pool orders
     * again and again. Filled round robin. */
    struct {
        bool used;
        uint8_t hash[32];
        cella_order o;
    } orders[ORDER_CACHE_MAX];
    size_t next_order;
};



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

static stmt sprep(hub_store *s, const char *sql) { return cached_prep(&s->stmts, s->db, sql); }
static void sdone(hub_store *s, stmt *q) { cached_done(&s->stmts, q); }

static cella_res db_fail(hub_store *s, const char *what)
{
    return cella_fail(CELLA_E_IO, s->path, "%s: %s", what, sqlite3_errmsg(s->db));
}

static cella_res exec(hub_store *s, const char *sql) { return sql_exec(s->db, s->path, sql); }

/* The turn every hub store handle of this process takes to write (store/sql.h). */
static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER;

/* Steps a statement that returns no row (a write), and gives it back. */
static cella_res run(hub_store *s, stmt *q, const char *what)
{
    int rc = sql_write_step(&s->writer, q);
    cella_res r = rc == SQLITE_DONE ? CELLA_OK_RES : db_fail(s, what);
    sdone(s, q);
    return r;
}

/* Transactions on the process's writer turn (store/sql.h). */
static cella_res begin(hub_store *s) { return sql_begin(&s->writer, &s->stmts, s->db, s->path); }
static cella_res commit(hub_store *s) { return sql_commit(&s->writer, &s->stmts, s->db, s->path); }
/* A no-op after a failed commit, which already rolled back. */
static void rollback(hub_store *s) { (void)sql_txn_end(&s->writer, &s->stmts, s->db, false, NULL, 0); }

static cella_res has_column(hub_store *s, const char *table, const char *col, bool *has)
{
    stmt q = sprep(s, "SELECT name FROM pragma_table_info(?)");
    bt(&q, 1, table);
    int rc;
    *has = false;
    while ((rc = step(&q)) == SQLITE_ROW)
        *has = *has || !strcmp((const char *)sqlite3_column_text(q.st, 0), col);
    sdone(s, &q);
    if (rc != SQLITE_DONE)
        return db_fail(s, "cannot read the schema");
    return CELLA_OK_RES;
}

/* Tasks recorded before tasks.workerpool existed get their deal's pool. */
static cella_res backfill_pools(hub_store *s)
{
    for (;;) {
        stmt q = sprep(s, "SELECT dealid FROM tasks WHERE workerpool IS NULL LIMIT 1");
        uint8_t dealid[32];
        int rc = step(&q);
        if (rc == SQLITE_ROW)
            col_blob(&q, 0, dealid, 32);
        sdone(s, &q);
        if (rc == SQLITE_DONE)
            return CELLA_OK_RES;
        if (rc != SQLITE_ROW)
            return db_fail(s, "cannot read the tasks");
        json_t *d;
        CELLA_TRY(hub_store_deal_get(s, dealid, &d));
        const char *wp = json_string_value(json_object_get(json_object_get(d, "workerpool"),
                                                           "pointer"));
        uint8_t pool[20];
        cella_res r = wp ? cella_eth_address_parse(pool, wp, "deal workerpool")
                         : cella_fail(CELLA_E_INTERNAL, "deal", "the stored deal has no workerpool");
        json_decref(d);
        CELLA_TRY(r);
        stmt u = sprep(s, "UPDATE tasks SET workerpool = ? WHERE dealid = ?");
        bb(&u, 1, pool, 20);
        bb(&u, 2, dealid, 32);
        CELLA_TRY(run(s, &u, "cannot update the tasks"));
    }
}

static cella_res migrate(hub_store *s)
{
    CELLA_TRY(begin(s));
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
        r = commit(s);
    else
        rollback(s);
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

static json_t *addr_json(const uint8_t a[20])
{
    char t[43];
    cella_eth_address_checksum(t, a);
    return json_string(t);
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char t[2 * 64 + 3];
    t[0] = '0';
    t[1] = 'x';
    cella_hex_encode(t + 2, p, n, false);
    return json_string(t);
}

static json_t *u256_json(const uint8_t w[32])
{
    char t[80];
    cella_u256_format(w, t);
    return json_string(t);
}

static json_t *u64_json(uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    return json_string(t);
}

/* ---- registries ---- */

static cella_res resource_get_any(hub_store *s, const uint8_t addr[20], hub_resource *r,
                                  bool *found)
{
    stmt q = sprep(s, "SELECT kind, owner, name, multiaddr, checksum, measurement, created"
                     " FROM resources WHERE address = ?");
    bb(&q, 1, addr, 20);
    int rc = step(&q);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        memset(r, 0, sizeof *r);
        r->kind = (hub_kind)sqlite3_column_int(q.st, 0);
        memcpy(r->address, addr, 20);
        col_blob(&q, 1, r->owner, 20);
        snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(q.st, 2));
        snprintf(r->multiaddr, sizeof r->multiaddr, "%s",
                 (const char *)sqlite3_column_text(q.st, 3));
        col_blob(&q, 4, r->checksum, 32);
        snprintf(r->measurement, sizeof r->measurement, "%s",
                 (const char *)sqlite3_column_text(q.st, 5));
        r->created = sqlite3_column_int64(q.st, 6);
    }
    sdone(s, &q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, "resource lookup failed");
    return CELLA_OK_RES;
}

static cella_res resource_insert(hub_store *s, const hub_resource *r, int64_t now)
{
    stmt q = sprep(s, "INSERT INTO resources(address, kind, owner, name, multiaddr, checksum,"
                     " measurement, created) VALUES(?,?,?,?,?,?,?,?)");
    bb(&q, 1, r->address, 20);
    bi(&q, 2, r->kind);
    bb(&q, 3, r->owner, 20);
    bt(&q, 4, r->name);
    bt(&q, 5, r->multiaddr);
    bb(&q, 6, r->checksum, 32);
    bt(&q, 7, r->measurement);
    bi(&q, 8, now);
    int rc = step(&q);
    sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot register the resource: %s",
                 sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

static cella_res check_resource(const hub_resource *r)
{
    CELLA_ENSURE((unsigned)r->kind < HUB_KIND__COUNT, CELLA_E_USAGE, "kind", "unknown kind");
    CELLA_ENSURE(strlen(r->name) > 0, CELLA_E_USAGE, "name", "a resource needs a name");
    return CELLA_OK_RES;
}

/* Registers at r->address unless present; same kind and owner: *created = false. */
static cella_res register_tx(hub_store *s, hub_resource *r, int64_t now, bool *created)
{
    CELLA_TRY(check_resource(r));
    CELLA_TRY(begin(s));
    hub_resource cur;
    bool found = false;
    cella_res res = resource_get_any(s, r->address, &cur, &found);
    char at[43];
    cella_eth_address_checksum(at, r->address);
    if (cella_ok(res) && found) {
        if (cur.kind != r->kind || memcmp(cur.owner, r->owner, 20) != 0)
            res = cella_fail(CELLA_E_EXISTS, at, "the address is taken by another %s or owner",
                             hub_kind_name(cur.kind));
        else
            *r = cur;
        *created = false;
    } else if (cella_ok(res)) {
        res = resource_insert(s, r, now);
        r->created = now;
        *created = true;
    }
    if (cella_ok(res))
        res = commit(s);
    if (!cella_ok(res))
        rollback(s);
    return res;
}

cella_res hub_store_deploy(hub_store *s, hub_resource *r, int64_t now, bool *created)
{
    hub_resource_address(r, r->address);
    return register_tx(s, r, now, created);
}

cella_res hub_store_register_at(hub_store *s, const hub_resource *r, int64_t now)
{
    hub_resource copy = *r;
    bool created;
    return register_tx(s, &copy, now, &created);
}

static cella_res event_add_detail(hub_store *s, const char *type, const uint8_t *taskid,
                                  const uint8_t *dealid, const uint8_t *pool, json_t *detail,
                                  int64_t now);

cella_res hub_store_transfer(hub_store *s, hub_kind k, const uint8_t addr[20],
                             const uint8_t from[20], const uint8_t to[20], int64_t now)
{
    static const uint8_t zero[20] = {0};
    char at[43], owner[43], who[43];
    cella_eth_address_checksum(at, addr);
    CELLA_ENSURE(memcmp(to, zero, 20) != 0, CELLA_E_PARSE, "to", "cannot transfer to address zero");
    CELLA_TRY(begin(s));
    hub_resource cur;
    bool found = false;
    cella_res r = resource_get_any(s, addr, &cur, &found);
    if (cella_ok(r) && (!found || cur.kind != k))
        r = cella_fail(CELLA_E_NOTFOUND, at, "no such %s on this hub", hub_kind_name(k));
    if (cella_ok(r) && memcmp(cur.owner, from, 20) != 0) {
        cella_eth_address_checksum(owner, cur.owner);
        cella_eth_address_checksum(who, from);
        r = cella_fail(CELLA_E_PERM, at, "%s belongs to %s, not to %s: only its owner may transfer it",
                       at, owner, who);
    }
    if (cella_ok(r) && memcmp(to, from, 20) == 0)
        r = cella_fail(CELLA_E_PARSE, "to", "%s is yours already", at);
    if (cella_ok(r)) {
        stmt q = sprep(s, "UPDATE resources SET owner = ? WHERE address = ?");
        bb(&q, 1, to, 20);
        bb(&q, 2, addr, 20);
        r = run(s, &q, "cannot transfer the resource");
    }
    if (cella_ok(r)) {
        cella_eth_address_checksum(owner, from);
        cella_eth_address_checksum(who, to);
        json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "address", at, "kind", hub_kind_name(k),
                              "from", owner, "to", who);
        r = event_add_detail(s, "resource-transferred", NULL, NULL, NULL, d, now);
    }
    if (cella_ok(r))
        r = commit(s);
    if (!cella_ok(r))
        rollback(s);
    return r;
}

cella_res hub_store_resource_get(hub_store *s, hub_kind k, const uint8_t addr[20],
                                 hub_resource *r)
{
    bool found;
    CELLA_TRY(resource_get_any(s, addr, r, &found));
    char at[43];
    cella_eth_address_checksum(at, addr);
    CELLA_ENSURE(found && r->kind == k, CELLA_E_NOTFOUND, at, "no such %s on this hub",
                 hub_kind_name(k));
    return CELLA_OK_RES;
}

cella_res hub_store_resource_count(hub_store *s, hub_kind k, const uint8_t *owner, uint64_t *n)
{
    stmt q = sprep(s, owner ? "SELECT count(*) FROM resources WHERE kind = ? AND owner = ?"
                           : "SELECT count(*) FROM resources WHERE kind = ?");
    bi(&q, 1, k);
    if (owner)
        bb(&q, 2, owner, 20);
    int rc = step(&q);
    if (rc == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(q.st, 0);
    sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_ROW, CELLA_E_IO, s->path, "count failed: %s", sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

json_t *hub_resource_json(const hub_resource *r)
{
    json_t *j = json_pack("{s:o, s:s, s:o, s:s, s:s, s:o, s:I}", "address", addr_json(r->address),
                          "kind", hub_kind_name(r->kind), "owner", addr_json(r->owner), "name",
                          r->name, "multiaddr", r->multiaddr, "checksum", hex_json(r->checksum, 32),
                          "created", (json_int_t)r->created);
    if (j && r->kind == HUB_APP)
        json_object_set_new(j, "measurement", json_string(r->measurement));
    return j;
}

/* ---- events ---- */

/* An event in the current transaction. taskid, dealid and pool may be NULL
 * (stored as zeros, shown as null); detail (JSON object, stolen, or NULL)
 * adds fields to the event. */
static cella_res event_add_detail(hub_store *s, const char *type, const uint8_t *taskid,
                                  const uint8_t *dealid, const uint8_t *pool, json_t *detail,
                                  int64_t now)
{
    static const uint8_t zero[32] = {0};
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(detail);
    CELLA_ENSURE(!detail || text, CELLA_E_NOMEM, "events", "out of memory");
    stmt q = sprep(s, "INSERT INTO events(type, taskid, dealid, workerpool, time, detail)"
                     " VALUES(?,?,?,?,?,?)");
    bt(&q, 1, type);
    bb(&q, 2, taskid ? taskid : zero, 32);
    bb(&q, 3, dealid ? dealid : zero, 32);
    bb(&q, 4, pool ? pool : zero, 20);
    bi(&q, 5, now);
    if (text)
        bt(&q, 6, text);
    cella_res r = run(s, &q, "cannot record an event");
    free(text);
    return r;
}

static cella_res event_add(hub_store *s, const char *type, const uint8_t taskid[32],
                           const uint8_t dealid[32], const uint8_t pool[20], int64_t now)
{
    return event_add_detail(s, type, taskid, dealid, pool, NULL, now);
}

/* order-published and order-cancelled: {"orderHash", "orderKind"}; the pool
 * is the order's workerpool (a request's may be zero; app and dataset
 * orders have none). */
static cella_res order_event(hub_store *s, const char *type, const uint8_t hash[32], int kind,
                             const uint8_t *pool, int64_t now)
{
    json_t *d = json_pack("{s:o, s:s}", "orderHash", hex_json(hash, 32), "orderKind",
                          cella_order_key((cella_order_kind)kind));
    CELLA_ENSURE(d, CELLA_E_NOMEM, "events", "out of memory");
    return event_add_detail(s, type, NULL, NULL, pool, d, now);
}

/* ---- consumed (m_consumed) ---- */

static cella_res consumed_get(hub_store *s, const uint8_t hash[32], uint8_t amount[32])
{
    stmt q = sprep(s, "SELECT amount FROM consumed WHERE hash = ?");
    bb(&q, 1, hash, 32);
    int rc = step(&q);
    if (rc == SQLITE_ROW)
        col_blob(&q, 0, amount, 32);
    else
        memset(amount, 0, 32);
    sdone(s, &q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, "consumed lookup failed");
    return CELLA_OK_RES;
}

static cella_res consumed_set(hub_store *s, const uint8_t hash[32], const uint8_t amount[32])
{
    stmt q = sprep(s, "INSERT INTO consumed(hash, amount) VALUES(?, ?)"
                     " ON CONFLICT(hash) DO UPDATE SET amount = excluded.amount");
    bb(&q, 1, hash, 32);
    bb(&q, 2, amount, 32);
    int rc = step(&q);
    sdone(s, &q);
    if (rc != SQLITE_DONE)
        return db_fail(s, "cannot update consumed volume");
    return CELLA_OK_RES;
}

cella_res hub_store_consumed(hub_store *s, const uint8_t hash[32], uint8_t amount[32])
{
    return consumed_get(s, hash, amount);
}

/* ---- orders ---- */

static const char *const g_resource_field[CELLA_ORDER__COUNT] = {"app", "dataset", "workerpool",
                                                                  "app"};
static const char *const g_price_field[CELLA_ORDER__COUNT] = {
    "appprice", "datasetprice", "workerpoolprice", "workerpoolmaxprice"};

/* Owner of a registered resource of kind k at the address in word (NOTFOUND otherwise). */
static cella_res owner_of(hub_store *s, hub_kind k, const uint8_t word[32], uint8_t owner[20])
{
    hub_resource r;
    CELLA_TRY(hub_store_resource_get(s, k, word + 12, &r));
    memcpy(owner, r.owner, 20);
    return CELLA_OK_RES;
}

static cella_res publish_checks(hub_store *s, const cella_domain *d, const cella_order *o,
                                uint8_t signer[20])
{
    const char *what = cella_order_key(o->kind);
    CELLA_TRY(cella_order_verify(d, o, NULL, signer));
    uint8_t w[32], owner[20];
    if (o->kind == CELLA_ORDER_REQUEST) {
        hub_order_field(o, "app", w);
        CELLA_TRY(owner_of(s, HUB_APP, w, owner));
        hub_order_field(o, "dataset", w);
        if (!hub_u256_is_zero(w))
            CELLA_TRY(owner_of(s, HUB_DATASET, w, owner));
        hub_order_field(o, "workerpool", w);
        if (!hub_u256_is_zero(w))
            CELLA_TRY(owner_of(s, HUB_WORKERPOOL, w, owner));
        return CELLA_OK_RES;
    }
    hub_order_field(o, g_resource_field[o->kind], w);
    CELLA_TRY(owner_of(s, (hub_kind)o->kind, w, owner));
    char st[43], ot[43];
    cella_eth_address_checksum(st, signer);
    cella_eth_address_checksum(ot, owner);
    CELLA_ENSURE(!memcmp(owner, signer, 20), CELLA_E_PERM, what,
                 "the order is signed by %s, but the %s belongs to %s", st,
                 g_resource_field[o->kind], ot);
    return CELLA_OK_RES;
}

cella_res hub_store_order_publish(hub_store *s, const cella_domain *d, const cella_order *o,
                                  int64_t now, uint8_t hash[32], bool *created)
{
    *created = false;
    cella_order_hash(d, o, hash);
    json_t *oj = cella_order_to_json(o);
    char *text = oj ? json_dumps(oj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(oj);
    CELLA_ENSURE(text, CELLA_E_NOMEM, "order", "out of memory");
    uint8_t signer[20];
    cella_res r = begin(s);
    if (!cella_ok(r)) {
        free(text);
        return r;
    }
    r = publish_checks(s, d, o, signer);
    bool exists = false;
    if (cella_ok(r)) {
        stmt q = sprep(s, "SELECT 1 FROM orders WHERE hash = ?");
        bb(&q, 1, hash, 32);
        int rc = step(&q);
        exists = rc == SQLITE_ROW;
        sdone(s, &q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = db_fail(s, "order lookup failed");
    }
    uint8_t vol[32], used[32], rem[32];
    if (cella_ok(r) && !exists) {
        hub_order_field(o, "volume", vol);
        r = consumed_get(s, hash, used);
        if (cella_ok(r) && (!hub_u256_sub(rem, vol, used) || hub_u256_is_zero(rem)))
            r = cella_fail(CELLA_E_POLICY, cella_order_key(o->kind),
                           "the order has no volume left (fully consumed or cancelled)");
    }
    if (cella_ok(r) && !exists) {
        uint8_t tag[32], price[32], w[32];
        hub_order_field(o, "tag", tag);
        hub_order_field(o, g_price_field[o->kind], price);
        stmt q = sprep(s, "INSERT INTO orders(hash, kind, signer, app, dataset, workerpool,"
                         " requester, category, tag, price, volume, json, published, sign)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        bb(&q, 1, hash, 32);
        bi(&q, 2, o->kind);
        bb(&q, 3, signer, 20);
        const char *cols[4] = {"app", "dataset", "workerpool", "requester"};
        for (int i = 0; i < 4; i++) {
            bool has = cella_ok(cella_order_word(o, cols[i], w));
            cella_error_clear();
            bbn(&q, 4 + i, has ? w + 12 : NULL, 20);
        }
        uint64_t cat = 0;
        bool has_cat = cella_ok(cella_order_word(o, "category", w));
        cella_error_clear();
        if (has_cat && hub_u256_to_u64(w, &cat) && cat <= INT64_MAX)
            bi(&q, 8, (int64_t)cat);
        else
            bi(&q, 8, -1);
        bb(&q, 9, tag, 32);
        bb(&q, 10, price, 32);
        bb(&q, 11, vol, 32);
        bt(&q, 12, text);
        bi(&q, 13, now);
        bb(&q, 14, o->sign, 65);
        int rc = step(&q);
        sdone(s, &q);
        if (rc != SQLITE_DONE)
            r = db_fail(s, "cannot store the order");
        *created = true;
        bool has_pool = o->kind == CELLA_ORDER_WORKERPOOL || o->kind == CELLA_ORDER_REQUEST;
        if (cella_ok(r) && has_pool)
            hub_order_field(o, "workerpool", w);
        if (cella_ok(r))
            r = order_event(s, "order-published", hash, o->kind, has_pool ? w + 12 : NULL, now);
    }
    if (cella_ok(r))
        r = commit(s);
    if (!cella_ok(r))
        rollback(s);
    free(text);
    return r;
}

static cella_res order_from_text(const char *text, int kind, cella_order *o)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    CELLA_ENSURE(j, CELLA_E_INTERNAL, "orders", "stored order is not JSON");
    cella_res r = cella_order_from_json(j, (cella_order_kind)kind, false, o);
    json_decref(j);
    return r;
}

/* One row of the order book as JSON. */
static json_t *entry_json(hub_store *s, stmt *q, uint8_t rem_out[32], bool *ok)
{
    /* columns: hash, kind, signer, volume, json, published */
    uint8_t hash[32], signer[20], vol[32], used[32], rem[32];
    col_blob(q, 0, hash, 32);
    int kind = sqlite3_column_int(q->st, 1);
    col_blob(q, 2, signer, 20);
    col_blob(q, 3, vol, 32);
    *ok = cella_ok(consumed_get(s, hash, used));
    if (!hub_u256_sub(rem, vol, used))
        memset(rem, 0, 32);
    if (rem_out)
        memcpy(rem_out, rem, 32);
    json_error_t je;
    json_t *order = json_loads((const char *)sqlite3_column_text(q->st, 4), 0, &je);
    if ((unsigned)kind >= CELLA_ORDER__COUNT)
        kind = 0;
    return json_pack("{s:o, s:s, s:o*, s:o, s:o, s:o, s:I}", "orderHash", hex_json(hash, 32),
                     "kind", cella_order_key((cella_order_kind)kind), "order", order, "signer",
                     addr_json(signer), "remaining", u256_json(rem), "consumed", u256_json(used),
                     "publicationTimestamp", (json_int_t)sqlite3_column_int64(q->st, 5));
}

static cella_res order_get(hub_store *s, const uint8_t hash[32], cella_order *o, json_t **entry);

/* A copy of o (its params duplicated). */
static cella_res order_copy(const cella_order *o, cella_order *out)
{
    *out = *o;
    out->params = NULL;
    if (o->params) {
        out->params = strdup(o->params);
        CELLA_ENSURE(out->params, CELLA_E_NOMEM, "order", "out of memory");
    }
    return CELLA_OK_RES;
}

cella_res hub_store_order_get(hub_store *s, const uint8_t hash[32], cella_order *o,
                              json_t **entry)
{
    /* outside a transaction, what the handle reads is committed */
    bool cacheable = o && !entry && sqlite3_get_autocommit(s->db);
    for (size_t i = 0; cacheable && i < ORDER_CACHE_MAX; i++)
        if (s->orders[i].used && !memcmp(s->orders[i].hash, hash, 32))
            return order_copy(&s->orders[i].o, o);
    cella_res r = order_get(s, hash, o, entry);
    if (cella_ok(r) && cacheable) {
        size_t i = s->next_order;
        s->next_order = (i + 1) % ORDER_CACHE_MAX;
        if (s->orders[i].used)
            cella_order_free(&s->orders[i].o);
        s->orders[i].used = false;
        if (cella_ok(order_copy(o, &s->orders[i].o))) {
            s->orders[i].used = true;
            memcpy(s->orders[i].hash, hash, 32);
        } else {
            cella_error_clear(); /* not kept: the next read parses it again */
        }
    }
    return r;
}

static cella_res order_get(hub_store *s, const uint8_t hash[32], cella_order *o, json_t **entry)
{
    stmt q = sprep(s, "SELECT hash, kind, signer, volume, json, published FROM orders"
                     " WHERE hash = ?");
    bb(&q, 1, hash, 32);
    int rc = step(&q);
    cella_res r = CELLA_OK_RES;
    char ht[67];
    ht[0] = '0';
    ht[1] = 'x';
    cella_hex_encode(ht + 2, hash, 32, false);
    if (rc == SQLITE_DONE)
        r = cella_fail(CELLA_E_NOTFOUND, ht, "no such order on this hub");
    else if (rc != SQLITE_ROW)
        r = db_fail(s, "order lookup failed");
    if (cella_ok(r) && o)
        r = order_from_text((const char *)sqlite3_column_text(q.st, 4), sqlite3_column_int(q.st, 1),
                            o);
    if (cella_ok(r) && entry) {
        bool ok;
        *entry = entry_json(s, &q, NULL, &ok);
        if (!*entry || !ok) {
            json_decref(*entry);
            *entry = NULL;
            r = cella_fail(CELLA_E_IO, ht, "cannot read the order");
            if (o)
                cella_order_free(o);
        }
    }
    sdone(s, &q);
    return r;
}

typedef struct {
    json_t *entry;
    uint8_t price[32];
    int64_t id;
} book_item;

static int book_cmp(const void *a, const void *b)
{
    const book_item *x = a, *y = b;
    int c = memcmp(x->price, y->price, 32);
    if (c)
        return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

cella_res hub_store_order_list(hub_store *s, const hub_order_filter *f, json_t **out)
{
    *out = NULL;
    size_t limit = f->limit && f->limit < HUB_LIST_MAX ? f->limit : HUB_LIST_MAX;
    stmt q = sprep(s, "SELECT hash, kind, signer, volume, json, published, tag, price, id"
                     " FROM orders WHERE (?1 < 0 OR kind = ?1) AND (?2 IS NULL OR app = ?2)"
                     " AND (?3 IS NULL OR dataset = ?3) AND (?4 IS NULL OR workerpool = ?4)"
                     " AND (?5 IS NULL OR requester = ?5) AND (?6 < 0 OR category = ?6)"
                     " ORDER BY id");
    bi(&q, 1, f->kind);
    bbn(&q, 2, f->app, 20);
    bbn(&q, 3, f->dataset, 20);
    bbn(&q, 4, f->workerpool, 20);
    bbn(&q, 5, f->requester, 20);
    bi(&q, 6, f->has_category && f->category <= INT64_MAX ? (int64_t)f->category : -1);
    size_t n = 0, cap = 0;
    book_item *items = NULL;
    cella_res r = CELLA_OK_RES;
    int rc;
    while ((rc = step(&q)) == SQLITE_ROW) {
        uint8_t tag[32], price[32], rem[32];
        col_blob(&q, 6, tag, 32);
        col_blob(&q, 7, price, 32);
        if (f->mintag) {
            bool all = true;
            for (int i = 0; i < 32; i++)
                all = all && (tag[i] & f->mintag[i]) == f->mintag[i];
            if (!all)
                continue;
        }
        if (f->maxprice && memcmp(price, f->maxprice, 32) > 0)
            continue;
        bool ok;
        json_t *e = entry_json(s, &q, rem, &ok);
        if (!e || !ok) {
            json_decref(e);
            r = cella_fail(CELLA_E_IO, s->path, "cannot read the order book");
            break;
        }
        if (!f->include_closed && hub_u256_is_zero(rem)) {
            json_decref(e);
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            book_item *ni = realloc(items, nc * sizeof *ni);
            if (!ni) {
                json_decref(e);
                r = cella_fail(CELLA_E_NOMEM, "orders", "out of memory");
                break;
            }
            items = ni;
            cap = nc;
        }
        items[n].entry = e;
        memcpy(items[n].price, price, 32);
        items[n].id = sqlite3_column_int64(q.st, 8);
        n++;
    }
    if (cella_ok(r) && rc != SQLITE_DONE)
        r = db_fail(s, "order book query failed");
    sdone(s, &q);
    if (cella_ok(r) && n)
        qsort(items, n, sizeof *items, book_cmp);
    json_t *arr = cella_ok(r) ? json_array() : NULL;
    if (cella_ok(r) && !arr)
        r = cella_fail(CELLA_E_NOMEM, "orders", "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (arr && i < limit)
            json_array_append_new(arr, items[i].entry);
        else
            json_decref(items[i].entry);
    }
    free(items);
    *out = arr;
    return r;
}

cella_res hub_store_order_cancel(hub_store *s, const uint8_t hash[32], const uint8_t who[20],
                                 int64_t now)
{
    CELLA_TRY(begin(s));
    stmt q = sprep(s, "SELECT signer, volume, kind, workerpool FROM orders WHERE hash = ?");
    bb(&q, 1, hash, 32);
    int rc = step(&q);
    uint8_t signer[20], vol[32], pool[20] = {0};
    int kind = 0;
    bool has_pool = false;
    if (rc == SQLITE_ROW) {
        col_blob(&q, 0, signer, 20);
        col_blob(&q, 1, vol, 32);
        kind = sqlite3_column_int(q.st, 2);
        has_pool = sqlite3_column_type(q.st, 3) == SQLITE_BLOB;
        if (has_pool)
            col_blob(&q, 3, pool, 20);
    }
    sdone(s, &q);
    char ht[67];
    ht[0] = '0';
    ht[1] = 'x';
    cella_hex_encode(ht + 2, hash, 32, false);
    cella_res r = CELLA_OK_RES;
    if (rc == SQLITE_DONE)
        r = cella_fail(CELLA_E_NOTFOUND, ht, "no such order on this hub");
    else if (rc != SQLITE_ROW)
        r = db_fail(s, "order lookup failed");
    else if (memcmp(signer, who, 20) != 0)
        r = cella_fail(CELLA_E_PERM, ht, "only the order's signer may cancel it");
    if (cella_ok(r))
        r = consumed_set(s, hash, vol);
    if (cella_ok(r))
        r = order_event(s, "order-cancelled", hash, kind, has_pool ? pool : NULL, now);
    if (cella_ok(r))
        r = commit(s);
    if (!cella_ok(r))
        rollback(s);
    return r;
}

/* ---- accounts ---- */

static cella_res account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                             uint64_t *locked)
{
    stmt q = sprep(s, "SELECT balance, locked FROM accounts WHERE address = ?");
    bb(&q, 1, addr, 20);
    int rc = step(&q);
    *balance = *locked = 0;
    if (rc == SQLITE_ROW) {
        *balance = (uint64_t)sqlite3_column_int64(q.st, 0);
        *locked = (uint64_t)sqlite3_column_int64(q.st, 1);
    }
    sdone(s, &q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, "account lookup failed");
    return CELLA_OK_RES;
}

static cella_res account_put(hub_store *s, const uint8_t addr[20], uint64_t balance,
                             uint64_t locked)
{
    CELLA_ENSURE(balance <= INT64_MAX && locked <= INT64_MAX, CELLA_E_POLICY, "account",
                 "balance above 2^63 nRLC");
    stmt q = sprep(s, "INSERT INTO accounts(address, balance, locked) VALUES(?,?,?)"
                     " ON CONFLICT(address) DO UPDATE SET balance = excluded.balance,"
                     " locked = excluded.locked");
    bb(&q, 1, addr, 20);
    bi(&q, 2, (int64_t)balance);
    bi(&q, 3, (int64_t)locked);
    int rc = step(&q);
    sdone(s, &q);
    if (rc != SQLITE_DONE)
        return db_fail(s, "cannot update the account");
    return CELLA_OK_RES;
}

cella_res hub_store_account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                                uint64_t *locked)
{
    return account_get(s, addr, balance, locked);
}

cella_res hub_store_deposit(hub_store *s, const uint8_t addr[20], uint64_t amount,
                            uint64_t *balance)
{
    CELLA_TRY(begin(s));
    uint64_t b, l;
    cella_res r = account_get(s, addr, &b, &l);
    if (cella_ok(r) && (__builtin_add_overflow(b, amount, &b) || b > INT64_MAX))
        r = cella_fail(CELLA_E_POLICY, "amount", "the balance would exceed 2^63 nRLC");
    if (cella_ok(r))
        r = account_put(s, addr, b, l);
    if (cella_ok(r))
        r = commit(s);
    if (!cella_ok(r))
        rollback(s);
    else
        *balance = b;
    return r;
}

cella_res hub_store_withdraw(hub_store *s, const uint8_t addr[20], uint64_t amount, bool *done,
                             hub_refusal *why, uint64_t *balance, uint64_t *locked)
{
    *done = false;
    CELLA_ENSURE(amount > 0, CELLA_E_PARSE, "amount", "withdraw a positive amount of nRLC");
    CELLA_TRY(begin(s));
    uint64_t b, l;
    cella_res r = account_get(s, addr, &b, &l);
    if (cella_ok(r) && amount > b) {
        snprintf(why->code, sizeof why->code, "cella-hub-insufficient-balance");
        snprintf(why->reason, sizeof why->reason,
                 "cannot withdraw %llu nRLC: the unlocked balance is %llu (%llu more are locked "
                 "in deals)",
                 (unsigned long long)amount, (unsigned long long)b, (unsigned long long)l);
    } else if (cella_ok(r)) {
        r = account_put(s, addr, b - amount, l);
        if (cella_ok(r))
            r = commit(s);
        if (cella_ok(r)) {
            *done = true;
            b -= amount;
        }
    }
    if (!*done)
        rollback(s);
    *balance = b;
    *locked = l;
    return r;
}

/* Moves `amount` from balance to locked (the caller checked the balance). */
static cella_res account_lock(hub_store *s, const uint8_t addr[20], uint64_t amount)
{
    uint64_t b, l;
    CELLA_TRY(account_get(s, addr, &b, &l));
    CELLA_ENSURE(b >= amount, CELLA_E_INTERNAL, "escrow", "balance changed during the match");
    CELLA_ENSURE(!__builtin_add_overflow(l, amount, &l), CELLA_E_POLICY, "escrow",
                 "locked funds overflow");
    return account_put(s, addr, b - amount, l);
}

/* ---- matching ---- */

/* {"apporder": hash, "datasetorder": hash|null, "workerpoolorder", "requestorder"} */
static json_t *deal_orders_json(const hub_deal *dl)
{
    return json_pack("{s:o, s:o, s:o, s:o}", "apporder", hex_json(dl->hash[CELLA_ORDER_APP], 32),
                     "datasetorder",
                     dl->has_dataset ? hex_json(dl->hash[CELLA_ORDER_DATASET], 32) : json_null(),
                     "workerpoolorder", hex_json(dl->hash[CELLA_ORDER_WORKERPOOL], 32),
                     "requestorder", hex_json(dl->hash[CELLA_ORDER_REQUEST], 32));
}

static json_t *deal_json(const hub_deal *dl, const cella_order *req, int64_t now,
                         const hub_category *cat)
{
    json_t *orders = deal_orders_json(dl);
    json_t *tasks = json_object();
    for (uint64_t i = 0; tasks && i < dl->bot_size; i++) {
        uint8_t t[32];
        char k[24];
        hub_task_id(dl->dealid, dl->bot_first + i, t);
        snprintf(k, sizeof k, "%llu", (unsigned long long)(dl->bot_first + i));
        json_object_set_new(tasks, k, hex_json(t, 32));
    }
    static const uint8_t zero[20] = {0};
    return json_pack(
        "{s:o, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:o, s:o, s:o, s:o, s:o,"
        " s:o, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o*, s:o*, s:s, s:I}",
        "dealid", hex_json(dl->dealid, 32), "app", "pointer", addr_json(dl->app), "owner",
        addr_json(dl->app_owner), "price", u64_json(dl->app_price), "dataset", "pointer",
        addr_json(dl->has_dataset ? dl->dataset : zero), "owner",
        addr_json(dl->has_dataset ? dl->dataset_owner : zero), "price",
        u64_json(dl->dataset_price), "workerpool", "pointer", addr_json(dl->workerpool), "owner",
        addr_json(dl->workerpool_owner), "price", u64_json(dl->workerpool_price), "trust",
        u64_json(dl->trust), "category", u64_json(dl->category), "tag", hex_json(dl->tag, 32),
        "requester", addr_json(dl->requester), "beneficiary", addr_json(dl->beneficiary),
        "callback", addr_json(dl->callback), "params", req->params ? req->params : "",
        "startTime", (json_int_t)now, "botFirst", u64_json(dl->bot_first), "botSize",
        u64_json(dl->bot_size), "workerStake", u64_json(dl->worker_stake),
        "schedulerRewardRatio", u64_json(dl->scheduler_reward_ratio), "sponsor",
        addr_json(dl->sponsor), "orders", orders, "tasks", tasks, "categoryName", cat->name,
        "timeRef", (json_int_t)cat->time_ref);
}

/* A published order with this hash and these signature bytes was verified at
 * publication: its recovered signer is stored. */
static cella_res known_signature(hub_store *s, const cella_order *o, const uint8_t hash[32],
                                 bool *known, uint8_t signer[20])
{
    *known = false;
    if (!o->has_sign)
        return CELLA_OK_RES;
    stmt q = sprep(s, "SELECT signer, sign FROM orders WHERE hash = ?");
    bb(&q, 1, hash, 32);
    int rc = step(&q);
    if (rc == SQLITE_ROW) {
        uint8_t sig[65];
        col_blob(&q, 0, signer, 20);
        col_blob(&q, 1, sig, 65);
        *known = memcmp(sig, o->sign, 65) == 0;
    }
    sdone(s, &q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, "order lookup failed");
    return CELLA_OK_RES;
}

static cella_res load_state(hub_store *s, const cella_order *const o[CELLA_ORDER__COUNT],
                            const uint8_t hash[CELLA_ORDER__COUNT][32], hub_match_state *st)
{
    memset(st, 0, sizeof *st);
    st->has_hashes = true;
    memcpy(st->hash, hash, sizeof st->hash);
    st->worker_stake_ratio = HUB_DEFAULT_WORKER_STAKE_RATIO;
    st->scheduler_reward_ratio = HUB_DEFAULT_SCHEDULER_REWARD_RATIO;
    static const char *const field[3] = {"app", "dataset", "workerpool"};
    hub_resource_state *rs[3] = {&st->app, &st->dataset, &st->workerpool};
    for (int k = 0; k < 3; k++) {
        if (!o[k])
            continue;
        uint8_t w[32];
        hub_order_field(o[k], field[k], w);
        hub_resource r;
        bool found;
        CELLA_TRY(resource_get_any(s, w + 12, &r, &found));
        rs[k]->registered = found && r.kind == (hub_kind)k;
        if (rs[k]->registered)
            memcpy(rs[k]->owner, r.owner, 20);
    }
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        if (o[k]) {
            CELLA_TRY(consumed_get(s, hash[k], st->consumed[k]));
            CELLA_TRY(known_signature(s, o[k], hash[k], &st->sig_known[k], st->sig_signer[k]));
        }
    uint8_t req[32];
    uint64_t locked;
    hub_order_field(o[CELLA_ORDER_REQUEST], "requester", req);
    CELLA_TRY(account_get(s, req + 12, &st->sponsor_balance, &locked));
    if (st->workerpool.registered)
        CELLA_TRY(account_get(s, st->workerpool.owner, &st->pool_owner_balance, &locked));
    return CELLA_OK_RES;
}

void hub_store_set_timeref(hub_store *s, uint64_t seconds) { s->dev_timeref = seconds; }

/* json_out (may be NULL): the deal as stored, for the caller to reply with. */
static cella_res apply_deal(hub_store *s, const cella_order *const o[CELLA_ORDER__COUNT],
                            const hub_match_state *st, const hub_deal *dl, int64_t now,
                            json_t **json_out)
{
    uint8_t vol[32];
    hub_u256_from_u64(vol, dl->bot_size);
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        if (k == CELLA_ORDER_DATASET && !dl->has_dataset)
            continue;
        uint8_t c[32];
        if (!hub_u256_add(c, st->consumed[k], vol))
            return cella_fail(CELLA_E_INTERNAL, "consumed", "consumed volume overflow");
        CELLA_TRY(consumed_set(s, dl->hash[k], c));
    }
    const hub_category *cats;
    size_t ncat = hub_categories(&cats);
    if (dl->category >= ncat)
        return cella_fail(CELLA_E_INTERNAL, "category", "unknown category");
    hub_category cat_v = cats[dl->category];
    if (s->dev_timeref)
        cat_v.time_ref = s->dev_timeref;
    const hub_category *cat = &cat_v;
    json_t *j = deal_json(dl, o[CELLA_ORDER_REQUEST], now, cat);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text && json_out)
        *json_out = j;
    else
        json_decref(j);
    CELLA_ENSURE(text, CELLA_E_NOMEM, "deal", "out of memory");
    stmt q = sprep(s, "INSERT INTO deals(dealid, json, created) VALUES(?,?,?)");
    bb(&q, 1, dl->dealid, 32);
    bt(&q, 2, text);
    bi(&q, 3, now);
    int rc = step(&q);
    sdone(s, &q);
    free(text);
    if (rc != SQLITE_DONE)
        return db_fail(s, "cannot record the deal");
    json_t *ev = json_pack("{s:o, s:I}", "orders", deal_orders_json(dl), "volume",
                           (json_int_t)dl->bot_size);
    CELLA_ENSURE(ev, CELLA_E_NOMEM, "events", "out of memory");
    CELLA_TRY(event_add_detail(s, "deal-created", NULL, dl->dealid, dl->workerpool, ev, now));
    stmt t = sprep(s, "INSERT INTO tasks(taskid, dealid, idx, status, start,"
                     " contribution_deadline, final_deadline, workerpool)"
                     " VALUES(?,?,?,'ACTIVE',?,?,?,?)");
    for (uint64_t i = 0; i < dl->bot_size; i++) {
        uint8_t id[32];
        hub_task_id(dl->dealid, dl->bot_first + i, id);
        sqlite3_reset(t.st);
        bb(&t, 1, id, 32);
        bb(&t, 2, dl->dealid, 32);
        bi(&t, 3, (int64_t)(dl->bot_first + i));
        bi(&t, 4, now);
        bi(&t, 5, now + 7 * (int64_t)cat->time_ref);
        bi(&t, 6, now + 10 * (int64_t)cat->time_ref);
        bb(&t, 7, dl->workerpool, 20);
        if (step(&t) != SQLITE_DONE) {
            sdone(s, &t);
            return db_fail(s, "cannot record a task");
        }
        cella_res r = event_add(s, "task-created", id, dl->dealid, dl->workerpool, now);
        if (!cella_ok(r)) {
            sdone(s, &t);
            return r;
        }
    }
    sdone(s, &t);
    if (dl->sponsor_lock)
        CELLA_TRY(account_lock(s, dl->sponsor, dl->sponsor_lock));
    if (dl->pool_lock)
        CELLA_TRY(account_lock(s, dl->workerpool_owner, dl->pool_lock));
    return CELLA_OK_RES;
}

cella_res hub_store_match(hub_store *s, const cella_domain *d,
                          const cella_order *const o[CELLA_ORDER__COUNT], int64_t now,
                          bool *matched, hub_deal *deal, hub_refusal *why)
{
    return hub_store_match_json(s, d, o, now, matched, deal, why, NULL);
}

cella_res hub_store_match_json(hub_store *s, const cella_domain *d,
                               const cella_order *const o[CELLA_ORDER__COUNT], int64_t now,
                               bool *matched, hub_deal *deal, hub_refusal *why,
                               json_t **deal_json_out)
{
    json_t *dj = NULL;
    if (deal_json_out)
        *deal_json_out = NULL;
    *matched = false;
    uint8_t hash[CELLA_ORDER__COUNT][32];
    hub_order_hashes(d, o, hash);
    hub_match_state st;
    CELLA_TRY(begin(s));
    cella_res r = load_state(s, o, (const uint8_t(*)[32])hash, &st);
    if (cella_ok(r)) {
        *matched = hub_match(d, o, &st, deal, why);
        if (*matched)
            r = apply_deal(s, o, &st, deal, now, deal_json_out ? &dj : NULL);
    }
    if (cella_ok(r) && *matched)
        r = commit(s);
    else
        rollback(s);
    if (!cella_ok(r))
        *matched = false;
    if (*matched && deal_json_out)
        *deal_json_out = dj;
    else
        json_decref(dj);
    return r;
}

cella_res hub_store_deal_get(hub_store *s, const uint8_t dealid[32], json_t **out)
{
    stmt q = sprep(s, "SELECT json FROM deals WHERE dealid = ?");
    bb(&q, 1, dealid, 32);
    int rc = step(&q);
    json_error_t je;
    *out = rc == SQLITE_ROW ? json_loads((const char *)sqlite3_column_text(q.st, 0), 0, &je) : NULL;
    sdone(s, &q);
    char ht[67];
    ht[0] = '0';
    ht[1] = 'x';
    cella_hex_encode(ht + 2, dealid, 32, false);
    CELLA_ENSURE(rc != SQLITE_DONE, CELLA_E_NOTFOUND, ht, "no such deal on this hub");
    CELLA_ENSURE(*out, CELLA_E_IO, ht, "cannot read the deal");
    return CELLA_OK_RES;
}

/* The columns of a task row (tasks t joined with its deal d), as task_json reads them. */
#define TASK_SELECT                                                                               \
    "SELECT t.taskid, t.dealid, t.idx, t.status, t.start, t.contribution_deadline,"              \
    " t.final_deadline, t.worker, t.result_digest, t.result_hash, t.result_seal, t.finalized,"   \
    " t.lease_holder, t.lease_until, t.error, t.results,"                                         \
    " json_extract(d.json, '$.workerpool.pointer'), json_extract(d.json, '$.requester'),"        \
    " json_extract(d.json, '$.beneficiary'), json_extract(d.json, '$.tag'),"                     \
    " t.consensus_value, t.reveal_deadline, t.reveal_counter, t.winner_counter,"                  \
    " (SELECT count(*) FROM contributions c WHERE c.taskid = t.taskid)"                           \
    " FROM tasks t JOIN deals d ON d.dealid = t.dealid"

/* A text column as a JSON string, or null. */
static json_t *col_text_json(stmt *q, int i)
{
    const char *t = (const char *)sqlite3_column_text(q->st, i);
    return t ? json_stringn(t, (size_t)sqlite3_column_bytes(q->st, i)) : json_null();
}

static json_t *task_json(stmt *q)
{
    uint8_t id[32], dealid[32];
    col_blob(q, 0, id, 32);
    col_blob(q, 1, dealid, 32);
    json_t *j = json_pack("{s:o, s:o, s:I, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "taskid",
                          hex_json(id, 32), "dealid", hex_json(dealid, 32), "idx",
                          (json_int_t)sqlite3_column_int64(q->st, 2), "status",
                          (const char *)sqlite3_column_text(q->st, 3), "startTime",
                          (json_int_t)sqlite3_column_int64(q->st, 4), "contributionDeadline",
                          (json_int_t)sqlite3_column_int64(q->st, 5), "finalDeadline",
                          (json_int_t)sqlite3_column_int64(q->st, 6), "workerpool",
                          col_text_json(q, 16), "requester", col_text_json(q, 17), "beneficiary",
                          col_text_json(q, 18), "tag", col_text_json(q, 19));
    if (!j)
        return NULL;
    json_t *lease = json_null();
    if (sqlite3_column_type(q->st, 12) == SQLITE_TEXT)
        lease = json_pack("{s:o, s:I}", "holder", col_text_json(q, 12), "until",
                          (json_int_t)sqlite3_column_int64(q->st, 13));
    json_object_set_new(j, "lease", lease ? lease : json_null());
    json_object_set_new(j, "error", col_text_json(q, 14));
    json_object_set_new(j, "results", col_text_json(q, 15));
    /* trust 1: the one worker, its digest, hash and seal; consensus: the
     * revealed digest and the consensus value as resultHash */
    bool contributed = sqlite3_column_type(q->st, 7) == SQLITE_BLOB;
    uint8_t w[20], b[32];
    col_blob(q, 7, w, 20);
    json_object_set_new(j, "worker", contributed ? addr_json(w) : json_null());
    static const char *const names[3] = {"resultDigest", "resultHash", "resultSeal"};
    for (int i = 0; i < 3; i++) {
        col_blob(q, 8 + i, b, 32);
        if (contributed || (i < 2 && sqlite3_column_type(q->st, 8 + i) == SQLITE_BLOB))
            json_object_set_new(j, names[i], hex_json(b, 32));
    }
    if (!json_object_get(j, "resultDigest"))
        json_object_set_new(j, "resultDigest", json_null());
    json_object_set_new(j, "contributors", json_integer(sqlite3_column_int64(q->st, 24)));
    if (sqlite3_column_type(q->st, 20) == SQLITE_BLOB) {
        col_blob(q, 20, b, 32);
        json_object_set_new(j, "consensusValue", hex_json(b, 32));
        json_object_set_new(j, "revealDeadline", json_integer(sqlite3_column_int64(q->st, 21)));
        json_object_set_new(j, "revealCounter", json_integer(sqlite3_column_int64(q->st, 22)));
        json_object_set_new(j, "winnerCounter", json_integer(sqlite3_column_int64(q->st, 23)));
    }
    if (sqlite3_column_type(q->st, 11) == SQLITE_INTEGER)
        json_object_set_new(j, "finalTime", json_integer(sqlite3_column_int64(q->st, 11)));
    return j;
}

static void id_text(const uint8_t id[32], char out[67])
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, id, 32, false);
}

cella_res hub_store_task_get(hub_store *s, const uint8_t taskid[32], json_t **out)
{
    stmt q = sprep(s, TASK_SELECT " WHERE t.taskid = ?");
    bb(&q, 1, taskid, 32);
    int rc = step(&q);
    *out = rc == SQLITE_ROW ? task_json(&q) : NULL;
    sdone(s, &q);
    char ht[67];
    id_text(taskid, ht);
    CELLA_ENSURE(rc != SQLITE_DONE, CELLA_E_NOTFOUND, ht, "no such task on this hub");
    CELLA_ENSURE(*out, CELLA_E_IO, ht, "cannot read the task");
    /* the contributions (trust > 1), in their order */
    json_t *list = json_array();
    stmt c = sprep(s, "SELECT worker, status, result_hash, result_seal, enclave_challenge,"
                     " weight, stake, time FROM contributions WHERE taskid = ? ORDER BY seq");
    bb(&c, 1, taskid, 32);
    while (list && (rc = step(&c)) == SQLITE_ROW) {
        uint8_t w[20], h[32], sl[32], ch[20];
        col_blob(&c, 0, w, 20);
        col_blob(&c, 2, h, 32);
        col_blob(&c, 3, sl, 32);
        col_blob(&c, 4, ch, 20);
        json_t *e = json_pack("{s:o, s:s, s:o, s:o, s:o, s:I, s:o, s:I}", "worker", addr_json(w),
                              "status", (const char *)sqlite3_column_text(c.st, 1), "resultHash",
                              hex_json(h, 32), "resultSeal", hex_json(sl, 32), "enclaveChallenge",
                              addr_json(ch), "weight", (json_int_t)sqlite3_column_int64(c.st, 5),
                              "stake", u64_json((uint64_t)sqlite3_column_int64(c.st, 6)), "time",
                              (json_int_t)sqlite3_column_int64(c.st, 7));
        if (!e || json_array_append_new(list, e)) {
            json_decref(list);
            list = NULL;
        }
    }
    sdone(s, &c);
    if (!list || rc != SQLITE_DONE) {
        json_decref(list);
        json_decref(*out);
        *out = NULL;
        return list ? db_fail(s, "cannot read the contributions")
                    : cella_fail(CELLA_E_NOMEM, ht, "out of memory");
    }
    json_object_set_new(*out, "contributions", list);
    return CELLA_OK_RES;
}

cella_res hub_store_task_list(hub_store *s, const hub_task_filter *f, int64_t now, json_t **out)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "%s WHERE 1%s%s%s ORDER BY t.start, t.idx, t.taskid LIMIT ?4",
             TASK_SELECT, f->workerpool ? " AND t.workerpool = ?1" : "",
             f->status ? " AND t.status = ?2" : "",
             f->runnable ? " AND t.status = 'ACTIVE' AND t.contribution_deadline > ?3"
                           " AND t.error IS NULL"
                           " AND (t.lease_holder IS NULL OR t.lease_until <= ?3)"
                         : "");
    size_t limit = f->limit && f->limit < HUB_LIST_MAX ? f->limit : HUB_LIST_MAX;
    stmt q = sprep(s, sql);
    if (f->workerpool)
        bb(&q, 1, f->workerpool, 20);
    if (f->status)
        bt(&q, 2, f->status);
    if (f->runnable)
        bi(&q, 3, now);
    bi(&q, 4, (int64_t)limit);
    *out = json_array();
    int rc = SQLITE_DONE;
    while (*out && (rc = step(&q)) == SQLITE_ROW) {
        json_t *t = task_json(&q);
        if (!t || json_array_append_new(*out, t)) {
            json_decref(*out);
            *out = NULL;
        }
    }
    sdone(s, &q);
    if (!*out)
        return cella_fail(CELLA_E_NOMEM, "tasks", "out of memory");
    if (rc != SQLITE_DONE) {
        json_decref(*out);
        *out = NULL;
        return db_fail(s, "cannot list the tasks");
    }
    return CELLA_OK_RES;
}

/* ---- task lifecycle ---- */

typedef struct {
    uint8_t dealid[32], workerpool[20];
    char status[16];
    int64_t contribution_deadline, final_deadline;
    char holder[HUB_HOLDER_HEX + 1]; /* "" without a lease */
    int64_t lease_until;
    bool has_error;
    /* consensus: set while REVEALING (and kept once COMPLETED) */
    bool has_consensus;
    uint8_t consensus_value[32];
    int64_t reveal_deadline, reveal_counter, winner_counter;
} task_row;

static cella_res task_load(hub_store *s, const uint8_t taskid[32], task_row *t)
{
    stmt q = sprep(s, "SELECT dealid, status, contribution_deadline, final_deadline,"
                     " workerpool, lease_holder, lease_until, error IS NOT NULL,"
                     " consensus_value, reveal_deadline, reveal_counter, winner_counter FROM tasks"
                     " WHERE taskid = ?");
    bb(&q, 1, taskid, 32);
    int rc = step(&q);
    if (rc == SQLITE_ROW) {
        col_blob(&q, 0, t->dealid, 32);
        snprintf(t->status, sizeof t->status, "%s", (const char *)sqlite3_column_text(q.st, 1));
        t->contribution_deadline = sqlite3_column_int64(q.st, 2);
        t->final_deadline = sqlite3_column_int64(q.st, 3);
        col_blob(&q, 4, t->workerpool, 20);
        const char *h = (const char *)sqlite3_column_text(q.st, 5);
        snprintf(t->holder, sizeof t->holder, "%s", h ? h : "");
        t->lease_until = sqlite3_column_int64(q.st, 6);
        t->has_error = sqlite3_column_int(q.st, 7) != 0;
        t->has_consensus = sqlite3_column_type(q.st, 8) == SQLITE_BLOB;
        col_blob(&q, 8, t->consensus_value, 32);
        t->reveal_deadline = sqlite3_column_int64(q.st, 9);
        t->reveal_counter = sqlite3_column_int64(q.st, 10);
        t->winner_counter = sqlite3_column_int64(q.st, 11);
    }
    sdone(s, &q);
    char ht[67];
    id_text(taskid, ht);
    CELLA_ENSURE(rc != SQLITE_DONE, CELLA_E_NOTFOUND, ht, "no such task on this hub");
    CELLA_ENSURE(rc == SQLITE_ROW, CELLA_E_IO, s->path, "task lookup failed: %s",
                 sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

typedef struct {
    uint8_t app_owner[20], dataset_owner[20], pool_owner[20], sponsor[20], tag[32];
    bool has_dataset;
    uint64_t app_price, dataset_price, pool_price, trust, reward_ratio, worker_stake;
    int64_t time_ref;
} deal_terms;

static bool j_addr(const json_t *o, const char *k, uint8_t out[20])
{
    const char *v = json_string_value(json_object_get(o, k));
    bool ok = v && cella_ok(cella_eth_address_parse(out, v, k));
    cella_error_clear();
    return ok;
}

static bool j_u64(const json_t *o, const char *k, uint64_t *out)
{
    const char *v = json_string_value(json_object_get(o, k));
    uint8_t w[32];
    bool ok = v && cella_ok(cella_u256_parse(v, w, k)) && hub_u256_to_u64(w, out);
    cella_error_clear();
    return ok;
}

static cella_res deal_terms_load(hub_store *s, const uint8_t dealid[32], deal_terms *d)
{
    json_t *j;
    CELLA_TRY(hub_store_deal_get(s, dealid, &j));
    const json_t *a = json_object_get(j, "app"), *ds = json_object_get(j, "dataset"),
                 *w = json_object_get(j, "workerpool");
    uint8_t dp[20];
    const char *tag = json_string_value(json_object_get(j, "tag"));
    bool ok = j_addr(a, "owner", d->app_owner) && j_u64(a, "price", &d->app_price) &&
              j_addr(ds, "pointer", dp) && j_addr(ds, "owner", d->dataset_owner) &&
              j_u64(ds, "price", &d->dataset_price) && j_addr(w, "owner", d->pool_owner) &&
              j_u64(w, "price", &d->pool_price) && j_addr(j, "sponsor", d->sponsor) &&
              j_u64(j, "trust", &d->trust) && j_u64(j, "schedulerRewardRatio", &d->reward_ratio) &&
              j_u64(j, "workerStake", &d->worker_stake) &&
              json_is_integer(json_object_get(j, "timeRef")) &&
              tag && cella_ok(cella_hex_decode(d->tag, 32, tag, strlen(tag), "tag"));
    d->time_ref = json_integer_value(json_object_get(j, "timeRef"));
    static const uint8_t zero[20] = {0};
    d->has_dataset = memcmp(dp, zero, 20) != 0;
    json_decref(j);
    CELLA_ENSURE(ok && d->reward_ratio <= 100, CELLA_E_INTERNAL, "deal",
                 "the stored deal is malformed");
    return CELLA_OK_RES;
}

/* locked -= amount; if `to_balance`, balance += amount (unlock) else seized. */
static cella_res account_release(hub_store *s, const uint8_t addr[20], uint64_t amount,
                                 bool to_balance)
{
    uint64_t b, l;
    CELLA_TRY(account_get(s, addr, &b, &l));
    CELLA_ENSURE(l >= amount, CELLA_E_INTERNAL, "escrow", "locked funds are missing");
    l -= amount;
    if (to_balance)
        CELLA_ENSURE(!__builtin_add_overflow(b, amount, &b), CELLA_E_POLICY, "escrow",
                     "balance overflow");
    return account_put(s, addr, b, l);
}

static cella_res account_credit(hub_store *s, const uint8_t addr[20], uint64_t amount)
{
    uint64_t b, l;
    CELLA_TRY(account_get(s, addr, &b, &l));
    CELLA_ENSURE(!__builtin_add_overflow(b, amount, &b), CELLA_E_POLICY, "escrow",
                 "balance overflow");
    return account_put(s, addr, b, l);
}

static bool task_refuse(hub_refusal *why, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool task_refuse(hub_refusal *why, const char *code, const char *fmt, ...)
{
    snprintf(why->code, sizeof why->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->reason, sizeof why->reason, fmt, ap);
    va_end(ap);
    return false;
}

/* Ends a task transaction: commits it if it went ahead (`go`), else rolls it back. */
static cella_res end_task_tx(hub_store *s, cella_res r, bool go, bool *done_out)
{
    if (cella_ok(r) && go)
        r = commit(s);
    else
        rollback(s);
    *done_out = cella_ok(r) && go;
    return r;
}

static uint64_t stake_of(uint64_t price)
{
    return price / 100 * HUB_WORKERPOOL_STAKE_RATIO + price % 100 * HUB_WORKERPOOL_STAKE_RATIO / 100;
}

/* ---- consensus (trust > 1): contributions and worker scores ---- */

typedef struct {
    hub_contrib c;
    uint8_t seal[32];
    uint64_t stake; /* the worker's stake locked at contribute */
} contrib_row;

static cella_res contributions_count(hub_store *s, const uint8_t taskid[32], int64_t *n)
{
    stmt q = sprep(s, "SELECT count(*) FROM contributions WHERE taskid = ?");
    bb(&q, 1, taskid, 32);
    int rc = step(&q);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(q.st, 0) : 0;
    sdone(s, &q);
    if (rc != SQLITE_ROW)
        return db_fail(s, "cannot count the contributions");
    return CELLA_OK_RES;
}

/* The task's contributions in their order (a malloc'd array, NULL when none). */
static cella_res contributions_load(hub_store *s, const uint8_t taskid[32], contrib_row **out,
                                    size_t *n)
{
    *out = NULL;
    *n = 0;
    stmt q = sprep(s, "SELECT worker, status, result_hash, result_seal, weight, stake"
                     " FROM contributions WHERE taskid = ? ORDER BY seq");
    bb(&q, 1, taskid, 32);
    int rc;
    size_t cap = 0;
    cella_res r = CELLA_OK_RES;
    while (cella_ok(r) && (rc = step(&q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            contrib_row *m = realloc(*out, cap * sizeof **out);
            if (!m) {
                r = cella_fail(CELLA_E_NOMEM, "contributions", "out of memory");
                break;
            }
            *out = m;
        }
        contrib_row *e = &(*out)[(*n)++];
        memset(e, 0, sizeof *e);
        col_blob(&q, 0, e->c.worker, 20);
        const char *st = (const char *)sqlite3_column_text(q.st, 1);
        if (!hub_contrib_status_from_name(st, &e->c.status))
            r = cella_fail(CELLA_E_INTERNAL, "contributions", "unknown status %s", st ? st : "?");
        col_blob(&q, 2, e->c.result_hash, 32);
        col_blob(&q, 3, e->seal, 32);
        e->c.weight = (uint64_t)sqlite3_column_int64(q.st, 4);
        e->stake = (uint64_t)sqlite3_column_int64(q.st, 5);
    }
    if (cella_ok(r) && rc != SQLITE_DONE)
        r = db_fail(s, "cannot read the contributions");
    sdone(s, &q);
    if (!cella_ok(r)) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

static cella_res score_get(hub_store *s, const uint8_t worker[20], uint64_t *score)
{
    stmt q = sprep(s, "SELECT score FROM worker_scores WHERE address = ?");
    bb(&q, 1, worker, 20);
    int rc = step(&q);
    *score = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q.st, 0) : 0;
    sdone(s, &q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, "cannot read a worker score");
    return CELLA_OK_RES;
}

static cella_res score_put(hub_store *s, const uint8_t worker[20], uint64_t score)
{
    stmt q = sprep(s, "INSERT INTO worker_scores(address, score) VALUES(?,?)"
                     " ON CONFLICT(address) DO UPDATE SET score = excluded.score");
    bb(&q, 1, worker, 20);
    bi(&q, 2, score > INT64_MAX ? INT64_MAX : (int64_t)score);
    return run(s, &q, "cannot update a worker score");
}

/* Begins a transaction on a task for a worker's step: contributions
 * (ACTIVE, before the contribution deadline) or reveals (REVEALING, before
 * the reveal deadline). *go, or a refusal in *why. Rolled back on an error. */
static cella_res begin_worker_step(hub_store *s, const uint8_t taskid[32], bool reveal,
                                   int64_t now, task_row *t, bool *go, hub_refusal *why)
{
    memset(why, 0, sizeof *why);
    *go = false;
    CELLA_TRY(begin(s));
    cella_res r = task_load(s, taskid, t);
    if (!cella_ok(r)) {
        rollback(s);
        return r;
    }
    if (strcmp(t->status, reveal ? "REVEALING" : "ACTIVE") != 0)
        *go = task_refuse(why, reveal ? "cella-hub-task-not-revealing" : "cella-hub-task-not-active",
                          reveal ? "the task is %s: there is no consensus to reveal"
                                 : "the task is %s: it takes no contribution",
                          t->status);
    else if (now >= (reveal ? t->reveal_deadline : t->contribution_deadline))
        *go = task_refuse(why, reveal ? "cella-hub-task-reveal-deadline" : "cella-hub-task-deadline",
                          reveal ? "the reveal deadline of the task has passed"
                                 : "the contribution deadline of the task has passed");
    else
        *go = true;
    return CELLA_OK_RES;
}

cella_res hub_store_contribute_and_finalize(hub_store *s, const hub_contribution *c, int64_t now,
                                            bool *done_out, hub_refusal *why)
{
    *done_out = false;
    task_row t;
    deal_terms d;
    bool go;
    CELLA_TRY(begin_worker_step(s, c->taskid, false, now, &t, &go, why));
    cella_res r = CELLA_OK_RES;
    if (cella_ok(r) && go)
        r = deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go && d.trust != 1)
        go = task_refuse(why, "cella-hub-task-trust",
                         "contribute-and-finalize is only for trust 1 deals "
                         "(contribute, reveal and finalize reach a consensus)");
    int64_t ncontrib = 0;
    if (cella_ok(r) && go)
        r = contributions_count(s, c->taskid, &ncontrib);
    if (cella_ok(r) && go && ncontrib)
        go = task_refuse(why, "cella-hub-task-contributed",
                         "the task already has contributions: it is finalized by consensus");
    if (cella_ok(r) && go)
        go = hub_contribution_check(c, d.tag, d.pool_owner, why);
    if (cella_ok(r) && go) {
        /* payouts: the sponsor pays the task's price; the app and dataset owners
         * get their prices; the worker its share of the pool price, the pool
         * owner (scheduler) the rest; the pool owner's stake is unlocked */
        uint64_t price = d.app_price + d.dataset_price + d.pool_price;
        uint64_t workers = d.pool_price / 100 * (100 - d.reward_ratio) +
                           d.pool_price % 100 * (100 - d.reward_ratio) / 100;
        r = account_release(s, d.sponsor, price, false);
        if (cella_ok(r) && d.app_price)
            r = account_credit(s, d.app_owner, d.app_price);
        if (cella_ok(r) && d.has_dataset && d.dataset_price)
            r = account_credit(s, d.dataset_owner, d.dataset_price);
        if (cella_ok(r) && workers)
            r = account_credit(s, c->worker, workers);
        if (cella_ok(r) && d.pool_price - workers)
            r = account_credit(s, d.pool_owner, d.pool_price - workers);
        uint64_t stake = stake_of(d.pool_price);
        if (cella_ok(r) && stake)
            r = account_release(s, d.pool_owner, stake, true);
        uint8_t rh[32], rs[32];
        hub_result_hash(c->taskid, c->digest, rh);
        hub_result_seal(c->worker, c->taskid, c->digest, rs);
        stmt q = sprep(s, "UPDATE tasks SET status = 'COMPLETED', worker = ?, result_digest = ?,"
                         " result_hash = ?, result_seal = ?, finalized = ?, results = ?,"
                         " lease_holder = NULL, lease_until = NULL WHERE taskid = ?");
        bb(&q, 1, c->worker, 20);
        bb(&q, 2, c->digest, 32);
        bb(&q, 3, rh, 32);
        bb(&q, 4, rs, 32);
        bi(&q, 5, now);
        if (c->results)
            bt(&q, 6, c->results);
        bb(&q, 7, c->taskid, 32);
        if (cella_ok(r) && step(&q) != SQLITE_DONE)
            r = db_fail(s, "cannot update the task");
        sdone(s, &q);
        if (cella_ok(r))
            r = event_add(s, "task-completed", c->taskid, t.dealid, t.workerpool, now);
    }
    return end_task_tx(s, r, go, done_out);
}

cella_res hub_store_claim(hub_store *s, const uint8_t taskid[32], int64_t now, bool *done_out,
                          hub_refusal *why)
{
    *done_out = false;
    memset(why, 0, sizeof *why);
    CELLA_TRY(begin(s));
    task_row t;
    deal_terms d;
    cella_res r = task_load(s, taskid, &t);
    bool go = false;
    if (cella_ok(r)) {
        char when[CELLA_ISO_TIME_LEN];
        cella_iso_time(t.final_deadline, when);
        if (strcmp(t.status, "ACTIVE") != 0 && strcmp(t.status, "REVEALING") != 0)
            go = task_refuse(why, "cella-hub-task-not-active",
                             "the task is %s: there is nothing to claim", t.status);
        else if (now < t.final_deadline)
            go = task_refuse(why, "cella-hub-task-too-early",
                             "a task can be claimed only after its final deadline (%s)", when);
        else
            go = true;
    }
    if (cella_ok(r) && go)
        r = deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go) {
        /* refund the sponsor; the pool owner's stake goes to the kitty (the
         * account at address zero) */
        static const uint8_t kitty[20] = {0};
        uint64_t stake = stake_of(d.pool_price);
        r = account_release(s, d.sponsor, d.app_price + d.dataset_price + d.pool_price, true);
        if (cella_ok(r) && stake)
            r = account_release(s, d.pool_owner, stake, false);
        if (cella_ok(r) && stake)
            r = account_credit(s, kitty, stake);
        /* every contributor's stake is unlocked (PoCo claim) */
        contrib_row *cr = NULL;
        size_t n = 0;
        if (cella_ok(r))
            r = contributions_load(s, taskid, &cr, &n);
        for (size_t i = 0; cella_ok(r) && i < n; i++)
            if (cr[i].stake)
                r = account_release(s, cr[i].c.worker, cr[i].stake, true);
        free(cr);
        stmt q = sprep(s, "UPDATE tasks SET status = 'FAILED', finalized = ?,"
                         " lease_holder = NULL, lease_until = NULL WHERE taskid = ?");
        bi(&q, 1, now);
        bb(&q, 2, taskid, 32);
        if (cella_ok(r) && step(&q) != SQLITE_DONE)
            r = db_fail(s, "cannot update the task");
        sdone(s, &q);
        if (cella_ok(r))
            r = event_add(s, "task-failed", taskid, t.dealid, t.workerpool, now);
    }
    return end_task_tx(s, r, go, done_out);
}

/* ---- consensus (trust > 1): contribute, reveal, finalize, reopen ---- */

static cella_res begin_pool_task(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                                 task_row *t);

/* Begins finalize or reopen (`verb`) as the pool owner: *go when the task is
 * REVEALING before its final deadline, else a refusal in *why. */
static cella_res begin_revealing(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                                 int64_t now, const char *verb, task_row *t, bool *go,
                                 hub_refusal *why)
{
    memset(why, 0, sizeof *why);
    CELLA_TRY(begin_pool_task(s, taskid, who, t));
    if (strcmp(t->status, "REVEALING") != 0)
        *go = task_refuse(why, "cella-hub-task-not-revealing",
                          "the task is %s: only a task in consensus (REVEALING) is %s",
                          t->status, verb);
    else if (now >= t->final_deadline)
        *go = task_refuse(why, "cella-hub-task-final-deadline",
                          "the final deadline of the task has passed (it can be claimed)");
    else
        *go = true;
    return CELLA_OK_RES;
}

cella_res hub_store_contribute(hub_store *s, const hub_contribution *c, int64_t now,
                               bool *done_out, hub_refusal *why)
{
    *done_out = false;
    CELLA_ENSURE(c->sealed, CELLA_E_INTERNAL, "contribute", "a contribution without its seal");
    task_row t;
    deal_terms d;
    contrib_row *cr = NULL;
    size_t n = 0;
    bool go;
    CELLA_TRY(begin_worker_step(s, c->taskid, false, now, &t, &go, why));
    cella_res r = CELLA_OK_RES;
    if (cella_ok(r) && go)
        r = deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go)
        r = contributions_load(s, c->taskid, &cr, &n);
    for (size_t i = 0; cella_ok(r) && go && i < n; i++)
        if (!memcmp(cr[i].c.worker, c->worker, 20))
            go = task_refuse(why, "cella-hub-task-contributed",
                             "this worker already contributed to the task (%s)",
                             hub_contrib_status_name(cr[i].c.status));
    if (cella_ok(r) && go)
        go = hub_contribution_check(c, d.tag, d.pool_owner, why);
    uint64_t bal = 0, locked, score = 0;
    if (cella_ok(r) && go)
        r = account_get(s, c->worker, &bal, &locked);
    if (cella_ok(r) && go && bal < d.worker_stake)
        go = task_refuse(why, "cella-hub-insufficient-balance",
                         "the worker's balance (%llu nRLC) does not cover the deal's worker "
                         "stake (%llu nRLC)",
                         (unsigned long long)bal, (unsigned long long)d.worker_stake);
    if (cella_ok(r) && go)
        r = score_get(s, c->worker, &score);
    /* the consensus with this contribution added (PoCo checkConsensus) */
    bool reached = false;
    size_t winners = 0;
    if (cella_ok(r) && go) {
        contrib_row *m = realloc(cr, (n + 1) * sizeof *cr);
        if (!m)
            r = cella_fail(CELLA_E_NOMEM, "contributions", "out of memory");
        else {
            cr = m;
            memset(&cr[n], 0, sizeof cr[n]);
            memcpy(cr[n].c.worker, c->worker, 20);
            memcpy(cr[n].c.result_hash, c->result_hash, 32);
            cr[n].c.weight = hub_worker_weight(score);
            cr[n].c.status = HUB_CONTRIB_CONTRIBUTED;
            hub_contrib *hc = malloc((n + 1) * sizeof *hc);
            if (!hc)
                r = cella_fail(CELLA_E_NOMEM, "contributions", "out of memory");
            for (size_t i = 0; hc && i <= n; i++)
                hc[i] = cr[i].c;
            if (hc && !hub_consensus_check(hc, n + 1, c->result_hash, d.trust, &reached,
                                           &winners, NULL, NULL))
                go = task_refuse(why, "cella-hub-task-overflow",
                                 "the consensus weights of the task overflow uint256");
            free(hc);
        }
    }
    if (cella_ok(r) && go) {
        stmt q = sprep(s, "INSERT INTO contributions(taskid, worker, seq, status, result_hash,"
                         " result_seal, enclave_challenge, weight, stake, time)"
                         " VALUES(?,?,?,'CONTRIBUTED',?,?,?,?,?,?)");
        bb(&q, 1, c->taskid, 32);
        bb(&q, 2, c->worker, 20);
        bi(&q, 3, (int64_t)n);
        bb(&q, 4, c->result_hash, 32);
        bb(&q, 5, c->result_seal, 32);
        bb(&q, 6, c->enclave_challenge, 20);
        bi(&q, 7, (int64_t)cr[n].c.weight);
        bi(&q, 8, (int64_t)d.worker_stake);
        bi(&q, 9, now);
        r = run(s, &q, "cannot record the contribution");
    }
    if (cella_ok(r) && go && d.worker_stake)
        r = account_lock(s, c->worker, d.worker_stake);
    if (cella_ok(r) && go) {
        /* the worker is done with the task: its lease ends */
        stmt q = sprep(s, "UPDATE tasks SET lease_holder = NULL, lease_until = NULL"
                         " WHERE taskid = ?");
        bb(&q, 1, c->taskid, 32);
        r = run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = event_add(s, "task-contributed", c->taskid, t.dealid, t.workerpool, now);
    if (cella_ok(r) && go && reached) {
        stmt q = sprep(s, "UPDATE tasks SET status = 'REVEALING', consensus_value = ?,"
                         " reveal_deadline = ?, reveal_counter = 0, winner_counter = ?"
                         " WHERE taskid = ?");
        bb(&q, 1, c->result_hash, 32);
        bi(&q, 2, now + 2 * d.time_ref);
        bi(&q, 3, (int64_t)winners);
        bb(&q, 4, c->taskid, 32);
        r = run(s, &q, "cannot update the task");
        if (cella_ok(r))
            r = event_add(s, "task-consensus", c->taskid, t.dealid, t.workerpool, now);
    }
    free(cr);
    return end_task_tx(s, r, go, done_out);
}

cella_res hub_store_reveal(hub_store *s, const uint8_t taskid[32], const uint8_t worker[20],
                           const uint8_t digest[32], int64_t now, bool *done_out,
                           hub_refusal *why)
{
    *done_out = false;
    task_row t;
    bool go;
    CELLA_TRY(begin_worker_step(s, taskid, true, now, &t, &go, why));
    cella_res r = CELLA_OK_RES;
    contrib_row *cr = NULL;
    size_t n = 0, me = 0;
    if (cella_ok(r) && go)
        r = contributions_load(s, taskid, &cr, &n);
    if (cella_ok(r) && go) {
        while (me < n && memcmp(cr[me].c.worker, worker, 20))
            me++;
        uint8_t rh[32], rs[32];
        hub_result_hash(taskid, digest, rh);
        hub_result_seal(worker, taskid, digest, rs);
        if (me == n)
            go = task_refuse(why, "cella-hub-task-not-contributor",
                             "this worker did not contribute to the task");
        else if (cr[me].c.status == HUB_CONTRIB_PROVED)
            go = task_refuse(why, "cella-hub-task-revealed", "this worker already revealed");
        else if (cr[me].c.status == HUB_CONTRIB_REJECTED)
            go = task_refuse(why, "cella-hub-task-rejected",
                             "this worker's contribution was rejected when the task reopened");
        else if (memcmp(cr[me].c.result_hash, t.consensus_value, 32))
            go = task_refuse(why, "cella-hub-task-not-consensus",
                             "this worker's contribution is not the consensus");
        else if (memcmp(cr[me].c.result_hash, rh, 32) || memcmp(cr[me].seal, rs, 32))
            go = task_refuse(why, "cella-hub-task-reveal-mismatch",
                             "the digest does not match the contribution's resultHash and "
                             "resultSeal");
    }
    if (cella_ok(r) && go) {
        stmt q = sprep(s, "UPDATE contributions SET status = 'PROVED' WHERE taskid = ?"
                         " AND worker = ?");
        bb(&q, 1, taskid, 32);
        bb(&q, 2, worker, 20);
        r = run(s, &q, "cannot update the contribution");
    }
    if (cella_ok(r) && go) {
        stmt q = sprep(s, "UPDATE tasks SET reveal_counter = reveal_counter + 1,"
                         " result_digest = ? WHERE taskid = ?");
        bb(&q, 1, digest, 32);
        bb(&q, 2, taskid, 32);
        r = run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = event_add(s, "task-revealed", taskid, t.dealid, t.workerpool, now);
    free(cr);
    return end_task_tx(s, r, go, done_out);
}

cella_res hub_store_finalize(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             const char *results, int64_t now, bool *done_out, hub_refusal *why)
{
    *done_out = false;
    task_row t;
    bool go;
    CELLA_TRY(begin_revealing(s, taskid, who, now, "finalized", &t, &go, why));
    cella_res r = CELLA_OK_RES;
    char when[CELLA_ISO_TIME_LEN];
    cella_iso_time(t.reveal_deadline, when);
    if (go && t.reveal_counter != t.winner_counter &&
        !(t.reveal_counter > 0 && t.reveal_deadline <= now))
        go = task_refuse(why, "cella-hub-task-too-early",
                         "%lld of %lld winners revealed: finalize once all have, or after the "
                         "reveal deadline (%s) with at least one",
                         (long long)t.reveal_counter, (long long)t.winner_counter, when);
    deal_terms d;
    contrib_row *cr = NULL;
    size_t n = 0;
    if (go)
        r = deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go)
        r = contributions_load(s, taskid, &cr, &n);
    uint64_t *reward = NULL, scheduler = 0, seized = 0;
    hub_contrib *hc = NULL;
    if (cella_ok(r) && go) {
        reward = calloc(n ? n : 1, sizeof *reward);
        hc = calloc(n ? n : 1, sizeof *hc);
        if (!reward || !hc)
            r = cella_fail(CELLA_E_NOMEM, "finalize", "out of memory");
        for (size_t i = 0; cella_ok(r) && i < n; i++)
            hc[i] = cr[i].c;
        if (cella_ok(r) && !hub_distribute_rewards(hc, n, d.pool_price, d.worker_stake,
                                                   d.reward_ratio, reward, &scheduler, &seized))
            r = cella_fail(CELLA_E_POLICY, "finalize", "the rewards of the task overflow");
    }
    if (cella_ok(r) && go) {
        /* successWork: the sponsor pays the task's price, the app and dataset
         * owners get theirs, the pool owner's stake is unlocked */
        r = account_release(s, d.sponsor, d.app_price + d.dataset_price + d.pool_price, false);
        if (cella_ok(r) && d.app_price)
            r = account_credit(s, d.app_owner, d.app_price);
        if (cella_ok(r) && d.has_dataset && d.dataset_price)
            r = account_credit(s, d.dataset_owner, d.dataset_price);
        uint64_t stake = stake_of(d.pool_price);
        if (cella_ok(r) && stake)
            r = account_release(s, d.pool_owner, stake, true);
    }
    /* distributeRewards: winners who revealed get their stake back and their
     * share; every other contribution's stake is seized (it is in the
     * rewards); the scheduler gets the rest; scores move */
    for (size_t i = 0; cella_ok(r) && go && i < n; i++) {
        bool proved = cr[i].c.status == HUB_CONTRIB_PROVED;
        if (cr[i].stake)
            r = account_release(s, cr[i].c.worker, cr[i].stake, proved);
        if (cella_ok(r) && reward[i])
            r = account_credit(s, cr[i].c.worker, reward[i]);
        uint64_t score;
        if (cella_ok(r))
            r = score_get(s, cr[i].c.worker, &score);
        if (cella_ok(r))
            r = score_put(s, cr[i].c.worker, hub_score_after(score, proved, n));
    }
    if (cella_ok(r) && go && scheduler)
        r = account_credit(s, d.pool_owner, scheduler);
    if (cella_ok(r) && go) {
        stmt q = sprep(s, "UPDATE tasks SET status = 'COMPLETED', result_hash = consensus_value,"
                         " finalized = ?, results = ?, lease_holder = NULL, lease_until = NULL"
                         " WHERE taskid = ?");
        bi(&q, 1, now);
        if (results)
            bt(&q, 2, results);
        bb(&q, 3, taskid, 32);
        r = run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = event_add(s, "task-completed", taskid, t.dealid, t.workerpool, now);
    free(cr);
    free(hc);
    free(reward);
    (void)seized;
    return end_task_tx(s, r, go, done_out);
}

cella_res hub_store_reopen(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                           int64_t now, bool *done_out, hub_refusal *why)
{
    *done_out = false;
    task_row t;
    bool go;
    CELLA_TRY(begin_revealing(s, taskid, who, now, "reopened", &t, &go, why));
    cella_res r = CELLA_OK_RES;
    char when[CELLA_ISO_TIME_LEN];
    cella_iso_time(t.reveal_deadline, when);
    if (go && now < t.reveal_deadline)
        go = task_refuse(why, "cella-hub-task-too-early",
                         "a task is reopened only after its reveal deadline (%s)", when);
    else if (go && t.reveal_counter != 0)
        go = task_refuse(why, "cella-hub-task-revealed",
                         "a winner revealed: the task is finalized, not reopened");
    if (go) {
        stmt q = sprep(s, "UPDATE contributions SET status = 'REJECTED' WHERE taskid = ?"
                         " AND result_hash = ?");
        bb(&q, 1, taskid, 32);
        bb(&q, 2, t.consensus_value, 32);
        r = run(s, &q, "cannot update the contributions");
    }
    if (cella_ok(r) && go) {
        stmt q = sprep(s, "UPDATE tasks SET status = 'ACTIVE', consensus_value = NULL,"
                         " reveal_deadline = NULL, reveal_counter = NULL, winner_counter = NULL"
                         " WHERE taskid = ?");
        bb(&q, 1, taskid, 32);
        r = run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = event_add(s, "task-reopened", taskid, t.dealid, t.workerpool, now);
    return end_task_tx(s, r, go, done_out);
}

/* ---- the worker flow ---- */

/* `who` must be the deal's requester, or the owner of its workerpool. */
static cella_res deal_party_check(hub_store *s, const uint8_t dealid[32], bool requester,
                                  const uint8_t who[20])
{
    json_t *j;
    CELLA_TRY(hub_store_deal_get(s, dealid, &j));
    uint8_t want[20];
    bool ok = requester ? j_addr(j, "requester", want)
                        : j_addr(json_object_get(j, "workerpool"), "owner", want);
    json_decref(j);
    CELLA_ENSURE(ok, CELLA_E_INTERNAL, "deal", "the stored deal is malformed");
    char wt[43], st[43];
    cella_eth_address_checksum(wt, want);
    cella_eth_address_checksum(st, who);
    if (requester)
        CELLA_ENSURE(!memcmp(want, who, 20), CELLA_E_PERM, "requester",
                     "only the deal's requester (%s) may read the task's logs, not %s", wt, st);
    else
        CELLA_ENSURE(!memcmp(want, who, 20), CELLA_E_PERM, "workerpool owner",
                     "only the owner of the deal's workerpool (%s) may do this, not %s", wt, st);
    return CELLA_OK_RES;
}

/* Begins a transaction on a task of a deal whose workerpool `who` owns (rolled
 * back when it is not, or the task is unknown). */
static cella_res begin_pool_task(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                                 task_row *t)
{
    CELLA_TRY(begin(s));
    cella_res r = task_load(s, taskid, t);
    if (cella_ok(r))
        r = deal_party_check(s, t->dealid, false, who);
    if (!cella_ok(r))
        rollback(s);
    return r;
}

static cella_res check_holder(const char *holder)
{
    size_t n = holder ? strlen(holder) : 0;
    bool ok = n == HUB_HOLDER_HEX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (holder[i] >= '0' && holder[i] <= '9') || (holder[i] >= 'a' && holder[i] <= 'f');
    CELLA_ENSURE(ok, CELLA_E_PARSE, "holder", "%d lower-case hex digits expected",
                 HUB_HOLDER_HEX);
    return CELLA_OK_RES;
}

static bool lease_live(const task_row *t, int64_t now)
{
    return t->holder[0] && t->lease_until > now;
}

static bool leased_refusal(hub_refusal *why, const task_row *t)
{
    return task_refuse(why, "cella-hub-task-leased", "the task is held by %s until %lld",
                       t->holder, (long long)t->lease_until);
}

/* Sets (holder non-NULL) or clears the lease and the error (error non-NULL). */
static cella_res task_set_lease(hub_store *s, const uint8_t taskid[32], const char *holder,
                                int64_t until, const char *error)
{
    stmt q = sprep(s, error ? "UPDATE tasks SET lease_holder = ?1, lease_until = ?2,"
                                 " error = ?4 WHERE taskid = ?3"
                               : "UPDATE tasks SET lease_holder = ?1, lease_until = ?2"
                                 " WHERE taskid = ?3");
    if (holder) {
        bt(&q, 1, holder);
        bi(&q, 2, until);
    } /* else both stay NULL */
    bb(&q, 3, taskid, 32);
    if (error)
        bt(&q, 4, error);
    return run(s, &q, "cannot update the task");
}

cella_res hub_store_lease(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                          const char *holder, int64_t seconds, int64_t now, bool *done_out,
                          hub_refusal *why, int64_t *until)
{
    *done_out = false;
    *until = 0;
    memset(why, 0, sizeof *why);
    CELLA_TRY(check_holder(holder));
    CELLA_ENSURE(seconds >= 0 && seconds <= HUB_LEASE_MAX, CELLA_E_PARSE, "seconds",
                 "a lease lasts 1 to %d seconds (0 releases it)", HUB_LEASE_MAX);
    task_row t;
    CELLA_TRY(begin_pool_task(s, taskid, who, &t));
    cella_res r = CELLA_OK_RES;
    bool go = false, renewal = false;
    if (cella_ok(r)) {
        bool live = lease_live(&t, now), mine = live && !strcmp(t.holder, holder);
        if (seconds == 0)
            go = live && !mine ? leased_refusal(why, &t) : true;
        else if (strcmp(t.status, "ACTIVE") != 0)
            go = task_refuse(why, "cella-hub-task-not-active",
                             "the task is %s: there is nothing to run", t.status);
        else if (t.has_error)
            go = task_refuse(why, "cella-hub-task-errored",
                             "an error was reported for the task: it is not run again");
        else if (now >= t.contribution_deadline)
            go = task_refuse(why, "cella-hub-task-deadline",
                             "the contribution deadline of the task has passed");
        else if (live && !mine)
            go = leased_refusal(why, &t);
        else {
            go = true;
            renewal = mine;
        }
    }
    if (cella_ok(r) && go)
        r = task_set_lease(s, taskid, seconds ? holder : NULL, now + seconds, NULL);
    if (cella_ok(r) && go && seconds && !renewal)
        r = event_add(s, "task-leased", taskid, t.dealid, t.workerpool, now);
    r = end_task_tx(s, r, go, done_out);
    if (*done_out && seconds)
        *until = now + seconds;
    return r;
}

cella_res hub_store_report(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                           const char *holder, const char *error, int64_t now, bool *done_out,
                           hub_refusal *why)
{
    *done_out = false;
    memset(why, 0, sizeof *why);
    CELLA_TRY(check_holder(holder));
    CELLA_ENSURE(error && *error, CELLA_E_PARSE, "error", "the error is missing");
    CELLA_ENSURE(strlen(error) <= HUB_ERROR_MAX, CELLA_E_TOOBIG, "error",
                 "longer than %d bytes", HUB_ERROR_MAX);
    task_row t;
    CELLA_TRY(begin_pool_task(s, taskid, who, &t));
    cella_res r = CELLA_OK_RES;
    bool go = false;
    if (cella_ok(r)) {
        if (strcmp(t.status, "ACTIVE") != 0)
            go = task_refuse(why, "cella-hub-task-not-active",
                             "the task is %s: its outcome is already recorded", t.status);
        else if (lease_live(&t, now) && strcmp(t.holder, holder) != 0)
            go = leased_refusal(why, &t);
        else
            go = true;
    }
    if (cella_ok(r) && go)
        r = task_set_lease(s, taskid, NULL, 0, error);
    if (cella_ok(r) && go)
        r = event_add(s, "task-error", taskid, t.dealid, t.workerpool, now);
    return end_task_tx(s, r, go, done_out);
}

cella_res hub_store_logs_put(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             const char *out, size_t out_len, const char *err, size_t err_len,
                             int64_t now)
{
    CELLA_ENSURE(out_len <= HUB_LOG_MAX, CELLA_E_TOOBIG, "stdout", "longer than %d bytes",
                 HUB_LOG_MAX);
    CELLA_ENSURE(err_len <= HUB_LOG_MAX, CELLA_E_TOOBIG, "stderr", "longer than %d bytes",
                 HUB_LOG_MAX);
    task_row t;
    CELLA_TRY(begin_pool_task(s, taskid, who, &t));
    cella_res r = CELLA_OK_RES;
    if (cella_ok(r)) {
        stmt q = sprep(s, "INSERT INTO task_logs(taskid, stdout, stderr, updated)"
                         " VALUES(?,?,?,?) ON CONFLICT(taskid) DO UPDATE SET"
                         " stdout = excluded.stdout, stderr = excluded.stderr,"
                         " updated = excluded.updated");
        bb(&q, 1, taskid, 32);
        if (q.ok && (sqlite3_bind_text(q.st, 2, out, (int)out_len, SQLITE_TRANSIENT) ||
                     sqlite3_bind_text(q.st, 3, err, (int)err_len, SQLITE_TRANSIENT)))
            q.ok = 0;
        bi(&q, 4, now);
        r = run(s, &q, "cannot store the logs");
    }
    if (cella_ok(r))
        r = commit(s);
    else
        rollback(s);
    return r;
}

cella_res hub_store_logs_get(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             json_t **out)
{
    *out = NULL;
    task_row t;
    CELLA_TRY(task_load(s, taskid, &t));
    CELLA_TRY(deal_party_check(s, t.dealid, true, who));
    stmt q = sprep(s, "SELECT stdout, stderr FROM task_logs WHERE taskid = ?");
    bb(&q, 1, taskid, 32);
    int rc = step(&q);
    if (rc == SQLITE_ROW)
        *out = json_pack("{s:o, s:o, s:o}", "taskid", hex_json(taskid, 32), "stdout",
                         col_text_json(&q, 0), "stderr", col_text_json(&q, 1));
    sdone(s, &q);
    char ht[67];
    id_text(taskid, ht);
    CELLA_ENSURE(rc != SQLITE_DONE, CELLA_E_NOTFOUND, ht, "the task has no logs yet");
    CELLA_ENSURE(rc == SQLITE_ROW, CELLA_E_IO, s->path, "logs lookup failed: %s",
                 sqlite3_errmsg(s->db));
    CELLA_ENSURE(*out, CELLA_E_NOMEM, ht, "out of memory");
    return CELLA_OK_RES;
}

/* An id column: null when zero (an event without a task, deal or pool). */
static json_t *id_or_null(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return n == 20 ? addr_json(p) : hex_json(p, n);
    return json_null();
}

cella_res hub_store_events(hub_store *s, int64_t after, const uint8_t *workerpool,
                           const uint8_t *taskid, size_t limit, json_t **events, int64_t *last)
{
    *events = NULL;
    *last = after;
    if (!limit || limit > HUB_LIST_MAX)
        limit = HUB_LIST_MAX;
    stmt m = sprep(s, "SELECT coalesce(max(seq), 0) FROM events");
    int rc = step(&m);
    int64_t newest = rc == SQLITE_ROW ? sqlite3_column_int64(m.st, 0) : 0;
    sdone(s, &m);
    if (rc != SQLITE_ROW)
        return db_fail(s, "cannot read the events");
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT seq, type, taskid, dealid, workerpool, time, detail FROM events"
             " WHERE seq > ?1 AND seq <= ?2%s%s ORDER BY seq LIMIT ?4",
             workerpool ? " AND workerpool = ?3" : "", taskid ? " AND taskid = ?5" : "");
    stmt q = sprep(s, sql);
    bi(&q, 1, after);
    bi(&q, 2, newest);
    if (workerpool)
        bb(&q, 3, workerpool, 20);
    bi(&q, 4, (int64_t)limit);
    if (taskid)
        bb(&q, 5, taskid, 32);
    json_t *arr = json_array();
    int64_t seq = after;
    rc = SQLITE_DONE;
    while (arr && (rc = step(&q)) == SQLITE_ROW) {
        uint8_t tid[32], did[32], wp[20];
        seq = sqlite3_column_int64(q.st, 0);
        col_blob(&q, 2, tid, 32);
        col_blob(&q, 3, did, 32);
        col_blob(&q, 4, wp, 20);
        json_t *e = json_pack("{s:I, s:s, s:o, s:o, s:o, s:I}", "seq", (json_int_t)seq, "type",
                              (const char *)sqlite3_column_text(q.st, 1), "taskid",
                              id_or_null(tid, 32), "dealid", id_or_null(did, 32), "workerpool",
                              id_or_null(wp, 20), "time", (json_int_t)sqlite3_column_int64(q.st, 5));
        const char *detail = (const char *)sqlite3_column_text(q.st, 6);
        json_t *dj = detail ? json_loads(detail, 0, NULL) : NULL;
        if (e && dj)
            json_object_update_missing(e, dj);
        json_decref(dj);
        if (e && detail && !dj) { /* stored by this code: not JSON means out of memory */
            json_decref(e);
            e = NULL;
        }
        if (!e || json_array_append_new(arr, e)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    sdone(s, &q);
    if (!arr)
        return cella_fail(CELLA_E_NOMEM, "events", "out of memory");
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return db_fail(s, "cannot read the events");
    }
    *last = json_array_size(arr) == limit ? seq : newest > after ? newest : after;
    *events = arr;
    return CELLA_OK_RES;
}

/* ---- read-only listings (the web page) ---- */

static cella_res count_rows(hub_store *s, stmt *q, uint64_t *n)
{
    int rc = step(q);
    if (rc == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(q->st, 0);
    sdone(s, q);
    return rc == SQLITE_ROW ? CELLA_OK_RES : db_fail(s, "count failed");
}

/* Appends v to *arr; on failure frees both and sets *arr NULL. */
static void append_or_drop(json_t **arr, json_t *v)
{
    if (!v || json_array_append_new(*arr, v)) {
        json_decref(*arr);
        *arr = NULL;
    }
}

static size_t list_limit(size_t limit)
{
    return limit && limit < HUB_LIST_MAX ? limit : HUB_LIST_MAX;
}

cella_res hub_store_resource_list(hub_store *s, hub_kind k, const uint8_t *owner, size_t offset,
                                  size_t limit, json_t **out, uint64_t *total)
{
    *out = NULL;
    CELLA_TRY(hub_store_resource_count(s, k, owner, total));
    stmt q = sprep(s, owner ? "SELECT address FROM resources WHERE kind = ?1 AND owner = ?2"
                                 " ORDER BY created, address LIMIT ?3 OFFSET ?4"
                               : "SELECT address FROM resources WHERE kind = ?1"
                                 " ORDER BY created, address LIMIT ?3 OFFSET ?4");
    bi(&q, 1, k);
    if (owner)
        bb(&q, 2, owner, 20);
    bi(&q, 3, (int64_t)list_limit(limit));
    bi(&q, 4, (int64_t)offset);
    json_t *arr = json_array();
    cella_res r = CELLA_OK_RES;
    int rc = SQLITE_DONE;
    while (arr && cella_ok(r) && (rc = step(&q)) == SQLITE_ROW) {
        uint8_t addr[20];
        hub_resource res;
        bool found = false;
        col_blob(&q, 0, addr, 20);
        r = resource_get_any(s, addr, &res, &found);
        if (cella_ok(r) && found)
            append_or_drop(&arr, hub_resource_json(&res));
    }
    sdone(s, &q);
    if (cella_ok(r) && !arr)
        r = cella_fail(CELLA_E_NOMEM, "resources", "out of memory");
    if (cella_ok(r) && rc != SQLITE_DONE)
        r = db_fail(s, "cannot list the resources");
    if (!cella_ok(r))
        json_decref(arr);
    else
        *out = arr;
    return r;
}

cella_res hub_store_deal_list(hub_store *s, size_t offset, size_t limit, json_t **out,
                              uint64_t *total)
{
    *out = NULL;
    stmt c = sprep(s, "SELECT count(*) FROM deals");
    CELLA_TRY(count_rows(s, &c, total));
    stmt q = sprep(s, "SELECT json FROM deals ORDER BY created, dealid LIMIT ?1 OFFSET ?2");
    bi(&q, 1, (int64_t)list_limit(limit));
    bi(&q, 2, (int64_t)offset);
    json_t *arr = json_array();
    int rc = SQLITE_DONE;
    while (arr && (rc = step(&q)) == SQLITE_ROW) {
        json_error_t je;
        append_or_drop(&arr, json_loads((const char *)sqlite3_column_text(q.st, 0), 0, &je));
    }
    sdone(s, &q);
    if (!arr)
        return cella_fail(CELLA_E_NOMEM, "deals", "out of memory (or an unreadable deal)");
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return db_fail(s, "cannot list the deals");
    }
    *out = arr;
    return CELLA_OK_RES;
}
