#include "runtime/task.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/safepath.h"
#include "core/secure.h"
#include "crypto/aead.h"
#include "hub/task.h"
#include "identity/eth.h"
#include "identity/keccak.h"
#include "iexec/dataset.h"
#include "iexec/result.h"
#include "iexec/task_env.h"
#include "runtime/image.h"
#include "runtime/run.h"
#include "runtime/manifest.h"
#include "runtime/sandbox.h"
#include "runtime/standard.h"
#include "volume/volume.h"

#define COMPUTED_MAX (64 * 1024)
#define MAX_ARGS 256
#define MAX_DIR_FILES 10000

/* ---- iexec_args ------------------------------------------------------------------ */

cella_res cella_task_split_args(const char *s, char ***argv, size_t *argc)
{
    size_t n = strlen(s);
    /* Worst case: every other byte starts a word. Pointers and the copied
     * words share one allocation, so the caller frees once. */
    size_t maxw = n / 2 + 2;
    char **v = malloc(maxw * sizeof *v + n + 1 + maxw);
    CELLA_ENSURE(v, CELLA_E_NOMEM, "iexec_args", "out of memory");
    char *w = (char *)(v + maxw);
    size_t k = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (k + 1 >= maxw || k >= MAX_ARGS) {
            free(v);
            return cella_fail(CELLA_E_TOOBIG, "iexec_args", "more than %d arguments", MAX_ARGS);
        }
        v[k++] = w;
        char q = 0;
        for (; *p; p++) {
            if (q == '\'') {
                if (*p == '\'')
                    q = 0;
                else
                    *w++ = *p;
            } else if (*p == '\\' && p[1]) {
                *w++ = *++p;
            } else if (q == '"') {
                if (*p == '"')
                    q = 0;
                else
                    *w++ = *p;
            } else if (*p == '\'' || *p == '"') {
                q = *p;
            } else if (*p == ' ' || *p == '\t' || *p == '\n') {
                break;
            } else {
                *w++ = *p;
            }
        }
        *w++ = '\0';
        if (q) {
            free(v);
            return cella_fail(CELLA_E_PARSE, "iexec_args", "unterminated %c quote", q);
        }
    }
    v[k] = NULL;
    *argv = v;
    *argc = k;
    return CELLA_OK_RES;
}

/* ---- result digest (iExec's FileHashUtils) ----------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The digest of an open file or folder (takes fd). O_NONBLOCK on every open:
 * a FIFO the app left must be refused, not waited on. */
