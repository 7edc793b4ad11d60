/* Unit tests for lib/volume: format parsing (with negative cases), chunk
 * binding, metadata sealing, and the I/O layer (round trips, random access,
 * hostile metadata). The CLI tamper suite covers attacks on files on disk. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "testutil.h"
#include "volume/format.h"
#include "volume/volume.h"

static const uint8_t KEY[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t KEY2[32] = {9};

static void paths(void **state)
{
    (void)state;
    const char *good[] = {"a", "a/b", "a.b/c..d/.e", "...", "x y/z"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_succeeds(cella_vol_path_check(good[i], strlen(good[i])));
    const char *bad[] = {"", "/a", "a/", "a//b", ".", "..", "a/..", "../a", "a/./b", "a/../b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_fails_with(cella_vol_path_check(bad[i], strlen(bad[i])), CELLA_E_PATH);
    assert_fails_with(cella_vol_path_check("a\0b", 3), CELLA_E_PATH);
    char longc[300];
    memset(longc, 'x', sizeof longc);
    assert_fails_with(cella_vol_path_check(longc, sizeof longc), CELLA_E_PATH);
}

/* Builds a two-entry metadata (dir "d", file "d/f") without validation. */
static void make_meta(cella_vol_meta *m, const char *p0, const char *p1)
{
    assert_succeeds(cella_vol_meta_alloc(m, 2, 64));
    strcpy(m->paths, p0);
    strcpy(m->paths + 32, p1);
    m->entries[0] = (cella_vol_entry){.type = CELLA_VOL_DIR, .mode = 0755, .path = m->paths};
    m->entries[1] = (cella_vol_entry){.type = CELLA_VOL_FILE, .mode = 0644, .path = m->paths + 32,
                                      .size = 100000, .chunk_size = 65536};
    memset(m->entries[1].file_id, 0x11, 16);
    memset(m->entries[1].key, 0x22, 32);
    memset(m->volume_id, 0x33, 16);
    m->version = 7;
}

static void meta_seal_open(void **state)
{
    (void)state;
    cella_vol_meta m, back;
    make_meta(&m, "d", "d/f");
    cella_buf a, b;
    cella_buf_init(&a, false);
    cella_buf_init(&b, false);
    uint8_t t1[16], t2[16], t3[16];
    assert_succeeds(cella_vol_meta_seal(&m, KEY, &a, t1));
    assert_succeeds(cella_vol_meta_seal(&m, KEY, &b, t2));
    /* a fresh nonce per seal: the same content never repeats a tag */
    assert_memory_not_equal(t1, t2, 16);
    assert_succeeds(cella_vol_meta_open(cella_slice_of(a.p, a.len), KEY, &back, t3));
    assert_memory_equal(t1, t3, 16);
    assert_int_equal(back.count, 2);
    assert_int_equal(back.version, 7);
    assert_string_equal(back.entries[1].path, "d/f");
    assert_memory_equal(back.entries[1].key, m.entries[1].key, 32);
    cella_vol_meta_free(&back);

    assert_fails_with(cella_vol_meta_open(cella_slice_of(a.p, a.len), KEY2, &back, t3), CELLA_E_AUTH);
    assert_non_null(strstr(cella_error_what(), "wrong key"));
    /* every single-bit flip is refused */
    for (size_t i = 0; i < a.len; i++) {
        a.p[i] ^= 0x01;
        cella_res r = cella_vol_meta_open(cella_slice_of(a.p, a.len), KEY, &back, t3);
        assert_false(cella_ok(r));
        a.p[i] ^= 0x01;
    }
    assert_fails_with(cella_vol_meta_open(cella_slice_of(a.p, a.len - 1), KEY, &back, t3), CELLA_E_PARSE);
    assert_fails_with(cella_vol_meta_open(cella_slice_of(a.p, 50), KEY, &back, t3), CELLA_E_PARSE);
    a.p[8] = 2; /* format version */
    assert_fails_with(cella_vol_meta_open(cella_slice_of(a.p, a.len), KEY, &back, t3), CELLA_E_UNSUPPORTED);
    cella_buf_free(&a);
    cella_buf_free(&b);
    cella_vol_meta_free(&m);
}

