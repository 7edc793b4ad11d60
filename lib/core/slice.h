/* Untrusted bytes are read through a bounds-checked cursor. No parser in cella
 * indexes a raw buffer: it takes a `cella_reader` and the reader fails (with
 * CELLA_E_PARSE) rather than over-reading. Writers append to a growable buffer.
 */
#ifndef CELLA_CORE_SLICE_H
#define CELLA_CORE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct {
    const uint8_t *p;
    size_t len;
} cella_slice;

typedef struct {
    cella_slice s;
    size_t off;
    const char *what; /* names the structure in errors, e.g. "volume metadata" */
} cella_reader;

static inline cella_slice cella_slice_of(const void *p, size_t len)
{
    return (cella_slice){(const uint8_t *)p, len};
}

static inline cella_reader cella_reader_of(cella_slice s, const char *what)
{
    return (cella_reader){s, 0, what};
}

static inline size_t cella_reader_left(const cella_reader *r) { return r->s.len - r->off; }

/* Sub-slice [off, off+len) of s; fails if out of range (overflow-checked). */
CELLA_RESULT cella_slice_sub(cella_slice s, size_t off, size_t len, cella_slice *out);

/* Each read advances the cursor and fails without moving it if too few bytes remain. */
CELLA_RESULT cella_read_bytes(cella_reader *r, size_t n, cella_slice *out);
CELLA_RESULT cella_read_copy(cella_reader *r, void *dst, size_t n);
CELLA_RESULT cella_read_u8(cella_reader *r, uint8_t *v);
CELLA_RESULT cella_read_u16le(cella_reader *r, uint16_t *v);
CELLA_RESULT cella_read_u32le(cella_reader *r, uint32_t *v);
CELLA_RESULT cella_read_u64le(cella_reader *r, uint64_t *v);
CELLA_RESULT cella_read_skip(cella_reader *r, size_t n);
/* Fails unless the reader is exhausted (no trailing bytes). */
CELLA_RESULT cella_read_end(const cella_reader *r);

/* Little-endian encode/decode of fixed-width integers into known-size buffers. */
static inline void cella_put_u16le(uint8_t b[static 2], uint16_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}
static inline void cella_put_u32le(uint8_t b[static 4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}
static inline void cella_put_u64le(uint8_t b[static 8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}
static inline void cella_put_u64be(uint8_t b[static 8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[7 - i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t cella_get_u16le(const uint8_t b[static 2])
{
    return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t cella_get_u32le(const uint8_t b[static 4])
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
           ((uint32_t)b[3] << 24);
}
static inline uint64_t cella_get_u64le(const uint8_t b[static 8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* A growable output buffer. On allocation failure it latches `failed` and
 * further appends are no-ops; check with cella_buf_result() once at the end. */
typedef struct {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool failed;
    bool secret; /* wipe on growth and free */
} cella_buf;

void cella_buf_init(cella_buf *b, bool secret);
void cella_buf_append(cella_buf *b, const void *data, size_t n);
void cella_buf_u8(cella_buf *b, uint8_t v);
void cella_buf_u16le(cella_buf *b, uint16_t v);
void cella_buf_u32le(cella_buf *b, uint32_t v);
void cella_buf_u64le(cella_buf *b, uint64_t v);
CELLA_RESULT cella_buf_result(const cella_buf *b);
void cella_buf_free(cella_buf *b);

#endif
