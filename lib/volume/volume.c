#include "volume/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/keyfile.h"
#include "core/safepath.h"
#include "core/secure.h"
#include "core/stage.h"

struct cella_volume {
    char *dir;
    int dirfd;
    cella_vol_meta meta;
    uint8_t tag[CELLA_VOL_TAG_BYTES];
};

/* Bulk work is cut into jobs of at most this many plaintext bytes: small
 * enough that a job's buffers stay in L2 between the read and the cipher. */
#define JOB_BYTES (1u * 1024u * 1024u)

static void id_hex(char out[33], const uint8_t id[static CELLA_VOL_ID_BYTES])
{
    cella_hex_encode(out, id, CELLA_VOL_ID_BYTES, false);
}

/* "VOL/0123…" for error messages. */
static void cfile_where(char *out, size_t cap, const char *dir, const uint8_t *id)
{
    char h[33];
    id_hex(h, id);
    snprintf(out, cap, "%s/%s", dir, h);
}

static unsigned online_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (unsigned)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ==== the parallel chunk engine ============================================ */

enum engine_op { OP_SEAL, OP_VERIFY, OP_DECRYPT_FILE, OP_DECRYPT_MEM };

/* Per-thread resources: cipher contexts and buffers (plaintext-bearing ones
 * in secure memory). */
typedef struct {
    cella_gcm *enc, *dec;
    uint8_t *pt, *ct, *in;
    size_t cap;
} worker_bufs;

typedef struct {
    const cella_vol_entry *e;
    uint64_t first;  /* first chunk */
    uint64_t count;  /* chunks */
} job;

typedef struct {
    enum engine_op op;
    const uint8_t *volume_id;
    int src_dirfd;        /* plaintext tree (SEAL) */
    int vol_dirfd;        /* ciphertext files */
    int out_dirfd;        /* plaintext output (DECRYPT_FILE) */
    const char *vol_dir;  /* for messages */
    uint8_t *mem;         /* DECRYPT_MEM target */
    uint64_t mem_base;    /* plaintext offset of mem[0] */
    job *jobs;
    size_t njobs;
    atomic_size_t next;
    atomic_uint_fast64_t done_bytes;
    uint64_t total_bytes;
    atomic_bool failed;
    pthread_mutex_t err_lock;
    cella_code err_code;
    char err_what[512];
    char err_where[1024];
    const cella_vol_opts *opts;
    double last_progress;
    uint32_t max_chunk; /* largest chunk of any job: sizes the worker buffers */
    worker_bufs *pool;  /* optional per-thread buffers reused across runs */
    unsigned pool_size;
} engine;

static void engine_record_error(engine *en)
{
    pthread_mutex_lock(&en->err_lock);
    if (!atomic_load(&en->failed)) {
        en->err_code = cella_error_code();
        snprintf(en->err_what, sizeof en->err_what, "%s", cella_error_what());
        snprintf(en->err_where, sizeof en->err_where, "%s", cella_error_where());
        atomic_store(&en->failed, true);
    }
    pthread_mutex_unlock(&en->err_lock);
}

static uint64_t job_pt_off(const job *j) { return j->first * j->e->chunk_size; }

static size_t job_pt_len(const job *j)
{
    uint64_t start = job_pt_off(j);
    uint64_t end = (j->first + j->count) * (uint64_t)j->e->chunk_size;
    if (end > j->e->size)
        end = j->e->size;
    return (size_t)(end - start);
}

static size_t job_ct_len(const job *j) { return job_pt_len(j) + j->count * CELLA_GCM_TAG_BYTES; }


/* Seals the job's chunks from `src` into w->ct; *co gets the
 * ciphertext length. */
static cella_res seal_chunks(engine *en, const job *j, worker_bufs *w, const uint8_t *src,
                             size_t *co)
{
    const cella_vol_entry *e = j->e;
    CELLA_TRY(cella_gcm_set_key(w->enc, e->key, true));
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    size_t po = 0;
    *co = 0;
    for (uint64_t i = j->first; i < j->first + j->count; i++) {
        size_t n = (size_t)((i + 1 == nch) ? e->size - i * e->chunk_size : e->chunk_size);
        CELLA_TRY(cella_vol_chunk_seal(w->enc, en->volume_id, e->file_id, i, i + 1 == nch,
                                       src + po, n, w->ct + *co));
        po += n;
        *co += n + CELLA_GCM_TAG_BYTES;
    }
    return CELLA_OK_RES;
}

static cella_res open_chunks(engine *en, const job *j, worker_bufs *w, const uint8_t *src,
                             uint8_t *dst, const char *where)
{
    const cella_vol_entry *e = j->e;
    CELLA_TRY(cella_gcm_set_key(w->dec, e->key, false));
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    size_t po = 0, co = 0;
    for (uint64_t i = j->first; i < j->first + j->count; i++) {
        size_t n = (size_t)((i + 1 == nch) ? e->size - i * e->chunk_size : e->chunk_size);
        cella_res r = cella_vol_chunk_open(w->dec, en->volume_id, e->file_id, i, i + 1 == nch,
                                           src + co, n, dst + po);
        if (r.code == CELLA_E_AUTH)
            return cella_fail(CELLA_E_AUTH, where,
                              "chunk %llu of %s failed authentication (tampered, reordered, "
                              "truncated or taken from another file)",
                              (unsigned long long)i, e->path);
        CELLA_TRY(r);
        po += n;
        co += n + CELLA_GCM_TAG_BYTES;
    }
    return CELLA_OK_RES;
}

