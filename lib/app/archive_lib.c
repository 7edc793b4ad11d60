/* libarchive's reader through dlopen: see archive_lib.h for why. */
#include "app/archive_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef CELLA_ARCHIVE_SONAME
#error "CELLA_ARCHIVE_SONAME (libarchive's soname) is set by lib/deps.cmake"
#endif

cella_res cella_archive_lib_load(const char *soname, cella_archive_lib *lib)
{
    memset(lib, 0, sizeof *lib);
    /* RTLD_NOW: every symbol resolved here, not at a first call mid-unpack. */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return cella_fail(CELLA_E_UNSUPPORTED, soname, "cannot load the tar library: %s",
                          why ? why : "unknown error");
    }
    const char *missing = NULL;
#define CELLA_ARCHIVE_SYM(f)                                                                    \
    if (!missing && !(*(void **)&lib->f = dlsym(h, #f)))                                        \
        missing = #f;
    CELLA_ARCHIVE_READER_FUNCS(CELLA_ARCHIVE_SYM)
#undef CELLA_ARCHIVE_SYM
    if (missing) {
        dlclose(h);
        memset(lib, 0, sizeof *lib);
        return cella_fail(CELLA_E_UNSUPPORTED, soname, "the tar library has no %s", missing);
    }
    return CELLA_OK_RES; /* the handle stays open for the process's life */
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static cella_archive_lib g_lib;
static bool g_loaded;
static char g_why[512]; /* the load's error, repeated to every caller */

static void load_once(void)
{
    g_loaded = cella_ok(cella_archive_lib_load(CELLA_ARCHIVE_SONAME, &g_lib));
    if (!g_loaded) {
        snprintf(g_why, sizeof g_why, "%s", cella_error_what());
        cella_error_clear();
    }
}

cella_res cella_archive_lib_get(const cella_archive_lib **lib)
{
    pthread_once(&g_once, load_once);
    *lib = g_loaded ? &g_lib : NULL;
    CELLA_ENSURE(g_loaded, CELLA_E_UNSUPPORTED, CELLA_ARCHIVE_SONAME, "%s", g_why);
    return CELLA_OK_RES;
}
