#include "volume/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/safepath.h"
#include "core/secure.h"

void vol_id_hex(char out[33], const uint8_t id[static CELLA_VOL_ID_BYTES])
{
    cella_hex_encode(out, id, CELLA_VOL_ID_BYTES, false);
}

/* "VOL/0123…" for error messages. */
void vol_cfile_where(char *out, size_t cap, const char *dir, const uint8_t *id)
{
    char h[33];
    vol_id_hex(h, id);
    snprintf(out, cap, "%s/%s", dir, h);
}

unsigned vol_online_cpus(void)
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

static void engine_record_error(engine *en)
{
    pthread_mutex_lock(&en->err_lock);
    if (!atomic_load(&en->failed)) {
        en->err_code = cella_error_code();
        snprintf(en->err_what, sizeof en->err_what, "%s", cella_error_what());
        snprintf(en->err_where, sizeof en->err_where, "%s", cella_error_where());
        atomic_store(&en->failed, true);
    }
    pthread_cond_broadcast(&en->turn_moved); /* CAT workers waiting their turn give up */
    pthread_mutex_unlock(&en->err_lock);
}

/* Moves a job's plaintext between `fd` and `buf`, where each chunk's bytes sit
 * at its ciphertext's place, followed by room for its 16-byte tag, which is
 * skipped: sealing reads the plaintext into that layout and seals in place,
 * decryption decrypts in place and writes from it. One preadv/pwritev
 * (off >= 0) or writev (off < 0: a stream) per job, resumed after a short
 * transfer; a read that meets the end of the file is an error. */
static cella_res chunk_io(int fd, int64_t off, uint8_t *buf, const job *j, size_t pt_len,
                          bool reading, const char *where)
{
    struct iovec iov[JOB_BYTES / CELLA_VOL_MIN_CHUNK + 1];
    if (j->count > sizeof iov / sizeof *iov)
        CELLA_MISUSE("job of more chunks than JOB_BYTES allows");
    size_t niov = 0, left = pt_len;
    uint8_t *p = buf;
    for (uint64_t i = 0; i < j->count; i++) {
        size_t n = left < j->e->chunk_size ? left : j->e->chunk_size;
        iov[niov++] = (struct iovec){p, n};
        p += n + CELLA_GCM_TAG_BYTES;
        left -= n;
    }
    struct iovec *v = iov;
    while (niov > 0 && pt_len > 0) {
        ssize_t k = reading   ? preadv(fd, v, (int)niov, off)
                    : off >= 0 ? pwritev(fd, v, (int)niov, off)
                               : writev(fd, v, (int)niov);
        if (k < 0 && errno == EINTR)
            continue;
        CELLA_ENSURE(k > 0, CELLA_E_IO, where, "%s failed: %s", reading ? "read" : "write",
                     k < 0 ? strerror(errno) : reading ? "file shrank" : "no progress");
        pt_len -= (size_t)k;
        if (off >= 0)
            off += k;
        while (niov > 0 && (size_t)k >= v->iov_len) {
            k -= (ssize_t)v->iov_len;
            v++;
            niov--;
        }
        if (niov > 0) {
            v->iov_base = (uint8_t *)v->iov_base + k;
            v->iov_len -= (size_t)k;
        }
    }
    return CELLA_OK_RES;
}

/* CAT: writes job k's authenticated plaintext once jobs 0..k-1 are written.
 * Jobs are handed out in order and a worker holds one at a time, so the job
 * being waited for is always in another worker's hands: no deadlock. After a
 * failure nothing more is written. */
