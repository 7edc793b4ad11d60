#include "runtime/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/safepath.h"

cella_res cella_image_argv(const cella_app_image *im, const char *const *args, size_t nargs,
                           const char ***argv)
{
    const char *const *tail = nargs ? args : (const char *const *)im->cmd; /* Docker: the task's args replace Cmd */
    size_t ntail = nargs ? nargs : im->ncmd;
    *argv = NULL;
    CELLA_ENSURE(im->nentrypoint + ntail > 0, CELLA_E_USAGE, "image",
                 "the image has no Entrypoint or Cmd and the task gives no args: nothing to run");
    const char **v = calloc(im->nentrypoint + ntail + 1, sizeof *v);
    CELLA_ENSURE(v, CELLA_E_NOMEM, "command", "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < im->nentrypoint; i++)
        v[k++] = im->entrypoint[i];
    for (size_t i = 0; i < ntail; i++)
        v[k++] = tail[i];
    *argv = v;
    return CELLA_OK_RES;
}

/* The length of the name of "NAME=value" (all of it without '='). */
static size_t name_len(const char *e)
{
    const char *q = strchr(e, '=');
    return q ? (size_t)(q - e) : strlen(e);
}

/* The index in `v` (n entries) of the variable named as `e`'s, or n. */
static size_t find_var(const char **v, size_t n, const char *e)
{
    size_t l = name_len(e);
    for (size_t i = 0; i < n; i++)
        if (name_len(v[i]) == l && !strncmp(v[i], e, l))
            return i;
    return n;
}

cella_res cella_image_env(const cella_app_image *im, const char *const *over, const char *home,
                          const char ***env)
{
    size_t nover = 0;
    while (over && over[nover])
        nover++;
    const char **v = calloc(im->nenv + nover + 3, sizeof *v);
    *env = NULL;
    CELLA_ENSURE(v, CELLA_E_NOMEM, "environment", "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < im->nenv; i++) { /* a later duplicate wins, in place */
        size_t at = find_var(v, n, im->env[i]);
        v[at] = im->env[i];
        n += at == n;
    }
    for (size_t i = 0; i < nover; i++) {
        size_t at = find_var(v, n, over[i]);
        v[at] = over[i];
        n += at == n;
    }
    if (find_var(v, n, "PATH=") == n)
        v[n++] = CELLA_IMAGE_DEFAULT_PATH;
    if (find_var(v, n, "HOME=") == n)
        v[n++] = home;
    *env = v;
    return CELLA_OK_RES;
}

/* A decimal uid exactly as passwd writes it (no sign, no blanks). */
static bool uid_is(cella_slice f, uint32_t uid)
{
    if (f.len == 0 || f.len > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < f.len; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(f.p[i] - '0');
    }
    return v == uid;
}

void cella_image_home(cella_slice passwd, uint32_t uid, char *out, size_t cap)
{
    snprintf(out, cap, "HOME=/");
    size_t off = 0;
    while (off < passwd.len) {
        const uint8_t *nl = memchr(passwd.p + off, '\n', passwd.len - off);
        size_t end = nl ? (size_t)(nl - passwd.p) : passwd.len;
        cella_slice f[7];
        size_t nf = 0, s = off;
        /* name:password:uid:gid:gecos:home:shell */
        for (size_t i = off; i <= end && nf < 7; i++) {
            if (i == end || passwd.p[i] == ':') {
                f[nf++] = cella_slice_of(passwd.p + s, i - s);
                s = i + 1;
            }
        }
        off = end + 1;
        if (nf < 6 || !uid_is(f[2], uid))
            continue;
        if (f[5].len && f[5].p[0] == '/' && !memchr(f[5].p, '\0', f[5].len) &&
            f[5].len + 6 <= cap)
            snprintf(out, cap, "HOME=%.*s", (int)f[5].len, (const char *)f[5].p);
        return; /* the first entry of the uid decides, as getpwuid would */
    }
}

/* The image's /etc/passwd, read strictly beneath rootfs (a link there is the
 * image's own, and is not followed: then there is no home). */
static void image_home(const char *rootfs, uint32_t uid, char *out, size_t cap)
{
    snprintf(out, cap, "HOME=/");
    int rfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = rfd >= 0 ? cella_open_beneath(rfd, "etc/passwd", O_RDONLY | O_NONBLOCK, 0) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= CELLA_IMAGE_PASSWD_MAX) {
        uint8_t *b = malloc((size_t)st.st_size);
        if (b && cella_ok(cella_pread_full(fd, b, (size_t)st.st_size, 0, "/etc/passwd")))
            cella_image_home(cella_slice_of(b, (size_t)st.st_size), uid, out, cap);
        else
            cella_error_clear();
        free(b);
    }
    if (fd >= 0)
        close(fd);
    if (rfd >= 0)
        close(rfd);
}

cella_res cella_image_prepare(const cella_app_manifest *m, const char *app_dir,
                              const char *const *args, size_t nargs, const char *const *over,
                              cella_image_run *ir, cella_sandbox_spec *spec)
{
    memset(ir, 0, sizeof *ir);
    const cella_app_image *im = m->image;
    CELLA_ENSURE(im, CELLA_E_USAGE, app_dir, "not an image bundle");
    CELLA_ENSURE((size_t)snprintf(ir->rootfs, sizeof ir->rootfs, "%s/" CELLA_APP_ROOTFS, app_dir) <
                     sizeof ir->rootfs,
                 CELLA_E_TOOBIG, app_dir, "path too long");
    image_home(ir->rootfs, im->uid, ir->home, sizeof ir->home);
    CELLA_TRY(cella_image_argv(im, args, nargs, &ir->argv));
    cella_res r = cella_image_env(im, over, ir->home, &ir->env);
    if (!cella_ok(r)) {
        cella_image_run_free(ir);
        return r;
    }
    spec->argv = ir->argv;
    spec->env = ir->env;
    spec->rootfs = ir->rootfs;
    spec->app_dir = NULL;
    spec->cwd = im->working_dir;
    spec->set_user = true;
    spec->uid = im->uid;
    spec->gid = im->gid;
    return CELLA_OK_RES;
}

void cella_image_run_free(cella_image_run *ir)
{
    free(ir->argv);
    free(ir->env);
    ir->argv = ir->env = NULL;
}
