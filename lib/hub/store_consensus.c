/* The hub's state: consensus (trust > 1): contributions, reveals,
 * finalize, reopen and worker scores. See store.h. */
#include "hub/store_int.h"

/* ---- consensus (trust > 1): contributions and worker scores ---- */

cella_res hs_contributions_count(hub_store *s, const uint8_t taskid[32], int64_t *n)
{
    dbq q = db_prep(s->db, "SELECT count(*) FROM contributions WHERE taskid = ?");
    db_bb(&q, 1, taskid, 32);
    int rc = db_step(&q);
    *n = rc == DB_ROW ? db_col_int(&q, 0) : 0;
    db_done(&q);
    if (rc != DB_ROW)
        return db_failure(s->db, "cannot count the contributions");
    return CELLA_OK_RES;
}

/* The task's contributions in their order (a malloc'd array, NULL when none). */
cella_res hs_contributions_load(hub_store *s, const uint8_t taskid[32], contrib_row **out,
                                size_t *n)
{
    *out = NULL;
    *n = 0;
    dbq q = db_prep(s->db, "SELECT worker, status, result_hash, result_seal, weight, stake"
                        " FROM contributions WHERE taskid = ? ORDER BY seq");
    db_bb(&q, 1, taskid, 32);
    int rc;
    size_t cap = 0;
    cella_res r = CELLA_OK_RES;
    while (cella_ok(r) && (rc = db_step(&q)) == DB_ROW) {
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
        db_col_bytes(&q, 0, e->c.worker, 20);
        const char *st = db_col_text(&q, 1);
        if (!hub_contrib_status_from_name(st, &e->c.status))
            r = cella_fail(CELLA_E_INTERNAL, "contributions", "unknown status %s", st ? st : "?");
        db_col_bytes(&q, 2, e->c.result_hash, 32);
        db_col_bytes(&q, 3, e->seal, 32);
        e->c.weight = (uint64_t)db_col_int(&q, 4);
        e->stake = (uint64_t)db_col_int(&q, 5);
    }
    if (cella_ok(r) && rc != DB_DONE)
        r = db_failure(s->db, "cannot read the contributions");
    db_done(&q);
    if (!cella_ok(r)) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

static cella_res score_get(hub_store *s, const uint8_t worker[20], uint64_t *score)
{
    CELLA_TRY(hs_lock_row(s, "INSERT INTO worker_scores(address, score) VALUES(?, 0)"
                             " ON CONFLICT DO NOTHING", worker, 20));
    dbq q = db_prep(s->db, hs_locking(s) ? "SELECT score FROM worker_scores WHERE address = ?"
                                           " FOR UPDATE"
                                         : "SELECT score FROM worker_scores WHERE address = ?");
    db_bb(&q, 1, worker, 20);
    int rc = db_step(&q);
    *score = rc == DB_ROW ? (uint64_t)db_col_int(&q, 0) : 0;
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "cannot read a worker score");
    return CELLA_OK_RES;
}

static cella_res score_put(hub_store *s, const uint8_t worker[20], uint64_t score)
{
    dbq q = db_prep(s->db, "INSERT INTO worker_scores(address, score) VALUES(?,?)"
                        " ON CONFLICT(address) DO UPDATE SET score = excluded.score");
    db_bb(&q, 1, worker, 20);
    db_bi(&q, 2, score > INT64_MAX ? INT64_MAX : (int64_t)score);
    return hs_run(s, &q, "cannot update a worker score");
}

/* Begins a transaction on a task for a worker's step: contributions
 * (ACTIVE, before the contribution deadline) or reveals (REVEALING, before
 * the reveal deadline). *go, or a refusal in *why. Rolled back on an error. */
cella_res hs_begin_worker_step(hub_store *s, const uint8_t taskid[32], bool reveal,
                               int64_t now, task_row *t, bool *go, hub_refusal *why)
{
    memset(why, 0, sizeof *why);
    *go = false;
    CELLA_TRY(db_begin(s->db));
    cella_res r = hs_task_load(s, taskid, t);
    if (!cella_ok(r)) {
        hs_rollback(s);
        return r;
    }
    if (strcmp(t->status, reveal ? "REVEALING" : "ACTIVE") != 0)
        *go = hs_task_refuse(why,
                             reveal ? "cella-hub-task-not-revealing" : "cella-hub-task-not-active",
                             reveal ? "the task is %s: there is no consensus to reveal"
                                    : "the task is %s: it takes no contribution",
                             t->status);
    else if (now >= (reveal ? t->reveal_deadline : t->contribution_deadline))
        *go = hs_task_refuse(why,
                             reveal ? "cella-hub-task-reveal-deadline" : "cella-hub-task-deadline",
                             reveal ? "the reveal deadline of the task has passed"
                                    : "the contribution deadline of the task has passed");
    else
        *go = true;
    return CELLA_OK_RES;
}

