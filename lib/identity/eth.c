/* Ethereum keys, addresses and signatures over libsecp256k1. */
#include "identity/eth.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "core/encoding.h"
#include "core/secure.h"
#include "identity/keccak.h"

/* One signing context per process, randomized once (blinding against side
 * channels); libsecp256k1 contexts are safe to share read-only across threads. */
static secp256k1_context *g_ctx;
static pthread_once_t g_ctx_once = PTHREAD_ONCE_INIT;

static void ctx_init(void)
{
    secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!c)
        return;
    uint8_t seed[32];
    if (cella_ok(cella_random(seed, sizeof seed)) && secp256k1_context_randomize(c, seed))
        g_ctx = c;
    else
        secp256k1_context_destroy(c);
    cella_wipe(seed, sizeof seed);
}

static cella_res get_ctx(const secp256k1_context **out)
{
    pthread_once(&g_ctx_once, ctx_init);
    CELLA_ENSURE(g_ctx != NULL, CELLA_E_CRYPTO, "secp256k1", "cannot create a context");
    *out = g_ctx;
    return CELLA_OK_RES;
}

bool cella_eth_privkey_valid(const uint8_t priv[32])
{
    return secp256k1_ec_seckey_verify(secp256k1_context_static, priv) == 1;
}

cella_res cella_eth_privkey_generate(uint8_t priv[32])
{
    for (int tries = 0; tries < 16; tries++) {
        CELLA_TRY(cella_random(priv, 32));
        if (cella_eth_privkey_valid(priv))
            return CELLA_OK_RES;
    }
    cella_wipe(priv, 32);
    return cella_fail(CELLA_E_CRYPTO, "secp256k1", "cannot generate a valid private key");
}

cella_res cella_eth_pubkey_from_privkey(const uint8_t priv[32], uint8_t pub[64])
{
    const secp256k1_context *ctx = NULL;
    CELLA_TRY(get_ctx(&ctx));
    secp256k1_pubkey pk;
    CELLA_ENSURE(secp256k1_ec_pubkey_create(ctx, &pk, priv) == 1, CELLA_E_PARSE, "private key",
                 "not a valid secp256k1 private key");
    uint8_t ser[65];
    size_t len = sizeof ser;
    CELLA_ENSURE(secp256k1_ec_pubkey_serialize(ctx, ser, &len, &pk, SECP256K1_EC_UNCOMPRESSED) ==
                         1 &&
                     len == 65,
                 CELLA_E_CRYPTO, "secp256k1", "cannot serialize a public key");
    memcpy(pub, ser + 1, 64);
    return CELLA_OK_RES;
}

void cella_eth_address_from_pubkey(const uint8_t pub[64], uint8_t addr[20])
{
    uint8_t h[32];
    cella_keccak256(h, pub, 64);
    memcpy(addr, h + 12, 20);
}

cella_res cella_eth_address_from_privkey(const uint8_t priv[32], uint8_t addr[20])
{
    uint8_t pub[64];
    CELLA_TRY(cella_eth_pubkey_from_privkey(priv, pub));
    cella_eth_address_from_pubkey(pub, addr);
    return CELLA_OK_RES;
}

/* EIP-55: hex digit i is upper case iff nibble i of keccak256(lowercase hex) >= 8. */
void cella_eth_address_checksum(char out[43], const uint8_t addr[20])
{
    char lower[41];
    uint8_t h[32];
    cella_hex_encode(lower, addr, 20, false);
    cella_keccak256(h, lower, 40);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        unsigned nib = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 15u);
        char ch = lower[i];
        if (ch >= 'a' && ch <= 'f' && nib >= 8)
            ch = (char)(ch - 'a' + 'A');
        out[2 + i] = ch;
    }
    out[42] = '\0';
}

cella_res cella_eth_address_parse(uint8_t addr[20], const char *text, const char *what)
{
    CELLA_ENSURE(text != NULL, CELLA_E_PARSE, what, "missing address");
    const char *digits = text;
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        digits += 2;
    size_t n = strlen(digits);
    CELLA_ENSURE(n == 40, CELLA_E_PARSE, what, "an address is 0x and 40 hex digits");
    CELLA_TRY(cella_hex_decode(addr, 20, digits, n, what));
    bool has_lower = false, has_upper = false;
    for (size_t i = 0; i < n; i++) {
        if (digits[i] >= 'a' && digits[i] <= 'f')
            has_lower = true;
        if (digits[i] >= 'A' && digits[i] <= 'F')
            has_upper = true;
    }
    if (has_lower && has_upper) {
        char want[43];
        cella_eth_address_checksum(want, addr);
        CELLA_ENSURE(memcmp(want + 2, digits, 40) == 0, CELLA_E_PARSE, what,
                     "bad EIP-55 address checksum (mixed case)");
    }
    return CELLA_OK_RES;
}

