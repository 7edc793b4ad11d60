/* Unit tests for lib/identity/eth: keys, addresses, EIP-55, EIP-191 signatures,
 * against the iExec vectors (wallet.json, poco-deal-task-contribution.json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "crypto/aead.h"
#include "identity/eth.h"
#include "identity/keccak.h"
#include "testutil.h"

#include <fcntl.h>

static const char *jstr(json_t *o, const char *path)
{
    /* path: "a.b.c" */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    if (!json_is_string(cur))
        fail_msg("vector field %s missing", path);
    return json_string_value(cur);
}

static void eth_wallet_vector(void **state)
{
    (void)state;
    json_t *w = test_load_vector("iexec/wallet/wallet.json");
    uint8_t priv[32], pub[64], want_pub[65], addr[20];
    test_unhex(priv, 32, jstr(w, "privateKey"));
    test_unhex(want_pub, 65, jstr(w, "publicKey"));
    assert_true(cella_eth_privkey_valid(priv));
    assert_succeeds(cella_eth_pubkey_from_privkey(priv, pub));
    assert_int_equal(want_pub[0], 4);
    assert_memory_equal(pub, want_pub + 1, 64);
    assert_succeeds(cella_eth_address_from_privkey(priv, addr));
    char text[43];
    cella_eth_address_checksum(text, addr);
    assert_string_equal(text, jstr(w, "address"));
    assert_string_equal(text, "0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbC1");
    json_decref(w);
}

