/* The hub's state: tasks read as JSON (one with its contributions, a page of
 * them) and their census by status. See store.h. */
#include "hub/store_int.h"

/* The columns of a task row (tasks t joined with its deal d), as task_json reads them. */
#define TASK_COLUMNS                                                                              \
    "SELECT t.taskid, t.dealid, t.idx, t.status, t.start, t.contribution_deadline,"              \
    " t.final_deadline, t.worker, t.result_digest, t.result_hash, t.result_seal, t.finalized,"   \
    " t.lease_holder, t.lease_until, t.error, t.results, d.json,"                                 \
    " t.consensus_value, t.reveal_deadline, t.reveal_counter, t.winner_counter,"                  \
    " (SELECT count(*) FROM contributions c WHERE c.taskid = t.taskid), t.tee, t.enclave"
#define TASK_SELECT TASK_COLUMNS " FROM tasks t JOIN deals d ON d.dealid = t.dealid"
#define TASK_ORDER " ORDER BY t.start, t.idx, t.taskid"

/* The deal of the rows read last, parsed once for all its tasks (a bag's
 * JSON names every task: parsing it for each would cost its size each). */
typedef struct {
    uint8_t dealid[32];
    json_t *deal; /* NULL: none yet */
} deal_cache;

/* A string field of the deal (at most two levels down), as a JSON string,
 * or null. */
static json_t *deal_field(const json_t *deal, const char *key, const char *sub)
{
    const json_t *v = json_object_get(deal, key);
    if (sub)
        v = json_object_get(v, sub);
    return json_is_string(v) ? json_string(json_string_value(v)) : json_null();
}

static const json_t *cached_deal(dbq *q, const uint8_t dealid[32], deal_cache *c)
{
    if (c->deal && !memcmp(c->dealid, dealid, 32))
        return c->deal;
    json_decref(c->deal);
    size_t n;
    const char *text = db_col_blob(q, 16, &n);
    c->deal = text ? json_loadb(text, n, 0, NULL) : NULL;
    memcpy(c->dealid, dealid, 32);
    return c->deal;
}

static json_t *task_json(dbq *q, deal_cache *c)
{
    uint8_t id[32], dealid[32];
    db_col_bytes(q, 0, id, 32);
    db_col_bytes(q, 1, dealid, 32);
    const json_t *deal = cached_deal(q, dealid, c);
    json_t *j = json_pack("{s:o, s:o, s:I, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "taskid",
                          hs_hex_json(id, 32), "dealid", hs_hex_json(dealid, 32), "idx",
                          (json_int_t)db_col_int(q, 2), "status",
                          db_col_text(q, 3), "startTime",
                          (json_int_t)db_col_int(q, 4), "contributionDeadline",
                          (json_int_t)db_col_int(q, 5), "finalDeadline",
                          (json_int_t)db_col_int(q, 6), "workerpool",
                          deal_field(deal, "workerpool", "pointer"), "requester",
                          deal_field(deal, "requester", NULL), "beneficiary",
                          deal_field(deal, "beneficiary", NULL), "tag",
                          deal_field(deal, "tag", NULL));
    if (!j)
        return NULL;
    json_t *lease = json_null();
    if (!db_col_null(q, 12))
        lease = json_pack("{s:o, s:I}", "holder", hs_col_text_json(q, 12), "until",
                          (json_int_t)db_col_int(q, 13));
    json_object_set_new(j, "lease", lease ? lease : json_null());
    json_object_set_new(j, "error", hs_col_text_json(q, 14));
    json_object_set_new(j, "results", hs_col_text_json(q, 15));
    /* trust 1: the one worker, its digest, hash and seal; consensus: the
     * revealed digest and the consensus value as resultHash */
    bool contributed = !db_col_null(q, 7);
    uint8_t w[20], b[32];
    db_col_bytes(q, 7, w, 20);
    json_object_set_new(j, "worker", contributed ? hs_addr_json(w) : json_null());
    static const char *const names[3] = {"resultDigest", "resultHash", "resultSeal"};
    for (int i = 0; i < 3; i++) {
        db_col_bytes(q, 8 + i, b, 32);
        if (contributed || (i < 2 && !db_col_null(q, 8 + i)))
            json_object_set_new(j, names[i], hs_hex_json(b, 32));
    }
    if (!json_object_get(j, "resultDigest"))
        json_object_set_new(j, "resultDigest", json_null());
    json_object_set_new(j, "contributors", json_integer(db_col_int(q, 21)));
    if (!db_col_null(q, 17)) {
        db_col_bytes(q, 17, b, 32);
        json_object_set_new(j, "consensusValue", hs_hex_json(b, 32));
        json_object_set_new(j, "revealDeadline", json_integer(db_col_int(q, 18)));
        json_object_set_new(j, "revealCounter", json_integer(db_col_int(q, 19)));
        json_object_set_new(j, "winnerCounter", json_integer(db_col_int(q, 20)));
    }
    if (!db_col_null(q, 11))
        json_object_set_new(j, "finalTime", json_integer(db_col_int(q, 11)));
    if (!db_col_null(q, 22)) /* "sim": the result had no hardware protection */
        json_object_set_new(j, "tee", hs_col_text_json(q, 22));
    /* trust 1: the enclave key whose signature of the result the hub checked
     * at finalize, the one the pool's authorization names */
    if (!db_col_null(q, 23))
        json_object_set_new(j, "enclaveChallenge", hs_col_text_json(q, 23));
    return j;
}

