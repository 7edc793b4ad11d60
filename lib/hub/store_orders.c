/* The hub's state: the order book and PoCo's m_consumed. See store.h. */
#include "hub/store_int.h"

/* ---- text helpers ---- */

static json_t *u256_json(const uint8_t w[32])
{
    char t[80];
    cella_u256_format(w, t);
    return json_string(t);
}

/* order-published and order-cancelled: {"orderHash", "orderKind"}; the pool
 * is the order's workerpool (a request's may be zero; app and dataset
 * orders have none). */
static cella_res order_event(hub_store *s, const char *type, const uint8_t hash[32], int kind,
                             const uint8_t *pool, int64_t now)
{
    json_t *d = json_pack("{s:o, s:s}", "orderHash", hs_hex_json(hash, 32), "orderKind",
                          cella_order_key((cella_order_kind)kind));
    CELLA_ENSURE(d, CELLA_E_NOMEM, "events", "out of memory");
    return hs_event_add_detail(s, type, NULL, NULL, pool, d, now);
}

/* ---- consumed (m_consumed) ---- */

cella_res hs_consumed_get(hub_store *s, const uint8_t hash[32], uint8_t amount[32])
{
    CELLA_TRY(hs_lock_row(s, "INSERT INTO consumed(hash, amount) VALUES(?,"
                             " decode(repeat('00', 32), 'hex')) ON CONFLICT DO NOTHING",
                          hash, 32));
    dbq q = db_prep(s->db, hs_locking(s) ? "SELECT amount FROM consumed WHERE hash = ? FOR UPDATE"
                                         : "SELECT amount FROM consumed WHERE hash = ?");
    db_bb(&q, 1, hash, 32);
    int rc = db_step(&q);
    if (rc == DB_ROW)
        db_col_bytes(&q, 0, amount, 32);
    else
        memset(amount, 0, 32);
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "consumed lookup failed");
    return CELLA_OK_RES;
}

cella_res hs_consumed_set(hub_store *s, const uint8_t hash[32], const uint8_t amount[32])
{
    dbq q = db_prep(s->db, "INSERT INTO consumed(hash, amount) VALUES(?, ?)"
                        " ON CONFLICT(hash) DO UPDATE SET amount = excluded.amount");
    db_bb(&q, 1, hash, 32);
    db_bb(&q, 2, amount, 32);
    int rc = db_step(&q);
    db_done(&q);
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot update consumed volume");
    return CELLA_OK_RES;
}

