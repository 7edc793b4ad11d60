/* The shield's reply buffers and reads: the chunks a read touches,
 * authenticated and decrypted into the reply; the rest of a partial chunk
 * goes to the file's one-chunk cache or the page cache (shield_store.h). The
 * design is in shield.c's comment. */
#include "runtime/shield_int.h"
#include "runtime/shield_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"

#define ROUND_UP(x, a) (((x) + (a) - 1) / (a) * (a))

/* ==== reply buffers ======================================================= */

rbuf *shield_pool_get(cella_shield *s, size_t pt_need, size_t ct_need)
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

void shield_pool_put(cella_shield *s, rbuf *b)
{
    pthread_mutex_lock(&s->pool_lock);
    b->busy = false;
    pthread_mutex_unlock(&s->pool_lock);
}

void shield_pool_free(cella_shield *s)
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

/* Swaps the secure chunk buffer (*p, *cap) with b's (no copy). */
static void swap_chunk(uint8_t **p, size_t *cap, rbuf *b)
{
    uint8_t *q = *p;
    size_t qcap = *cap;
    *p = b->chunk;
    *cap = b->chunk_cap;
    b->chunk = q;
    b->chunk_cap = qcap;
}

/* Makes the chunk just decrypted into b->chunk the file's cached chunk, by
 * swapping buffers; the old cache becomes the reply buffer's. */
static void to_cache(shield_file *h, uint64_t i, rbuf *b)
{
    pthread_mutex_lock(&h->lock);
    swap_chunk(&h->cache, &h->cache_cap, b);
    h->cached = i;
    pthread_mutex_unlock(&h->lock);
}

/* Should this read store its last chunk (of `clen` bytes) into the page
 * cache once answered? Not for O_DIRECT opens (they bypass the page cache),
 * nor for huge chunks, nor when stores are off. */
static bool store_wanted(const cella_shield *s, const shield_file *h, size_t clen)
{
    return s->store_max > 0 && !h->direct && clen <= SHIELD_STORE_MAX_CHUNK;
}

/* Fills b->pt[0..n) with plaintext [off, off + n) of h's file. Returns 0 or an
 * errno. Never leaves unauthenticated bytes in a buffer. */
int shield_read_fast(cella_shield *s, shield_file *h, uint64_t off, size_t n, rbuf *b)
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
            if (i == hi && store_wanted(s, h, clen))
                b->st = (pending_store){.start = cs, .lo = off, .hi = off + n, .len = clen};
            else
                to_cache(h, i, b);
        }
    }
    return 0;
}

/* At most store_max workers store at once (shield_store.h). A chunk that
 * comes while they all do is queued for them rather than dropped: with one
 * reader on 2 CPUs, its next read that missed was often answered while the
 * previous store still ran, and that chunk was read again later. */
void shield_store_after_reply(cella_shield *s, shield_file *h, rbuf *b)
{
    pending_store st = b->st;
    fuse_ino_t ino = h->ino;
    uint64_t size = h->e->size;
    b->st.len = 0;
    pthread_mutex_lock(&s->store_lock);
    if (s->storing >= s->store_max) {
        bool queued = s->queued < STORE_QUEUE;
        if (queued) {
            queued_store *q = &s->queue[s->queued++];
            swap_chunk(&q->chunk, &q->cap, b);
            q->ino = ino;
            q->file_size = size;
            q->st = st;
        }
        pthread_mutex_unlock(&s->store_lock);
        if (!queued)
            to_cache(h, st.start / h->e->chunk_size, b);
        return;
    }
    s->storing++;
    for (;;) {
        pthread_mutex_unlock(&s->store_lock);
        shield_store_pages(s->se, ino, size, st.start, st.len, st.lo, st.hi, b->chunk);
        pthread_mutex_lock(&s->store_lock);
        if (s->queued == 0)
            break;
        queued_store *q = &s->queue[--s->queued];
        swap_chunk(&q->chunk, &q->cap, b);
        ino = q->ino;
        size = q->file_size;
        st = q->st;
    }
    s->storing--;
    pthread_mutex_unlock(&s->store_lock);
}

void shield_store_queue_free(cella_shield *s)
{
    for (unsigned i = 0; i < STORE_QUEUE; i++)
        if (s->queue[i].chunk)
            cella_secure_free(s->queue[i].chunk, s->queue[i].cap);
    memset(s->queue, 0, sizeof s->queue);
    s->queued = 0;
}

int shield_read_slow(cella_shield *s, shield_file *h, uint64_t off, size_t n, rbuf *b)
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