cella_res cella_eth_sign_digest(const uint8_t priv[32], const uint8_t digest[32], uint8_t sig[65])
{
    const secp256k1_context *ctx = NULL;
    CELLA_TRY(get_ctx(&ctx));
    secp256k1_ecdsa_recoverable_signature rs;
    CELLA_ENSURE(secp256k1_ecdsa_sign_recoverable(ctx, &rs, digest, priv, NULL, NULL) == 1,
                 CELLA_E_CRYPTO, "secp256k1", "signing failed (invalid private key?)");
    int recid = -1;
    CELLA_ENSURE(secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, &recid, &rs) ==
                         1 &&
                     (recid == 0 || recid == 1),
                 CELLA_E_CRYPTO, "secp256k1", "cannot serialize a signature");
    sig[64] = (uint8_t)(27 + recid);
    return CELLA_OK_RES;
}

void cella_eth_sig_from_compact(uint8_t sig[65], const uint8_t compact[64])
{
    memcpy(sig, compact, 64);
    sig[32] &= 0x7f;
    sig[64] = (uint8_t)(27 + (compact[32] >> 7));
}

cella_res cella_eth_recover_digest(const uint8_t digest[32], const uint8_t sig[65],
                                   uint8_t addr[20])
{
    const secp256k1_context *ctx = NULL;
    CELLA_TRY(get_ctx(&ctx));
    int v = sig[64];
    if (v >= 27)
        v -= 27;
    CELLA_ENSURE(v == 0 || v == 1, CELLA_E_AUTH, "signature", "invalid recovery byte v");
    secp256k1_ecdsa_recoverable_signature rs;
    CELLA_ENSURE(secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig, v) == 1,
                 CELLA_E_AUTH, "signature", "invalid signature encoding");
    secp256k1_ecdsa_signature plain;
    secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rs);
    CELLA_ENSURE(secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain) == 0, CELLA_E_AUTH,
                 "signature", "malleable signature (high s) refused");
    secp256k1_pubkey pk;
    CELLA_ENSURE(secp256k1_ecdsa_recover(ctx, &pk, &rs, digest) == 1, CELLA_E_AUTH, "signature",
                 "signature does not recover to a public key");
    uint8_t ser[65];
    size_t len = sizeof ser;
    CELLA_ENSURE(secp256k1_ec_pubkey_serialize(ctx, ser, &len, &pk, SECP256K1_EC_UNCOMPRESSED) ==
                         1 &&
                     len == 65,
                 CELLA_E_CRYPTO, "secp256k1", "cannot serialize a public key");
    cella_eth_address_from_pubkey(ser + 1, addr);
    return CELLA_OK_RES;
}

void cella_eth_personal_digest(uint8_t digest[32], const void *msg, size_t n)
{
    char prefix[64];
    int len = snprintf(prefix, sizeof prefix,
                       "\x19"
                       "Ethereum Signed Message:\n%zu",
                       n);
    cella_keccak_ctx c;
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, prefix, (size_t)len);
    cella_keccak256_update(&c, msg, n);
    cella_keccak256_final(&c, digest);
}

cella_res cella_eth_personal_sign(const uint8_t priv[32], const void *msg, size_t n,
                                  uint8_t sig[65])
{
    uint8_t d[32];
    cella_eth_personal_digest(d, msg, n);
    return cella_eth_sign_digest(priv, d, sig);
}

cella_res cella_eth_personal_recover(const void *msg, size_t n, const uint8_t sig[65],
                                     uint8_t addr[20])
{
    uint8_t d[32];
    cella_eth_personal_digest(d, msg, n);
    return cella_eth_recover_digest(d, sig, addr);
}

cella_res cella_eth_verify_digest(const uint8_t digest[32], const uint8_t sig[65],
                                  const uint8_t expected[20], const char *what)
{
    uint8_t got[20];
    cella_res r = cella_eth_recover_digest(digest, sig, got);
    if (!cella_ok(r)) {
        cella_error_set_where(what);
        return r;
    }
    if (memcmp(got, expected, 20) != 0) {
        char g[43], e[43];
        cella_eth_address_checksum(g, got);
        cella_eth_address_checksum(e, expected);
        return cella_fail(CELLA_E_AUTH, what, "signature is by %s, not by the expected signer %s",
                          g, e);
    }
    return CELLA_OK_RES;
}
