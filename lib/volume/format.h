/* The cella volume format, version 1: pure encoding and parsing, no I/O.
 * docs/volume-format.md describes every byte; keep the two in step.
 *
 *   VOL_DIR/volume.meta        sealed metadata (header + AES-256-GCM body + tag)
 *   VOL_DIR/<32 hex digits>    one ciphertext file per plaintext file, named by file id
 *
 * The tag of a volume is the GCM tag of its sealed metadata.
 */
#ifndef CELLA_VOLUME_FORMAT_H
#define CELLA_VOLUME_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"
#include "crypto/aead.h"

#define CELLA_VOL_META_NAME "volume.meta"
#define CELLA_VOL_MAGIC "CELLAVOL"
#define CELLA_VOL_FILE_MAGIC "CELLAFIL"
#define CELLA_VOL_FORMAT_VERSION 1
#define CELLA_VOL_HEADER_BYTES 96
#define CELLA_VOL_FILE_HEADER_BYTES 64
#define CELLA_VOL_ID_BYTES 16
#define CELLA_VOL_KEY_BYTES 32
#define CELLA_VOL_TAG_BYTES 16
#define CELLA_VOL_KEYCHECK_BYTES 16
#define CELLA_VOL_CHUNK_AAD_BYTES 41
/* 16 KiB: a random 4 KiB read authenticates (and the shield stores) 4 pages,
 * not 16; streaming pays a tag and a cipher reset per 16 KiB instead (about 5%
 * of AES-GCM throughput). docs/volume-format.md. */
#define CELLA_VOL_DEFAULT_CHUNK (16u * 1024u)
#define CELLA_VOL_MIN_CHUNK (4u * 1024u)
#define CELLA_VOL_MAX_CHUNK (16u * 1024u * 1024u)
#define CELLA_VOL_MAX_PATH 4096
#define CELLA_VOL_MAX_NAME 255
/* Caps before allocation: metadata is read whole, so bound it. */
#define CELLA_VOL_MAX_META_BYTES (256u * 1024u * 1024u)
#define CELLA_VOL_MAX_FILE_SIZE (UINT64_C(1) << 50)

enum cella_vol_entry_type { CELLA_VOL_FILE = 1, CELLA_VOL_DIR = 2 };

/* One entry of the metadata. For directories only path and mode are used. */
typedef struct {
    uint8_t type;
    uint16_t mode;
    char *path; /* NUL-terminated, validated relative path */
    uint64_t size;
    uint32_t chunk_size;
    uint8_t file_id[CELLA_VOL_ID_BYTES];
    uint8_t key[CELLA_VOL_KEY_BYTES]; /* secret */
} cella_vol_entry;

/* Plaintext metadata. `entries` lives in secure memory since it holds keys. */
typedef struct {
    uint8_t volume_id[CELLA_VOL_ID_BYTES];
    uint64_t version;
    uint32_t count;
    cella_vol_entry *entries; /* sorted by path, strictly increasing */
    size_t entries_bytes;     /* allocation size, for cella_secure_free */
    char *paths;              /* one buffer holding every path */
} cella_vol_meta;

/* The fixed header of volume.meta, parsed. */
typedef struct {
    uint16_t format_version;
    uint8_t volume_id[CELLA_VOL_ID_BYTES];
    uint64_t version;
    uint8_t nonce[CELLA_GCM_IV_BYTES];
    uint32_t body_len;
    uint8_t key_check[CELLA_VOL_KEYCHECK_BYTES];
} cella_vol_header;

typedef struct {
    uint32_t chunk_size;
    uint8_t volume_id[CELLA_VOL_ID_BYTES];
    uint8_t file_id[CELLA_VOL_ID_BYTES];
    uint64_t size;
} cella_vol_file_header;

/* --- paths ---------------------------------------------------------------- */

/* A volume path is relative, '/'-separated, with no empty, "." or ".."
 * component, no NUL, at most 4096 bytes and 255 per component. */
CELLA_RESULT cella_vol_path_check(const char *path, size_t len);

/* --- metadata ------------------------------------------------------------- */

/* Keys derived from the volume key (HKDF-SHA256, salt = volume id). */
CELLA_RESULT cella_vol_derive_meta_key(uint8_t out[static 32], const uint8_t vkey[static 32],
                                       const uint8_t volume_id[static CELLA_VOL_ID_BYTES]);
CELLA_RESULT cella_vol_key_check(uint8_t out[static CELLA_VOL_KEYCHECK_BYTES],
                                 const uint8_t vkey[static 32],
                                 const uint8_t volume_id[static CELLA_VOL_ID_BYTES]);