/* ---- consensus (trust > 1): contribute, reveal, finalize, reopen ---- */

/* Begins finalize or reopen (`verb`) as the pool owner: *go when the task is
 * REVEALING before its final deadline, else a refusal in *why. */
static cella_res begin_revealing(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                                 int64_t now, const char *verb, task_row *t, bool *go,
                                 hub_refusal *why)
{
    memset(why, 0, sizeof *why);
    CELLA_TRY(hs_begin_pool_task(s, taskid, who, t));
    if (strcmp(t->status, "REVEALING") != 0)
        *go = hs_task_refuse(why, "cella-hub-task-not-revealing",
                             "the task is %s: only a task in consensus (REVEALING) is %s",
                             t->status, verb);
    else if (now >= t->final_deadline)
        *go = hs_task_refuse(why, "cella-hub-task-final-deadline",
                             "the final deadline of the task has passed (it can be claimed)");
    else
        *go = true;
    return CELLA_OK_RES;
}

static cella_res contribute_once(hub_store *s, const hub_contribution *c, int64_t now,
                               bool *done_out, hub_refusal *why)
{
    *done_out = false;
    CELLA_ENSURE(c->sealed, CELLA_E_INTERNAL, "contribute", "a contribution without its seal");
    task_row t;
    deal_terms d;
    contrib_row *cr = NULL;
    size_t n = 0;
    bool go;
    CELLA_TRY(hs_begin_worker_step(s, c->taskid, false, now, &t, &go, why));
    cella_res r = CELLA_OK_RES;
    if (cella_ok(r) && go)
        r = hs_deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go)
        r = hs_contributions_load(s, c->taskid, &cr, &n);
    for (size_t i = 0; cella_ok(r) && go && i < n; i++)
        if (!memcmp(cr[i].c.worker, c->worker, 20))
            go = hs_task_refuse(why, "cella-hub-task-contributed",
                                "this worker already contributed to the task (%s)",
                                hub_contrib_status_name(cr[i].c.status));
    if (cella_ok(r) && go)
        go = hub_contribution_check(c, d.tag, d.pool_owner, why);
    uint64_t bal = 0, locked, score = 0;
    if (cella_ok(r) && go)
        r = hs_account_get(s, c->worker, &bal, &locked);
    if (cella_ok(r) && go && bal < d.worker_stake)
        go = hs_task_refuse(why, "cella-hub-insufficient-balance",
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
                go = hs_task_refuse(why, "cella-hub-task-overflow",
                                    "the consensus weights of the task overflow uint256");
            free(hc);
        }
    }
    if (cella_ok(r) && go) {
        dbq q = db_prep(s->db, "INSERT INTO contributions(taskid, worker, seq, status, result_hash,"
                            " result_seal, enclave_challenge, weight, stake, time)"
                            " VALUES(?,?,?,'CONTRIBUTED',?,?,?,?,?,?)");
        db_bb(&q, 1, c->taskid, 32);
        db_bb(&q, 2, c->worker, 20);
        db_bi(&q, 3, (int64_t)n);
        db_bb(&q, 4, c->result_hash, 32);
        db_bb(&q, 5, c->result_seal, 32);
        db_bb(&q, 6, c->enclave_challenge, 20);
        db_bi(&q, 7, (int64_t)cr[n].c.weight);
        db_bi(&q, 8, (int64_t)d.worker_stake);
        db_bi(&q, 9, now);
        r = hs_run(s, &q, "cannot record the contribution");
    }
    if (cella_ok(r) && go && d.worker_stake)
        r = hs_account_lock(s, c->worker, d.worker_stake);
    if (cella_ok(r) && go) {
        /* the worker is done with the task: its lease ends */
        dbq q = db_prep(s->db, "UPDATE tasks SET lease_holder = NULL, lease_until = NULL"
                            " WHERE taskid = ?");
        db_bb(&q, 1, c->taskid, 32);
        r = hs_run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = hs_event_add(s, "task-contributed", c->taskid, t.dealid, t.workerpool, now);
    if (cella_ok(r) && go && reached) {
        dbq q = db_prep(s->db, "UPDATE tasks SET status = 'REVEALING', consensus_value = ?,"
                            " reveal_deadline = ?, reveal_counter = 0, winner_counter = ?"
                            " WHERE taskid = ?");
        db_bb(&q, 1, c->result_hash, 32);
        db_bi(&q, 2, now + 2 * d.time_ref);
        db_bi(&q, 3, (int64_t)winners);
        db_bb(&q, 4, c->taskid, 32);
        r = hs_run(s, &q, "cannot update the task");
        if (cella_ok(r))
            r = hs_event_add(s, "task-consensus", c->taskid, t.dealid, t.workerpool, now);
    }
    free(cr);
    return hs_end_task_tx(s, r, go, done_out);
}

