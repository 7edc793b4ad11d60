/* The hub's state: events, recorded in the transaction of the change
 * they describe and listed for the pools that follow them. See store.h. */
#include "hub/store_int.h"

/* ---- events ---- */

/* An event in the current transaction, written at its commit (hs_commit).
 * taskid, dealid and pool may be NULL (stored as zeros, shown as null);
 * detail (JSON object, stolen, or NULL) adds fields to the event. */
cella_res hs_event_add_detail(hub_store *s, const char *type, const uint8_t *taskid,
                              const uint8_t *dealid, const uint8_t *pool, json_t *detail,
                              int64_t now)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(detail);
    CELLA_ENSURE(!detail || text, CELLA_E_NOMEM, "events", "out of memory");
    cella_res r = CELLA_OK_RES;
    if (!db_in_txn(s->db))
        r = cella_fail(CELLA_E_INTERNAL, "events", "an event outside a transaction");
    else if (s->nevents == HS_EVENTS_MAX)
        r = cella_fail(CELLA_E_TOOBIG, "events", "more than %d events in one change",
                       HS_EVENTS_MAX);
    if (cella_ok(r) && s->nevents == s->events_cap) {
        size_t cap = s->events_cap ? 2 * s->events_cap : 16;
        hs_event *e = realloc(s->events, cap * sizeof *e);
        if (!e)
            r = cella_fail(CELLA_E_NOMEM, "events", "out of memory");
        else {
            s->events = e;
            s->events_cap = cap;
        }
    }
    if (!cella_ok(r)) {
        free(text);
        return r;
    }
    hs_event *e = &s->events[s->nevents++];
    memset(e, 0, sizeof *e);
    e->type = type;
    if (taskid)
        memcpy(e->taskid, taskid, 32);
    if (dealid)
        memcpy(e->dealid, dealid, 32);
    if (pool)
        memcpy(e->pool, pool, 20);
    e->time = now;
    e->detail = text;
    return CELLA_OK_RES;
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
    dbq m = db_prep(s->db, "SELECT coalesce(max(seq), 0) FROM events");
    int rc = db_step(&m);
    int64_t newest = rc == DB_ROW ? db_col_int(&m, 0) : 0;
    db_done(&m);
    if (rc != DB_ROW)
        return db_failure(s->db, "cannot read the events");
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT seq, type, taskid, dealid, workerpool, time, detail FROM events"
             " WHERE seq > ?1 AND seq <= ?2%s%s ORDER BY seq LIMIT ?4",
             workerpool ? " AND workerpool = ?3" : "", taskid ? " AND taskid = ?5" : "");
    dbq q = db_prep(s->db, sql);
    db_bi(&q, 1, after);
    db_bi(&q, 2, newest);
    if (workerpool)
        db_bb(&q, 3, workerpool, 20);
    db_bi(&q, 4, (int64_t)limit);
    if (taskid)
        db_bb(&q, 5, taskid, 32);
    json_t *arr = json_array();
    int64_t seq = after;
    rc = DB_DONE;
    while (arr && (rc = db_step(&q)) == DB_ROW) {
        uint8_t tid[32], did[32], wp[20];
        seq = db_col_int(&q, 0);
        db_col_bytes(&q, 2, tid, 32);
        db_col_bytes(&q, 3, did, 32);
        db_col_bytes(&q, 4, wp, 20);
        json_t *e = json_pack("{s:I, s:s, s:o, s:o, s:o, s:I}", "seq", (json_int_t)seq, "type",
                              db_col_text(&q, 1), "taskid",
                              id_or_null(tid, 32), "dealid", id_or_null(did, 32), "workerpool",
                              id_or_null(wp, 20), "time", (json_int_t)db_col_int(&q, 5));
        const char *detail = db_col_text(&q, 6);
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
    db_done(&q);
    if (!arr)
        return cella_fail(CELLA_E_NOMEM, "events", "out of memory");
    if (rc != DB_DONE) {
        json_decref(arr);
        return db_failure(s->db, "cannot read the events");
    }
    *last = json_array_size(arr) == limit ? seq : newest > after ? newest : after;
    *events = arr;
    return CELLA_OK_RES;
}