static cella_res digest_fd(int fd, const char *name, uint8_t out[32])
{
    struct stat st;
    cella_res r = fstat(fd, &st) == 0 ? CELLA_OK_RES
                                      : cella_fail(CELLA_E_IO, name, "stat: %s", strerror(errno));
    if (cella_ok(r) && S_ISREG(st.st_mode)) {
        r = cella_sha256_fd(fd, out, NULL, name);
        close(fd);
        return r;
    }
    if (cella_ok(r) && !S_ISDIR(st.st_mode))
        r = cella_fail(CELLA_E_PARSE, name, "the deterministic output is neither a file nor a folder");
    DIR *d = cella_ok(r) ? fdopendir(fd) : NULL;
    if (!d) {
        close(fd);
        return cella_ok(r) ? cella_fail(CELLA_E_IO, name, "opendir: %s", strerror(errno)) : r;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (cella_ok(r) && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat es;
        if (fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(es.st_mode))
            continue; /* iExec hashes the folder's files */
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = cap <= MAX_DIR_FILES ? realloc(names, cap * sizeof *nn) : NULL;
            if (!nn) {
                r = cella_fail(CELLA_E_TOOBIG, name, "too many files in the deterministic output");
                break;
            }
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            r = cella_fail(CELLA_E_NOMEM, name, "out of memory");
        else
            n++;
    }
    if (cella_ok(r) && n) /* an empty folder: names is NULL */
        qsort(names, n, sizeof *names, by_name);
    cella_keccak_ctx k;
    cella_keccak256_init(&k);
    for (size_t i = 0; cella_ok(r) && i < n; i++) {
        int f = openat(dirfd(d), names[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat fs;
        uint8_t h[32];
        if (f < 0)
            r = cella_fail(CELLA_E_IO, names[i], "open: %s", strerror(errno));
        else if (fstat(f, &fs) != 0 || !S_ISREG(fs.st_mode))
            r = cella_fail(CELLA_E_PARSE, names[i], "not a regular file");
        else
            r = cella_sha256_fd(f, h, NULL, names[i]);
        if (f >= 0)
            close(f);
        if (cella_ok(r))
            cella_keccak256_update(&k, h, 32);
    }
    if (cella_ok(r))
        cella_keccak256_final(&k, out);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return r;
}

cella_res cella_task_digest(const char *path, uint8_t out[32])
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_NOTFOUND, path, "the deterministic output cannot be opened: %s",
                 strerror(errno));
    return digest_fd(fd, path, out);
}

cella_res cella_task_digest_beneath(const char *root, const char *rel, uint8_t out[32])
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(rfd >= 0, CELLA_E_IO, "/iexec_out", "cannot open the output folder: %s",
                 strerror(errno));
    const char *name = *rel ? rel : "/iexec_out";
    int fd = *rel ? cella_open_beneath(rfd, rel, O_RDONLY | O_NONBLOCK, 0)
                  : openat(rfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = errno;
    close(rfd);
    if (fd < 0) {
        /* The app made the folder: say nothing of what lies beyond a link. */
        if (err == ELOOP || err == EXDEV || err == ENOTDIR)
            return cella_fail(CELLA_E_PATH, name,
                              "the deterministic output goes through a symbolic link or out of "
                              "/iexec_out");
        return cella_fail(err == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, name,
                          "the deterministic output cannot be opened: %s", strerror(err));
    }
    return digest_fd(fd, name, out);
}

/* ---- the run --------------------------------------------------------------------- */

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static const char *env_get(const json_t *env, const char *name)
{
    return json_string_value(json_object_get(env, name));
}

static cella_res env_need(const json_t *env, const char *name, const char **out)
{
    *out = env_get(env, name);
    CELLA_ENSURE(*out, CELLA_E_PARSE, name, "cas released no %s for this task", name);
    return CELLA_OK_RES;
}

static cella_res private_tmpfs(const char *dir, mode_t mode)
{
    CELLA_TRY(cella_runtime_private_tmpfs(dir));
    chmod(dir, mode);
    return CELLA_OK_RES;
}

/* The app's environment: iExec's app set only (an allow-list), never the
 * pre-compute variables, the challenge key or the result key the session
 * also holds for the enclave (lib/iexec/task_env.h). */
static cella_res build_app_env(const json_t *env, cella_buf *b, const char ***out)
{
    return cella_iexec_env_vector(env, b, out);
}

/* Pre-compute: the dataset ciphertext must be the registered one (checksum
 * from cas), then it is decrypted into the private /iexec_in. */
/* iExec's input files (params.iexec_input_files): public URLs the enclave
 * downloads into /iexec_in, each named "0x" + the hex SHA-256 of its URL, as
 * iExec's pre-compute does (IEXEC_INPUT_FILE_NAME_<n>). A cella blob
 * URL (.../v1/blobs/<sha256>) must also deliver the bytes its name promises. */
static cella_res input_files(json_t *env, const char *in_dir)
{
    const char *ns = env_get(env, "IEXEC_INPUT_FILES_NUMBER");
    char *end = NULL;
    long n = ns ? strtol(ns, &end, 10) : 0;
    CELLA_ENSURE(!ns || (*ns && !*end && n >= 0 && n <= CELLA_TASK_MAX_INPUT_FILES), CELLA_E_PARSE,
                 "IEXEC_INPUT_FILES_NUMBER", "not a count from 0 to %d", CELLA_TASK_MAX_INPUT_FILES);
    for (long i = 1; i <= n; i++) {
        char var[64], name[CELLA_IEXEC_INPUT_FILE_NAME_LEN + 1], dst[1200];
        snprintf(var, sizeof var, "IEXEC_INPUT_FILE_URL_%ld", i);
        const char *url;
        CELLA_TRY(env_need(env, var, &url));
        CELLA_ENSURE(!strncmp(url, "http://", 7), CELLA_E_UNSUPPORTED, var,
                     "input files are fetched over http:// only for now");
        CELLA_TRY(cella_iexec_input_file_name(name, url));
        cella_http_client c = {.base_url = url, .max_response = CELLA_TASK_INPUT_FILE_MAX,
                               .timeout_s = 120};
        cella_http_response resp;
        CELLA_TRY(cella_http_call(&c, "GET", "", NULL, cella_slice_of("", 0), &resp));
        cella_res r = resp.status == 200
                          ? CELLA_OK_RES
                          : cella_fail(CELLA_E_IO, var, "the server answered HTTP %ld", resp.status);
        const char *mark = strstr(url, "/v1/blobs/");
        uint8_t want[32], got[32];
        if (cella_ok(r) && mark && strlen(mark + 10) == 64 &&
            cella_ok(cella_hex_decode(want, 32, mark + 10, 64, var))) {
            r = cella_sha256(got, resp.body.p, resp.body.len);
            if (cella_ok(r) && !cella_ct_eq(want, got, 32))
                r = cella_fail(CELLA_E_AUTH, var, "the blob's bytes do not match its SHA-256");
        }
        snprintf(dst, sizeof dst, "%s/%s", in_dir, name);
        if (cella_ok(r))
            r = cella_write_file_atomic(AT_FDCWD, dst, resp.body.len ? (const char *)resp.body.p : "",
                                        resp.body.len, 0444, true);
        cella_http_response_free(&resp);
        CELLA_TRY(r);
        snprintf(var, sizeof var, "IEXEC_INPUT_FILE_NAME_%ld", i);
        CELLA_ENSURE(json_object_set_new(env, var, json_string(name)) == 0, CELLA_E_NOMEM, var,
                     "out of memory");
    }
    return CELLA_OK_RES;
}

/* A cella volume travels as a deterministic tarball (`cella blobs put DIR`);
 * iExec's format is IV || AES-256-CBC, which never carries a tar header. */
cella_res cella_task_is_volume(const char *path, bool *yes)
{
    *yes = false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, path, "cannot open the dataset: %s", strerror(errno));
    uint8_t h[262];
    ssize_t k = pread(fd, h, sizeof h, 0);
    close(fd);
    *yes = k == (ssize_t)sizeof h && !memcmp(h + 257, "ustar", 5);
    return CELLA_OK_RES;
}

