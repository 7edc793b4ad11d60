/* The shield's tree (inode numbers, parents, children) and its FUSE
 * low-level operations: lookups, attributes, directories, opens, reads
 * (shield_read.c decrypts), statfs. The design is in shield.c's comment. */
#include "runtime/shield_int.h"
#include "runtime/shield_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/log.h"
#include "core/secure.h"

#define NO_NODE UINT32_MAX   /* parent of an entry that is not reachable */
/* The volume cannot change while mounted: the kernel may cache names,
 * attributes and data for as long as it likes. */
#define CACHE_TIMEOUT (365.0 * 86400.0)

/* ==== the tree ============================================================ */

static bool node_is_dir(const cella_shield *s, uint32_t node)
{
    return node == s->root || s->m->entries[node].type == CELLA_VOL_DIR;
}

/* Inode number to node index, or NO_NODE. */
static uint32_t node_of(const cella_shield *s, fuse_ino_t ino)
{
    if (ino == ROOT_INO)
        return s->root;
    if (ino < 2 || ino - 2 >= s->m->count)
        return NO_NODE;
    return (uint32_t)(ino - 2);
}

static fuse_ino_t ino_of(const cella_shield *s, uint32_t node)
{
    return node == s->root ? ROOT_INO : (fuse_ino_t)node + 2;
}

cella_res shield_build_tree(cella_shield *s)
{
    const cella_vol_meta *m = s->m;
    uint32_t n = m->count;
    s->root = n;
    s->parent = calloc(n ? n : 1, sizeof *s->parent);
    s->child_start = calloc((size_t)n + 2, sizeof *s->child_start);
    s->children = calloc(n ? n : 1, sizeof *s->children);
    s->nlink = calloc((size_t)n + 1, sizeof *s->nlink);
    CELLA_ENSURE(s->parent && s->child_start && s->children && s->nlink, CELLA_E_NOMEM,
                 s->mountpoint, "out of memory");
    char *buf = malloc(CELLA_VOL_MAX_PATH + 1);
    CELLA_ENSURE(buf, CELLA_E_NOMEM, s->mountpoint, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const cella_vol_entry *e = &m->entries[i];
        const char *slash = strrchr(e->path, '/');
        if (e->type == CELLA_VOL_FILE)
            s->total_bytes += e->size;
        if (!slash) {
            s->parent[i] = s->root;
            continue;
        }
        size_t len = (size_t)(slash - e->path);
        memcpy(buf, e->path, len);
        buf[len] = '\0';
        const cella_vol_entry *p = cella_vol_meta_find(m, buf);
        if (p && p->type == CELLA_VOL_DIR) {
            s->parent[i] = (uint32_t)(p - m->entries);
        } else {
            /* The format does not require parents to be listed; cella never
             * writes such volumes, and the shield does not invent directories. */
            s->parent[i] = NO_NODE;
            cella_warn("shield: %s has no directory entry for its parent; not shown", e->path);
        }
    }
    free(buf);
    /* Children as compressed rows, in path order. */
    for (uint32_t i = 0; i < n; i++)
        if (s->parent[i] != NO_NODE)
            s->child_start[s->parent[i] + 1]++;
    for (uint32_t k = 1; k <= n + 1; k++)
        s->child_start[k] += s->child_start[k - 1];
    uint32_t *fill = calloc((size_t)n + 1, sizeof *fill);
    CELLA_ENSURE(fill, CELLA_E_NOMEM, s->mountpoint, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = s->parent[i];
        if (p == NO_NODE)
            continue;
        s->children[s->child_start[p] + fill[p]++] = i;
        if (m->entries[i].type == CELLA_VOL_DIR)
            s->nlink[p]++;
    }
    free(fill);
    for (uint32_t k = 0; k <= n; k++)
        s->nlink[k] = node_is_dir(s, k) ? s->nlink[k] + 2 : 1;
    return CELLA_OK_RES;
}

static void fill_stat(const cella_shield *s, uint32_t node, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino_of(s, node);
    st->st_uid = s->uid;
    st->st_gid = s->gid;
    st->st_atim = st->st_mtim = st->st_ctim = s->t0;
    st->st_nlink = s->nlink[node];
    st->st_blksize = 65536;
    if (node == s->root) {
        st->st_mode = S_IFDIR | 0755;
        return;
    }
    const cella_vol_entry *e = &s->m->entries[node];
    if (e->type == CELLA_VOL_DIR) {
        st->st_mode = S_IFDIR | (e->mode & 0777);
        return;
    }
    st->st_mode = S_IFREG | (e->mode & 0777);
    st->st_size = (off_t)e->size;
    st->st_blocks = (blkcnt_t)((e->size + 511) / 512);
    st->st_blksize = e->chunk_size > 65536 ? (blksize_t)e->chunk_size : 65536;
}

