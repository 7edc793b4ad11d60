/* Unit tests for lib/tee (sim evidence, RA-TLS certificates) and
 * lib/store/cas_store (sessions, tags), with negative cases. Challenges:
 * test_signed_request.c. */
#include <stdio.h>
#include <string.h>

#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "crypto/aead.h"
#include "crypto/spki.h"
#include "store/cas_store.h"
#include "tee/ratls.h"
#include "tee/sim.h"
#include "testutil.h"

static EVP_PKEY *platform(const char *dir, const char *sub, EVP_PKEY **pub)
{
    char d[600], p[700];
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    assert_succeeds(cella_sim_platform_init(d, false));
    assert_fails_with(cella_sim_platform_init(d, false), CELLA_E_EXISTS);
    EVP_PKEY *k;
    assert_succeeds(cella_sim_load_private(d, &k));
    snprintf(p, sizeof p, "%s/sim-platform.pub", d);
    assert_succeeds(cella_sim_load_public(p, pub));
    return k;
}

static void sim_evidence(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    EVP_PKEY *pub, *pub2;
    EVP_PKEY *k = platform(dir, "a", &pub);
    EVP_PKEY *k2 = platform(dir, "b", &pub2);
    cella_sim_report in = {.product_id = 7, .svn = 3, .debug = true}, out;
    memset(in.measurement, 0x11, 32);
    memset(in.report_data, 0x22, 64);
    cella_buf ev;
    cella_buf_init(&ev, false);
    assert_succeeds(cella_sim_quote(k, &in, &ev));
    assert_succeeds(cella_sim_verify(cella_slice_of(ev.p, ev.len), pub, &out));
    assert_memory_equal(out.measurement, in.measurement, 32);
    assert_memory_equal(out.report_data, in.report_data, 64);
    assert_int_equal(out.product_id, 7);
    assert_int_equal(out.svn, 3);
    assert_true(out.debug);
    /* another platform's key */
    assert_fails_with(cella_sim_verify(cella_slice_of(ev.p, ev.len), pub2, &out), CELLA_E_AUTH);
    /* a flipped bit anywhere in the signed part or the signature */
    for (size_t i = 0; i < ev.len; i++) {
        if (i >= CELLA_SIM_SIGNED_BYTES && i < CELLA_SIM_SIGNED_BYTES + 2)
            continue; /* the length field: parse error instead */
        ev.p[i] ^= 0x01;
        assert_false(cella_ok(cella_sim_verify(cella_slice_of(ev.p, ev.len), pub, &out)));
        ev.p[i] ^= 0x01;
    }
    /* truncated, extended */
    assert_fails_with(cella_sim_verify(cella_slice_of(ev.p, ev.len - 1), pub, &out), CELLA_E_PARSE);
    assert_fails_with(cella_sim_parse(cella_slice_of(ev.p, 100), &out), CELLA_E_PARSE);
    cella_buf_append(&ev, "x", 1);
    assert_fails_with(cella_sim_parse(cella_slice_of(ev.p, ev.len), &out), CELLA_E_PARSE);
    /* A precomputed platform id (cella_sim_quote_id) gives the same evidence
     * check; one that names another platform than the signing key is refused
     * by the verifier's own id, whatever the quoter claimed. */
    uint8_t id[32], id2[32];
    assert_succeeds(cella_sim_platform_id(pub, id));
    assert_succeeds(cella_sim_platform_id(pub2, id2));
    ev.len = 0;
    assert_succeeds(cella_sim_quote_id(k, id, &in, &ev));
    assert_succeeds(cella_sim_verify(cella_slice_of(ev.p, ev.len), pub, &out));
    ev.len = 0;
    assert_succeeds(cella_sim_quote_id(k, id2, &in, &ev));
    assert_fails_with(cella_sim_verify(cella_slice_of(ev.p, ev.len), pub, &out), CELLA_E_AUTH);
    assert_fails_with(cella_sim_verify(cella_slice_of(ev.p, ev.len), pub2, &out), CELLA_E_AUTH);
    cella_buf_free(&ev);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(pub2);
    test_rmdir(dir);
}

struct qctx {
    EVP_PKEY *k;
    uint8_t rd[64];
};

static cella_res quote(const uint8_t rd[64], cella_buf *ev, void *vctx)
{
    struct qctx *q = vctx;
    memcpy(q->rd, rd, 64);
    cella_sim_report r = {0};
    memcpy(r.report_data, rd, 64);
    return cella_sim_quote(q->k, &r, ev);
}

