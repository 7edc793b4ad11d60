/* libpq through dlopen: see pq_lib.h for why. */
#include "store/pq_lib.h"

#include <stdlib.h>

#ifndef CELLA_PQ_SONAME
#error "CELLA_PQ_SONAME (libpq's soname) is set by lib/deps.cmake"
#endif

cella_res cella_pq_lib_load(const char *soname, cella_pq_lib *lib)
{
    static const char *const names[] = {CELLA_PQ_FUNCS(CELLA_DL_NAME)};
    void **const slots[] = {CELLA_PQ_FUNCS(CELLA_DL_SLOT)};
    return cella_dl_load(soname, "PostgreSQL client library", names, slots,
                         sizeof names / sizeof *names);
}

static cella_dl_once g_once = CELLA_DL_ONCE_INIT;
static cella_pq_lib g_lib;

static void load_once(void) { cella_dl_settle(&g_once, cella_pq_lib_load(CELLA_PQ_SONAME, &g_lib)); }

cella_res cella_pq_lib_get(const cella_pq_lib **lib)
{
    pthread_once(&g_once.once, load_once);
    *lib = g_once.loaded ? &g_lib : NULL;
    return cella_dl_result(&g_once, CELLA_PQ_SONAME);
}

const cella_pq_lib *cella_pq_lib_loaded(void)
{
    if (!g_once.loaded)
        abort(); /* a connection exists only once its URL was checked, which loads libpq */
    return &g_lib;
}
