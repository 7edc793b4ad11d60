/* Staged output: a command's result (one file, or a directory tree) is built
 * under a staging name beside its destination, on the same file system, and
 * published with one rename(2). Whatever happens before that rename (an
 * error, SIGINT, SIGTERM, SIGHUP, kill -9, a crash), the destination is either
 * absent (or as it was) or complete; never partial.
 *
 * The staging entry is named ".cella-staging-<name>-<pid>-<random>" (<name>
 * is the destination's last component, cut to 160 bytes) and is held under
 * flock(2) while its owner works on it. Nothing treats such a name as a
 * result. It is removed:
 *   - by cella_stage_abort() on any failure;
 *   - on SIGINT, SIGTERM and SIGHUP once cella_stage_trap_signals() ran;
 *   - after kill -9 or a crash, by the next cella_stage_open() for the same
 *     destination, which removes every staging entry of that name whose lock
 *     is free and whose process is gone. A concurrent run's entry is never
 *     touched: it is locked and its process is alive.
 */
#ifndef CELLA_CORE_STAGE_H
#define CELLA_CORE_STAGE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/error.h"

#define CELLA_STAGE_PREFIX ".cella-staging-"

typedef struct {
    int parent;  /* the directory holding the destination and the staging entry */
    int fd;      /* the staging entry: O_RDWR file or O_DIRECTORY, under flock */
    bool is_dir;
    bool done;   /* published or aborted */
    bool published; /* the rename happened: the output is in place, even if a
                     * later sync of its directory failed and publish says so */
    int slot;    /* index in the signal-cleanup registry, or -1 */
    char base[NAME_MAX + 1]; /* the destination's last component */
    char name[NAME_MAX + 1]; /* the staging entry's name in `parent` */
    char where[PATH_MAX];    /* the destination as given, for messages */
} cella_stage;

/* Creates a staging file (mode `mode`) or directory for `dest` (relative to
 * `dirfd`, or AT_FDCWD), after removing stale staging entries left for the
 * same destination. Trailing slashes are ignored; a directory destination
 * that is a symbolic link is resolved (the directory it names is published
 * over). Refuses "", ".", ".." and a directory destination that is a mount
 * point (CELLA_E_UNSUPPORTED: it could not be renamed over). */
CELLA_RESULT cella_stage_open(cella_stage *s, int dirfd, const char *dest, bool is_dir,
                              mode_t mode);

/* Checks that `dest` could be published as new: absent, or, for a directory,
 * an empty directory (CELLA_E_EXISTS otherwise). For an early, clear refusal;
 * cella_stage_publish checks again atomically. */
CELLA_RESULT cella_stage_check_new(int dirfd, const char *dest, bool is_dir);

/* Syncs the staging entry's data and publishes it in one rename. Files: the
 * destination is replaced if `replace`, else it must be absent. Directories:
 * `replace` must be false; the destination must be absent or an empty
 * directory (rename(2) replaces an empty directory atomically and fails on a
 * non-empty one), whose mode is kept. Then syncs the parent directory. */
CELLA_RESULT cella_stage_publish(cella_stage *s, bool replace);

/* Directories only: swaps the staging directory with the existing directory
 * at the destination in one renameat2(RENAME_EXCHANGE), after checking it is
 * still the one described by `old` (device and inode; else nothing changes),
 * then removes the old tree, which now has the staging name. */
CELLA_RESULT cella_stage_publish_exchange(cella_stage *s, const struct stat *old);

/* Removes the staging entry (no-op once published or aborted). */
void cella_stage_abort(cella_stage *s);

/* Takes SIGINT, SIGTERM and SIGHUP on a dedicated thread which removes every
 * live staging entry, then lets the signal kill the process as it would have.
 * Call once, before the process creates any other thread: the signals are
 * blocked in the caller and inherited by threads it creates later. */
CELLA_RESULT cella_stage_trap_signals(void);

#endif
