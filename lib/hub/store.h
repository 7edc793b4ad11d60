/* The hub's persistent state behind a narrow interface: registries (apps,
 * datasets, workerpools), the order book and PoCo's m_consumed, deals, tasks
 * and nRLC accounts. Every call that changes state is one transaction, and
 * commits are fsynced (WAL, synchronous=FULL) before the call returns, so an
 * acknowledged change survives kill -9 and nothing is half applied. Over
 * store/db.h (SQLite, or PostgreSQL shared by replicas: rows read to be
 * written are locked, transactions that collide are run again, events are
 * numbered at commit). One handle per thread. */
#ifndef CELLA_HUB_STORE_H
#define CELLA_HUB_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "hub/match.h"
#include "hub/resource.h"
#include "hub/task.h"
#include "identity/eip712.h"

#define HUB_LIST_MAX 1000       /* orders returned by one book query */

typedef struct hub_store hub_store;

/* url: a SQLite path (or sqlite:PATH) or a postgres:// URL (store/db.h):
 * hubs on one PostgreSQL database are replicas of one marketplace. */
CELLA_RESULT hub_store_open(const char *url, hub_store **out);
void hub_store_close(hub_store *s);
/* The database's clock: leases and deadlines are decided by it, so replicas
 * on hosts whose clocks differ agree (SQLite: this host's). */
CELLA_RESULT hub_store_now(hub_store *s, int64_t *now);
/* The connection, for the challenges replicas share (store/challenges.h). */
struct cella_db *hub_store_db(hub_store *s);
/* The channel on which a commit with events is announced (PostgreSQL). */
#define HUB_EVENTS_CHANNEL "cella_hub_events"

/* ---- registries (hub/resource.h: kinds, resources, addresses) ---- */

/* Gives a resource to `to` (its address stays; orders signed by the former
 * owner no longer match, as in PoCo), with a resource-transferred event. Only
 * its owner `from` may (CELLA_E_PERM); CELLA_E_NOTFOUND for no such resource
 * of kind k. */
CELLA_RESULT hub_store_transfer(hub_store *s, hub_kind k, const uint8_t addr[20],
                                const uint8_t from[20], const uint8_t to[20], int64_t now);
/* Registers r at its deterministic address (written into r->address). A
 * duplicate deploy returns the existing resource with *created = false. */
CELLA_RESULT hub_store_deploy(hub_store *s, hub_resource *r, int64_t now, bool *created);
/* Registers r at the address it names (imports of existing resources, tests).
 * CELLA_E_EXISTS if the address is taken by another owner or kind. */
CELLA_RESULT hub_store_register_at(hub_store *s, const hub_resource *r, int64_t now);
/* CELLA_E_NOTFOUND if absent. */
CELLA_RESULT hub_store_resource_get(hub_store *s, hub_kind k, const uint8_t addr[20],
                                    hub_resource *r);
/* owner NULL: all resources of the kind. */
CELLA_RESULT hub_store_resource_count(hub_store *s, hub_kind k, const uint8_t *owner,
                                      uint64_t *n);
json_t *hub_resource_json(const hub_resource *r);

/* ---- orders ---- */
/* Publishes a signed order after checking it as the hub must: the signature
 * for domain d, the signer the resource's owner (the requester for a request
 * order), the resource registered (for a request: its app, and its dataset
 * and workerpool when named), volume left. A republished order is not an
 * error (*created = false). Refusals are CELLA_E_AUTH (signature),
 * CELLA_E_PERM (not the owner), CELLA_E_NOTFOUND (unregistered resource),
 * CELLA_E_POLICY (nothing left). A new order records an order-published
 * event. */
CELLA_RESULT hub_store_order_publish(hub_store *s, const cella_domain *d, const cella_order *o,
                                     int64_t now, uint8_t hash[32], bool *created);
/* The published order with this hash: a new cella_order (free with
 * cella_order_free) and, if non-NULL, its JSON entry as in the book. */
CELLA_RESULT hub_store_order_get(hub_store *s, const uint8_t hash[32], cella_order *o,
                                 json_t **entry);

