#include "volume/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secure.h"

/* ---- paths --------------------------------------------------------------- */

cella_res cella_vol_path_check(const char *path, size_t len)
{
    /* `path` need not be NUL-terminated: error messages get a bounded copy. */
    char where[CELLA_VOL_MAX_NAME + 8];
    snprintf(where, sizeof where, "%.*s%s", (int)(len < CELLA_VOL_MAX_NAME ? len : CELLA_VOL_MAX_NAME),
             path, len > CELLA_VOL_MAX_NAME ? "..." : "");
    CELLA_ENSURE(len > 0, CELLA_E_PATH, "", "empty path");
    CELLA_ENSURE(len <= CELLA_VOL_MAX_PATH, CELLA_E_PATH, where, "path longer than %d bytes",
                 CELLA_VOL_MAX_PATH);
    CELLA_ENSURE(memchr(path, '\0', len) == NULL, CELLA_E_PATH, where, "path contains NUL");
    CELLA_ENSURE(path[0] != '/', CELLA_E_PATH, where, "absolute path");
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        size_t clen = i - start;
        const char *c = path + start;
        CELLA_ENSURE(clen > 0, CELLA_E_PATH, where, "empty path component");
        CELLA_ENSURE(clen <= CELLA_VOL_MAX_NAME, CELLA_E_PATH, where, "path component too long");
        CELLA_ENSURE(!(clen == 1 && c[0] == '.'), CELLA_E_PATH, where, "'.' path component");
        CELLA_ENSURE(!(clen == 2 && c[0] == '.' && c[1] == '.'), CELLA_E_PATH, where,
                     "'..' path component");
        start = i + 1;
    }
    return CELLA_OK_RES;
}

/* ---- key derivation ------------------------------------------------------- */

cella_res cella_vol_derive_meta_key(uint8_t out[static 32], const uint8_t vkey[static 32],
                                    const uint8_t volume_id[static CELLA_VOL_ID_BYTES])
{
    return cella_hkdf_sha256(out, 32, vkey, 32, volume_id, CELLA_VOL_ID_BYTES,
                             "cella volume metadata key v1");
}

cella_res cella_vol_key_check(uint8_t out[static CELLA_VOL_KEYCHECK_BYTES],
                              const uint8_t vkey[static 32],
                              const uint8_t volume_id[static CELLA_VOL_ID_BYTES])
{
    return cella_hkdf_sha256(out, CELLA_VOL_KEYCHECK_BYTES, vkey, 32, volume_id,
                             CELLA_VOL_ID_BYTES, "cella volume key check v1");
}

/* ---- metadata header ------------------------------------------------------ */

static void header_encode(const cella_vol_header *h, uint8_t out[static CELLA_VOL_HEADER_BYTES])
{
    memset(out, 0, CELLA_VOL_HEADER_BYTES);
    memcpy(out, CELLA_VOL_MAGIC, 8);
    cella_put_u16le(out + 8, h->format_version);
    cella_put_u16le(out + 10, 0);
    cella_put_u32le(out + 12, CELLA_VOL_HEADER_BYTES);
    memcpy(out + 16, h->volume_id, CELLA_VOL_ID_BYTES);
    cella_put_u64le(out + 32, h->version);
    memcpy(out + 40, h->nonce, CELLA_GCM_IV_BYTES);
    cella_put_u32le(out + 52, h->body_len);
    memcpy(out + 56, h->key_check, CELLA_VOL_KEYCHECK_BYTES);
    /* 72..95 reserved, zero */
}