static cella_res run_seal(engine *en, const job *j, worker_bufs *w)
{
    const cella_vol_entry *e = j->e;
    char where[1200];
    size_t ptl = job_pt_len(j);
    int in = cella_open_beneath(en->src_dirfd, e->path, O_RDONLY, 0);
    CELLA_ENSURE(in >= 0, CELLA_E_IO, e->path, "cannot open source file: %s", strerror(errno));
    struct stat st;
    cella_res r = CELLA_OK_RES;
    /* The source must still have the size we planned for: a file that changes
     * under us is refused rather than sealed half old, half new. */
    if (fstat(in, &st) != 0 || (uint64_t)st.st_size != e->size)
        r = cella_fail(CELLA_E_IO, e->path, "file changed size during encryption");
    if (cella_ok(r))
        r = cella_pread_full(in, w->in, ptl, job_pt_off(j), e->path);
    close(in);
    CELLA_TRY(r);
    size_t co = 0;
    CELLA_TRY(seal_chunks(en, j, w, w->in, &co));
    cfile_where(where, sizeof where, en->vol_dir, e->file_id);
    char name[33];
    id_hex(name, e->file_id);
    int out = openat(en->vol_dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(out >= 0, CELLA_E_IO, where, "cannot open: %s", strerror(errno));
    r = cella_pwrite_full(out, w->ct, co, cella_vol_chunk_offset(j->first, e->chunk_size), where);
    close(out);
    return r;
}

static cella_res run_open(engine *en, const job *j, worker_bufs *w)
{
    const cella_vol_entry *e = j->e;
    char where[1200], name[33];
    cfile_where(where, sizeof where, en->vol_dir, e->file_id);
    id_hex(name, e->file_id);
    size_t ctl = job_ct_len(j);
    int in = openat(en->vol_dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(in >= 0, CELLA_E_IO, where, "cannot open: %s", strerror(errno));
    struct stat st;
    cella_res r = CELLA_OK_RES;
    /* Re-check the length at use: the file may have changed since open. */
    if (fstat(in, &st) != 0 ||
        (uint64_t)st.st_size != cella_vol_file_bytes(e->size, e->chunk_size))
        r = cella_fail(CELLA_E_AUTH, where, "ciphertext file of %s changed length", e->path);
    if (cella_ok(r))
        r = cella_pread_full(in, w->in, ctl, cella_vol_chunk_offset(j->first, e->chunk_size), where);
    close(in);
    CELLA_TRY(r);
    uint8_t *dst = en->op == OP_DECRYPT_MEM ? en->mem + (job_pt_off(j) - en->mem_base) : w->pt;
    CELLA_TRY(open_chunks(en, j, w, w->in, dst, where));
    if (en->op != OP_DECRYPT_FILE)
        return CELLA_OK_RES;
    int out = cella_open_beneath(en->out_dirfd, e->path, O_WRONLY, 0);
    CELLA_ENSURE(out >= 0, CELLA_E_IO, e->path, "cannot open output file: %s", strerror(errno));
    r = cella_pwrite_full(out, w->pt, job_pt_len(j), job_pt_off(j), e->path);
    close(out);
    return r;
}

struct worker_arg {
    engine *en;
    unsigned index;
};

static size_t worker_cap(uint32_t max_chunk)
{
    /* A job is up to JOB_BYTES of whole chunks, or one chunk if chunks are larger. */
    size_t most = max_chunk > JOB_BYTES ? max_chunk : JOB_BYTES;
    return most + (most / CELLA_VOL_MIN_CHUNK + 1) * CELLA_GCM_TAG_BYTES;
}

static void worker_bufs_free(worker_bufs *w)
{
    cella_gcm_free(w->enc);
    cella_gcm_free(w->dec);
    if (w->pt)
        cella_secure_free(w->pt, w->cap);
    if (w->in)
        cella_secure_free(w->in, w->cap);
    free(w->ct);
    memset(w, 0, sizeof *w);
}

static cella_res worker_bufs_alloc(worker_bufs *w, uint32_t max_chunk)
{
    memset(w, 0, sizeof *w);
    w->cap = worker_cap(max_chunk);
    w->enc = cella_gcm_new();
    w->dec = cella_gcm_new();
    /* Buffers that may hold plaintext are locked, non-dumpable, wiped on free. */
    w->pt = cella_secure_alloc(w->cap);
    w->in = cella_secure_alloc(w->cap);
    w->ct = malloc(w->cap);
    if (!w->enc || !w->dec || !w->pt || !w->in || !w->ct) {
        worker_bufs_free(w);
        return cella_fail(CELLA_E_NOMEM, NULL, "out of memory for worker buffers");
    }
    return CELLA_OK_RES;
}

static void *engine_worker(void *varg)
{
    struct worker_arg *a = varg;
    engine *en = a->en;
    worker_bufs own, *w = &own;
    if (en->pool && a->index < en->pool_size) {
        w = &en->pool[a->index];
    } else if (!cella_ok(worker_bufs_alloc(&own, en->max_chunk))) {
        engine_record_error(en);
        return NULL;
    }
    while (!atomic_load(&en->failed)) {
        size_t k = atomic_fetch_add(&en->next, 1);
        if (k >= en->njobs)
            break;
        const job *j = &en->jobs[k];
        cella_res r = en->op == OP_SEAL ? run_seal(en, j, w) : run_open(en, j, w);
        if (!cella_ok(r)) {
            engine_record_error(en);
            break;
        }
        uint64_t done = atomic_fetch_add(&en->done_bytes, job_pt_len(j)) + job_pt_len(j);
        if (a->index == 0 && en->opts && en->opts->progress) {
            double t = now_s();
            if (t - en->last_progress >= 0.2) {
                en->last_progress = t;
                en->opts->progress(done, en->total_bytes, en->opts->progress_ctx);
            }
        }
    }
    if (w == &own)
        worker_bufs_free(&own);
    return NULL;
}

/* Appends the jobs for one file (a file of size 0 has one empty chunk). */
static cella_res jobs_add(job **jobs, size_t *n, size_t *cap, const cella_vol_entry *e,
                          uint64_t *bytes)
{
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    uint64_t per = JOB_BYTES / e->chunk_size;
    if (per == 0)
        per = 1;
    for (uint64_t c = 0; c < nch; c += per) {
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            job *nj = realloc(*jobs, ncap * sizeof *nj);
            CELLA_ENSURE(nj, CELLA_E_NOMEM, NULL, "out of memory for jobs");
            *jobs = nj;
            *cap = ncap;
        }
        (*jobs)[(*n)++] = (job){e, c, nch - c < per ? nch - c : per};
    }
    *bytes += e->size;
    return CELLA_OK_RES;
}

static cella_res engine_run(engine *en)
{
    for (size_t k = 0; k < en->njobs; k++)
        if (en->jobs[k].e->chunk_size > en->max_chunk)
            en->max_chunk = en->jobs[k].e->chunk_size;
    unsigned want = en->opts && en->opts->threads ? en->opts->threads : online_cpus();
    if (want > en->njobs)
        want = en->njobs ? (unsigned)en->njobs : 1;
    if (want > 64)
        want = 64;
    pthread_t th[64];
    struct worker_arg args[64];
    pthread_mutex_init(&en->err_lock, NULL);
    atomic_store(&en->next, 0);
    atomic_store(&en->done_bytes, 0);
    atomic_store(&en->failed, false);
    en->last_progress = now_s();
    unsigned started = 1;
    for (unsigned i = 1; i < want; i++) {
        args[i] = (struct worker_arg){en, i};
        if (pthread_create(&th[i], NULL, engine_worker, &args[i]) != 0)
            break;
        started++;
    }
    args[0] = (struct worker_arg){en, 0};
    engine_worker(&args[0]);
    for (unsigned i = 1; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&en->err_lock);
    if (en->opts && en->opts->progress)
        en->opts->progress(atomic_load(&en->done_bytes), en->total_bytes, en->opts->progress_ctx);
    if (atomic_load(&en->failed))
        return cella_fail(en->err_code, en->err_where, "%s", en->err_what);
    return CELLA_OK_RES;
}

/* Runs `op` over every file of `m`. */
static cella_res engine_all(engine *en, const cella_vol_meta *m)
{
    size_t cap = 0;
    en->jobs = NULL;
    en->njobs = 0;
    en->total_bytes = 0;
    cella_res r = CELLA_OK_RES;
    for (uint32_t i = 0; i < m->count && cella_ok(r); i++)
        if (m->entries[i].type == CELLA_VOL_FILE)
            r = jobs_add(&en->jobs, &en->njobs, &cap, &m->entries[i], &en->total_bytes);
    if (cella_ok(r))
        r = engine_run(en);
    free(en->jobs);
    en->jobs = NULL;
    return r;
}

/* ==== open / verify ======================================================= */

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, CELLA_VOL_ID_BYTES); }

