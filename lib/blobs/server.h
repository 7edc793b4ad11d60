/* The transfer service: a content-addressed blob store over HTTP.
 *
 *   PUT  /v1/blobs/<sha256 hex>   body = the blob; 201 created, 200 if it
 *                                 existed, 400 if the body's hash differs,
 *                                 413 above the size limit
 *   GET  /v1/blobs/<sha256 hex>   200 with the bytes, or 404 (JSON)
 *   HEAD /v1/blobs/<sha256 hex>   200 with Content-Length, or 404
 *
 * Served by libevent's evhttp under the guard of net/http_guard.h, which
 * writes an upload's body to a file in the store's folder as it arrives
 * (hashing it on the way), so an upload costs no memory for its size; the
 * handler renames the file into place. See docs/blobs-api.md.
 */
#ifndef CELLA_BLOBS_SERVER_H
#define CELLA_BLOBS_SERVER_H

#include <stdint.h>

#include "core/error.h"

typedef struct {
    int fd;               /* the listener, from cella_http_listen (the caller closes it) */
    const char *data_dir; /* the store (created if missing) */
    uint64_t max_size;    /* 0: CELLA_BLOB_DEFAULT_MAX */
    unsigned threads;     /* 0: 2 */
    /* Called once every thread accepts connections. */
    void (*on_ready)(void *arg);
    void *arg;
} cella_blob_server_config;

/* Serves until SIGINT or SIGTERM. */
CELLA_RESULT cella_blob_serve(const cella_blob_server_config *cfg);

#endif