cella_res cella_vol_header_parse(cella_slice in, cella_vol_header *h)
{
    cella_reader r = cella_reader_of(in, "volume metadata header");
    uint8_t magic[8], reserved[24];
    uint16_t flags;
    uint32_t hlen;
    CELLA_TRY(cella_read_copy(&r, magic, 8));
    CELLA_ENSURE(memcmp(magic, CELLA_VOL_MAGIC, 8) == 0, CELLA_E_PARSE, NULL,
                 "not a cella volume (bad magic)");
    CELLA_TRY(cella_read_u16le(&r, &h->format_version));
    CELLA_ENSURE(h->format_version == CELLA_VOL_FORMAT_VERSION, CELLA_E_UNSUPPORTED, NULL,
                 "volume format version %u is not supported (this cella reads %d)",
                 h->format_version, CELLA_VOL_FORMAT_VERSION);
    CELLA_TRY(cella_read_u16le(&r, &flags));
    CELLA_TRY(cella_read_u32le(&r, &hlen));
    CELLA_ENSURE(flags == 0 && hlen == CELLA_VOL_HEADER_BYTES, CELLA_E_PARSE, NULL,
                 "volume metadata header has unknown flags or length");
    CELLA_TRY(cella_read_copy(&r, h->volume_id, CELLA_VOL_ID_BYTES));
    CELLA_TRY(cella_read_u64le(&r, &h->version));
    CELLA_TRY(cella_read_copy(&r, h->nonce, CELLA_GCM_IV_BYTES));
    CELLA_TRY(cella_read_u32le(&r, &h->body_len));
    CELLA_TRY(cella_read_copy(&r, h->key_check, CELLA_VOL_KEYCHECK_BYTES));
    CELLA_TRY(cella_read_copy(&r, reserved, sizeof reserved));
    static const uint8_t zero[24];
    CELLA_ENSURE(memcmp(reserved, zero, sizeof zero) == 0, CELLA_E_PARSE, NULL,
                 "volume metadata header: reserved bytes are not zero");
    return CELLA_OK_RES;
}

/* ---- metadata body --------------------------------------------------------- */

cella_res cella_vol_meta_alloc(cella_vol_meta *m, uint32_t count, size_t paths_bytes)
{
    m->count = 0;
    m->entries = NULL;
    m->paths = NULL;
    /* count is a u32 and an entry ~80 bytes: the product fits a 64-bit size_t. */
    m->entries_bytes = (size_t)(count ? count : 1) * sizeof(cella_vol_entry);
    m->entries = cella_secure_alloc(m->entries_bytes);
    m->paths = malloc(paths_bytes ? paths_bytes : 1);
    if (!m->entries || !m->paths) {
        cella_vol_meta_free(m);
        return cella_fail(CELLA_E_NOMEM, NULL, "out of memory for volume metadata");
    }
    memset(m->entries, 0, m->entries_bytes);
    m->count = count;
    return CELLA_OK_RES;
}

void cella_vol_meta_free(cella_vol_meta *m)
{
    if (m->entries)
        cella_secure_free(m->entries, m->entries_bytes);
    free(m->paths);
    m->entries = NULL;
    m->paths = NULL;
    m->count = 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const cella_vol_entry *x = a, *y = b;
    return strcmp(x->path, y->path);
}

const cella_vol_entry *cella_vol_meta_find(const cella_vol_meta *m, const char *path)
{
    cella_vol_entry key = {.path = (char *)path};
    return bsearch(&key, m->entries, m->count, sizeof key, entry_cmp);
}

static cella_res entry_check(const cella_vol_entry *e)
{
    CELLA_TRY(cella_vol_path_check(e->path, strlen(e->path)));
    CELLA_ENSURE(e->type == CELLA_VOL_FILE || e->type == CELLA_VOL_DIR, CELLA_E_PARSE, e->path,
                 "unknown entry type %u", e->type);
    CELLA_ENSURE((e->mode & ~0777u) == 0, CELLA_E_PARSE, e->path, "invalid mode %o", e->mode);
    if (e->type == CELLA_VOL_FILE) {
        uint32_t c = e->chunk_size;
        CELLA_ENSURE(c >= CELLA_VOL_MIN_CHUNK && c <= CELLA_VOL_MAX_CHUNK && (c & (c - 1)) == 0,
                     CELLA_E_PARSE, e->path, "invalid chunk size %u", c);
        CELLA_ENSURE(e->size <= CELLA_VOL_MAX_FILE_SIZE, CELLA_E_PARSE, e->path,
                     "file size out of range");
    }
    return CELLA_OK_RES;
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, CELLA_VOL_ID_BYTES); }

