#include "core/secure.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

void cella_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

bool cella_ct_eq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

/* ---- registry of live secrets, for log redaction ------------------------- */

#define SECRET_SLOTS 256

struct secret_slot {
    const uint8_t *p;
    size_t n;
};

static pthread_mutex_t g_secret_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secret_slot g_secrets[SECRET_SLOTS];

void cella_secret_register(const void *p, size_t n)
{
    if (!p || n < 8)
        return;
    pthread_mutex_lock(&g_secret_lock);
    for (size_t i = 0; i < SECRET_SLOTS; i++) {
        if (!g_secrets[i].p) {
            g_secrets[i] = (struct secret_slot){p, n};
            break;
        }
    }
    /* A full registry only weakens redaction of additional secrets; logging of
     * secrets is already forbidden by construction, this is a second net. */
    pthread_mutex_unlock(&g_secret_lock);
}

void cella_secret_unregister(const void *p)
{
    pthread_mutex_lock(&g_secret_lock);
    for (size_t i = 0; i < SECRET_SLOTS; i++)
        if (g_secrets[i].p == p)
            g_secrets[i] = (struct secret_slot){NULL, 0};
    pthread_mutex_unlock(&g_secret_lock);
}

void cella_secret_foreach(void (*fn)(const uint8_t *p, size_t n, void *ctx), void *ctx)
{
    pthread_mutex_lock(&g_secret_lock);
    for (size_t i = 0; i < SECRET_SLOTS; i++)
        if (g_secrets[i].p)
            fn(g_secrets[i].p, g_secrets[i].n, ctx);
    pthread_mutex_unlock(&g_secret_lock);
}

/* ---- locked, non-dumpable allocations ----------------------------------- */

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

static size_t secure_span(size_t n, size_t ps)
{
    return ((n + ps - 1) / ps) * ps;
}

/* One-page blocks are the common case (keys, small secrets, per-request
 * buffers): a few per thread are kept, already locked and guarded, instead of
 * six system calls per allocation. Kept blocks are wiped when returned. */
#define PAGE_CACHE 8
static _Thread_local uint8_t *g_page_cache[PAGE_CACHE];
static _Thread_local int g_page_cached;
static pthread_key_t g_cache_key;
static pthread_once_t g_cache_once = PTHREAD_ONCE_INIT;

/* At thread exit, the thread's kept blocks are unmapped (they are wiped already). */
static void release_cache(void *unused)
{
    (void)unused;
    size_t ps = page_size();
    while (g_page_cached > 0) {
        uint8_t *p = g_page_cache[--g_page_cached];
        (void)munlock(p, ps);
        munmap(p, 2 * ps);
    }
}

static void make_cache_key(void) { (void)pthread_key_create(&g_cache_key, release_cache); }

static uint8_t *map_secure(size_t span, size_t ps)
{
    uint8_t *base = mmap(NULL, span + ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    /* Guard page after the data: an overrun faults instead of reading on. */
    if (mprotect(base + span, ps, PROT_NONE) != 0) {
        munmap(base, span + ps);
        return NULL;
    }
    (void)madvise(base, span, MADV_DONTDUMP);
    /* mlock may fail under RLIMIT_MEMLOCK; the memory is still non-dumpable and
     * wiped on free, so we continue rather than refuse to work. */
    (void)mlock(base, span);
    return base;
}

void *cella_secure_alloc(size_t n)
{
    size_t ps = page_size();
    if (n == 0 || n > SIZE_MAX - 2 * ps)
        return NULL;
    size_t span = secure_span(n, ps);
    uint8_t *base = NULL;
    if (span == ps && g_page_cached > 0)
        base = g_page_cache[--g_page_cached];
    else
        base = map_secure(span, ps);
    if (!base)
        return NULL;
    cella_secret_register(base, n);
    return base;
}

void cella_secure_free(void *p, size_t n)
{
    if (!p)
        return;
    size_t ps = page_size();
    size_t span = secure_span(n, ps);
    cella_secret_unregister(p);
    cella_wipe(p, span);
    if (span == ps && g_page_cached < PAGE_CACHE) {
        /* A non-NULL value makes the destructor run when this thread exits. */
        pthread_once(&g_cache_once, make_cache_key);
        (void)pthread_setspecific(g_cache_key, (void *)1);
        g_page_cache[g_page_cached++] = p;
        return;
    }
    (void)munlock(p, span);
    munmap(p, span + ps);
}

cella_res cella_random(void *out, size_t n)
{
    uint8_t *o = out;
    while (n > 0) {
        ssize_t got = getrandom(o, n > 256 ? 256 : n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return cella_fail(CELLA_E_CRYPTO, NULL, "getrandom failed: %s", strerror(errno));
        }
        o += got;
        n -= (size_t)got;
    }
    return CELLA_OK_RES;
}

void cella_harden_process(void)
{
    struct rlimit no_core = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &no_core);
    /* Non-dumpable also blocks ptrace attach and /proc/PID/mem by other
     * unprivileged processes of the same user. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
