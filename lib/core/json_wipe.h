/* jansson's blocks wiped on free.
 *
 * JSON trees carry secrets (session documents, key replies, request bodies
 * with keys in them): jansson frees their strings with free(), which leaves
 * the bytes in the heap for the next allocation or a memory disclosure bug to
 * find. cella_json_wipe_install() makes jansson free through a function that
 * first overwrites the whole block (malloc_usable_size, so no size header and
 * blocks allocated here stay plain malloc blocks that free() also accepts,
 * e.g. json_dumps output freed by its caller) and then frees it.
 *
 * Every cella program installs it first thing (cli/main.c), before any
 * jansson call. Text from json_dumps() that its caller frees with free()
 * is not wiped by this: callers holding secrets there wipe it themselves. */
#ifndef CELLA_CORE_JSON_WIPE_H
#define CELLA_CORE_JSON_WIPE_H

#include <stddef.h>

/* json_set_alloc_funcs(malloc, cella_json_wipe_free). Idempotent. */
void cella_json_wipe_install(void);

/* Overwrites the whole malloc block p (its usable size) with zeros, without
 * freeing it: the step the installed free function runs first. p may be NULL. */
void cella_json_wipe_block(void *p);

/* The installed free function: cella_json_wipe_block, then free. */
void cella_json_wipe_free(void *p);

/* Test seam: called with each block between its wipe and its free (NULL: none,
 * the default). Tests use it to see what jansson's free leaves in a block
 * without reading freed memory. */
void cella_json_wipe_set_observer(void (*fn)(const void *p, size_t n));

#endif