cella_res hub_store_task_get(hub_store *s, const uint8_t taskid[32], json_t **out)
{
    dbq q = db_prep(s->db, TASK_SELECT " WHERE t.taskid = ?");
    db_bb(&q, 1, taskid, 32);
    int rc = db_step(&q);
    deal_cache dc = {.deal = NULL};
    *out = rc == DB_ROW ? task_json(&q, &dc) : NULL;
    json_decref(dc.deal);
    db_done(&q);
    char ht[67];
    hs_id_text(taskid, ht);
    CELLA_ENSURE(rc != DB_DONE, CELLA_E_NOTFOUND, ht, "no such task on this hub");
    CELLA_ENSURE(*out, CELLA_E_IO, ht, "cannot read the task");
    /* the contributions (trust > 1), in their order */
    json_t *list = json_array();
    dbq c = db_prep(s->db, "SELECT worker, status, result_hash, result_seal, enclave_challenge,"
                        " weight, stake, time FROM contributions WHERE taskid = ? ORDER BY seq");
    db_bb(&c, 1, taskid, 32);
    while (list && (rc = db_step(&c)) == DB_ROW) {
        uint8_t w[20], h[32], sl[32], ch[20];
        db_col_bytes(&c, 0, w, 20);
        db_col_bytes(&c, 2, h, 32);
        db_col_bytes(&c, 3, sl, 32);
        db_col_bytes(&c, 4, ch, 20);
        json_t *e = json_pack("{s:o, s:s, s:o, s:o, s:o, s:I, s:o, s:I}", "worker",
                              hs_addr_json(w), "status", db_col_text(&c, 1),
                              "resultHash", hs_hex_json(h, 32), "resultSeal", hs_hex_json(sl, 32),
                              "enclaveChallenge", hs_addr_json(ch), "weight",
                              (json_int_t)db_col_int(&c, 5), "stake",
                              hs_u64_json((uint64_t)db_col_int(&c, 6)), "time",
                              (json_int_t)db_col_int(&c, 7));
        if (!e || json_array_append_new(list, e)) {
            json_decref(list);
            list = NULL;
        }
    }
    db_done(&c);
    if (!list || rc != DB_DONE) {
        json_decref(list);
        json_decref(*out);
        *out = NULL;
        return list ? db_failure(s->db, "cannot read the contributions")
                    : cella_fail(CELLA_E_NOMEM, ht, "out of memory");
    }
    json_object_set_new(*out, "contributions", list);
    return CELLA_OK_RES;
}

cella_res hub_store_task_list(hub_store *s, const hub_task_filter *f, int64_t now, json_t **out)
{
    /* The page of tasks first, then their deals: the deal's fields come out
     * of its JSON (the whole bag's, for a bag of tasks), which is read for
     * the rows shown only, not for every task that matches. */
    char sql[1500];
    /* newest first for the web page's "recent tasks" (its order reversed) */
    const char *order = f->newest_first ? " ORDER BY t.start DESC, t.idx DESC, t.taskid DESC"
                                        : TASK_ORDER;
    snprintf(sql, sizeof sql,
             "%s FROM (SELECT * FROM tasks t WHERE true%s%s%s%s%s LIMIT ?4 OFFSET ?6) t"
             " JOIN deals d ON d.dealid = t.dealid%s",
             TASK_COLUMNS, f->workerpool ? " AND t.workerpool = ?1" : "",
             f->status ? " AND t.status = ?2" : "",
             f->runnable ? " AND t.status = 'ACTIVE' AND t.contribution_deadline > ?3"
                           " AND t.error IS NULL"
                           " AND (t.lease_holder IS NULL OR t.lease_until <= ?3)"
                         : "",
             f->dealid ? " AND t.dealid = ?5" : "", order, order);
    size_t limit = f->limit && f->limit < HUB_LIST_MAX ? f->limit : HUB_LIST_MAX;
    dbq q = db_prep(s->db, sql);
    if (f->workerpool)
        db_bb(&q, 1, f->workerpool, 20);
    if (f->status)
        db_bt(&q, 2, f->status);
    if (f->runnable)
        db_bi(&q, 3, now);
    db_bi(&q, 4, (int64_t)limit);
    if (f->dealid)
        db_bb(&q, 5, f->dealid, 32);
    db_bi(&q, 6, (int64_t)f->offset);
    *out = json_array();
    int rc = DB_DONE;
    deal_cache dc = {.deal = NULL};
    while (*out && (rc = db_step(&q)) == DB_ROW) {
        json_t *t = task_json(&q, &dc);
        if (!t || json_array_append_new(*out, t)) {
            json_decref(*out);
            *out = NULL;
        }
    }
    json_decref(dc.deal);
    db_done(&q);
    if (!*out)
        return cella_fail(CELLA_E_NOMEM, "tasks", "out of memory");
    if (rc != DB_DONE) {
        json_decref(*out);
        *out = NULL;
        return db_failure(s->db, "cannot list the tasks");
    }
    return CELLA_OK_RES;
}

cella_res hub_store_census(hub_store *s, const char *const *states, size_t n, int64_t now,
                           int64_t *counts, int64_t *leases)
{
    memset(counts, 0, n * sizeof *counts);
    dbq q = db_prep(s->db, "SELECT status, count(*) FROM tasks GROUP BY status");
    int rc;
    while ((rc = db_step(&q)) == DB_ROW)
        for (size_t i = 0; i < n; i++)
            if (db_col_text(&q, 0) && !strcmp(db_col_text(&q, 0), states[i]))
                counts[i] = db_col_int(&q, 1);
    db_done(&q);
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot count the tasks");
    q = db_prep(s->db, "SELECT count(*) FROM tasks WHERE lease_holder IS NOT NULL"
                       " AND lease_until > ?");
    db_bi(&q, 1, now);
    rc = db_step(&q);
    *leases = rc == DB_ROW ? db_col_int(&q, 0) : 0;
    db_done(&q);
    return rc == DB_ROW ? CELLA_OK_RES : db_failure(s->db, "cannot count the leases");
}
