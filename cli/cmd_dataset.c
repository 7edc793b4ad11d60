/* cella dataset init|encrypt|decrypt: the iExec SDK's dataset folders and
 * format (`--format iexec`), or a cella volume (the default). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/secure.h"
#include "core/stage.h"
#include "iexec/dataset.h"
#include "progress.h"
#include "volume/volume.h"

#define DEFAULT_ORIGINAL "datasets/original"
#define DEFAULT_ENCRYPTED "datasets/encrypted"
#define DEFAULT_SECRETS ".secrets"


typedef struct {
    const char *original, *encrypted;
    char keys[4096]; /* dataset key folder */
} dataset_dirs;

/* --original-dir/--original-dataset-dir, --encrypted-dir/--encrypted-dataset-dir,
 * --secrets-dir (keys in <dir>/datasets) or --dataset-keystoredir (keys in <dir>). */
static cella_res get_dirs(const cli_opt *o, int n, dataset_dirs *d)
{
    const char *a = cli_get(o, n, "original-dir"), *b = cli_get(o, n, "original-dataset-dir");
    const char *c = cli_get(o, n, "encrypted-dir"), *e = cli_get(o, n, "encrypted-dataset-dir");
    const char *s = cli_get(o, n, "secrets-dir"), *k = cli_get(o, n, "dataset-keystoredir");
    CELLA_ENSURE(!(a && b) && !(c && e) && !(s && k), CELLA_E_USAGE, "dataset",
                 "an option and its SDK alias were both given");
    d->original = a ? a : b ? b : DEFAULT_ORIGINAL;
    d->encrypted = c ? c : e ? e : DEFAULT_ENCRYPTED;
    int w = k ? snprintf(d->keys, sizeof d->keys, "%s", k)
              : snprintf(d->keys, sizeof d->keys, "%s/datasets", s ? s : DEFAULT_SECRETS);
    CELLA_ENSURE(w > 0 && (size_t)w < sizeof d->keys, CELLA_E_PATH, "--secrets-dir",
                 "path too long");
    return CELLA_OK_RES;
}

#define DIR_OPTS                                                                               \
    {"original-dir", true, NULL}, {"original-dataset-dir", true, NULL},                        \
        {"encrypted-dir", true, NULL}, {"encrypted-dataset-dir", true, NULL},                  \
        {"secrets-dir", true, NULL}, {                                                         \
        "dataset-keystoredir", true, NULL                                                      \
    }

static int dataset_init(int argc, char **argv)
{
    cli_opt o[] = {DIR_OPTS, {"encrypted", false, NULL}};
    const int n = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    dataset_dirs d;
    cella_res r = cli_parse(argc, argv, o, n, pos, 0, &np, "dataset init");
    if (cella_ok(r))
        r = get_dirs(o, n, &d);
    /* cella datasets are always encrypted: --encrypted is accepted for the SDK's
     * sake and the same tree is made either way. */
    if (cella_ok(r))
        r = cella_iexec_mkdirs(d.original, 0755);
    if (cella_ok(r))
        r = cella_iexec_mkdirs(d.encrypted, 0755);
    if (cella_ok(r))
        r = cella_iexec_mkdirs(d.keys, 0700);
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s\n%s\n%s\n", d.original, d.encrypted, d.keys);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files directly in `dir`, sorted (the SDK skips anything else). */
static cella_res list_files(const char *dir, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, dir,
                 "cannot open dataset folder: %s (run: cella dataset init --encrypted)",
                 strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cella_fail(CELLA_E_IO, dir, "cannot read directory: %s", strerror(errno));
    }
    char **v = NULL;
    size_t n = 0, cap = 0;
    cella_res r = CELLA_OK_RES;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "cella: datasets must be single files, skipping %s\n", e->d_name);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                r = cella_fail(CELLA_E_NOMEM, dir, "out of memory");
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(e->d_name))) {
            r = cella_fail(CELLA_E_NOMEM, dir, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (cella_ok(r) && n == 0)
        r = cella_fail(CELLA_E_NOTFOUND, dir, "input folder is empty, nothing to encrypt");
    if (!cella_ok(r)) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return r;
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *count = n;
    return CELLA_OK_RES;
}

static cella_res join(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    int w = snprintf(out, cap, "%s/%s%s", dir, name, ext);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_PATH, name, "path too long");
    return CELLA_OK_RES;
}