/* EIP-55's own examples. */
static void eth_eip55(void **state)
{
    (void)state;
    const char *good[] = {
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"};
    for (size_t i = 0; i < 4; i++) {
        uint8_t a[20];
        char back[43];
        assert_succeeds(cella_eth_address_parse(a, good[i], "addr"));
        cella_eth_address_checksum(back, a);
        assert_string_equal(back, good[i]);
    }
    uint8_t a[20];
    /* all-lower and all-upper are accepted without a checksum */
    assert_succeeds(cella_eth_address_parse(a, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "a"));
    assert_succeeds(cella_eth_address_parse(a, "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", "a"));
    /* a wrong mixed case is refused */
    assert_fails_with(cella_eth_address_parse(a, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "a"),
                      CELLA_E_PARSE);
    assert_fails_with(cella_eth_address_parse(a, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", "a"),
                      CELLA_E_PARSE);
    assert_fails_with(cella_eth_address_parse(a, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "a"),
                      CELLA_E_PARSE);
    assert_fails_with(cella_eth_address_parse(a, "", "a"), CELLA_E_PARSE);
}

static void eth_sign_recover(void **state)
{
    (void)state;
    uint8_t priv[32], addr[20], got[20], sig[65], digest[32];
    assert_succeeds(cella_eth_privkey_generate(priv));
    assert_succeeds(cella_eth_address_from_privkey(priv, addr));
    cella_keccak256(digest, "hello", 5);
    assert_succeeds(cella_eth_sign_digest(priv, digest, sig));
    assert_true(sig[64] == 27 || sig[64] == 28);
    assert_succeeds(cella_eth_recover_digest(digest, sig, got));
    assert_memory_equal(got, addr, 20);
    assert_succeeds(cella_eth_verify_digest(digest, sig, addr, "sig"));
    /* v as 0/1 is accepted too */
    sig[64] -= 27;
    assert_succeeds(cella_eth_verify_digest(digest, sig, addr, "sig"));
    sig[64] += 27;
    /* any flipped bit either fails or recovers someone else */
    for (size_t i = 0; i < 65; i++) {
        sig[i] ^= 0x01;
        assert_fails_with(cella_eth_verify_digest(digest, sig, addr, "sig"), CELLA_E_AUTH);
        sig[i] ^= 0x01;
    }
    digest[0] ^= 0x80;
    assert_fails_with(cella_eth_verify_digest(digest, sig, addr, "sig"), CELLA_E_AUTH);
    digest[0] ^= 0x80;
    /* bad v */
    sig[64] = 29;
    assert_fails_with(cella_eth_recover_digest(digest, sig, got), CELLA_E_AUTH);
    /* r = 0 */
    uint8_t zero[65] = {0};
    zero[64] = 27;
    assert_fails_with(cella_eth_recover_digest(digest, zero, got), CELLA_E_AUTH);
    /* invalid private keys */
    uint8_t bad[32] = {0};
    assert_false(cella_eth_privkey_valid(bad));
    assert_fails_with(cella_eth_address_from_privkey(bad, addr), CELLA_E_PARSE);
    memset(bad, 0xff, 32);
    assert_false(cella_eth_privkey_valid(bad));
}

/* High-s (malleated) signatures are refused, as OpenZeppelin's ECDSA does. */
static void eth_high_s_refused(void **state)
{
    (void)state;
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                  0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    uint8_t priv[32], addr[20], sig[65], digest[32], got[20];
    assert_succeeds(cella_eth_privkey_generate(priv));
    assert_succeeds(cella_eth_address_from_privkey(priv, addr));
    cella_keccak256(digest, "x", 1);
    assert_succeeds(cella_eth_sign_digest(priv, digest, sig));
    /* s' = n - s, v flipped: mathematically valid for the same key */
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        sig[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    sig[64] = sig[64] == 27 ? 28 : 27;
    assert_fails_with(cella_eth_recover_digest(digest, sig, got), CELLA_E_AUTH);
}

/* EIP-191 digest of a known message (ethers hashMessage("hello")). */
static void eth_personal_digest(void **state)
{
    (void)state;
    uint8_t d[32], want[32];
    cella_eth_personal_digest(d, "hello", 5);
    test_unhex(want, 32, "50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750");
    assert_memory_equal(d, want, 32);
}

static void hash2(uint8_t out[32], const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    cella_keccak_ctx c;
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, a, an);
    cella_keccak256_update(&c, b, bn);
    cella_keccak256_final(&c, out);
}

/* poco-deal-task-contribution.json: deal id, task id, result digest/hash/seal,
 * authorization, enclave signature and worker API challenge, byte for byte. */
static void eth_poco_contribution(void **state)
{
    (void)state;
    json_t *v = test_load_vector("iexec/orders/poco-deal-task-contribution.json");
    json_t *w = test_load_vector("iexec/wallet/wallet.json");
    uint8_t reqhash[32], u256[32] = {0}, dealid[32], taskid[32], want[32];
    test_unhex(reqhash, 32, jstr(v, "inputs.requestorderHash"));
    assert_string_equal(jstr(v, "inputs.consumedBefore"), "0");
    assert_string_equal(jstr(v, "inputs.taskIndex"), "0");
    hash2(dealid, reqhash, 32, u256, 32);
    test_unhex(want, 32, jstr(v, "dealid.value"));
    assert_memory_equal(dealid, want, 32);
    hash2(taskid, dealid, 32, u256, 32);
    test_unhex(want, 32, jstr(v, "taskid.value"));
    assert_memory_equal(taskid, want, 32);

    /* result digest = sha256(result.txt) */
    char path[1024];
    test_vector_path(path, sizeof path, "iexec/result/iexec_out/result.txt");
    uint8_t *file = NULL, digest[32];
    size_t flen = 0;
    assert_succeeds(cella_read_file(AT_FDCWD, path, 1 << 20, false, &file, &flen));
    assert_succeeds(cella_sha256(digest, file, flen));
    free(file);
    test_unhex(want, 32, jstr(v, "resultDigest.value"));
    assert_memory_equal(digest, want, 32);

    uint8_t worker[20], enclave[20], owner[20];
    assert_succeeds(cella_eth_address_parse(worker, jstr(v, "inputs.worker"), "worker"));
    assert_succeeds(cella_eth_address_parse(enclave, jstr(v, "inputs.enclaveChallenge"), "e"));
    assert_succeeds(cella_eth_address_parse(owner, jstr(v, "inputs.workerpoolOwner"), "o"));

    uint8_t rhash[32], rseal[32];
    hash2(rhash, taskid, 32, digest, 32);
    test_unhex(want, 32, jstr(v, "resultHash.value"));
    assert_memory_equal(rhash, want, 32);
    cella_keccak_ctx c;
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, worker, 20);
    cella_keccak256_update(&c, taskid, 32);
    cella_keccak256_update(&c, digest, 32);
    cella_keccak256_final(&c, rseal);
    test_unhex(want, 32, jstr(v, "resultSeal.value"));
    assert_memory_equal(rseal, want, 32);

    /* keys: worker and enclave keys give their addresses */
    uint8_t wpriv[32], epriv[32], opriv[32], a[20];
    test_unhex(wpriv, 32, jstr(v, "inputs.workerPrivateKey"));
    test_unhex(epriv, 32, jstr(v, "inputs.enclaveChallengePrivateKey"));
    test_unhex(opriv, 32, jstr(w, "privateKey"));
    assert_succeeds(cella_eth_address_from_privkey(wpriv, a));
    assert_memory_equal(a, worker, 20);
    assert_succeeds(cella_eth_address_from_privkey(epriv, a));
    assert_memory_equal(a, enclave, 20);
    assert_succeeds(cella_eth_address_from_privkey(opriv, a));
    assert_memory_equal(a, owner, 20);

    /* authorization: personal_sign(keccak(worker||taskid||enclave)) by the pool owner */
    uint8_t auth[32], d191[32], sig[65], want_sig[65];
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, worker, 20);
    cella_keccak256_update(&c, taskid, 32);
    cella_keccak256_update(&c, enclave, 20);
    cella_keccak256_final(&c, auth);
    test_unhex(want, 32, jstr(v, "authorization.hash"));
    assert_memory_equal(auth, want, 32);
    cella_eth_personal_digest(d191, auth, 32);
    test_unhex(want, 32, jstr(v, "authorization.eip191Digest"));
    assert_memory_equal(d191, want, 32);
    assert_succeeds(cella_eth_personal_sign(opriv, auth, 32, sig));
    test_unhex(want_sig, 65, jstr(v, "authorization.signature"));
    assert_memory_equal(sig, want_sig, 65);
    assert_succeeds(cella_eth_personal_recover(auth, 32, want_sig, a));
    assert_memory_equal(a, owner, 20);

    /* enclave signature: personal_sign(keccak(resultHash||resultSeal)) */
    uint8_t esh[32];
    hash2(esh, rhash, 32, rseal, 32);
    test_unhex(want, 32, jstr(v, "enclaveSign.hash"));
    assert_memory_equal(esh, want, 32);
    cella_eth_personal_digest(d191, esh, 32);
    test_unhex(want, 32, jstr(v, "enclaveSign.eip191Digest"));
    assert_memory_equal(d191, want, 32);
    assert_succeeds(cella_eth_personal_sign(epriv, esh, 32, sig));
    test_unhex(want_sig, 65, jstr(v, "enclaveSign.signature"));
    assert_memory_equal(sig, want_sig, 65);
    test_unhex(want_sig, 65, jstr(v, "computedJsonAfterPostCompute.enclave-signature"));
    assert_memory_equal(sig, want_sig, 65);
    /* a forged enclave signature (one bit) is refused */
    want_sig[10] ^= 4;
    assert_fails_with(cella_eth_verify_digest(d191, want_sig, enclave, "enclave"), CELLA_E_AUTH);

    /* worker API challenge: personal_sign(keccak(taskid||worker)) by the enclave key */
    uint8_t wch[32];
    hash2(wch, taskid, 32, worker, 20);
    test_unhex(want, 32, jstr(v, "workerApiChallenge.hash"));
    assert_memory_equal(wch, want, 32);
    assert_succeeds(cella_eth_personal_sign(epriv, wch, 32, sig));
    test_unhex(want_sig, 65, jstr(v, "workerApiChallenge.signature"));
    assert_memory_equal(sig, want_sig, 65);

    json_decref(v);
    json_decref(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eth_wallet_vector),   cmocka_unit_test(eth_eip55),
        cmocka_unit_test(eth_sign_recover),    cmocka_unit_test(eth_high_s_refused),
        cmocka_unit_test(eth_personal_digest), cmocka_unit_test(eth_poco_contribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
