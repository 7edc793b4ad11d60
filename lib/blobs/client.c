/* Blob client on libcurl (loaded on first use, net/curl_lib.h): streamed upload and verified, atomic download. */
#include "blobs/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "core/stage.h"
#include "crypto/aead.h"
#include "net/curl_lib.h"
#include "net/tls_http.h"

cella_res cella_blob_url(const char *base_url, const uint8_t sha[static 32], char *out, size_t cap)
{
    char hex[65];
    cella_hex_encode(hex, sha, 32, false);
    size_t bl = strlen(base_url);
    while (bl > 0 && base_url[bl - 1] == '/')
        bl--;
    CELLA_ENSURE(!strncmp(base_url, "http://", 7) || !strncmp(base_url, "https://", 8),
                 CELLA_E_USAGE, "--url", "expected an http:// or https:// URL");
    int n = snprintf(out, cap, "%.*s/v1/blobs/%s", (int)bl, base_url, hex);
    CELLA_ENSURE(n > 0 && (size_t)n < cap, CELLA_E_USAGE, "--url", "URL too long");
    return CELLA_OK_RES;
}

/* Error replies are small JSON bodies: keep the start for the message. */
typedef struct {
    char text[512];
    size_t len;
} err_body;

static size_t on_err_body(char *p, size_t sz, size_t n, void *ud)
{
    err_body *e = ud;
    size_t k = sz * n;
    size_t room = sizeof e->text - 1 - e->len;
    size_t c = k < room ? k : room;
    memcpy(e->text + e->len, p, c);
    e->len += c;
    e->text[e->len] = '\0';
    return k;
}

static const char *err_message(const err_body *e)
{
    /* {"error":"...","code":"..."}: show the error text when present. */
    static __thread char msg[256];
    const char *s = strstr(e->text, "\"error\":\"");
    if (!s)
        return "";
    s += 9;
    size_t i = 0;
    while (*s && *s != '"' && i + 1 < sizeof msg)
        msg[i++] = *s++;
    msg[i] = '\0';
    return msg;
}

/* A transfer of `url`; libcurl is loaded on the first (net/curl_lib.h). */
static cella_res new_handle(const char *url, const cella_curl_lib **lib, CURL **out)
{
    *out = NULL;
    CELLA_TRY(cella_curl_lib_get(lib));
    const cella_curl_lib *C = *lib;
    CURL *h = *out = C->curl_easy_init();
    CELLA_ENSURE(h, CELLA_E_NOMEM, url, "cannot create an HTTP handle");
    C->curl_easy_setopt(h, CURLOPT_URL, url);
    C->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    C->curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    C->curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* Abort when the transfer stalls (below 1 byte/s for 60 s), not on total time. */
    C->curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    C->curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    return CELLA_OK_RES;
}

typedef struct {
    int fd;
    uint64_t off;
} up_src;

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    up_src *s = ud;
    for (;;) {
        ssize_t k = pread(s->fd, p, sz * n, (off_t)s->off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return CURL_READFUNC_ABORT;
        s->off += (uint64_t)k;
        return (size_t)k;
    }
}