static cella_res check_listing(const cella_volume *v)
{
    const cella_vol_meta *m = &v->meta;
    size_t nfiles = 0;
    for (uint32_t i = 0; i < m->count; i++)
        nfiles += m->entries[i].type == CELLA_VOL_FILE;
    uint8_t(*ids)[CELLA_VOL_ID_BYTES + 1] = calloc(nfiles ? nfiles : 1, sizeof *ids);
    CELLA_ENSURE(ids, CELLA_E_NOMEM, v->dir, "out of memory");
    size_t k = 0;
    for (uint32_t i = 0; i < m->count; i++)
        if (m->entries[i].type == CELLA_VOL_FILE)
            memcpy(ids[k++], m->entries[i].file_id, CELLA_VOL_ID_BYTES);
    qsort(ids, nfiles, sizeof *ids, id_cmp); /* unique: checked by the parser */
    cella_res r = CELLA_OK_RES;

    int fd = dup(v->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        free(ids);
        return cella_fail(CELLA_E_IO, v->dir, "cannot list volume: %s", strerror(errno));
    }
    rewinddir(d);
    struct dirent *de;
    char where[1400];
    while (cella_ok(r) && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, CELLA_VOL_META_NAME))
            continue;
        uint8_t id[CELLA_VOL_ID_BYTES + 1] = {0};
        snprintf(where, sizeof where, "%s/%s", v->dir, n);
        bool known = strlen(n) == 32 &&
                     cella_ok(cella_hex_decode(id, CELLA_VOL_ID_BYTES, n, 32, where)) &&
                     bsearch(id, ids, nfiles, sizeof *ids, id_cmp);
        if (!known) {
            r = cella_fail(CELLA_E_AUTH, where,
                           "unexpected file in volume (added, or left from another volume "
                           "or an interrupted update)");
            break;
        }
        uint8_t *slot = bsearch(id, ids, nfiles, sizeof *ids, id_cmp);
        slot[CELLA_VOL_ID_BYTES] = 1;
    }
    closedir(d);
    for (size_t i = 0; i < nfiles && cella_ok(r); i++) {
        if (!ids[i][CELLA_VOL_ID_BYTES]) {
            cfile_where(where, sizeof where, v->dir, ids[i]);
            r = cella_fail(CELLA_E_AUTH, where, "ciphertext file missing (deleted or renamed)");
        }
    }
    free(ids);
    return r;
}

