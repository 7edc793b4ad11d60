/* The hub's state: the trust-1 task lifecycle (contribute and finalize,
 * claim) and the worker flow (leases, reports, logs); tasks are read as JSON
 * in store_task_read.c. See store.h. */
#include "hub/store_int.h"

/* ---- task lifecycle ---- */

cella_res hs_task_load(hub_store *s, const uint8_t taskid[32], task_row *t)
{
#define TASK_LOAD                                                                                  \
    "SELECT dealid, status, contribution_deadline, final_deadline,"                                \
    " workerpool, lease_holder, lease_until, error IS NOT NULL,"                                   \
    " consensus_value, reveal_deadline, reveal_counter, winner_counter"                            \
    " FROM tasks WHERE taskid = ?"
    /* In a transaction the task is locked until it ends: every change of a
     * task (lease, report, contribution, claim) loads it first, so two
     * replicas change one task one after the other. */
    dbq q = db_prep(s->db, hs_locking(s) ? TASK_LOAD " FOR UPDATE" : TASK_LOAD);
    db_bb(&q, 1, taskid, 32);
    int rc = db_step(&q);
    if (rc == DB_ROW) {
        db_col_bytes(&q, 0, t->dealid, 32);
        snprintf(t->status, sizeof t->status, "%s", db_col_text(&q, 1));
        t->contribution_deadline = db_col_int(&q, 2);
        t->final_deadline = db_col_int(&q, 3);
        db_col_bytes(&q, 4, t->workerpool, 20);
        const char *h = db_col_text(&q, 5);
        snprintf(t->holder, sizeof t->holder, "%s", h ? h : "");
        t->lease_until = db_col_int(&q, 6);
        t->has_error = (int)db_col_int(&q, 7) != 0;
        t->has_consensus = !db_col_null(&q, 8);
        db_col_bytes(&q, 8, t->consensus_value, 32);
        t->reveal_deadline = db_col_int(&q, 9);
        t->reveal_counter = db_col_int(&q, 10);
        t->winner_counter = db_col_int(&q, 11);
    }
    db_done(&q);
    char ht[67];
    hs_id_text(taskid, ht);
    CELLA_ENSURE(rc != DB_DONE, CELLA_E_NOTFOUND, ht, "no such task on this hub");
    CELLA_ENSURE(rc == DB_ROW, CELLA_E_IO, cella_db_where(s->db), "task lookup failed: %s",
                 db_errmsg(s->db));
    return CELLA_OK_RES;
}


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

cella_res hs_deal_terms_load(hub_store *s, const uint8_t dealid[32], deal_terms *d)
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


bool hs_task_refuse(hub_refusal *why, const char *code, const char *fmt, ...)
{
    snprintf(why->code, sizeof why->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->reason, sizeof why->reason, fmt, ap);
    va_end(ap);
    return false;
}

/* Ends a task transaction: commits it if it went ahead (`go`), else rolls it back. */
cella_res hs_end_task_tx(hub_store *s, cella_res r, bool go, bool *done_out)
{
    if (cella_ok(r) && go)
        r = hs_commit(s);
    else
        hs_rollback(s);
    *done_out = cella_ok(r) && go;
    return r;
}

uint64_t hs_stake_of(uint64_t price)
{
    return price / 100 * HUB_WORKERPOOL_STAKE_RATIO + price % 100 * HUB_WORKERPOOL_STAKE_RATIO / 100;
}

static cella_res check_holder(const char *holder);
static bool lease_live(const task_row *t, int64_t now);
static bool leased_refusal(hub_refusal *why, const task_row *t);