/* File ids name ciphertext files, so they must be unique. */
static cella_res check_unique_ids(const cella_vol_meta *m)
{
    uint8_t(*ids)[CELLA_VOL_ID_BYTES] = malloc((m->count ? m->count : 1) * sizeof *ids);
    CELLA_ENSURE(ids, CELLA_E_NOMEM, NULL, "out of memory");
    size_t n = 0;
    for (uint32_t i = 0; i < m->count; i++)
        if (m->entries[i].type == CELLA_VOL_FILE)
            memcpy(ids[n++], m->entries[i].file_id, CELLA_VOL_ID_BYTES);
    qsort(ids, n, sizeof *ids, id_cmp);
    bool dup = false;
    for (size_t i = 1; i < n && !dup; i++)
        dup = memcmp(ids[i - 1], ids[i], CELLA_VOL_ID_BYTES) == 0;
    free(ids);
    CELLA_ENSURE(!dup, CELLA_E_PARSE, NULL, "volume metadata lists a file id twice");
    return CELLA_OK_RES;
}

cella_res cella_vol_meta_validate(cella_vol_meta *m, bool sort)
{
    for (uint32_t i = 0; i < m->count; i++)
        CELLA_TRY(entry_check(&m->entries[i]));
    if (sort)
        qsort(m->entries, m->count, sizeof *m->entries, entry_cmp);
    for (uint32_t i = 1; i < m->count; i++)
        CELLA_ENSURE(strcmp(m->entries[i - 1].path, m->entries[i].path) < 0, CELLA_E_PARSE,
                     m->entries[i].path, "volume entries are duplicated or out of order");
    CELLA_TRY(check_unique_ids(m));
    /* No entry may sit below a file ("a" file and "a/b"). */
    char prefix[CELLA_VOL_MAX_PATH + 1];
    for (uint32_t i = 0; i < m->count; i++) {
        const char *p = m->entries[i].path;
        for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
            memcpy(prefix, p, (size_t)(s - p));
            prefix[s - p] = '\0';
            const cella_vol_entry *parent = cella_vol_meta_find(m, prefix);
            CELLA_ENSURE(!parent || parent->type == CELLA_VOL_DIR, CELLA_E_PARSE, p,
                         "entry lies below a regular file");
        }
    }
    return CELLA_OK_RES;
}

void cella_vol_body_encode(const cella_vol_meta *m, cella_buf *out)
{
    cella_buf_u32le(out, m->count);
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        size_t plen = strlen(e->path);
        cella_buf_u8(out, e->type);
        cella_buf_u8(out, 0);
        cella_buf_u16le(out, e->mode);
        cella_buf_u16le(out, (uint16_t)plen);
        cella_buf_append(out, e->path, plen);
        if (e->type == CELLA_VOL_FILE) {
            cella_buf_u64le(out, e->size);
            cella_buf_u32le(out, e->chunk_size);
            cella_buf_append(out, e->file_id, CELLA_VOL_ID_BYTES);
            cella_buf_append(out, e->key, CELLA_VOL_KEY_BYTES);
        }
    }
}

