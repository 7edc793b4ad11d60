/* Internal to lib/runtime/shield*.c (never included elsewhere): the shield's
 * state and what its files share. shield.h is the interface; shield.c says
 * which file does what. */
#ifndef CELLA_RUNTIME_SHIELD_INT_H
#define CELLA_RUNTIME_SHIELD_INT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "crypto/aead.h"
#include "runtime/shield.h"
#include "volume/volume.h"

#define ROOT_INO 1
#define NO_CHUNK UINT64_MAX
#define POOL_MAX 64
#define STORE_QUEUE 2 /* chunks waiting for the worker that stores */

/* A chunk to store into the page cache once the read is answered: file bytes
 * [start, start + len) (a whole chunk, in the reply buffer's `chunk`), of
 * which [lo, hi) were replied (shield_store_pages may skip those). len 0:
 * none. */
typedef struct {
    uint64_t start, lo, hi;
    size_t len;
} pending_store;

/* A chunk that waits for the worker that stores (its buffer moved here from
 * a reply buffer, no copy): see shield_store_after_reply. */
typedef struct {
    uint8_t *chunk; /* secure */
    size_t cap;
    fuse_ino_t ino;
    uint64_t file_size;
    pending_store st;
} queued_store;

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
     * those that do, and the chunks they are still to store (shield_store.h
     * says why one worker must stay free); under store_lock. */
    unsigned store_max;
    pthread_mutex_t store_lock;
    unsigned storing;
    unsigned queued;
    queued_store queue[STORE_QUEUE];
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
    /* One for the open file, one more for each read still storing after its
     * reply: the reply lets the reader close the file, and the release must
     * not free it under that store. */
    _Atomic int refs;
} shield_file;

/* ---- shield_fs.c: the tree and the FUSE operations ---- */
extern const struct fuse_lowlevel_ops shield_ops;
/* The tree of s->m's entries (parents, children, link counts). */
CELLA_RESULT shield_build_tree(cella_shield *s);
/* Closes and frees an open file (its descriptor, its wiped cache). */
void shield_file_free(shield_file *h);
/* Drops one reference to h (shield_file.refs); the last frees it. */
void shield_file_put(shield_file *h);

/* ---- shield_read.c: reply buffers and reading ---- */
/* A free reply buffer with room for pt_need plaintext and ct_need ciphertext
 * bytes, or NULL; back with shield_pool_put. */
rbuf *shield_pool_get(cella_shield *s, size_t pt_need, size_t ct_need);
void shield_pool_put(cella_shield *s, rbuf *b);
/* Wipes and frees every reply buffer (at unmount). */
void shield_pool_free(cella_shield *s);
/* Fill b->pt[0..n) with plaintext [off, off + n) of h's file, from its
 * ciphertext file (fast) or through cella_vol_read (slow); 0 or an errno. */
int shield_read_fast(cella_shield *s, shield_file *h, uint64_t off, size_t n, rbuf *b);
int shield_read_slow(cella_shield *s, shield_file *h, uint64_t off, size_t n, rbuf *b);
/* Once the read is answered: stores the chunk b->st names (b->st.len != 0)
 * into the page cache, and then any chunks queued meanwhile; or queues it
 * while another worker stores (or keeps it as h's cached chunk when the queue
 * is full). Clears b->st. */
void shield_store_after_reply(cella_shield *s, shield_file *h, rbuf *b);
/* Wipes and frees the queued chunks (at unmount). */
void shield_store_queue_free(cella_shield *s);

#endif