typedef struct {
    int kind; /* cella_order_kind, or -1 for all */
    const uint8_t *app, *dataset, *workerpool, *requester; /* 20 bytes each, or NULL */
    const uint8_t *signer;   /* 20 bytes: one account's orders (the web page), or NULL */
    const uint8_t *mintag;   /* 32 bytes: every bit must be set in the order's tag */
    const uint8_t *maxprice; /* 32 bytes: price (request: workerpoolmaxprice) <= it */
    bool has_category;
    uint64_t category;
    bool include_closed; /* also fully consumed orders */
    size_t limit;        /* 0: HUB_LIST_MAX */
} hub_order_filter;

/* Open orders matching the filter, cheapest first (then oldest), as a JSON
 * array of {"orderHash", "kind", "order", "signer", "remaining", "publicationTimestamp"}. */
CELLA_RESULT hub_store_order_list(hub_store *s, const hub_order_filter *f, json_t **out);

/* Cancels (PoCo CLOSE) a published order: consumed = volume, and an
 * order-cancelled event. Only its signer may (CELLA_E_PERM). */
CELLA_RESULT hub_store_order_cancel(hub_store *s, const uint8_t hash[32], const uint8_t who[20],
                                    int64_t now);

/* Volume consumed so far (m_consumed) of any order hash. */
CELLA_RESULT hub_store_consumed(hub_store *s, const uint8_t hash[32], uint8_t amount[32]);

/* ---- matching ---- */
/* matchOrders in one transaction: loads what hub_match needs, applies it, and
 * if the orders match, consumes the volume on every order, records the deal
 * and its tasks (ACTIVE, deadlines from the category) with a deal-created
 * event and a task-created event per task, and locks the escrow.
 * A refusal is not an error: *matched = false and *why says why. */
CELLA_RESULT hub_store_match(hub_store *s, const cella_domain *d,
                             const cella_order *const o[CELLA_ORDER__COUNT], int64_t now,
                             bool *matched, hub_deal *deal, hub_refusal *why);
/* The same, and when matched *deal_json (may be NULL) is the deal as
 * hub_store_deal_get would read it back (the caller owns it), without that
 * read. */
CELLA_RESULT hub_store_match_json(hub_store *s, const cella_domain *d,
                                  const cella_order *const o[CELLA_ORDER__COUNT], int64_t now,
                                  bool *matched, hub_deal *deal, hub_refusal *why,
                                  json_t **deal_json);

/* Development only: every category's timeref becomes `seconds` for the
 * deals matched through this handle (0: PoCo's categories). */
void hub_store_set_timeref(hub_store *s, uint64_t seconds);

/* Deal and task as JSON (CELLA_E_NOTFOUND if absent). A task is
 * {"taskid", "dealid", "idx", "status", "startTime", "contributionDeadline",
 * "finalDeadline", "workerpool", "requester", "beneficiary", "tag",
 * "lease": {"holder", "until"}|null, "error", "results", "worker",
 * "resultDigest"} (the last four null until set), plus "resultHash",
 * "resultSeal" once contributed and "finalTime" once COMPLETED or FAILED. */
CELLA_RESULT hub_store_deal_get(hub_store *s, const uint8_t dealid[32], json_t **out);
CELLA_RESULT hub_store_task_get(hub_store *s, const uint8_t taskid[32], json_t **out);

/* ---- the worker flow: task listing, leases, error reports, logs, events ---- */
#define HUB_HOLDER_HEX 32            /* a lease holder: 32 lower-case hex digits */
#define HUB_LEASE_DEFAULT 60         /* seconds */
#define HUB_LEASE_MAX 600            /* seconds */
#define HUB_ERROR_MAX 1000           /* bytes of a reported error */
#define HUB_LOG_MAX (1024 * 1024)    /* bytes of stdout, and of stderr */
#define HUB_RESULTS_MAX 4096         /* bytes of a task's "results" */

