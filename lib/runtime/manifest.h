/* The app's manifest (cella-app.json) as law for the runtime: what it asks
 * becomes the sandbox's limits, and only the variables it is entitled to
 * reach it (docs/app-measurement.md, "What the runtime enforces"). The
 * manifest is part of the measurement cas released the secrets to, so these
 * limits are the ones the attested app was measured with. */
#ifndef CELLA_RUNTIME_MANIFEST_H
#define CELLA_RUNTIME_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#include "app/app.h"
#include "core/error.h"
#include "runtime/sandbox.h"

/* Processes an app may have at once (the manifest has no field for it). */
#define CELLA_APP_MAX_PIDS 256u

/* heap_mb -> mem_bytes (the smaller of it and a non-zero `cap_bytes`, the
 * operator's --memory), stack_kb -> stack_bytes, CELLA_APP_MAX_PIDS. */
void cella_manifest_limits(const cella_app_manifest *m, uint64_t cap_bytes,
                           cella_sandbox_spec *spec);

/* The manifest lists `name` in its "env". */
bool cella_manifest_env_lists(const cella_app_manifest *m, const char *name);

/* The task's failure reason for an app run (`sr`) that did not succeed:
 * "time limit of N s exceeded", "memory limit heap_mb=N exceeded", or the
 * exit status (with the memory limit named when rlimits enforced it: an
 * allocation past RLIMIT_AS fails inside the app, which then dies its own way).
 * CELLA_OK_RES when the app exited 0 in time. */
CELLA_RESULT cella_manifest_outcome(const cella_app_manifest *m, const cella_sandbox_spec *spec,
                                    const cella_sandbox_result *sr);

#endif
