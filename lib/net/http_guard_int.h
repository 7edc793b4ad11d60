/* Private to http_guard*.c: the shared books and their helpers. */
#ifndef CELLA_NET_HTTP_GUARD_INT_H
#define CELLA_NET_HTTP_GUARD_INT_H

#include <pthread.h>

#include "core/metrics.h"
#include "net/http_guard.h"

#define GUARD_BUCKET_BITS 10

typedef enum {
    GUARD_CONNS,     /* over a connection cap */
    GUARD_DEADLINE,  /* request not read in time */
    GUARD_TOO_LARGE, /* body over its route's cap */
    GUARD_PENDING,   /* too many bytes of unfinished bodies */
    GUARD_POLLS,     /* too many long polls from one address */
    GUARD_MALFORMED, /* not HTTP/1.x as http-parser reads it */
    GUARD_STORAGE,   /* a spool file could not be written */
    GUARD_REASONS
} guard_reason;

typedef enum { GUARD_OK, GUARD_REFUSE } guard_verdict;

typedef struct guard_addr guard_addr;
typedef struct guard_conn guard_conn;

struct cella_http_guard {
    const cella_http_guard_config *cfg;
    cella_http_limits limits;
    pthread_mutex_t lock; /* everything below */
    guard_addr *buckets[1u << GUARD_BUCKET_BITS];
    unsigned conns;
    size_t pending;
    guard_conn **fds; /* by descriptor */
    size_t nfds;
    cella_counter refused[GUARD_REASONS];
};

guard_verdict guard_conn_open(cella_http_guard *g, uint32_t addr);
void guard_conn_close(cella_http_guard *g, uint32_t addr);
guard_verdict guard_pending_add(cella_http_guard *g, uint32_t addr, size_t n);
void guard_pending_release(cella_http_guard *g, uint32_t addr, size_t n);
void guard_fd_set(cella_http_guard *g, int fd, guard_conn *c);
void guard_fd_clear(cella_http_guard *g, int fd, guard_conn *c);
guard_conn *guard_fd_get(cella_http_guard *g, int fd);
void guard_count(cella_http_guard *g, guard_reason why);

#endif