typedef struct {
    const uint8_t *workerpool; /* 20 bytes, or NULL: every pool */
    const char *status;        /* "ACTIVE", ... or NULL: any */
    /* ACTIVE, before the contribution deadline, no error reported, no live
     * lease (none, or until <= now) */
    bool runnable;
    const uint8_t *dealid; /* 32 bytes: one deal's tasks, or NULL */
    size_t offset;         /* tasks skipped (paging) */
    bool newest_first;     /* order reversed: newest (startTime, idx) first */
    size_t limit; /* 0: HUB_LIST_MAX */
} hub_task_filter;

/* Tasks as a JSON array of task objects, oldest first (startTime, idx), or
 * newest first with f->newest_first. */
CELLA_RESULT hub_store_task_list(hub_store *s, const hub_task_filter *f, int64_t now,
                                 json_t **out);

/* Leases an ACTIVE task to `holder` (HUB_HOLDER_HEX hex digits) until
 * now + seconds; `who` (the request's signer) must be the owner of the deal's
 * workerpool (CELLA_E_PERM). Granted when the lease is absent, expired, or
 * already the holder's (a renewal). seconds == 0 releases the holder's lease
 * (nothing to release is not an error). Refusals (*done false, why):
 * cella-hub-task-not-active, cella-hub-task-deadline (past the contribution
 * deadline), cella-hub-task-errored (an error was reported),
 * cella-hub-task-leased (another holder's live lease). A new lease (not a
 * renewal) records a task-leased event. *until: the lease's end (0 released). */
CELLA_RESULT hub_store_lease(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                             const char *holder, int64_t seconds, int64_t now, bool *done,
                             hub_refusal *why, int64_t *until);

/* Leases the pool's next runnable task (the oldest: startTime, idx) to
 * `holder` for `seconds` (1 to HUB_LEASE_MAX) in one transaction; `who` must
 * own the workerpool (CELLA_E_PERM; CELLA_E_NOTFOUND for no such pool). On
 * PostgreSQL the candidate is taken FOR UPDATE SKIP LOCKED, so workers of
 * every replica asking at once each get another task instead of colliding
 * on one. *found false: nothing to run. A task-leased event. `worker`
 * (or NULL): never a task that worker already contributed to, so the
 * workers of a pool replicate a trust > 1 task one after the other, each
 * once. */
CELLA_RESULT hub_store_lease_next(hub_store *s, const uint8_t pool[20], const uint8_t who[20],
                                  const char *holder, const uint8_t *worker, int64_t seconds,
                                  int64_t now, bool *found, uint8_t taskid[32], int64_t *until);

/* Records that the task failed on the worker: its "error" (at most
 * HUB_ERROR_MAX bytes) and the end of its lease; the task stays ACTIVE (it is
 * claimed after its final deadline). Signed by the pool owner (CELLA_E_PERM);
 * refusals: cella-hub-task-not-active, cella-hub-task-leased (another
 * holder's live lease). Records a task-error event. */
CELLA_RESULT hub_store_report(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                              const char *holder, const char *error, int64_t now, bool *done,
                              hub_refusal *why);

/* Stores (replaces) the task's logs, each at most HUB_LOG_MAX bytes; `who`
 * must be the pool owner (CELLA_E_PERM). */
CELLA_RESULT hub_store_logs_put(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                                const char *out, size_t out_len, const char *err,
                                size_t err_len, int64_t now);
/* {"taskid", "stdout", "stderr"}; `who` must be the deal's requester
 * (CELLA_E_PERM); CELLA_E_NOTFOUND without logs. */
CELLA_RESULT hub_store_logs_get(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                                json_t **out);

/* Events after `after` (of one workerpool and/or one task, or all when NULL),
 * at most `limit` (0: HUB_LIST_MAX), as a JSON array of {"seq", "type",
 * "taskid", "dealid", "workerpool", "time"} (null where the event has no
 * task, deal or pool) plus the fields of its type:
 *   task-created, task-leased, task-error, task-contributed, task-consensus,
 *   task-revealed, task-reopened, task-completed, task-failed: none;
 *   order-published, order-cancelled: "orderHash", "orderKind" (taskid and
 *     dealid null; workerpool: a workerpool order's or a request's, which
 *     may be null);
 *   deal-created: "orders" {"apporder", "datasetorder" (or null),
 *     "workerpoolorder", "requestorder"} (hashes), "volume" (taskid null).
 * Each is recorded in the transaction of its change. *last: the sequence
 * number to ask after next time (the last one returned, or the newest of
 * the hub when fewer than `limit` matched; never below `after`). */
