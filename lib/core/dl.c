/* Libraries loaded on first use: see dl.h for why. */
#include "core/dl.h"

#include <dlfcn.h>
#include <stdio.h>

cella_res cella_dl_load(const char *soname, const char *what, const char *const *names,
                        void **const *slots, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *slots[i] = NULL;
    /* RTLD_NOW: every symbol resolved here, not at a first call mid-way. */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return cella_fail(CELLA_E_UNSUPPORTED, soname, "cannot load the %s: %s", what,
                          why ? why : "unknown error");
    }
    for (size_t i = 0; i < n; i++) {
        if (!(*slots[i] = dlsym(h, names[i]))) {
            for (size_t j = 0; j < n; j++)
                *slots[j] = NULL;
            dlclose(h);
            return cella_fail(CELLA_E_UNSUPPORTED, soname, "the %s has no %s", what, names[i]);
        }
    }
    return CELLA_OK_RES; /* the handle stays open for the process's life */
}

void cella_dl_settle(cella_dl_once *o, cella_res loaded)
{
    o->loaded = cella_ok(loaded);
    if (!o->loaded) {
        snprintf(o->why, sizeof o->why, "%s", cella_error_what());
        cella_error_clear();
    }
}

cella_res cella_dl_result(const cella_dl_once *o, const char *soname)
{
    CELLA_ENSURE(o->loaded, CELLA_E_UNSUPPORTED, soname, "%s", o->why);
    return CELLA_OK_RES;
}
