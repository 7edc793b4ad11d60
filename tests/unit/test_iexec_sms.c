/* Unit tests for lib/iexec/sms: the SMS push challenge, known answers computed
 * with the iExec SDK's formula (src/common/sms/push.js) in ethers v6. */
#include <string.h>

#include "core/encoding.h"
#include "identity/eth.h"
#include "iexec/sms.h"
#include "testutil.h"

static void expect_challenge(const char *name, const char *value, const char *want_hex)
{
    uint8_t addr[20], got[32], want[32];
    assert_succeeds(
        cella_eth_address_parse(addr, "0x8A47E567694F32388fAf1023679d911b04fc75A0", "address"));
    assert_succeeds(cella_hex_decode(want, 32, want_hex, strlen(want_hex), "vector"));
    cella_iexec_sms_challenge(got, addr, name, cella_slice_of(value, strlen(value)));
    assert_memory_equal(got, want, 32);
}

static void sms_challenge_known_answers(void **state)
{
    (void)state;
    /* web3 (dataset key): no name part */
    expect_challenge(NULL, "PEM-A",
                     "8b4420ccfc5ec6ad15cca63a5934cb99d1e8ef1a0445bcab3cc41f2d92d05304");
    /* web2 (result key): keccak256(name) between address and value */
    expect_challenge(CELLA_IEXEC_RESULT_KEY_NAME, "PEM-A",
                     "88f84af6eead347c693e526016ce018f51c923bafe1e4863fd208979df3a2bb2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sms_challenge_known_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
