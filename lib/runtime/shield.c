/* The FUSE shield: a read-only libfuse3 low-level file system over an open
 * cella volume. See shield.h and docs/architecture.md ("The FUSE shield").
 *
 * Inodes are fixed for the life of the mount: the root is 1 and metadata entry
 * i is i + 2, so lookup is a binary search over the sorted entry paths and
 * forget has nothing to do. Each open file owns (fast path) a descriptor of its
 * ciphertext file and a one-chunk cache in secure memory. A read takes a reply
 * buffer from a small pool (secure plaintext room, ciphertext room and a cipher
 * context that stays keyed for the file it last served), preads the touched
 * chunks in one call and decrypts whole chunks straight into the reply. Reads of
 * one file run in parallel: only the cache is under a lock.
 */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "runtime/shield.h"
#include "runtime/shield_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"

extern char **environ;

#define ROOT_INO 1
#define NO_NODE UINT32_MAX   /* parent of an entry that is not reachable */
#define NO_CHUNK UINT64_MAX
/* The volume cannot change while mounted: the kernel may cache names,
 * attributes and data for as long as it likes. */
#define CACHE_TIMEOUT (365.0 * 86400.0)
#define POOL_MAX 64
#define THREADS_DEFAULT_MIN 2 /* one may store chunks while the other answers */
#define THREADS_DEFAULT_MAX 8
#define THREADS_MAX 32
#define READAHEAD_KB_DEFAULT 1024
#define ROUND_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6

/* A chunk to store into the page cache once the read is answered: file bytes
 * [start, start + len) (a whole chunk, in the reply buffer's `chunk`), but for
 * the replied [lo, hi). len 0: none. */
typedef struct {
    uint64_t start, lo, hi;
    size_t len;
} pending_store;

/* A reply buffer: plaintext (secure) and ciphertext (plain) room. */
typedef struct {
    uint8_t *pt;
    size_t pt_cap;
    uint8_t *ct;
    size_t ct_cap;
    uint8_t *chunk; /* secure: one partial chunk */
    size_t chunk_cap;
    cella_gcm *g;                 /* opening context, keyed for `keyed` */
    const cella_vol_entry *keyed; /* whose key `g` holds, or NULL */
    pending_store st;
    bool used; /* allocated slot */
    bool busy; /* taken by a read */
} rbuf;

struct cella_shield {
    cella_volume *v;
    const cella_vol_meta *m;
    char *mountpoint;
    int vol_dirfd; /* -1: reads go through cella_vol_read */
    uid_t uid;
    gid_t gid;
    struct timespec t0;
    uint32_t root;         /* node index of the root: m->count */
    uint32_t *parent;      /* per entry: node of its directory, or NO_NODE */
    uint32_t *child_start; /* per node (count + 1 of them) and one past the end */
    uint32_t *children;
    uint32_t *nlink; /* per node */
    uint64_t total_bytes;
    struct fuse_session *se;
    /* Workers that may store chunks into the page cache at once (0: none),
     * and those that do (shield_store.h says why one must stay free). */
    unsigned store_max;
    atomic_uint storing;
    struct fuse_loop_config *cfg;
    pthread_t loop;
    bool loop_started;
    atomic_bool loop_done;
    bool have_conn;
    unsigned conn_id; /* /sys/fs/fuse/connections/<id> */
    pthread_mutex_t pool_lock; /* also guards `files` */
    rbuf pool[POOL_MAX];
    struct shield_file *files; /* open files (freed at unmount if never released) */
};

/* One open file. Reads run concurrently (the kernel sends readahead in
 * parallel); `lock` guards only the one-chunk cache. */
typedef struct shield_file {
    pthread_mutex_t lock;
    struct shield_file *prev, *next; /* the shield's open files */
    const cella_vol_entry *e;
    fuse_ino_t ino;
    bool direct; /* opened O_DIRECT: the page cache is not used */
    int fd; /* ciphertext file, or -1 (slow path) */
    uint64_t cached;
    uint8_t *cache; /* secure, cache_cap >= chunk_size bytes */
    size_t cache_cap;
} shield_file;

/* ==== libfuse's log lines into cella's logger ============================= */