static cella_res require_dir(const char *dir)
{
    struct stat st;
    CELLA_ENSURE(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), CELLA_E_NOTFOUND, dir,
                 "folder missing (run: cella dataset init --encrypted)");
    return CELLA_OK_RES;
}

/* A dataset to encrypt must open for reading and fit the iExec limit. */
static cella_res check_source(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, path, "cannot read the dataset: %s", strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st);
    close(fd);
    CELLA_ENSURE(rc == 0 && S_ISREG(st.st_mode), CELLA_E_IO, path, "not a regular file");
    CELLA_ENSURE((uint64_t)st.st_size <= CELLA_IEXEC_DATASET_MAX, CELLA_E_TOOBIG, path,
                 "dataset larger than %zu bytes", (size_t)CELLA_IEXEC_DATASET_MAX);
    return CELLA_OK_RES;
}

static cella_res encrypt_iexec(const dataset_dirs *d, bool force)
{
    CELLA_TRY(require_dir(d->encrypted));
    CELLA_TRY(require_dir(d->keys));
    char **files;
    size_t n;
    CELLA_TRY(list_files(d->original, &files, &n));
    char src[4096], enc[4096], kf[4096], last[4096];
    cella_res r = CELLA_OK_RES;
    /* Check every input before writing anything: readable, not too large, and
     * (unless --force) no previous run overwritten. */
    for (size_t i = 0; i < n && cella_ok(r); i++) {
        if (cella_ok(r = join(src, sizeof src, d->original, files[i], "")))
            r = check_source(src);
        if (cella_ok(r) && !force && cella_ok(r = join(enc, sizeof enc, d->encrypted, files[i], ".enc")) &&
            access(enc, F_OK) == 0)
            r = cella_fail(CELLA_E_EXISTS, enc, "already encrypted (use --force to replace)");
        if (cella_ok(r) && !force && cella_ok(r = join(kf, sizeof kf, d->keys, files[i], ".key")) &&
            access(kf, F_OK) == 0)
            r = cella_fail(CELLA_E_EXISTS, kf, "key already exists (use --force to replace)");
    }
    if (cella_ok(r))
        r = join(last, sizeof last, d->keys, "dataset", ".key");
    for (size_t i = 0; i < n && cella_ok(r); i++) {
        CELLA_KEY32(key);
        char sum[CELLA_IEXEC_CHECKSUM_LEN];
        CELLA_GUARD(r, join(src, sizeof src, d->original, files[i], ""), done);
        CELLA_GUARD(r, join(enc, sizeof enc, d->encrypted, files[i], ".enc"), done);
        CELLA_GUARD(r, join(kf, sizeof kf, d->keys, files[i], ".key"), done);
        CELLA_GUARD(r, cella_random(key.b, sizeof key.b), done);
        /* The key is saved just before the .enc appears: never one without the other. */
        CELLA_GUARD(r, cella_iexec_dataset_encrypt_file(src, enc, key.b, kf, force, sum), done);
        CELLA_GUARD(r, cella_iexec_key_save(last, key.b, false), done);
        printf("%s %s\n", enc, sum);
        fflush(stdout);
    }
done:
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    if (cella_ok(r))
        fprintf(stderr,
                "cella: encrypted datasets are in %s, their keys in %s (back them up)\n",
                d->encrypted, d->keys);
    return r;
}

static cella_res encrypt_volume(const dataset_dirs *d, const char *name)
{
    CELLA_ENSURE(name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."),
                 CELLA_E_USAGE, "--name", "not usable as a file name");
    CELLA_TRY(require_dir(d->original));
    CELLA_TRY(cella_iexec_mkdirs(d->encrypted, 0755));
    CELLA_TRY(cella_iexec_mkdirs(d->keys, 0700));
    char vol[4096], kf[4096];
    CELLA_TRY(join(vol, sizeof vol, d->encrypted, name, ".volume"));
    CELLA_TRY(join(kf, sizeof kf, d->keys, "dataset", ".volume.key"));
    cli_progress p;
    cli_progress_init(&p, "encrypting");
    cella_vol_opts vo = {0};
    vo.progress = cli_progress_update;
    vo.progress_ctx = &p;
    uint8_t tag[CELLA_VOL_TAG_BYTES];
    bool created = false;
    cella_res r = cella_vol_encrypt_keyfile(d->original, vol, kf, &vo, tag, &created);
    cli_progress_end(&p);
    CELLA_TRY(r);
    if (created)
        fprintf(stderr, "cella: created key file %s (mode 0600)\n", kf);
    char hex[2 * CELLA_VOL_TAG_BYTES + 1];
    cella_hex_encode(hex, tag, sizeof tag, false);
    printf("%s %s\n", vol, hex);
    return CELLA_OK_RES;
}

