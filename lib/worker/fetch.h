/* The worker's cache of app bundles and datasets (work_dir/bundles,
 * work_dir/datasets), by the SHA-256 of what the hub's registry names. */
#ifndef CELLA_WORKER_FETCH_H
#define CELLA_WORKER_FETCH_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "worker/worker.h"

/* Downloads `res` (a registry entry: "multiaddr", "checksum") into the cache
 * (once per checksum): `path` is the cached file. `holder` names this slot's
 * temporary file. */
CELLA_RESULT cella_worker_fetch_cached(const cella_worker_opts *o, const char *holder,
                                       const char *kind, const json_t *res, const char *what,
                                       char *path, size_t cap);

/* The app bundle, fetched and unpacked once: `dir` is the unpacked bundle. */
CELLA_RESULT cella_worker_fetch_app(const cella_worker_opts *o, const char *holder,
                                    const json_t *app, char *dir, size_t cap);

#endif