CELLA_RESULT hub_store_events(hub_store *s, int64_t after, const uint8_t *workerpool,
                              const uint8_t *taskid, size_t limit, json_t **events,
                              int64_t *last);

/* ---- task lifecycle (trust 1: contributeAndFinalize; claim) ---- */
/* The worker's contribution (hub/task.h checks) and, for a trust-1 deal, the
 * finalization in one transaction: status COMPLETED; the sponsor's locked
 * price is seized; app and dataset owners get their prices; the worker gets
 * workerpoolprice * (100 - schedulerRewardRatio) / 100 and the pool owner the
 * rest; the pool owner's stake is unlocked. Refusals (not ACTIVE, past the
 * contribution deadline, trust > 1, signatures) leave everything unchanged. */
CELLA_RESULT hub_store_contribute_and_finalize(hub_store *s, const hub_contribution *c,
                                               int64_t now, bool *done, hub_refusal *why);
/* After the final deadline of an unfinished task: status FAILED, the sponsor
 * refunded, the pool owner's stake seized into the kitty (address zero), the
 * workers' stakes (trust > 1) unlocked. */
CELLA_RESULT hub_store_claim(hub_store *s, const uint8_t taskid[32], int64_t now, bool *done,
                             hub_refusal *why);

/* ---- consensus (trust > 1; hub/consensus.h has the rules) ---- */
/* PoCo contribute: c is sealed (resultHash and resultSeal, no digest). The
 * task ACTIVE (cella-hub-task-not-active) before its contribution deadline
 * (cella-hub-task-deadline), one contribution per worker
 * (cella-hub-task-contributed), the hub/task.h checks, the worker's balance
 * covering the deal's workerStake (cella-hub-insufficient-balance), which is
 * locked. Records a task-contributed event and, when the contribution makes
 * a consensus, REVEALING with revealDeadline = now + 2 * timeref and a
 * task-consensus event. */
CELLA_RESULT hub_store_contribute(hub_store *s, const hub_contribution *c, int64_t now,
                                  bool *done, hub_refusal *why);
/* PoCo reveal: REVEALING (cella-hub-task-not-revealing), before the reveal
 * deadline (cella-hub-task-reveal-deadline), the worker's contribution
 * CONTRIBUTED (cella-hub-task-not-contributor, -revealed, -rejected) on the
 * consensus value (cella-hub-task-not-consensus), and keccak256(taskid ||
 * digest) == its resultHash, keccak256(worker || taskid || digest) == its
 * resultSeal (cella-hub-task-reveal-mismatch). task-revealed event. */
CELLA_RESULT hub_store_reveal(hub_store *s, const uint8_t taskid[32], const uint8_t worker[20],
                              const uint8_t digest[32], int64_t now, bool *done,
                              hub_refusal *why);
/* PoCo finalize, by the pool owner (CELLA_E_PERM): REVEALING, before the
 * final deadline (cella-hub-task-final-deadline), every winner revealed or
 * the reveal deadline passed with one reveal (cella-hub-task-too-early). Pays
 * as successWork + distributeRewards; COMPLETED; task-completed event.
 * results: as contribute-and-finalize's (or NULL). */
CELLA_RESULT hub_store_finalize(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                                const char *results, int64_t now, bool *done, hub_refusal *why);
/* PoCo reopen, by the pool owner: REVEALING, before the final deadline, after
 * the reveal deadline (cella-hub-task-too-early) with no reveal
 * (cella-hub-task-revealed): the consensus value's contributions are
 * REJECTED and the task ACTIVE again. task-reopened event. */
CELLA_RESULT hub_store_reopen(hub_store *s, const uint8_t taskid[32], const uint8_t who[20],
                              int64_t now, bool *done, hub_refusal *why);

