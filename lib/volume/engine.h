/* The parallel chunk engine behind lib/volume: seals, verifies and decrypts
 * a volume's files in jobs of whole chunks on all cores. Internal to
 * lib/volume (volume.c drives it); not part of the API.
 */
#ifndef CELLA_VOLUME_ENGINE_H
#define CELLA_VOLUME_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "volume/format.h"
#include "volume/volume.h"

/* Bulk work is cut into jobs of at most this many plaintext bytes: small
 * enough that a job's buffers stay in L2 between the read and the cipher. */
#define JOB_BYTES (1u * 1024u * 1024u)

/* OP_CAT writes each job's plaintext to out_fd in job order, as soon as the
 * job has authenticated and every earlier job has been written. */
enum engine_op { OP_SEAL, OP_VERIFY, OP_DECRYPT_FILE, OP_CAT };

/* Per-thread resources: one cipher context (keyed per job, to seal or to
 * open) and one buffer, in secure memory, for a job's chunks. */
typedef struct {
    cella_gcm *g;
    uint8_t *in;          /* a job's chunks, sealed or opened in place */
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
    int out_fd;           /* plaintext output (CAT) */
    job *jobs;
    size_t njobs;
    atomic_size_t next;
    atomic_uint_fast64_t done_bytes;
    uint64_t total_bytes;
    atomic_bool failed;
    pthread_mutex_t err_lock;   /* also guards `turn` */
    pthread_cond_t turn_moved;  /* `turn` advanced or a worker failed */
    size_t turn;                /* CAT: the next job to write */
    cella_code err_code;
    char err_what[512];
    char err_where[1024];
    const cella_vol_opts *opts;
    double last_progress;
    size_t buf_bytes;   /* largest job's ciphertext bytes: sizes each worker's buffer */
} engine;

/* The file id in lowercase hex: the ciphertext file's name. */
void vol_id_hex(char out[33], const uint8_t id[static CELLA_VOL_ID_BYTES]);
/* "VOL/0123…" for error messages. */
void vol_cfile_where(char *out, size_t cap, const char *dir, const uint8_t *id);
unsigned vol_online_cpus(void);


/* Runs en->jobs on en->opts->threads threads (default: one per CPU); the first
 * error stops all workers and is re-raised here. */
CELLA_RESULT vol_engine_run(engine *en);
/* Appends the jobs for one file to en->jobs (*cap: its allocated length;
 * a file of size 0 has one empty chunk). */
CELLA_RESULT vol_engine_add_file(engine *en, size_t *cap, const cella_vol_entry *e);
/* Runs en->op over every file of `m`. */
CELLA_RESULT vol_engine_all(engine *en, const cella_vol_meta *m);

#endif
