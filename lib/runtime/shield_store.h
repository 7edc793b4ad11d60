/* The shield's chunk store (internal to lib/runtime/shield*.c).
 *
 * A read smaller than a chunk still decrypts and authenticates the whole
 * chunk. The store hands the rest of that authenticated chunk to the kernel's
 * page cache of the mount (FUSE_NOTIFY_STORE) once the read is answered, so
 * that the next reads of it are served by the kernel without a round trip to
 * the shield. That page cache is the one the mount already keeps (keep_cache):
 * it belongs to this mount's inodes, is readable only through this mount, and
 * goes with it.
 *
 * The kernel locks each page it fills, and a page may be locked by a read
 * that waits for a FUSE worker: a worker that stores may wait for another
 * worker. The shield therefore lets at most (workers - 1) store at once, so one
 * worker is always free to answer reads, and stores only once the read is
 * answered (the pages of that request are then unlocked and up to date). A
 * chunk whose read is answered while all the allowed workers store waits in a
 * short queue for them (shield_store_after_reply).
 *
 * docs/architecture.md, "The FUSE shield", describes the design.
 */
#ifndef CELLA_RUNTIME_SHIELD_STORE_H
#define CELLA_RUNTIME_SHIELD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct fuse_session;

/* Chunks larger than this are not stored: a small read of a 16 MiB chunk
 * would otherwise put 16 MiB into the page cache. */
#define SHIELD_STORE_MAX_CHUNK (1024u * 1024u)

/* Each store is a write to /dev/fuse, a system call that costs as much as
 * copying about 16 KiB more (2.4 us on the 2-core VM of bench/shield.sh). */
#define SHIELD_STORE_RESTORE_MAX (16u * 1024u)

/* `chunk` holds the authenticated plaintext of file bytes [start, start + len)
 * of inode `ino` (file size `file_size`), a whole chunk, whose bytes
 * [req_lo, req_hi) were just replied (so are already cached). Stores its pages
 * into the kernel's page cache, but any page that reaches outside the chunk
 * (but the file's last, partial page), and the replied pages where skipping
 * them needs no second store or they exceed SHIELD_STORE_RESTORE_MAX. Call only
 * once the read is answered. Best effort: a failure only means later reads ask
 * again. */
void shield_store_pages(struct fuse_session *se, uint64_t ino, uint64_t file_size, uint64_t start,
                        size_t len, uint64_t req_lo, uint64_t req_hi, const uint8_t *chunk);

#endif
