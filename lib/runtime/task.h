/* The enclave of a market task (iExec's pre-compute, app and post-compute in
 * one attested process).
 *
 * It attests to cas for the task's session (built by cas from the hub's deal:
 * docs/cas-api.md, "TEE tasks"), so it receives the dataset key, the
 * requester's secrets, the beneficiary's public key and the task's enclave
 * challenge key only if its measurement is the registered app's. Then:
 *
 *   pre-compute   input files (public http:// URLs) are fetched into /iexec_in;
 *                 the dataset ciphertext must hash to IEXEC_DATASET_CHECKSUM
 *                 (from cas, not from the untrusted worker); it is decrypted
 *                 into a private tmpfs as /iexec_in/<IEXEC_DATASET_FILENAME>
 *   app           the bundle's entrypoint with its args and IEXEC_APP_ARGS, in
 *                 the sandbox, /iexec_in read-only, /iexec_out writable
 *                 (private tmpfs), iExec's app variables only (iexec/task_env.h)
 *   post-compute  /iexec_out/computed.json names the deterministic output;
 *                 the result digest is its SHA-256 (for a directory: keccak256
 *                 of the concatenated SHA-256 of its files, sorted); the
 *                 output folder is zipped and encrypted for the beneficiary;
 *                 keccak256(resultHash || resultSeal) is signed with the
 *                 enclave challenge key (PoCo's enclaveSign)
 *
 * Only ciphertext (the encrypted result) and public values (digest,
 * signature, challenge address) leave it, into `out_dir`. The dataset key,
 * plaintext and challenge key never touch the host's disk.
 *
 * The caller must have entered a private mount namespace (run.h). */
#ifndef CELLA_RUNTIME_TASK_H
#define CELLA_RUNTIME_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/error.h"
#include "core/slice.h"
#include "net/http_client.h"
#include "tee/ratls.h"

#define CELLA_TASK_RESULT_FILE "result.zip"
#define CELLA_TASK_COMPUTED_FILE "computed.json"
#define CELLA_TASK_MAX_INPUT_FILES 100
#define CELLA_TASK_INPUT_FILE_MAX ((size_t)64 << 20) /* held in locked memory while fetched */

typedef struct {
    const cella_http_client *cas;
    const char *session;     /* "iexec-0x<taskid>" (service "app") */
    cella_tee_kind tee;
    cella_quote_fn quote;
    void *quote_ctx;
    const char *app_dir;     /* the unpacked, measured bundle */
    const char *dataset;     /* the dataset ciphertext fetched by the worker, or NULL */
    const char *work_dir;    /* private scratch (0700): mount points */
    const char *out_dir;     /* receives result.zip and computed.json */
    uint64_t mem_bytes;
    uint32_t cpu_seconds, wall_seconds;
    int app_stdout, app_stderr; /* -1: inherit */
    /* Non-NULL: a standard task (the deal has no TEE bit; runtime/standard.h):
     * no attestation, this environment instead of cas's (public task facts
     * only, built by the worker), the dataset given as it is (never
     * decrypted), and a result without enclave signature. */
    const json_t *standard_env;
} cella_task_opts;

typedef struct {
    int exit_code;
    bool timed_out;
    bool encrypted;            /* result.zip is encrypted for the beneficiary */
    uint8_t digest[32];        /* resultDigest */
    uint8_t challenge[20];     /* the enclave challenge address */
    uint8_t enclave_sign[65];  /* EIP-191 of keccak256(resultHash || resultSeal) */
    uint8_t worker[20];        /* SIGN_WORKER_ADDRESS the seal binds */
    /* milliseconds per phase, for the worker's log and the benchmark */
    double ms_attest, ms_pre, ms_app, ms_post;
} cella_task_result;

/* Writes one of the files the enclave leaves in its --out directory for the
 * worker (result.zip, computed.json, timings.json, error.txt): replaced, not
 * followed if a symlink, and not synced. The worker reads them after the
 * enclave has exited and removes them once the task is reported, so neither
 * a staging name nor an fsync buys anything (they cost ~2 ms each on disk);
 * after a crash the task is run again. Not for files anyone keeps. */
CELLA_RESULT cella_task_write_out(const char *path, const void *data, size_t n);

/* Runs the task. On failure the error is the reason to show the requester
 * (e.g. a dataset checksum mismatch); nothing is written to out_dir unless
 * everything succeeded. An app that exits non-zero is a failure too. */
CELLA_RESULT cella_task_run(const cella_task_opts *o, cella_task_result *res);

/* iExec's result digest of a file or directory (FileHashUtils): SHA-256 of a
 * file; for a directory, keccak256 of the SHA-256 of each regular file in it,
 * sorted by name. */
CELLA_RESULT cella_task_digest(const char *path, uint8_t out[32]);

/* The same of `rel` (what the app's computed.json names) resolved strictly
 * beneath the folder `root`: no "..", no symbolic link anywhere on the way
 * (the app makes them), no FIFO waited on; "" is `root` itself. Errors name
 * `rel`, never the host's folders, and say the same whatever lies beyond a
 * link. */
CELLA_RESULT cella_task_digest_beneath(const char *root, const char *rel, uint8_t out[32]);

/* Splits iexec_args like a shell would without expansions: blanks separate
 * words, '...' and "..." quote, backslash escapes (outside single quotes).
 * Returns a malloc'd NULL-terminated vector of strings in one allocation. */
CELLA_RESULT cella_task_split_args(const char *s, char ***argv, size_t *argc);

/* Parses the app's computed.json (untrusted bytes): *det is its
 * "deterministic-output-path", *rel the same relative to /iexec_out ("" for
 * the folder itself; no "..", no absolute path), both pointing into *doc,
 * which the caller json_decref's. Nothing is returned on failure. */
CELLA_RESULT cella_task_computed_parse(cella_slice text, json_t **doc, const char **det,
                                       const char **rel);

/* Whether the dataset file is a cella volume tarball (always encrypted) rather
 * than a file in iExec's format. */
CELLA_RESULT cella_task_is_volume(const char *path, bool *yes);

#endif
