/* Unit tests for lib/identity/keccak: Ethereum Keccak-256 known answers
 * (including multi-block inputs from the iExec vectors) and incremental use. */
#include <string.h>

#include "core/encoding.h"
#include "identity/keccak.h"
#include "testutil.h"

static void expect_hash(const void *msg, size_t n, const char *want_hex)
{
    uint8_t got[32], want[32];
    assert_succeeds(cella_hex_decode(want, 32, want_hex, strlen(want_hex), "vector"));
    cella_keccak256(got, msg, n);
    assert_memory_equal(got, want, 32);
}

static void keccak_known_answers(void **state)
{
    (void)state;
    expect_hash("", 0, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    expect_hash("abc", 3, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    const char *fox = "The quick brown fox jumps over the lazy dog";
    expect_hash(fox, strlen(fox),
                "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
    /* ERC-20 transfer selector source */
    const char *sel = "transfer(address,uint256)";
    expect_hash(sel, strlen(sel),
                "a9059cbb2ab09eb219583f4a59a5d0623ade346d962bcd4e46b11da047c9049b");
    /* EIP-712 type strings and type hashes recorded from the iExec SDK */
    const char *dom =
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
    expect_hash(dom, strlen(dom),
                "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f");
    /* 258 bytes: two blocks */
    const char *req =
        "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,"
        "address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 "
        "tag,uint256 category,uint256 trust,address beneficiary,address callback,string "
        "params,bytes32 salt)";
    assert_true(strlen(req) > CELLA_KECCAK256_RATE);
    expect_hash(req, strlen(req),
                "f24e853034a3a450aba845a82914fbb564ad85accca6cf62be112a154520fae0");
}

/* Not SHA3-256: the padding differs. */
static void keccak_is_not_sha3(void **state)
{
    (void)state;
    uint8_t got[32], sha3_empty[32];
    const char *h = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";
    assert_succeeds(cella_hex_decode(sha3_empty, 32, h, strlen(h), "vector"));
    cella_keccak256(got, "", 0);
    assert_memory_not_equal(got, sha3_empty, 32);
}

/* Every split of inputs around the block boundary gives the one-shot hash. */
static void keccak_incremental(void **state)
{
    (void)state;
    uint8_t buf[3 * CELLA_KECCAK256_RATE + 7];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    size_t lens[] = {0, 1, 135, 136, 137, 271, 272, 273, sizeof buf};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        uint8_t one[32];
        cella_keccak256(one, buf, n);
        for (size_t cut = 0; cut <= n; cut += (n > 20 ? 17 : 1)) {
            cella_keccak_ctx c;
            uint8_t two[32];
            cella_keccak256_init(&c);
            cella_keccak256_update(&c, buf, cut);
            cella_keccak256_update(&c, buf + cut, n - cut);
            cella_keccak256_final(&c, two);
            assert_memory_equal(one, two, 32);
        }
        /* byte by byte */
        cella_keccak_ctx c;
        uint8_t three[32];
        cella_keccak256_init(&c);
        for (size_t i = 0; i < n; i++)
            cella_keccak256_update(&c, buf + i, 1);
        cella_keccak256_final(&c, three);
        assert_memory_equal(one, three, 32);
    }
    /* different lengths give different hashes (padding is unambiguous) */
    uint8_t a[32], b[32];
    uint8_t z[CELLA_KECCAK256_RATE] = {0};
    cella_keccak256(a, z, CELLA_KECCAK256_RATE - 1);
    cella_keccak256(b, z, CELLA_KECCAK256_RATE);
    assert_memory_not_equal(a, b, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keccak_known_answers),
        cmocka_unit_test(keccak_is_not_sha3),
        cmocka_unit_test(keccak_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