cella_res cella_blob_put_file(const char *base_url, const char *path, uint8_t sha[static 32])
{
    /* Non-blocking: opening a FIFO must not wait for a writer; the type is
     * checked right after (only regular files are uploaded). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, path,
                 "cannot open: %s", strerror(errno));
    struct stat st;
    cella_res r = CELLA_OK_RES;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        r = cella_fail(CELLA_E_IO, path, "not a regular file");
    uint64_t size = 0;
    if (cella_ok(r))
        r = cella_sha256_fd(fd, sha, &size, path);
    if (cella_ok(r) && size != (uint64_t)st.st_size)
        r = cella_fail(CELLA_E_IO, path, "file changed while reading");
    char url[4400];
    if (cella_ok(r))
        r = cella_blob_url(base_url, sha, url, sizeof url);
    const cella_curl_lib *C = NULL;
    CURL *h = NULL;
    if (cella_ok(r))
        r = new_handle(url, &C, &h);
    if (cella_ok(r)) {
        up_src src = {fd, 0};
        err_body eb = {{0}, 0};
        struct curl_slist *hl =
            C->curl_slist_append(NULL, "Content-Type: application/octet-stream");
        hl = C->curl_slist_append(hl, "Expect:");
        C->curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        C->curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        C->curl_easy_setopt(h, CURLOPT_READDATA, &src);
        C->curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
        C->curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        C->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_err_body);
        C->curl_easy_setopt(h, CURLOPT_WRITEDATA, &eb);
        CURLcode cc = C->curl_easy_perform(h);
        long status = 0;
        C->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK && status == 0)
            r = cella_fail(CELLA_E_IO, url, "upload failed: %s", C->curl_easy_strerror(cc));
        else if (status == 413)
            r = cella_fail(CELLA_E_TOOBIG, url, "the server refused the blob as too large (413)");
        else if (status == 400)
            r = cella_fail(CELLA_E_AUTH, url, "the server refused the blob: %s",
                           err_message(&eb));
        else if (status != 200 && status != 201)
            r = cella_fail(CELLA_E_IO, url, "upload failed with HTTP %ld %s", status,
                           err_message(&eb));
        else if (cc != CURLE_OK)
            r = cella_fail(CELLA_E_IO, url, "upload failed: %s", C->curl_easy_strerror(cc));
        C->curl_slist_free_all(hl);
    }
    if (h)
        C->curl_easy_cleanup(h);
    close(fd);
    return r;
}

typedef struct {
    int fd;
    uint64_t off;
    uint64_t max;
    EVP_MD_CTX *md;
    long status;
    const cella_curl_lib *C;
    CURL *h;
    err_body eb;
    bool too_big, io_err;
} down_sink;

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    down_sink *d = ud;
    size_t k = sz * n;
    if (!d->status)
        d->C->curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
    if (d->status != 200)
        return on_err_body(p, sz, n, &d->eb);
    if (d->off + k > d->max) {
        d->too_big = true;
        return 0;
    }
    if (!cella_ok(cella_pwrite_full(d->fd, p, k, d->off, "blob")) ||
        !EVP_DigestUpdate(d->md, p, k)) {
        d->io_err = true;
        return 0;
    }
    d->off += k;
    return k;
}


/* The download's SHA-256 against `sha`, after `r` (the transfer's result);
 * frees md. */
static cella_res hash_check(EVP_MD_CTX *md, cella_res r, const char *url, const uint8_t sha[32])
{
    uint8_t got[32];
    unsigned int dl = 0;
    if (cella_ok(r) && !EVP_DigestFinal_ex(md, got, &dl))
        r = cella_fail(CELLA_E_CRYPTO, url, "SHA-256 failed");
    if (cella_ok(r) && !cella_ct_eq(got, sha, 32))
        r = cella_fail(CELLA_E_AUTH, url, "downloaded bytes do not match the SHA-256");
    EVP_MD_CTX_free(md);
    return r;
}

static cella_res download(const cella_curl_lib *C, CURL *h, const char *url, int fd,
                          const uint8_t sha[32])
{
    down_sink d = {.fd = fd, .max = CELLA_BLOB_CLIENT_MAX, .md = EVP_MD_CTX_new(), .C = C, .h = h};
    CELLA_ENSURE(d.md && EVP_DigestInit_ex(d.md, cella_md_sha256(), NULL), CELLA_E_CRYPTO, url,
                 "SHA-256 unavailable");
    C->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    C->curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
    C->curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CELLA_BLOB_CLIENT_MAX);
    CURLcode cc = C->curl_easy_perform(h);
    long status = 0;
    C->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    cella_res r = CELLA_OK_RES;
    if (d.too_big || cc == CURLE_FILESIZE_EXCEEDED)
        r = cella_fail(CELLA_E_TOOBIG, url, "blob larger than %llu bytes",
                       (unsigned long long)CELLA_BLOB_CLIENT_MAX);
    else if (d.io_err)
        r = cella_fail(CELLA_E_IO, url, "cannot write the download");
    else if (cc != CURLE_OK)
        r = cella_fail(CELLA_E_IO, url, "download failed: %s", C->curl_easy_strerror(cc));
    else if (status == 404)
        r = cella_fail(CELLA_E_NOTFOUND, url, "no such blob on the server");
    else if (status != 200)
        r = cella_fail(CELLA_E_IO, url, "download failed with HTTP %ld %s", status,
                       err_message(&d.eb));
    return hash_check(d.md, r, url, sha);
}

