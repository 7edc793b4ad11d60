/* Importing an OCI image as an image bundle (`cella app import IMAGE DIR`).
 *
 * IMAGE is an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/...), or a tar archive of one (what newer `docker save`
 * writes), or a `docker save` / `podman save` archive (manifest.json, config,
 * layer tars). Every blob is checked against its digest (OCI descriptors; for
 * docker archives the config's file name and rootfs.diff_ids), the layers are
 * flattened in order into DIR/rootfs (app/flatten.h), and the image config
 * (Entrypoint, Cmd, Env, WorkingDir, User, with user names resolved through
 * rootfs/etc/passwd and /etc/group) becomes the manifest's "image" object.
 * DIR must not exist; it is written as a staging directory beside it and
 * renamed into place only when everything succeeded (nothing is left on
 * failure). docs/app-measurement.md describes the rules. */
#ifndef CELLA_APP_OCI_H
#define CELLA_APP_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

typedef struct {
    uint64_t max_file;    /* bytes of one file (declared sizes are checked first) */
    uint64_t max_total;   /* bytes of all files written, hard-link copies included */
    uint32_t max_entries; /* layer entries processed, all layers together */
    uint32_t max_depth;   /* directories nested in the root file system */
    uint32_t max_path;    /* bytes of a path in the root file system */
    uint32_t max_layers;
} cella_import_limits;

/* 1 GiB a file, 4 GiB in all, 100000 entries, depth 60, paths of 4000 bytes,
 * 128 layers: what cella_app_unpack accepts, so every import can be packed and
 * unpacked again. */
cella_import_limits cella_import_default_limits(void);

/* Called before each layer and once at the end (layer == nlayers). */
typedef void (*cella_import_progress)(void *ud, size_t layer, size_t nlayers, uint64_t bytes);

typedef struct {
    cella_import_limits lim;   /* zero: the defaults */
    uint32_t heap_mb;          /* of the manifest written (0: 512) */
    cella_import_progress progress;
    void *progress_ud;
} cella_import_opts;

CELLA_RESULT cella_app_import(const char *image, const char *dir, const cella_import_opts *o);

/* The same from a tar archive in memory (the fuzz target's entry point). */
CELLA_RESULT cella_app_import_mem(cella_slice tar, const char *dir, const cella_import_opts *o);

#endif