/* Hostile bodies, as a key holder could craft them, are refused by the parser. */
static void body_parser_negative(void **state)
{
    (void)state;
    /* escapes, absolute paths, duplicates, wrong order, an entry below a file */
    struct {
        const char *p0, *p1;
        bool first_is_file;
    } cases[] = {{"d", "../f", false}, {"d", "/abs", false}, {"d", "d/../../x", false},
                 {"d", "d", false},    {"e", "d/f", false},  {"d/f", "d/f/g", true}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cella_vol_meta m, back = {0};
        make_meta(&m, cases[i].p0, cases[i].p1);
        if (cases[i].first_is_file) {
            m.entries[0].type = CELLA_VOL_FILE;
            m.entries[0].chunk_size = 65536;
        }
        cella_buf body;
        cella_buf_init(&body, true);
        cella_vol_body_encode(&m, &body);
        cella_res r = cella_vol_body_parse(cella_slice_of(body.p, body.len), &back);
        if (cella_ok(r))
            fail_msg("hostile body %zu (%s, %s) was accepted", i, cases[i].p0, cases[i].p1);
        cella_buf_free(&body);
        cella_vol_meta_free(&m);
    }
    /* a valid body, then targeted corruptions */
    cella_vol_meta m, back;
    make_meta(&m, "d", "d/f");
    cella_buf body;
    cella_buf_init(&body, true);
    cella_vol_body_encode(&m, &body);
    assert_succeeds(cella_vol_body_parse(cella_slice_of(body.p, body.len), &back));
    cella_vol_meta_free(&back);
    uint8_t *p = body.p;
    p[0] = 0xff; p[1] = 0xff; p[2] = 0xff; p[3] = 0x0f; /* huge count: refused before allocating */
    assert_fails_with(cella_vol_body_parse(cella_slice_of(body.p, body.len), &back), CELLA_E_PARSE);
    p[0] = 2; p[1] = p[2] = p[3] = 0;
    p[4] = 9; /* unknown type */
    assert_false(cella_ok(cella_vol_body_parse(cella_slice_of(body.p, body.len), &back)));
    p[4] = CELLA_VOL_DIR;
    p[5] = 1; /* reserved */
    assert_fails_with(cella_vol_body_parse(cella_slice_of(body.p, body.len), &back), CELLA_E_PARSE);
    p[5] = 0;
    assert_fails_with(cella_vol_body_parse(cella_slice_of(body.p, body.len - 1), &back), CELLA_E_PARSE);
    cella_buf_append(&body, "x", 1);
    assert_fails_with(cella_vol_body_parse(cella_slice_of(body.p, body.len), &back), CELLA_E_PARSE);
    cella_buf_free(&body);
    /* two files with the same id */
    {
        cella_vol_meta d;
        make_meta(&d, "a", "b");
        d.entries[0] = d.entries[1];
        d.entries[0].path = d.paths;
        cella_buf db;
        cella_buf_init(&db, true);
        cella_vol_body_encode(&d, &db);
        assert_fails_with(cella_vol_body_parse(cella_slice_of(db.p, db.len), &back), CELLA_E_PARSE);
        assert_non_null(strstr(cella_error_what(), "file id twice"));
        cella_buf_free(&db);
        cella_vol_meta_free(&d);
    }
    m.entries[1].chunk_size = 1000; /* not a power of two */
    cella_buf_init(&body, true);
    cella_vol_body_encode(&m, &body);
    assert_fails_with(cella_vol_body_parse(cella_slice_of(body.p, body.len), &back), CELLA_E_PARSE);
    cella_buf_free(&body);
    cella_vol_meta_free(&m);
}

