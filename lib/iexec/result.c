#include "iexec/result.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <zip.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/safepath.h"
#include "core/secure.h"

/* 2020-01-01 00:00:00 in MS-DOS date/time, the fixed timestamp of our entries. */
#define DOS_DATE_2020 ((uint16_t)((40u << 9) | (1u << 5) | 1u))
#define DOS_TIME_0 ((uint16_t)0)
#define MAX_DEPTH 64
#define MAX_OUTER_ENTRIES 64

/* ---- keys ------------------------------------------------------------------ */

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0; /* encrypted PEM files are refused, never prompted for */
}

static bool has_pem_header(cella_slice s)
{
    static const char hdr[] = "-----BEGIN";
    if (s.len < sizeof hdr - 1)
        return false;
    for (size_t i = 0; i + sizeof hdr - 1 <= s.len && i < 64; i++)
        if (!memcmp(s.p + i, hdr, sizeof hdr - 1))
            return true;
    return false;
}

static cella_res check_rsa(EVP_PKEY *pk, const char *what)
{
    CELLA_ENSURE(EVP_PKEY_is_a(pk, "RSA"), CELLA_E_UNSUPPORTED, what, "not an RSA key");
    CELLA_ENSURE(EVP_PKEY_get_bits(pk) >= 2048, CELLA_E_POLICY, what,
                 "RSA key of %d bits is too small (2048 at least)", EVP_PKEY_get_bits(pk));
    return CELLA_OK_RES;
}

/* PEM, or base64 of a PEM (RESULT_ENCRYPTION_PUBLIC_KEY). */
static cella_res load_public_key(cella_slice in, EVP_PKEY **out)
{
    *out = NULL;
    const char *what = "beneficiary public key";
    CELLA_ENSURE(in.len > 0 && in.len <= CELLA_IEXEC_PEM_MAX, CELLA_E_PARSE, what,
                 "empty or too large");
    uint8_t *decoded = NULL;
    cella_slice pem = in;
    if (!has_pem_header(in)) {
        size_t len = in.len;
        while (len && (in.p[len - 1] == '\n' || in.p[len - 1] == '\r' || in.p[len - 1] == ' '))
            len--;
        decoded = malloc(len + 1);
        CELLA_ENSURE(decoded, CELLA_E_NOMEM, what, "out of memory");
        size_t dlen = 0;
        cella_res r = cella_base64_decode(decoded, len + 1, &dlen, (const char *)in.p, len, what);
        if (!cella_ok(r) || !has_pem_header(cella_slice_of(decoded, dlen))) {
            free(decoded);
            return cella_fail(CELLA_E_PARSE, what, "neither a PEM public key nor base64 of one");
        }
        pem = cella_slice_of(decoded, dlen);
    }
    BIO *bio = BIO_new_mem_buf(pem.p, (int)pem.len);
    EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, no_password, NULL) : NULL;
    BIO_free(bio);
    free(decoded);
    CELLA_ENSURE(pk, CELLA_E_PARSE, what, "not a PEM public key (SPKI 'BEGIN PUBLIC KEY')");
    cella_res r = check_rsa(pk, what);
    if (!cella_ok(r)) {
        EVP_PKEY_free(pk);
        return r;
    }
    *out = pk;
    return CELLA_OK_RES;
}

cella_res cella_iexec_result_public_key_check(cella_slice pub)
{
    EVP_PKEY *pk = NULL;
    CELLA_TRY(load_public_key(pub, &pk));
    EVP_PKEY_free(pk);
    return CELLA_OK_RES;
}

static cella_res load_private_key(cella_slice pem, EVP_PKEY **out)
{
    *out = NULL;
    const char *what = "beneficiary private key";
    CELLA_ENSURE(pem.len > 0 && pem.len <= CELLA_IEXEC_PEM_MAX, CELLA_E_PARSE, what,
                 "empty or too large");
    BIO *bio = BIO_new_mem_buf(pem.p, (int)pem.len);
    EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) : NULL;
    BIO_free(bio);
    CELLA_ENSURE(pk, CELLA_E_PARSE, what,
                 "not an unencrypted PEM private key (PKCS#8 'BEGIN PRIVATE KEY')");
    cella_res r = check_rsa(pk, what);
    if (!cella_ok(r)) {
        EVP_PKEY_free(pk);
        return r;
    }
    *out = pk;
    return CELLA_OK_RES;
}

