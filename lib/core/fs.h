/* File helpers. Every write that replaces a file is atomic: a staging file in
 * the same directory (core/stage.h), fsync, rename over the target, fsync of
 * the directory. After a crash or kill -9 the target is either the old content
 * or the new, never a mix; the next write to the same target removes the
 * abandoned staging file.
 */
#ifndef CELLA_CORE_FS_H
#define CELLA_CORE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

/* Atomically writes `data` to `path` (relative to `dirfd`, or AT_FDCWD) with
 * `mode`. If `exclusive`, fails with CELLA_E_EXISTS when the target exists. */
CELLA_RESULT cella_write_file_atomic(int dirfd, const char *path, const void *data, size_t n,
                                     mode_t mode, bool exclusive);

/* Reads a whole regular file (not following a final symlink) into a malloc'd
 * buffer, refusing files larger than `max`. If `secret`, the buffer comes from
 * cella_secure_alloc and must be freed with cella_secure_free(*out, *len + 1).
 * The buffer is NUL-terminated for convenience. */
CELLA_RESULT cella_read_file(int dirfd, const char *path, size_t max, bool secret,
                             uint8_t **out, size_t *len);

/* Full-length pread/pwrite loops that retry on EINTR and short transfers.
 * `what` names the file in errors. */
CELLA_RESULT cella_pread_full(int fd, void *buf, size_t n, uint64_t off, const char *what);
CELLA_RESULT cella_pwrite_full(int fd, const void *buf, size_t n, uint64_t off,
                               const char *what);

CELLA_RESULT cella_fsync_fd(int fd, const char *what);
/* Creates the directory `path` (mode 0700) unless it exists. */
CELLA_RESULT cella_mkdir_private(const char *path);
CELLA_RESULT cella_fsync_dir(int dirfd, const char *path, const char *what);

/* Opens the directory of `path` (".", "/" or its dirname) and copies the last
 * component, which must be a real name (not empty, "." or ".."), into `base`. */
CELLA_RESULT cella_open_parent(const char *path, int *dfd, char *base, size_t cap);

/* Removes a directory tree without following symlinks (used to clean up
 * partial output). Best effort: errors are ignored. */
void cella_rm_tree(int parent, const char *path);

#endif