cella_res cella_vol_body_parse(cella_slice body, cella_vol_meta *m)
{
    cella_reader r = cella_reader_of(body, "volume metadata");
    uint32_t count;
    CELLA_TRY(cella_read_u32le(&r, &count));
    /* Each entry takes at least 7 bytes: cap the count before allocating. */
    CELLA_ENSURE(count <= cella_reader_left(&r) / 7, CELLA_E_PARSE, NULL,
                 "volume metadata entry count %u exceeds its size", count);
    CELLA_TRY(cella_vol_meta_alloc(m, count, body.len));
    char *paths = m->paths;
    cella_res res = CELLA_OK_RES;
    for (uint32_t i = 0; i < count; i++) {
        cella_vol_entry *e = &m->entries[i];
        uint8_t reserved;
        uint16_t plen;
        cella_slice p;
        CELLA_GUARD(res, cella_read_u8(&r, &e->type), fail);
        CELLA_GUARD(res, cella_read_u8(&r, &reserved), fail);
        CELLA_GUARD(res, cella_read_u16le(&r, &e->mode), fail);
        CELLA_GUARD(res, cella_read_u16le(&r, &plen), fail);
        CELLA_GUARD(res, cella_read_bytes(&r, plen, &p), fail);
        if (reserved != 0) {
            res = cella_fail(CELLA_E_PARSE, NULL, "volume metadata: reserved byte not zero");
            goto fail;
        }
        memcpy(paths, p.p, p.len);
        paths[p.len] = '\0';
        e->path = paths;
        paths += p.len + 1;
        if (memchr(p.p, '\0', p.len) || p.len == 0) {
            res = cella_fail(CELLA_E_PATH, NULL, "volume metadata: invalid path");
            goto fail;
        }
        if (e->type == CELLA_VOL_FILE) {
            CELLA_GUARD(res, cella_read_u64le(&r, &e->size), fail);
            CELLA_GUARD(res, cella_read_u32le(&r, &e->chunk_size), fail);
            CELLA_GUARD(res, cella_read_copy(&r, e->file_id, CELLA_VOL_ID_BYTES), fail);
            CELLA_GUARD(res, cella_read_copy(&r, e->key, CELLA_VOL_KEY_BYTES), fail);
        }
    }
    CELLA_GUARD(res, cella_read_end(&r), fail);
    CELLA_GUARD(res, cella_vol_meta_validate(m, false), fail);
    return CELLA_OK_RES;
fail:
    cella_vol_meta_free(m);
    return res;
}

/* The paths buffer is body.len bytes: every path (plus its NUL) is shorter
 * than the 7+ bytes its entry occupies in the body, so it always fits. */
_Static_assert(CELLA_VOL_HEADER_BYTES == 96, "volume header layout");
_Static_assert(CELLA_VOL_FILE_HEADER_BYTES == 64, "file header layout");

/* ---- seal / open ------------------------------------------------------------ */

cella_res cella_vol_meta_seal(const cella_vol_meta *m, const uint8_t vkey[static 32],
                              cella_buf *out, uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    cella_buf body;
    cella_buf_init(&body, true);
    cella_vol_body_encode(m, &body);
    cella_res res = cella_buf_result(&body);
    if (cella_ok(res) && body.len > CELLA_VOL_MAX_META_BYTES - CELLA_VOL_HEADER_BYTES - 16)
        res = cella_fail(CELLA_E_TOOBIG, NULL, "volume metadata too large");
    if (!cella_ok(res)) {
        cella_buf_free(&body);
        return res;
    }

    cella_vol_header h = {.format_version = CELLA_VOL_FORMAT_VERSION, .version = m->version,
                          .body_len = (uint32_t)body.len};
    memcpy(h.volume_id, m->volume_id, CELLA_VOL_ID_BYTES);
    uint8_t hdr[CELLA_VOL_HEADER_BYTES];
    CELLA_KEY32(mkey);
    cella_gcm *g = NULL;
    CELLA_GUARD(res, cella_random(h.nonce, sizeof h.nonce), out);
    CELLA_GUARD(res, cella_vol_key_check(h.key_check, vkey, m->volume_id), out);
    CELLA_GUARD(res, cella_vol_derive_meta_key(mkey.b, vkey, m->volume_id), out);
    header_encode(&h, hdr);
    g = cella_gcm_new();
    if (!g) {
        res = cella_fail(CELLA_E_NOMEM, NULL, "cannot create cipher context");
        goto out;
    }
    CELLA_GUARD(res, cella_gcm_set_key(g, mkey.b, true), out);
    /* Encrypt in place in the body buffer, then emit header || ct || tag. */
    CELLA_GUARD(res, cella_gcm_seal(g, h.nonce, hdr, sizeof hdr, body.p, body.len, body.p, tag),
                out);
    cella_buf_append(out, hdr, sizeof hdr);
    cella_buf_append(out, body.p, body.len);
    cella_buf_append(out, tag, CELLA_VOL_TAG_BYTES);
    res = cella_buf_result(out);
out:
    cella_gcm_free(g);
    cella_buf_free(&body);
    return res;
}