static cella_res check_file(const cella_volume *v, const cella_vol_entry *e)
{
    char where[1400], name[33];
    cfile_where(where, sizeof where, v->dir, e->file_id);
    id_hex(name, e->file_id);
    int fd = openat(v->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_AUTH, where, "ciphertext file cannot be opened: %s",
                 strerror(errno));
    struct stat st;
    uint8_t hb[CELLA_VOL_FILE_HEADER_BYTES];
    cella_res r = CELLA_OK_RES;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        r = cella_fail(CELLA_E_AUTH, where, "ciphertext file is not a regular file");
    else if ((uint64_t)st.st_size < CELLA_VOL_FILE_HEADER_BYTES)
        r = cella_fail(CELLA_E_AUTH, where, "ciphertext file truncated (%s)", e->path);
    else
        r = cella_pread_full(fd, hb, sizeof hb, 0, where);
    close(fd);
    CELLA_TRY(r);
    cella_vol_file_header h;
    r = cella_vol_file_header_parse(cella_slice_of(hb, sizeof hb), &h);
    if (!cella_ok(r)) {
        cella_error_set_where(where);
        return r;
    }
    CELLA_ENSURE(memcmp(h.volume_id, v->meta.volume_id, CELLA_VOL_ID_BYTES) == 0, CELLA_E_AUTH,
                 where, "ciphertext file belongs to another volume");
    CELLA_ENSURE(memcmp(h.file_id, e->file_id, CELLA_VOL_ID_BYTES) == 0, CELLA_E_AUTH, where,
                 "ciphertext file holds another file's data (renamed or swapped)");
    CELLA_ENSURE(h.size == e->size && h.chunk_size == e->chunk_size, CELLA_E_AUTH, where,
                 "ciphertext file header does not match the metadata (%s)", e->path);
    uint64_t want = cella_vol_file_bytes(e->size, e->chunk_size);
    CELLA_ENSURE((uint64_t)st.st_size == want, CELLA_E_AUTH, where,
                 "ciphertext file of %s is %s (%llu bytes, expected %llu)", e->path,
                 (uint64_t)st.st_size < want ? "truncated" : "extended",
                 (unsigned long long)st.st_size, (unsigned long long)want);
    return CELLA_OK_RES;
}

cella_res cella_vol_open(const char *vol_dir, const uint8_t vkey[static 32],
                         const uint8_t *expected_tag, cella_volume **out)
{
    *out = NULL;
    cella_volume *v = calloc(1, sizeof *v);
    CELLA_ENSURE(v, CELLA_E_NOMEM, vol_dir, "out of memory");
    v->dirfd = -1;
    v->dir = strdup(vol_dir);
    cella_res r = CELLA_OK_RES;
    char where[1400];
    snprintf(where, sizeof where, "%s/%s", vol_dir, CELLA_VOL_META_NAME);
    if (!v->dir) {
        r = cella_fail(CELLA_E_NOMEM, vol_dir, "out of memory");
        goto fail;
    }
    v->dirfd = open(vol_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (v->dirfd < 0) {
        r = cella_fail(errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, vol_dir,
                       "cannot open volume directory: %s", strerror(errno));
        goto fail;
    }
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    r = cella_read_file(v->dirfd, CELLA_VOL_META_NAME, CELLA_VOL_MAX_META_BYTES, false, &raw,
                        &rawlen);
    if (r.code == CELLA_E_NOTFOUND)
        r = cella_fail(CELLA_E_NOTFOUND, where, "not a cella volume (no metadata file)");
    if (!cella_ok(r)) {
        cella_error_set_where(where);
        goto fail;
    }
    r = cella_vol_meta_open(cella_slice_of(raw, rawlen), vkey, &v->meta, v->tag);
    free(raw);
    if (!cella_ok(r)) {
        cella_error_set_where(where);
        goto fail;
    }
    if (expected_tag && !cella_ct_eq(expected_tag, v->tag, CELLA_VOL_TAG_BYTES)) {
        char got[33], want[33];
        cella_hex_encode(got, v->tag, CELLA_VOL_TAG_BYTES, false);
        cella_hex_encode(want, expected_tag, CELLA_VOL_TAG_BYTES, false);
        r = cella_fail(CELLA_E_ROLLBACK, vol_dir,
                       "volume tag %s is not the expected %s: stale (rolled back) or "
                       "replaced volume",
                       got, want);
        goto fail;
    }
    CELLA_GUARD(r, check_listing(v), fail);
    for (uint32_t i = 0; i < v->meta.count; i++)
        if (v->meta.entries[i].type == CELLA_VOL_FILE)
            CELLA_GUARD(r, check_file(v, &v->meta.entries[i]), fail);
    *out = v;
    return CELLA_OK_RES;
fail:
    cella_vol_close(v);
    return r;
}

void cella_vol_close(cella_volume *v)
{
    if (!v)
        return;
    if (v->dirfd >= 0)
        close(v->dirfd);
    cella_vol_meta_free(&v->meta);
    free(v->dir);
    free(v);
}

const cella_vol_meta *cella_vol_meta_of(const cella_volume *v) { return &v->meta; }

void cella_vol_tag(const cella_volume *v, uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    memcpy(tag, v->tag, CELLA_VOL_TAG_BYTES);
}

static void engine_init(engine *en, enum engine_op op, const cella_volume *v,
                        const cella_vol_opts *opts)
{
    memset(en, 0, sizeof *en);
    en->op = op;
    en->volume_id = v->meta.volume_id;
    en->vol_dirfd = v->dirfd;
    en->vol_dir = v->dir;
    en->src_dirfd = en->out_dirfd = -1;
    en->opts = opts;
}

cella_res cella_vol_verify(cella_volume *v, const cella_vol_opts *opts)
{
    engine en;
    engine_init(&en, OP_VERIFY, v, opts);
    return engine_all(&en, &v->meta);
}

/* ==== decrypt ============================================================== */

static cella_res create_outputs(int sfd, const cella_vol_meta *m)
{
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        if (e->type == CELLA_VOL_DIR) {
            CELLA_ENSURE(cella_mkdirs_beneath(sfd, e->path, 0700) == 0, CELLA_E_IO, e->path,
                         "cannot create directory: %s", strerror(errno));
            continue;
        }
        const char *slash = strrchr(e->path, '/');
        if (slash) {
            char parent[CELLA_VOL_MAX_PATH + 1];
            memcpy(parent, e->path, (size_t)(slash - e->path));
            parent[slash - e->path] = '\0';
            CELLA_ENSURE(cella_mkdirs_beneath(sfd, parent, 0700) == 0, CELLA_E_IO, e->path,
                         "cannot create directory: %s", strerror(errno));
        }
        int fd = cella_open_beneath(sfd, e->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CELLA_ENSURE(fd >= 0, CELLA_E_IO, e->path, "cannot create output file: %s",
                     strerror(errno));
        int rc = ftruncate(fd, (off_t)e->size);
        close(fd);
        CELLA_ENSURE(rc == 0, CELLA_E_IO, e->path, "cannot size output file: %s",
                     strerror(errno));
    }
    return CELLA_OK_RES;
}

static cella_res apply_modes(int sfd, const cella_vol_meta *m)
{
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        int fd = cella_open_beneath(sfd, e->path,
                                    e->type == CELLA_VOL_DIR ? O_RDONLY | O_DIRECTORY : O_RDONLY, 0);
        CELLA_ENSURE(fd >= 0, CELLA_E_IO, e->path, "cannot open output: %s", strerror(errno));
        /* Directories stay traversable by their owner whatever was recorded. */
        mode_t mode = e->type == CELLA_VOL_DIR ? (e->mode | 0700) : e->mode;
        int rc = fchmod(fd, mode & 0777);
        close(fd);
        CELLA_ENSURE(rc == 0, CELLA_E_IO, e->path, "cannot set mode: %s", strerror(errno));
    }
    return CELLA_OK_RES;
}

