/* Unit tests for image bundles in lib/app: the manifest's "image" object
 * (every refusal names its field), loading (rootfs/, links only there, no
 * setuid bits), the v2 measurement (stable, sensitive), and pack/unpack of
 * image bundles (links carried, never followed; round trip measures the
 * same). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "testutil.h"

#define LIMITS "\"heap_mb\": 64, \"stack_kb\": 8192, \"env\": [], \"host_files\": [], " \
               "\"runtime\": \"cella-runtime-1\""
#define IMAGE_FMT                                                                              \
    "{" LIMITS ", \"image\": {\"entrypoint\": [%s], \"cmd\": [%s], \"env\": [%s], "           \
    "\"working_dir\": \"%s\", \"user\": \"%s\"}}"

static void link_at(const char *root, const char *rel, const char *target)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    unlink(p);
    assert_int_equal(symlink(target, p), 0);
}

static void image_manifest(const char *d, const char *cmd)
{
    char m[4096];
    snprintf(m, sizeof m, IMAGE_FMT, "\"/bin/app\"", cmd, "\"PATH=/bin\", \"HOME=/root\"",
             "/app", "1000:1000");
    test_put_file(d, CELLA_APP_MANIFEST, m, 0644);
}

/* An image bundle: rootfs with bin/app, a link, an empty dir, a 0600 file. */
static char *make_image(bool reverse)
{
    char *d = test_tmpdir();
    char p[4096];
    if (reverse) {
        snprintf(p, sizeof p, "%s/rootfs", d);
        mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/rootfs/tmp", d);
        mkdir(p, 0777);
        chmod(p, 0777);
        test_put_file(d, "rootfs/etc/secret", "s\n", 0600);
        test_put_file(d, "rootfs/bin/app", "#!/bin/sh\n", 0755);
        link_at(d, "rootfs/bin/sh", "/bin/app");
        image_manifest(d, "\"-v\"");
    } else {
        image_manifest(d, "\"-v\"");
        test_put_file(d, "rootfs/bin/app", "#!/bin/sh\n", 0755);
        link_at(d, "rootfs/bin/sh", "/bin/app");
        test_put_file(d, "rootfs/etc/secret", "s\n", 0600);
        snprintf(p, sizeof p, "%s/rootfs/tmp", d);
        mkdir(p, 0777);
        chmod(p, 0777);
        snprintf(p, sizeof p, "%s/rootfs", d);
        chmod(p, 0755);
    }
    snprintf(p, sizeof p, "%s/rootfs", d);
    chmod(p, 0755);
    return d;
}

static void image_manifest_parsed(void **state)
{
    (void)state;
    char j[4096];
    snprintf(j, sizeof j, IMAGE_FMT, "\"/usr/bin/python3\", \"/app/app.py\"", "\"--verbose\"",
             "\"PATH=/usr/bin\", \"A=\", \"HOME=/root\"", "/", "0:0");
    cella_app_manifest m;
    assert_succeeds(cella_app_manifest_parse(cella_slice_of(j, strlen(j)), &m));
    assert_null(m.entrypoint);
    assert_non_null(m.image);
    assert_int_equal(m.image->nentrypoint, 2);
    assert_string_equal(m.image->entrypoint[1], "/app/app.py");
    assert_int_equal(m.image->ncmd, 1);
    assert_int_equal(m.image->nenv, 3);
    assert_string_equal(m.image->env[1], "A="); /* the image's order, not sorted */
    assert_string_equal(m.image->working_dir, "/");
    assert_int_equal(m.image->uid, 0);
    cella_app_manifest_free(&m);
}

