/* Opening paths beneath a directory without ever leaving it: no "..", no
 * symlinks anywhere along the path (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
 * with a component-by-component O_NOFOLLOW walk where openat2 is missing). */
#ifndef CELLA_CORE_SAFEPATH_H
#define CELLA_CORE_SAFEPATH_H

#include <sys/types.h>

/* Like openat(2), but `path` is resolved strictly beneath `dirfd`. Returns -1
 * with errno set (ELOOP/EXDEV for an escape attempt). */
int cella_open_beneath(int dirfd, const char *path, int flags, mode_t mode);

/* mkdir -p of `path` beneath `dirfd` (each level opened with the same rules).
 * Returns 0 or -1 with errno. */
int cella_mkdirs_beneath(int dirfd, const char *path, mode_t mode);

#endif