static void ratls_cert(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    EVP_PKEY *pub;
    struct qctx q = {.k = platform(dir, "p", &pub)};
    uint8_t nonce[32] = {5, 6, 7}, spki[32];
    EVP_PKEY *key;
    X509 *cert;
    assert_succeeds(cella_ratls_make(CELLA_TEE_SIM, nonce, quote, &q, &key, &cert));
    cella_tee_kind kind;
    cella_buf ev;
    cella_buf_init(&ev, false);
    assert_succeeds(cella_ratls_extract(cert, &kind, &ev, spki));
    assert_int_equal(kind, CELLA_TEE_SIM);
    cella_sim_report rep;
    assert_succeeds(cella_sim_verify(cella_slice_of(ev.p, ev.len), pub, &rep));
    /* report data = SHA-256(SPKI of the certificate key) || nonce */
    assert_memory_equal(rep.report_data, spki, 32);
    assert_memory_equal(rep.report_data + 32, nonce, 32);
    uint8_t rd[64];
    assert_succeeds(cella_ratls_report_data(key, nonce, rd));
    assert_memory_equal(rd, rep.report_data, 64);
    cella_buf_free(&ev);
    /* a certificate without evidence */
    X509 *plain = X509_new();
    X509_set_pubkey(plain, key);
    cella_buf_init(&ev, false);
    assert_fails_with(cella_ratls_extract(plain, &kind, &ev, spki), CELLA_E_AUTH);
    X509_free(plain);
    cella_buf_free(&ev);
    /* envelope parser */
    cella_slice out;
    uint8_t env[32] = "CELLAEV1\x01\0\0\0\x04\0\0\0abcd";
    assert_succeeds(cella_ratls_parse_envelope(cella_slice_of(env, 20), &kind, &out));
    assert_int_equal(out.len, 4);
    assert_fails_with(cella_ratls_parse_envelope(cella_slice_of(env, 19), &kind, &out), CELLA_E_PARSE);
    assert_fails_with(cella_ratls_parse_envelope(cella_slice_of(env, 21), &kind, &out), CELLA_E_PARSE);
    env[8] = 9;
    assert_fails_with(cella_ratls_parse_envelope(cella_slice_of(env, 20), &kind, &out), CELLA_E_PARSE);
    env[8] = 1;
    env[12] = 0xff;
    env[15] = 0xff;
    assert_false(cella_ok(cella_ratls_parse_envelope(cella_slice_of(env, 20), &kind, &out)));
    X509_free(cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(q.k);
    EVP_PKEY_free(pub);
    test_rmdir(dir);
}

/* The SPKI hash is SHA-256 of OpenSSL's own encoding, for a provider key, the
 * legacy key the RA-TLS code makes, keys of other kinds, and a certificate's. */
static void spki_hash(void **state)
{
    (void)state;
    EVP_PKEY *keys[] = {EVP_EC_gen("P-256"), EVP_EC_gen("P-384"),
                        EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), NULL};
    uint8_t nonce[32] = {1};
    struct qctx q = {.k = keys[0]};
    X509 *cert;
    assert_succeeds(cella_ratls_make(CELLA_TEE_SIM, nonce, quote, &q, &keys[3], &cert));
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(keys[i]);
        unsigned char *der = NULL;
        int n = i2d_PUBKEY(keys[i], &der);
        assert_true(n > 0);
        uint8_t want[32], got[32];
        assert_succeeds(cella_sha256(want, der, (size_t)n));
        assert_succeeds(cella_spki_sha256(keys[i], got));
        assert_memory_equal(got, want, 32);
        if (i == 3) { /* the certificate names the RA-TLS key, as sent */
            assert_succeeds(cella_x509_spki_sha256(cert, got));
            assert_memory_equal(got, want, 32);
        }
        OPENSSL_free(der);
        EVP_PKEY_free(keys[i]);
    }
    uint8_t h[32];
    assert_fails_with(cella_spki_sha256(NULL, h), CELLA_E_CRYPTO);
    assert_fails_with(cella_x509_spki_sha256(NULL, h), CELLA_E_CRYPTO);
    X509_free(cert);
}

/* Known answer, computed with Python's hashlib from the documented formula. */
static void handshake_binding(void **state)
{
    (void)state;
    uint8_t cr[32], sr[32], got[32], want[32];
    for (int i = 0; i < 32; i++) {
        cr[i] = (uint8_t)i;
        sr[i] = (uint8_t)(32 + i);
    }
    assert_succeeds(cella_hex_decode(want, 32, "8761c5578304055bb4e7bfb8fc6d4fb5850e32cc98ea59f9de577b1ffe596fa8", 64, "kat"));
    assert_succeeds(cella_ratls_handshake_binding(cr, sr, got));
    assert_memory_equal(got, want, 32);
    sr[31] ^= 1; /* another server random: another binding */
    assert_succeeds(cella_ratls_handshake_binding(cr, sr, got));
    assert_memory_not_equal(got, want, 32);
}