static void image_manifest_refused(void **state)
{
    (void)state;
    struct {
        const char *ep, *cmd, *env, *wd, *user, *field;
    } v[] = {
        {"1", "", "", "/", "0:0", "image.entrypoint[0]"},
        {"", "\"a\", 2", "", "/", "0:0", "image.cmd[1]"},
        {"", "", "\"NOEQ\"", "/", "0:0", "image.env[0]"},
        {"", "", "\"A=1\", \"=x\"", "/", "0:0", "image.env[1]"},
        {"", "", "\"1A=x\"", "/", "0:0", "image.env[0]"},
        {"", "", "", "app", "0:0", "image.working_dir"},
        {"", "", "", "/a/../b", "0:0", "image.working_dir"},
        {"", "", "", "/a/", "0:0", "image.working_dir"},
        {"", "", "", "/", "root", "image.user"},
        {"", "", "", "/", "0", "image.user"},
        {"", "", "", "/", "0:", "image.user"},
        {"", "", "", "/", "01:0", "image.user"},
        {"", "", "", "/", "4294967295:0", "image.user"},
        {"", "", "", "/", "0:0:0", "image.user"},
        {"", "", "", "/", "-1:0", "image.user"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char j[4096];
        snprintf(j, sizeof j, IMAGE_FMT, v[i].ep, v[i].cmd, v[i].env, v[i].wd, v[i].user);
        cella_app_manifest m;
        cella_res r = cella_app_manifest_parse(cella_slice_of(j, strlen(j)), &m);
        if (cella_ok(r) || !strstr(cella_error_where(), v[i].field))
            fail_msg("case %zu (%s): got %s '%s' (%s)", i, v[i].field, cella_code_str(r.code),
                     cella_error_what(), cella_error_where());
    }
    struct {
        const char *json, *where;
    } w[] = {
        /* entrypoint/args belong to directory bundles */
        {"{" LIMITS ", \"entrypoint\": \"x\", \"image\": {}}", "cella-app.json: entrypoint"},
        {"{" LIMITS ", \"args\": [], \"image\": {}}", "cella-app.json: args"},
        /* ... and are required without an image */
        {"{" LIMITS "}", "cella-app.json: entrypoint"},
        {"{" LIMITS ", \"image\": []}", "cella-app.json: image"},
        {"{" LIMITS ", \"image\": {\"entrypoint\": [], \"env\": [], \"working_dir\": \"/\", "
         "\"user\": \"0:0\"}}",
         "cella-app.json: image.cmd"},
        {"{" LIMITS ", \"image\": {\"entrypoint\": [], \"cmd\": [], \"env\": [], "
         "\"working_dir\": \"/\", \"user\": \"0:0\", \"volumes\": []}}",
         "cella-app.json: image.volumes"},
        {"{" LIMITS ", \"image\": {\"entrypoint\": [], \"cmd\": \"sh\", \"env\": [], "
         "\"working_dir\": \"/\", \"user\": \"0:0\"}}",
         "cella-app.json: image.cmd"},
        {"{" LIMITS ", \"image\": {\"entrypoint\": [], \"cmd\": [], \"env\": [], "
         "\"working_dir\": \"/\", \"user\": 0}}",
         "cella-app.json: image.user"},
    };
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
        cella_app_manifest m;
        cella_res r = cella_app_manifest_parse(cella_slice_of(w[i].json, strlen(w[i].json)), &m);
        if (r.code != CELLA_E_PARSE || strcmp(cella_error_where(), w[i].where) != 0)
            fail_msg("json case %zu: got %s '%s' (%s), expected (%s)", i,
                     cella_code_str(r.code), cella_error_what(), cella_error_where(),
                     w[i].where);
    }
}

static void image_bundle_loaded(void **state)
{
    (void)state;
    char *d = make_image(false);
    char p[4096];
    cella_app_manifest m;
    uint8_t out[32];
    assert_succeeds(cella_app_load(d, &m));
    assert_non_null(m.image);
    assert_int_equal(m.image->uid, 1000);
    cella_app_manifest_free(&m);
    /* A link outside rootfs/ (top level or elsewhere) is refused. */
    link_at(d, "other", "rootfs");
    assert_fails_with(cella_app_load(d, &m), CELLA_E_PATH);
    assert_string_equal(cella_error_where(), "other");
    unlink(strcat(strcpy(p, d), "/other"));
    /* Nothing but the manifest and rootfs/ at the top. */
    test_put_file(d, "extra", "x", 0644);
    assert_fails_with(cella_app_load(d, &m), CELLA_E_PARSE);
    assert_string_equal(cella_error_where(), "extra");
    unlink(strcat(strcpy(p, d), "/extra"));
    /* No setuid/setgid/sticky bits in an image. */
    snprintf(p, sizeof p, "%s/rootfs/bin/app", d);
    assert_int_equal(chmod(p, 04755), 0);
    assert_fails_with(cella_app_measure(d, out), CELLA_E_PERM);
    assert_string_equal(cella_error_where(), "rootfs/bin/app");
    chmod(p, 0755);
    snprintf(p, sizeof p, "%s/rootfs/tmp", d);
    assert_int_equal(chmod(p, 01777), 0);
    assert_fails_with(cella_app_measure(d, out), CELLA_E_PERM);
    assert_string_equal(cella_error_where(), "rootfs/tmp");
    chmod(p, 0777);
    /* A FIFO is refused, naming it. */
    snprintf(p, sizeof p, "%s/rootfs/fifo", d);
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_fails_with(cella_app_measure(d, out), CELLA_E_PATH);
    assert_string_equal(cella_error_where(), "rootfs/fifo");
    unlink(p);
    assert_succeeds(cella_app_measure(d, out));
    /* rootfs/ missing, or not a directory. */
    char rf[4096], moved[4096];
    snprintf(rf, sizeof rf, "%s/rootfs", d);
    snprintf(moved, sizeof moved, "%s.moved", d);
    assert_int_equal(rename(rf, moved), 0);
    assert_fails_with(cella_app_load(d, &m), CELLA_E_NOTFOUND);
    test_put_file(d, "rootfs", "file", 0644);
    assert_fails_with(cella_app_load(d, &m), CELLA_E_PARSE);
    assert_string_equal(cella_error_where(), "rootfs");
    unlink(rf);
    assert_int_equal(rename(moved, rf), 0);
    test_rmdir(d);
    /* A directory bundle still refuses links, rootfs/ or not. */
    d = test_tmpdir();
    test_put_file(d, CELLA_APP_MANIFEST,
        "{\"entrypoint\": \"x\", \"args\": [], " LIMITS "}", 0644);
    test_put_file(d, "x", "#!/bin/sh\n", 0755);
    snprintf(p, sizeof p, "%s/rootfs", d);
    mkdir(p, 0755);
    link_at(d, "rootfs/l", "/x");
    assert_fails_with(cella_app_load(d, &m), CELLA_E_PATH);
    assert_string_equal(cella_error_where(), "rootfs/l");
    test_rmdir(d);
}