cella_res hub_store_consumed(hub_store *s, const uint8_t hash[32], uint8_t amount[32])
{
    return hs_consumed_get(s, hash, amount);
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

static cella_res order_publish_once(hub_store *s, const cella_domain *d, const cella_order *o,
                                  int64_t now, uint8_t hash[32], bool *created)
{
    *created = false;
    cella_order_hash(d, o, hash);
    json_t *oj = cella_order_to_json(o);
    char *text = oj ? json_dumps(oj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(oj);
    CELLA_ENSURE(text, CELLA_E_NOMEM, "order", "out of memory");
    uint8_t signer[20];
    cella_res r = db_begin(s->db);
    if (!cella_ok(r)) {
        free(text);
        return r;
    }
    r = publish_checks(s, d, o, signer);
    bool exists = false;
    if (cella_ok(r)) {
        dbq q = db_prep(s->db, "SELECT 1 FROM orders WHERE hash = ?");
        db_bb(&q, 1, hash, 32);
        int rc = db_step(&q);
        exists = rc == DB_ROW;
        db_done(&q);
        if (rc != DB_ROW && rc != DB_DONE)
            r = db_failure(s->db, "order lookup failed");
    }
    uint8_t vol[32], used[32], rem[32];
    if (cella_ok(r) && !exists) {
        hub_order_field(o, "volume", vol);
        r = hs_consumed_get(s, hash, used);
        if (cella_ok(r) && (!hub_u256_sub(rem, vol, used) || hub_u256_is_zero(rem)))
            r = cella_fail(CELLA_E_POLICY, cella_order_key(o->kind),
                           "the order has no volume left (fully consumed or cancelled)");
    }
    if (cella_ok(r) && !exists) {
        uint8_t tag[32], price[32], w[32];
        hub_order_field(o, "tag", tag);
        hub_order_field(o, g_price_field[o->kind], price);
        dbq q = db_prep(s->db, "INSERT INTO orders(hash, kind, signer, app, dataset, workerpool,"
                            " requester, category, tag, price, volume, json, published, sign)"
                            " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        db_bb(&q, 1, hash, 32);
        db_bi(&q, 2, o->kind);
        db_bb(&q, 3, signer, 20);
        const char *cols[4] = {"app", "dataset", "workerpool", "requester"};
        for (int i = 0; i < 4; i++) {
            bool has = cella_ok(cella_order_word(o, cols[i], w));
            cella_error_clear();
            db_bbn(&q, 4 + i, has ? w + 12 : NULL, 20);
        }
        uint64_t cat = 0;
        bool has_cat = cella_ok(cella_order_word(o, "category", w));
        cella_error_clear();
        if (has_cat && hub_u256_to_u64(w, &cat) && cat <= INT64_MAX)
            db_bi(&q, 8, (int64_t)cat);
        else
            db_bi(&q, 8, -1);
        db_bb(&q, 9, tag, 32);
        db_bb(&q, 10, price, 32);
        db_bb(&q, 11, vol, 32);
        db_bt(&q, 12, text);
        db_bi(&q, 13, now);
        db_bb(&q, 14, o->sign, 65);
        int rc = db_step(&q);
        db_done(&q);
        if (rc != DB_DONE)
            r = db_failure(s->db, "cannot store the order");
        *created = true;
        bool has_pool = o->kind == CELLA_ORDER_WORKERPOOL || o->kind == CELLA_ORDER_REQUEST;
        if (cella_ok(r) && has_pool)
            hub_order_field(o, "workerpool", w);
        if (cella_ok(r))
            r = order_event(s, "order-published", hash, o->kind, has_pool ? w + 12 : NULL, now);
    }
    if (cella_ok(r))
        r = hs_commit(s);
    if (!cella_ok(r))
        hs_rollback(s);
    free(text);
    return r;
}

cella_res hub_store_order_publish(hub_store *s, const cella_domain *d, const cella_order *o,
                                  int64_t now, uint8_t hash[32], bool *created)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, order_publish_once(s, d, o, now, hash, created));
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
static json_t *entry_json(hub_store *s, dbq *q, uint8_t rem_out[32], bool *ok)
{
    /* columns: hash, kind, signer, volume, json, published */
    uint8_t hash[32], signer[20], vol[32], used[32], rem[32];
    db_col_bytes(q, 0, hash, 32);
    int kind = (int)db_col_int(q, 1);
    db_col_bytes(q, 2, signer, 20);
    db_col_bytes(q, 3, vol, 32);
    *ok = cella_ok(hs_consumed_get(s, hash, used));
    if (!hub_u256_sub(rem, vol, used))
        memset(rem, 0, 32);
    if (rem_out)
        memcpy(rem_out, rem, 32);
    json_error_t je;
    json_t *order = json_loads(db_col_text(q, 4), 0, &je);
    if ((unsigned)kind >= CELLA_ORDER__COUNT)
        kind = 0;
    return json_pack("{s:o, s:s, s:o*, s:o, s:o, s:o, s:I}", "orderHash", hs_hex_json(hash, 32),
                     "kind", cella_order_key((cella_order_kind)kind), "order", order, "signer",
                     hs_addr_json(signer), "remaining", u256_json(rem), "consumed", u256_json(used),
                     "publicationTimestamp", (json_int_t)db_col_int(q, 5));
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
    bool cacheable = o && !entry && !db_in_txn(s->db);
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
    dbq q = db_prep(s->db, "SELECT hash, kind, signer, volume, json, published FROM orders"
                        " WHERE hash = ?");
    db_bb(&q, 1, hash, 32);
    int rc = db_step(&q);
    cella_res r = CELLA_OK_RES;
    char ht[67];
    ht[0] = '0';
    ht[1] = 'x';
    cella_hex_encode(ht + 2, hash, 32, false);
    if (rc == DB_DONE)
        r = cella_fail(CELLA_E_NOTFOUND, ht, "no such order on this hub");
    else if (rc != DB_ROW)
        r = db_failure(s->db, "order lookup failed");
    if (cella_ok(r) && o)
        r = order_from_text(db_col_text(&q, 4), (int)db_col_int(&q, 1),
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
    db_done(&q);
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
    dbq q = db_prep(s->db, "SELECT hash, kind, signer, volume, json, published, tag, price, id"
                        " FROM orders WHERE (?1 < 0 OR kind = ?1) AND (?2 IS NULL OR app = ?2)"
                        " AND (?3 IS NULL OR dataset = ?3) AND (?4 IS NULL OR workerpool = ?4)"
                        " AND (?5 IS NULL OR requester = ?5) AND (?6 < 0 OR category = ?6)"
                        " AND (?7 IS NULL OR signer = ?7) ORDER BY id");
    db_bi(&q, 1, f->kind);
    db_bbn(&q, 2, f->app, 20);
    db_bbn(&q, 3, f->dataset, 20);
    db_bbn(&q, 4, f->workerpool, 20);
    db_bbn(&q, 5, f->requester, 20);
    db_bi(&q, 6, f->has_category && f->category <= INT64_MAX ? (int64_t)f->category : -1);
    db_bbn(&q, 7, f->signer, 20);
    size_t n = 0, cap = 0;
    book_item *items = NULL;
    cella_res r = CELLA_OK_RES;
    int rc;
    while ((rc = db_step(&q)) == DB_ROW) {
        uint8_t tag[32], price[32], rem[32];
        db_col_bytes(&q, 6, tag, 32);
        db_col_bytes(&q, 7, price, 32);
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
            r = cella_fail(CELLA_E_IO, cella_db_where(s->db), "cannot read the order book");
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
        items[n].id = db_col_int(&q, 8);
        n++;
    }
    if (cella_ok(r) && rc != DB_DONE)
        r = db_failure(s->db, "order book query failed");
    db_done(&q);
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

static cella_res order_cancel_once(hub_store *s, const uint8_t hash[32], const uint8_t who[20],
                                 int64_t now)
{
    CELLA_TRY(db_begin(s->db));
    dbq q = db_prep(s->db, "SELECT signer, volume, kind, workerpool FROM orders WHERE hash = ?");
    db_bb(&q, 1, hash, 32);
    int rc = db_step(&q);
    uint8_t signer[20], vol[32], pool[20] = {0};
    int kind = 0;
    bool has_pool = false;
    if (rc == DB_ROW) {
        db_col_bytes(&q, 0, signer, 20);
        db_col_bytes(&q, 1, vol, 32);
        kind = (int)db_col_int(&q, 2);
        has_pool = !db_col_null(&q, 3);
        if (has_pool)
            db_col_bytes(&q, 3, pool, 20);
    }
    db_done(&q);
    char ht[67];
    ht[0] = '0';
    ht[1] = 'x';
    cella_hex_encode(ht + 2, hash, 32, false);
    cella_res r = CELLA_OK_RES;
    if (rc == DB_DONE)
        r = cella_fail(CELLA_E_NOTFOUND, ht, "no such order on this hub");
    else if (rc != DB_ROW)
        r = db_failure(s->db, "order lookup failed");
    else if (memcmp(signer, who, 20) != 0)
        r = cella_fail(CELLA_E_PERM, ht, "only the order's signer may cancel it");
    if (cella_ok(r))
        r = hs_consumed_set(s, hash, vol);
    if (cella_ok(r))
        r = order_event(s, "order-cancelled", hash, kind, has_pool ? pool : NULL, now);
    if (cella_ok(r))
        r = hs_commit(s);
    if (!cella_ok(r))
        hs_rollback(s);
    return r;
}

cella_res hub_store_order_cancel(hub_store *s, const uint8_t hash[32], const uint8_t who[20],
                                 int64_t now)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, order_cancel_once(s, hash, who, now));
    return r;
}
