/* The FUSE shield: an open cella volume presented as a read-only file system of
 * plain files, decrypted lazily, chunk by chunk, as the app reads them. Memory
 * does not grow with the volume: a 10 GiB input is served through a few
 * chunk-sized buffers (locked, non-dumpable, wiped).
 *
 * Every byte handed to the kernel comes from a chunk that authenticated; a chunk
 * that does not makes that read fail with EIO (one warning naming the file, never
 * its content), and other ranges of the file still read.
 *
 * Where FUSE cannot mount (no /dev/fuse, no permission), cella_shield_available()
 * says so and the caller falls back to cella_shield_stage_tmpfs().
 *
 * docs/architecture.md, "The FUSE shield", describes the design.
 */
#ifndef CELLA_RUNTIME_SHIELD_H
#define CELLA_RUNTIME_SHIELD_H

#include <stdbool.h>

#include "core/error.h"
#include "volume/volume.h"

typedef struct cella_shield cella_shield; /* opaque */

typedef struct {
    /* The directory the volume was opened from (as given to cella_vol_open).
     * With it, each open file keeps its ciphertext file descriptor, a cipher
     * context and a one-chunk cache (the fast path). NULL: every read goes
     * through cella_vol_read (correct, slower). */
    const char *vol_dir;
    /* FUSE worker threads; 0 = one per CPU, at least 2, at most 8. With
     * fewer than 2, chunks are never stored into the page cache (one worker
     * must stay free to answer reads while another stores). */
    unsigned max_threads;
    /* Kernel readahead of the mount, in KiB (root only; best effort); 0 = 1024.
     * Streaming reads arrive as requests this large (the kernel's default is
     * 128 KiB, ~30% slower). A request fails whole when one of its chunks does
     * not authenticate, so for page-cache readers a tampered chunk makes reads
     * up to this far before it fail too (never return wrong bytes). */
    unsigned readahead_kb;
    /* A read that needs part of a chunk still authenticates all of it; by
     * default the rest of it is then stored into the mount's page cache, so
     * that later reads of it need no round trip (fast path only; not for
     * O_DIRECT opens). true: replies carry only the bytes asked for. */
    bool no_chunk_store;
    bool allow_other;     /* let other users in (non-root needs user_allow_other) */
    bool debug;           /* libfuse's request trace on stderr */
} cella_shield_opts;

/* True where a FUSE mount can work: /dev/fuse opens read-write, and we are
 * either privileged (CAP_SYS_ADMIN) or have fusermount3. When false, *why (if
 * non-NULL) points to a static sentence saying why. */
bool cella_shield_available(const char **why);

/* Mounts an empty FUSE file system at `dir` (an existing directory) and
 * unmounts it at once, without ever serving it: whether a mount really works
 * here, which cella_shield_available (the device and the privileges) cannot
 * tell. libfuse's reasons are logged as warnings. */
CELLA_RESULT cella_shield_try_mount(const char *dir);

/* Mounts `v` read-only at `mountpoint` (an existing directory) and serves it
 * from a multithreaded FUSE loop on its own threads until
 * cella_shield_unmount. `v` must stay open until then. `o` may be NULL.
 * Directories and files keep their modes; owner and group are the caller's.
 * Mount options: ro, default_permissions, nosuid, nodev, noatime (exec is
 * allowed); attributes and data are cached by the kernel (the volume cannot
 * change while mounted). Fails with CELLA_E_UNSUPPORTED when FUSE is not
 * available. */
CELLA_RESULT cella_shield_mount(cella_volume *v, const char *mountpoint,
                                const cella_shield_opts *o, cella_shield **out);

/* True while the file system is mounted and served; false once it was
 * unmounted from outside (umount, fusermount3 -u, cella volume umount). */
bool cella_shield_mounted(const cella_shield *s);

/* The absolute mount point. */
const char *cella_shield_mountpoint(const cella_shield *s);

/* Unmounts (a busy mount is detached lazily and its connection aborted, so
 * this never hangs on an open file), stops the threads and frees everything,
 * wiping every cache. Accepts NULL. Fails only if the mount could not be
 * removed; `s` is freed in every case. */
CELLA_RESULT cella_shield_unmount(cella_shield *s);

/* Unmounts whatever file system is at `mountpoint` (root: umount2, else
 * fusermount3 -u). A busy mount is refused (CELLA_E_IO) unless `lazy`. */
CELLA_RESULT cella_shield_umount_path(const char *mountpoint, bool lazy);

/* The fallback: decrypts the whole volume into `dir`, which must be an
 * already-mounted tmpfs (or ramfs) so that plaintext never reaches a disk
 * (CELLA_E_POLICY otherwise). Uses cella_vol_decrypt_private: `dir` is
 * private to the runtime until the app starts, and is emptied again if any
 * chunk fails authentication. */
CELLA_RESULT cella_shield_stage_tmpfs(cella_volume *v, const char *dir);

#endif