/* Copies a memory BIO's content into secure memory or a malloc'd string. */
static cella_res bio_take(BIO *bio, bool secret, cella_iexec_secret *s, char **str, size_t *len)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    CELLA_ENSURE(n > 0 && p, CELLA_E_CRYPTO, "RSA key", "PEM encoding failed");
    if (secret) {
        CELLA_TRY(cella_iexec_secret_alloc(s, (size_t)n + 1));
        memcpy(s->p, p, (size_t)n);
        s->p[n] = 0;
        s->len = (size_t)n;
    } else {
        *str = malloc((size_t)n + 1);
        CELLA_ENSURE(*str, CELLA_E_NOMEM, "RSA key", "out of memory");
        memcpy(*str, p, (size_t)n);
        (*str)[n] = 0;
        *len = (size_t)n;
    }
    return CELLA_OK_RES;
}

cella_res cella_iexec_rsa_generate(unsigned bits, cella_iexec_pem *priv, char **pub,
                                   size_t *pub_len)
{
    *priv = (cella_iexec_pem){0};
    *pub = NULL;
    *pub_len = 0;
    CELLA_ENSURE(bits >= 2048 && bits <= 16384, CELLA_E_USAGE, "RSA key", "bad key size %u",
                 bits);
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    CELLA_ENSURE(pk, CELLA_E_CRYPTO, "RSA key", "key generation failed");
    cella_res r = CELLA_OK_RES;
    BIO *sb = BIO_new(BIO_s_secmem()); /* cleared on free */
    BIO *pb = BIO_new(BIO_s_mem());
    if (!sb || !pb) {
        r = cella_fail(CELLA_E_NOMEM, "RSA key", "out of memory");
        goto done;
    }
    /* OpenSSL 3 writes PKCS#8 ("BEGIN PRIVATE KEY") and SPKI ("BEGIN PUBLIC KEY"). */
    if (PEM_write_bio_PrivateKey(sb, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(pb, pk) != 1) {
        r = cella_fail(CELLA_E_CRYPTO, "RSA key", "PEM encoding failed");
        goto done;
    }
    CELLA_GUARD(r, bio_take(sb, true, priv, NULL, NULL), done);
    r = bio_take(pb, false, NULL, pub, pub_len);
    if (!cella_ok(r))
        cella_iexec_secret_free(priv);
done:
    BIO_free(sb);
    BIO_free(pb);
    EVP_PKEY_free(pk);
    return r;
}

cella_res cella_iexec_mkdirs(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strlen(path);
    CELLA_ENSURE(n > 0 && n < sizeof buf, CELLA_E_PATH, path, "bad directory path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return cella_fail(CELLA_E_IO, buf, "cannot create directory: %s", strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    CELLA_ENSURE(stat(path, &st) == 0 && S_ISDIR(st.st_mode), CELLA_E_IO, path,
                 "not a directory");
    return CELLA_OK_RES;
}

cella_res cella_iexec_keypair_write(const char *dir, const char *address, unsigned bits,
                                    bool force)
{
    CELLA_ENSURE(address[0] && !strchr(address, '/') && strcmp(address, ".") &&
                     strcmp(address, ".."),
                 CELLA_E_USAGE, "address", "not usable in a file name");
    char priv_path[4096], pub_path[4096];
    int n1 = snprintf(priv_path, sizeof priv_path, "%s/%s_key", dir, address);
    int n2 = snprintf(pub_path, sizeof pub_path, "%s/%s_key.pub", dir, address);
    CELLA_ENSURE(n1 > 0 && n2 > 0 && (size_t)n2 < sizeof pub_path, CELLA_E_PATH, dir,
                 "path too long");
    if (!force) {
        CELLA_ENSURE(access(priv_path, F_OK) != 0, CELLA_E_EXISTS, priv_path,
                     "key already exists (use --force to replace it)");
        CELLA_ENSURE(access(pub_path, F_OK) != 0, CELLA_E_EXISTS, pub_path,
                     "key already exists (use --force to replace it)");
    }
    CELLA_TRY(cella_iexec_mkdirs(dir, 0700));
    cella_iexec_pem priv;
    char *pub = NULL;
    size_t pub_len = 0;
    CELLA_TRY(cella_iexec_rsa_generate(bits, &priv, &pub, &pub_len));
    cella_res r = cella_write_file_atomic(AT_FDCWD, priv_path, priv.p, priv.len, 0600, !force);
    if (cella_ok(r))
        r = cella_write_file_atomic(AT_FDCWD, pub_path, pub, pub_len, 0644, !force);
    cella_iexec_secret_free(&priv);
    free(pub);
    return r;
}

/* ---- zip writing ------------------------------------------------------------ */

typedef struct {
    char *name;
    uint8_t *data;
    size_t len;
    size_t cap; /* secure allocation size, 0 if not owned */
} zentry;

static cella_res zip_fail(cella_code code, const char *where, const char *msg, zip_error_t *ze)
{
    cella_res r = cella_fail(code, where, "%s: %s", msg, ze ? zip_error_strerror(ze) : "");
    if (ze)
        zip_error_fini(ze);
    return r;
}

/* Builds a zip from entries in memory; `compress` selects deflate or store.
 * The archive is returned in secure memory if `secret`, else malloc'd. */
static cella_res zip_build(const zentry *e, size_t n, bool compress, bool secret,
                           cella_iexec_secret *out_secret, uint8_t **out, size_t *out_len)
{
    const char *what = "zip";
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (!src)
        return zip_fail(CELLA_E_NOMEM, what, "cannot create zip buffer", &ze);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    if (!za) {
        zip_source_free(src);
        return zip_fail(CELLA_E_INTERNAL, what, "cannot create zip", &ze);
    }
    zip_error_fini(&ze);
    zip_source_keep(src);
    cella_res r = CELLA_OK_RES;
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, e[i].data, e[i].len, 0);
        zip_int64_t idx = s ? zip_file_add(za, e[i].name, s, ZIP_FL_ENC_GUESS) : -1;
        if (idx < 0) {
            if (s)
                zip_source_free(s);
            r = cella_fail(CELLA_E_INTERNAL, e[i].name, "cannot add zip entry: %s",
                           zip_strerror(za));
            break;
        }
        zip_uint64_t u = (zip_uint64_t)idx;
        if (zip_set_file_compression(za, u, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
            zip_file_set_dostime(za, u, DOS_TIME_0, DOS_DATE_2020, 0) != 0 ||
            zip_file_set_external_attributes(za, u, 0, ZIP_OPSYS_UNIX, (zip_uint32_t)0100644 << 16) !=
                0) {
            r = cella_fail(CELLA_E_INTERNAL, e[i].name, "cannot set zip entry attributes: %s",
                           zip_strerror(za));
            break;
        }
    }
    if (cella_ok(r) && zip_close(za) != 0)
        r = cella_fail(CELLA_E_INTERNAL, what, "cannot write zip: %s", zip_strerror(za));
    if (!cella_ok(r)) {
        zip_discard(za);
        zip_source_free(src);
        return r;
    }
    /* Read the finished archive back out of the buffer source. */
    zip_stat_t st;
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (zip_source_stat(src, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || st.size == 0 ||
        st.size > CELLA_IEXEC_RESULT_MAX * 2) {
        r = cella_fail(CELLA_E_INTERNAL, what, "cannot size the zip");
        goto out;
    }
    if (secret) {
        CELLA_GUARD(r, cella_iexec_secret_alloc(out_secret, (size_t)st.size), out);
        buf = out_secret->p;
    } else {
        buf = malloc((size_t)st.size);
        if (!buf) {
            r = cella_fail(CELLA_E_NOMEM, what, "out of memory");
            goto out;
        }
    }
    cap = (size_t)st.size;
    if (zip_source_open(src) != 0) {
        r = cella_fail(CELLA_E_INTERNAL, what, "cannot read the zip back");
        goto out;
    }
    zip_int64_t got = zip_source_read(src, buf, cap);
    zip_source_close(src);
    if (got < 0 || (size_t)got != cap)
        r = cella_fail(CELLA_E_INTERNAL, what, "short read of the zip");
out:
    zip_source_free(src);
    if (!cella_ok(r)) {
        if (secret)
            cella_iexec_secret_free(out_secret);
        else
            free(buf);
        return r;
    }
    if (secret) {
        out_secret->len = cap;
    } else {
        *out = buf;
        *out_len = cap;
    }
    return CELLA_OK_RES;
}

/* ---- zipping a folder ------------------------------------------------------- */

typedef struct {
    zentry *v;
    size_t n, cap;
    size_t total;
} zlist;

static void zlist_free(zlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        if (l->v[i].data && l->v[i].cap)
            cella_secure_free(l->v[i].data, l->v[i].cap);
    }
    free(l->v);
    *l = (zlist){0};
}