/* A chunk opens only at its own index, with its own last flag, file and volume. */
static void chunk_binding(void **state)
{
    (void)state;
    uint8_t vid[16] = {1}, fid[16] = {2}, other[16] = {3}, key[32] = {4};
    uint8_t pt[100], ct[116], out[100];
    memset(pt, 'p', sizeof pt);
    cella_gcm *e = cella_gcm_new(), *d = cella_gcm_new();
    assert_succeeds(cella_gcm_set_key(e, key, true));
    assert_succeeds(cella_gcm_set_key(d, key, false));
    assert_succeeds(cella_vol_chunk_seal(e, vid, fid, 5, false, pt, 100, ct));
    assert_succeeds(cella_vol_chunk_open(d, vid, fid, 5, false, ct, 100, out));
    assert_memory_equal(out, pt, 100);
    assert_fails_with(cella_vol_chunk_open(d, vid, fid, 6, false, ct, 100, out), CELLA_E_AUTH);
    assert_fails_with(cella_vol_chunk_open(d, vid, fid, 5, true, ct, 100, out), CELLA_E_AUTH);
    assert_fails_with(cella_vol_chunk_open(d, vid, other, 5, false, ct, 100, out), CELLA_E_AUTH);
    assert_fails_with(cella_vol_chunk_open(d, other, fid, 5, false, ct, 100, out), CELLA_E_AUTH);
    assert_fails_with(cella_vol_chunk_open(d, vid, fid, 5, false, ct, 99, out), CELLA_E_AUTH);
    cella_gcm_free(e);
    cella_gcm_free(d);
}

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

struct progress_seen {
    int calls;
    uint64_t last_done, last_total;
};

static void on_progress(uint64_t done, uint64_t total, void *ctx)
{
    struct progress_seen *s = ctx;
    s->calls++;
    s->last_done = done;
    s->last_total = total;
}

/* Files at every boundary of a 4 KiB chunk; random reads match the plaintext. */
static void round_trip_and_random_access(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char src[512], vol[512], out[512];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(vol, sizeof vol, "%s/vol", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(src, 0700);
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 3 * 4096, 100000, 5 * 1024 * 1024 + 3};
    size_t maxn = 5 * 1024 * 1024 + 3;
    uint8_t *data = malloc(maxn), *buf = malloc(maxn);
    for (size_t i = 0; i < maxn; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    char name[32];
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        snprintf(name, sizeof name, "f%zu", i);
        write_file(src, name, data, sizes[i]);
    }
    struct progress_seen seen = {0};
    cella_vol_opts o = {.threads = 3, .chunk_size = 4096, .progress = on_progress,
                        .progress_ctx = &seen};
    uint8_t tag[16], tag2[16];
    assert_succeeds(cella_vol_encrypt_dir(src, vol, KEY, &o, tag));
    assert_true(seen.calls >= 1);
    cella_volume *v;
    assert_fails_with(cella_vol_open(vol, KEY2, NULL, &v), CELLA_E_AUTH);
    uint8_t wrong[16] = {0};
    assert_fails_with(cella_vol_open(vol, KEY, wrong, &v), CELLA_E_ROLLBACK);
    assert_succeeds(cella_vol_open(vol, KEY, tag, &v));
    cella_vol_tag(v, tag2);
    assert_memory_equal(tag, tag2, 16);
    const cella_vol_meta *m = cella_vol_meta_of(v);
    assert_int_equal(m->count, sizeof sizes / sizeof *sizes);
    assert_int_equal(m->version, 1);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        snprintf(name, sizeof name, "f%zu", i);
        const cella_vol_entry *e = cella_vol_meta_find(m, name);
        assert_non_null(e);
        assert_int_equal(e->size, sizes[i]);
        size_t got;
        /* whole file */
        assert_succeeds(cella_vol_read(v, e, 0, buf, sizes[i] + 10, &got));
        assert_int_equal(got, sizes[i]);
        assert_memory_equal(buf, data, sizes[i]);
        /* ranges straddling chunk boundaries */
        for (uint64_t off = 0; off < sizes[i]; off += 4093) {
            size_t n = 5000;
            assert_succeeds(cella_vol_read(v, e, off, buf, n, &got));
            size_t want = sizes[i] - off < n ? sizes[i] - off : n;
            assert_int_equal(got, want);
            assert_memory_equal(buf, data + off, want);
        }
        assert_succeeds(cella_vol_read(v, e, sizes[i] + 5, buf, 10, &got));
        assert_int_equal(got, 0);
    }
    assert_succeeds(cella_vol_verify(v, &o));
    assert_succeeds(cella_vol_decrypt(v, out, &o));
    cella_vol_close(v);
    /* decrypted files equal the originals */
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char p[600];
        snprintf(p, sizeof p, "out/f%zu", i);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        uint8_t *got;
        size_t len;
        assert_succeeds(cella_read_file(dfd, p, maxn, false, &got, &len));
        assert_int_equal(len, sizes[i]);
        assert_memory_equal(got, data, len);
        free(got);
        close(dfd);
    }
    /* an update bumps the version and changes the tag; the old tag is refused */
    assert_succeeds(cella_vol_encrypt_dir(src, vol, KEY, &o, tag2));
    assert_memory_not_equal(tag, tag2, 16);
    assert_fails_with(cella_vol_open(vol, KEY, tag, &v), CELLA_E_ROLLBACK);
    assert_succeeds(cella_vol_open(vol, KEY, tag2, &v));
    assert_int_equal(cella_vol_meta_of(v)->version, 2);
    cella_vol_close(v);
    /* updating with the wrong key is refused and changes nothing */
    assert_fails_with(cella_vol_encrypt_dir(src, vol, KEY2, &o, tag), CELLA_E_AUTH);
    assert_succeeds(cella_vol_open(vol, KEY, tag2, &v));
    cella_vol_close(v);
    free(data);
    free(buf);
    test_rmdir(dir);
}