/* Writes the decrypted tree beneath the empty directory `outfd`. */
static cella_res decrypt_into(cella_volume *v, int outfd, const cella_vol_opts *opts)
{
    CELLA_TRY(create_outputs(outfd, &v->meta));
    engine en;
    engine_init(&en, OP_DECRYPT_FILE, v, opts);
    en.out_dirfd = outfd;
    CELLA_TRY(engine_all(&en, &v->meta));
    return apply_modes(outfd, &v->meta);
}

cella_res cella_vol_decrypt(cella_volume *v, const char *out_dir, const cella_vol_opts *opts)
{
    CELLA_TRY(cella_stage_check_new(AT_FDCWD, out_dir, true));
    cella_stage s;
    CELLA_TRY(cella_stage_open(&s, AT_FDCWD, out_dir, true, 0700));
    cella_res r = decrypt_into(v, s.fd, opts);
    if (cella_ok(r))
        r = cella_stage_publish(&s, false);
    cella_stage_abort(&s);
    return r;
}

/* Removes everything inside the directory `fd`, keeping the directory. */
static void empty_dir(int fd)
{
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            cella_rm_tree(fd, de->d_name);
    closedir(d);
}

cella_res cella_vol_decrypt_private(cella_volume *v, const char *dir, const cella_vol_opts *opts)
{
    CELLA_TRY(cella_stage_check_new(AT_FDCWD, dir, true));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, dir, "cannot open directory: %s", strerror(errno));
    cella_res r = decrypt_into(v, fd, opts);
    if (!cella_ok(r))
        empty_dir(fd);
    close(fd);
    return r;
}

/* ==== random access ======================================================== */

cella_res cella_vol_read(cella_volume *v, const cella_vol_entry *e, uint64_t offset, void *buf,
                         size_t n, size_t *got)
{
    *got = 0;
    CELLA_ENSURE(e->type == CELLA_VOL_FILE, CELLA_E_USAGE, e->path, "not a regular file");
    if (offset >= e->size || n == 0)
        return CELLA_OK_RES;
    if (n > e->size - offset)
        n = (size_t)(e->size - offset);
    char where[1400], name[33];
    cfile_where(where, sizeof where, v->dir, e->file_id);
    id_hex(name, e->file_id);
    int fd = openat(v->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, where, "cannot open: %s", strerror(errno));
    cella_gcm *g = cella_gcm_new();
    uint8_t *ct = malloc((size_t)e->chunk_size + CELLA_GCM_TAG_BYTES);
    uint8_t *pt = cella_secure_alloc(e->chunk_size);
    cella_res r = (g && ct && pt) ? cella_gcm_set_key(g, e->key, false)
                                  : cella_fail(CELLA_E_NOMEM, where, "out of memory");
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    uint8_t *dst = buf;
    while (cella_ok(r) && *got < n) {
        uint64_t pos = offset + *got;
        uint64_t i = pos / e->chunk_size;
        size_t clen = (size_t)((i + 1 == nch) ? e->size - i * e->chunk_size : e->chunk_size);
        r = cella_pread_full(fd, ct, clen + CELLA_GCM_TAG_BYTES,
                             cella_vol_chunk_offset(i, e->chunk_size), where);
        if (!cella_ok(r))
            break;
        r = cella_vol_chunk_open(g, v->meta.volume_id, e->file_id, i, i + 1 == nch, ct, clen, pt);
        if (r.code == CELLA_E_AUTH)
            r = cella_fail(CELLA_E_AUTH, where, "chunk %llu of %s failed authentication",
                           (unsigned long long)i, e->path);
        if (!cella_ok(r))
            break;
        size_t in_chunk = (size_t)(pos - i * e->chunk_size);
        size_t take = clen - in_chunk;
        if (take > n - *got)
            take = n - *got;
        memcpy(dst + *got, pt + in_chunk, take);
        *got += take;
    }
    close(fd);
    cella_gcm_free(g);
    free(ct);
    if (pt)
        cella_secure_free(pt, e->chunk_size);
    if (!cella_ok(r)) {
        cella_wipe(buf, n);
        *got = 0;
    }
    return r;
}

