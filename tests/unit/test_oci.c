/* Unit tests for `cella app import` limits, on docker archives built here in
 * memory (cella_app_import_mem): the entry count, the total size reached by
 * hard-link copies (a "link bomb"), the number of layers; a refused import
 * leaves nothing. The forms, whiteouts and other refusals are in
 * tests/cli/app_import.sh. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "app/oci.h"
#include "core/encoding.h"
#include "crypto/aead.h"
#include "testutil.h"

typedef struct {
    const char *path;
    const char *data;    /* a file, or NULL */
    const char *hard;    /* a hard link's target, or NULL */
} ent;

#define CAP (1u << 20)

static size_t tar_of(struct archive *a, const char *name, const void *data, size_t n,
                     const char *hard)
{
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, name);
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, hard ? 0 : (int64_t)n);
    if (hard)
        archive_entry_set_hardlink(ae, hard);
    assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
    if (n && !hard)
        assert_int_equal(archive_write_data(a, data, n), (la_ssize_t)n);
    archive_entry_free(ae);
    return n;
}

static size_t layer(const ent *e, size_t n, uint8_t *buf)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, CAP, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++)
        tar_of(a, e[i].path, e[i].data, e[i].data ? strlen(e[i].data) : 0, e[i].hard);
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

/* A docker archive of `nl` copies of one layer. */
static size_t docker_archive(const ent *e, size_t n, size_t nl, uint8_t *out)
{
    static uint8_t lay[CAP];
    size_t ln = layer(e, n, lay);
    uint8_t sha[32];
    assert_succeeds(cella_sha256(sha, lay, ln));
    char hex[65], cfg[16384], man[16384], cname[80];
    cella_hex_encode(hex, sha, 32, false);
    size_t c = (size_t)snprintf(cfg, sizeof cfg, "{\"os\": \"linux\", \"config\": {\"Cmd\": "
                                                 "[\"/x\"]}, \"rootfs\": {\"diff_ids\": [");
    size_t m = (size_t)snprintf(man, sizeof man, "[{\"Config\": \"CFG\", \"Layers\": [");
    for (size_t i = 0; i < nl; i++) {
        c += (size_t)snprintf(cfg + c, sizeof cfg - c, "%s\"sha256:%s\"", i ? ", " : "", hex);
        m += (size_t)snprintf(man + m, sizeof man - m, "%s\"l/layer.tar\"", i ? ", " : "");
    }
    c += (size_t)snprintf(cfg + c, sizeof cfg - c, "]}}");
    uint8_t csha[32];
    assert_succeeds(cella_sha256(csha, cfg, c));
    cella_hex_encode(hex, csha, 32, false);
    snprintf(cname, sizeof cname, "%s.json", hex);
    char man2[16500];
    char *cfgpos = strstr(man, "CFG");
    *cfgpos = '\0';
    m = (size_t)snprintf(man2, sizeof man2, "%s%s%s]}]", man, cname, cfgpos + 3);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, out, 4 * CAP, &used), ARCHIVE_OK);
    tar_of(a, "manifest.json", man2, m, NULL);
    tar_of(a, cname, cfg, c, NULL);
    tar_of(a, "l/layer.tar", lay, ln, NULL);
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

static void expect(const uint8_t *img, size_t n, const cella_import_limits *lim,
                   cella_code code, const char *what)
{
    char *d = test_tmpdir();
    char out[4200];
    snprintf(out, sizeof out, "%s/b", d);
    cella_import_opts o = {.lim = *lim};
    cella_res r = cella_app_import_mem(cella_slice_of(img, n), out, &o);
    if (r.code != code || (what && !strstr(cella_error_what(), what)))
        fail_msg("expected %s '%s', got %s: %s (%s)", cella_code_str(code), what ? what : "",
                 cella_code_str(r.code), cella_error_what(), cella_error_where());
    struct stat st;
    if (!cella_ok(r) && lstat(out, &st) == 0)
        fail_msg("refused import left its destination");
    test_rmdir(d);
}

static void import_limits(void **state)
{
    (void)state;
    static uint8_t img[4 * CAP];
    cella_import_limits lim = cella_import_default_limits();
    /* a 4 KiB file and 64 hard links to it: 260 KiB once copied */
    static char big[4097];
    memset(big, 'x', 4096);
    ent e[66] = {{"f", big, NULL}};
    char names[65][16];
    for (int i = 1; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "h%d", i);
        e[i] = (ent){names[i], NULL, "f"};
    }
    size_t n = docker_archive(e, 65, 1, img);
    expect(img, n, &lim, CELLA_OK, NULL); /* within the defaults */
    cella_import_limits small = lim;
    small.max_total = 64 * 1024;
    expect(img, n, &small, CELLA_E_TOOBIG, "hard link copies above the size limit");
    small = lim;
    small.max_entries = 64;
    expect(img, n, &small, CELLA_E_TOOBIG, "more than 64 entries");
    /* layers: the same layer three times */
    n = docker_archive(e, 2, 3, img);
    small = lim;
    small.max_layers = 2;
    expect(img, n, &small, CELLA_E_TOOBIG, "more than 2 layers");
    small.max_layers = 3;
    expect(img, n, &small, CELLA_OK, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(import_limits)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
