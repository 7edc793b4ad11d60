/* The PCCS client's parsers (issuer-chain headers, the exact signed JSON text,
 * CRL bodies in any of their encodings, the cache's nextUpdate) and the
 * collateral directory lookup, on the real vectors in $CELLA_VECTORS. The
 * fetching itself runs against a mock PCCS in tests/cli/cas_evidence.sh. */
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/encoding.h"
#include "core/fs.h"
#include "evidence/collateral.h"
#include "evidence/ossl.h"
#include "evidence/pccs.h"

static cella_slice S(const char *s) { return cella_slice_of(s, strlen(s)); }

static uint8_t *load(const char *rel, size_t *n)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/attestation/%s", test_vectors_dir(), rel);
    uint8_t *p = NULL;
    assert_succeeds(cella_read_file(AT_FDCWD, path, 4u << 20, false, &p, n));
    return p;
}

static void url_decode(void **state)
{
    (void)state;
    cella_buf b;
    cella_buf_init(&b, false);
    assert_succeeds(cella_pccs_url_decode(S("-----BEGIN%20CERTIFICATE-----%0AMII%2b%2F=+x"), &b));
    assert_int_equal(b.len, strlen("-----BEGIN CERTIFICATE-----\nMII+/=+x"));
    assert_memory_equal(b.p, "-----BEGIN CERTIFICATE-----\nMII+/=+x", b.len);
    static const char *const bad[] = {"%", "%4", "abc%zz", "%00", "%0x", "%x1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cella_buf_free(&b);
        cella_buf_init(&b, false);
        assert_fails_with(cella_pccs_url_decode(S(bad[i]), &b), CELLA_E_PARSE);
    }
    cella_buf_free(&b);
}

static void json_member(void **state)
{
    (void)state;
    cella_slice v;
    /* exact bytes, whitespace and escapes inside kept, nested values skipped */
    const char *body = " { \"a\" : [1, {\"x\": \"}\"}], \"tcbInfo\" :{\"k\": \"v\\\"}\" , \"n\":[ ]} ,"
                       "\"signature\":\"ab\"}\n";
    assert_succeeds(cella_pccs_json_member(S(body), "tcbInfo", &v));
    const char *want = "{\"k\": \"v\\\"}\" , \"n\":[ ]}";
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.p, want, v.len);
    static const char *const bad[] = {
        "", "[]", "{\"tcbInfo\":1}", "{\"other\":{}}", "{\"tcbInfo\":{}} x",
        "{\"tcbInfo\":{},\"tcbInfo\":{}}", "{\"tcbInfo\":{\"a\":}}", "{\"tcbInfo\":{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_fails_with(cella_pccs_json_member(S(bad[i]), "tcbInfo", &v), CELLA_E_PARSE);
}

static void crl_encodings(void **state)
{
    (void)state;
    size_t n;
    uint8_t *c = load("sgx-dcap-v3/phala_sgx_quote_collateral.json", &n);
    json_t *j = json_loadb((const char *)c, n, 0, NULL);
    const char *hex = json_string_value(json_object_get(j, "pck_crl"));
    size_t dlen = strlen(hex) / 2;
    uint8_t *der = malloc(dlen);
    assert_succeeds(cella_hex_decode(der, dlen, hex, strlen(hex), "crl"));
    /* DER, hex text (with a newline, as PCCS may send it) and PEM all give the hex DER */
    cella_buf out;
    cella_buf_init(&out, false);
    assert_succeeds(cella_pccs_crl_hex(cella_slice_of(der, dlen), &out));
    assert_int_equal(out.len, strlen(hex));
    assert_memory_equal(out.p, hex, out.len);
    char *hexnl = malloc(strlen(hex) + 2);
    sprintf(hexnl, "%s\n", hex);
    cella_buf_free(&out);
    cella_buf_init(&out, false);
    assert_succeeds(cella_pccs_crl_hex(S(hexnl), &out));
    assert_memory_equal(out.p, hex, strlen(hex));
    const unsigned char *q = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)dlen);
    assert_non_null(crl);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio_X509_CRL(bio, crl));
    char *pem;
    long plen = BIO_get_mem_data(bio, &pem);
    cella_buf_free(&out);
    cella_buf_init(&out, false);
    assert_succeeds(cella_pccs_crl_hex(cella_slice_of(pem, (size_t)plen), &out));
    assert_memory_equal(out.p, hex, strlen(hex));
    cella_buf_free(&out);
    cella_buf_init(&out, false);
    assert_fails_with(cella_pccs_crl_hex(S("not a crl"), &out), CELLA_E_PARSE);
    assert_fails_with(cella_pccs_crl_hex(S("  \n"), &out), CELLA_E_PARSE);
    assert_fails_with(cella_pccs_crl_hex(cella_slice_of(der, dlen - 1), &out), CELLA_E_PARSE);
    cella_buf_free(&out);
    BIO_free(bio);
    X509_CRL_free(crl);
    free(hexnl);
    free(der);
    json_decref(j);
    free(c);
}

