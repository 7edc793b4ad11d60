/* A task's result as a requester gets it, shared by `cella result download`
 * and `cella task show --download --decrypt`: fetched by content address, and
 * the beneficiary key that decrypts it. */
#ifndef CELLA_CLI_RESULT_FILES_H
#define CELLA_CLI_RESULT_FILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "project.h"
#include "core/error.h"

#define CLI_DEFAULT_SECRETS ".secrets"
#define CLI_DEFAULT_ENCRYPTED "encryptedResults.zip" /* the SDK's defaults */
#define CLI_DEFAULT_DECRYPTED "results.zip"

/* The options of both: where the blob store is and the beneficiary key. */
#define CLI_RESULT_KEY_OPTS                                                        \
    {"key", true, NULL}, {"beneficiary-key-file", true, NULL},                     \
        {"secrets-dir", true, NULL}, { "beneficiary-keystoredir", true, NULL }

/* `--download [--output F] --decrypt [--decrypted F]` with where the blob
 * store is and the beneficiary key: the options of `cella task show` and of
 * `cella app run`, which fetch a completed task's result the same way. */
#define CLI_RESULT_DOWNLOAD_OPTS                                                   \
    {"download", false, NULL}, {"decrypt", false, NULL}, {"output", true, NULL},   \
        {"decrypted", true, NULL}, {"blobs", true, NULL}, CLI_RESULT_KEY_OPTS

/* Whether --download or --decrypt (which implies it) was given. */
bool cli_result_wanted(const cli_opt *o, int n);

/* Before a result is waited for or paid for, what would refuse it then: the
 * download's file (--output, else <id>.zip; with `id` NULL, not yet known,
 * only --output) must not exist yet (CELLA_E_EXISTS), and with --decrypt
 * neither may the decrypted file, and the beneficiary key file must be found
 * and readable. So nothing is bought whose result could not be written. It
 * also traps SIGINT, SIGTERM and SIGHUP (core/stage.h) so that a staged file
 * never outlives them: call it before any thread, and before
 * cli_result_download. */
CELLA_RESULT cli_result_preflight(const cli_opt *o, int n, const char *id);

/* The result of COMPLETED task `id` (`task`: its record, or NULL) as the SDK's
 * `task show --download --decrypt`: downloaded to --output (default
 * <taskid>.zip), checked by its SHA-256, then with --decrypt decrypted with
 * the beneficiary key to --decrypted (default results.zip). Each file is
 * written whole or not at all (staged, then renamed; removed on SIGINT,
 * SIGTERM and SIGHUP too), and neither replaces an existing file. Says where
 * each went on stderr and in --json ("file", "decrypted"). */
CELLA_RESULT cli_result_download(const cli_opt *o, int n, const cli_hub *hub, const char *id,
                                 const json_t *task);

/* Downloads the result of a COMPLETED task into `out` (`task` is its record
 * when the caller has it, else NULL and it is fetched): by its SHA-256 from
 * the blob store `store` ("" for none) first, then from the URL the worker
 * recorded; the bytes are checked either way. A task without a result is an
 * error that says its status and reason. */
CELLA_RESULT cli_result_fetch(const cli_hub *hub, const char *taskid, const json_t *task,
                              const char *store, const char *out);

/* Where a task's result goes: -o FILE as given, else <taskid>.zip; a path
 * that does not fit is an error, never cut short. */
CELLA_RESULT cli_result_path(const char *given, const char *taskid, char *out, size_t cap);

/* --beneficiary-keystoredir D, else <--secrets-dir or .secrets>/beneficiary. */
CELLA_RESULT cli_beneficiary_dir(const cli_opt *o, int n, char *out, size_t cap);

/* The beneficiary's private key file: --key, --beneficiary-key-file (a name in
 * the beneficiary folder), else the only *_key file there. */
CELLA_RESULT cli_beneficiary_key(const cli_opt *o, int n, char *out, size_t cap);

#endif