/* ==== low-level operations ================================================ */

static void sh_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* Data never changes under a mount: no invalidation on attribute changes. */
    conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
    if (conn->capable & FUSE_CAP_ASYNC_READ)
        conn->want |= FUSE_CAP_ASYNC_READ;
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
        conn->want |= FUSE_CAP_PARALLEL_DIROPS;
}

static void sh_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    cella_shield *s = fuse_req_userdata(req);
    uint32_t p = node_of(s, parent);
    if (p == NO_NODE || !node_is_dir(s, p)) {
        fuse_reply_err(req, p == NO_NODE ? ENOENT : ENOTDIR);
        return;
    }
    char path[CELLA_VOL_MAX_PATH + 1];
    int len = p == s->root ? snprintf(path, sizeof path, "%s", name)
                           : snprintf(path, sizeof path, "%s/%s", s->m->entries[p].path, name);
    if (len < 0 || (size_t)len >= sizeof path) {
        fuse_reply_err(req, ENAMETOOLONG);
        return;
    }
    const cella_vol_entry *e = cella_vol_meta_find(s->m, path);
    struct fuse_entry_param ep;
    memset(&ep, 0, sizeof ep);
    ep.attr_timeout = CACHE_TIMEOUT;
    ep.entry_timeout = CACHE_TIMEOUT;
    if (!e || s->parent[e - s->m->entries] != p) {
        fuse_reply_entry(req, &ep); /* ino 0: a cached negative entry */
        return;
    }
    uint32_t node = (uint32_t)(e - s->m->entries);
    ep.ino = ino_of(s, node);
    ep.generation = 1;
    fill_stat(s, node, &ep.attr);
    fuse_reply_entry(req, &ep);
}

