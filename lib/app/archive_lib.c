/* libarchive through dlopen: see archive_lib.h for why. */
#include "app/archive_lib.h"

#include <stdlib.h>

#ifndef CELLA_ARCHIVE_SONAME
#error "CELLA_ARCHIVE_SONAME (libarchive's soname) is set by lib/deps.cmake"
#endif

cella_res cella_archive_lib_load(const char *soname, cella_archive_lib *lib)
{
    static const char *const names[] = {CELLA_ARCHIVE_FUNCS(CELLA_DL_NAME)};
    void **const slots[] = {CELLA_ARCHIVE_FUNCS(CELLA_DL_SLOT)};
    return cella_dl_load(soname, "tar library", names, slots, sizeof names / sizeof *names);
}

static cella_dl_once g_once = CELLA_DL_ONCE_INIT;
static cella_archive_lib g_lib;

static void load_once(void)
{
    cella_dl_settle(&g_once, cella_archive_lib_load(CELLA_ARCHIVE_SONAME, &g_lib));
}

cella_res cella_archive_lib_get(const cella_archive_lib **lib)
{
    pthread_once(&g_once.once, load_once);
    *lib = g_once.loaded ? &g_lib : NULL;
    return cella_dl_result(&g_once, CELLA_ARCHIVE_SONAME);
}

const cella_archive_lib *cella_archive_lib_loaded(void)
{
    if (!g_once.loaded)
        abort(); /* an archive object exists only once its maker loaded the table */
    return &g_lib;
}
