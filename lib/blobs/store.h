/* A content-addressed blob store on disk: DIR/sha256/<64 hex>, each blob
 * written to a temp file, fsync'd and renamed into place (never replaced), so
 * a reader sees a whole blob or none. A blob whose hash differs from its name
 * is never renamed into place. Used by the blob server (lib/blobs/server.h). */
#ifndef CELLA_BLOBS_STORE_H
#define CELLA_BLOBS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/error.h"

#define CELLA_BLOB_DEFAULT_MAX (1ull << 30) /* 1 GiB */

typedef struct {
    int dirfd; /* DIR/sha256 */
} cella_blob_store;

/* Opens (creating if missing, mode 0700) the store in `dir`. */
CELLA_RESULT cella_blob_store_open(const char *dir, cella_blob_store *st);
void cella_blob_store_close(cella_blob_store *st);

/* Parses 64 lowercase hex digits (exactly; no prefix). */
CELLA_RESULT cella_blob_parse_id(const char *hex, uint8_t sha[static 32]);

/* Stores the bytes given as iovecs under `sha`. CELLA_E_AUTH if their SHA-256
 * differs (nothing is written); if the blob exists already, *created = false
 * and nothing changes (idempotent). */
CELLA_RESULT cella_blob_store_put(cella_blob_store *st, const uint8_t sha[static 32],
                                  const struct iovec *iov, size_t niov, bool *created);

/* Adopts a file already written in the store's folder (`tmp`, open as fd;
 * the blob server spools uploads there as they arrive, net/http_guard.h)
 * as the blob `sha`, given `got`, the SHA-256 of its bytes. CELLA_E_AUTH if
 * they differ. The file is fsync'd and renamed into place, or removed if the
 * blob exists already (*created = false) or on any failure. Closes fd. */
CELLA_RESULT cella_blob_store_adopt(cella_blob_store *st, const uint8_t sha[static 32],
                                    const uint8_t got[static 32], const char *tmp, int fd,
                                    bool *created);

/* Opens a blob for reading: CELLA_E_NOTFOUND if absent. */
CELLA_RESULT cella_blob_store_open_blob(cella_blob_store *st, const uint8_t sha[static 32],
                                        int *fd, uint64_t *size);

#endif
