/* The environment of a standard task (no TEE bit), built by the worker from
 * the hub's task and deal: iExec's public task variables only (what
 * iexec-worker gives a standard task's container), never a secret: no
 * dataset key, requester or developer secret, enclave key or result key.
 *
 * It holds IEXEC_INPUT_FILE_URL_n for the runtime, which fetches the files
 * and withholds those from the app, as for a TEE task. Refused (with the
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
