/* Unit tests for lib/app: manifest validation (with the field named in every
 * refusal), measurement stability and sensitivity, deterministic packing, and
 * unpacking of hostile tarballs. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/archive_lib.h"
#include "core/fs.h"
#include "testutil.h"

#define MANIFEST_FMT                                                                           \
    "{\"entrypoint\": \"%s\", \"args\": [%s], \"heap_mb\": %d, \"stack_kb\": %d, "            \
    "\"env\": [%s], \"host_files\": [%s], \"runtime\": \"cella-runtime-1\"}"

static void manifest(const char *root, const char *ep, const char *args, int heap, int stack,
                     const char *env, const char *host)
{
    char m[4096];
    snprintf(m, sizeof m, MANIFEST_FMT, ep, args, heap, stack, env, host);
    test_put_file(root, CELLA_APP_MANIFEST, m, 0644);
}

/* A bundle: bin/copy (exec), lib/data.txt, share/doc/readme, an empty dir. */
static char *make_bundle(bool reverse)
{
    char *d = test_tmpdir();
    if (reverse) { /* another creation order, another mtime */
        char p[4096];
        snprintf(p, sizeof p, "%s/empty", d);
        mkdir(p, 0700);
        test_put_file(d, "share/doc/readme", "read me\n", 0600);
        test_put_file(d, "lib/data.txt", "data\n", 0664);
        test_put_file(d, "bin/copy", "#!/bin/sh\nexit 0\n", 0700);
        manifest(d, "bin/copy", "\"-v\"", 64, 8192, "\"IN\", \"OUT\"", "\"/etc/hosts\"");
    } else {
        manifest(d, "bin/copy", "\"-v\"", 64, 8192, "\"IN\", \"OUT\"", "\"/etc/hosts\"");
        test_put_file(d, "bin/copy", "#!/bin/sh\nexit 0\n", 0755);
        test_put_file(d, "lib/data.txt", "data\n", 0644);
        test_put_file(d, "share/doc/readme", "read me\n", 0644);
        char p[4096];
        snprintf(p, sizeof p, "%s/empty", d);
        mkdir(p, 0755);
        struct timespec ts[2] = {{1000, 0}, {1000, 0}};
        snprintf(p, sizeof p, "%s/lib/data.txt", d);
        utimensat(AT_FDCWD, p, ts, 0);
    }
    return d;
}

static void measure(const char *d, uint8_t out[32])
{
    assert_succeeds(cella_app_measure(d, out));
}

static void measurement_stable(void **state)
{
    (void)state;
    char *a = make_bundle(false), *b = make_bundle(true);
    uint8_t m1[32], m2[32], m3[32];
    measure(a, m1);
    measure(a, m2);
    measure(b, m3);
    assert_memory_equal(m1, m2, 32);
    /* Other order, mtimes, group/other bits and env order: the same measurement. */
    assert_memory_equal(m1, m3, 32);
    test_rmdir(a);
    test_rmdir(b);
}

static void expect_changed(const char *d, const uint8_t base[32], const char *what)
{
    uint8_t m[32];
    measure(d, m);
    if (!memcmp(m, base, 32))
        fail_msg("measurement did not change: %s", what);
}