static void sh_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    cella_shield *s = fuse_req_userdata(req);
    uint32_t node = node_of(s, ino);
    if (node == NO_NODE) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct stat st;
    fill_stat(s, node, &st);
    fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void sh_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    cella_shield *s = fuse_req_userdata(req);
    uint32_t node = node_of(s, ino);
    if (node == NO_NODE || !node_is_dir(s, node)) {
        fuse_reply_err(req, node == NO_NODE ? ENOENT : ENOTDIR);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

static void sh_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    cella_shield *s = fuse_req_userdata(req);
    uint32_t node = node_of(s, ino);
    if (node == NO_NODE || !node_is_dir(s, node)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    uint32_t nkids = s->child_start[node + 1] - s->child_start[node];
    size_t used = 0;
    for (uint64_t k = off < 0 ? 0 : (uint64_t)off; k < (uint64_t)nkids + 2; k++) {
        struct stat st;
        memset(&st, 0, sizeof st);
        const char *name;
        if (k < 2) {
            name = k == 0 ? "." : "..";
            st.st_ino = k == 0 ? ino : (node == s->root ? ROOT_INO
                                        : ino_of(s, s->parent[node]));
            st.st_mode = S_IFDIR;
        } else {
            uint32_t c = s->children[s->child_start[node] + (k - 2)];
            const char *slash = strrchr(s->m->entries[c].path, '/');
            name = slash ? slash + 1 : s->m->entries[c].path;
            st.st_ino = ino_of(s, c);
            st.st_mode = s->m->entries[c].type == CELLA_VOL_DIR ? S_IFDIR : S_IFREG;
        }
        size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(k + 1));
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

void shield_file_free(shield_file *h)
{
    if (!h)
        return;
    if (h->fd >= 0)
        close(h->fd);
    if (h->cache)
        cella_secure_free(h->cache, h->cache_cap);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void shield_file_put(shield_file *h)
{
    if (atomic_fetch_sub(&h->refs, 1) == 1)
        shield_file_free(h);
}

static void files_link(cella_shield *s, shield_file *h)
{
    pthread_mutex_lock(&s->pool_lock);
    h->next = s->files;
    if (s->files)
        s->files->prev = h;
    s->files = h;
    pthread_mutex_unlock(&s->pool_lock);
}

static void files_unlink(cella_shield *s, shield_file *h)
{
    pthread_mutex_lock(&s->pool_lock);
    if (h->prev)
        h->prev->next = h->next;
    else
        s->files = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&s->pool_lock);
}

static void sh_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    cella_shield *s = fuse_req_userdata(req);
    uint32_t node = node_of(s, ino);
    if (node == NO_NODE || node_is_dir(s, node)) {
        fuse_reply_err(req, node == NO_NODE ? ENOENT : EISDIR);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EROFS);
        return;
    }
    const cella_vol_entry *e = &s->m->entries[node];
    shield_file *h = calloc(1, sizeof *h);
    if (!h) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    pthread_mutex_init(&h->lock, NULL);
    atomic_init(&h->refs, 1);
    h->e = e;
    h->ino = ino;
    h->direct = (fi->flags & O_DIRECT) != 0;
    h->fd = -1;
    h->cached = NO_CHUNK;
    if (s->vol_dirfd >= 0) {
        char name[2 * CELLA_VOL_ID_BYTES + 1];
        cella_hex_encode(name, e->file_id, CELLA_VOL_ID_BYTES, false);
        h->fd = openat(s->vol_dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        int err = 0;
        if (h->fd < 0) {
            err = errno == ENOENT ? EIO : errno;
            cella_warn("shield: %s: cannot open its ciphertext file: %s", e->path, strerror(errno));
        } else if (fstat(h->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
                   (uint64_t)st.st_size != cella_vol_file_bytes(e->size, e->chunk_size)) {
            err = EIO;
            cella_warn("shield: %s: ciphertext file changed since the volume was opened", e->path);
        }
        if (err) {
            shield_file_free(h);
            fuse_reply_err(req, err);
            return;
        }
    }
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->keep_cache = 1;
    fi->noflush = 1;
    if (fi->flags & O_DIRECT)
        fi->direct_io = 1; /* honour O_DIRECT: exact ranges, no page cache */
    files_link(s, h);
    if (fuse_reply_open(req, fi) != 0) {
        files_unlink(s, h); /* the open was interrupted: no release will come */
        shield_file_free(h);
    }
}

static void sh_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    shield_file *h = (shield_file *)(uintptr_t)fi->fh;
    files_unlink(fuse_req_userdata(req), h);
    shield_file_put(h); /* a read still storing after its reply frees it */
    fuse_reply_err(req, 0);
}

static void sh_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)ino;
    cella_shield *s = fuse_req_userdata(req);
    shield_file *h = (shield_file *)(uintptr_t)fi->fh;
    const cella_vol_entry *e = h->e;
    if (off < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if ((uint64_t)off >= e->size || size == 0) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    size_t n = e->size - (uint64_t)off < size ? (size_t)(e->size - (uint64_t)off) : size;
    uint64_t span = ((uint64_t)off + n - 1) / e->chunk_size - (uint64_t)off / e->chunk_size + 1;
    rbuf *b = shield_pool_get(s, n, (size_t)span * (e->chunk_size + CELLA_GCM_TAG_BYTES));
    if (!b) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int err = h->fd >= 0 ? shield_read_fast(s, h, (uint64_t)off, n, b)
                         : shield_read_slow(s, h, (uint64_t)off, n, b);
    bool store = !err && b->st.len;
    if (store)
        atomic_fetch_add(&h->refs, 1); /* the reply lets the reader close h */
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_buf(req, (const char *)b->pt, n);
    if (store) {
        shield_store_after_reply(s, h, b);
        shield_file_put(h);
    }
    b->st.len = 0;
    shield_pool_put(s, b);
}

static void sh_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    cella_shield *s = fuse_req_userdata(req);
    struct statvfs sv;
    memset(&sv, 0, sizeof sv);
    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_blocks = (fsblkcnt_t)((s->total_bytes + 4095) / 4096);
    sv.f_files = (fsfilcnt_t)s->m->count + 1;
    sv.f_namemax = CELLA_VOL_MAX_NAME;
    sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
    fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops shield_ops = {
    .init = sh_init,
    .lookup = sh_lookup,
    .getattr = sh_getattr,
    .opendir = sh_opendir,
    .readdir = sh_readdir,
    .open = sh_open,
    .release = sh_release,
    .read = sh_read,
    .statfs = sh_statfs,
    /* Everything that would change the tree or its attributes is absent: the
     * mount is read-only (the kernel answers EROFS), and no xattrs exist. */
};