static cella_res zlist_push(zlist *l, char *name)
{
    CELLA_ENSURE(l->n < CELLA_IEXEC_RESULT_MAX_ENTRIES, CELLA_E_TOOBIG, name,
                 "more than %d files in the output folder", CELLA_IEXEC_RESULT_MAX_ENTRIES);
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        zentry *nv = realloc(l->v, nc * sizeof *nv);
        CELLA_ENSURE(nv, CELLA_E_NOMEM, name, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = (zentry){name, NULL, 0, 0};
    return CELLA_OK_RES;
}

static cella_res walk(int root, const char *rel, int depth, zlist *l)
{
    CELLA_ENSURE(depth < MAX_DEPTH, CELLA_E_POLICY, rel, "directory tree too deep");
    int fd = rel[0] ? cella_open_beneath(root, rel, O_RDONLY | O_DIRECTORY, 0)
                    : openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, rel[0] ? rel : ".", "cannot open directory: %s",
                 strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cella_fail(CELLA_E_IO, rel, "cannot read directory: %s", strerror(errno));
    }
    cella_res r = CELLA_OK_RES;
    struct dirent *de;
    while (cella_ok(r) && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        size_t need = strlen(rel) + strlen(de->d_name) + 2;
        char *path = malloc(need);
        if (!path) {
            r = cella_fail(CELLA_E_NOMEM, rel, "out of memory");
            break;
        }
        snprintf(path, need, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            r = cella_fail(CELLA_E_IO, path, "cannot stat: %s", strerror(errno));
            free(path);
        } else if (S_ISDIR(st.st_mode)) {
            r = walk(root, path, depth + 1, l);
            free(path);
        } else if (S_ISREG(st.st_mode)) {
            r = zlist_push(l, path);
            if (!cella_ok(r))
                free(path);
        } else {
            r = cella_fail(CELLA_E_POLICY, path,
                           "not a regular file or directory (symbolic links are refused)");
            free(path);
        }
    }
    closedir(d);
    return r;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const zentry *)a)->name, ((const zentry *)b)->name);
}