__attribute__((format(printf, 2, 0))) static void fuse_log_to_cella(enum fuse_log_level level,
                                                                    const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    /* libfuse's errors become warnings: the caller reports the failure itself
     * as one error line, and these lines say why. */
    cella_log_level l = level <= FUSE_LOG_WARNING ? CELLA_LOG_WARN
                        : level <= FUSE_LOG_INFO  ? CELLA_LOG_INFO
                                                  : CELLA_LOG_DEBUG;
    const char *p = strncmp(line, "fuse: ", 6) ? line : line + 6;
    cella_log(l, "fuse: %s", p);
}

static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;
static void install_fuse_log(void) { fuse_set_log_func(fuse_log_to_cella); }

/* ==== availability ======================================================== */

static bool has_cap_sys_admin(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return false;
    char line[256];
    unsigned long long caps = 0;
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            found = true;
            break;
        }
    fclose(f);
    return found && (caps & (1ull << 21)); /* CAP_SYS_ADMIN */
}

static bool setuid_fusermount(void)
{
    const char *cands[] = {"/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        struct stat st;
        if (stat(cands[i], &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_ISUID) &&
            st.st_uid == 0)
            return true;
    }
    return false;
}

bool cella_shield_available(const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ENOENT   ? "no /dev/fuse (the fuse module is not loaded or not in this container)"
               : errno == EACCES ? "no permission to open /dev/fuse"
               : errno == EPERM  ? "opening /dev/fuse is not permitted here"
                                 : "cannot open /dev/fuse";
        return false;
    }
    close(fd);
    if (has_cap_sys_admin() || setuid_fusermount()) {
        *why = "available";
        return true;
    }
    *why = "not privileged (no CAP_SYS_ADMIN) and no setuid-root fusermount3";
    return false;
}

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

static cella_res build_tree(cella_shield *s)
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

/* ==== reply buffers ======================================================= */

static rbuf *pool_get(cella_shield *s, size_t pt_need, size_t ct_need)
{
    pt_need = ROUND_UP(pt_need ? pt_need : 1, 128u * 1024u);
    ct_need = ROUND_UP(ct_need ? ct_need : 1, 128u * 1024u);
    pthread_mutex_lock(&s->pool_lock);
    rbuf *b = NULL;
    for (int i = 0; i < POOL_MAX && !b; i++)
        if (s->pool[i].used && !s->pool[i].busy)
            b = &s->pool[i];
    for (int i = 0; i < POOL_MAX && !b; i++)
        if (!s->pool[i].used) {
            b = &s->pool[i];
            b->used = true;
        }
    if (b)
        b->busy = true;
    pthread_mutex_unlock(&s->pool_lock);
    if (!b)
        return NULL;
    if (b->pt_cap < pt_need) {
        if (b->pt)
            cella_secure_free(b->pt, b->pt_cap);
        b->pt_cap = 0;
        b->pt = cella_secure_alloc(pt_need);
        if (b->pt)
            b->pt_cap = pt_need;
    }
    if (b->ct_cap < ct_need) {
        free(b->ct);
        b->ct_cap = 0;
        b->ct = malloc(ct_need);
        if (b->ct)
            b->ct_cap = ct_need;
    }
    if (!b->g)
        b->g = cella_gcm_new();
    if (!b->pt || !b->ct || !b->g) {
        pthread_mutex_lock(&s->pool_lock);
        b->busy = false;
        pthread_mutex_unlock(&s->pool_lock);
        return NULL;
    }
    return b;
}

static void pool_put(cella_shield *s, rbuf *b)
{
    pthread_mutex_lock(&s->pool_lock);
    b->busy = false;
    pthread_mutex_unlock(&s->pool_lock);
}

static void pool_free(cella_shield *s)
{
    for (int i = 0; i < POOL_MAX; i++) {
        if (s->pool[i].pt)
            cella_secure_free(s->pool[i].pt, s->pool[i].pt_cap);
        free(s->pool[i].ct);
        if (s->pool[i].chunk)
            cella_secure_free(s->pool[i].chunk, s->pool[i].chunk_cap);
        cella_gcm_free(s->pool[i].g);
        memset(&s->pool[i], 0, sizeof s->pool[i]);
    }
}

/* ==== reading ============================================================= */

static size_t chunk_len(const cella_vol_entry *e, uint64_t i)
{
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    return (size_t)(i + 1 == nch ? e->size - i * e->chunk_size : e->chunk_size);
}