static cella_res contribute_and_finalize_once(hub_store *s, const hub_contribution *c, int64_t now,
                                            bool *done_out, hub_refusal *why)
{
    *done_out = false;
    task_row t;
    deal_terms d;
    bool go;
    if (c->holder)
        CELLA_TRY(check_holder(c->holder));
    CELLA_TRY(hs_begin_worker_step(s, c->taskid, false, now, &t, &go, why));
    cella_res r = CELLA_OK_RES;
    /* A worker whose lease lapsed (cut off, stalled) while another took the
     * task over finished late: the task is the live holder's now. */
    if (go && c->holder && lease_live(&t, now) && strcmp(t.holder, c->holder) != 0)
        go = leased_refusal(why, &t);
    if (cella_ok(r) && go)
        r = hs_deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go && d.trust != 1)
        go = hs_task_refuse(why, "cella-hub-task-trust",
                            "contribute-and-finalize is only for trust 1 deals "
                            "(contribute, reveal and finalize reach a consensus)");
    int64_t ncontrib = 0;
    if (cella_ok(r) && go)
        r = hs_contributions_count(s, c->taskid, &ncontrib);
    if (cella_ok(r) && go && ncontrib)
        go = hs_task_refuse(why, "cella-hub-task-contributed",
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
        r = hs_account_release(s, d.sponsor, price, false);
        if (cella_ok(r) && d.app_price)
            r = hs_account_credit(s, d.app_owner, d.app_price);
        if (cella_ok(r) && d.has_dataset && d.dataset_price)
            r = hs_account_credit(s, d.dataset_owner, d.dataset_price);
        if (cella_ok(r) && workers)
            r = hs_account_credit(s, c->worker, workers);
        if (cella_ok(r) && d.pool_price - workers)
            r = hs_account_credit(s, d.pool_owner, d.pool_price - workers);
        uint64_t stake = hs_stake_of(d.pool_price);
        if (cella_ok(r) && stake)
            r = hs_account_release(s, d.pool_owner, stake, true);
        uint8_t rh[32], rs[32];
        hub_result_hash(c->taskid, c->digest, rh);
        hub_result_seal(c->worker, c->taskid, c->digest, rs);
        dbq q = db_prep(s->db, "UPDATE tasks SET status = 'COMPLETED', worker = ?, result_digest = ?,"
                            " result_hash = ?, result_seal = ?, finalized = ?, results = ?,"
                            " tee = ?, enclave = ?, lease_holder = NULL, lease_until = NULL"
                            " WHERE taskid = ?");
        db_bb(&q, 1, c->worker, 20);
        db_bb(&q, 2, c->digest, 32);
        db_bb(&q, 3, rh, 32);
        db_bb(&q, 4, rs, 32);
        db_bi(&q, 5, now);
        if (c->results)
            db_bt(&q, 6, c->results);
        if (c->tee)
            db_bt(&q, 7, c->tee);
        static const uint8_t zero[20];
        char enclave[43];
        if (memcmp(c->enclave_challenge, zero, 20)) { /* checked by hub_contribution_check */
            cella_eth_address_checksum(enclave, c->enclave_challenge);
            db_bt(&q, 8, enclave);
        }
        db_bb(&q, 9, c->taskid, 32);
        if (cella_ok(r) && db_step(&q) != DB_DONE)
            r = db_failure(s->db, "cannot update the task");
        db_done(&q);
        if (cella_ok(r))
            r = hs_event_add(s, "task-completed", c->taskid, t.dealid, t.workerpool, now);
    }
    return hs_end_task_tx(s, r, go, done_out);
}

cella_res hub_store_contribute_and_finalize(hub_store *s, const hub_contribution *c, int64_t now,
                                            bool *done_out, hub_refusal *why)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, contribute_and_finalize_once(s, c, now, done_out, why));
    return r;
}