/* A cella volume dataset: the tarball must hash to the registered checksum;
 * its ciphertext is unpacked beside the work dir (it is ciphertext), opened
 * with the key (which authenticates the metadata) and decrypted into the
 * private /iexec_in as a directory; every chunk is authenticated before any
 * plaintext appears (cella_vol_decrypt stages its output). */
static cella_res decrypt_volume_dataset(const cella_task_opts *o, const uint8_t key[32],
                                        const char *checksum, const char *dst)
{
    int fd = open(o->dataset, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, o->dataset, "cannot open: %s", strerror(errno));
    uint8_t got[32], want[32];
    cella_res r = cella_sha256_fd(fd, got, NULL, "dataset");
    close(fd);
    const char *c = checksum + (!strncmp(checksum, "0x", 2) ? 2 : 0);
    if (cella_ok(r))
        r = cella_hex_decode(want, 32, c, strlen(c), "IEXEC_DATASET_CHECKSUM");
    if (cella_ok(r) && !cella_ct_eq(got, want, 32))
        r = cella_fail(CELLA_E_AUTH, "dataset",
                       "checksum mismatch: the encrypted file was modified or is not the expected one");
    char vdir[1200];
    snprintf(vdir, sizeof vdir, "%s/dataset-volume", o->work_dir);
    cella_tree_limits lim = cella_tree_default_limits();
    bool unpacked = false;
    if (cella_ok(r))
        unpacked = cella_ok(r = cella_tree_unpack(o->dataset, vdir, &lim));
    cella_volume *v = NULL;
    if (cella_ok(r))
        r = cella_vol_open(vdir, key, NULL, &v);
    cella_vol_opts vo = {0};
    if (cella_ok(r))
        r = cella_vol_decrypt(v, dst, &vo);
    if (v)
        cella_vol_close(v);
    if (unpacked)
        cella_rm_tree(AT_FDCWD, vdir);
    return r;
}