/* Copies the part of plaintext chunk i (in `chunk`, `clen` bytes) that falls
 * in [off, off + n) to out. */
static void copy_overlap(const cella_vol_entry *e, uint64_t i, const uint8_t *chunk, size_t clen,
                         uint64_t off, size_t n, uint8_t *out)
{
    uint64_t cs = i * e->chunk_size, ce = cs + clen;
    uint64_t a = off > cs ? off : cs, b = off + n < ce ? off + n : ce;
    if (b > a)
        memcpy(out + (a - off), chunk + (a - cs), (size_t)(b - a));
}

static void warn_auth(const cella_vol_entry *e, uint64_t chunk)
{
    cella_warn("shield: %s: chunk %llu failed authentication (tampered or corrupted); read "
               "refused with EIO",
               e->path, (unsigned long long)chunk);
}

/* Copies what the file's one-chunk cache holds of [off, off + n) for chunks
 * `first` and `last`; *lo / *hi are narrowed to the chunks still needed. */
static void from_cache(shield_file *h, uint64_t off, size_t n, uint8_t *out, uint64_t *lo,
                       uint64_t *hi)
{
    pthread_mutex_lock(&h->lock);
    if (h->cached != NO_CHUNK) {
        if (h->cached == *lo) {
            copy_overlap(h->e, *lo, h->cache, chunk_len(h->e, *lo), off, n, out);
            (*lo)++;
        } else if (h->cached == *hi) {
            copy_overlap(h->e, *hi, h->cache, chunk_len(h->e, *hi), off, n, out);
            (*hi)--;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* Makes the chunk just decrypted into b->chunk the file's cached chunk, by
 * swapping buffers (no copy); the old cache becomes the reply buffer's. */
static void to_cache(shield_file *h, uint64_t i, rbuf *b)
{
    pthread_mutex_lock(&h->lock);
    uint8_t *p = h->cache;
    size_t cap = h->cache_cap;
    h->cache = b->chunk;
    h->cache_cap = b->chunk_cap;
    h->cached = i;
    b->chunk = p;
    b->chunk_cap = cap;
    pthread_mutex_unlock(&h->lock);
}

/* May this read store its last chunk (of `clen` bytes) into the page cache?
 * Not for O_DIRECT opens (they bypass the page cache), nor for huge chunks,
 * nor when store_max workers already store. A true answer must be balanced by
 * a decrement of s->storing. */
static bool store_permit(cella_shield *s, const shield_file *h, size_t clen)
{
    if (h->direct || clen > SHIELD_STORE_MAX_CHUNK)
        return false;
    if (atomic_fetch_add(&s->storing, 1) < s->store_max)
        return true;
    atomic_fetch_sub(&s->storing, 1);
    return false;
}

/* Fills b->pt[0..n) with plaintext [off, off + n) of h's file. Returns 0 or an
 * errno. Never leaves unauthenticated bytes in a buffer. */
static int read_fast(cella_shield *s, shield_file *h, uint64_t off, size_t n, rbuf *b)
{
    const cella_vol_entry *e = h->e;
    const uint32_t C = e->chunk_size;
    const uint64_t nch = cella_vol_chunk_count(e->size, C);
    uint64_t lo = off / C, hi = (off + n - 1) / C;
    uint8_t *out = b->pt;
    from_cache(h, off, n, out, &lo, &hi);
    if (lo > hi || hi == UINT64_MAX)
        return 0;
    if (b->keyed != e) {
        b->keyed = NULL;
        if (!cella_ok(cella_gcm_set_key(b->g, e->key, false)))
            return ENOMEM;
        b->keyed = e;
    }
    size_t ctlen = (size_t)(hi - lo) * (C + CELLA_GCM_TAG_BYTES) + chunk_len(e, hi) +
                   CELLA_GCM_TAG_BYTES;
    if (!cella_ok(cella_pread_full(h->fd, b->ct, ctlen, cella_vol_chunk_offset(lo, C), e->path))) {
        cella_warn("shield: %s: cannot read ciphertext: %s", e->path, cella_error_what());
        return EIO;
    }
    for (uint64_t i = lo; i <= hi; i++) {
        size_t clen = chunk_len(e, i);
        uint64_t cs = i * C;
        const uint8_t *ct = b->ct + (size_t)(i - lo) * (C + CELLA_GCM_TAG_BYTES);
        bool whole = cs >= off && cs + clen <= off + n;
        if (!whole && (!b->chunk || b->chunk_cap < C)) {
            if (b->chunk)
                cella_secure_free(b->chunk, b->chunk_cap);
            b->chunk_cap = 0;
            b->chunk = cella_secure_alloc(C);
            if (!b->chunk)
                return ENOMEM;
            b->chunk_cap = C;
        }
        uint8_t *dst = whole ? out + (cs - off) : b->chunk;
        cella_res r = cella_vol_chunk_open(b->g, s->m->volume_id, e->file_id, i, i + 1 == nch, ct,
                                           clen, dst);
        if (!cella_ok(r)) {
            cella_wipe(out, n);
            if (r.code == CELLA_E_AUTH)
                warn_auth(e, i);
            else
                cella_warn("shield: %s: chunk %llu: %s", e->path, (unsigned long long)i,
                           cella_error_what());
            return EIO;
        }
        if (!whole) {
            copy_overlap(e, i, b->chunk, clen, off, n, out);
            /* The rest of this authenticated chunk goes to the page cache
             * after the reply, or else stays as the file's one cached chunk. */
            if (i == hi && store_permit(s, h, clen))
                b->st = (pending_store){.start = cs, .lo = off, .hi = off + n, .len = clen};
            else
                to_cache(h, i, b);
        }
    }
    return 0;
}

static int read_slow(cella_shield *s, shield_file *h, uint64_t off, size_t n, rbuf *b)
{
    size_t got = 0;
    cella_res r = cella_vol_read(s->v, h->e, off, b->pt, n, &got);
    if (!cella_ok(r)) {
        if (r.code == CELLA_E_AUTH)
            cella_warn("shield: %s: %s; read refused with EIO", h->e->path, cella_error_what());
        else
            cella_warn("shield: %s: %s", h->e->path, cella_error_what());
        return EIO;
    }
    if (got != n) {
        cella_wipe(b->pt, n);
        return EIO;
    }
    return 0;
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

static void file_free(shield_file *h)
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
            file_free(h);
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
        file_free(h);
    }
}

static void sh_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    shield_file *h = (shield_file *)(uintptr_t)fi->fh;
    files_unlink(fuse_req_userdata(req), h);
    file_free(h);
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
    rbuf *b = pool_get(s, n, (size_t)span * (e->chunk_size + CELLA_GCM_TAG_BYTES));
    if (!b) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int err = h->fd >= 0 ? read_fast(s, h, (uint64_t)off, n, b)
                         : read_slow(s, h, (uint64_t)off, n, b);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_buf(req, (const char *)b->pt, n);
    if (b->st.len) {
        if (!err)
            shield_store_pages(s->se, h->ino, e->size, b->st.start, b->st.len, b->st.lo,
                               b->st.hi, b->chunk);
        b->st.len = 0;
        atomic_fetch_sub(&s->storing, 1);
    }
    pool_put(s, b);
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

static const struct fuse_lowlevel_ops g_ops = {
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

/* ==== mount / unmount ===================================================== */

static void *loop_main(void *arg)
{
    cella_shield *s = arg;
    /* Signals belong to the application, never to FUSE workers (which
     * inherit this mask). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    fuse_session_loop_mt(s->se, s->cfg);
    atomic_store(&s->loop_done, true);
    return NULL;
}

/* Returns 0 or an errno. */
static int run_fusermount(const char *mp, bool lazy)
{
    char *argv[] = {"fusermount3", "-u", "-q", lazy ? "-z" : NULL, NULL, NULL};
    argv[lazy ? 4 : 3] = (char *)mp;
    pid_t pid;
    int rc = posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ);
    if (rc != 0)
        return rc;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EBUSY;
}

static int do_umount(const char *mp, bool lazy)
{
    if (geteuid() == 0) {
        if (umount2(mp, lazy ? MNT_DETACH : 0) == 0)
            return 0;
        if (errno != EPERM)
            return errno;
    }
    return run_fusermount(mp, lazy);
}

/* Undoes the octal escapes of /proc/self/mounts ("\040" for a space) in place. */
static void unescape_mount_field(char *p)
{
    char *w = p;
    for (char *r = p; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* True if a file system of type `type` (NULL: any) is mounted exactly at `abs`. */
static bool is_mounted_at(const char *abs, const char *want)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *save = NULL;
        char *src = strtok_r(line, " ", &save);
        char *dir = src ? strtok_r(NULL, " ", &save) : NULL;
        char *type = dir ? strtok_r(NULL, " ", &save) : NULL;
        if (!type)
            continue;
        unescape_mount_field(dir);
        found = !strcmp(dir, abs) && (!want || !strcmp(type, want));
    }
    fclose(f);
    return found;
}

/* Before any mount: FUSE is usable, libfuse logs through cella, and the
 * mount point's absolute path (*abs, malloc'd). */
static cella_res mount_point(const char *dir, char **abs)
{
    const char *why;
    CELLA_ENSURE(cella_shield_available(&why), CELLA_E_UNSUPPORTED, dir,
                 "FUSE is not available: %s", why);
    pthread_once(&g_log_once, install_fuse_log);
    *abs = realpath(dir, NULL);
    CELLA_ENSURE(*abs, CELLA_E_IO, dir, "cannot resolve mount point: %s", strerror(errno));
    return CELLA_OK_RES;
}

cella_res cella_shield_try_mount(const char *dir)
{
    char *abs;
    CELLA_TRY(mount_point(dir, &abs));
    static const struct fuse_lowlevel_ops none;
    char *argv[] = {"cella-probe", "-o", "ro,nosuid,nodev,fsname=cella,subtype=cella-probe", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse_session *se = fuse_session_new(&args, &none, sizeof none, NULL);
    fuse_opt_free_args(&args);
    int rc = se ? fuse_session_mount(se, abs) : -1;
    /* never served: nothing may look into it before it goes */
    if (rc == 0)
        fuse_session_unmount(se);
    if (se)
        fuse_session_destroy(se);
    bool left = rc == 0 && is_mounted_at(abs, NULL);
    free(abs);
    CELLA_ENSURE(se, CELLA_E_IO, dir, "cannot create a FUSE session");
    CELLA_ENSURE(rc == 0, CELLA_E_UNSUPPORTED, dir,
                 "cannot mount a FUSE file system (see the 'fuse:' warning above)");
    CELLA_ENSURE(!left, CELLA_E_IO, dir, "the test mount could not be removed");
    return CELLA_OK_RES;
}

cella_res cella_shield_umount_path(const char *mountpoint, bool lazy)
{
    char *abs = realpath(mountpoint, NULL);
    CELLA_ENSURE(abs, CELLA_E_NOTFOUND, mountpoint, "cannot resolve mount point: %s",
                 strerror(errno));
    bool ours = is_mounted_at(abs, "fuse.cella");
    free(abs);
    CELLA_ENSURE(ours, CELLA_E_NOTFOUND, mountpoint, "no cella shield is mounted here");
    int err = do_umount(mountpoint, lazy);
    if (err == 0)
        return CELLA_OK_RES;
    if (err == EBUSY)
        return cella_fail(CELLA_E_IO, mountpoint,
                          "cannot unmount: busy (files are open in it, or a process uses it as "
                          "its directory)");
    if (err == EINVAL)
        return cella_fail(CELLA_E_NOTFOUND, mountpoint, "not a mount point");
    return cella_fail(CELLA_E_IO, mountpoint, "cannot unmount: %s", strerror(err));
}

/* Severs the connection through fusectl, so that a detached but busy mount
 * stops being served (its open files then read ENOTCONN). */
static void abort_conn(cella_shield *s)
{
    if (!s->have_conn)
        return;
    char p[96];
    snprintf(p, sizeof p, "/sys/fs/fuse/connections/%u/abort", s->conn_id);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && geteuid() == 0) {
        /* fusectl is not mounted here: mount it (as systemd does at boot). */
        if (mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL) == 0)
            fd = open(p, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return;
    if (write(fd, "1", 1) != 1) {
        /* nothing more to try */
    }
    close(fd);
}

static void shield_free(cella_shield *s)
{
    if (s->cfg)
        fuse_loop_cfg_destroy(s->cfg);
    if (s->vol_dirfd >= 0)
        close(s->vol_dirfd);
    /* Files still open when the connection was severed get no release. */
    while (s->files) {
        shield_file *h = s->files;
        s->files = h->next;
        file_free(h);
    }
    pool_free(s);
    pthread_mutex_destroy(&s->pool_lock);
    free(s->parent);
    free(s->child_start);
    free(s->children);
    free(s->nlink);
    free(s->mountpoint);
    free(s);
}

/* The kernel reads ahead 128 KiB on a FUSE mount by default, so streaming
 * reads arrive as 128 KiB requests; a larger window means fewer, larger
 * requests (the mount's own bdi; needs root; best effort). A request fails
 * whole when one of its chunks does not authenticate, so a larger window also
 * widens what a tampered chunk takes down for page-cache readers. */
static void set_readahead(dev_t dev, unsigned kb)
{
    char p[96], v[32];
    snprintf(p, sizeof p, "/sys/class/bdi/%u:%u/read_ahead_kb", major(dev), minor(dev));
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    int len = snprintf(v, sizeof v, "%u", kb);
    if (write(fd, v, (size_t)len) != len)
        cella_debug("shield: cannot set read_ahead_kb: %s", strerror(errno));
    close(fd);
}

/* One worker per CPU, at least 2 and at most 8. The kernel hands each request
 * to the worker that has waited longest, so idle workers beyond the CPUs only
 * make every request wake a colder thread: on 2 shared cores, a random 4 KiB
 * read that missed the page cache took 79 to 99 us (median of 5000) with 8
 * workers, 62 to 64 us with 2, in the same runs (bench/shield.sh's reads). */
static unsigned threads_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < THREADS_DEFAULT_MIN)
        return THREADS_DEFAULT_MIN;
    return n > THREADS_DEFAULT_MAX ? THREADS_DEFAULT_MAX : (unsigned)n;
}

static bool join_within(cella_shield *s, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return pthread_timedjoin_np(s->loop, NULL, &ts) == 0;
}

cella_res cella_shield_unmount(cella_shield *s)
{
    if (!s)
        return CELLA_OK_RES;
    cella_res r = CELLA_OK_RES;
    if (s->loop_started) {
        bool joined = false;
        if (!atomic_load(&s->loop_done)) {
            int err = do_umount(s->mountpoint, false);
            if (err == EBUSY) {
                /* Open files keep it busy: detach it from the tree now and
                 * sever the connection so that the threads can stop. */
                err = do_umount(s->mountpoint, true);
                abort_conn(s);
            }
            if (err != 0 && err != EINVAL)
                r = cella_fail(CELLA_E_IO, s->mountpoint, "cannot unmount: %s", strerror(err));
        }
        joined = join_within(s, 5);
        if (!joined) {
            abort_conn(s);
            fuse_session_exit(s->se);
            joined = join_within(s, 5);
        }
        if (!joined) {
            /* Still served for files that stay open: the threads use `s`,
             * which must therefore stay allocated. */
            cella_warn("shield: %s: detached, but still in use; leaving it to its last reader",
                       s->mountpoint);
            return cella_fail(CELLA_E_IO, s->mountpoint,
                              "file system still in use after unmount (its connection could not "
                              "be aborted)");
        }
    }
    if (s->se) {
        fuse_session_unmount(s->se); /* closes the channel; no-op if already gone */
        fuse_session_destroy(s->se);
    }
    shield_free(s);
    return r;
}

bool cella_shield_mounted(const cella_shield *s)
{
    return s && s->loop_started && !atomic_load(&s->loop_done);
}

const char *cella_shield_mountpoint(const cella_shield *s) { return s->mountpoint; }

cella_res cella_shield_mount(cella_volume *v, const char *mountpoint, const cella_shield_opts *o,
                             cella_shield **out)
{
    *out = NULL;
    cella_shield_opts defaults = {0};
    if (!o)
        o = &defaults;
    char *abs;
    CELLA_TRY(mount_point(mountpoint, &abs));
    struct stat st;
    if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(abs);
        return cella_fail(CELLA_E_USAGE, mountpoint, "mount point is not a directory");
    }
    if (is_mounted_at(abs, NULL)) {
        free(abs);
        return cella_fail(CELLA_E_EXISTS, mountpoint,
                          "something is already mounted here (unmount it first)");
    }
    cella_shield *s = calloc(1, sizeof *s);
    if (!s) {
        free(abs);
        return cella_fail(CELLA_E_NOMEM, mountpoint, "out of memory");
    }
    s->mountpoint = abs;
    s->v = v;
    s->m = cella_vol_meta_of(v);
    s->vol_dirfd = -1;
    s->uid = getuid();
    s->gid = getgid();
    clock_gettime(CLOCK_REALTIME, &s->t0);
    s->t0.tv_nsec = 0;
    pthread_mutex_init(&s->pool_lock, NULL);
    atomic_init(&s->loop_done, false);
    atomic_init(&s->storing, 0);
    cella_res r = build_tree(s);
    if (cella_ok(r) && o->vol_dir) {
        s->vol_dirfd = open(o->vol_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->vol_dirfd < 0)
            r = cella_fail(CELLA_E_IO, o->vol_dir, "cannot open volume directory: %s",
                           strerror(errno));
    }
    if (!cella_ok(r)) {
        shield_free(s);
        return r;
    }

    char mopts[256];
    snprintf(mopts, sizeof mopts,
             "ro,default_permissions,nosuid,nodev,noatime,fsname=cella,subtype=cella%s",
             o->allow_other ? ",allow_other" : "");
    char *argv[] = {"cella-shield", "-o", mopts, o->debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
    s->se = fuse_session_new(&args, &g_ops, sizeof g_ops, s);
    fuse_opt_free_args(&args);
    if (!s->se) {
        shield_free(s);
        return cella_fail(CELLA_E_IO, mountpoint, "cannot create the FUSE session");
    }
    if (fuse_session_mount(s->se, s->mountpoint) != 0) {
        fuse_session_destroy(s->se);
        shield_free(s);
        return cella_fail(CELLA_E_UNSUPPORTED, mountpoint,
                          "cannot mount the FUSE file system (see the 'fuse:' warning above)");
    }
    unsigned threads = o->max_threads ? o->max_threads : threads_default();
    if (threads > THREADS_MAX)
        threads = THREADS_MAX;
    s->cfg = fuse_loop_cfg_create();
    if (s->cfg) {
        fuse_loop_cfg_set_clone_fd(s->cfg, 1);
        fuse_loop_cfg_set_max_threads(s->cfg, threads);
        fuse_loop_cfg_set_idle_threads(s->cfg, threads);
    }
    s->store_max = o->no_chunk_store ? 0 : threads - 1;
    if (!s->cfg || pthread_create(&s->loop, NULL, loop_main, s) != 0) {
        fuse_session_unmount(s->se);
        fuse_session_destroy(s->se);
        shield_free(s);
        return cella_fail(CELLA_E_NOMEM, mountpoint, "cannot start the FUSE threads");
    }
    s->loop_started = true;
    /* The first stat waits for the kernel's INIT to be served: once it
     * answers, the mount is ready. Its device names the connection. */
    if (stat(s->mountpoint, &st) != 0 || st.st_ino != ROOT_INO) {
        int e = errno;
        r = cella_fail(CELLA_E_IO, mountpoint, "the mounted file system does not answer: %s",
                       strerror(e));
        cella_res u = cella_shield_unmount(s);
        (void)u;
        return r;
    }
    if (major(st.st_dev) == 0) {
        s->have_conn = true;
        s->conn_id = minor(st.st_dev);
        set_readahead(st.st_dev, o->readahead_kb ? o->readahead_kb : READAHEAD_KB_DEFAULT);
    }
    *out = s;
    return CELLA_OK_RES;
}

/* ==== the fallback ======================================================== */

cella_res cella_shield_stage_tmpfs(cella_volume *v, const char *dir)
{
    struct statfs sf;
    CELLA_ENSURE(statfs(dir, &sf) == 0, CELLA_E_IO, dir, "cannot inspect staging directory: %s",
                 strerror(errno));
    CELLA_ENSURE((unsigned long)sf.f_type == TMPFS_MAGIC_ ||
                     (unsigned long)sf.f_type == RAMFS_MAGIC_,
                 CELLA_E_POLICY, dir,
                 "staging directory is not on a tmpfs: plaintext would reach a disk");
    cella_info("shield: FUSE unavailable; staging the volume's plaintext in tmpfs %s", dir);
    return cella_vol_decrypt_private(v, dir, NULL);
}
