/* Private to lib/hub/store*.c (never included elsewhere): the hub store's
 * handle (over store/db.h: SQLite or PostgreSQL) and the helpers its files
 * share. store.h is the interface. */
#ifndef CELLA_HUB_STORE_INT_H
#define CELLA_HUB_STORE_INT_H

#include "hub/store.h"
#include "store/db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"
#include "identity/eth.h"
#include "hub/consensus.h"
#include "hub/task.h"

#define ORDER_CACHE_MAX 16

/* An event recorded by the current transaction, written when it commits:
 * sequence numbers are taken then, under the counter's row lock, so they
 * become visible in the order they were numbered (events in commit order,
 * whichever replica wrote them). */
typedef struct {
    const char *type; /* a string constant */
    uint8_t taskid[32], dealid[32], pool[20];
    int64_t time;
    char *detail; /* JSON text, or NULL */
} hs_event;

/* per transaction: a deal of the largest bag records one per task and its own */
#define HS_EVENTS_MAX (HUB_MAX_BOT + 16)

struct hub_store {
    cella_db *db;
    uint64_t dev_timeref; /* 0: the categories' */
    hs_event *events;     /* pending, until commit */
    size_t nevents, events_cap;
    /* Orders read by hash, parsed: an order's row never changes once
     * committed, and matches name the same app, dataset and pool orders
     * again and again. Filled round robin. */
    struct {
        bool used;
        uint8_t hash[32];
        cella_order o;
    } orders[ORDER_CACHE_MAX];
    size_t next_order;
};

#define HS_EVENTS_CHANNEL HUB_EVENTS_CHANNEL

/* Writes the pending events, then commits; rolls back on failure. */
cella_res hs_commit(hub_store *s);
/* Rolls back and forgets the pending events. */
void hs_rollback(hub_store *s);
/* " FOR UPDATE" inside a transaction: the row is read to be written. */
static inline bool hs_locking(hub_store *s) { return db_in_txn(s->db); }
/* Before a row that may not exist yet is read FOR UPDATE (an account, an
 * order's consumed volume, a worker's score): ensure_sql inserts it with its
 * zero value, doing nothing if it exists (ON CONFLICT DO NOTHING; ? is the
 * key), so two replicas lock the same row instead of both seeing none. Only
 * in a transaction on PostgreSQL. */
cella_res hs_lock_row(hub_store *s, const char *ensure_sql, const void *key, size_t n);

/* ---- store.c: plumbing, text helpers, listings ---- */
cella_res hs_run(hub_store *s, dbq *q, const char *what);
json_t *hs_addr_json(const uint8_t a[20]);
json_t *hs_hex_json(const uint8_t *p, size_t n);
json_t *hs_u64_json(uint64_t v);
json_t *hs_col_text_json(dbq *q, int i);
/* "0x" and the 64 hex digits of a task's (or deal's) id. */
void hs_id_text(const uint8_t id[32], char out[67]);
void hs_append_or_drop(json_t **arr, json_t *v);
size_t hs_list_limit(size_t limit);

/* ---- store_registry.c ---- */
/* The columns a hub_resource is read from, in the order hs_resource_rows reads them. */
#define HS_RESOURCE_COLS "address, kind, owner, name, multiaddr, checksum, measurement, created"
cella_res hs_resource_get_any(hub_store *s, const uint8_t addr[20], hub_resource *r,
                              bool *found);
/* Steps q, a prepared SELECT HS_RESOURCE_COLS ..., to its end and makes the
 * JSON array of its rows (hub_resource_json); finishes q either way. `failure`:
 * the message when the database fails. */
cella_res hs_resource_rows(hub_store *s, dbq *q, const char *failure, json_t **out);

/* ---- store_events.c ---- */
cella_res hs_event_add_detail(hub_store *s, const char *type, const uint8_t *taskid,
                              const uint8_t *dealid, const uint8_t *pool, json_t *detail,
                              int64_t now);
cella_res hs_event_add(hub_store *s, const char *type, const uint8_t taskid[32],
                       const uint8_t dealid[32], const uint8_t pool[20], int64_t now);

/* ---- store_orders.c: m_consumed ---- */
cella_res hs_consumed_get(hub_store *s, const uint8_t hash[32], uint8_t amount[32]);
cella_res hs_consumed_set(hub_store *s, const uint8_t hash[32], const uint8_t amount[32]);

/* ---- store_accounts.c ---- */
cella_res hs_account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                         uint64_t *locked);
cella_res hs_account_lock(hub_store *s, const uint8_t addr[20], uint64_t amount);
cella_res hs_account_release(hub_store *s, const uint8_t addr[20], uint64_t amount,
                             bool to_balance);
cella_res hs_account_credit(hub_store *s, const uint8_t addr[20], uint64_t amount);

/* ---- store_tasks.c: the task lifecycle ---- */

typedef struct {
    uint8_t dealid[32], workerpool[20];
    char status[16];
    int64_t contribution_deadline, final_deadline;
    char holder[HUB_HOLDER_HEX + 1]; /* "" without a lease */
    int64_t lease_until;
    bool has_error;
    /* consensus: set while REVEALING (and kept once COMPLETED) */
    bool has_consensus;
    uint8_t consensus_value[32];
    int64_t reveal_deadline, reveal_counter, winner_counter;
} task_row;

typedef struct {
    uint8_t app_owner[20], dataset_owner[20], pool_owner[20], sponsor[20], tag[32];
    bool has_dataset;
    uint64_t app_price, dataset_price, pool_price, trust, reward_ratio, worker_stake;
    int64_t time_ref;
} deal_terms;

cella_res hs_task_load(hub_store *s, const uint8_t taskid[32], task_row *t);
cella_res hs_deal_terms_load(hub_store *s, const uint8_t dealid[32], deal_terms *d);
bool hs_task_refuse(hub_refusal *why, const char *code, const char *fmt, ...)
__attribute__((format(printf, 3, 4)));
cella_res hs_end_task_tx(hub_store *s, cella_res r, bool go, bool *done_out);
uint64_t hs_stake_of(uint64_t price);
cella_res hs_begin_pool_task(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             task_row *t);

/* ---- store_consensus.c ---- */

typedef struct {
    hub_contrib c;
    uint8_t seal[32];
    uint64_t stake; /* the worker's stake locked at contribute */
} contrib_row;

cella_res hs_contributions_count(hub_store *s, const uint8_t taskid[32], int64_t *n);
cella_res hs_contributions_load(hub_store *s, const uint8_t taskid[32], contrib_row **out,
                                size_t *n);
cella_res hs_begin_worker_step(hub_store *s, const uint8_t taskid[32], bool reveal,
                               int64_t now, task_row *t, bool *go, hub_refusal *why);

#endif
