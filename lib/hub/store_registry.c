/* The hub's state in SQLite: the registries (apps, datasets, workerpools). See store.h. */
#include "hub/store_int.h"

/* ---- registries ---- */

cella_res hs_resource_get_any(hub_store *s, const uint8_t addr[20], hub_resource *r,
                              bool *found)
{
    stmt q = hs_sprep(s, "SELECT kind, owner, name, multiaddr, checksum, measurement, created"
                        " FROM resources WHERE address = ?");
    bb(&q, 1, addr, 20);
    int rc = step(&q);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        memset(r, 0, sizeof *r);
        r->kind = (hub_kind)sqlite3_column_int(q.st, 0);
        memcpy(r->address, addr, 20);
        col_blob(&q, 1, r->owner, 20);
        snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(q.st, 2));
        snprintf(r->multiaddr, sizeof r->multiaddr, "%s",
                 (const char *)sqlite3_column_text(q.st, 3));
        col_blob(&q, 4, r->checksum, 32);
        snprintf(r->measurement, sizeof r->measurement, "%s",
                 (const char *)sqlite3_column_text(q.st, 5));
        r->created = sqlite3_column_int64(q.st, 6);
    }
    hs_sdone(s, &q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hs_db_fail(s, "resource lookup failed");
    return CELLA_OK_RES;
}

static cella_res resource_insert(hub_store *s, const hub_resource *r, int64_t now)
{
    stmt q = hs_sprep(s, "INSERT INTO resources(address, kind, owner, name, multiaddr, checksum,"
                        " measurement, created) VALUES(?,?,?,?,?,?,?,?)");
    bb(&q, 1, r->address, 20);
    bi(&q, 2, r->kind);
    bb(&q, 3, r->owner, 20);
    bt(&q, 4, r->name);
    bt(&q, 5, r->multiaddr);
    bb(&q, 6, r->checksum, 32);
    bt(&q, 7, r->measurement);
    bi(&q, 8, now);
    int rc = step(&q);
    hs_sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot register the resource: %s",
                 sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

static cella_res check_resource(const hub_resource *r)
{
    CELLA_ENSURE((unsigned)r->kind < HUB_KIND__COUNT, CELLA_E_USAGE, "kind", "unknown kind");
    CELLA_ENSURE(strlen(r->name) > 0, CELLA_E_USAGE, "name", "a resource needs a name");
    return CELLA_OK_RES;
}

/* Registers at r->address unless present; same kind and owner: *created = false. */
static cella_res register_tx(hub_store *s, hub_resource *r, int64_t now, bool *created)
{
    CELLA_TRY(check_resource(r));
    CELLA_TRY(hs_begin(s));
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

cella_res hub_store_transfer(hub_store *s, hub_kind k, const uint8_t addr[20],
                             const uint8_t from[20], const uint8_t to[20], int64_t now)
{
    static const uint8_t zero[20] = {0};
    char at[43], owner[43], who[43];
    cella_eth_address_checksum(at, addr);
    CELLA_ENSURE(memcmp(to, zero, 20) != 0, CELLA_E_PARSE, "to", "cannot transfer to address zero");
    CELLA_TRY(hs_begin(s));
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
        stmt q = hs_sprep(s, "UPDATE resources SET owner = ? WHERE address = ?");
        bb(&q, 1, to, 20);
        bb(&q, 2, addr, 20);
        r = hs_run(s, &q, "cannot transfer the resource");
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
    stmt q = hs_sprep(s, owner ? "SELECT count(*) FROM resources WHERE kind = ? AND owner = ?"
                              : "SELECT count(*) FROM resources WHERE kind = ?");
    bi(&q, 1, k);
    if (owner)
        bb(&q, 2, owner, 20);
    int rc = step(&q);
    if (rc == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(q.st, 0);
    hs_sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_ROW, CELLA_E_IO, s->path, "count failed: %s", sqlite3_errmsg(s->db));
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
    stmt q = hs_sprep(s, owner ? "SELECT address FROM resources WHERE kind = ?1 AND owner = ?2"
                                    " ORDER BY created, address LIMIT ?3 OFFSET ?4"
                                  : "SELECT address FROM resources WHERE kind = ?1"
                                    " ORDER BY created, address LIMIT ?3 OFFSET ?4");
    bi(&q, 1, k);
    if (owner)
        bb(&q, 2, owner, 20);
    bi(&q, 3, (int64_t)hs_list_limit(limit));
    bi(&q, 4, (int64_t)offset);
    json_t *arr = json_array();
    cella_res r = CELLA_OK_RES;
    int rc = SQLITE_DONE;
    while (arr && cella_ok(r) && (rc = step(&q)) == SQLITE_ROW) {
        uint8_t addr[20];
        hub_resource res;
        bool found = false;
        col_blob(&q, 0, addr, 20);
        r = hs_resource_get_any(s, addr, &res, &found);
        if (cella_ok(r) && found)
            hs_append_or_drop(&arr, hub_resource_json(&res));
    }
    hs_sdone(s, &q);
    if (cella_ok(r) && !arr)
        r = cella_fail(CELLA_E_NOMEM, "resources", "out of memory");
    if (cella_ok(r) && rc != SQLITE_DONE)
        r = hs_db_fail(s, "cannot list the resources");
    if (!cella_ok(r))
        json_decref(arr);
    else
        *out = arr;
    return r;
}