static void measurement_sensitive(void **state)
{
    (void)state;
    char *d = make_bundle(false);
    uint8_t base[32];
    measure(d, base);
    char p[4096];

    test_put_file(d, "lib/data.txt", "dato\n", 0644);
    expect_changed(d, base, "one byte of a file");
    test_put_file(d, "lib/data.txt", "data\n", 0644);

    test_put_file(d, "lib/data.txt", "data\n", 0755);
    expect_changed(d, base, "execute bit");
    test_put_file(d, "lib/data.txt", "data\n", 0644);

    test_put_file(d, "lib/data.txt", "data\n\n", 0644);
    expect_changed(d, base, "size");
    test_put_file(d, "lib/data.txt", "data\n", 0644);

    test_put_file(d, "lib/extra", "", 0644);
    expect_changed(d, base, "a new empty file");
    snprintf(p, sizeof p, "%s/lib/extra", d);
    unlink(p);

    snprintf(p, sizeof p, "%s/empty2", d);
    mkdir(p, 0755);
    expect_changed(d, base, "a new empty directory");
    rmdir(p);

    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/lib/data.txt", d);
    snprintf(to, sizeof to, "%s/lib/data.tx", d);
    assert_int_equal(rename(from, to), 0);
    expect_changed(d, base, "a renamed file");
    assert_int_equal(rename(to, from), 0);

    uint8_t again[32];
    measure(d, again);
    assert_memory_equal(again, base, 32);

    struct {
        const char *ep, *args, *env, *host;
        int heap, stack;
        const char *what;
    } v[] = {
        {"bin/copy", "\"-w\"", "\"IN\", \"OUT\"", "\"/etc/hosts\"", 64, 8192, "args"},
        {"bin/copy", "\"-v\", \"\"", "\"IN\", \"OUT\"", "\"/etc/hosts\"", 64, 8192, "args count"},
        {"bin/copy", "\"-v\"", "\"IN\", \"OUT\"", "\"/etc/hosts\"", 65, 8192, "heap_mb"},
        {"bin/copy", "\"-v\"", "\"IN\", \"OUT\"", "\"/etc/hosts\"", 64, 8193, "stack_kb"},
        {"bin/copy", "\"-v\"", "\"IN\"", "\"/etc/hosts\"", 64, 8192, "env"},
        {"bin/copy", "\"-v\"", "\"IN\", \"OUT\"", "", 64, 8192, "host_files"},
        {"bin/copy2", "\"-v\"", "\"IN\", \"OUT\"", "\"/etc/hosts\"", 64, 8192, "entrypoint"},
    };
    test_put_file(d, "bin/copy2", "#!/bin/sh\nexit 0\n", 0755);
    manifest(d, "bin/copy", "\"-v\"", 64, 8192, "\"IN\", \"OUT\"", "\"/etc/hosts\"");
    uint8_t base2[32];
    measure(d, base2);
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        manifest(d, v[i].ep, v[i].args, v[i].heap, v[i].stack, v[i].env, v[i].host);
        expect_changed(d, base2, v[i].what);
    }
    test_rmdir(d);
}