cella_res cella_vol_meta_open(cella_slice in, const uint8_t vkey[static 32], cella_vol_meta *m,
                              uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    memset(m, 0, sizeof *m);
    CELLA_ENSURE(in.len <= CELLA_VOL_MAX_META_BYTES, CELLA_E_TOOBIG, NULL,
                 "volume metadata too large");
    cella_vol_header h;
    cella_slice hdr, ct, t;
    CELLA_TRY(cella_slice_sub(in, 0, CELLA_VOL_HEADER_BYTES, &hdr));
    CELLA_TRY(cella_vol_header_parse(hdr, &h));
    CELLA_ENSURE((uint64_t)CELLA_VOL_HEADER_BYTES + h.body_len + CELLA_VOL_TAG_BYTES == in.len,
                 CELLA_E_PARSE, NULL, "volume metadata length does not match its header");
    CELLA_TRY(cella_slice_sub(in, CELLA_VOL_HEADER_BYTES, h.body_len, &ct));
    CELLA_TRY(cella_slice_sub(in, CELLA_VOL_HEADER_BYTES + h.body_len, CELLA_VOL_TAG_BYTES, &t));

    /* A distinct message for the common mistake of using the wrong key file. */
    uint8_t check[CELLA_VOL_KEYCHECK_BYTES];
    CELLA_TRY(cella_vol_key_check(check, vkey, h.volume_id));
    CELLA_ENSURE(cella_ct_eq(check, h.key_check, sizeof check), CELLA_E_AUTH, NULL,
                 "wrong key for this volume");

    CELLA_KEY32(mkey);
    CELLA_TRY(cella_vol_derive_meta_key(mkey.b, vkey, h.volume_id));
    uint8_t *body = cella_secure_alloc(h.body_len ? h.body_len : 1);
    CELLA_ENSURE(body, CELLA_E_NOMEM, NULL, "out of memory for volume metadata");
    cella_gcm *g = cella_gcm_new();
    cella_res res = g ? CELLA_OK_RES : cella_fail(CELLA_E_NOMEM, NULL, "no cipher context");
    if (cella_ok(res))
        res = cella_gcm_set_key(g, mkey.b, false);
    if (cella_ok(res)) {
        res = cella_gcm_open(g, h.nonce, hdr.p, hdr.len, ct.p, ct.len, body, t.p);
        if (res.code == CELLA_E_AUTH)
            res = cella_fail(CELLA_E_AUTH, NULL,
                             "volume metadata failed authentication (tampered)");
    }
    cella_gcm_free(g);
    if (cella_ok(res))
        res = cella_vol_body_parse(cella_slice_of(body, h.body_len), m);
    cella_secure_free(body, h.body_len ? h.body_len : 1);
    if (!cella_ok(res))
        return res;
    memcpy(m->volume_id, h.volume_id, CELLA_VOL_ID_BYTES);
    m->version = h.version;
    memcpy(tag, t.p, CELLA_VOL_TAG_BYTES);
    return CELLA_OK_RES;
}

/* ---- ciphertext files ------------------------------------------------------ */

void cella_vol_file_header_encode(const cella_vol_file_header *h,
                                  uint8_t out[static CELLA_VOL_FILE_HEADER_BYTES])
{
    memset(out, 0, CELLA_VOL_FILE_HEADER_BYTES);
    memcpy(out, CELLA_VOL_FILE_MAGIC, 8);
    cella_put_u16le(out + 8, CELLA_VOL_FORMAT_VERSION);
    cella_put_u32le(out + 12, h->chunk_size);
    memcpy(out + 16, h->volume_id, CELLA_VOL_ID_BYTES);
    memcpy(out + 32, h->file_id, CELLA_VOL_ID_BYTES);
    cella_put_u64le(out + 48, h->size);
}