static cella_res read_entry(int root, zentry *e, size_t *total)
{
    int fd = cella_open_beneath(root, e->name, O_RDONLY, 0);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, e->name, "cannot open: %s", strerror(errno));
    struct stat st;
    cella_res r = CELLA_OK_RES;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        r = cella_fail(CELLA_E_IO, e->name, "not a readable regular file");
    } else if ((uint64_t)st.st_size > CELLA_IEXEC_RESULT_MAX - *total) {
        r = cella_fail(CELLA_E_TOOBIG, e->name, "output folder larger than %zu bytes",
                       CELLA_IEXEC_RESULT_MAX);
    } else {
        size_t n = (size_t)st.st_size;
        e->cap = n ? n : 1;
        e->data = cella_secure_alloc(e->cap);
        if (!e->data) {
            e->cap = 0;
            r = cella_fail(CELLA_E_NOMEM, e->name, "out of memory");
        } else {
            r = cella_pread_full(fd, e->data, n, 0, e->name);
            e->len = n;
            *total += n;
        }
    }
    close(fd);
    return r;
}

cella_res cella_iexec_zip_dir(const char *dir, cella_iexec_secret *zip)
{
    *zip = (cella_iexec_secret){0};
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(root >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, dir,
                 "cannot open directory: %s", strerror(errno));
    zlist l = {0};
    cella_res r = walk(root, "", 0, &l);
    if (cella_ok(r) && l.n == 0)
        r = cella_fail(CELLA_E_USAGE, dir, "the output folder holds no file");
    if (cella_ok(r)) {
        qsort(l.v, l.n, sizeof *l.v, cmp_entry);
        for (size_t i = 0; i < l.n && cella_ok(r); i++)
            r = read_entry(root, &l.v[i], &l.total);
    }
    if (!cella_ok(r) && !*cella_error_where())
        cella_error_set_where(dir);
    if (cella_ok(r))
        r = zip_build(l.v, l.n, true, true, zip, NULL, NULL);
    zlist_free(&l);
    close(root);
    return r;
}

