/* Confinement after start-up: Landlock (files) and seccomp (system calls).
 * Both apply to the calling thread and every thread or child it creates
 * afterwards, so call them before any thread starts. Neither can be undone. */
#ifndef CELLA_CORE_CONFINE_H
#define CELLA_CORE_CONFINE_H

#include <stdbool.h>

#include "core/error.h"

/* Landlock: every file stays usable except the entries of `dir` for which
 * `hidden(name)` is true, which can no longer be opened (EACCES). The
 * folders from / down to `dir` are frozen: what they held at this call stays
 * usable, but nothing can be created, renamed or removed directly in them, and
 * they cannot be listed. `*abi` is the kernel's Landlock ABI (0: none, the
 * call then does nothing and succeeds; the caller logs it). On ABI 6 and later
 * the process also can no longer signal processes outside its domain. */
CELLA_RESULT cella_landlock_hide(const char *dir, bool (*hidden)(const char *name), int *abi);
/* Landlock: no file can be opened any more (a process that needs none). */
CELLA_RESULT cella_landlock_no_files(int *abi);
/* seccomp (libseccomp): execve and execveat, ptrace, process_vm_readv and
 * process_vm_writev fail with EPERM from now on; with `no_sockets`, socket()
 * too (a process that only uses the sockets it already has). */
CELLA_RESULT cella_seccomp_deny(bool no_sockets);

#endif