static cella_res write_all_fd(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return cella_fail(CELLA_E_IO, "output", "write failed: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return CELLA_OK_RES;
}

cella_res cella_vol_cat(cella_volume *v, const cella_vol_entry *e, int out_fd,
                        const cella_vol_opts *opts)
{
    CELLA_ENSURE(e->type == CELLA_VOL_FILE, CELLA_E_USAGE, e->path, "not a regular file");
    /* Decrypt a window of the file in parallel into memory, then write it in
     * order; only authenticated bytes are ever written out. Worker buffers
     * are allocated once for all windows. */
    const uint64_t window = 32ull * JOB_BYTES;
    unsigned threads = opts && opts->threads ? opts->threads : online_cpus();
    if (threads > 64)
        threads = 64;
    uint8_t *mem = cella_secure_alloc(window);
    worker_bufs pool[64];
    unsigned made = 0;
    cella_res r = mem ? CELLA_OK_RES : cella_fail(CELLA_E_NOMEM, e->path, "out of memory");
    for (; cella_ok(r) && made < threads; made++)
        r = worker_bufs_alloc(&pool[made], e->chunk_size);
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    uint64_t per_window = window / e->chunk_size ? window / e->chunk_size : 1;
    uint64_t per_job = JOB_BYTES / e->chunk_size ? JOB_BYTES / e->chunk_size : 1;
    job jobs[64];
    cella_vol_opts o = opts ? *opts : (cella_vol_opts){0};
    o.progress = NULL;
    o.threads = threads;
    for (uint64_t c = 0; c < nch && cella_ok(r); c += per_window) {
        engine en;
        engine_init(&en, OP_DECRYPT_MEM, v, &o);
        en.mem = mem;
        en.mem_base = c * e->chunk_size;
        en.jobs = jobs;
        en.pool = pool;
        en.pool_size = made;
        uint64_t end = c + per_window < nch ? c + per_window : nch;
        for (uint64_t k = c; k < end; k += per_job)
            jobs[en.njobs++] = (job){e, k, end - k < per_job ? end - k : per_job};
        r = engine_run(&en);
        if (!cella_ok(r))
            break;
        uint64_t stop = end * e->chunk_size > e->size ? e->size : end * e->chunk_size;
        r = write_all_fd(out_fd, mem, (size_t)(stop - en.mem_base));
        if (opts && opts->progress)
            opts->progress(stop, e->size, opts->progress_ctx);
    }
    for (unsigned i = 0; i < made; i++)
        worker_bufs_free(&pool[i]);
    if (mem)
        cella_secure_free(mem, window);
    return r;
}

/* ==== encrypt ============================================================== */

typedef struct {
    char *path;
    uint8_t type;
    uint16_t mode;
    uint64_t size;
} scan_entry;

typedef struct {
    scan_entry *v;
    size_t n, cap;
    size_t path_bytes;
} scan_list;

static cella_res scan_push(scan_list *l, const char *path, uint8_t type, uint16_t mode,
                           uint64_t size)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        scan_entry *nv = realloc(l->v, ncap * sizeof *nv);
        CELLA_ENSURE(nv, CELLA_E_NOMEM, path, "out of memory");
        l->v = nv;
        l->cap = ncap;
    }
    char *p = strdup(path);
    CELLA_ENSURE(p, CELLA_E_NOMEM, path, "out of memory");
    l->v[l->n++] = (scan_entry){p, type, mode, size};
    l->path_bytes += strlen(p) + 1;
    return CELLA_OK_RES;
}

static void scan_free(scan_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
}

static cella_res scan_dir(int rootfd, const char *src_dir, const char *rel, scan_list *l,
                          int depth)
{
    char where[CELLA_VOL_MAX_PATH + 1200];
    snprintf(where, sizeof where, "%s%s%s", src_dir, *rel ? "/" : "", rel);
    CELLA_ENSURE(depth < 256, CELLA_E_PATH, where, "directory tree too deep");
    int fd = *rel ? cella_open_beneath(rootfd, rel, O_RDONLY | O_DIRECTORY, 0)
                  : dup(rootfd);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, where, "cannot open directory: %s", strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cella_fail(CELLA_E_IO, where, "cannot list directory: %s", strerror(errno));
    }
    rewinddir(d);
    cella_res r = CELLA_OK_RES;
    struct dirent *de;
    char child[CELLA_VOL_MAX_PATH + 2];
    while (cella_ok(r) && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int len = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(where, sizeof where, "%s/%s", src_dir, child);
        if (len < 0 || (size_t)len > CELLA_VOL_MAX_PATH) {
            r = cella_fail(CELLA_E_PATH, where, "path too long");
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            r = cella_fail(CELLA_E_IO, where, "cannot stat: %s", strerror(errno));
            break;
        }
        uint16_t mode = (uint16_t)(st.st_mode & 0777);
        if (S_ISDIR(st.st_mode)) {
            r = scan_push(l, child, CELLA_VOL_DIR, mode, 0);
            if (cella_ok(r))
                r = scan_dir(rootfd, src_dir, child, l, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            r = scan_push(l, child, CELLA_VOL_FILE, mode, (uint64_t)st.st_size);
        } else if (S_ISLNK(st.st_mode)) {
            r = cella_fail(CELLA_E_UNSUPPORTED, where,
                           "symbolic links are not stored in volumes (copy the target instead)");
        } else {
            r = cella_fail(CELLA_E_UNSUPPORTED, where,
                           "only regular files and directories can be encrypted");
        }
    }
    closedir(d);
    return r;
}

