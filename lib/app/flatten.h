/* Private to lib/app: applying the layers of an image, in order, onto one
 * root file system (docs/app-measurement.md, "Importing an OCI image"). */
#ifndef CELLA_APP_FLATTEN_H
#define CELLA_APP_FLATTEN_H

#include <stddef.h>
#include <stdint.h>

#include "app/oci.h"
#include "core/error.h"

struct archive;

typedef struct path_set path_set;

typedef struct {
    int rootfd;                  /* the root file system being built */
    cella_import_limits lim;
    uint64_t total;              /* bytes of regular files written so far */
    uint32_t entries;            /* layer entries processed so far, all layers */
    size_t layer;                /* 1-based, for errors */
    path_set *seen;              /* paths written by the current layer */
} flatten_state;

/* Applies one layer (a tar archive, already opened) onto st->rootfd:
 * whiteouts and opaque directories remove what lower layers wrote; hard links
 * become copies of their target; symbolic links are created, never followed
 * (an entry whose parent path goes through one is refused); device nodes,
 * FIFOs and sockets are refused; setuid, setgid and sticky bits dropped. */
CELLA_RESULT flatten_layer(flatten_state *st, struct archive *layer);

void flatten_state_free(flatten_state *st);

#endif
