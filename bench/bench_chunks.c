/* In-memory chunk throughput: seals (or opens) 64 KiB volume chunks with
 * cella_vol_chunk_seal/open on N threads, in 1 MiB jobs like the volume engine,
 * with no file I/O. Prints MB/s (10^6 bytes) of plaintext.
 * usage: bench_chunks seal|open THREADS MIB SECONDS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "volume/format.h"

#define CHUNK (64u * 1024u)

struct arg {
    int open;
    size_t bytes;
    double seconds;
    double done;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *va)
{
    struct arg *a = va;
    size_t nch = a->bytes / CHUNK;
    uint8_t *pt = calloc(1, a->bytes), *ct = malloc(nch * (CHUNK + 16));
    uint8_t key[32] = {1}, vid[16] = {2}, fid[16] = {3};
    cella_gcm *e = cella_gcm_new(), *d = cella_gcm_new();
    if (!pt || !ct || !e || !d || !cella_ok(cella_gcm_set_key(e, key, true)) ||
        !cella_ok(cella_gcm_set_key(d, key, false)))
        abort();
    for (size_t i = 0; i < nch; i++)
        if (!cella_ok(cella_vol_chunk_seal(e, vid, fid, i, false, pt + i * CHUNK, CHUNK,
                                           ct + i * (CHUNK + 16))))
            abort();
    double t0 = now();
    size_t rounds = 0;
    while (now() - t0 < a->seconds) {
        for (size_t i = 0; i < nch; i++) {
            cella_res r = a->open ? cella_vol_chunk_open(d, vid, fid, i, false, ct + i * (CHUNK + 16),
                                                         CHUNK, pt + i * CHUNK)
                                  : cella_vol_chunk_seal(e, vid, fid, i, false, pt + i * CHUNK,
                                                         CHUNK, ct + i * (CHUNK + 16));
            if (!cella_ok(r))
                abort();
        }
        rounds++;
    }
    a->done = (double)rounds * (double)(nch * CHUNK) / (now() - t0);
    cella_gcm_free(e);
    cella_gcm_free(d);
    free(pt);
    free(ct);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_chunks seal|open THREADS MIB SECONDS\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 64)
        return 2;
    struct arg a[64];
    pthread_t th[64];
    for (int i = 0; i < threads; i++) {
        a[i] = (struct arg){!strcmp(argv[1], "open"), (size_t)atoi(argv[3]) << 20, atof(argv[4]), 0};
        pthread_create(&th[i], NULL, run, &a[i]);
    }
    double total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += a[i].done;
    }
    printf("%.0f\n", total / 1e6);
    return 0;
}
