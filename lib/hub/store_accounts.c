/* The hub's state: nRLC accounts and their escrow. See store.h. */
#include "hub/store_int.h"

/* ---- accounts ---- */

cella_res hs_account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                         uint64_t *locked)
{
    CELLA_TRY(hs_lock_row(s, "INSERT INTO accounts(address, balance, locked) VALUES(?, 0, 0)"
                             " ON CONFLICT DO NOTHING", addr, 20));
    dbq q = db_prep(s->db, hs_locking(s) ? "SELECT balance, locked FROM accounts WHERE address = ?"
                                           " FOR UPDATE"
                                         : "SELECT balance, locked FROM accounts WHERE address = ?");
    db_bb(&q, 1, addr, 20);
    int rc = db_step(&q);
    *balance = *locked = 0;
    if (rc == DB_ROW) {
        *balance = (uint64_t)db_col_int(&q, 0);
        *locked = (uint64_t)db_col_int(&q, 1);
    }
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "account lookup failed");
    return CELLA_OK_RES;
}

static cella_res account_put(hub_store *s, const uint8_t addr[20], uint64_t balance,
                             uint64_t locked)
{
    CELLA_ENSURE(balance <= INT64_MAX && locked <= INT64_MAX, CELLA_E_POLICY, "account",
                 "balance above 2^63 nRLC");
    dbq q = db_prep(s->db, "INSERT INTO accounts(address, balance, locked) VALUES(?,?,?)"
                        " ON CONFLICT(address) DO UPDATE SET balance = excluded.balance,"
                        " locked = excluded.locked");
    db_bb(&q, 1, addr, 20);
    db_bi(&q, 2, (int64_t)balance);
    db_bi(&q, 3, (int64_t)locked);
    int rc = db_step(&q);
    db_done(&q);
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot update the account");
    return CELLA_OK_RES;
}

cella_res hub_store_account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                                uint64_t *locked)
{
    return hs_account_get(s, addr, balance, locked);
}

static cella_res deposit_once(hub_store *s, const uint8_t addr[20], uint64_t amount,
                            uint64_t *balance)
{
    CELLA_TRY(db_begin(s->db));
    uint64_t b, l;
    cella_res r = hs_account_get(s, addr, &b, &l);
    if (cella_ok(r) && (__builtin_add_overflow(b, amount, &b) || b > INT64_MAX))
        r = cella_fail(CELLA_E_POLICY, "amount", "the balance would exceed 2^63 nRLC");
    if (cella_ok(r))
        r = account_put(s, addr, b, l);
    if (cella_ok(r))
        r = hs_commit(s);
    if (!cella_ok(r))
        hs_rollback(s);
    else
        *balance = b;
    return r;
}

cella_res hub_store_deposit(hub_store *s, const uint8_t addr[20], uint64_t amount,
                            uint64_t *balance)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, deposit_once(s, addr, amount, balance));
    return r;
}

static cella_res withdraw_once(hub_store *s, const uint8_t addr[20], uint64_t amount, bool *done,
                             hub_refusal *why, uint64_t *balance, uint64_t *locked)
{
    *done = false;
    CELLA_ENSURE(amount > 0, CELLA_E_PARSE, "amount", "withdraw a positive amount of nRLC");
    CELLA_TRY(db_begin(s->db));
    uint64_t b, l;
    cella_res r = hs_account_get(s, addr, &b, &l);
    if (cella_ok(r) && amount > b) {
        snprintf(why->code, sizeof why->code, "cella-hub-insufficient-balance");
        snprintf(why->reason, sizeof why->reason,
                 "cannot withdraw %llu nRLC: the unlocked balance is %llu (%llu more are locked "
                 "in deals)",
                 (unsigned long long)amount, (unsigned long long)b, (unsigned long long)l);
    } else if (cella_ok(r)) {
        r = account_put(s, addr, b - amount, l);
        if (cella_ok(r))
            r = hs_commit(s);
        if (cella_ok(r)) {
            *done = true;
            b -= amount;
        }
    }
    if (!*done)
        hs_rollback(s);
    *balance = b;
    *locked = l;
    return r;
}

cella_res hub_store_withdraw(hub_store *s, const uint8_t addr[20], uint64_t amount, bool *done,
                             hub_refusal *why, uint64_t *balance, uint64_t *locked)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, withdraw_once(s, addr, amount, done, why, balance, locked));
    return r;
}

/* Moves `amount` from balance to locked (the caller checked the balance). */
cella_res hs_account_lock(hub_store *s, const uint8_t addr[20], uint64_t amount)
{
    uint64_t b, l;
    CELLA_TRY(hs_account_get(s, addr, &b, &l));
    CELLA_ENSURE(b >= amount, CELLA_E_INTERNAL, "escrow", "balance changed during the match");
    CELLA_ENSURE(!__builtin_add_overflow(l, amount, &l), CELLA_E_POLICY, "escrow",
                 "locked funds overflow");
    return account_put(s, addr, b - amount, l);
}

/* locked -= amount; if `to_balance`, balance += amount (unlock) else seized. */
cella_res hs_account_release(hub_store *s, const uint8_t addr[20], uint64_t amount,
                             bool to_balance)
{
    uint64_t b, l;
    CELLA_TRY(hs_account_get(s, addr, &b, &l));
    CELLA_ENSURE(l >= amount, CELLA_E_INTERNAL, "escrow", "locked funds are missing");
    l -= amount;
    if (to_balance)
        CELLA_ENSURE(!__builtin_add_overflow(b, amount, &b), CELLA_E_POLICY, "escrow",
                     "balance overflow");
    return account_put(s, addr, b, l);
}

cella_res hs_account_credit(hub_store *s, const uint8_t addr[20], uint64_t amount)
{
    uint64_t b, l;
    CELLA_TRY(hs_account_get(s, addr, &b, &l));
    CELLA_ENSURE(!__builtin_add_overflow(b, amount, &b), CELLA_E_POLICY, "escrow",
                 "balance overflow");
    return account_put(s, addr, b, l);
}
