/* libcurl through dlopen: see curl_lib.h for why. */
#include "net/curl_lib.h"

#ifndef CELLA_CURL_SONAME
#error "CELLA_CURL_SONAME (libcurl's soname) is set by lib/deps.cmake"
#endif

cella_res cella_curl_lib_load(const char *soname, cella_curl_lib *lib)
{
    static const char *const names[] = {CELLA_CURL_FUNCS(CELLA_DL_NAME)};
    void **const slots[] = {CELLA_CURL_FUNCS(CELLA_DL_SLOT)};
    return cella_dl_load(soname, "HTTP transfer library", names, slots,
                         sizeof names / sizeof *names);
}

static cella_dl_once g_once = CELLA_DL_ONCE_INIT;
static cella_curl_lib g_lib;

static void load_once(void)
{
    cella_res r = cella_curl_lib_load(CELLA_CURL_SONAME, &g_lib);
    if (cella_ok(r) && g_lib.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        r = cella_fail(CELLA_E_UNSUPPORTED, CELLA_CURL_SONAME,
                       "the HTTP transfer library does not start");
    cella_dl_settle(&g_once, r);
}

cella_res cella_curl_lib_get(const cella_curl_lib **lib)
{
    pthread_once(&g_once.once, load_once);
    *lib = g_once.loaded ? &g_lib : NULL;
    return cella_dl_result(&g_once, CELLA_CURL_SONAME);
}