/* Builds metadata for the scanned tree with fresh file ids and keys. */
static cella_res build_meta(const scan_list *l, uint32_t chunk, cella_vol_meta *m)
{
    CELLA_ENSURE(l->n < UINT32_MAX, CELLA_E_TOOBIG, NULL, "too many files");
    CELLA_TRY(cella_vol_meta_alloc(m, (uint32_t)l->n, l->path_bytes));
    char *p = m->paths;
    for (size_t i = 0; i < l->n; i++) {
        cella_vol_entry *e = &m->entries[i];
        size_t len = strlen(l->v[i].path);
        memcpy(p, l->v[i].path, len + 1);
        e->path = p;
        p += len + 1;
        e->type = l->v[i].type;
        e->mode = l->v[i].mode;
        if (e->type == CELLA_VOL_FILE) {
            e->size = l->v[i].size;
            e->chunk_size = chunk;
            CELLA_TRY(cella_random(e->file_id, sizeof e->file_id));
            CELLA_TRY(cella_random(e->key, sizeof e->key));
        }
    }
    return cella_vol_meta_validate(m, true);
}

static cella_res create_cfiles(int vfd, const char *vol_dir, const cella_vol_meta *m)
{
    char name[33], where[1400];
    uint8_t hb[CELLA_VOL_FILE_HEADER_BYTES];
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        if (e->type != CELLA_VOL_FILE)
            continue;
        id_hex(name, e->file_id);
        cfile_where(where, sizeof where, vol_dir, e->file_id);
        int fd = openat(vfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        CELLA_ENSURE(fd >= 0, CELLA_E_IO, where, "cannot create: %s", strerror(errno));
        cella_vol_file_header h = {.chunk_size = e->chunk_size, .size = e->size};
        memcpy(h.volume_id, m->volume_id, CELLA_VOL_ID_BYTES);
        memcpy(h.file_id, e->file_id, CELLA_VOL_ID_BYTES);
        cella_vol_file_header_encode(&h, hb);
        cella_res r = cella_pwrite_full(fd, hb, sizeof hb, 0, where);
        if (cella_ok(r) && ftruncate(fd, (off_t)cella_vol_file_bytes(e->size, e->chunk_size)) != 0)
            r = cella_fail(CELLA_E_IO, where, "cannot size file: %s", strerror(errno));
        close(fd);
        CELLA_TRY(r);
    }
    return CELLA_OK_RES;
}

/* Looks at what VOL_DIR holds now: nothing (absent or an empty directory), or
 * a volume that opens with `vkey` (its metadata in `old`, its directory's
 * identity in `old_st`, *has_old set). Anything else is refused. */
static cella_res examine_voldir(const char *vol_dir, const uint8_t vkey[static 32],
                                cella_vol_meta *old, bool *has_old, struct stat *old_st)
{
    *has_old = false;
    struct stat st;
    if (stat(vol_dir, &st) != 0) {
        CELLA_ENSURE(errno == ENOENT, CELLA_E_IO, vol_dir, "cannot inspect: %s", strerror(errno));
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(S_ISDIR(st.st_mode), CELLA_E_EXISTS, vol_dir,
                 "exists and is not a directory (choose another VOL_DIR)");
    char meta[PATH_MAX];
    snprintf(meta, sizeof meta, "%s/%s", vol_dir, CELLA_VOL_META_NAME);
    if (lstat(meta, &st) == 0) {
        /* Updating requires the key: open (and fully check) the old volume. */
        cella_volume *v;
        CELLA_TRY(cella_vol_open(vol_dir, vkey, NULL, &v));
        cella_res r = fstat(v->dirfd, old_st) == 0
                          ? CELLA_OK_RES
                          : cella_fail(CELLA_E_IO, vol_dir, "cannot stat: %s", strerror(errno));
        *old = v->meta;
        v->meta = (cella_vol_meta){0};
        cella_vol_close(v);
        *has_old = cella_ok(r);
        return r;
    }
    if (!cella_ok(cella_stage_check_new(AT_FDCWD, vol_dir, true)))
        return cella_fail(CELLA_E_EXISTS, vol_dir,
                          "directory is neither empty nor a cella volume (refusing to mix "
                          "files: choose another VOL_DIR, or empty this one)");
    return CELLA_OK_RES;
}

/* realpath() of `path`, or of its parent directory plus its last component
 * when `path` does not exist yet. NULL if neither resolves. */
static char *resolve_dest(const char *path)
{
    char *real = realpath(path, NULL);
    if (real || errno != ENOENT)
        return real;
    char dir[PATH_MAX];
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n >= sizeof dir)
        return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    const char *parent = ".";
    if (slash == dir)
        parent = "/";
    else if (slash)
        parent = dir;
    if (slash)
        *slash = '\0';
    char *rp = realpath(parent, NULL), *out = NULL;
    if (rp && asprintf(&out, "%s/%s", strcmp(rp, "/") ? rp : "", base) < 0)
        out = NULL;
    free(rp);
    return out;
}

