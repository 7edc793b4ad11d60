/* Runs an app in a bubblewrap sandbox: no network (all namespaces unshared),
 * a read-only root, its own volumes bound where the session says, a private
 * /tmp, /proc, a minimal /dev, and CPU, memory, process, stack and wall-clock
 * limits. The root is one of two kinds:
 *   directory bundle  the host's system directories (SYSTEM_DIRS, read-only,
 *                     never its data) with the bundle read-only at /app;
 *   image (rootfs)    the image's root filesystem, read-only, and nothing of
 *                     the host at all (docs/architecture.md, "The sandbox").
 * The namespaces, capabilities and limits are the same for both.
 *
 * Environment values can be secrets: they are set in the child before exec,
 * never passed on bwrap's command line (which any local user can read). */
#ifndef CELLA_RUNTIME_SANDBOX_H
#define CELLA_RUNTIME_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct {
    const char *source; /* host path */
    const char *dest;   /* absolute path inside the sandbox */
    bool writable;
} cella_bind;

typedef struct {
    const char *const *argv; /* command inside the sandbox, NULL-terminated */
    const char *const *env;  /* "NAME=value", NULL-terminated; nothing else is passed */
    const char *cwd;         /* inside the sandbox; default "/" */
    const char *app_dir;     /* bound read-only at /app (may be NULL); not with rootfs */
    /* An image app: this directory (an image bundle's rootfs/) is the sandbox's
     * /, read-only, in place of the host's system directories. NULL: a
     * directory bundle. Mount points the image lacks (/proc, /iexec_in, a
     * volume's path) are made on the sandbox's own root, never in rootfs. */
    const char *rootfs;
    bool set_user;           /* run as uid:gid inside (bwrap --uid/--gid), e.g. the image's user */
    uint32_t uid, gid;
    const cella_bind *binds;
    size_t nbinds;
    /* Memory of the app's whole process tree: a cgroup's memory limit (v2, else
     * v1; no swap) where one can be made (cgroup.h), else RLIMIT_AS of each
     * process. 0 = none */
    uint64_t mem_bytes;
    uint32_t max_pids;       /* processes: cgroup pids.max, else RLIMIT_NPROC; 0 = none */
    uint64_t stack_bytes;    /* RLIMIT_STACK; 0 = inherited */
    uint32_t cpu_seconds;    /* CPU time limit; 0 = none */
    uint32_t wall_seconds;   /* killed after this; 0 = none */
    int stdout_fd, stderr_fd; /* where the app's output goes (-1: inherit) */
} cella_sandbox_spec;

typedef struct {
    int exit_code;   /* the app's exit status, or 128+signal */
    bool timed_out;  /* killed by the wall-clock limit */
    bool cgroup;     /* the limits were a cgroup's (else rlimits) */
    bool oom_killed; /* cgroup: the kernel killed a process of the app at its memory limit */
} cella_sandbox_result;

/* The bubblewrap binary the sandbox runs. */
#define CELLA_BWRAP "/usr/bin/bwrap"

/* True if bubblewrap is installed and can create namespaces here. */
bool cella_sandbox_available(void);
/* The same check (a minimal sandbox with every namespace unshared runs
 * /usr/bin/true); when it fails, `why` (cap bytes, may be NULL) gets the
 * reason: bubblewrap's first line of complaint, e.g. "bwrap: setting up uid
 * map: Permission denied". */
bool cella_sandbox_check(char *why, size_t cap);

CELLA_RESULT cella_sandbox_run(const cella_sandbox_spec *s, cella_sandbox_result *out);

#endif