/* ---- encryption ------------------------------------------------------------- */

cella_res cella_iexec_result_encrypt(cella_slice result_zip, cella_slice pub_pem, uint8_t **out,
                                     size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    CELLA_ENSURE(result_zip.len <= CELLA_IEXEC_RESULT_MAX, CELLA_E_TOOBIG, "iexec_out.zip",
                 "result larger than %zu bytes", CELLA_IEXEC_RESULT_MAX);
    EVP_PKEY *pk = NULL;
    CELLA_TRY(load_public_key(pub_pem, &pk));
    CELLA_KEY32(key);
    cella_res r = cella_random(key.b, sizeof key.b);
    uint8_t *aes = NULL, *rsa = NULL;
    size_t aes_len = 0, rsa_len = 0;
    EVP_PKEY_CTX *ctx = NULL;
    if (!cella_ok(r))
        goto done;
    size_t cap = cella_iexec_cbc_sealed_size(result_zip.len);
    aes = malloc(cap);
    if (!aes) {
        r = cella_fail(CELLA_E_NOMEM, "iexec_out.zip.aes", "out of memory");
        goto done;
    }
    CELLA_GUARD(r, cella_iexec_cbc_encrypt(key.b, result_zip.p, result_zip.len, aes, cap, &aes_len),
                done);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx, NULL, &rsa_len, key.b, sizeof key.b) != 1 ||
        !(rsa = malloc(rsa_len)) ||
        EVP_PKEY_encrypt(ctx, rsa, &rsa_len, key.b, sizeof key.b) != 1) {
        r = cella_fail(CELLA_E_CRYPTO, "aes-key.rsa", "RSA PKCS#1 v1.5 encryption failed");
        goto done;
    }
    zentry e[2] = {{(char *)CELLA_IEXEC_RESULT_KEY_ENTRY, rsa, rsa_len, 0},
                   {(char *)CELLA_IEXEC_RESULT_DATA_ENTRY, aes, aes_len, 0}};
    r = zip_build(e, 2, false, false, NULL, out, out_len);
done:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    free(aes);
    free(rsa);
    return r;
}

/* ---- untrusted zip reading -------------------------------------------------- */

