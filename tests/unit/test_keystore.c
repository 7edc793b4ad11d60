/* Unit tests for lib/identity/keystore: the iExec SDK keystore and wallet
 * vectors, the Web3 Secret Storage spec vectors, round trips, wrong passwords
 * and malformed files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "identity/keystore.h"
#include "testutil.h"

#define PW "iexec-test-password"

static char *vector_path(const char *rel)
{
    static char path[1024];
    test_vector_path(path, sizeof path, rel);
    return path;
}

static char *keystore_vector(size_t *len)
{
    /* the one file named UTC--* */
    const char *p = vector_path("iexec/wallet/"
                                "UTC--2026-11-23T19-45-40.091000000Z--"
                                "18Af64849e1FE3453C3f89A53Cfd224A2A04bd27");
    uint8_t *data;
    assert_succeeds(cella_read_file(AT_FDCWD, p, 1 << 20, false, &data, len));
    return (char *)data;
}

static void ks_iexec_vector(void **state)
{
    (void)state;
    size_t len;
    char *ks = keystore_vector(&len);
    uint8_t priv[32], addr[20];
    char text[43];
    assert_succeeds(cella_wallet_peek_address(ks, len, addr));
    cella_eth_address_checksum(text, addr);
    assert_string_equal(text, "0x18Af64849e1FE3453C3f89A53Cfd224A2A04bd27");
    assert_true(cella_wallet_is_encrypted(ks, len));
    assert_succeeds(cella_keystore_decrypt(ks, len, PW, strlen(PW), priv, addr));
    cella_eth_address_checksum(text, addr);
    assert_string_equal(text, "0x18Af64849e1FE3453C3f89A53Cfd224A2A04bd27");
    /* wrong password: a clear error, and no key bytes left behind */
    memset(priv, 0x77, sizeof priv);
    assert_fails_with(
        cella_keystore_decrypt(ks, len, "iexec-test-passwore", strlen(PW), priv, addr),
        CELLA_E_AUTH);
    assert_string_equal(cella_error_what(), "wrong password");
    /* through the file loader, with the path in the error */
    const char *p = vector_path("iexec/wallet/"
                                "UTC--2026-11-23T19-45-40.091000000Z--"
                                "18Af64849e1FE3453C3f89A53Cfd224A2A04bd27");
    assert_fails_with(cella_wallet_load(p, NULL, 0, priv, addr), CELLA_E_USAGE);
    free(ks);
}

/* Web3 Secret Storage definition test vectors (password "testpassword"). */
static void ks_spec_vectors(void **state)
{
    (void)state;
    const char *pbkdf2 =
        "{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
        "\"6087dab2f9fdbbfaddc31a909735c1e6\"},\"ciphertext\":"
        "\"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46\",\"kdf\":\"pbkdf2\","
        "\"kdfparams\":{\"c\":262144,\"dklen\":32,\"prf\":\"hmac-sha256\",\"salt\":"
        "\"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd\"},\"mac\":"
        "\"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2\"},\"id\":"
        "\"3198bc9c-6672-5ab3-d995-4942343ae5b6\",\"version\":3}";
    const char *scrypt =
        "{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
        "\"83dbcc02d8ccb40e466191a123791e0e\"},\"ciphertext\":"
        "\"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c\",\"kdf\":\"scrypt\","
        "\"kdfparams\":{\"dklen\":32,\"n\":262144,\"r\":1,\"p\":8,\"salt\":"
        "\"ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19\"},\"mac\":"
        "\"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097\"},\"id\":"
        "\"3198bc9c-6672-5ab3-d995-4942343ae5b6\",\"version\":3}";
    uint8_t want[32], priv[32], addr[20];
    const char *k = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
    assert_succeeds(cella_hex_decode(want, 32, k, 64, "vector"));
    assert_succeeds(cella_keystore_decrypt(pbkdf2, strlen(pbkdf2), "testpassword", 12, priv, addr));
    assert_memory_equal(priv, want, 32);
    /* The spec's scrypt vector uses r=1, n=2^18, beyond RFC 7914's n < 2^(16 r),
     * which OpenSSL enforces: refused as unsupported, never mis-derived. */
    assert_fails_with(
        cella_keystore_decrypt(scrypt, strlen(scrypt), "testpassword", 12, priv, addr),
        CELLA_E_UNSUPPORTED);
    assert_fails_with(
        cella_keystore_decrypt(pbkdf2, strlen(pbkdf2), "testpassworD", 12, priv, addr),
        CELLA_E_AUTH);
}

