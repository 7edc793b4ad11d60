/* Fuzzes wallet JSON: V3 keystore parsing and checks (and a full decrypt when
 * the input asks for a cheap KDF), address peeking, and unencrypted wallets.
 * Invariant: a keystore that decrypts yields a valid key whose address matches
 * the one the file claims. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "identity/eth.h"
#include "identity/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t priv[32], addr[20];
    cella_keystore_info info;
    (void)cella_wallet_is_encrypted(data, size);
    (void)cella_wallet_peek_address(data, size, addr);
    if (cella_ok(cella_keystore_inspect(data, size, &info))) {
        bool cheap = info.kdf == CELLA_KDF_SCRYPT
                         ? info.scrypt_n * info.scrypt_r * info.scrypt_p <= 8192
                         : info.pbkdf2_c <= 1000;
        if (cheap && cella_ok(cella_keystore_decrypt(data, size, "pw", 2, priv, addr))) {
            uint8_t again[20];
            if (!cella_eth_privkey_valid(priv) ||
                !cella_ok(cella_eth_address_from_privkey(priv, again)) ||
                memcmp(again, addr, 20) != 0 ||
                (info.has_address && memcmp(info.address, addr, 20) != 0))
                __builtin_trap();
        }
    }
    if (cella_ok(cella_wallet_plain_decode(data, size, priv, addr))) {
        uint8_t again[20];
        if (!cella_ok(cella_eth_address_from_privkey(priv, again)) || memcmp(again, addr, 20))
            __builtin_trap();
    }
    return 0;
}