cella_res hub_store_contribute(hub_store *s, const hub_contribution *c, int64_t now,
                               bool *done_out, hub_refusal *why)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, contribute_once(s, c, now, done_out, why));
    return r;
}

static cella_res reveal_once(hub_store *s, const uint8_t taskid[32], const uint8_t worker[20],
                           const uint8_t digest[32], int64_t now, bool *done_out,
                           hub_refusal *why)
{
    *done_out = false;
    task_row t;
    bool go;
    CELLA_TRY(hs_begin_worker_step(s, taskid, true, now, &t, &go, why));
    cella_res r = CELLA_OK_RES;
    contrib_row *cr = NULL;
    size_t n = 0, me = 0;
    if (cella_ok(r) && go)
        r = hs_contributions_load(s, taskid, &cr, &n);
    if (cella_ok(r) && go) {
        while (me < n && memcmp(cr[me].c.worker, worker, 20))
            me++;
        uint8_t rh[32], rs[32];
        hub_result_hash(taskid, digest, rh);
        hub_result_seal(worker, taskid, digest, rs);
        if (me == n)
            go = hs_task_refuse(why, "cella-hub-task-not-contributor",
                                "this worker did not contribute to the task");
        else if (cr[me].c.status == HUB_CONTRIB_PROVED)
            go = hs_task_refuse(why, "cella-hub-task-revealed", "this worker already revealed");
        else if (cr[me].c.status == HUB_CONTRIB_REJECTED)
            go = hs_task_refuse(why, "cella-hub-task-rejected",
                                "this worker's contribution was rejected when the task reopened");
        else if (memcmp(cr[me].c.result_hash, t.consensus_value, 32))
            go = hs_task_refuse(why, "cella-hub-task-not-consensus",
                                "this worker's contribution is not the consensus");
        else if (memcmp(cr[me].c.result_hash, rh, 32) || memcmp(cr[me].seal, rs, 32))
            go = hs_task_refuse(why, "cella-hub-task-reveal-mismatch",
                                "the digest does not match the contribution's resultHash and "
                                "resultSeal");
    }
    if (cella_ok(r) && go) {
        dbq q = db_prep(s->db, "UPDATE contributions SET status = 'PROVED' WHERE taskid = ?"
                            " AND worker = ?");
        db_bb(&q, 1, taskid, 32);
        db_bb(&q, 2, worker, 20);
        r = hs_run(s, &q, "cannot update the contribution");
    }
    if (cella_ok(r) && go) {
        dbq q = db_prep(s->db, "UPDATE tasks SET reveal_counter = reveal_counter + 1,"
                            " result_digest = ? WHERE taskid = ?");
        db_bb(&q, 1, digest, 32);
        db_bb(&q, 2, taskid, 32);
        r = hs_run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = hs_event_add(s, "task-revealed", taskid, t.dealid, t.workerpool, now);
    free(cr);
    return hs_end_task_tx(s, r, go, done_out);
}

cella_res hub_store_reveal(hub_store *s, const uint8_t taskid[32], const uint8_t worker[20],
                           const uint8_t digest[32], int64_t now, bool *done_out,
                           hub_refusal *why)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, reveal_once(s, taskid, worker, digest, now, done_out, why));
    return r;
}