static int dataset_encrypt(int argc, char **argv)
{
    cli_opt o[] = {DIR_OPTS, {"format", true, NULL}, {"force", false, NULL}, {"name", true, NULL}};
    const int n = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    dataset_dirs d;
    cella_res r = cli_parse(argc, argv, o, n, pos, 0, &np, "dataset encrypt");
    if (cella_ok(r))
        r = get_dirs(o, n, &d);
    if (cella_ok(r))
        r = cella_stage_trap_signals();
    if (!cella_ok(r))
        return cli_report(r);
    const char *fmt = cli_get(o, n, "format");
    if (fmt && !strcmp(fmt, "iexec")) {
        if (cli_get(o, n, "name"))
            return cli_report(cella_fail(CELLA_E_USAGE, "--name", "only for cella volumes"));
        r = encrypt_iexec(&d, cli_get(o, n, "force") != NULL);
    } else if (!fmt || !strcmp(fmt, "cella") || !strcmp(fmt, "volume")) {
        const char *name = cli_get(o, n, "name");
        r = encrypt_volume(&d, name ? name : "dataset");
    } else {
        r = cella_fail(CELLA_E_USAGE, "--format", "unknown format '%s' (iexec or volume)", fmt);
    }
    return cli_report(r);
}

static int dataset_decrypt(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL},
                   {"output", true, NULL},
                   {"checksum", true, NULL},
                   {"force", false, NULL}};
    const int n = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, n, pos, 1, &np, "dataset decrypt");
    if (cella_ok(r) && (np != 1 || !cli_get(o, n, "key-file") || !cli_get(o, n, "output")))
        r = cella_fail(CELLA_E_USAGE, "dataset decrypt",
                       "usage: cella dataset decrypt FILE.enc --key-file KEY -o OUT");
    CELLA_KEY32(key);
    bool loose = false;
    if (cella_ok(r))
        r = cella_stage_trap_signals();
    if (cella_ok(r))
        r = cella_iexec_key_load(cli_get(o, n, "key-file"), key.b, &loose);
    if (cella_ok(r) && loose)
        cella_warn("key file %s is readable by others (chmod 600 it)", cli_get(o, n, "key-file"));
    if (cella_ok(r))
        r = cella_iexec_dataset_decrypt_file(pos[0], cli_get(o, n, "output"), key.b,
                                             cli_get(o, n, "checksum"),
                                             cli_get(o, n, "force") != NULL);
    return cli_report(r);
}

const cli_command cli_dataset_commands[] = {
    {"dataset", "init", dataset_init,
     "cella dataset init [--encrypted] [--original-dir D] [--encrypted-dir D] [--secrets-dir D]",
     "Create the SDK's dataset folders: datasets/original, datasets/encrypted and "
     ".secrets/datasets (mode 0700)."},
    {"dataset", "encrypt", dataset_encrypt,
     "cella dataset encrypt [--format iexec|volume] [--original-dir D] [--encrypted-dir D] "
     "[--secrets-dir D] [--name N] [--force]",
     "--format iexec: encrypt each file of datasets/original like the iExec SDK into "
     "datasets/encrypted/<file>.enc (IV || AES-256-CBC) with a key in .secrets/datasets/"
     "<file>.key (base64, 0600; also dataset.key), printing each file and its checksum. "
     "Default: one cella volume datasets/encrypted/<name>.volume keyed by "
     ".secrets/datasets/dataset.volume.key, printing its tag. SDK option names "
     "(--original-dataset-dir, --encrypted-dataset-dir, --dataset-keystoredir) work too."},
    {"dataset", "decrypt", dataset_decrypt,
     "cella dataset decrypt FILE.enc --key-file KEY -o OUT [--checksum 0xSHA256] [--force]",
     "Decrypt an iExec-format dataset; with --checksum the file must hash to it first. "
     "Nothing is written unless the whole file decrypts."},
    {NULL, NULL, NULL, NULL, NULL},
};