/* Relative, no "..", no backslashes or drive letters, no empty components. */
static bool safe_entry_name(const char *s)
{
    if (!s[0] || s[0] == '/' || strchr(s, '\\') || strchr(s, ':'))
        return false;
    const char *p = s;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if ((n == 2 && p[0] == '.' && p[1] == '.') || (n == 0 && slash))
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

static cella_res read_zip_entry(zip_t *za, zip_uint64_t idx, const zip_stat_t *st, size_t max,
                                uint8_t **out, size_t *out_len)
{
    const char *name = st->name;
    CELLA_ENSURE((st->valid & ZIP_STAT_SIZE), CELLA_E_PARSE, name, "zip entry without a size");
    CELLA_ENSURE(st->size <= max, CELLA_E_TOOBIG, name, "zip entry larger than %zu bytes", max);
    CELLA_ENSURE(!(st->valid & ZIP_STAT_ENCRYPTION_METHOD) ||
                     st->encryption_method == ZIP_EM_NONE,
                 CELLA_E_UNSUPPORTED, name, "password-protected zip entries are not supported");
    size_t n = (size_t)st->size;
    uint8_t *buf = malloc(n + 1);
    CELLA_ENSURE(buf, CELLA_E_NOMEM, name, "out of memory");
    zip_file_t *zf = zip_fopen_index(za, idx, 0);
    if (!zf) {
        free(buf);
        return cella_fail(CELLA_E_PARSE, name, "cannot open zip entry: %s", zip_strerror(za));
    }
    size_t off = 0;
    cella_res r = CELLA_OK_RES;
    /* Read at most n+1 bytes: one more than declared means the entry lies. */
    while (off <= n) {
        zip_int64_t got = zip_fread(zf, buf + off, n + 1 - off);
        if (got < 0) {
            r = cella_fail(CELLA_E_PARSE, name, "corrupt zip entry: %s",
                           zip_file_strerror(zf));
            break;
        }
        if (got == 0)
            break;
        off += (size_t)got;
    }
    if (cella_ok(r) && off != n)
        r = cella_fail(CELLA_E_PARSE, name, "zip entry size does not match its header");
    if (zip_fclose(zf) != 0 && cella_ok(r))
        r = cella_fail(CELLA_E_PARSE, name, "corrupt zip entry (checksum)");
    if (!cella_ok(r)) {
        free(buf);
        return r;
    }
    *out = buf;
    *out_len = n;
    return CELLA_OK_RES;
}

cella_res cella_iexec_result_unpack(cella_slice enc_zip, uint8_t **key_entry, size_t *key_len,
                                    uint8_t **data_entry, size_t *data_len)
{
    *key_entry = *data_entry = NULL;
    *key_len = *data_len = 0;
    const char *what = "encrypted result zip";
    CELLA_ENSURE(enc_zip.len > 0, CELLA_E_PARSE, what, "empty file");
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(enc_zip.p, enc_zip.len, 0, &ze);
    if (!src)
        return zip_fail(CELLA_E_NOMEM, what, "cannot read zip", &ze);
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!za) {
        zip_source_free(src);
        return zip_fail(CELLA_E_PARSE, what, "not a valid zip", &ze);
    }
    zip_error_fini(&ze);
    cella_res r = CELLA_OK_RES;
    zip_int64_t n = zip_get_num_entries(za, 0);
    zip_int64_t key_idx = -1, data_idx = -1;
    zip_stat_t key_st, data_st;
    if (n < 0 || n > MAX_OUTER_ENTRIES)
        r = cella_fail(CELLA_E_PARSE, what, "unexpected number of zip entries");
    for (zip_int64_t i = 0; cella_ok(r) && i < n; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
            r = cella_fail(CELLA_E_PARSE, what, "unreadable zip entry");
            break;
        }
        if (!safe_entry_name(st.name)) {
            r = cella_fail(CELLA_E_PATH, what,
                           "zip entry with an absolute or parent ('..') path refused");
            break;
        }
        zip_int64_t *slot = !strcmp(st.name, CELLA_IEXEC_RESULT_KEY_ENTRY)    ? &key_idx
                            : !strcmp(st.name, CELLA_IEXEC_RESULT_DATA_ENTRY) ? &data_idx
                                                                              : NULL;
        if (!slot)
            continue; /* the SDK ignores other entries; so do we */
        if (*slot >= 0) {
            r = cella_fail(CELLA_E_PARSE, st.name, "duplicate zip entry");
            break;
        }
        *slot = i;
        if (slot == &key_idx)
            key_st = st;
        else
            data_st = st;
    }
    if (cella_ok(r) && key_idx < 0)
        r = cella_fail(CELLA_E_PARSE, what, "missing %s entry", CELLA_IEXEC_RESULT_KEY_ENTRY);
    if (cella_ok(r) && data_idx < 0)
        r = cella_fail(CELLA_E_PARSE, what, "missing %s entry", CELLA_IEXEC_RESULT_DATA_ENTRY);
    /* Sizes are checked from the directory before anything is allocated. */
    if (cella_ok(r))
        r = read_zip_entry(za, (zip_uint64_t)key_idx, &key_st, CELLA_IEXEC_RESULT_KEY_MAX,
                           key_entry, key_len);
    if (cella_ok(r))
        r = read_zip_entry(za, (zip_uint64_t)data_idx, &data_st, CELLA_IEXEC_RESULT_MAX + 32,
                           data_entry, data_len);
    zip_discard(za); /* also frees src */
    if (!cella_ok(r)) {
        free(*key_entry);
        free(*data_entry);
        *key_entry = *data_entry = NULL;
        *key_len = *data_len = 0;
    }
    return r;
}