static void manifest_refused(void **state)
{
    (void)state;
    struct {
        const char *json, *field;
        cella_code code;
    } bad[] = {
        {"[]", "cella-app.json", CELLA_E_PARSE},
        {"{", "cella-app.json", CELLA_E_PARSE},
        {"{\"entrypoint\":\"a\",\"entrypoint\":\"b\"}", "cella-app.json", CELLA_E_PARSE},
        {"{\"entrypoint\":\"a\"}", "args", CELLA_E_PARSE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cella_app_manifest m;
        assert_fails_with(cella_app_manifest_parse(cella_slice_of(bad[i].json, strlen(bad[i].json)),
                                                   &m),
                          bad[i].code);
        if (!strstr(cella_error_where(), bad[i].field))
            fail_msg("case %zu: where '%s' does not name '%s'", i, cella_error_where(),
                     bad[i].field);
    }
    /* One field at a time on an otherwise good manifest. */
    struct {
        const char *ep, *args, *env, *host;
        int heap, stack;
        const char *field;
        cella_code code;
    } v[] = {
        {"/bin/sh", "", "", "", 1, 64, "entrypoint", CELLA_E_PATH},
        {"../x", "", "", "", 1, 64, "entrypoint", CELLA_E_PATH},
        {"a/../x", "", "", "", 1, 64, "entrypoint", CELLA_E_PATH},
        {"a//x", "", "", "", 1, 64, "entrypoint", CELLA_E_PATH},
        {"./x", "", "", "", 1, 64, "entrypoint", CELLA_E_PATH},
        {"", "", "", "", 1, 64, "entrypoint", CELLA_E_PATH},
        {"cella-app.json", "", "", "", 1, 64, "entrypoint", CELLA_E_PARSE},
        {"x", "1", "", "", 1, 64, "args[0]", CELLA_E_PARSE},
        {"x", "\"a\\u0000b\"", "", "", 1, 64, "cella-app.json", CELLA_E_PARSE}, /* jansson */
        {"x", "", "", "", 0, 64, "heap_mb", CELLA_E_PARSE},
        {"x", "", "", "", 65537, 64, "heap_mb", CELLA_E_PARSE},
        {"x", "", "", "", 1, 63, "stack_kb", CELLA_E_PARSE},
        {"x", "", "\"1A\"", "", 1, 64, "env", CELLA_E_PARSE},
        {"x", "", "\"A=B\"", "", 1, 64, "env", CELLA_E_PARSE},
        {"x", "", "\"A\", \"A\"", "", 1, 64, "env", CELLA_E_PARSE},
        {"x", "", "", "\"etc/hosts\"", 1, 64, "host_files", CELLA_E_PATH},
        {"x", "", "", "\"/etc/../shadow\"", 1, 64, "host_files", CELLA_E_PATH},
        {"x", "", "", "\"/\"", 1, 64, "host_files", CELLA_E_PATH},
        {"x", "", "", "\"/a\", \"/a\"", 1, 64, "host_files", CELLA_E_PARSE},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char j[4096];
        snprintf(j, sizeof j, MANIFEST_FMT, v[i].ep, v[i].args, v[i].heap, v[i].stack, v[i].env,
                 v[i].host);
        cella_app_manifest m;
        cella_res r = cella_app_manifest_parse(cella_slice_of(j, strlen(j)), &m);
        if (r.code != v[i].code || !strstr(cella_error_where(), v[i].field))
            fail_msg("case %zu (%s): got %s '%s' (%s)", i, v[i].field, cella_code_str(r.code),
                     cella_error_what(), cella_error_where());
    }
    const char *extra = "{\"entrypoint\":\"x\",\"args\":[],\"heap_mb\":1,\"stack_kb\":64,"
                        "\"env\":[],\"host_files\":[],\"runtime\":\"cella-runtime-1\","
                        "\"network\":true}";
    cella_app_manifest m;
    assert_fails_with(cella_app_manifest_parse(cella_slice_of(extra, strlen(extra)), &m),
                      CELLA_E_PARSE);
    assert_non_null(strstr(cella_error_where(), "network"));
    const char *rt = "{\"entrypoint\":\"x\",\"args\":[],\"heap_mb\":1,\"stack_kb\":64,"
                     "\"env\":[],\"host_files\":[],\"runtime\":\"cella-runtime-9\"}";
    assert_fails_with(cella_app_manifest_parse(cella_slice_of(rt, strlen(rt)), &m),
                      CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_where(), "runtime"));
    const char *heapf = "{\"entrypoint\":\"x\",\"args\":[],\"heap_mb\":1.0,\"stack_kb\":64,"
                        "\"env\":[],\"host_files\":[],\"runtime\":\"cella-runtime-1\"}";
    assert_fails_with(cella_app_manifest_parse(cella_slice_of(heapf, strlen(heapf)), &m),
                      CELLA_E_PARSE);
    assert_non_null(strstr(cella_error_where(), "heap_mb"));
    /* A good one, with env and host files sorted. */
    const char *good = "{\"entrypoint\":\"bin/x\",\"args\":[\"a\"],\"heap_mb\":1,"
                       "\"stack_kb\":64,\"env\":[\"Z\",\"A_1\"],\"host_files\":[\"/z\",\"/a/b\"],"
                       "\"runtime\":\"cella-runtime-1\"}";
    assert_succeeds(cella_app_manifest_parse(cella_slice_of(good, strlen(good)), &m));
    assert_string_equal(m.env[0], "A_1");
    assert_string_equal(m.host_files[0], "/a/b");
    cella_app_manifest_free(&m);
}