/* ---- http:// downloads over net/tls_http.c ----
 * A blob store on http:// (ours: the result of `app run --download`, a
 * task's inputs) is read without loading libcurl and its ~25 libraries, a
 * requester command's largest start cost; https:// locations, whose
 * certificates are checked against the system's CAs, stay on libcurl. */

typedef struct {
    int fd;
    uint64_t off;
    EVP_MD_CTX *md;
    const char *url;
} plain_sink;

static cella_res plain_write(void *ctx, const uint8_t *p, size_t n)
{
    plain_sink *d = ctx;
    CELLA_ENSURE(n <= CELLA_BLOB_CLIENT_MAX - d->off, CELLA_E_TOOBIG, d->url,
                 "blob larger than %llu bytes", (unsigned long long)CELLA_BLOB_CLIENT_MAX);
    CELLA_TRY(cella_pwrite_full(d->fd, p, n, d->off, "blob"));
    CELLA_ENSURE(EVP_DigestUpdate(d->md, p, n), CELLA_E_CRYPTO, d->url, "SHA-256 failed");
    d->off += n;
    return CELLA_OK_RES;
}

static cella_res download_plain(const char *url, int fd, const uint8_t sha[32])
{
    /* "http://HOST:PORT" and the path after it */
    const char *path = strchr(url + 7, '/');
    char base[4400];
    CELLA_ENSURE(path && (size_t)(path - url) < sizeof base, CELLA_E_USAGE, url,
                 "expected http://HOST:PORT/PATH");
    snprintf(base, sizeof base, "%.*s", (int)(path - url), url);
    plain_sink d = {fd, 0, EVP_MD_CTX_new(), url};
    if (!d.md || !EVP_DigestInit_ex(d.md, cella_md_sha256(), NULL)) {
        EVP_MD_CTX_free(d.md);
        return cella_fail(CELLA_E_CRYPTO, url, "SHA-256 unavailable");
    }
    /* a stall of 60 s ends it, as libcurl's low-speed limit did */
    cella_http_client c = {.base_url = base, .timeout_s = 60, .max_response = 64 * 1024};
    cella_http_response resp;
    cella_res r = cella_tls_http_get_to(&c, path, plain_write, &d, &resp);
    bool answered = cella_ok(r);
    if (cella_ok(r) && resp.status == 404)
        r = cella_fail(CELLA_E_NOTFOUND, url, "no such blob on the server");
    else if (cella_ok(r) && resp.status != 200) {
        err_body eb = {{0}, 0};
        on_err_body((char *)resp.body.p, 1, resp.body.len, &eb);
        r = cella_fail(CELLA_E_IO, url, "download failed with HTTP %ld %s", resp.status,
                       err_message(&eb));
    }
    if (answered)
        cella_http_response_free(&resp);
    return hash_check(d.md, r, url, sha);
}

/* GET `url` into `out_path` (atomically, never replacing it) if its bytes
 * hash to `sha`. */
static cella_res get_url_file(const char *url, const uint8_t sha[32], const char *out_path)
{
    CELLA_TRY(cella_stage_check_new(AT_FDCWD, out_path, false));
    cella_stage st;
    CELLA_TRY(cella_stage_open(&st, AT_FDCWD, out_path, false, 0644));
    const cella_curl_lib *C = NULL;
    CURL *h = NULL;
    cella_res r = CELLA_OK_RES;
    if (!strncmp(url, "http://", 7))
        r = download_plain(url, st.fd, sha);
    else if (cella_ok(r = new_handle(url, &C, &h)))
        r = download(C, h, url, st.fd, sha);
    if (h)
        C->curl_easy_cleanup(h);
    if (cella_ok(r))
        r = cella_stage_publish(&st, false);
    cella_stage_abort(&st);
    return r;
}