/* ---- decryption ------------------------------------------------------------- */

/* RSA PKCS#1 v1.5 decryption into `out` (secure, sized to the modulus). */
static cella_res rsa_decrypt(EVP_PKEY *pk, const uint8_t *in, size_t n, cella_iexec_secret *out)
{
    *out = (cella_iexec_secret){0};
    int sz = EVP_PKEY_get_size(pk);
    CELLA_ENSURE(sz > 0, CELLA_E_CRYPTO, "aes-key.rsa", "bad RSA key");
    CELLA_TRY(cella_iexec_secret_alloc(out, (size_t)sz));
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    size_t len = out->cap;
    bool ok = ctx && EVP_PKEY_decrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
              EVP_PKEY_decrypt(ctx, out->p, &len, in, n) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        cella_iexec_secret_free(out);
        return cella_fail(CELLA_E_AUTH, "aes-key.rsa",
                          "cannot decrypt the result key: wrong beneficiary key?");
    }
    out->len = len;
    return CELLA_OK_RES;
}

static bool is_base64_text(const uint8_t *p, size_t n)
{
    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || (c == '=' && i >= n - 2);
        if (!ok)
            return false;
    }
    return true;
}

/* The raw key as iExec writes it today; else the legacy form the SDK still
 * reads: base64(RSA(base64(key))). */
static cella_res unwrap_key(EVP_PKEY *pk, const uint8_t *entry, size_t n,
                            uint8_t key[static CELLA_IEXEC_KEY_BYTES])
{
    cella_iexec_secret k;
    cella_res r = rsa_decrypt(pk, entry, n, &k);
    if (cella_ok(r)) {
        bool good = k.len == CELLA_IEXEC_KEY_BYTES;
        if (good)
            memcpy(key, k.p, CELLA_IEXEC_KEY_BYTES);
        cella_iexec_secret_free(&k);
        CELLA_ENSURE(good, CELLA_E_AUTH, "aes-key.rsa",
                     "result key has an unexpected length: wrong beneficiary key?");
        return CELLA_OK_RES;
    }
    if (!is_base64_text(entry, n))
        return r; /* not the legacy form either: report the RSA failure */
    uint8_t raw[CELLA_IEXEC_RESULT_KEY_MAX];
    size_t raw_len = 0;
    CELLA_TRY(cella_base64_decode(raw, sizeof raw, &raw_len, (const char *)entry, n,
                                  "aes-key.rsa"));
    CELLA_TRY(rsa_decrypt(pk, raw, raw_len, &k));
    uint8_t dec[64];
    size_t dec_len = 0;
    r = cella_base64_decode(dec, sizeof dec, &dec_len, (const char *)k.p, k.len, "aes-key.rsa");
    cella_iexec_secret_free(&k);
    if (cella_ok(r) && dec_len == 16)
        r = cella_fail(CELLA_E_UNSUPPORTED, "aes-key.rsa",
                       "legacy AES-128-ECB result encryption is not supported");
    else if (cella_ok(r) && dec_len != CELLA_IEXEC_KEY_BYTES)
        r = cella_fail(CELLA_E_AUTH, "aes-key.rsa", "result key has an unexpected length");
    if (cella_ok(r))
        memcpy(key, dec, CELLA_IEXEC_KEY_BYTES);
    cella_wipe(dec, sizeof dec);
    return r;
}

