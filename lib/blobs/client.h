/* Client of the blob service (lib/blobs/server.h) for the runtime and the
 * CLI. Uploads stream from disk; downloads stream into a staging file beside
 * the target (core/stage.h) while hashing, and are renamed into place only if the SHA-256
 * matches, so a failed or forged download leaves nothing. */
#ifndef CELLA_BLOBS_CLIENT_H
#define CELLA_BLOBS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Largest blob a client downloads (the server's default limit is 1 GiB). */
#define CELLA_BLOB_CLIENT_MAX (16ull << 30)

/* The URL of a blob: base_url + "/v1/blobs/" + hex. `out` holds `cap` bytes. */
CELLA_RESULT cella_blob_url(const char *base_url, const uint8_t sha[static 32], char *out,
                            size_t cap);

/* Hashes `path` and uploads it; `sha` gets its SHA-256. */
CELLA_RESULT cella_blob_put_file(const char *base_url, const char *path, uint8_t sha[static 32]);

/* Downloads a blob to `out_path` (atomically; never replaced if present:
 * CELLA_E_EXISTS). CELLA_E_NOTFOUND if the server has no such blob,
 * CELLA_E_AUTH if the bytes do not match. */
CELLA_RESULT cella_blob_get_file(const char *base_url, const uint8_t sha[static 32],
                                 const char *out_path);

/* Splits a cella blob location "BASE/v1/blobs/<64 hex>" (http:// or
 * https://) into BASE (`cap` bytes) and the hash; anything else is
 * CELLA_E_UNSUPPORTED, naming `what`. */
CELLA_RESULT cella_blob_parse_url(const char *url, const char *what, char *base, size_t cap,
                                  uint8_t sha[static 32]);

/* A blob by its content address. Results, datasets and app bundles are
 * recorded with the URL of the store they were put in (`location`, iExec's
 * multiaddr, which may also be any http(s) URL), but the SHA-256 is what names
 * them: the blob store this client is configured with (`store`; NULL or "":
 * none) is asked first, so a store that moved (a stack restarted on other
 * ports) still serves them; then `location` itself. The bytes must hash to
 * `sha` either way. Errors are those of the last place tried. */
CELLA_RESULT cella_blob_fetch_file(const char *store, const char *location,
                                   const uint8_t sha[static 32], const char *out_path);

/* A directory (for example a volume) as one deterministic tarball blob
 * (cella_tree_pack / cella_tree_unpack). get_dir creates `dir`, which must not
 * exist; on failure nothing is left. */
CELLA_RESULT cella_blob_put_dir(const char *base_url, const char *dir, uint8_t sha[static 32]);
CELLA_RESULT cella_blob_get_dir(const char *base_url, const uint8_t sha[static 32],
                                const char *dir);

#endif