static void bundle_refused(void **state)
{
    (void)state;
    char *d = make_bundle(false);
    char p[4096];
    uint8_t out[32];
    cella_app_manifest m;
    assert_succeeds(cella_app_load(d, &m));
    assert_string_equal(m.entrypoint, "bin/copy");
    cella_app_manifest_free(&m);

    snprintf(p, sizeof p, "%s/lib/link", d);
    assert_int_equal(symlink("../bin/copy", p), 0);
    assert_fails_with(cella_app_measure(d, out), CELLA_E_PATH);
    assert_string_equal(cella_error_where(), "lib/link");
    unlink(p);

    snprintf(p, sizeof p, "%s/fifo", d);
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_fails_with(cella_app_measure(d, out), CELLA_E_PATH);
    unlink(p);

    snprintf(p, sizeof p, "%s/bin/copy", d);
    chmod(p, 0644);
    assert_fails_with(cella_app_measure(d, out), CELLA_E_PERM);
    assert_non_null(strstr(cella_error_where(), "entrypoint"));
    chmod(p, 0755);

    manifest(d, "bin/nope", "", 1, 64, "", "");
    assert_fails_with(cella_app_measure(d, out), CELLA_E_NOTFOUND);
    manifest(d, "lib", "", 1, 64, "", "");
    assert_fails_with(cella_app_measure(d, out), CELLA_E_PARSE);

    snprintf(p, sizeof p, "%s/" CELLA_APP_MANIFEST, d);
    unlink(p);
    assert_fails_with(cella_app_measure(d, out), CELLA_E_NOTFOUND);
    assert_succeeds(cella_app_init(d));
    assert_fails_with(cella_app_init(d), CELLA_E_EXISTS);
    test_rmdir(d);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *b = NULL;
    assert_succeeds(cella_read_file(AT_FDCWD, path, 1u << 30, false, &b, n));
    return b;
}

static void pack_deterministic(void **state)
{
    (void)state;
    char *a = make_bundle(false), *b = make_bundle(true), *o = test_tmpdir();
    /* A long path needs a pax extension: it must be deterministic too. */
    char longp[400];
    memset(longp, 'n', 150);
    memcpy(longp + 150, "/", 1);
    memset(longp + 151, 'm', 150);
    longp[301] = '\0';
    test_put_file(a, longp, "long\n", 0644);
    test_put_file(b, longp, "long\n", 0600);
    char t1[4200], t2[4200], t3[4200], u[4200];
    snprintf(t1, sizeof t1, "%s/1.tar", o);
    snprintf(t2, sizeof t2, "%s/2.tar", o);
    snprintf(t3, sizeof t3, "%s/3.tar", o);
    uint8_t c1[32], c2[32], c3[32];
    assert_succeeds(cella_app_pack(a, t1, c1));
    assert_succeeds(cella_app_pack(a, t2, c2));
    assert_succeeds(cella_app_pack(b, t3, c3));
    assert_memory_equal(c1, c2, 32);
    assert_memory_equal(c1, c3, 32);
    size_t n1, n2, n3;
    uint8_t *b1 = slurp(t1, &n1), *b2 = slurp(t2, &n2), *b3 = slurp(t3, &n3);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_memory_equal(b1, b2, n1);
    assert_memory_equal(b1, b3, n1);
    free(b1);
    free(b2);
    free(b3);
    /* Round trip: the unpacked bundle measures the same. */
    snprintf(u, sizeof u, "%s/unpacked", o);
    assert_succeeds(cella_app_unpack(t1, u));
    uint8_t m1[32], m2[32];
    measure(a, m1);
    measure(u, m2);
    assert_memory_equal(m1, m2, 32);
    /* The destination must not exist. */
    assert_fails_with(cella_app_unpack(t1, u), CELLA_E_EXISTS);
    /* A packed tree without a manifest is not a bundle: nothing is left. */
    char plain[4200], tp[4200], up[4200];
    snprintf(plain, sizeof plain, "%s/plain", o);
    mkdir(plain, 0755);
    test_put_file(plain, "x", "x", 0644);
    snprintf(tp, sizeof tp, "%s/plain.tar", o);
    snprintf(up, sizeof up, "%s/plain-out", o);
    assert_succeeds(cella_tree_pack(plain, tp, c1));
    assert_fails_with(cella_app_unpack(tp, up), CELLA_E_NOTFOUND);
    struct stat st;
    assert_int_not_equal(lstat(up, &st), 0);
    assert_succeeds(cella_tree_unpack(tp, up, NULL));
    test_rmdir(a);
    test_rmdir(b);
    test_rmdir(o);
}

/* ---- hostile archives ---------------------------------------------------------------- */