static cella_res claim_once(hub_store *s, const uint8_t taskid[32], int64_t now, bool *done_out,
                          hub_refusal *why)
{
    *done_out = false;
    memset(why, 0, sizeof *why);
    CELLA_TRY(db_begin(s->db));
    task_row t;
    deal_terms d;
    cella_res r = hs_task_load(s, taskid, &t);
    bool go = false;
    if (cella_ok(r)) {
        char when[CELLA_ISO_TIME_LEN];
        cella_iso_time(t.final_deadline, when);
        if (strcmp(t.status, "ACTIVE") != 0 && strcmp(t.status, "REVEALING") != 0)
            go = hs_task_refuse(why, "cella-hub-task-not-active",
                                "the task is %s: there is nothing to claim", t.status);
        else if (now < t.final_deadline)
            go = hs_task_refuse(why, "cella-hub-task-too-early",
                                "a task can be claimed only after its final deadline (%s)", when);
        else
            go = true;
    }
    if (cella_ok(r) && go)
        r = hs_deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go) {
        /* refund the sponsor; the pool owner's stake goes to the kitty (the
         * account at address zero) */
        static const uint8_t kitty[20] = {0};
        uint64_t stake = hs_stake_of(d.pool_price);
        r = hs_account_release(s, d.sponsor, d.app_price + d.dataset_price + d.pool_price, true);
        if (cella_ok(r) && stake)
            r = hs_account_release(s, d.pool_owner, stake, false);
        if (cella_ok(r) && stake)
            r = hs_account_credit(s, kitty, stake);
        /* every contributor's stake is unlocked (PoCo claim) */
        contrib_row *cr = NULL;
        size_t n = 0;
        if (cella_ok(r))
            r = hs_contributions_load(s, taskid, &cr, &n);
        for (size_t i = 0; cella_ok(r) && i < n; i++)
            if (cr[i].stake)
                r = hs_account_release(s, cr[i].c.worker, cr[i].stake, true);
        free(cr);
        dbq q = db_prep(s->db, "UPDATE tasks SET status = 'FAILED', finalized = ?,"
                            " lease_holder = NULL, lease_until = NULL WHERE taskid = ?");
        db_bi(&q, 1, now);
        db_bb(&q, 2, taskid, 32);
        if (cella_ok(r) && db_step(&q) != DB_DONE)
            r = db_failure(s->db, "cannot update the task");
        db_done(&q);
        if (cella_ok(r))
            r = hs_event_add(s, "task-failed", taskid, t.dealid, t.workerpool, now);
    }
    return hs_end_task_tx(s, r, go, done_out);
}

cella_res hub_store_claim(hub_store *s, const uint8_t taskid[32], int64_t now, bool *done_out,
                          hub_refusal *why)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, claim_once(s, taskid, now, done_out, why));
    return r;
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
cella_res hs_begin_pool_task(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             task_row *t)
{
    CELLA_TRY(db_begin(s->db));
    cella_res r = hs_task_load(s, taskid, t);
    if (cella_ok(r))
        r = deal_party_check(s, t->dealid, false, who);
    if (!cella_ok(r))
        hs_rollback(s);
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
    return hs_task_refuse(why, "cella-hub-task-leased", "the task is held by %s until %lld",
                          t->holder, (long long)t->lease_until);
}

/* Sets (holder non-NULL) or clears the lease and the error (error non-NULL). */
static cella_res task_set_lease(hub_store *s, const uint8_t taskid[32], const char *holder,
                                int64_t until, const char *error)
{
    dbq q = db_prep(s->db, error ? "UPDATE tasks SET lease_holder = ?1, lease_until = ?2,"
                                    " error = ?4 WHERE taskid = ?3"
                                  : "UPDATE tasks SET lease_holder = ?1, lease_until = ?2"
                                    " WHERE taskid = ?3");
    if (holder) {
        db_bt(&q, 1, holder);
        db_bi(&q, 2, until);
    } /* else both stay NULL */
    db_bb(&q, 3, taskid, 32);
    if (error)
        db_bt(&q, 4, error);
    return hs_run(s, &q, "cannot update the task");
}

