/* Private to lib/app: reading the members of an image, whether it is a
 * directory (OCI layout) or a tar archive (docker save, or an OCI layout in a
 * tar), on disk or in memory. Every member is read as a stream that hashes
 * what it reads, so a blob is checked against its digest as it is used. */
#ifndef CELLA_APP_OCI_SRC_H
#define CELLA_APP_OCI_SRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

struct archive;
struct evp_md_ctx_st;

typedef struct {
    char *name;   /* normalised: no leading "./" */
    char *link;   /* a symbolic link's target in the archive, or NULL */
    uint64_t size;
    uint64_t ordinal; /* its header's position in the archive */
} src_member;

typedef struct {
    int dirfd;          /* an OCI layout directory, or -1 */
    const char *path;   /* a tar archive on disk, or NULL */
    cella_slice mem;    /* a tar archive in memory (path NULL, dirfd -1) */
    src_member *m;      /* the archive's regular files and links, in order */
    size_t n;
    uint64_t ordinal;   /* while listing */
    const char *label;  /* the image as the user named it, for errors */
} oci_src;

typedef struct {
    oci_src *src;
    int fd;                  /* layout: the blob */
    struct archive *outer;   /* archive: positioned at the member's data */
    struct evp_md_ctx_st *md;
    uint64_t got;            /* bytes read so far */
    char name[512];
} oci_stream;

/* Opens `image` (a directory or a tar file) and, for an archive, lists it. */
CELLA_RESULT src_open(oci_src *s, const char *image, uint32_t max_members);
CELLA_RESULT src_open_mem(oci_src *s, cella_slice tar, uint32_t max_members);
void src_close(oci_src *s);

/* Whether the image has a member (after following archive links). */
bool src_has(oci_src *s, const char *name);

/* Opens member `name` (a relative path) for reading. */
CELLA_RESULT stream_open(oci_src *s, const char *name, oci_stream *st);
/* Reads up to n bytes (0 at the end); -1 on error (with the error set). */
long stream_read(oci_stream *st, void *buf, size_t n);
/* Reads what is left, then checks the size (if `size` >= 0) and the SHA-256
 * (if `sha` is not NULL) of everything read. `what` names it in errors. */
CELLA_RESULT stream_finish(oci_stream *st, int64_t size, const uint8_t *sha, const char *what);
void stream_close(oci_stream *st);

/* A whole small member (JSON), checked like stream_finish. NUL-terminated. */
CELLA_RESULT src_read_small(oci_src *s, const char *name, size_t max, int64_t size,
                            const uint8_t *sha, uint8_t **out, size_t *len);

#endif