typedef struct {
    const char *path;
    mode_t type;
    const char *content;
    const char *link; /* symlink target or hard link */
    int64_t size;     /* -1: strlen(content) */
} tentry;

static size_t build_tar(const tentry *e, size_t n, uint8_t *buf, size_t cap)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].path);
        archive_entry_set_filetype(ae, e[i].type);
        archive_entry_set_perm(ae, 0644);
        size_t len = e[i].content ? strlen(e[i].content) : 0;
        archive_entry_set_size(ae, e[i].type == AE_IFREG ? (e[i].size >= 0 ? e[i].size
                                                                          : (int64_t)len)
                                                         : 0);
        if (e[i].link && e[i].type == AE_IFLNK)
            archive_entry_set_symlink(ae, e[i].link);
        else if (e[i].link)
            archive_entry_set_hardlink(ae, e[i].link);
        assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
        if (len && e[i].type == AE_IFREG)
            archive_write_data(a, e[i].content, len);
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

static void expect_refused(const char *o, const tentry *e, size_t n, const cella_tree_limits *lim,
                           cella_code code, const char *what)
{
    static uint8_t buf[1 << 20];
    size_t len = build_tar(e, n, buf, sizeof buf);
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/out", o);
    cella_res r = cella_tree_unpack_mem(cella_slice_of(buf, len), dst, lim);
    if (r.code != code)
        fail_msg("%s: expected %s, got %s: %s (%s)", what, cella_code_str(code),
                 cella_code_str(r.code), cella_error_what(), cella_error_where());
    /* Nothing is left: no destination, no staging directory, nothing outside. */
    struct stat st;
    if (lstat(dst, &st) == 0)
        fail_msg("%s: destination left behind", what);
    char esc[4200];
    snprintf(esc, sizeof esc, "%s/escaped", o);
    if (lstat(esc, &st) == 0)
        fail_msg("%s: wrote outside the destination", what);
    int cnt = 0;
    DIR *d = opendir(o);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        cnt += de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."));
    closedir(d);
    if (cnt != 0)
        fail_msg("%s: %d leftover entries", what, cnt);
}