static void measure_ok(const char *d, uint8_t out[32])
{
    assert_succeeds(cella_app_measure(d, out));
}

static void expect_changed(const char *d, const uint8_t base[32], const char *what)
{
    uint8_t m[32];
    measure_ok(d, m);
    if (!memcmp(m, base, 32))
        fail_msg("measurement unchanged after: %s", what);
}

static void image_measurement(void **state)
{
    (void)state;
    char *a = make_image(false), *b = make_image(true);
    uint8_t ma[32], mb[32];
    measure_ok(a, ma);
    measure_ok(b, mb);
    /* creation order, mtimes and inode order do not matter */
    assert_memory_equal(ma, mb, 32);
    char p[4096];
    /* each change alone changes the measurement, and undoing it restores it */
    test_put_file(a, "rootfs/bin/app", "#!/bin/sh \n", 0755);
    expect_changed(a, ma, "one byte of a file");
    test_put_file(a, "rootfs/bin/app", "#!/bin/sh\n", 0755);
    measure_ok(a, mb);
    assert_memory_equal(ma, mb, 32);
    test_put_file(a, "rootfs/etc/secret", "s\n", 0640);
    expect_changed(a, ma, "a group read bit");
    test_put_file(a, "rootfs/etc/secret", "s\n", 0600);
    link_at(a, "rootfs/bin/sh", "/bin/app2");
    expect_changed(a, ma, "a link target");
    link_at(a, "rootfs/bin/sh", "/bin/app");
    snprintf(p, sizeof p, "%s/rootfs/tmp", a);
    chmod(p, 0755);
    expect_changed(a, ma, "a directory mode");
    chmod(p, 0777);
    snprintf(p, sizeof p, "%s/rootfs/tmp/new", a);
    mkdir(p, 0755);
    expect_changed(a, ma, "an empty directory");
    rmdir(p);
    image_manifest(a, "\"-q\"");
    expect_changed(a, ma, "the image cmd");
    image_manifest(a, "\"-v\"");
    measure_ok(a, mb);
    assert_memory_equal(ma, mb, 32);
    test_rmdir(a);
    test_rmdir(b);
}

static void image_pack_round_trip(void **state)
{
    (void)state;
    char *a = make_image(false), *b = make_image(true), *o = test_tmpdir();
    char t1[4200], t2[4200], u[4200];
    snprintf(t1, sizeof t1, "%s/1.tar", o);
    snprintf(t2, sizeof t2, "%s/2.tar", o);
    snprintf(u, sizeof u, "%s/unpacked", o);
    uint8_t c1[32], c2[32], m1[32], m2[32];
    assert_succeeds(cella_app_pack(a, t1, c1));
    assert_succeeds(cella_app_pack(b, t2, c2));
    assert_memory_equal(c1, c2, 32); /* deterministic */
    mode_t old = umask(077);         /* modes come from the archive, not the umask */
    cella_res r = cella_app_unpack(t1, u);
    umask(old);
    assert_succeeds(r);
    measure_ok(a, m1);
    measure_ok(u, m2);
    assert_memory_equal(m1, m2, 32);
    char p[4300], target[64];
    snprintf(p, sizeof p, "%s/rootfs/bin/sh", u);
    ssize_t n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "/bin/app");
    test_rmdir(a);
    test_rmdir(b);
    test_rmdir(o);
}