static cella_res lease_once(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
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
    CELLA_TRY(hs_begin_pool_task(s, taskid, who, &t));
    cella_res r = CELLA_OK_RES;
    bool go = false, renewal = false;
    if (cella_ok(r)) {
        bool live = lease_live(&t, now), mine = live && !strcmp(t.holder, holder);
        if (seconds == 0)
            go = live && !mine ? leased_refusal(why, &t) : true;
        else if (strcmp(t.status, "ACTIVE") != 0)
            go = hs_task_refuse(why, "cella-hub-task-not-active",
                                "the task is %s: there is nothing to run", t.status);
        else if (t.has_error)
            go = hs_task_refuse(why, "cella-hub-task-errored",
                                "an error was reported for the task: it is not run again");
        else if (now >= t.contribution_deadline)
            go = hs_task_refuse(why, "cella-hub-task-deadline",
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
        r = hs_event_add(s, "task-leased", taskid, t.dealid, t.workerpool, now);
    r = hs_end_task_tx(s, r, go, done_out);
    if (*done_out && seconds)
        *until = now + seconds;
    return r;
}

cella_res hub_store_lease(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                          const char *holder, int64_t seconds, int64_t now, bool *done_out,
                          hub_refusal *why, int64_t *until)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, lease_once(s, taskid, who, holder, seconds, now, done_out, why, until));
    return r;
}

static cella_res lease_next_once(hub_store *s, const uint8_t pool[20], const uint8_t who[20],
                                 const char *holder, const uint8_t *worker, int64_t seconds,
                                 int64_t now, bool *found, uint8_t taskid[32], int64_t *until)
{
    *found = false;
    *until = 0;
    CELLA_TRY(check_holder(holder));
    CELLA_ENSURE(seconds >= 1 && seconds <= HUB_LEASE_MAX, CELLA_E_PARSE, "seconds",
                 "a lease lasts 1 to %d seconds", HUB_LEASE_MAX);
    char at[43], owner[43];
    cella_eth_address_checksum(at, pool);
    hub_resource wp;
    bool known = false;
    CELLA_TRY(hs_resource_get_any(s, pool, &wp, &known));
    CELLA_ENSURE(known && wp.kind == HUB_WORKERPOOL, CELLA_E_NOTFOUND, at,
                 "no such workerpool on this hub");
    cella_eth_address_checksum(owner, wp.owner);
    CELLA_ENSURE(!memcmp(wp.owner, who, 20), CELLA_E_PERM, at,
                 "only the workerpool's owner (%s) leases its tasks", owner);
    CELLA_TRY(db_begin(s->db));
    /* the runnable condition of hub_store_task_list, in its order */
    dbq q = db_prep(s->db, "SELECT taskid, dealid FROM tasks WHERE workerpool = ?1"
                           " AND status = 'ACTIVE' AND contribution_deadline > ?2"
                           " AND error IS NULL AND (lease_holder IS NULL OR lease_until <= ?2)"
                           " AND (?3 IS NULL OR NOT EXISTS (SELECT 1 FROM contributions c"
                           " WHERE c.taskid = tasks.taskid AND c.worker = ?3))"
                           " ORDER BY workerpool, start, idx, taskid LIMIT 1"
                           " FOR UPDATE SKIP LOCKED");
    db_bb(&q, 1, pool, 20);
    db_bi(&q, 2, now);
    db_bbn(&q, 3, worker, 20);
    uint8_t dealid[32];
    int rc = db_step(&q);
    if (rc == DB_ROW) {
        db_col_bytes(&q, 0, taskid, 32);
        db_col_bytes(&q, 1, dealid, 32);
    }
    db_done(&q);
    cella_res r = rc == DB_ROW || rc == DB_DONE ? CELLA_OK_RES
                                                : db_failure(s->db, "cannot find a runnable task");
    if (cella_ok(r) && rc == DB_ROW)
        r = task_set_lease(s, taskid, holder, now + seconds, NULL);
    if (cella_ok(r) && rc == DB_ROW)
        r = hs_event_add(s, "task-leased", taskid, dealid, pool, now);
    if (!cella_ok(r) || rc != DB_ROW) {
        hs_rollback(s);
        return r;
    }
    CELLA_TRY(hs_commit(s));
    *found = true;
    *until = now + seconds;
    return CELLA_OK_RES;
}

cella_res hub_store_lease_next(hub_store *s, const uint8_t pool[20], const uint8_t who[20],
                               const char *holder, const uint8_t *worker, int64_t seconds,
                               int64_t now, bool *found, uint8_t taskid[32], int64_t *until)
{
    cella_res r;
    CELLA_DB_RETRY(s->db, r, lease_next_once(s, pool, who, holder, worker, seconds, now, found,
                                             taskid, until));
    return r;
}

