/* The shield's chunk store: see shield_store.h. */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "runtime/shield_store.h"

#include "core/log.h"

/* The page cache's unit on every platform cella runs on (x86-64, arm64 with
 * 4 KiB pages); with larger pages the kernel only stores fewer whole pages. */
#define PAGE 4096u
#define DOWN(x) ((x) / PAGE * PAGE)
#define UP(x) (((x) + PAGE - 1) / PAGE * PAGE)

/* File bytes [a, b) (page-aligned but for the file's end) from `chunk`. */
static void store_range(struct fuse_session *se, fuse_ino_t ino, const uint8_t *chunk,
                        uint64_t start, uint64_t a, uint64_t b)
{
    if (b <= a)
        return;
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT((size_t)(b - a));
    bv.buf[0].mem = (void *)(uintptr_t)(chunk + (a - start));
    int rc = fuse_lowlevel_notify_store(se, ino, (off_t)a, &bv, 0);
    if (rc != 0) /* e.g. the inode left the kernel's cache */
        cella_debug("shield: page store of inode %llu failed: %d", (unsigned long long)ino, rc);
}

void shield_store_pages(struct fuse_session *se, uint64_t ino, uint64_t file_size, uint64_t start,
                        size_t len, uint64_t req_lo, uint64_t req_hi, const uint8_t *chunk)
{
    uint64_t end = start + len;
    /* Only pages wholly inside the chunk: `chunk` holds no other bytes. */
    uint64_t lo = UP(start), hi = end == file_size ? end : DOWN(end);
    uint64_t skip_lo = DOWN(req_lo), skip_hi = UP(req_hi);
    if (skip_lo > lo && skip_hi < hi && skip_hi - skip_lo <= SHIELD_STORE_RESTORE_MAX) {
        /* The replied pages lie inside: one store of the whole chunk (those
         * pages again, the same bytes) costs less than two stores. */
        store_range(se, (fuse_ino_t)ino, chunk, start, lo, hi);
        return;
    }
    store_range(se, (fuse_ino_t)ino, chunk, start, lo, skip_lo < hi ? skip_lo : hi);
    store_range(se, (fuse_ino_t)ino, chunk, start, skip_hi > lo ? skip_hi : lo, hi);
}
