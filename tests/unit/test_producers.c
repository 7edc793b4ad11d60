/* Evidence producers against fake Gramine and configfs-tsm trees. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "tee/producers.h"
#include "testutil.h"

static void put(const char *dir, const char *name, const void *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(data, 1, n, f);
    fclose(f);
}

static int mkdir_p(const char *path)
{
    char b[1024];
    snprintf(b, sizeof b, "%s", path);
    for (char *s = b + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(b, 0700);
            *s = '/';
        }
    return mkdir(b, 0700);
}

static void slurp(const char *path, uint8_t **d, size_t *n)
{
    assert_succeeds(cella_read_file(AT_FDCWD, path, 1 << 20, false, d, n));
}

static void gramine(void **state)
{
    (void)state;
    char *root = test_tmpdir(), dev[600];
    snprintf(dev, sizeof dev, "%s/dev/attestation", root);
    assert_int_equal(mkdir_p(dev), 0);
    uint8_t quote[600], rd[64];
    memset(quote, 0x33, sizeof quote);
    memset(rd, 0x44, sizeof rd);
    put(dev, "attestation_type", "dcap\n", 5);
    put(dev, "user_report_data", "", 0);
    put(dev, "quote", quote, sizeof quote);
    cella_buf ev;
    cella_buf_init(&ev, false);
    assert_succeeds(cella_quote_gramine(root, rd, &ev));
    assert_int_equal(ev.len, sizeof quote);
    char p[700];
    snprintf(p, sizeof p, "%s/user_report_data", dev);
    uint8_t *got;
    size_t n;
    slurp(p, &got, &n);
    assert_int_equal(n, 64);
    assert_memory_equal(got, rd, 64);
    free(got);
    cella_buf_free(&ev);
    /* not DCAP, and no Gramine at all */
    put(dev, "attestation_type", "none\n", 5);
    cella_buf_init(&ev, false);
    assert_fails_with(cella_quote_gramine(root, rd, &ev), CELLA_E_UNSUPPORTED);
    assert_fails_with(cella_quote_gramine("/nonexistent-root", rd, &ev), CELLA_E_UNSUPPORTED);
    cella_buf_free(&ev);
    test_rmdir(root);
}

static void configfs_tsm(void **state)
{
    (void)state;
    char *root = test_tmpdir(), entry[600], v[700];
    snprintf(entry, sizeof entry, "%s/report0", root);
    mkdir(entry, 0700);
    /* a real TDX quote from the vectors, as the kernel would return it */
    test_vector_path(v, sizeof v, "attestation/tdx-dcap-v4/phala_tdx_quote.bin");
    uint8_t *quote;
    size_t qn;
    slurp(v, &quote, &qn);
    put(entry, "provider", "tdx_guest\n", 10);
    put(entry, "inblob", "", 0);
    put(entry, "outblob", quote, qn);
    put(entry, "generation", "1\n", 2);
    uint8_t rd[64];
    memset(rd, 0x5a, sizeof rd);
    cella_buf ev;
    cella_buf_init(&ev, false);
    assert_succeeds(cella_quote_tsm_entry(entry, "tdx_guest", rd, &ev));
    assert_int_equal(ev.len, qn);
    assert_memory_equal(ev.p, quote, qn);
    cella_buf_free(&ev);
    cella_buf_init(&ev, false);
    /* the wrong provider (an SNP guest asked for TDX) */
    assert_fails_with(cella_quote_tsm_entry(entry, "sev_guest", rd, &ev), CELLA_E_UNSUPPORTED);
    /* no configfs-tsm: mkdir of the entry fails */
    assert_fails_with(cella_quote_tsm(root, "tdx_guest", rd, &ev), CELLA_E_UNSUPPORTED);
    cella_buf_free(&ev);
    free(quote);
    test_rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(gramine), cmocka_unit_test(configfs_tsm)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
