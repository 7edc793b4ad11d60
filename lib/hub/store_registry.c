/* The hub's state: the registries (apps, datasets, workerpools). See store.h. */
#include "hub/store_int.h"

/* ---- registries ---- */

/* A row of HS_RESOURCE_COLS, from column 0. */
static void resource_row(dbq *q, hub_resource *r)
{
    memset(r, 0, sizeof *r);
    db_col_bytes(q, 0, r->address, 20);
    r->kind = (hub_kind)(int)db_col_int(q, 1);
    db_col_bytes(q, 2, r->owner, 20);
    snprintf(r->name, sizeof r->name, "%s", db_col_text(q, 3));
    snprintf(r->multiaddr, sizeof r->multiaddr, "%s", db_col_text(q, 4));
    db_col_bytes(q, 5, r->checksum, 32);
    snprintf(r->measurement, sizeof r->measurement, "%s", db_col_text(q, 6));
    r->created = db_col_int(q, 7);
}

cella_res hs_resource_get_any(hub_store *s, const uint8_t addr[20], hub_resource *r,
                              bool *found)
{
    dbq q = db_prep(s->db, "SELECT " HS_RESOURCE_COLS " FROM resources WHERE address = ?");
    db_bb(&q, 1, addr, 20);
    int rc = db_step(&q);
    *found = rc == DB_ROW;
    if (rc == DB_ROW)
        resource_row(&q, r);
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "resource lookup failed");
    return CELLA_OK_RES;
}

cella_res hs_resource_rows(hub_store *s, dbq *q, const char *failure, json_t **out)
{
    json_t *arr = json_array();
    int rc = DB_DONE;
    *out = NULL;
    while (arr && (rc = db_step(q)) == DB_ROW) {
        hub_resource res;
        resource_row(q, &res);
        hs_append_or_drop(&arr, hub_resource_json(&res));
    }
    db_done(q);
    cella_res r = CELLA_OK_RES;
    if (!arr)
        r = cella_fail(CELLA_E_NOMEM, "resources", "out of memory");
    else if (rc != DB_DONE)
        r = db_failure(s->db, failure);
    if (!cella_ok(r))
        json_decref(arr);
    else
        *out = arr;
    return r;
}

static cella_res resource_insert(hub_store *s, const hub_resource *r, int64_t now)
{
    dbq q = db_prep(s->db, "INSERT INTO resources(address, kind, owner, name, multiaddr, checksum,"
                        " measurement, created) VALUES(?,?,?,?,?,?,?,?)");
    db_bb(&q, 1, r->address, 20);
    db_bi(&q, 2, r->kind);
    db_bb(&q, 3, r->owner, 20);
    db_bt(&q, 4, r->name);
    db_bt(&q, 5, r->multiaddr);
    db_bb(&q, 6, r->checksum, 32);
    db_bt(&q, 7, r->measurement);
    db_bi(&q, 8, now);
    int rc = db_step(&q);
    db_done(&q);
    CELLA_ENSURE(rc == DB_DONE, CELLA_E_IO, cella_db_where(s->db), "cannot register the resource: %s",
                 db_errmsg(s->db));
    return CELLA_OK_RES;
}

static cella_res check_resource(const hub_resource *r)
{
    CELLA_ENSURE((unsigned)r->kind < HUB_KIND__COUNT, CELLA_E_USAGE, "kind", "unknown kind");
    CELLA_ENSURE(strlen(r->name) > 0, CELLA_E_USAGE, "name", "a resource needs a name");
    return CELLA_OK_RES;
}

/* Registers at r->address unless present; same kind and owner: *created = false. */
static cella_res register_tx_once(hub_store *s, hub_resource *r, int64_t now, bool *created)
{
    CELLA_TRY(check_resource(r));
    CELLA_TRY(db_begin(s->db));
    hub_resource cur;
    bool found = false;
    cella_res res = hs_resource_get_any(s, r->address, &cur, &found);
    char at[43];
    cella_eth_address_checksum(at, r->address);
    if (cella_ok(res) && found) {
        if (cur.kind != r->kind || memcmp(cur.owner, r->owner, 20) != 0)
            res = cella_fail(CELLA_E_EXISTS, at, "the address is taken by another %s or owner",
                             hub_kind_name(cur.kind));
        else
            *r = cur;
        *created = false;
    } else if (cella_ok(res)) {
        res = resource_insert(s, r, now);
        r->created = now;
        *created = true;
    }
    if (cella_ok(res))
        res = hs_commit(s);
    if (!cella_ok(res))
        hs_rollback(s);
    return res;
}

static cella_res register_tx(hub_store *s, hub_resource *r, int64_t now, bool *created)
{
    cella_res res;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, res, register_tx_once(s, r, now, created));
    return res;
}

cella_res hub_store_deploy(hub_store *s, hub_resource *r, int64_t now, bool *created)
{
    hub_resource_address(r, r->address);
    return register_tx(s, r, now, created);
}

cella_res hub_store_register_at(hub_store *s, const hub_resource *r, int64_t now)
{
    hub_resource copy = *r;
    bool created;
    return register_tx(s, &copy, now, &created);
}