static cella_res pre_compute(const cella_task_opts *o, json_t *env, const char *in_dir)
{
    CELLA_TRY(input_files(env, in_dir));
    if (o->standard_env) /* the dataset as it is, never decrypted (runtime/standard.h) */
        return cella_standard_pre_compute(o->dataset, env, in_dir);
    /* iExec's pre-compute flag; IEXEC_DATASET_ADDRESS is the zero address then */
    const char *required = env_get(env, "IS_DATASET_REQUIRED");
    if (!required || strcmp(required, "true"))
        return CELLA_OK_RES; /* a task without a dataset */
    const char *addr;
    CELLA_TRY(env_need(env, "IEXEC_DATASET_ADDRESS", &addr));
    const char *name, *sum, *keytext;
    CELLA_TRY(env_need(env, "IEXEC_DATASET_FILENAME", &name));
    CELLA_TRY(env_need(env, "IEXEC_DATASET_CHECKSUM", &sum));
    CELLA_TRY(env_need(env, "IEXEC_DATASET_KEY", &keytext));
    CELLA_ENSURE(o->dataset, CELLA_E_USAGE, "dataset", "the worker gave no dataset file");
    CELLA_ENSURE(name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."),
                 CELLA_E_PATH, "IEXEC_DATASET_FILENAME", "not a plain file name");
    uint8_t key[CELLA_IEXEC_KEY_BYTES];
    CELLA_TRY(cella_iexec_key_decode(key, keytext, strlen(keytext), "dataset key"));
    char dst[1400];
    snprintf(dst, sizeof dst, "%s/%s", in_dir, name);
    bool volume = false;
    cella_res r = cella_task_is_volume(o->dataset, &volume);
    if (cella_ok(r))
        r = volume ? decrypt_volume_dataset(o, key, sum, dst)
                   : cella_iexec_dataset_decrypt_file(o->dataset, dst, key, sum, false);
    cella_wipe(key, sizeof key);
    if (!cella_ok(r)) {
        /* the requester knows the dataset by its address, checksummed as
         * the CLI prints it (iExec's variable is lowercase) */
        char where[80], ck[43];
        uint8_t a[20];
        cella_res ar = cella_eth_address_parse(a, addr, "IEXEC_DATASET_ADDRESS");
        if (cella_ok(ar))
            cella_eth_address_checksum(ck, a);
        snprintf(where, sizeof where, "dataset %s", cella_ok(ar) ? ck : addr);
        cella_error_set_where(where);
        return r;
    }
    struct stat st;
    if (stat(dst, &st) == 0 && S_ISREG(st.st_mode))
        chmod(dst, 0444);
    return CELLA_OK_RES;
}

/* The app's computed.json: a regular file at the top of /iexec_out (not a
 * link, and not a FIFO left to block the enclave on open). */
