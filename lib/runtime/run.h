/* The runtime: the process that is the enclave (in sim mode, a normal process).
 *
 * It attests to cas for SESSION/SERVICE and receives the command, environment,
 * volume keys and tags; opens each input volume with its key and refuses it
 * unless its tag is the one cas holds (rollback) — before the app starts;
 * presents inputs read-only and outputs writable as plain files, in private
 * memory (never on disk); runs the app in the sandbox; and, only if the app
 * succeeded, seals each output volume and pushes its new tag to cas with
 * compare-and-swap. A crash or kill of the app leaves the previous tags.
 *
 * The caller (cella run) must have entered a private mount namespace before
 * any thread started, so the plaintext mounts are invisible to the host. */
#ifndef CELLA_RUNTIME_RUN_H
#define CELLA_RUNTIME_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "casapi/casapi.h"
#include "core/error.h"
#include "tee/ratls.h"

#define CELLA_RUN_MAX_VOLUMES 16

typedef struct {
    const char *name;    /* session volume name */
    const char *dir;     /* ciphertext volume directory on the host */
} cella_run_input;

typedef struct {
    const cella_http_client *cas;
    const char *session, *service;
    cella_tee_kind tee;
    cella_quote_fn quote; /* produces evidence (sim: signs with the platform key) */
    void *quote_ctx;
    const char *app_dir;          /* bundle, bound read-only at /app */
    const cella_run_input *inputs;
    size_t ninputs;
    const char *outputs_dir;      /* output volumes are written to outputs_dir/NAME */
    const char *work_dir;         /* private scratch (0700): mount points */
    uint64_t mem_bytes;
    uint32_t cpu_seconds, wall_seconds;
    int app_stdout, app_stderr;   /* -1: inherit */
} cella_run_opts;

typedef struct {
    char name[128];
    char dir[1024];
    uint8_t tag[16];
} cella_run_output;

typedef struct {
    int exit_code;
    bool timed_out;
    bool sealed; /* outputs sealed and tags pushed (only when exit_code == 0) */
    size_t noutputs;
    cella_run_output outputs[CELLA_RUN_MAX_VOLUMES];
} cella_run_result;

/* Makes the mounts of this process private (unshare CLONE_NEWNS). Call before
 * any thread exists. Returns false (and logs) where that is not permitted. */
bool cella_runtime_private_mounts(void);

CELLA_RESULT cella_runtime_run(const cella_run_opts *o, cella_run_result *res);

/* Mounts a private, mode 0700 tmpfs at `dir` (created if missing): plaintext
 * lives in memory only, in this process's mount namespace. */
CELLA_RESULT cella_runtime_private_tmpfs(const char *dir);

#endif