/* ---- accounts (nRLC) ---- */
CELLA_RESULT hub_store_account_get(hub_store *s, const uint8_t addr[20], uint64_t *balance,
                                   uint64_t *locked);
CELLA_RESULT hub_store_deposit(hub_store *s, const uint8_t addr[20], uint64_t amount,
                               uint64_t *balance);

/* Takes `amount` (> 0, else CELLA_E_PARSE) nRLC out of the account's
 * unlocked balance in one transaction: they leave the hub (iExec's withdraw
 * sends them back to the wallet on chain). Locked funds are not withdrawable:
 * an amount above the unlocked balance is refused (*done false,
 * cella-hub-insufficient-balance) and changes nothing. *balance and *locked:
 * the account after (before, when refused). */
CELLA_RESULT hub_store_withdraw(hub_store *s, const uint8_t addr[20], uint64_t amount, bool *done,
                                hub_refusal *why, uint64_t *balance, uint64_t *locked);

/* ---- read-only listings (the web page, metrics) ---- */
/* How many tasks are in each of the `n` states named (ACTIVE, ...), and how
 * many hold a live lease at `now` (for GET /metrics). */
CELLA_RESULT hub_store_census(hub_store *s, const char *const *states, size_t n, int64_t now,
                              int64_t *counts, int64_t *leases);
/* Resources of kind k (of one owner, or all when owner is NULL), oldest first
 * (created, then address), skipping `offset`, at most `limit` (0:
 * HUB_LIST_MAX), as a JSON array of hub_resource_json objects; *total: how
 * many there are in all. */
CELLA_RESULT hub_store_resource_list(hub_store *s, hub_kind k, const uint8_t *owner, size_t offset,
                                     size_t limit, json_t **out, uint64_t *total);
/* Deals as hub_store_deal_get gives them, oldest first (created, then
 * dealid), paged the same way. */
CELLA_RESULT hub_store_deal_list(hub_store *s, size_t offset, size_t limit, json_t **out,
                                 uint64_t *total);

/* ---- the web page's reads (lib/hub/store_web.c) ---- */
#define HUB_NAMES_MAX 50   /* addresses named by one query (a 4 KiB target holds 50) */
#define HUB_SEARCH_MAX 64  /* bytes of a searched name */
/* {"0xEIP55": {"kind", "name"}} for each of the n addresses that is a
 * registered resource (others are absent). */
CELLA_RESULT hub_store_names(hub_store *s, const uint8_t (*addrs)[20], size_t n, json_t **out);
/* Resources whose name contains `text` (case-insensitively for ASCII, at most
 * HUB_SEARCH_MAX bytes, taken literally), oldest first, at most `limit`. */
CELLA_RESULT hub_store_resource_search(hub_store *s, const char *text, size_t limit,
                                       json_t **out);
/* Roles an address may hold in a deal, for hub_store_deal_find. */
#define HUB_ROLE_REQUESTER 1u  /* requester or beneficiary */
#define HUB_ROLE_APP 2u        /* the deal's app is this address */
#define HUB_ROLE_DATASET 4u
#define HUB_ROLE_WORKERPOOL 8u
#define HUB_ROLE_OWNER 16u     /* owner of the deal's app, dataset or workerpool */
/* Deals in which addr holds one of `roles`, newest first (created, dealid),
 * skipping `offset`, at most `limit` (0: HUB_LIST_MAX); *total: how many in
 * all. Scans the deals' text for the address, then checks each field. */
CELLA_RESULT hub_store_deal_find(hub_store *s, const uint8_t addr[20], unsigned roles,
                                 size_t offset, size_t limit, json_t **out, uint64_t *total);
/* The tasks of the deals the address requested (or is the beneficiary of):
 * newest deal first, each deal's tasks in index order; `offset` and `limit`
 * over that whole list, *total its length (the sum of the deals' bags). */
CELLA_RESULT hub_store_account_tasks(hub_store *s, const uint8_t addr[20], size_t offset,
                                     size_t limit, int64_t now, json_t **out, uint64_t *total);

#endif
