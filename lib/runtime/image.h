/* How an image app runs (issue 16, docs/architecture.md "The sandbox"): with
 * the image's root filesystem as / (sandbox.h, rootfs), its user, its working
 * directory, and its command and environment combined with the task's as
 * Docker combines them:
 *
 *   argv = Entrypoint ++ (the task's args if any, else Cmd)
 *   env  = the image's Env, each variable the task sets replacing the image's
 *          of the same name (the others appended); PATH and HOME, when
 *          neither sets them, as Docker's: PATH=CELLA_IMAGE_DEFAULT_PATH and
 *          HOME the user's home in the image's /etc/passwd, else "/"
 *
 * A relative argv[0] is found through that PATH inside the sandbox (bubblewrap
 * execs it with execvp after entering the image's root). Directory bundles do
 * not come here. */
#ifndef CELLA_RUNTIME_IMAGE_H
#define CELLA_RUNTIME_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "core/error.h"
#include "core/slice.h"
#include "runtime/sandbox.h"

#define CELLA_IMAGE_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CELLA_IMAGE_PASSWD_MAX (1u << 20) /* bytes of the image's /etc/passwd read */

typedef struct {
    const char **argv, **env; /* NULL-terminated; the strings are borrowed (or home) */
    char rootfs[4200];
    char home[4200];          /* "HOME=..." for when the image sets none */
} cella_image_run;

/* Entrypoint ++ (args if nargs, else Cmd), NULL-terminated, malloc'd (the
 * strings are borrowed). CELLA_E_USAGE when that is empty. */
CELLA_RESULT cella_image_argv(const cella_app_image *im, const char *const *args, size_t nargs,
                              const char ***argv);

/* The image's env with `over` ("NAME=value", NULL-terminated) on top, then
 * the PATH default and `home` ("HOME=...") when neither sets them; malloc'd,
 * NULL-terminated, the strings borrowed. */
CELLA_RESULT cella_image_env(const cella_app_image *im, const char *const *over, const char *home,
                             const char ***env);

/* "HOME=<dir>" into `out`: the sixth field of the first line of `passwd`
 * (the image's /etc/passwd: untrusted bytes) whose third field is `uid` in
 * decimal, when it is an absolute path that fits; else "HOME=/" (runc's rule,
 * what Docker gives). */
void cella_image_home(cella_slice passwd, uint32_t uid, char *out, size_t cap);

/* Fills `spec` (argv, env, rootfs, cwd, user; app_dir NULL) for the image app
 * of the bundle `app_dir` (manifest `m`, m->image set), with the task's args
 * and variables. `ir` holds what spec points to until cella_image_run_free. */
CELLA_RESULT cella_image_prepare(const cella_app_manifest *m, const char *app_dir,
                                 const char *const *args, size_t nargs, const char *const *over,
                                 cella_image_run *ir, cella_sandbox_spec *spec);
void cella_image_run_free(cella_image_run *ir);

#endif