cella_res cella_blob_get_file(const char *base_url, const uint8_t sha[static 32],
                              const char *out_path)
{
    char url[4400];
    CELLA_TRY(cella_blob_url(base_url, sha, url, sizeof url));
    return get_url_file(url, sha, out_path);
}

cella_res cella_blob_parse_url(const char *url, const char *what, char *base, size_t cap,
                               uint8_t sha[static 32])
{
    const char *mark = url ? strstr(url, "/v1/blobs/") : NULL;
    CELLA_ENSURE(mark && (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) &&
                     (size_t)(mark - url) < cap && strlen(mark + 10) == 64,
                 CELLA_E_UNSUPPORTED, what,
                 "not a cella blob store location (http://HOST:PORT/v1/blobs/SHA256): '%s'",
                 url ? url : "");
    CELLA_TRY(cella_hex_decode(sha, 32, mark + 10, 64, what));
    snprintf(base, cap, "%.*s", (int)(mark - url), url);
    return CELLA_OK_RES;
}

cella_res cella_blob_fetch_file(const char *store, const char *location,
                                const uint8_t sha[static 32], const char *out_path)
{
    bool far = location && (!strncmp(location, "http://", 7) || !strncmp(location, "https://", 8));
    CELLA_ENSURE((store && *store) || far, CELLA_E_USAGE, out_path,
                 "no blob store configured and no http(s) location recorded");
    if (store && *store) {
        cella_res r = cella_blob_get_file(store, sha, out_path);
        char url[4400];
        /* the recorded location is that same URL: asking again would change nothing */
        bool same = far && cella_ok(cella_blob_url(store, sha, url, sizeof url)) &&
                    !strcmp(url, location);
        if (cella_ok(r) || r.code == CELLA_E_EXISTS || !far || same)
            return r;
        cella_error_clear(); /* not there: the recorded location may still have it */
    }
    return get_url_file(location, sha, out_path);
}

/* A private temp file name for a tarball in TMPDIR (or /tmp). */
static cella_res temp_tar(char *out, size_t cap)
{
    const char *t = getenv("TMPDIR");
    uint8_t rnd[8];
    char rh[17];
    CELLA_TRY(cella_random(rnd, sizeof rnd));
    cella_hex_encode(rh, rnd, sizeof rnd, false);
    int n = snprintf(out, cap, "%s/cella-blob-%s.tar", t && *t ? t : "/tmp", rh);
    CELLA_ENSURE(n > 0 && (size_t)n < cap, CELLA_E_PATH, "TMPDIR", "path too long");
    return CELLA_OK_RES;
}

cella_res cella_blob_put_dir(const char *base_url, const char *dir, uint8_t sha[static 32])
{
    char tar[PATH_MAX];
    CELLA_TRY(temp_tar(tar, sizeof tar));
    uint8_t packed[32];
    cella_res r = cella_tree_pack(dir, tar, packed);
    if (cella_ok(r)) {
        r = cella_blob_put_file(base_url, tar, sha);
        if (cella_ok(r) && !cella_ct_eq(packed, sha, 32))
            r = cella_fail(CELLA_E_IO, tar, "tarball changed while uploading");
        unlink(tar);
    }
    return r;
}

cella_res cella_blob_get_dir(const char *base_url, const uint8_t sha[static 32], const char *dir)
{
    struct stat st;
    CELLA_ENSURE(lstat(dir, &st) != 0, CELLA_E_EXISTS, dir, "destination already exists");
    char tar[PATH_MAX];
    CELLA_TRY(temp_tar(tar, sizeof tar));
    CELLA_TRY(cella_blob_get_file(base_url, sha, tar));
    cella_res r = cella_tree_unpack(tar, dir, NULL);
    unlink(tar);
    return r;
}