static cella_res read_computed(const char *out_dir, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int rfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(rfd >= 0, CELLA_E_IO, "/iexec_out", "cannot open: %s", strerror(errno));
    int fd = openat(rfd, CELLA_TASK_COMPUTED_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int err = errno;
    close(rfd);
    CELLA_ENSURE(fd >= 0, err == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, CELLA_TASK_COMPUTED_FILE,
                 "cannot open: %s", strerror(err));
    struct stat st;
    cella_res r = CELLA_OK_RES;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        r = cella_fail(CELLA_E_PARSE, CELLA_TASK_COMPUTED_FILE, "not a regular file");
    else if ((uint64_t)st.st_size > COMPUTED_MAX)
        r = cella_fail(CELLA_E_TOOBIG, CELLA_TASK_COMPUTED_FILE, "larger than %d bytes",
                       COMPUTED_MAX);
    uint8_t *buf = cella_ok(r) ? malloc((size_t)st.st_size + 1) : NULL;
    if (cella_ok(r) && !buf)
        r = cella_fail(CELLA_E_NOMEM, CELLA_TASK_COMPUTED_FILE, "out of memory");
    if (cella_ok(r))
        r = cella_pread_full(fd, buf, (size_t)st.st_size, 0, CELLA_TASK_COMPUTED_FILE);
    close(fd);
    if (!cella_ok(r)) {
        free(buf);
        return r;
    }
    buf[st.st_size] = 0;
    *out = buf;
    *len = (size_t)st.st_size;
    return CELLA_OK_RES;
}

/* The app's computed.json (its bytes, untrusted): the JSON object's
 * "deterministic-output-path" string, which must lie inside /iexec_out. */
cella_res cella_task_computed_parse(cella_slice text, json_t **doc, const char **det,
                                    const char **rel)
{
    *doc = NULL;
    *det = *rel = NULL;
    json_error_t je;
    json_t *computed = json_loadb((const char *)text.p, text.len, JSON_REJECT_DUPLICATES, &je);
    const char *d = json_string_value(json_object_get(computed, "deterministic-output-path"));
    if (!d) {
        json_decref(computed);
        return cella_fail(CELLA_E_PARSE, "/iexec_out/computed.json",
                          "no \"deterministic-output-path\" string%s%s", computed ? "" : ": ",
                          computed ? "" : je.text);
    }
    /* "/iexec_out/x", "iexec_out/x" or "/iexec_out": inside the output folder only. */
    const char *r = d;
    cella_res res = CELLA_OK_RES;
    if (*r == '/')
        r++;
    if (!strncmp(r, "iexec_out", 9) && (r[9] == '/' || r[9] == '\0'))
        r += 9;
    else
        res = cella_fail(CELLA_E_PATH, "deterministic-output-path", "'%s' is not under /iexec_out",
                         d);
    while (cella_ok(res) && *r == '/')
        r++;
    if (cella_ok(res) && *r)
        res = cella_app_check_relpath(r, "deterministic-output-path");
    if (!cella_ok(res)) {
        json_decref(computed);
        return res;
    }
    *doc = computed;
    *det = d;
    *rel = r;
    return CELLA_OK_RES;
}

/* The enclave's signature (PoCo's enclaveSign): binds the digest to this task
 * and this worker, with the task's enclave challenge key from cas. */
static cella_res enclave_sign(const json_t *env, const char *taskhex, cella_task_result *res)
{
    const char *worker = NULL, *keyhex = NULL;
    cella_res r = env_need(env, "SIGN_WORKER_ADDRESS", &worker);
    if (cella_ok(r))
        r = env_need(env, "SIGN_TEE_CHALLENGE_PRIVATE_KEY", &keyhex);
    uint8_t taskid[32];
    if (cella_ok(r))
        r = cella_hex_decode(taskid, 32, taskhex + (taskhex[0] == '0' && taskhex[1] == 'x' ? 2 : 0),
                             strlen(taskhex) - (taskhex[0] == '0' && taskhex[1] == 'x' ? 2 : 0),
                             "IEXEC_TASK_ID");
    if (cella_ok(r))
        r = cella_eth_address_parse(res->worker, worker, "SIGN_WORKER_ADDRESS");
    cella_key32 key;
    bool have_key = false;
    if (cella_ok(r)) {
        const char *h = keyhex + (keyhex[0] == '0' && keyhex[1] == 'x' ? 2 : 0);
        r = cella_hex_decode(key.b, 32, h, strlen(h), "SIGN_TEE_CHALLENGE_PRIVATE_KEY");
        have_key = cella_ok(r);
    }
    if (cella_ok(r))
        r = cella_eth_address_from_privkey(key.b, res->challenge);
    if (cella_ok(r)) {
        uint8_t b[64], h[32];
        hub_result_hash(taskid, res->digest, b);
        hub_result_seal(res->worker, taskid, res->digest, b + 32);
        cella_keccak256(h, b, sizeof b);
        r = cella_eth_personal_sign(key.b, h, 32, res->enclave_sign);
    }
    if (have_key)
        cella_key32_drop(&key);
    return r;
}

cella_res cella_task_write_out(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, path, "cannot create: %s", strerror(errno));
    cella_res r = cella_pwrite_full(fd, data, n, 0, path);
    if (close(fd) != 0 && cella_ok(r))
        r = cella_fail(CELLA_E_IO, path, "close: %s", strerror(errno));
    return r;
}