/* Metadata sealed with the right key but naming "../escape" is refused at
 * open: a malicious volume owner cannot make decrypt write outside OUT_DIR. */
static void hostile_metadata_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char vol[512];
    snprintf(vol, sizeof vol, "%s/vol", dir);
    mkdir(vol, 0700);
    cella_vol_meta m;
    make_meta(&m, "d", "../escape");
    m.entries[1].size = 0;
    cella_buf sealed;
    cella_buf_init(&sealed, false);
    uint8_t tag[16];
    assert_succeeds(cella_vol_meta_seal(&m, KEY, &sealed, tag));
    int vfd = open(vol, O_RDONLY | O_DIRECTORY);
    assert_succeeds(cella_write_file_atomic(vfd, CELLA_VOL_META_NAME, sealed.p, sealed.len, 0600, false));
    close(vfd);
    cella_volume *v;
    assert_fails_with(cella_vol_open(vol, KEY, NULL, &v), CELLA_E_PATH);
    cella_buf_free(&sealed);
    cella_vol_meta_free(&m);
    char esc[600];
    snprintf(esc, sizeof esc, "%s/escape", dir);
    assert_int_equal(access(esc, F_OK), -1);
    test_rmdir(dir);
}

/* ---- the parallel paths (verify, cat) under tampering ---------------------
 * Two files of many chunks (so that every thread count has several jobs).
 * Whatever the number of threads: verify refuses; cat refuses and has
 * written only authenticated plaintext, in order, from the file's start,
 * and nothing of the bad chunk or after it. */

#define PT_CHUNK 65536u
#define PT_A (3u * 1024u * 1024u + 5u) /* 49 chunks */
#define PT_B (5u * 1024u * 1024u / 2u) /* 40 chunks; "b" is the last file */

typedef struct {
    char dir[512], vol[512], outp[600];
    uint8_t *data;
} ptamper;

static void cfile_of(const ptamper *t, const char *name, char *out, size_t cap)
{
    cella_volume *v;
    assert_succeeds(cella_vol_open(t->vol, KEY, NULL, &v));
    char hex[33];
    cella_hex_encode(hex, cella_vol_meta_find(cella_vol_meta_of(v), name)->file_id, 16, false);
    snprintf(out, cap, "%s/%s", t->vol, hex);
    cella_vol_close(v);
}

