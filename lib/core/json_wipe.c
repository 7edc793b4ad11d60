#include "core/json_wipe.h"

#include <jansson.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/secure.h"

static void (*_Atomic g_observer)(const void *p, size_t n);

void cella_json_wipe_block(void *p)
{
    if (p)
        cella_wipe(p, malloc_usable_size(p));
}

void cella_json_wipe_free(void *p)
{
    if (!p)
        return;
    cella_json_wipe_block(p);
    void (*obs)(const void *, size_t) = atomic_load_explicit(&g_observer, memory_order_relaxed);
    if (obs)
        obs(p, malloc_usable_size(p));
    free(p);
}

void cella_json_wipe_install(void)
{
    /* plain malloc: a block jansson hands out (json_dumps) may be freed with free() */
    json_set_alloc_funcs(malloc, cella_json_wipe_free);
}

void cella_json_wipe_set_observer(void (*fn)(const void *p, size_t n))
{
    atomic_store(&g_observer, fn);
}