cella_res cella_iexec_result_decrypt(cella_slice enc_zip, cella_slice priv_pem,
                                     cella_iexec_secret *out)
{
    *out = (cella_iexec_secret){0};
    EVP_PKEY *pk = NULL;
    CELLA_TRY(load_private_key(priv_pem, &pk));
    uint8_t *ke = NULL, *de = NULL;
    size_t kl = 0, dl = 0;
    CELLA_KEY32(key);
    cella_res r = cella_iexec_result_unpack(enc_zip, &ke, &kl, &de, &dl);
    if (cella_ok(r))
        r = unwrap_key(pk, ke, kl, key.b);
    if (cella_ok(r))
        r = cella_iexec_dataset_decrypt(key.b, cella_slice_of(de, dl), NULL, out,
                                        CELLA_IEXEC_RESULT_DATA_ENTRY);
    EVP_PKEY_free(pk);
    free(ke);
    free(de);
    return r;
}

/* ---- files ------------------------------------------------------------------ */

cella_res cella_iexec_result_encrypt_dir(const char *dir, const char *pub_path,
                                         const char *out_path, bool force)
{
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, pub_path, CELLA_IEXEC_PEM_MAX, false, &pem, &pem_len));
    cella_iexec_secret zip;
    cella_res r = cella_iexec_zip_dir(dir, &zip);
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (cella_ok(r)) {
        r = cella_iexec_result_encrypt(cella_slice_of(zip.p, zip.len),
                                       cella_slice_of(pem, pem_len), &enc, &enc_len);
        cella_iexec_secret_free(&zip);
        if (!cella_ok(r) && !strcmp(cella_error_where(), "beneficiary public key"))
            cella_error_set_where(pub_path);
    }
    free(pem);
    if (cella_ok(r))
        r = cella_write_file_atomic(AT_FDCWD, out_path, enc, enc_len, 0644, !force);
    free(enc);
    return r;
}

cella_res cella_iexec_result_decrypt_file(const char *in_path, const char *priv_path,
                                          const char *out_path, bool force)
{
    uint8_t *pem = NULL, *enc = NULL;
    size_t pem_len = 0, enc_len = 0;
    CELLA_TRY(cella_read_file(AT_FDCWD, priv_path, CELLA_IEXEC_PEM_MAX, true, &pem, &pem_len));
    cella_res r = cella_read_file(AT_FDCWD, in_path,
                                  CELLA_IEXEC_RESULT_MAX + CELLA_IEXEC_RESULT_MAX / 64 + 65536,
                                  false, &enc, &enc_len);
    cella_iexec_secret plain = {0};
    if (cella_ok(r)) {
        r = cella_iexec_result_decrypt(cella_slice_of(enc, enc_len), cella_slice_of(pem, pem_len),
                                       &plain);
        if (!cella_ok(r)) {
            const char *w = cella_error_where();
            /* a result key the private key cannot open: name that key file */
            if (!strcmp(w, "beneficiary private key") ||
                (r.code == CELLA_E_AUTH && !strcmp(w, CELLA_IEXEC_RESULT_KEY_ENTRY)))
                cella_error_set_where(priv_path);
            else if (!strcmp(w, "encrypted result zip"))
                cella_error_set_where(in_path);
        }
    }
    cella_secure_free(pem, pem_len + 1);
    free(enc);
    if (cella_ok(r))
        r = cella_write_file_atomic(AT_FDCWD, out_path, plain.p, plain.len, 0600, !force);
    cella_iexec_secret_free(&plain);
    return r;
}
