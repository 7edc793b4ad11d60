/* Unit tests for lib/crypto: known-answer vectors and negative cases. */
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "crypto/aead.h"
#include "core/secure.h"
#include "testutil.h"

/* AES-256-GCM, test case 16 of McGrew & Viega's GCM specification. */
static void gcm_known_answer(void **state)
{
    (void)state;
    uint8_t k[32], iv[12], aad[20], pt[60], ct[60], tag[16], want_ct[60], want_tag[16], back[60];
    test_unhex(k, 32, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    test_unhex(iv, 12, "cafebabefacedbaddecaf888");
    test_unhex(aad, 20, "feedfacedeadbeeffeedfacedeadbeefabaddad2");
    test_unhex(pt, 60, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c9595680953"
                  "2fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    test_unhex(want_ct, 60, "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590d"
                       "bb3da7b08b1056828838c5f61e6393ba7a0abcc9f662");
    test_unhex(want_tag, 16, "76fc6ece0f4e1768cddf8853bb2d551b");
    cella_gcm *e = cella_gcm_new(), *d = cella_gcm_new();
    assert_succeeds(cella_gcm_set_key(e, k, true));
    assert_succeeds(cella_gcm_seal(e, iv, aad, sizeof aad, pt, sizeof pt, ct, tag));
    assert_memory_equal(ct, want_ct, 60);
    assert_memory_equal(tag, want_tag, 16);
    assert_succeeds(cella_gcm_set_key(d, k, false));
    assert_succeeds(cella_gcm_open(d, iv, aad, sizeof aad, ct, sizeof ct, back, tag));
    assert_memory_equal(back, pt, 60);
    /* any change is refused, and no plaintext is released */
    ct[5] ^= 1;
    memset(back, 0x55, sizeof back);
    assert_fails_with(cella_gcm_open(d, iv, aad, sizeof aad, ct, sizeof ct, back, tag), CELLA_E_AUTH);
    for (size_t i = 0; i < sizeof back; i++)
        assert_int_equal(back[i], 0);
    ct[5] ^= 1;
    aad[0] ^= 1;
    assert_fails_with(cella_gcm_open(d, iv, aad, sizeof aad, ct, sizeof ct, back, tag), CELLA_E_AUTH);
    aad[0] ^= 1;
    tag[15] ^= 1;
    assert_fails_with(cella_gcm_open(d, iv, aad, sizeof aad, ct, sizeof ct, back, tag), CELLA_E_AUTH);
    tag[15] ^= 1;
    iv[0] ^= 1;
    assert_fails_with(cella_gcm_open(d, iv, aad, sizeof aad, ct, sizeof ct, back, tag), CELLA_E_AUTH);
    cella_gcm_free(e);
    cella_gcm_free(d);
}

/* RFC 5869, test case 1. */
static void hkdf_known_answer(void **state)
{
    (void)state;
    uint8_t ikm[22], salt[13], okm[42], want[42];
    memset(ikm, 0x0b, sizeof ikm);
    test_unhex(salt, 13, "000102030405060708090a0b0c");
    test_unhex(want, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b88718"
                    "5865");
    const char info[] = "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9";
    assert_succeeds(cella_hkdf_sha256(okm, sizeof okm, ikm, sizeof ikm, salt, sizeof salt, info));
    assert_memory_equal(okm, want, 42);
}

static void sha256_known_answer(void **state)
{
    (void)state;
    uint8_t d[32], want[32];
    test_unhex(want, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_succeeds(cella_sha256(d, "abc", 3));
    assert_memory_equal(d, want, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gcm_known_answer),
        cmocka_unit_test(hkdf_known_answer),
        cmocka_unit_test(sha256_known_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