/* The source tree and the volume must not contain each other, or encryption
 * would read its own output. */
static cella_res check_disjoint(const char *src_dir, const char *vol_dir)
{
    char *a = realpath(src_dir, NULL), *b = resolve_dest(vol_dir);
    cella_res r = CELLA_OK_RES;
    if (!a || !b) {
        r = cella_fail(CELLA_E_IO, vol_dir, "cannot resolve path: %s", strerror(errno));
    } else {
        size_t la = strlen(a), lb = strlen(b);
        bool a_in_b = !strncmp(a, b, lb) && (a[lb] == '/' || a[lb] == '\0' || lb == 1);
        bool b_in_a = !strncmp(b, a, la) && (b[la] == '/' || b[la] == '\0' || la == 1);
        if (a_in_b || b_in_a)
            r = cella_fail(CELLA_E_USAGE, vol_dir,
                           "the volume directory and the source directory overlap");
    }
    free(a);
    free(b);
    return r;
}

/* Encrypts into a staging directory beside vol_dir and publishes it in one
 * step. With `new_key_path`, `vkey` is a fresh key saved there just before
 * publishing: a failed run leaves no key file. */
static cella_res encrypt_dir(const char *src_dir, const char *vol_dir,
                             const uint8_t vkey[static 32], const char *new_key_path,
                             const cella_vol_opts *opts, uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    uint32_t chunk = opts && opts->chunk_size ? opts->chunk_size : CELLA_VOL_DEFAULT_CHUNK;
    CELLA_ENSURE(chunk >= CELLA_VOL_MIN_CHUNK && chunk <= CELLA_VOL_MAX_CHUNK &&
                     (chunk & (chunk - 1)) == 0,
                 CELLA_E_USAGE, "--chunk-size", "chunk size must be a power of two from 4 KiB "
                                                "to 16 MiB");
    int srcfd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(srcfd >= 0, CELLA_E_IO, src_dir, "cannot open source directory: %s",
                 strerror(errno));
    scan_list l = {0};
    cella_vol_meta m = {0}, old = {0};
    struct stat old_st;
    bool has_old = false;
    cella_stage s = {.done = true};
    cella_res r = scan_dir(srcfd, src_dir, "", &l, 0);
    if (cella_ok(r))
        r = build_meta(&l, chunk, &m);
    scan_free(&l);
    if (!cella_ok(r))
        goto out;
    CELLA_GUARD(r, examine_voldir(vol_dir, vkey, &old, &has_old, &old_st), out);
    CELLA_GUARD(r, check_disjoint(src_dir, vol_dir), out);
    if (has_old) {
        memcpy(m.volume_id, old.volume_id, CELLA_VOL_ID_BYTES);
        m.version = old.version + 1;
    } else {
        CELLA_GUARD(r, cella_random(m.volume_id, CELLA_VOL_ID_BYTES), out);
        m.version = 1;
    }
    CELLA_GUARD(r, cella_stage_open(&s, AT_FDCWD, vol_dir, true, 0700), out);
    CELLA_GUARD(r, create_cfiles(s.fd, vol_dir, &m), out);
    engine en;
    memset(&en, 0, sizeof en);
    en.op = OP_SEAL;
    en.volume_id = m.volume_id;
    en.src_dirfd = srcfd;
    en.vol_dirfd = s.fd;
    en.vol_dir = vol_dir;
    en.opts = opts;
    CELLA_GUARD(r, engine_all(&en, &m), out);
    /* Ciphertext must be durable before the metadata that refers to it. */
    if (syncfs(s.fd) != 0) {
        r = cella_fail(CELLA_E_IO, vol_dir, "sync failed: %s", strerror(errno));
        goto out;
    }
    cella_buf sealed;
    cella_buf_init(&sealed, false);
    r = cella_vol_meta_seal(&m, vkey, &sealed, tag);
    if (cella_ok(r))
        r = cella_write_file_atomic(s.fd, CELLA_VOL_META_NAME, sealed.p, sealed.len, 0600, true);
    cella_buf_free(&sealed);
    /* The key before the volume: a published volume without its key is lost. */
    bool key_saved = false;
    if (cella_ok(r) && new_key_path)
        key_saved = cella_ok(r = cella_keyfile_save(new_key_path, vkey));
    if (cella_ok(r))
        r = has_old ? cella_stage_publish_exchange(&s, &old_st) : cella_stage_publish(&s, false);
    if (!cella_ok(r) && key_saved)
        unlink(new_key_path); /* ours, and no volume uses it */
out:
    cella_stage_abort(&s);
    close(srcfd);
    cella_vol_meta_free(&m);
    cella_vol_meta_free(&old);
    return r;
}

cella_res cella_vol_encrypt_dir(const char *src_dir, const char *vol_dir,
                                const uint8_t vkey[static 32], const cella_vol_opts *opts,
                                uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    return encrypt_dir(src_dir, vol_dir, vkey, NULL, opts, tag);
}

cella_res cella_vol_encrypt_keyfile(const char *src_dir, const char *vol_dir,
                                    const char *key_path, const cella_vol_opts *opts,
                                    uint8_t tag[static CELLA_VOL_TAG_BYTES], bool *created)
{
    *created = false;
    CELLA_KEY32(key);
    bool fresh = false;
    CELLA_TRY(cella_keyfile_load_or_new(key_path, key.b, &fresh));
    CELLA_TRY(encrypt_dir(src_dir, vol_dir, key.b, fresh ? key_path : NULL, opts, tag));
    *created = fresh;
    return CELLA_OK_RES;
}
