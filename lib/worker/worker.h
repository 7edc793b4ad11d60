/* The worker of a workerpool (iExec's scheduler and worker in one process).
 *
 * It never holds a dataset key or a plaintext: those exist only inside the
 * enclave process it starts (`cella run-task`). Nor does it hold the
 * workerpool owner's key: a signer process does (worker/signer.h), and the
 * worker asks it for the signatures below; if the signer stops, the worker
 * stops with that error.
 * For each runnable task of its pool it
 *
 *   1. leases the task on the hub (a lease it renews while it works, so a
 *      worker killed mid-task loses nothing: the lease lapses and any worker
 *      of the pool, or this one after a restart, takes the task again);
 *   2. asks cas for the task's enclave challenge and session, signing
 *      PoCo's authorization keccak256(worker || taskid || challenge);
 *   3. fetches the app bundle and the dataset ciphertext and checks both
 *      against the checksums of the hub's registry;
 *   4. runs the enclave, which attests, decrypts, runs the app and returns
 *      only the encrypted result, its digest and the enclave's signature;
 *   5. uploads the encrypted result to the blob store, contributes and
 *      finalizes (trust 1), and stores the app's stdout and stderr on the
 *      hub for the requester. With trust > 1 (replication, PoCo's consensus)
 *      it contributes the result's hash and seal only, waits (bounded) for
 *      the hub's consensus, reveals its digest if it is the consensus, and
 *      finalizes once every winner revealed (any winner of the pool may).
 *
 * A deal without the TEE bit is a standard task (runtime/standard.h): no
 * cas session, the app runs in the sandbox without attestation or secrets.
 *
 * A failure is reported on the hub with its reason (visible to the
 * requester with `cella task show`); the task then stays unfinished until
 * its deadline, when `claim` refunds the requester, as in PoCo. */
#ifndef CELLA_WORKER_WORKER_H
#define CELLA_WORKER_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "net/endpoints.h"
#include "worker/signer.h"

#define CELLA_WORKER_MAX_SLOTS 64

typedef struct {
    /* The hub's and cas's replicas with their pins (net/endpoints.h): every
     * slot fails over between them, and sticks to the one that answered. */
    cella_endpoints *hub;
    cella_endpoints *cas;
    const char *blobs_url;   /* where results are uploaded; bundles and datasets are looked
                                up there by hash first */
    /* the workerpool owner's key, in a process of its own (worker/signer.h) */
    cella_signer *signer;
    /* the worker's own key (`--worker-wallet-file`), in a signer of its own, or
     * NULL: the owner is the worker. It signs the contributions and reveals
     * (its account stakes for trust > 1); the owner authorizes it. */
    cella_signer *worker_signer;
    const char *pool;        /* the workerpool address (0x...) */
    const char *work_dir;    /* caches and per-task directories (created 0700) */
    const char *cella_exe;   /* this binary, for the enclave process */
    const char *sim_dir;     /* the sim platform key, or NULL for the default */
    const char *tee;         /* "sim" (default), "sgx", "tdx", "snp" */
    unsigned slots;          /* tasks run at once (1..64) */
    unsigned lease_seconds;  /* default 30 */
    unsigned app_timeout;    /* wall-clock limit of one app run, seconds (default 3600) */
    /* trust > 1: how long a worker waits, after it contributed, for the
     * consensus and then for the other winners' reveals (seconds, default 600;
     * the task's deadlines bound it too) */
    unsigned consensus_wait;
    bool once;               /* return when no runnable task is left */
    /* "ADDR:PORT": serve GET /metrics there (docs/metrics.md), or NULL */
    const char *metrics_listen;
    volatile sig_atomic_t *stop; /* set by a signal handler: finish current tasks and return */
} cella_worker_opts;

/* Runs until *stop (or, with `once`, until nothing is runnable). Per-task
 * failures are reported to the hub and logged, not returned. */
CELLA_RESULT cella_worker_run(const cella_worker_opts *o);

#endif