/* ---- hostile image tarballs ------------------------------------------------------------- */

typedef struct {
    const char *path;
    mode_t type;
    const char *content;
    const char *link;
} tentry;

static void write_tar(const char *path, const tentry *e, size_t n)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].path);
        archive_entry_set_filetype(ae, e[i].type);
        archive_entry_set_perm(ae, 0755);
        size_t len = e[i].content ? strlen(e[i].content) : 0;
        archive_entry_set_size(ae, e[i].type == AE_IFREG ? (int64_t)len : 0);
        if (e[i].link && e[i].type == AE_IFLNK)
            archive_entry_set_symlink(ae, e[i].link);
        else if (e[i].link)
            archive_entry_set_hardlink(ae, e[i].link);
        assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
        if (len)
            archive_write_data(a, e[i].content, len);
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static void image_unpack_hostile(void **state)
{
    (void)state;
    char *o = test_tmpdir();
    char mf[4096];
    snprintf(mf, sizeof mf, IMAGE_FMT, "\"/x\"", "", "", "/", "0:0");
    char outside[4200];
    snprintf(outside, sizeof outside, "%s/escaped", o);
    mkdir(outside, 0755);
    struct {
        const char *what;
        tentry e[4];
        size_t n;
        cella_code code;
        const char *where;
    } v[] = {
        {"a link outside rootfs/", {{"cella-app.json", AE_IFREG, mf, NULL},
                                    {"rootfs", AE_IFDIR, NULL, NULL},
                                    {"lnk", AE_IFLNK, NULL, "rootfs"}}, 3, CELLA_E_PATH, "lnk"},
        /* a file written through a link in rootfs/ would land outside */
        {"a path through a link", {{"cella-app.json", AE_IFREG, mf, NULL},
                                   {"rootfs/esc", AE_IFLNK, NULL, outside},
                                   {"rootfs/esc/pwned", AE_IFREG, "x", NULL}}, 3, CELLA_E_PATH,
         "rootfs/esc/pwned"},
        {"a link replacing a file", {{"cella-app.json", AE_IFREG, mf, NULL},
                                     {"rootfs/a", AE_IFREG, "x", NULL},
                                     {"rootfs/a", AE_IFLNK, NULL, "/etc/passwd"}}, 3,
         CELLA_E_EXISTS, "rootfs/a"},
        {"a hard link", {{"cella-app.json", AE_IFREG, mf, NULL},
                         {"rootfs/a", AE_IFREG, "x", NULL},
                         {"rootfs/b", AE_IFREG, NULL, "rootfs/a"}}, 3, CELLA_E_PATH, "rootfs/b"},
        {"a link in a directory bundle", {{"cella-app.json", AE_IFREG,
                                           "{\"entrypoint\": \"x\", \"args\": [], " LIMITS "}",
                                           NULL},
                                          {"x", AE_IFREG, "#!/bin/sh\n", NULL},
                                          {"rootfs/l", AE_IFLNK, NULL, "/x"}}, 3, CELLA_E_PATH,
         "rootfs/l"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char t[4200], u[4200];
        snprintf(t, sizeof t, "%s/h%zu.tar", o, i);
        snprintf(u, sizeof u, "%s/u%zu", o, i);
        write_tar(t, v[i].e, v[i].n);
        cella_res r = cella_app_unpack(t, u);
        if (r.code != v[i].code || strcmp(cella_error_where(), v[i].where) != 0)
            fail_msg("%s: got %s '%s' (%s)", v[i].what, cella_code_str(r.code),
                     cella_error_what(), cella_error_where());
        struct stat st;
        if (lstat(u, &st) == 0)
            fail_msg("%s: destination left behind", v[i].what);
        char pw[4300];
        snprintf(pw, sizeof pw, "%s/pwned", outside);
        if (lstat(pw, &st) == 0)
            fail_msg("%s: wrote outside the destination", v[i].what);
    }
    test_rmdir(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(image_manifest_parsed), cmocka_unit_test(image_manifest_refused),
        cmocka_unit_test(image_bundle_loaded),   cmocka_unit_test(image_measurement),
        cmocka_unit_test(image_pack_round_trip), cmocka_unit_test(image_unpack_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