static void ks_round_trip(void **state)
{
    (void)state;
    uint8_t priv[32], back[32], addr[20], addr2[20];
    assert_succeeds(cella_eth_privkey_generate(priv));
    assert_succeeds(cella_eth_address_from_privkey(priv, addr));
    cella_keystore_params ps[2] = {{.kdf = CELLA_KDF_SCRYPT, .scrypt_n = 1024},
                                   {.kdf = CELLA_KDF_PBKDF2, .pbkdf2_c = 1000}};
    for (int i = 0; i < 2; i++) {
        char *json;
        size_t len;
        assert_succeeds(cella_keystore_encrypt(priv, "pw", 2, &ps[i], &json, &len));
        assert_true(cella_wallet_is_encrypted(json, len));
        assert_null(strstr(json, "privateKey"));
        assert_succeeds(cella_keystore_decrypt(json, len, "pw", 2, back, addr2));
        assert_memory_equal(back, priv, 32);
        assert_memory_equal(addr2, addr, 20);
        assert_succeeds(cella_wallet_peek_address(json, len, addr2));
        assert_memory_equal(addr2, addr, 20);
        assert_fails_with(cella_keystore_decrypt(json, len, "pW", 2, back, addr2), CELLA_E_AUTH);
        assert_string_equal(cella_error_what(), "wrong password");
        assert_fails_with(cella_keystore_decrypt(json, len, "", 0, back, addr2), CELLA_E_AUTH);
        /* a flipped ciphertext digit fails the MAC */
        char *ct = strstr(json, "\"ciphertext\": \"");
        assert_non_null(ct);
        ct += 15;
        *ct = *ct == '0' ? '1' : '0';
        assert_fails_with(cella_keystore_decrypt(json, len, "pw", 2, back, addr2), CELLA_E_AUTH);
        free(json);
    }
}

static void ks_plain_wallet(void **state)
{
    (void)state;
    uint8_t priv[32], addr[20];
    char text[43];
    assert_succeeds(
        cella_wallet_load(vector_path("iexec/wallet/wallet.json"), NULL, 0, priv, addr));
    cella_eth_address_checksum(text, addr);
    assert_string_equal(text, "0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1");
    char *buf;
    size_t len, cap;
    assert_succeeds(cella_wallet_plain_encode(priv, &buf, &len, &cap));
    assert_false(cella_wallet_is_encrypted(buf, len));
    uint8_t p2[32], a2[20];
    assert_succeeds(cella_wallet_plain_decode(buf, len, p2, a2));
    assert_memory_equal(p2, priv, 32);
    assert_memory_equal(a2, addr, 20);
    /* a wrong address is refused */
    char *a = strstr(buf, "\"address\": \"0x");
    assert_non_null(a);
    a[14] = a[14] == '1' ? '2' : '1';
    assert_fails_with(cella_wallet_plain_decode(buf, len, p2, a2), CELLA_E_PARSE);
    cella_secure_free(buf, cap);
}

static void expect_bad(const char *json, cella_code code)
{
    uint8_t priv[32], addr[20];
    assert_fails_with(cella_keystore_decrypt(json, strlen(json), "pw", 2, priv, addr), code);
}

#define KS_HEAD                                                                                    \
    "{\"version\":3,\"Crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":\""            \
    "00000000000000000000000000000000\"},\"ciphertext\":\""                                        \
    "0000000000000000000000000000000000000000000000000000000000000000\",\"mac\":\""                \
    "0000000000000000000000000000000000000000000000000000000000000000\","