static cella_res report_once(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
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
    CELLA_TRY(hs_begin_pool_task(s, taskid, who, &t));
    cella_res r = CELLA_OK_RES;
    bool go = false;
    if (cella_ok(r)) {
        if (strcmp(t.status, "ACTIVE") != 0)
            go = hs_task_refuse(why, "cella-hub-task-not-active",
                                "the task is %s: its outcome is already recorded", t.status);
        else if (lease_live(&t, now) && strcmp(t.holder, holder) != 0)
            go = leased_refusal(why, &t);
        else
            go = true;
    }
    if (cella_ok(r) && go)
        r = task_set_lease(s, taskid, NULL, 0, error);
    if (cella_ok(r) && go)
        r = hs_event_add(s, "task-error", taskid, t.dealid, t.workerpool, now);
    return hs_end_task_tx(s, r, go, done_out);
}

cella_res hub_store_report(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                           const char *holder, const char *error, int64_t now, bool *done_out,
                           hub_refusal *why)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, report_once(s, taskid, who, holder, error, now, done_out, why));
    return r;
}

static cella_res logs_put_once(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             const char *out, size_t out_len, const char *err, size_t err_len,
                             int64_t now)
{
    CELLA_ENSURE(out_len <= HUB_LOG_MAX, CELLA_E_TOOBIG, "stdout", "longer than %d bytes",
                 HUB_LOG_MAX);
    CELLA_ENSURE(err_len <= HUB_LOG_MAX, CELLA_E_TOOBIG, "stderr", "longer than %d bytes",
                 HUB_LOG_MAX);
    task_row t;
    CELLA_TRY(hs_begin_pool_task(s, taskid, who, &t));
    cella_res r = CELLA_OK_RES;
    if (cella_ok(r)) {
        dbq q = db_prep(s->db, "INSERT INTO task_logs(taskid, stdout, stderr, updated)"
                            " VALUES(?,?,?,?) ON CONFLICT(taskid) DO UPDATE SET"
                            " stdout = excluded.stdout, stderr = excluded.stderr,"
                            " updated = excluded.updated");
        db_bb(&q, 1, taskid, 32);
        db_btn(&q, 2, out, out_len);
        db_btn(&q, 3, err, err_len);
        db_bi(&q, 4, now);
        r = hs_run(s, &q, "cannot store the logs");
    }
    if (cella_ok(r))
        r = hs_commit(s);
    else
        hs_rollback(s);
    return r;
}

cella_res hub_store_logs_put(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             const char *out, size_t out_len, const char *err, size_t err_len,
                             int64_t now)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, logs_put_once(s, taskid, who, out, out_len, err, err_len, now));
    return r;
}

cella_res hub_store_logs_get(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             json_t **out)
{
    *out = NULL;
    task_row t;
    CELLA_TRY(hs_task_load(s, taskid, &t));
    CELLA_TRY(deal_party_check(s, t.dealid, true, who));
    dbq q = db_prep(s->db, "SELECT stdout, stderr FROM task_logs WHERE taskid = ?");
    db_bb(&q, 1, taskid, 32);
    int rc = db_step(&q);
    if (rc == DB_ROW)
        *out = json_pack("{s:o, s:o, s:o}", "taskid", hs_hex_json(taskid, 32), "stdout",
                         hs_col_text_json(&q, 0), "stderr", hs_col_text_json(&q, 1));
    db_done(&q);
    char ht[67];
    hs_id_text(taskid, ht);
    CELLA_ENSURE(rc != DB_DONE, CELLA_E_NOTFOUND, ht, "the task has no logs yet");
    CELLA_ENSURE(rc == DB_ROW, CELLA_E_IO, cella_db_where(s->db), "logs lookup failed: %s",
                 db_errmsg(s->db));
    CELLA_ENSURE(*out, CELLA_E_NOMEM, ht, "out of memory");
    return CELLA_OK_RES;
}
