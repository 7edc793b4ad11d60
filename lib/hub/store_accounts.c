/* The hub's state in SQLite: nRLC accounts and their escrow. See store.h. */
#include "hub/store_int.h"

/* ---- accounts ---- */

cella_res hs_account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                         uint64_t *locked)
{
    stmt q = hs_sprep(s, "SELECT balance, locked FROM accounts WHERE address = ?");
    bb(&q, 1, addr, 20);
    int rc = step(&q);
    *balance = *locked = 0;
    if (rc == SQLITE_ROW) {
        *balance = (uint64_t)sqlite3_column_int64(q.st, 0);
        *locked = (uint64_t)sqlite3_column_int64(q.st, 1);
    }
    hs_sdone(s, &q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hs_db_fail(s, "account lookup failed");
    return CELLA_OK_RES;
}

static cella_res account_put(hub_store *s, const uint8_t addr[20], uint64_t balance,
                             uint64_t locked)
{
    CELLA_ENSURE(balance <= INT64_MAX && locked <= INT64_MAX, CELLA_E_POLICY, "account",
                 "balance above 2^63 nRLC");
    stmt q = hs_sprep(s, "INSERT INTO accounts(address, balance, locked) VALUES(?,?,?)"
                        " ON CONFLICT(address) DO UPDATE SET balance = excluded.balance,"
                        " locked = excluded.locked");
    bb(&q, 1, addr, 20);
    bi(&q, 2, (int64_t)balance);
    bi(&q, 3, (int64_t)locked);
    int rc = step(&q);
    hs_sdone(s, &q);
    if (rc != SQLITE_DONE)
        return hs_db_fail(s, "cannot update the account");
    return CELLA_OK_RES;
}

cella_res hub_store_account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                                uint64_t *locked)
{
    return hs_account_get(s, addr, balance, locked);
}

cella_res hub_store_deposit(hub_store *s, const uint8_t addr[20], uint64_t amount,
                            uint64_t *balance)
{
    CELLA_TRY(hs_begin(s));
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

cella_res hub_store_withdraw(hub_store *s, const uint8_t addr[20], uint64_t amount, bool *done,
                             hub_refusal *why, uint64_t *balance, uint64_t *locked)
{
    *done = false;
    CELLA_ENSURE(amount > 0, CELLA_E_PARSE, "amount", "withdraw a positive amount of nRLC");
    CELLA_TRY(hs_begin(s));
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