static void flip_at(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x04;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void swap_chunks(const char *path, uint64_t i, uint64_t j)
{
    size_t n = PT_CHUNK + CELLA_GCM_TAG_BYTES;
    uint8_t *a = malloc(n), *b = malloc(n);
    int fd = open(path, O_RDWR);
    assert_true(a && b && fd >= 0);
    assert_int_equal(pread(fd, a, n, (off_t)cella_vol_chunk_offset(i, PT_CHUNK)), (ssize_t)n);
    assert_int_equal(pread(fd, b, n, (off_t)cella_vol_chunk_offset(j, PT_CHUNK)), (ssize_t)n);
    assert_int_equal(pwrite(fd, b, n, (off_t)cella_vol_chunk_offset(i, PT_CHUNK)), (ssize_t)n);
    assert_int_equal(pwrite(fd, a, n, (off_t)cella_vol_chunk_offset(j, PT_CHUNK)), (ssize_t)n);
    close(fd);
    free(a);
    free(b);
}

/* cat NAME with `threads`; returns what it wrote (in *got); the result code
 * must be `want`. */
static uint8_t *cat_to_file(const ptamper *t, cella_volume *v, const char *name, unsigned threads,
                            cella_code want, size_t *got)
{
    int fd = open(t->outp, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    cella_vol_opts o = {.threads = threads};
    const cella_vol_entry *e = cella_vol_meta_find(cella_vol_meta_of(v), name);
    assert_fails_with(cella_vol_cat(v, e, fd, &o), want);
    close(fd);
    int dfd = open("/", O_RDONLY | O_DIRECTORY);
    uint8_t *out;
    assert_succeeds(cella_read_file(dfd, t->outp + 1, PT_A + PT_B, false, &out, got));
    close(dfd);
    return out;
}

/* A damaged file: verify refuses; cat of `name` refuses having written at
 * most the plaintext before chunk `bad`, and exactly that plaintext. */
static void expect_refused(const ptamper *t, const char *name, uint64_t bad)
{
    for (unsigned threads = 1; threads <= 4; threads++) {
        cella_volume *v;
        assert_succeeds(cella_vol_open(t->vol, KEY, NULL, &v));
        cella_vol_opts o = {.threads = threads};
        assert_fails_with(cella_vol_verify(v, &o), CELLA_E_AUTH);
        size_t got;
        uint8_t *out = cat_to_file(t, v, name, threads, CELLA_E_AUTH, &got);
        assert_true(got <= bad * PT_CHUNK);
        assert_memory_equal(out, t->data, got);
        free(out);
        cella_vol_close(v);
    }
}

static void fresh_volume(ptamper *t)
{
    char src[600];
    snprintf(src, sizeof src, "%s/src", t->dir);
    test_rmdir(strdup(t->vol));
    cella_vol_opts o = {.threads = 2, .chunk_size = PT_CHUNK};
    uint8_t tag[16];
    assert_succeeds(cella_vol_encrypt_dir(src, t->vol, KEY, &o, tag));
}

static void parallel_paths_refuse_tampering(void **state)
{
    (void)state;
    ptamper t;
    char *dir = test_tmpdir(), src[600], cf[700];
    snprintf(t.dir, sizeof t.dir, "%s", dir);
    snprintf(t.vol, sizeof t.vol, "%s/vol", dir);
    snprintf(t.outp, sizeof t.outp, "%s/out.bin", dir);
    snprintf(src, sizeof src, "%s/src", dir);
    mkdir(src, 0700);
    t.data = malloc(PT_A);
    for (size_t i = 0; i < PT_A; i++)
        t.data[i] = (uint8_t)(i * 2654435761u >> 11);
    write_file(src, "a", t.data, PT_A);
    write_file(src, "b", t.data, PT_B);
    fresh_volume(&t);
    /* pristine: every thread count verifies and cats the exact bytes */
    for (unsigned threads = 1; threads <= 4; threads++) {
        cella_volume *v;
        assert_succeeds(cella_vol_open(t.vol, KEY, NULL, &v));
        cella_vol_opts o = {.threads = threads};
        assert_succeeds(cella_vol_verify(v, &o));
        size_t got;
        uint8_t *out = cat_to_file(&t, v, "a", threads, CELLA_OK, &got);
        assert_int_equal(got, PT_A);
        assert_memory_equal(out, t.data, PT_A);
        free(out);
        cella_vol_close(v);
    }
    /* a flipped bit in the last chunk of the last file */
    cfile_of(&t, "b", cf, sizeof cf);
    uint64_t last = PT_B / PT_CHUNK - 1;
    flip_at(cf, cella_vol_chunk_offset(last, PT_CHUNK) + 100);
    expect_refused(&t, "b", last);
    /* a flipped bit in a middle chunk's tag */
    fresh_volume(&t);
    cfile_of(&t, "a", cf, sizeof cf);
    flip_at(cf, cella_vol_chunk_offset(21, PT_CHUNK) + PT_CHUNK + 3);
    expect_refused(&t, "a", 21);
    /* two chunks swapped */
    fresh_volume(&t);
    cfile_of(&t, "a", cf, sizeof cf);
    swap_chunks(cf, 30, 31);
    expect_refused(&t, "a", 30);
    /* truncated after the volume was opened: the length is re-checked at use */
    fresh_volume(&t);
    cfile_of(&t, "a", cf, sizeof cf);
    for (unsigned threads = 1; threads <= 4; threads += 3) {
        cella_volume *v;
        assert_succeeds(cella_vol_open(t.vol, KEY, NULL, &v));
        struct stat st;
        assert_int_equal(stat(cf, &st), 0);
        assert_int_equal(truncate(cf, st.st_size - 1), 0);
        cella_vol_opts o = {.threads = threads};
        assert_fails_with(cella_vol_verify(v, &o), CELLA_E_AUTH);
        size_t got;
        free(cat_to_file(&t, v, "a", threads, CELLA_E_AUTH, &got));
        assert_int_equal(got, 0);
        cella_vol_close(v);
        fresh_volume(&t);
        cfile_of(&t, "a", cf, sizeof cf);
    }
    free(t.data);
    test_rmdir(dir);
}

/* ---- cat's output failing mid-stream ------------------------------------
 * A non-blocking pipe that a slow reader drains: a write that finds it full
 * fails (EAGAIN) part-way through a job. Whether or not that happens in a
 * given run, what reached the pipe must be a prefix of the plaintext: no job
 * is written after one that failed to be. */

typedef struct {
    int fd;
    uint8_t *buf;
    size_t cap, len;
} drain;

static void *drain_pipe(void *arg)
{
    drain *d = arg;
    for (;;) {
        size_t want = d->cap - d->len < 4096 ? d->cap - d->len : 4096;
        ssize_t k = want ? read(d->fd, d->buf + d->len, want) : 0;
        if (k <= 0)
            break;
        d->len += (size_t)k;
        nanosleep(&(struct timespec){0, 20 * 1000}, NULL);
    }
    return NULL;
}

static void cat_output_failure_keeps_order(void **state)
{
    (void)state;
    char *dir = test_tmpdir(), src[600], vol[600];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(vol, sizeof vol, "%s/vol", dir);
    mkdir(src, 0700);
    uint8_t *data = malloc(PT_A);
    assert_non_null(data);
    for (size_t i = 0; i < PT_A; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 11);
    write_file(src, "a", data, PT_A);
    uint8_t tag[16];
    cella_vol_opts eo = {.chunk_size = PT_CHUNK};
    assert_succeeds(cella_vol_encrypt_dir(src, vol, KEY, &eo, tag));
    cella_volume *v;
    assert_succeeds(cella_vol_open(vol, KEY, NULL, &v));
    const cella_vol_entry *e = cella_vol_meta_find(cella_vol_meta_of(v), "a");
    for (int run = 0; run < 20; run++) {
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
        drain d = {p[0], malloc(PT_A), PT_A, 0};
        assert_non_null(d.buf);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, drain_pipe, &d), 0);
        cella_vol_opts o = {.threads = 4};
        cella_res r = cella_vol_cat(v, e, p[1], &o);
        close(p[1]);
        pthread_join(th, NULL);
        close(p[0]);
        if (cella_ok(r))
            assert_int_equal(d.len, PT_A);
        else
            assert_int_equal(r.code, CELLA_E_IO);
        assert_memory_equal(d.buf, data, d.len);
        free(d.buf);
    }
    cella_vol_close(v);
    free(data);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paths),
        cmocka_unit_test(meta_seal_open),
        cmocka_unit_test(body_parser_negative),
        cmocka_unit_test(chunk_binding),
        cmocka_unit_test(round_trip_and_random_access),
        cmocka_unit_test(hostile_metadata_refused),
        cmocka_unit_test(parallel_paths_refuse_tampering),
        cmocka_unit_test(cat_output_failure_keeps_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