/* Post-compute: digest, encrypted result, enclave signature. */
static cella_res post_compute(const cella_task_opts *o, const json_t *env, const char *out_dir,
                              cella_task_result *res)
{
    char p[1400];
    uint8_t *cj = NULL;
    size_t cjn = 0;
    cella_res r = read_computed(out_dir, &cj, &cjn);
    if (!cella_ok(r))
        return cella_fail(CELLA_E_NOTFOUND, "/iexec_out/computed.json",
                          "the app wrote no readable computed.json (%s)", cella_error_what());
    json_t *computed = NULL;
    const char *det = NULL, *rel = NULL;
    r = cella_task_computed_parse(cella_slice_of(cj, cjn), &computed, &det, &rel);
    free(cj);
    if (!cella_ok(r))
        return r;
    r = cella_task_digest_beneath(out_dir, rel, res->digest);
    const char *taskhex = NULL;
    if (cella_ok(r))
        r = env_need(env, "IEXEC_TASK_ID", &taskhex);
    /* a standard task has no enclave, hence no enclave signature */
    if (cella_ok(r) && !o->standard_env)
        r = enclave_sign(env, taskhex, res);
    /* The result: the zipped output folder, encrypted for the beneficiary. */
    cella_iexec_secret zip = {0};
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    const char *want = env_get(env, "RESULT_ENCRYPTION");
    res->encrypted = want && !strcmp(want, "true");
    if (cella_ok(r))
        r = cella_iexec_zip_dir(out_dir, &zip);
    if (cella_ok(r) && res->encrypted) {
        const char *pub = env_get(env, "RESULT_ENCRYPTION_PUBLIC_KEY");
        r = pub ? cella_iexec_result_encrypt(cella_slice_of(zip.p, zip.len),
                                             cella_slice_of(pub, strlen(pub)), &enc, &enc_len)
                : cella_fail(CELLA_E_POLICY, "RESULT_ENCRYPTION_PUBLIC_KEY",
                             "result encryption was asked but cas released no beneficiary key");
    }
    if (cella_ok(r)) {
        snprintf(p, sizeof p, "%s/" CELLA_TASK_RESULT_FILE, o->out_dir);
        r = res->encrypted ? cella_task_write_out(p, enc, enc_len)
                           : cella_task_write_out(p, zip.p, zip.len);
    }
    free(enc);
    cella_iexec_secret_free(&zip);
    /* computed.json for the worker: public values only. */
    if (cella_ok(r)) {
        char dig[67] = "0x", sig[133] = "0x", ch[43];
        cella_hex_encode(dig + 2, res->digest, 32, false);
        cella_hex_encode(sig + 2, res->enclave_sign, 65, false);
        cella_eth_address_checksum(ch, res->challenge);
        /* "tee": the kind of enclave that made the result; "sim" says it had no
         * hardware protection (only a stack that allows sim runs one). */
        json_t *o2 = o->standard_env
                         ? cella_standard_computed(taskhex, det, dig, res->encrypted)
                         : json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "task-id", taskhex,
                                     "deterministic-output-path", det, "result-digest", dig,
                                     "enclave-signature", sig, "enclave-challenge", ch,
                                     "encrypted", res->encrypted, "tee",
                                     cella_tee_kind_name(o->tee));
        char *text = o2 ? json_dumps(o2, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        snprintf(p, sizeof p, "%s/" CELLA_TASK_COMPUTED_FILE, o->out_dir);
        r = text ? cella_task_write_out(p, text, strlen(text))
                 : cella_fail(CELLA_E_NOMEM, "computed.json", "out of memory");
        free(text);
        json_decref(o2);
        if (!cella_ok(r)) { /* all or nothing: no result without its computed.json */
            snprintf(p, sizeof p, "%s/" CELLA_TASK_RESULT_FILE, o->out_dir);
            unlink(p);
        }
    }
    json_decref(computed);
    return r;
}

