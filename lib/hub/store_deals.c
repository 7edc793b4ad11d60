/* The hub's state: matching orders into deals, and the deals. See store.h. */
#include "hub/store_int.h"

/* ---- matching ---- */

/* {"apporder": hash, "datasetorder": hash|null, "workerpoolorder", "requestorder"} */
static json_t *deal_orders_json(const hub_deal *dl)
{
    return json_pack("{s:o, s:o, s:o, s:o}", "apporder", hs_hex_json(dl->hash[CELLA_ORDER_APP], 32),
                     "datasetorder",
                     dl->has_dataset ? hs_hex_json(dl->hash[CELLA_ORDER_DATASET], 32) : json_null(),
                     "workerpoolorder", hs_hex_json(dl->hash[CELLA_ORDER_WORKERPOOL], 32),
                     "requestorder", hs_hex_json(dl->hash[CELLA_ORDER_REQUEST], 32));
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
        json_object_set_new(tasks, k, hs_hex_json(t, 32));
    }
    static const uint8_t zero[20] = {0};
    return json_pack(
        "{s:o, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:o, s:o, s:o, s:o, s:o,"
        " s:o, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o*, s:o*, s:s, s:I}",
        "dealid", hs_hex_json(dl->dealid, 32), "app", "pointer", hs_addr_json(dl->app), "owner",
        hs_addr_json(dl->app_owner), "price", hs_u64_json(dl->app_price), "dataset", "pointer",
        hs_addr_json(dl->has_dataset ? dl->dataset : zero), "owner",
        hs_addr_json(dl->has_dataset ? dl->dataset_owner : zero), "price",
        hs_u64_json(dl->dataset_price), "workerpool", "pointer", hs_addr_json(dl->workerpool),
        "owner", hs_addr_json(dl->workerpool_owner), "price", hs_u64_json(dl->workerpool_price),
        "trust", hs_u64_json(dl->trust), "category", hs_u64_json(dl->category), "tag",
        hs_hex_json(dl->tag, 32), "requester", hs_addr_json(dl->requester), "beneficiary",
        hs_addr_json(dl->beneficiary), "callback", hs_addr_json(dl->callback), "params",
        req->params ? req->params : "",
        "startTime", (json_int_t)now, "botFirst", hs_u64_json(dl->bot_first), "botSize",
        hs_u64_json(dl->bot_size), "workerStake", hs_u64_json(dl->worker_stake),
        "schedulerRewardRatio", hs_u64_json(dl->scheduler_reward_ratio), "sponsor",
        hs_addr_json(dl->sponsor), "orders", orders, "tasks", tasks, "categoryName", cat->name,
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
    dbq q = db_prep(s->db, "SELECT signer, sign FROM orders WHERE hash = ?");
    db_bb(&q, 1, hash, 32);
    int rc = db_step(&q);
    if (rc == DB_ROW) {
        uint8_t sig[65];
        db_col_bytes(&q, 0, signer, 20);
        db_col_bytes(&q, 1, sig, 65);
        *known = memcmp(sig, o->sign, 65) == 0;
    }
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "order lookup failed");
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
        CELLA_TRY(hs_resource_get_any(s, w + 12, &r, &found));
        rs[k]->registered = found && r.kind == (hub_kind)k;
        if (rs[k]->registered)
            memcpy(rs[k]->owner, r.owner, 20);
    }
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        if (o[k]) {
            CELLA_TRY(hs_consumed_get(s, hash[k], st->consumed[k]));
            CELLA_TRY(known_signature(s, o[k], hash[k], &st->sig_known[k], st->sig_signer[k]));
        }
    uint8_t req[32];
    uint64_t locked;
    hub_order_field(o[CELLA_ORDER_REQUEST], "requester", req);
    CELLA_TRY(hs_account_get(s, req + 12, &st->sponsor_balance, &locked));
    if (st->workerpool.registered)
        CELLA_TRY(hs_account_get(s, st->workerpool.owner, &st->pool_owner_balance, &locked));
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
        CELLA_TRY(hs_consumed_set(s, dl->hash[k], c));
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
    dbq q = db_prep(s->db, "INSERT INTO deals(dealid, json, created) VALUES(?,?,?)");
    db_bb(&q, 1, dl->dealid, 32);
    db_bt(&q, 2, text);
    db_bi(&q, 3, now);
    int rc = db_step(&q);
    db_done(&q);
    free(text);
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot record the deal");
    json_t *ev = json_pack("{s:o, s:I}", "orders", deal_orders_json(dl), "volume",
                           (json_int_t)dl->bot_size);
    CELLA_ENSURE(ev, CELLA_E_NOMEM, "events", "out of memory");
    CELLA_TRY(hs_event_add_detail(s, "deal-created", NULL, dl->dealid, dl->workerpool, ev, now));
    dbq t = db_prep(s->db, "INSERT INTO tasks(taskid, dealid, idx, status, start,"
                        " contribution_deadline, final_deadline, workerpool)"
                        " VALUES(?,?,?,'ACTIVE',?,?,?,?)");
    for (uint64_t i = 0; i < dl->bot_size; i++) {
        uint8_t id[32];
        hub_task_id(dl->dealid, dl->bot_first + i, id);
        db_reset(&t);
        db_bb(&t, 1, id, 32);
        db_bb(&t, 2, dl->dealid, 32);
        db_bi(&t, 3, (int64_t)(dl->bot_first + i));
        db_bi(&t, 4, now);
        db_bi(&t, 5, now + 7 * (int64_t)cat->time_ref);
        db_bi(&t, 6, now + 10 * (int64_t)cat->time_ref);
        db_bb(&t, 7, dl->workerpool, 20);
        if (db_step(&t) != DB_DONE) {
            db_done(&t);
            return db_failure(s->db, "cannot record a task");
        }
        cella_res r = hs_event_add(s, "task-created", id, dl->dealid, dl->workerpool, now);
        if (!cella_ok(r)) {
            db_done(&t);
            return r;
        }
    }
    db_done(&t);
    if (dl->sponsor_lock)
        CELLA_TRY(hs_account_lock(s, dl->sponsor, dl->sponsor_lock));
    if (dl->pool_lock)
        CELLA_TRY(hs_account_lock(s, dl->workerpool_owner, dl->pool_lock));
    return CELLA_OK_RES;
}

