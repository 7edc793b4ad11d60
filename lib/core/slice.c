#include "core/slice.h"

#include <stdlib.h>
#include <string.h>

#include "core/secure.h"

cella_res cella_slice_sub(cella_slice s, size_t off, size_t len, cella_slice *out)
{
    CELLA_ENSURE(off <= s.len && len <= s.len - off, CELLA_E_PARSE, NULL,
                 "range %zu+%zu outside a %zu-byte buffer", off, len, s.len);
    *out = (cella_slice){s.p + off, len};
    return CELLA_OK_RES;
}

cella_res cella_read_bytes(cella_reader *r, size_t n, cella_slice *out)
{
    CELLA_ENSURE(n <= cella_reader_left(r), CELLA_E_PARSE, NULL,
                 "%s truncated at byte %zu (needed %zu more)",
                 r->what ? r->what : "input", r->off, n);
    *out = (cella_slice){r->s.p + r->off, n};
    r->off += n;
    return CELLA_OK_RES;
}

cella_res cella_read_copy(cella_reader *r, void *dst, size_t n)
{
    cella_slice s = {0};
    CELLA_TRY(cella_read_bytes(r, n, &s));
    if (n)
        memcpy(dst, s.p, n);
    return CELLA_OK_RES;
}

cella_res cella_read_u8(cella_reader *r, uint8_t *v)
{
    cella_slice s = {0};
    CELLA_TRY(cella_read_bytes(r, 1, &s));
    *v = s.p[0];
    return CELLA_OK_RES;
}

cella_res cella_read_u16le(cella_reader *r, uint16_t *v)
{
    cella_slice s = {0};
    CELLA_TRY(cella_read_bytes(r, 2, &s));
    *v = cella_get_u16le(s.p);
    return CELLA_OK_RES;
}

cella_res cella_read_u32le(cella_reader *r, uint32_t *v)
{
    cella_slice s = {0};
    CELLA_TRY(cella_read_bytes(r, 4, &s));
    *v = cella_get_u32le(s.p);
    return CELLA_OK_RES;
}

cella_res cella_read_u64le(cella_reader *r, uint64_t *v)
{
    cella_slice s = {0};
    CELLA_TRY(cella_read_bytes(r, 8, &s));
    *v = cella_get_u64le(s.p);
    return CELLA_OK_RES;
}

cella_res cella_read_skip(cella_reader *r, size_t n)
{
    cella_slice s = {0};
    return cella_read_bytes(r, n, &s);
}

cella_res cella_read_end(const cella_reader *r)
{
    CELLA_ENSURE(cella_reader_left(r) == 0, CELLA_E_PARSE, NULL,
                 "%s has %zu trailing bytes", r->what ? r->what : "input",
                 cella_reader_left(r));
    return CELLA_OK_RES;
}

void cella_buf_init(cella_buf *b, bool secret)
{
    memset(b, 0, sizeof *b);
    b->secret = secret;
}

static bool buf_reserve(cella_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > SIZE_MAX - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = malloc(cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    if (b->len)
        memcpy(p, b->p, b->len);
    /* Secret buffers never leave stale copies behind in freed heap memory. */
    if (b->secret && b->p)
        cella_wipe(b->p, b->cap);
    free(b->p);
    b->p = p;
    b->cap = cap;
    return true;
}

void cella_buf_append(cella_buf *b, const void *data, size_t n)
{
    if (n == 0 || !buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void cella_buf_u8(cella_buf *b, uint8_t v) { cella_buf_append(b, &v, 1); }

void cella_buf_u16le(cella_buf *b, uint16_t v)
{
    uint8_t t[2];
    cella_put_u16le(t, v);
    cella_buf_append(b, t, 2);
}

void cella_buf_u32le(cella_buf *b, uint32_t v)
{
    uint8_t t[4];
    cella_put_u32le(t, v);
    cella_buf_append(b, t, 4);
}

void cella_buf_u64le(cella_buf *b, uint64_t v)
{
    uint8_t t[8];
    cella_put_u64le(t, v);
    cella_buf_append(b, t, 8);
}

cella_res cella_buf_result(const cella_buf *b)
{
    CELLA_ENSURE(!b->failed, CELLA_E_NOMEM, NULL, "out of memory building a buffer");
    return CELLA_OK_RES;
}

void cella_buf_free(cella_buf *b)
{
    if (b->p && b->secret)
        cella_wipe(b->p, b->cap);
    free(b->p);
    bool secret = b->secret;
    cella_buf_init(b, secret);
}