/* The cache keeps an entry until the earliest nextUpdate of its four parts. */
static void next_update(void **state)
{
    (void)state;
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"sgx-dcap-v3/phala_sgx_quote_collateral.json", "2025-07-19T10:01:18Z"},
        {"tdx-dcap-v4/phala_tdx_quote_collateral.json", "2025-07-19T10:00:35Z"},
    };
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        uint8_t *c = load(cases[i].file, &n);
        time_t got, want;
        assert_succeeds(cella_pccs_next_update(cella_slice_of(c, n), &got));
        assert_succeeds(cella_ev_parse_time(cases[i].want, &want, "want"));
        assert_int_equal((long long)got, (long long)want);
        free(c);
    }
    time_t t;
    assert_fails_with(cella_pccs_next_update(S("{}"), &t), CELLA_E_PARSE);
}

/* Files are picked by FMSPC and PCK CA (with a CA-less fallback); nothing
 * found is CELLA_E_NOTFOUND naming the FMSPC. */
static void directory_lookup(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    size_t qn, cn;
    uint8_t *quote = load("sgx-dcap-v3/phala_sgx_quote.bin", &qn);
    uint8_t *coll = load("sgx-dcap-v3/phala_sgx_quote_collateral.json", &cn);
    cella_evidence_claims *cl = calloc(1, sizeof *cl);
    assert_succeeds(cella_evidence_parse(CELLA_EV_AUTO, cella_slice_of(quote, qn), cl));
    uint8_t fmspc[6];
    cella_pck_ca ca;
    assert_succeeds(cella_dcap_platform(&cl->quote, fmspc, &ca));
    assert_int_equal(ca, CELLA_PCK_CA_PROCESSOR);
    cella_collateral_source src = {dir, NULL};
    cella_collateral_found f;
    assert_fails_with(cella_collateral_find(&src, cl, 0, &f), CELLA_E_NOTFOUND);
    assert_non_null(strstr(cella_error_what(), "FMSPC 00a067110000 (PCK processor CA)"));
    cella_collateral_found_free(&f);
    char path[4200];
    snprintf(path, sizeof path, "%s/sgx-00a067110000.json", dir);
    assert_succeeds(cella_write_file_atomic(AT_FDCWD, path, coll, cn, 0600, false));
    assert_succeeds(cella_collateral_find(&src, cl, 0, &f));
    assert_int_equal(f.dcap.len, cn);
    assert_non_null(strstr(f.origin, "sgx-00a067110000.json"));
    cella_collateral_found_free(&f);
    snprintf(path, sizeof path, "%s/sgx-00a067110000-processor.json", dir);
    assert_succeeds(cella_write_file_atomic(AT_FDCWD, path, "{}", 2, 0600, false));
    assert_succeeds(cella_collateral_find(&src, cl, 0, &f));
    assert_int_equal(f.dcap.len, 2); /* the CA-specific file wins */
    assert_false(f.pccs_fetched);
    assert_succeeds(cella_collateral_commit(&src, &f)); /* nothing to cache */
    cella_collateral_found_free(&f);
    free(cl);
    free(quote);
    free(coll);
    test_rmdir(dir);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_decode),  cmocka_unit_test(json_member),
        cmocka_unit_test(crl_encodings), cmocka_unit_test(next_update),
        cmocka_unit_test(directory_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
