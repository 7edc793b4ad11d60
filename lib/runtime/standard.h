/* Standard tasks: a deal whose tag has no TEE bit (iExec's "standard" or
 * non-TEE tasks), run by cella_task_run with opts.standard_env set.
 *
 * As iexec-worker does for them: no enclave, no attestation, no secrets (no
 * dataset key, no requester or developer secret, no enclave challenge); the
 * worker gives the app iExec's public task variables, fetches the input
 * files into /iexec_in, and puts the dataset there as it was registered,
 * never decrypted (DataService.downloadStandardDataset): an encrypted dataset
 * is refused before (worker.c), and a cella volume, which is always
 * encrypted, here. The result is PostComputeService.runStandardPostCompute's:
 * /iexec_out zipped, not encrypted, its digest iExec's web2 result digest
 * (ResultUtils.computeWeb2ResultDigest: the same FileHashUtils digest of the
 * deterministic output as a TEE task's), contributed without enclave
 * challenge nor signature. Nothing protects the app, its inputs or its
 * result from the worker host (docs/threat-model.md). */
#ifndef CELLA_RUNTIME_STANDARD_H
#define CELLA_RUNTIME_STANDARD_H

#include <jansson.h>
#include <stdbool.h>

#include "casapi/casapi.h"
#include "core/error.h"

/* What stands for cas's attestation: an instance whose configuration is
 * {"environment": a copy of env} (a JSON object of strings with
 * IEXEC_TASK_ID), and no key nor certificate. */
CELLA_RESULT cella_standard_instance(const json_t *env, cella_cas_instance *inst);

/* After the input files are fetched: puts the dataset file (`dataset`,
 * fetched and checked by the worker) into in_dir as IEXEC_DATASET_FILENAME,
 * read-only, when IS_DATASET_REQUIRED is "true". */
CELLA_RESULT cella_standard_pre_compute(const char *dataset, json_t *env, const char *in_dir);

/* The computed.json the runtime leaves for the worker (public values). */
json_t *cella_standard_computed(const char *taskhex, const char *det, const char *digest,
                                bool encrypted);

#endif
