/* Encrypted volumes on a directory: create/update from a plaintext tree, open
 * with key (and optionally the expected tag), verify, list, decrypt, and read
 * any byte range at random. Bulk work runs on all cores.
 */
#ifndef CELLA_VOLUME_VOLUME_H
#define CELLA_VOLUME_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "volume/format.h"

typedef struct cella_volume cella_volume; /* opaque */

/* Progress of bulk work, called from one thread at most every ~200 ms. */
typedef void (*cella_vol_progress_fn)(uint64_t done, uint64_t total, void *ctx);

typedef struct {
    unsigned threads;     /* 0 = one per online CPU */
    uint32_t chunk_size;  /* 0 = CELLA_VOL_DEFAULT_CHUNK; encrypt only */
    cella_vol_progress_fn progress;
    void *progress_ctx;
} cella_vol_opts;

/* Encrypts the tree at src_dir into vol_dir. If vol_dir holds a volume, it must
 * open with `vkey`; its content is replaced and its version bumped. Otherwise
 * vol_dir must be absent or an empty directory. The new volume is built in a
 * staging directory beside vol_dir (core/stage.h) and published in one step:
 * renamed onto vol_dir, or, for an update, swapped with the old volume
 * (renameat2 RENAME_EXCHANGE), whose files are then removed. A failed or
 * interrupted run leaves vol_dir as it was. Symbolic links and special files
 * in the source are refused. Writes the new tag to `tag`. */
CELLA_RESULT cella_vol_encrypt_dir(const char *src_dir, const char *vol_dir,
                                   const uint8_t vkey[static 32], const cella_vol_opts *opts,
                                   uint8_t tag[static CELLA_VOL_TAG_BYTES]);

/* Like cella_vol_encrypt_dir with the key in the key file `key_path`. If that
 * file does not exist, a fresh key is used and the key file is written (mode
 * 0600) only once the volume is complete, just before it is published: a
 * failed run creates no key file. *created tells whether it was written. */
CELLA_RESULT cella_vol_encrypt_keyfile(const char *src_dir, const char *vol_dir,
                                       const char *key_path, const cella_vol_opts *opts,
                                       uint8_t tag[static CELLA_VOL_TAG_BYTES], bool *created);

/* Opens a volume: authenticates the metadata with `vkey`, compares its tag with
 * `expected_tag` if non-NULL (CELLA_E_ROLLBACK on mismatch), and checks that
 * the directory holds exactly the listed ciphertext files with their sizes and
 * headers. */
CELLA_RESULT cella_vol_open(const char *vol_dir, const uint8_t vkey[static 32],
                            const uint8_t *expected_tag, cella_volume **out);
void cella_vol_close(cella_volume *v);

const cella_vol_meta *cella_vol_meta_of(const cella_volume *v);
void cella_vol_tag(const cella_volume *v, uint8_t tag[static CELLA_VOL_TAG_BYTES]);

/* Authenticates every chunk of every file without writing anything. */
CELLA_RESULT cella_vol_verify(cella_volume *v, const cella_vol_opts *opts);

/* Decrypts into out_dir, which must be absent or an empty directory. The tree
 * is written into a staging directory beside out_dir and renamed onto it in
 * one step only after every chunk authenticated: on failure, or on a trapped
 * signal (core/stage.h), nothing is left behind. */
CELLA_RESULT cella_vol_decrypt(cella_volume *v, const char *out_dir, const cella_vol_opts *opts);

/* Decrypts straight into `dir`, an existing empty directory nobody else sees
 * yet (the runtime's private tmpfs, possibly a mount point, which cannot be
 * renamed over); on failure its content is removed again. */
CELLA_RESULT cella_vol_decrypt_private(cella_volume *v, const char *dir,
                                       const cella_vol_opts *opts);

/* Random access: reads up to `n` bytes of `entry` at `offset` into buf,
 * decrypting only the chunks touched. *got receives the count (short at EOF). */
CELLA_RESULT cella_vol_read(cella_volume *v, const cella_vol_entry *entry, uint64_t offset,
                            void *buf, size_t n, size_t *got);

/* Decrypts one file to a file descriptor (stdout for `volume cat`). */
CELLA_RESULT cella_vol_cat(cella_volume *v, const cella_vol_entry *entry, int out_fd,
                           const cella_vol_opts *opts);

#endif