cella_res cella_task_run(const cella_task_opts *o, cella_task_result *res)
{
    memset(res, 0, sizeof *res);
    cella_app_manifest m;
    CELLA_TRY(cella_app_load(o->app_dir, &m));
    cella_cas_instance inst;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cella_res r = o->standard_env
                      ? cella_standard_instance(o->standard_env, &inst)
                      : cella_cas_attest(o->cas, o->tee, o->quote, o->quote_ctx, o->session,
                                         "app", &inst);
    res->ms_attest = ms_since(&t0);
    if (!cella_ok(r)) {
        cella_app_manifest_free(&m);
        return r;
    }
    if (!o->standard_env)
        cella_info("attested to cas for task session %s; secrets received", o->session);
    json_t *env = json_object_get(inst.config, "environment");
    char in_dir[1100], out_dir[1100];
    snprintf(in_dir, sizeof in_dir, "%s/iexec_in", o->work_dir);
    snprintf(out_dir, sizeof out_dir, "%s/iexec_out", o->work_dir);
    bool in_m = false, out_m = false;
    char **uargs = NULL;
    size_t nuargs = 0;
    const char **argv = NULL, **envv = NULL;
    cella_buf envbuf;
    cella_buf_init(&envbuf, true);
    if (!json_is_object(env))
        r = cella_fail(CELLA_E_PARSE, o->session, "cas released no environment");
    if (cella_ok(r))
        in_m = cella_ok(r = private_tmpfs(in_dir, 0755));
    if (cella_ok(r))
        out_m = cella_ok(r = private_tmpfs(out_dir, 0777)); /* the app writes as whoever it is */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (cella_ok(r))
        r = pre_compute(o, env, in_dir);
    res->ms_pre = ms_since(&t0);
    const char *a = cella_ok(r) ? env_get(env, "IEXEC_APP_ARGS") : NULL;
    if (cella_ok(r))
        r = cella_task_split_args(a ? a : "", &uargs, &nuargs);
    char entry[4200];
    if (cella_ok(r) && !m.image) { /* a directory bundle; an image's: cella_image_prepare */
        snprintf(entry, sizeof entry, "/app/%s", m.entrypoint);
        argv = calloc(1 + m.nargs + nuargs + 1, sizeof *argv);
        if (!argv)
            r = cella_fail(CELLA_E_NOMEM, "command", "out of memory");
    }
    if (cella_ok(r) && argv) {
        size_t k = 0;
        argv[k++] = entry;
        for (size_t i = 0; i < m.nargs; i++)
            argv[k++] = m.args[i];
        for (size_t i = 0; i < nuargs; i++)
            argv[k++] = uargs[i];
    }
    if (cella_ok(r))
        r = build_app_env(env, &envbuf, &envv);
    cella_image_run ir = {0};
    if (cella_ok(r)) {
        cella_bind binds[2] = {{in_dir, "/iexec_in", false}, {out_dir, "/iexec_out", true}};
        cella_sandbox_spec spec = {
            .argv = argv,
            .env = envv,
            .cwd = "/",
            .app_dir = o->app_dir,
            .binds = binds,
            .nbinds = 2,
            .cpu_seconds = o->cpu_seconds,
            .wall_seconds = o->wall_seconds,
            .stdout_fd = o->app_stdout,
            .stderr_fd = o->app_stderr,
        };
        /* an image: its root, user, working directory, Entrypoint ++ (args or Cmd) */
        if (m.image)
            r = cella_image_prepare(&m, o->app_dir, (const char *const *)uargs, nuargs, envv, &ir, &spec);
        cella_manifest_limits(&m, o->mem_bytes, &spec); /* heap_mb, stack_kb, processes */
        cella_sandbox_result sr = {0};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (cella_ok(r))
            r = cella_sandbox_run(&spec, &sr);
        res->ms_app = ms_since(&t0);
        res->exit_code = sr.exit_code;
        res->timed_out = sr.timed_out;
        if (cella_ok(r))
            r = cella_manifest_outcome(&m, &spec, &sr);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (cella_ok(r))
        r = post_compute(o, env, out_dir, res);
    res->ms_post = ms_since(&t0);
    if (in_m) {
        umount2(in_dir, MNT_DETACH); /* the tmpfs and its plaintext are gone */
        rmdir(in_dir);
    }
    if (out_m) {
        umount2(out_dir, MNT_DETACH);
        rmdir(out_dir);
    }
    cella_image_run_free(&ir);
    free(uargs);
    free(argv);
    free(envv);
    cella_buf_free(&envbuf);
    cella_cas_instance_free(&inst);
    cella_app_manifest_free(&m);
    return r;
}
