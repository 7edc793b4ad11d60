/* iExec's runtime contract: the environment variables an app gets, built from
 * the facts of its task. Pure (no I/O), shared by cas (a TEE task's session,
 * cas/task_policy.c) and the worker (a standard task), so both kinds of task
 * give the app the same variables, as iExec's do.
 *
 * The app's set is iExec's compute stage (iexec-common
 * IexecEnvUtils.getComputeStageEnvMap, used by iexec-worker AppComputeService
 * for standard tasks and by iexec-sms SecretSessionBaseService.getAppTokens
 * for TEE tasks) plus, in TEE tasks only, the secrets getAppTokens adds.
 * The pre-compute set (dataset URL, checksum and key, input file URLs) is
 * iExec's pre-compute stage only and never reaches the app.
 * docs/worker.md lists every variable with its value and iExec source, in a
 * table tests/cli/task_env.sh reads and compares with what apps get. */
#ifndef CELLA_IEXEC_TASK_ENV_H
#define CELLA_IEXEC_TASK_ENV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

#define CELLA_IEXEC_IN "/iexec_in"
#define CELLA_IEXEC_OUT "/iexec_out"
#define CELLA_IEXEC_INPUT_FILE_NAME_LEN 66 /* "0x" + 64 lowercase hex */

/* A requester secret: IEXEC_REQUESTER_SECRET_<index> (index: the key of
 * params.iexec_secrets). */
typedef struct {
    unsigned index;
    cella_slice value;
} cella_iexec_env_secret;

typedef struct {
    bool tee;                  /* false: a standard task, which gets no secret */
    uint8_t task_id[32], deal_id[32];
    uint64_t task_index;       /* the task's idx in its deal */
    uint64_t bot_first, bot_size;
    bool has_dataset;
    uint8_t dataset[20];       /* ignored without a dataset */
    const char *const *input_urls; /* params.iexec_input_files, in order */
    size_t ninputs;
    /* TEE only (ignored in a standard task). Values must be text without NUL. */
    const cella_iexec_env_secret *requester_secrets;
    size_t nrequester_secrets;
    cella_slice developer_secret; /* .p NULL: the developer pushed none */
    /* Pre-compute only, with a dataset. */
    const char *dataset_url, *dataset_checksum;
    cella_slice dataset_key;
} cella_iexec_task_facts;

/* Adds the app's variables to the object `env` (name -> string), in the
 * order of docs/worker.md's table. */
CELLA_RESULT cella_iexec_task_env_app(const cella_iexec_task_facts *f, json_t *env);

/* Adds the pre-compute-only variables: IEXEC_PRE_COMPUTE_OUT,
 * IS_DATASET_REQUIRED, IEXEC_INPUT_FILE_URL_<n>, and in a TEE task with a
 * dataset IEXEC_DATASET_URL, IEXEC_DATASET_CHECKSUM, IEXEC_DATASET_KEY (a
 * standard task's worker fetches its plain dataset itself). */
CELLA_RESULT cella_iexec_task_env_pre(const cella_iexec_task_facts *f, json_t *env);

/* Whether a variable of that name belongs to the app's set (an allow-list:
 * every other name, the pre-compute set among them, is withheld). */
bool cella_iexec_env_is_app(const char *name);

/* iExec's name of an input file in /iexec_in and IEXEC_INPUT_FILE_NAME_<n>:
 * "0x" + the lowercase hex SHA-256 of its URL (FileHashUtils.createFileNameFromUri). */
CELLA_RESULT cella_iexec_input_file_name(char out[CELLA_IEXEC_INPUT_FILE_NAME_LEN + 1],
                                         const char *url);

/* The app's variables of `env` (those cella_iexec_env_is_app admits, string
 * values only) as a NULL-terminated "NAME=value" vector; the strings live in
 * `b` (init'd by the caller, freed by the caller after *out). */
CELLA_RESULT cella_iexec_env_vector(const json_t *env, cella_buf *b, const char ***out);

#endif