static cella_res transfer_once(hub_store *s, hub_kind k, const uint8_t addr[20],
                             const uint8_t from[20], const uint8_t to[20], int64_t now)
{
    static const uint8_t zero[20] = {0};
    char at[43], owner[43], who[43];
    cella_eth_address_checksum(at, addr);
    CELLA_ENSURE(memcmp(to, zero, 20) != 0, CELLA_E_PARSE, "to", "cannot transfer to address zero");
    CELLA_TRY(db_begin(s->db));
    hub_resource cur;
    bool found = false;
    cella_res r = hs_resource_get_any(s, addr, &cur, &found);
    if (cella_ok(r) && (!found || cur.kind != k))
        r = cella_fail(CELLA_E_NOTFOUND, at, "no such %s on this hub", hub_kind_name(k));
    if (cella_ok(r) && memcmp(cur.owner, from, 20) != 0) {
        cella_eth_address_checksum(owner, cur.owner);
        cella_eth_address_checksum(who, from);
        r = cella_fail(CELLA_E_PERM, at, "%s belongs to %s, not to %s: only its owner may transfer it",
                       at, owner, who);
    }
    if (cella_ok(r) && memcmp(to, from, 20) == 0)
        r = cella_fail(CELLA_E_PARSE, "to", "%s is yours already", at);
    if (cella_ok(r)) {
        /* only from the owner just read: of two transfers racing on two
         * replicas, the second finds another owner and is refused */
        dbq q = db_prep(s->db, "UPDATE resources SET owner = ? WHERE address = ? AND owner = ?"
                               " RETURNING 1");
        db_bb(&q, 1, to, 20);
        db_bb(&q, 2, addr, 20);
        db_bb(&q, 3, from, 20);
        int rc = db_step(&q);
        db_done(&q);
        if (rc == DB_DONE)
            r = cella_fail(CELLA_E_PERM, at, "%s changed owner meanwhile: only its owner may "
                                             "transfer it", at);
        else if (rc != DB_ROW)
            r = db_failure(s->db, "cannot transfer the resource");
    }
    if (cella_ok(r)) {
        cella_eth_address_checksum(owner, from);
        cella_eth_address_checksum(who, to);
        json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "address", at, "kind", hub_kind_name(k),
                              "from", owner, "to", who);
        r = hs_event_add_detail(s, "resource-transferred", NULL, NULL, NULL, d, now);
    }
    if (cella_ok(r))
        r = hs_commit(s);
    if (!cella_ok(r))
        hs_rollback(s);
    return r;
}

cella_res hub_store_transfer(hub_store *s, hub_kind k, const uint8_t addr[20],
                             const uint8_t from[20], const uint8_t to[20], int64_t now)
{
    cella_res r;
    /* run again from the start when it collided with another replica's
     * transaction (store/db.h) */
    CELLA_DB_RETRY(s->db, r, transfer_once(s, k, addr, from, to, now));
    return r;
}

cella_res hub_store_resource_get(hub_store *s, hub_kind k, const uint8_t addr[20],
                                 hub_resource *r)
{
    bool found;
    CELLA_TRY(hs_resource_get_any(s, addr, r, &found));
    char at[43];
    cella_eth_address_checksum(at, addr);
    CELLA_ENSURE(found && r->kind == k, CELLA_E_NOTFOUND, at, "no such %s on this hub",
                 hub_kind_name(k));
    return CELLA_OK_RES;
}

cella_res hub_store_resource_count(hub_store *s, hub_kind k, const uint8_t *owner, uint64_t *n)
{
    dbq q = db_prep(s->db, owner ? "SELECT count(*) FROM resources WHERE kind = ? AND owner = ?"
                              : "SELECT count(*) FROM resources WHERE kind = ?");
    db_bi(&q, 1, k);
    if (owner)
        db_bb(&q, 2, owner, 20);
    int rc = db_step(&q);
    if (rc == DB_ROW)
        *n = (uint64_t)db_col_int(&q, 0);
    db_done(&q);
    CELLA_ENSURE(rc == DB_ROW, CELLA_E_IO, cella_db_where(s->db), "count failed: %s", db_errmsg(s->db));
    return CELLA_OK_RES;
}

json_t *hub_resource_json(const hub_resource *r)
{
    json_t *j = json_pack("{s:o, s:s, s:o, s:s, s:s, s:o, s:I}", "address",
                          hs_addr_json(r->address), "kind", hub_kind_name(r->kind), "owner",
                          hs_addr_json(r->owner), "name", r->name, "multiaddr", r->multiaddr,
                          "checksum", hs_hex_json(r->checksum, 32), "created",
                          (json_int_t)r->created);
    if (j && r->kind == HUB_APP)
        json_object_set_new(j, "measurement", json_string(r->measurement));
    return j;
}

cella_res hub_store_resource_list(hub_store *s, hub_kind k, const uint8_t *owner, size_t offset,
                                  size_t limit, json_t **out, uint64_t *total)
{
    *out = NULL;
    CELLA_TRY(hub_store_resource_count(s, k, owner, total));
    dbq q = db_prep(s->db, owner ? "SELECT " HS_RESOURCE_COLS " FROM resources"
                                    " WHERE kind = ?1 AND owner = ?2"
                                    " ORDER BY created, address LIMIT ?3 OFFSET ?4"
                                  : "SELECT " HS_RESOURCE_COLS " FROM resources WHERE kind = ?1"
                                    " ORDER BY created, address LIMIT ?3 OFFSET ?4");
    db_bi(&q, 1, k);
    if (owner)
        db_bb(&q, 2, owner, 20);
    db_bi(&q, 3, (int64_t)hs_list_limit(limit));
    db_bi(&q, 4, (int64_t)offset);
    return hs_resource_rows(s, &q, "cannot list the resources", out);
}
