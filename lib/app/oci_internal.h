/* Private to lib/app: the plan of an import (which blobs, checked how). */
#ifndef CELLA_APP_OCI_INTERNAL_H
#define CELLA_APP_OCI_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/app.h"
#include "app/oci.h"
#include "app/oci_src.h"

typedef struct {
    char name[512];        /* member of the image: "blobs/sha256/<hex>", "<id>/layer.tar" */
    int64_t size;          /* from the descriptor; -1: unknown (docker archives) */
    uint8_t sha[32];
    bool has_sha;
    char media_type[128];
} oci_blob;

typedef struct {
    oci_blob config;
    oci_blob *layers;
    size_t nlayers;
    bool docker;           /* a docker archive: layers checked by diff_id */
} oci_plan;

/* Finds the image's config and layers (OCI index.json, else docker
 * manifest.json) and reads the config, checked against its digest. */
CELLA_RESULT oci_plan_image(oci_src *s, const cella_import_limits *lim, oci_plan *p,
                            json_t **config);
void oci_plan_free(oci_plan *p);

/* The image object of the manifest from the config's Entrypoint, Cmd, Env,
 * WorkingDir and User (names resolved in the root file system `rootfd`). */
CELLA_RESULT oci_config_image(json_t *config, int rootfd, cella_app_image *out);

/* The manifest of an image bundle, as JSON text (malloc'd). */
CELLA_RESULT oci_manifest_json(const cella_app_image *im, uint32_t heap_mb, char **out);

#endif
