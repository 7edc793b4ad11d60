/* The environment of a standard task (no TEE bit), built by the worker from
 * the hub's task and deal with iExec's builder (iexec/task_env.h, facts with
 * tee false): the app's set and the pre-compute set, never a secret (no
 * dataset key, requester or developer secret, enclave key or result key),
 * plus IEXEC_APP_ARGS and the deal's accounts, which the runtime reads. The
 * runtime fetches the input files (IEXEC_INPUT_FILE_URL_n) and gives the app
 * the app's set only, as for a TEE task. Refused (with the
 * reason shown to the requester): params that are not iExec's, and
 * iexec_result_encryption true, which iexec-worker refuses for standard
 * tasks too (PostComputeService.runStandardPostCompute: "Result encryption
 * is not supported for standard tasks"). */
#ifndef CELLA_WORKER_STANDARD_ENV_H
#define CELLA_WORKER_STANDARD_ENV_H

#include <jansson.h>

#include "core/error.h"

#define CELLA_STANDARD_MAX_INPUT_FILES 100

CELLA_RESULT cella_worker_standard_env(const json_t *task, const json_t *deal, json_t **env);

#endif
