/* The transfer service: a content-addressed blob store over HTTP.
 *
 *   PUT  /v1/blobs/<sha256 hex>   body = the blob; 201 created, 200 if it
 *                                 existed, 400 if the body's hash differs,
 *                                 413 above the size limit
 *   GET  /v1/blobs/<sha256 hex>   200 with the bytes, or 404 (JSON)
 *   HEAD /v1/blobs/<sha256 hex>   200 with Content-Length, or 404
 *
 * Served by libevent's evhttp, which reads a whole request body into memory
 * before the handler runs: the body limit (max_size) is therefore also the
 * memory one request may take. See docs/blobs-api.md.
 */
#ifndef CELLA_BLOBS_SERVER_H
#define CELLA_BLOBS_SERVER_H

#include <stdint.h>

#include "core/error.h"

typedef struct {
    const char *listen;   /* "127.0.0.1:8082"; port 0 picks a free port */
    const char *data_dir; /* the store (created if missing) */
    uint64_t max_size;    /* 0: CELLA_BLOB_DEFAULT_MAX */
    unsigned threads;     /* 0: 2 */
    /* Called once listening, with the bound port (before any request). */
    void (*on_ready)(void *arg, unsigned port);
    void *arg;
} cella_blob_server_config;

/* Serves until SIGINT or SIGTERM. */
CELLA_RESULT cella_blob_serve(const cella_blob_server_config *cfg);

#endif