static cella_res finalize_once(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
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
        go = hs_task_refuse(why, "cella-hub-task-too-early",
                            "%lld of %lld winners revealed: finalize once all have, or after the "
                            "reveal deadline (%s) with at least one",
                            (long long)t.reveal_counter, (long long)t.winner_counter, when);
    deal_terms d;
    contrib_row *cr = NULL;
    size_t n = 0;
    if (go)
        r = hs_deal_terms_load(s, t.dealid, &d);
    if (cella_ok(r) && go)
        r = hs_contributions_load(s, taskid, &cr, &n);
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
        r = hs_account_release(s, d.sponsor, d.app_price + d.dataset_price + d.pool_price, false);
        if (cella_ok(r) && d.app_price)
            r = hs_account_credit(s, d.app_owner, d.app_price);
        if (cella_ok(r) && d.has_dataset && d.dataset_price)
            r = hs_account_credit(s, d.dataset_owner, d.dataset_price);
        uint64_t stake = hs_stake_of(d.pool_price);
        if (cella_ok(r) && stake)
            r = hs_account_release(s, d.pool_owner, stake, true);
    }
    /* distributeRewards: winners who revealed get their stake back and their
     * share; every other contribution's stake is seized (it is in the
     * rewards); the scheduler gets the rest; scores move */
    for (size_t i = 0; cella_ok(r) && go && i < n; i++) {
        bool proved = cr[i].c.status == HUB_CONTRIB_PROVED;
        if (cr[i].stake)
            r = hs_account_release(s, cr[i].c.worker, cr[i].stake, proved);
        if (cella_ok(r) && reward[i])
            r = hs_account_credit(s, cr[i].c.worker, reward[i]);
        uint64_t score;
        if (cella_ok(r))
            r = score_get(s, cr[i].c.worker, &score);
        if (cella_ok(r))
            r = score_put(s, cr[i].c.worker, hub_score_after(score, proved, n));
    }
    if (cella_ok(r) && go && scheduler)
        r = hs_account_credit(s, d.pool_owner, scheduler);
    if (cella_ok(r) && go) {
        dbq q = db_prep(s->db, "UPDATE tasks SET status = 'COMPLETED', result_hash = consensus_value,"
                            " finalized = ?, results = ?, lease_holder = NULL, lease_until = NULL"
                            " WHERE taskid = ?");
        db_bi(&q, 1, now);
        if (results)
            db_bt(&q, 2, results);
        db_bb(&q, 3, taskid, 32);
        r = hs_run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = hs_event_add(s, "task-completed", taskid, t.dealid, t.workerpool, now);
    free(cr);
    free(hc);
    free(reward);
    (void)seized;
    return hs_end_task_tx(s, r, go, done_out);
}

cella_res hub_store_finalize(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             const char *results, int64_t now, bool *done_out, hub_refusal *why)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, finalize_once(s, taskid, who, results, now, done_out, why));
    return r;
}

static cella_res reopen_once(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
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
        go = hs_task_refuse(why, "cella-hub-task-too-early",
                            "a task is reopened only after its reveal deadline (%s)", when);
    else if (go && t.reveal_counter != 0)
        go = hs_task_refuse(why, "cella-hub-task-revealed",
                            "a winner revealed: the task is finalized, not reopened");
    if (go) {
        dbq q = db_prep(s->db, "UPDATE contributions SET status = 'REJECTED' WHERE taskid = ?"
                            " AND result_hash = ?");
        db_bb(&q, 1, taskid, 32);
        db_bb(&q, 2, t.consensus_value, 32);
        r = hs_run(s, &q, "cannot update the contributions");
    }
    if (cella_ok(r) && go) {
        dbq q = db_prep(s->db, "UPDATE tasks SET status = 'ACTIVE', consensus_value = NULL,"
                            " reveal_deadline = NULL, reveal_counter = NULL, winner_counter = NULL"
                            " WHERE taskid = ?");
        db_bb(&q, 1, taskid, 32);
        r = hs_run(s, &q, "cannot update the task");
    }
    if (cella_ok(r) && go)
        r = hs_event_add(s, "task-reopened", taskid, t.dealid, t.workerpool, now);
    return hs_end_task_tx(s, r, go, done_out);
}

cella_res hub_store_reopen(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                           int64_t now, bool *done_out, hub_refusal *why)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, reopen_once(s, taskid, who, now, done_out, why));
    return r;
}
