/* The hub's state in SQLite: events, recorded in the transaction of the change
 * they describe and listed for the pools that follow them. See store.h. */
#include "hub/store_int.h"

/* ---- events ---- */

/* An event in the current transaction. taskid, dealid and pool may be NULL
 * (stored as zeros, shown as null); detail (JSON object, stolen, or NULL)
 * adds fields to the event. */
cella_res hs_event_add_detail(hub_store *s, const char *type, const uint8_t *taskid,
                              const uint8_t *dealid, const uint8_t *pool, json_t *detail,
                              int64_t now)
{
    static const uint8_t zero[32] = {0};
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(detail);
    CELLA_ENSURE(!detail || text, CELLA_E_NOMEM, "events", "out of memory");
    stmt q = hs_sprep(s, "INSERT INTO events(type, taskid, dealid, workerpool, time, detail)"
                        " VALUES(?,?,?,?,?,?)");
    bt(&q, 1, type);
    bb(&q, 2, taskid ? taskid : zero, 32);
    bb(&q, 3, dealid ? dealid : zero, 32);
    bb(&q, 4, pool ? pool : zero, 20);
    bi(&q, 5, now);
    if (text)
        bt(&q, 6, text);
    cella_res r = hs_run(s, &q, "cannot record an event");
    free(text);
    return r;
}

cella_res hs_event_add(hub_store *s, const char *type, const uint8_t taskid[32],
                       const uint8_t dealid[32], const uint8_t pool[20], int64_t now)
{
    return hs_event_add_detail(s, type, taskid, dealid, pool, NULL, now);
}

/* An id column: null when zero (an event without a task, deal or pool). */
static json_t *id_or_null(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return n == 20 ? hs_addr_json(p) : hs_hex_json(p, n);
    return json_null();
}

cella_res hub_store_events(hub_store *s, int64_t after, const uint8_t *workerpool,
                           const uint8_t *taskid, size_t limit, json_t **events, int64_t *last)
{
    *events = NULL;
    *last = after;
    if (!limit || limit > HUB_LIST_MAX)
        limit = HUB_LIST_MAX;
    stmt m = hs_sprep(s, "SELECT coalesce(max(seq), 0) FROM events");
    int rc = step(&m);
    int64_t newest = rc == SQLITE_ROW ? sqlite3_column_int64(m.st, 0) : 0;
    hs_sdone(s, &m);
    if (rc != SQLITE_ROW)
        return hs_db_fail(s, "cannot read the events");
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT seq, type, taskid, dealid, workerpool, time, detail FROM events"
             " WHERE seq > ?1 AND seq <= ?2%s%s ORDER BY seq LIMIT ?4",
             workerpool ? " AND workerpool = ?3" : "", taskid ? " AND taskid = ?5" : "");
    stmt q = hs_sprep(s, sql);
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
    hs_sdone(s, &q);
    if (!arr)
        return cella_fail(CELLA_E_NOMEM, "events", "out of memory");
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return hs_db_fail(s, "cannot read the events");
    }
    *last = json_array_size(arr) == limit ? seq : newest > after ? newest : after;
    *events = arr;
    return CELLA_OK_RES;
}