static void ks_malformed(void **state)
{
    (void)state;
    expect_bad("", CELLA_E_PARSE);
    expect_bad("{", CELLA_E_PARSE);
    expect_bad("[]", CELLA_E_PARSE);
    expect_bad("{\"version\":3}", CELLA_E_PARSE);
    expect_bad("{\"version\":3,\"version\":3}", CELLA_E_PARSE);
    expect_bad("{\"version\":2,\"Crypto\":{}}", CELLA_E_UNSUPPORTED);
    expect_bad("{\"version\":3,\"Crypto\":[]}", CELLA_E_PARSE);
    expect_bad("{\"version\":3,\"Crypto\":{\"cipher\":\"aes-128-cbc\"}}", CELLA_E_UNSUPPORTED);
    /* KDF problems */
    expect_bad(KS_HEAD "\"kdf\":\"bcrypt\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\"}}}",
               CELLA_E_UNSUPPORTED);
    expect_bad(KS_HEAD "\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":16,\"salt\":\"00\",\"n\":2,"
                       "\"r\":1,\"p\":1}}}",
               CELLA_E_UNSUPPORTED);
    expect_bad(KS_HEAD "\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\",\"n\":3,"
                       "\"r\":1,\"p\":1}}}",
               CELLA_E_PARSE);
    expect_bad(KS_HEAD "\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\","
                       "\"n\":4194304,\"r\":8,\"p\":1}}}",
               CELLA_E_POLICY);
    expect_bad(KS_HEAD "\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\","
                       "\"n\":1048576,\"r\":32,\"p\":1}}}",
               CELLA_E_POLICY);
    expect_bad(KS_HEAD "\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":32,\"salt\":\"0\",\"n\":2,"
                       "\"r\":1,\"p\":1}}}",
               CELLA_E_PARSE);
    expect_bad(KS_HEAD "\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\",\"n\":-2,"
                       "\"r\":1,\"p\":1}}}",
               CELLA_E_PARSE);
    expect_bad(KS_HEAD "\"kdf\":\"pbkdf2\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\","
                       "\"c\":100000000,\"prf\":\"hmac-sha256\"}}}",
               CELLA_E_POLICY);
    expect_bad(KS_HEAD "\"kdf\":\"pbkdf2\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\",\"c\":1,"
                       "\"prf\":\"hmac-sha512\"}}}",
               CELLA_E_UNSUPPORTED);
    /* well-formed, cheap KDF, wrong MAC */
    expect_bad(KS_HEAD "\"kdf\":\"pbkdf2\",\"kdfparams\":{\"dklen\":32,\"salt\":\"00\",\"c\":1,"
                       "\"prf\":\"hmac-sha256\"}}}",
               CELLA_E_AUTH);
    /* short iv, bad hex */
    expect_bad(
        "{\"version\":3,\"Crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":\"00\"}}}",
        CELLA_E_PARSE);
    /* too big */
    size_t big = CELLA_WALLET_MAX_JSON + 10;
    char *b = malloc(big + 1);
    assert_non_null(b);
    memset(b, ' ', big);
    b[0] = '{';
    b[big - 1] = '}';
    b[big] = 0;
    expect_bad(b, CELLA_E_TOOBIG);
    free(b);
    /* the address must match the key */
    uint8_t priv[32], addr[20];
    char *json;
    size_t len;
    cella_keystore_params p = {.kdf = CELLA_KDF_PBKDF2, .pbkdf2_c = 1};
    assert_succeeds(cella_eth_privkey_generate(priv));
    assert_succeeds(cella_keystore_encrypt(priv, "pw", 2, &p, &json, &len));
    char *a = strstr(json, "\"address\": \"");
    assert_non_null(a);
    a[12] = a[12] == '1' ? '2' : '1';
    assert_fails_with(cella_keystore_decrypt(json, len, "pw", 2, priv, addr), CELLA_E_AUTH);
    free(json);
    /* plain wallets */
    uint8_t pr[32];
    const char *pl = "{\"privateKey\":\"0x00\"}";
    assert_fails_with(cella_wallet_plain_decode(pl, strlen(pl), pr, addr), CELLA_E_PARSE);
    pl = "{\"privateKey\":\"0x0000000000000000000000000000000000000000000000000000000000000000\"}";
    assert_fails_with(cella_wallet_plain_decode(pl, strlen(pl), pr, addr), CELLA_E_PARSE);
    pl = "{\"address\":\"0x00\"}";
    assert_fails_with(cella_wallet_plain_decode(pl, strlen(pl), pr, addr), CELLA_E_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ks_iexec_vector), cmocka_unit_test(ks_spec_vectors),
        cmocka_unit_test(ks_round_trip),   cmocka_unit_test(ks_plain_wallet),
        cmocka_unit_test(ks_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