/* Parses the 96-byte header (no key needed). */
CELLA_RESULT cella_vol_header_parse(cella_slice in, cella_vol_header *h);

/* Serialises and seals `m` under the volume key: `out` receives the full
 * volume.meta bytes, `tag` the volume tag. */
CELLA_RESULT cella_vol_meta_seal(const cella_vol_meta *m, const uint8_t vkey[static 32],
                                 cella_buf *out, uint8_t tag[static CELLA_VOL_TAG_BYTES]);

/* Authenticates and parses volume.meta bytes. On success `m` is filled (free
 * with cella_vol_meta_free) and `tag` holds the volume tag. Errors:
 * CELLA_E_PARSE (malformed), CELLA_E_AUTH (wrong key or tampered). */
CELLA_RESULT cella_vol_meta_open(cella_slice in, const uint8_t vkey[static 32], cella_vol_meta *m,
                                 uint8_t tag[static CELLA_VOL_TAG_BYTES]);

/* Parses a decrypted body (exposed for the fuzzer and tests). */
CELLA_RESULT cella_vol_body_parse(cella_slice body, cella_vol_meta *m);
/* Serialises a body (entries must already be sorted and validated). */
void cella_vol_body_encode(const cella_vol_meta *m, cella_buf *out);

/* Allocates room for `count` entries in secure memory and `paths_bytes` of
 * path storage. */
CELLA_RESULT cella_vol_meta_alloc(cella_vol_meta *m, uint32_t count, size_t paths_bytes);
void cella_vol_meta_free(cella_vol_meta *m);
/* Sorts entries by path and checks paths, uniqueness and file/dir conflicts. */
CELLA_RESULT cella_vol_meta_validate(cella_vol_meta *m, bool sort);
/* Binary search by path; returns NULL if absent. */
const cella_vol_entry *cella_vol_meta_find(const cella_vol_meta *m, const char *path);

/* --- ciphertext files ----------------------------------------------------- */

static inline uint64_t cella_vol_chunk_count(uint64_t size, uint32_t chunk)
{
    return size == 0 ? 1 : (size + chunk - 1) / chunk;
}
/* Byte length of a ciphertext file. */
static inline uint64_t cella_vol_file_bytes(uint64_t size, uint32_t chunk)
{
    return CELLA_VOL_FILE_HEADER_BYTES + size +
           cella_vol_chunk_count(size, chunk) * CELLA_GCM_TAG_BYTES;
}
/* Offset of chunk i's ciphertext in the file. */
static inline uint64_t cella_vol_chunk_offset(uint64_t i, uint32_t chunk)
{
    return CELLA_VOL_FILE_HEADER_BYTES + i * ((uint64_t)chunk + CELLA_GCM_TAG_BYTES);
}

void cella_vol_file_header_encode(const cella_vol_file_header *h,
                                  uint8_t out[static CELLA_VOL_FILE_HEADER_BYTES]);
CELLA_RESULT cella_vol_file_header_parse(cella_slice in, cella_vol_file_header *h);

/* Nonce = 4 zero bytes || chunk index (u64 big-endian). Unique per key because
 * every file version has its own key. */
void cella_vol_chunk_nonce(uint8_t iv[static CELLA_GCM_IV_BYTES], uint64_t index);
/* AAD = volume id || file id || chunk index (u64 LE) || last-chunk flag. */
void cella_vol_chunk_aad(uint8_t aad[static CELLA_VOL_CHUNK_AAD_BYTES],
                         const uint8_t volume_id[static CELLA_VOL_ID_BYTES],
                         const uint8_t file_id[static CELLA_VOL_ID_BYTES], uint64_t index,
                         bool last);

/* Seal/open one chunk with a context already keyed with the file key. `ct`
 * holds n ciphertext bytes followed by the 16-byte tag. */
CELLA_RESULT cella_vol_chunk_seal(cella_gcm *g, const uint8_t volume_id[static CELLA_VOL_ID_BYTES],
                                  const uint8_t file_id[static CELLA_VOL_ID_BYTES], uint64_t index,
                                  bool last, const uint8_t *pt, size_t n, uint8_t *ct);
CELLA_RESULT cella_vol_chunk_open(cella_gcm *g, const uint8_t volume_id[static CELLA_VOL_ID_BYTES],
                                  const uint8_t file_id[static CELLA_VOL_ID_BYTES], uint64_t index,
                                  bool last, const uint8_t *ct, size_t n, uint8_t *pt);

#endif