cella_res cella_vol_file_header_parse(cella_slice in, cella_vol_file_header *h)
{
    cella_reader r = cella_reader_of(in, "ciphertext file header");
    uint8_t magic[8], reserved[8];
    uint16_t ver, res16;
    CELLA_TRY(cella_read_copy(&r, magic, 8));
    CELLA_ENSURE(memcmp(magic, CELLA_VOL_FILE_MAGIC, 8) == 0, CELLA_E_PARSE, NULL,
                 "not a cella ciphertext file (bad magic)");
    CELLA_TRY(cella_read_u16le(&r, &ver));
    CELLA_ENSURE(ver == CELLA_VOL_FORMAT_VERSION, CELLA_E_UNSUPPORTED, NULL,
                 "ciphertext file version %u is not supported", ver);
    CELLA_TRY(cella_read_u16le(&r, &res16));
    CELLA_TRY(cella_read_u32le(&r, &h->chunk_size));
    CELLA_TRY(cella_read_copy(&r, h->volume_id, CELLA_VOL_ID_BYTES));
    CELLA_TRY(cella_read_copy(&r, h->file_id, CELLA_VOL_ID_BYTES));
    CELLA_TRY(cella_read_u64le(&r, &h->size));
    CELLA_TRY(cella_read_copy(&r, reserved, sizeof reserved));
    static const uint8_t zero[8];
    CELLA_ENSURE(res16 == 0 && memcmp(reserved, zero, 8) == 0, CELLA_E_PARSE, NULL,
                 "ciphertext file header: reserved bytes are not zero");
    return CELLA_OK_RES;
}

void cella_vol_chunk_nonce(uint8_t iv[static CELLA_GCM_IV_BYTES], uint64_t index)
{
    memset(iv, 0, 4);
    cella_put_u64be(iv + 4, index);
}

void cella_vol_chunk_aad(uint8_t aad[static CELLA_VOL_CHUNK_AAD_BYTES],
                         const uint8_t volume_id[static CELLA_VOL_ID_BYTES],
                         const uint8_t file_id[static CELLA_VOL_ID_BYTES], uint64_t index,
                         bool last)
{
    memcpy(aad, volume_id, CELLA_VOL_ID_BYTES);
    memcpy(aad + 16, file_id, CELLA_VOL_ID_BYTES);
    cella_put_u64le(aad + 32, index);
    aad[40] = last ? 1 : 0;
}

cella_res cella_vol_chunk_seal(cella_gcm *g, const uint8_t volume_id[static CELLA_VOL_ID_BYTES],
                               const uint8_t file_id[static CELLA_VOL_ID_BYTES], uint64_t index,
                               bool last, const uint8_t *pt, size_t n, uint8_t *ct)
{
    uint8_t iv[CELLA_GCM_IV_BYTES], aad[CELLA_VOL_CHUNK_AAD_BYTES];
    cella_vol_chunk_nonce(iv, index);
    cella_vol_chunk_aad(aad, volume_id, file_id, index, last);
    return cella_gcm_seal(g, iv, aad, sizeof aad, pt, n, ct, ct + n);
}

cella_res cella_vol_chunk_open(cella_gcm *g, const uint8_t volume_id[static CELLA_VOL_ID_BYTES],
                               const uint8_t file_id[static CELLA_VOL_ID_BYTES], uint64_t index,
                               bool last, const uint8_t *ct, size_t n, uint8_t *pt)
{
    uint8_t iv[CELLA_GCM_IV_BYTES], aad[CELLA_VOL_CHUNK_AAD_BYTES];
    cella_vol_chunk_nonce(iv, index);
    cella_vol_chunk_aad(aad, volume_id, file_id, index, last);
    return cella_gcm_open(g, iv, aad, sizeof aad, ct, n, pt, ct + n);
}

cella_res cella_vol_chunk_check(cella_gcm_check *c, const uint8_t volume_id[static CELLA_VOL_ID_BYTES],
                                const uint8_t file_id[static CELLA_VOL_ID_BYTES], uint64_t index,
                                bool last, const uint8_t *ct, size_t n)
{
    uint8_t iv[CELLA_GCM_IV_BYTES], aad[CELLA_VOL_CHUNK_AAD_BYTES];
    cella_vol_chunk_nonce(iv, index);
    cella_vol_chunk_aad(aad, volume_id, file_id, index, last);
    return cella_gcm_check_tag(c, iv, aad, sizeof aad, ct, n, ct + n);
}