static void unpack_hostile(void **state)
{
    (void)state;
    char *o = test_tmpdir();
    cella_tree_limits lim = {.max_file = 100, .max_total = 150, .max_entries = 5};
    const tentry dotdot[] = {{"a", AE_IFREG, "x", NULL, -1}, {"../escaped", AE_IFREG, "x", NULL, -1}};
    expect_refused(o, dotdot, 2, &lim, CELLA_E_PATH, "'..'");
    const tentry inner[] = {{"a/../../escaped", AE_IFREG, "x", NULL, -1}};
    expect_refused(o, inner, 1, &lim, CELLA_E_PATH, "inner '..'");
    char abs[4200];
    snprintf(abs, sizeof abs, "%s/escaped", o);
    const tentry absolute[] = {{abs, AE_IFREG, "x", NULL, -1}};
    expect_refused(o, absolute, 1, &lim, CELLA_E_PATH, "absolute");
    const tentry sym[] = {{"l", AE_IFLNK, NULL, "..", -1}, {"l/escaped", AE_IFREG, "x", NULL, -1}};
    expect_refused(o, sym, 2, &lim, CELLA_E_PATH, "symlink escape");
    const tentry symin[] = {{"l", AE_IFLNK, NULL, "a", -1}};
    expect_refused(o, symin, 1, &lim, CELLA_E_PATH, "any symlink");
    const tentry hard[] = {{"h", AE_IFREG, NULL, "/etc/passwd", 0}};
    expect_refused(o, hard, 1, &lim, CELLA_E_PATH, "hard link");
    const tentry fifo[] = {{"f", AE_IFIFO, NULL, NULL, 0}};
    expect_refused(o, fifo, 1, &lim, CELLA_E_PATH, "fifo");
    const tentry dup[] = {{"a", AE_IFREG, "x", NULL, -1}, {"a", AE_IFREG, "y", NULL, -1}};
    expect_refused(o, dup, 2, &lim, CELLA_E_EXISTS, "duplicate");
    char big[200];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const tentry large[] = {{"a", AE_IFREG, big, NULL, -1}};
    expect_refused(o, large, 1, &lim, CELLA_E_TOOBIG, "oversized file");
    const tentry total[] = {{"a", AE_IFREG, big + 110, NULL, -1},
                            {"b", AE_IFREG, big + 110, NULL, -1},
                            {"c", AE_IFREG, big + 110, NULL, -1},
                            {"d", AE_IFREG, big + 110, NULL, -1}};
    expect_refused(o, total, 4, &lim, CELLA_E_TOOBIG, "oversized total");
    const tentry many[] = {{"a", AE_IFREG, "", NULL, -1}, {"b", AE_IFREG, "", NULL, -1},
                           {"c", AE_IFREG, "", NULL, -1}, {"d", AE_IFREG, "", NULL, -1},
                           {"e", AE_IFREG, "", NULL, -1}, {"f", AE_IFREG, "", NULL, -1}};
    expect_refused(o, many, 6, &lim, CELLA_E_TOOBIG, "too many entries");
    const tentry empty[] = {{"a//b", AE_IFREG, "x", NULL, -1}};
    expect_refused(o, empty, 1, &lim, CELLA_E_PATH, "empty component");
    const tentry filedir[] = {{"a", AE_IFREG, "x", NULL, -1}, {"a/b", AE_IFREG, "x", NULL, -1}};
    expect_refused(o, filedir, 2, &lim, CELLA_E_PATH, "file used as a directory");
    /* Garbage is a parse error. */
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/out", o);
    static const char junk[1024] = "this is not a tar archive";
    assert_fails_with(cella_tree_unpack_mem(cella_slice_of(junk, sizeof junk), dst, &lim),
                      CELLA_E_PARSE);
    /* A good one, with "./" prefixes and a root entry, unpacks. */
    const tentry good[] = {{"./", AE_IFDIR, NULL, NULL, 0},
                           {"./d/", AE_IFDIR, NULL, NULL, 0},
                           {"./d/f", AE_IFREG, "hello", NULL, -1}};
    static uint8_t buf[1 << 16];
    size_t len = build_tar(good, 3, buf, sizeof buf);
    assert_succeeds(cella_tree_unpack_mem(cella_slice_of(buf, len), dst, &lim));
    char f[4300];
    snprintf(f, sizeof f, "%s/d/f", dst);
    size_t n;
    uint8_t *c = slurp(f, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(c, "hello", 5);
    free(c);
    test_rmdir(o);
}

/* libarchive is loaded on first use (app/archive_lib.h): a library that is
 * missing, not a shared object, or not libarchive is refused with an error
 * naming it, and nothing is unpacked; the real one loads (unpack_hostile
 * unpacked through it). */
static void archive_lib_refused(void **state)
{
    (void)state;
    cella_archive_lib lib;
    assert_fails_with(cella_archive_lib_load("libcella-no-such-library.so.0", &lib),
                      CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "cannot load the tar library"));
    assert_string_equal(cella_error_where(), "libcella-no-such-library.so.0");
    assert_null(lib.archive_read_new);
    char *o = test_tmpdir();
    test_put_file(o, "libarchive.so.13", "not an ELF object", 0644);
    char bogus[4200];
    snprintf(bogus, sizeof bogus, "%s/libarchive.so.13", o);
    assert_fails_with(cella_archive_lib_load(bogus, &lib), CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "cannot load the tar library"));
    assert_fails_with(cella_archive_lib_load("libc.so.6", &lib), CELLA_E_UNSUPPORTED);
    assert_non_null(strstr(cella_error_what(), "has no archive_read_new"));
    assert_null(lib.archive_read_new);
    cella_error_clear();
    const cella_archive_lib *real;
    assert_succeeds(cella_archive_lib_get(&real));
    assert_ptr_equal(real->archive_read_new, archive_read_new); /* the linked copy */
    test_rmdir(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(measurement_stable),  cmocka_unit_test(measurement_sensitive),
        cmocka_unit_test(manifest_refused),    cmocka_unit_test(bundle_refused),
        cmocka_unit_test(pack_deterministic),  cmocka_unit_test(unpack_hostile),
        cmocka_unit_test(archive_lib_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