static cella_res cat_write_in_turn(engine *en, const job *j, uint8_t *buf, size_t n)
{
    size_t k = (size_t)(j - en->jobs);
    pthread_mutex_lock(&en->err_lock);
    while (en->turn != k && !atomic_load(&en->failed))
        pthread_cond_wait(&en->turn_moved, &en->err_lock);
    bool mine = en->turn == k && !atomic_load(&en->failed);
    pthread_mutex_unlock(&en->err_lock);
    if (!mine)
        return cella_fail(CELLA_E_INTERNAL, NULL, "stopped by another worker's error");
    cella_res r = chunk_io(en->out_fd, -1, buf, j, n, false, "output");
    if (!cella_ok(r)) {
        /* Failed before the turn moves: job k+1 must not be written after a
         * job that was not (or only in part). */
        engine_record_error(en);
        return r;
    }
    pthread_mutex_lock(&en->err_lock);
    en->turn = k + 1;
    pthread_cond_broadcast(&en->turn_moved);
    pthread_mutex_unlock(&en->err_lock);
    return r;
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


/* Seals the job's chunks in place in `buf` (laid out as chunk_io reads
 * them), each tag into the room after its chunk. */
static cella_res seal_chunks(engine *en, const job *j, worker_bufs *w, uint8_t *buf)
{
    const cella_vol_entry *e = j->e;
    CELLA_TRY(cella_gcm_set_key(w->g, e->key, true));
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    size_t co = 0;
    for (uint64_t i = j->first; i < j->first + j->count; i++) {
        size_t n = (size_t)((i + 1 == nch) ? e->size - i * e->chunk_size : e->chunk_size);
        CELLA_TRY(cella_vol_chunk_seal(w->g, en->volume_id, e->file_id, i, i + 1 == nch,
                                       buf + co, n, buf + co));
        co += n + CELLA_GCM_TAG_BYTES;
    }
    return CELLA_OK_RES;
}

/* Authenticates and decrypts the job's chunks in `buf`, in place
 * (cella_vol_chunk_open wipes a chunk that fails). VERIFY decrypts too and
 * drops the plaintext: OpenSSL's AES-GCM is the only tag check cella trusts,
 * and `buf` is secure memory, wiped when freed. */
static cella_res open_chunks(engine *en, const job *j, worker_bufs *w, uint8_t *buf,
                             const char *where)
{
    const cella_vol_entry *e = j->e;
    CELLA_TRY(cella_gcm_set_key(w->g, e->key, false));
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    size_t co = 0;
    for (uint64_t i = j->first; i < j->first + j->count; i++) {
        size_t n = (size_t)((i + 1 == nch) ? e->size - i * e->chunk_size : e->chunk_size);
        cella_res r = cella_vol_chunk_open(w->g, en->volume_id, e->file_id, i, i + 1 == nch,
                                           buf + co, n, buf + co);
        if (r.code == CELLA_E_AUTH)
            return cella_fail(CELLA_E_AUTH, where,
                              "chunk %llu of %s failed authentication (tampered, reordered, "
                              "truncated or taken from another file)",
                              (unsigned long long)i, e->path);
        CELLA_TRY(r);
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
        r = chunk_io(in, (int64_t)job_pt_off(j), w->in, j, ptl, true, e->path);
    close(in);
    CELLA_TRY(r);
    CELLA_TRY(seal_chunks(en, j, w, w->in));
    vol_cfile_where(where, sizeof where, en->vol_dir, e->file_id);
    char name[33];
    vol_id_hex(name, e->file_id);
    int out = openat(en->vol_dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(out >= 0, CELLA_E_IO, where, "cannot open: %s", strerror(errno));
    r = cella_pwrite_full(out, w->in, job_ct_len(j),
                          cella_vol_chunk_offset(j->first, e->chunk_size), where);
    close(out);
    return r;
}

static cella_res run_open(engine *en, const job *j, worker_bufs *w)
{
    const cella_vol_entry *e = j->e;
    char where[1200], name[33];
    vol_cfile_where(where, sizeof where, en->vol_dir, e->file_id);
    vol_id_hex(name, e->file_id);
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
    CELLA_TRY(open_chunks(en, j, w, w->in, where));
    if (en->op == OP_CAT)
        return cat_write_in_turn(en, j, w->in, job_pt_len(j));
    if (en->op != OP_DECRYPT_FILE)
        return CELLA_OK_RES;
    int out = cella_open_beneath(en->out_dirfd, e->path, O_WRONLY, 0);
    CELLA_ENSURE(out >= 0, CELLA_E_IO, e->path, "cannot open output file: %s", strerror(errno));
    r = chunk_io(out, (int64_t)job_pt_off(j), w->in, j, job_pt_len(j), false, e->path);
    close(out);
    return r;
}

struct worker_arg {
    engine *en;
    unsigned index;
};

static void worker_bufs_free(worker_bufs *w)
{
    cella_gcm_free(w->g);
    if (w->in)
        cella_secure_free(w->in, w->cap);
    memset(w, 0, sizeof *w);
}

/* Every op reads a job into `in` and seals or opens it there (verify decrypts
 * too, and drops the plaintext). `in` is secure memory (locked, non-dumpable,
 * wiped on free): it holds plaintext. */
static cella_res worker_bufs_alloc(worker_bufs *w, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->in = cella_secure_alloc(w->cap);
    w->g = cella_gcm_new();
    if (!w->in || !w->g) {
        worker_bufs_free(w);
        return cella_fail(CELLA_E_NOMEM, NULL, "out of memory for worker buffers");
    }
    return CELLA_OK_RES;
}

static void *engine_worker(void *varg)
{
    struct worker_arg *a = varg;
    engine *en = a->en;
    worker_bufs w;
    if (!cella_ok(worker_bufs_alloc(&w, en->buf_bytes))) {
        engine_record_error(en);
        return NULL;
    }
    while (!atomic_load(&en->failed)) {
        size_t k = atomic_fetch_add(&en->next, 1);
        if (k >= en->njobs)
            break;
        const job *j = &en->jobs[k];
        cella_res r = en->op == OP_SEAL ? run_seal(en, j, &w) : run_open(en, j, &w);
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
    worker_bufs_free(&w);
    return NULL;
}

cella_res vol_engine_add_file(engine *en, size_t *cap, const cella_vol_entry *e)
{
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    uint64_t per = JOB_BYTES / e->chunk_size;
    if (per == 0)
        per = 1;
    for (uint64_t c = 0; c < nch; c += per) {
        if (en->njobs == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            job *nj = realloc(en->jobs, ncap * sizeof *nj);
            CELLA_ENSURE(nj, CELLA_E_NOMEM, NULL, "out of memory for jobs");
            en->jobs = nj;
            *cap = ncap;
        }
        en->jobs[en->njobs++] = (job){e, c, nch - c < per ? nch - c : per};
    }
    en->total_bytes += e->size;
    return CELLA_OK_RES;
}

cella_res vol_engine_run(engine *en)
{
    /* Each worker's buffer holds the largest job, not a whole JOB_BYTES: a
     * small volume (an enclave's input or output) then locks, faults in and
     * wipes a page or two instead of megabytes. */
    en->buf_bytes = 1;
    for (size_t k = 0; k < en->njobs; k++)
        if (job_ct_len(&en->jobs[k]) > en->buf_bytes)
            en->buf_bytes = job_ct_len(&en->jobs[k]);
    unsigned want = en->opts && en->opts->threads ? en->opts->threads : vol_online_cpus();
    if (want > en->njobs)
        want = en->njobs ? (unsigned)en->njobs : 1;
    if (want > 64)
        want = 64;
    pthread_t th[64];
    struct worker_arg args[64];
    pthread_mutex_init(&en->err_lock, NULL);
    pthread_cond_init(&en->turn_moved, NULL);
    en->turn = 0;
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
    pthread_cond_destroy(&en->turn_moved);
    pthread_mutex_destroy(&en->err_lock);
    if (en->opts && en->opts->progress)
        en->opts->progress(atomic_load(&en->done_bytes), en->total_bytes, en->opts->progress_ctx);
    if (atomic_load(&en->failed))
        return cella_fail(en->err_code, en->err_where, "%s", en->err_what);
    return CELLA_OK_RES;
}

/* Runs `op` over every file of `m`. */
cella_res vol_engine_all(engine *en, const cella_vol_meta *m)
{
    size_t cap = 0;
    en->jobs = NULL;
    en->njobs = 0;
    en->total_bytes = 0;
    cella_res r = CELLA_OK_RES;
    for (uint32_t i = 0; i < m->count && cella_ok(r); i++)
        if (m->entries[i].type == CELLA_VOL_FILE)
            r = vol_engine_add_file(en, &cap, &m->entries[i]);
    if (cella_ok(r))
        r = vol_engine_run(en);
    free(en->jobs);
    en->jobs = NULL;
    return r;
}

