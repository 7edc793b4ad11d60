/* Directory trees: a sorted walk that never follows links (app/internal.h).
 * Apart from tree.c's tarballs so that measuring an app needs no libarchive. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/internal.h"
#include "core/fs.h"
#include "core/safepath.h"

#define MAX_ENTRIES_WALK CELLA_MAX_ENTRIES_WALK

/* ---- walking a tree ----------------------------------------------------------------- */

void tree_free(tree_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].target);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static cella_res tree_add(tree_list *l, const char *path, char type, uint32_t mode,
                          char *target)
{
    CELLA_ENSURE(l->n < MAX_ENTRIES_WALK, CELLA_E_TOOBIG, path, "more than %u entries",
                 MAX_ENTRIES_WALK);
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        tree_ent *nv = realloc(l->v, nc * sizeof *nv);
        CELLA_ENSURE(nv, CELLA_E_NOMEM, path, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    char *p = cella_xstrdup(path);
    CELLA_ENSURE(p, CELLA_E_NOMEM, path, "out of memory");
    l->v[l->n++] = (tree_ent){p, type, mode, target};
    return CELLA_OK_RES;
}

/* A link's target, verbatim (it is only ever resolved inside the sandbox). */
static cella_res read_link(int dfd, const char *name, const char *path, char **out)
{
    char buf[CELLA_APP_MAX_PATH + 1];
    ssize_t n = readlinkat(dfd, name, buf, sizeof buf);
    CELLA_ENSURE(n >= 0, CELLA_E_IO, path, "readlink: %s", strerror(errno));
    CELLA_ENSURE(n > 0 && (size_t)n <= CELLA_APP_MAX_PATH, CELLA_E_PATH, path,
                 "symbolic link target empty or longer than %u bytes", CELLA_APP_MAX_PATH);
    buf[n] = '\0';
    *out = cella_xstrdup(buf);
    CELLA_ENSURE(*out, CELLA_E_NOMEM, path, "out of memory");
    return CELLA_OK_RES;
}

static cella_res walk(int dfd, const char *prefix, int depth, const char *links_under,
                      bool links, tree_list *l)
{
    CELLA_ENSURE(depth < CELLA_TREE_MAX_DEPTH, CELLA_E_TOOBIG, prefix,
                 "directories nested deeper than %d", CELLA_TREE_MAX_DEPTH);
    int fd = dup(dfd);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, prefix, "dup: %s", strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cella_fail(CELLA_E_IO, prefix, "cannot list directory: %s", strerror(errno));
    }
    cella_res r = CELLA_OK_RES;
    struct dirent *e;
    char path[CELLA_APP_MAX_PATH + 2];
    errno = 0;
    while (cella_ok(r) && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int n = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n > CELLA_APP_MAX_PATH) {
            r = cella_fail(CELLA_E_TOOBIG, e->d_name, "path longer than %u bytes",
                           CELLA_APP_MAX_PATH);
            break;
        }
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            r = cella_fail(CELLA_E_IO, path, "stat: %s", strerror(errno));
        } else if (S_ISLNK(st.st_mode) && !links) {
            r = cella_fail(CELLA_E_PATH, path, "symbolic links are not allowed%s",
                           links_under ? " outside " CELLA_APP_ROOTFS "/" : "");
        } else if (links && (st.st_mode & 07000) && !S_ISLNK(st.st_mode)) {
            r = cella_fail(CELLA_E_PERM, path, "setuid, setgid or sticky bit in an image");
        } else if (S_ISLNK(st.st_mode)) {
            char *target = NULL;
            r = read_link(dfd, e->d_name, path, &target);
            if (cella_ok(r))
                r = tree_add(l, path, 'l', 0, target);
            if (!cella_ok(r))
                free(target);
        } else if (S_ISREG(st.st_mode)) {
            r = tree_add(l, path, 'f', st.st_mode & 07777, NULL);
        } else if (S_ISDIR(st.st_mode)) {
            r = tree_add(l, path, 'd', st.st_mode & 07777, NULL);
            if (cella_ok(r)) {
                int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                    r = cella_fail(CELLA_E_IO, path, "cannot open directory: %s",
                                   strerror(errno));
                } else {
                    bool sub_links = links || (depth == 0 && links_under &&
                                               !strcmp(e->d_name, links_under));
                    r = walk(sub, path, depth + 1, links_under, sub_links, l);
                    close(sub);
                }
            }
        } else {
            r = cella_fail(CELLA_E_PATH, path, "special files are not allowed");
        }
        errno = 0;
    }
    if (cella_ok(r) && errno != 0)
        r = cella_fail(CELLA_E_IO, prefix, "readdir: %s", strerror(errno));
    closedir(d);
    return r;
}

int tree_cmp_ent(const void *a, const void *b)
{
    return strcmp(((const tree_ent *)a)->path, ((const tree_ent *)b)->path);
}

cella_res tree_list_dir(const char *dir, const char *links_under, int *rootfd, tree_list *l)
{
    memset(l, 0, sizeof *l);
    *rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(*rootfd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, dir,
                 "cannot open directory: %s", strerror(errno));
    cella_res r = walk(*rootfd, "", 0, links_under, false, l);
    if (!cella_ok(r)) {
        tree_free(l);
        close(*rootfd);
        *rootfd = -1;
        return r;
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, tree_cmp_ent);
    return CELLA_OK_RES;
}

cella_res tree_open_listed(int rootfd, const char *path, int *fd, struct stat *st)
{
    *fd = cella_open_beneath(rootfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    CELLA_ENSURE(*fd >= 0, CELLA_E_IO, path, "cannot open: %s", strerror(errno));
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return cella_fail(CELLA_E_PATH, path, "not a regular file (changed while reading?)");
    }
    return CELLA_OK_RES;
}

