#include "store/nonce_book.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/secure.h"

/* Open addressing with linear probing over a power-of-two table; deleted
 * slots are tombstones until the next sweep rebuilds the table. */
typedef struct {
    uint8_t nonce[32];
    int64_t expires;
    const char *purpose; /* a static string */
    uint8_t state;       /* 0 empty, 1 live, 2 tombstone */
} slot;

struct cella_nonce_book {
    pthread_mutex_t lock;
    slot *t;
    size_t cap;  /* slots, power of two */
    size_t live;
    size_t used; /* live + tombstones */
    size_t limit;
};

cella_res cella_nonce_book_new(size_t capacity, cella_nonce_book **out)
{
    cella_nonce_book *b = calloc(1, sizeof *b);
    CELLA_ENSURE(b, CELLA_E_NOMEM, NULL, "out of memory");
    b->limit = capacity;
    b->cap = 16;
    while (b->cap < capacity * 2)
        b->cap *= 2;
    b->t = calloc(b->cap, sizeof *b->t);
    if (!b->t) {
        free(b);
        return cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    }
    pthread_mutex_init(&b->lock, NULL);
    *out = b;
    return CELLA_OK_RES;
}

void cella_nonce_book_free(cella_nonce_book *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->t);
    free(b);
}

static size_t home(const cella_nonce_book *b, const uint8_t n[32])
{
    uint64_t h;
    memcpy(&h, n, sizeof h); /* nonces are uniformly random */
    return (size_t)h & (b->cap - 1);
}

static slot *find(cella_nonce_book *b, const uint8_t n[32])
{
    for (size_t i = home(b, n), k = 0; k < b->cap; i = (i + 1) & (b->cap - 1), k++) {
        slot *s = &b->t[i];
        if (s->state == 0)
            return NULL;
        if (s->state == 1 && cella_ct_eq(s->nonce, n, 32))
            return s;
    }
    return NULL;
}

static void insert(cella_nonce_book *b, const slot *in)
{
    for (size_t i = home(b, in->nonce);; i = (i + 1) & (b->cap - 1)) {
        if (b->t[i].state != 1) {
            if (b->t[i].state == 0)
                b->used++;
            b->t[i] = *in;
            b->t[i].state = 1;
            b->live++;
            return;
        }
    }
}

/* Rebuilds the table without expired entries and tombstones. */
static void sweep(cella_nonce_book *b, int64_t now)
{
    slot *old = b->t;
    slot *fresh = calloc(b->cap, sizeof *fresh);
    if (!fresh)
        return;
    b->t = fresh;
    b->live = b->used = 0;
    for (size_t i = 0; i < b->cap; i++)
        if (old[i].state == 1 && old[i].expires >= now)
            insert(b, &old[i]);
    free(old);
}

cella_res cella_nonce_issue(cella_nonce_book *b, const char *purpose, int64_t now, int64_t expires,
                            uint8_t nonce[32])
{
    slot s = {.expires = expires, .purpose = purpose};
    CELLA_TRY(cella_random(s.nonce, 32));
    pthread_mutex_lock(&b->lock);
    if (b->live >= b->limit || b->used >= b->cap / 2)
        sweep(b, now);
    cella_res r = CELLA_OK_RES;
    if (b->live >= b->limit)
        r = cella_fail(CELLA_E_TOOBIG, "nonce", "too many outstanding nonces; try again later");
    else
        insert(b, &s);
    pthread_mutex_unlock(&b->lock);
    if (cella_ok(r))
        memcpy(nonce, s.nonce, 32);
    return r;
}

cella_res cella_nonce_consume(cella_nonce_book *b, const uint8_t nonce[32], const char *purpose,
                              int64_t now)
{
    pthread_mutex_lock(&b->lock);
    slot *s = find(b, nonce);
    slot copy = s ? *s : (slot){0};
    if (s) {
        s->state = 2;
        b->live--;
    }
    pthread_mutex_unlock(&b->lock);
    CELLA_ENSURE(s, CELLA_E_AUTH, "nonce", "unknown or already used nonce (replay?)");
    CELLA_ENSURE(copy.expires >= now, CELLA_E_AUTH, "nonce", "nonce expired");
    CELLA_ENSURE(!strcmp(copy.purpose, purpose), CELLA_E_AUTH, "nonce",
                 "nonce was issued for another purpose");
    return CELLA_OK_RES;
}

/* ---- in the database ---- */

#define SWEEP_EVERY 256 /* issues between two sweeps of expired nonces, per process */

cella_res cella_nonce_issue_db(cella_db *db, const char *purpose, int64_t now, int64_t expires,
                               uint8_t nonce[32])
{
    static unsigned issued;
    if (__atomic_add_fetch(&issued, 1, __ATOMIC_RELAXED) % SWEEP_EVERY == 0) {
        dbq d = db_prep(db, "DELETE FROM nonces WHERE expires < ?");
        db_bi(&d, 1, now);
        int rc = db_write_step(&d);
        db_done(&d);
        if (rc != DB_DONE)
            return db_failure(db, "cannot sweep expired nonces");
    }
    CELLA_TRY(cella_random(nonce, 32));
    dbq q = db_prep(db, "INSERT INTO nonces(nonce, purpose, expires) VALUES(?, ?, ?)");
    db_bb(&q, 1, nonce, 32);
    db_bt(&q, 2, purpose);
    db_bi(&q, 3, expires);
    int rc = db_write_step(&q);
    db_done(&q);
    return rc == DB_DONE ? CELLA_OK_RES : db_failure(db, "cannot record a nonce");
}

cella_res cella_nonce_consume_db(cella_db *db, const uint8_t nonce[32], const char *purpose,
                                 int64_t now)
{
    /* One statement: of two replicas handed the same nonce, one gets the row. */
    dbq q = db_prep(db, "DELETE FROM nonces WHERE nonce = ? RETURNING purpose, expires");
    db_bb(&q, 1, nonce, 32);
    int rc = db_write_step(&q);
    bool same_purpose = rc == DB_ROW && db_col_text(&q, 0) && !strcmp(db_col_text(&q, 0), purpose);
    int64_t expires = rc == DB_ROW ? db_col_int(&q, 1) : 0;
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(db, "cannot consume a nonce");
    CELLA_ENSURE(rc == DB_ROW, CELLA_E_AUTH, "nonce", "unknown or already used nonce");
    CELLA_ENSURE(same_purpose, CELLA_E_AUTH, "nonce", "nonce issued for another purpose");
    CELLA_ENSURE(expires >= now, CELLA_E_AUTH, "nonce", "nonce expired");
    return CELLA_OK_RES;
}

cella_res cella_nonce_issue_in(cella_nonce_book *b, cella_db *db, const char *purpose,
                               int64_t now, int64_t expires, uint8_t nonce[32])
{
    if (cella_db_kind_of(db) == CELLA_DB_POSTGRES)
        return cella_nonce_issue_db(db, purpose, now, expires, nonce);
    return cella_nonce_issue(b, purpose, now, expires, nonce);
}

cella_res cella_nonce_consume_in(cella_nonce_book *b, cella_db *db, const uint8_t nonce[32],
                                 const char *purpose, int64_t now)
{
    if (cella_db_kind_of(db) == CELLA_DB_POSTGRES)
        return cella_nonce_consume_db(db, nonce, purpose, now);
    return cella_nonce_consume(b, nonce, purpose, now);
}