cella_res hub_store_match(hub_store *s, const cella_domain *d,
                          const cella_order *const o[CELLA_ORDER__COUNT], int64_t now,
                          bool *matched, hub_deal *deal, hub_refusal *why)
{
    return hub_store_match_json(s, d, o, now, matched, deal, why, NULL);
}

static cella_res match_json_once(hub_store *s, const cella_domain *d,
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
    CELLA_TRY(db_begin(s->db));
    cella_res r = load_state(s, o, (const uint8_t(*)[32])hash, &st);
    if (cella_ok(r)) {
        *matched = hub_match(d, o, &st, deal, why);
        if (*matched)
            r = apply_deal(s, o, &st, deal, now, deal_json_out ? &dj : NULL);
    }
    if (cella_ok(r) && *matched)
        r = hs_commit(s);
    else
        hs_rollback(s);
    if (!cella_ok(r))
        *matched = false;
    if (*matched && deal_json_out)
        *deal_json_out = dj;
    else
        json_decref(dj);
    return r;
}

cella_res hub_store_match_json(hub_store *s, const cella_domain *d,
                               const cella_order *const o[CELLA_ORDER__COUNT], int64_t now,
                               bool *matched, hub_deal *deal, hub_refusal *why,
                               json_t **deal_json_out)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, match_json_once(s, d, o, now, matched, deal, why, deal_json_out));
    return r;
}

cella_res hub_store_deal_get(hub_store *s, const uint8_t dealid[32], json_t **out)
{
    dbq q = db_prep(s->db, "SELECT json FROM deals WHERE dealid = ?");
    db_bb(&q, 1, dealid, 32);
    int rc = db_step(&q);
    json_error_t je;
    *out = rc == DB_ROW ? json_loads(db_col_text(&q, 0), 0, &je) : NULL;
    db_done(&q);
    char ht[67];
    ht[0] = '0';
    ht[1] = 'x';
    cella_hex_encode(ht + 2, dealid, 32, false);
    CELLA_ENSURE(rc != DB_DONE, CELLA_E_NOTFOUND, ht, "no such deal on this hub");
    CELLA_ENSURE(*out, CELLA_E_IO, ht, "cannot read the deal");
    return CELLA_OK_RES;
}

/* ---- read-only listings (the web page) ---- */

static cella_res count_rows(hub_store *s, dbq *q, uint64_t *n)
{
    int rc = db_step(q);
    if (rc == DB_ROW)
        *n = (uint64_t)db_col_int(q, 0);
    db_done(q);
    return rc == DB_ROW ? CELLA_OK_RES : db_failure(s->db, "count failed");
}

cella_res hub_store_deal_list(hub_store *s, size_t offset, size_t limit, json_t **out,
                              uint64_t *total)
{
    *out = NULL;
    dbq c = db_prep(s->db, "SELECT count(*) FROM deals");
    CELLA_TRY(count_rows(s, &c, total));
    dbq q = db_prep(s->db, "SELECT json FROM deals ORDER BY created, dealid LIMIT ?1 OFFSET ?2");
    db_bi(&q, 1, (int64_t)hs_list_limit(limit));
    db_bi(&q, 2, (int64_t)offset);
    json_t *arr = json_array();
    int rc = DB_DONE;
    while (arr && (rc = db_step(&q)) == DB_ROW) {
        json_error_t je;
        hs_append_or_drop(&arr, json_loads(db_col_text(&q, 0), 0, &je));
    }
    db_done(&q);
    if (!arr)
        return cella_fail(CELLA_E_NOMEM, "deals", "out of memory (or an unreadable deal)");
    if (rc != DB_DONE) {
        json_decref(arr);
        return db_failure(s->db, "cannot list the deals");
    }
    *out = arr;
    return CELLA_OK_RES;
}
