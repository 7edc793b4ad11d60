/* Shared libraries loaded on first use instead of linked, so that a process
 * that does not need them does not pay for loading and relocating them at
 * every start (docs/architecture.md, "Starting lean"): libarchive
 * (app/archive_lib.h), libcurl (net/curl_lib.h), libpq (store/pq_lib.h).
 *
 * Each is a typed table of function pointers (each field has the type of the
 * function its library's header declares, so calls through it are
 * type-checked), filled by dlopen of the exact soname the build linked
 * against (found by lib/deps.cmake), searched like any DT_NEEDED entry. */
#ifndef CELLA_CORE_DL_H
#define CELLA_CORE_DL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* For a table's X-macro list: the names, and the addresses of the fields of
 * a table called `lib`. */
#define CELLA_DL_NAME(f) #f,
#define CELLA_DL_SLOT(f) (void **)&lib->f,
#define CELLA_DL_FIELD(f) __typeof__(f) *f;

/* dlopen(soname) with every symbol resolved now (not at a first call half
 * way through a transfer), then each names[i] into *slots[i]. Fails with
 * CELLA_E_UNSUPPORTED at `soname`: "cannot load the WHAT: <dlerror>" or "the
 * WHAT has no <name>" (then every slot is NULL again). The handle stays open
 * for the process's life. */
CELLA_RESULT cella_dl_load(const char *soname, const char *what, const char *const *names,
                           void **const *slots, size_t n);

/* A table loaded once per process (thread-safe), its failure repeated to
 * every caller. */
typedef struct {
    pthread_once_t once;
    bool loaded;
    char why[512];
} cella_dl_once;

#define CELLA_DL_ONCE_INIT {PTHREAD_ONCE_INIT, false, {0}}

/* In the pthread_once function: records the load's result. */
void cella_dl_settle(cella_dl_once *o, cella_res loaded);

/* After pthread_once: OK, or the load's error again (at `soname`). */
CELLA_RESULT cella_dl_result(const cella_dl_once *o, const char *soname);

#endif