static void store(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[600];
    test_db_url(path, sizeof path, dir);
    cella_cas_store *s;
    assert_succeeds(cella_cas_store_open(path, &s));
    cella_cas_session_row row = {.owner = "0xabc", .hash = {1}};
    cella_buf_init(&row.sealed, false);
    cella_buf_append(&row.sealed, "sealed", 6);
    assert_succeeds(cella_cas_session_create(s, "n", &row));
    assert_fails_with(cella_cas_session_create(s, "n", &row), CELLA_E_EXISTS);
    uint8_t wrong[32] = {7}, cur[32] = {1};
    row.hash[0] = 2;
    assert_fails_with(cella_cas_session_update(s, "n", wrong, &row), CELLA_E_ROLLBACK);
    assert_succeeds(cella_cas_session_update(s, "n", cur, &row));
    assert_fails_with(cella_cas_session_update(s, "n", cur, &row), CELLA_E_ROLLBACK);
    assert_fails_with(cella_cas_session_update(s, "missing", cur, &row), CELLA_E_NOTFOUND);
    cella_cas_session_row got = {0};
    cella_buf_init(&got.sealed, false);
    assert_succeeds(cella_cas_session_get(s, "n", &got));
    assert_int_equal(got.version, 2);
    assert_int_equal(got.hash[0], 2);
    cella_buf_free(&got.sealed);
    cella_buf_free(&row.sealed);

    uint8_t t1[16] = {1}, t2[16] = {2}, t[16];
    bool has;
    assert_succeeds(cella_cas_tag_get(s, "n", "v", t, &has));
    assert_false(has);
    assert_fails_with(cella_cas_tag_swap(s, "n", "v", t1, t2), CELLA_E_ROLLBACK);
    assert_succeeds(cella_cas_tag_swap(s, "n", "v", NULL, t1));
    assert_fails_with(cella_cas_tag_swap(s, "n", "v", NULL, t2), CELLA_E_ROLLBACK);
    assert_succeeds(cella_cas_tag_swap(s, "n", "v", t1, t2));
    assert_fails_with(cella_cas_tag_swap(s, "n", "v", t1, t1), CELLA_E_ROLLBACK);
    assert_succeeds(cella_cas_tag_get(s, "n", "v", t, &has));
    assert_true(has);
    assert_memory_equal(t, t2, 16);

    cella_buf a, b;
    cella_buf_init(&a, false);
    cella_buf_init(&b, false);
    assert_succeeds(cella_cas_sealed_get_or_put(s, "n", "volume", "v", cella_slice_of("first", 5), &a));
    assert_succeeds(cella_cas_sealed_get_or_put(s, "n", "volume", "v", cella_slice_of("second", 6), &b));
    assert_memory_equal(b.p, "first", 5); /* first writer wins */
    cella_buf_free(&a);
    cella_buf_free(&b);
    cella_cas_store_close(s);
    test_rmdir(dir);
}

static void authorization_header(void **state)
{
    (void)state;
    uint8_t a[20], n[32], sig[65];
    char nh[65], good[400];
    snprintf(good, sizeof good, "CELLA-EIP191 0x%040d %064d 0x%0130d", 0, 1, 2);
    assert_succeeds(cella_cas_parse_authorization(good, strlen(good), a, n, nh, sig));
    assert_int_equal(n[31], 1);
    assert_int_equal(sig[64], 2);
    const char *bad[] = {
        "", "CELLA-EIP191", "Bearer x y z",
        "CELLA-EIP191 0x0000000000000000000000000000000000000000 00 0x00",
        "CELLA-EIP191  0x0000000000000000000000000000000000000000 x y", /* double space */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(cella_ok(cella_cas_parse_authorization(bad[i], strlen(bad[i]), a, n, nh, sig)));
    char extra[450];
    snprintf(extra, sizeof extra, "%s extra", good);
    assert_fails_with(cella_cas_parse_authorization(extra, strlen(extra), a, n, nh, sig), CELLA_E_AUTH);
    good[20] = 'g'; /* not hex */
    assert_false(cella_ok(cella_cas_parse_authorization(good, strlen(good), a, n, nh, sig)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_evidence),
        cmocka_unit_test(ratls_cert),
        cmocka_unit_test(spki_hash),
        cmocka_unit_test(handshake_binding),
        cmocka_unit_test(store),
        cmocka_unit_test(authorization_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
