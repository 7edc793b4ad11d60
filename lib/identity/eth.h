/* Ethereum identities on secp256k1 (libsecp256k1 with its recovery module):
 * keys, addresses (last 20 bytes of keccak256 of the 64-byte public key),
 * EIP-55 checksummed address text, and 65-byte r||s||v signatures (v = 27/28)
 * over 32-byte digests, raw or EIP-191 personal_sign.
 *
 * Private keys are 32 bytes the caller keeps in secure memory; nothing here
 * keeps a copy after returning. Addresses and signatures are public. */
#ifndef CELLA_IDENTITY_ETH_H
#define CELLA_IDENTITY_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CELLA_ETH_PRIV_BYTES 32
#define CELLA_ETH_PUB_BYTES 64 /* uncompressed X||Y without the 0x04 prefix */
#define CELLA_ETH_ADDR_BYTES 20
#define CELLA_ETH_SIG_BYTES 65 /* r||s||v */
#define CELLA_ETH_ADDR_TEXT 43 /* "0x" + 40 digits + NUL */

/* True iff priv is a valid secp256k1 secret key (non-zero, below the order). */
bool cella_eth_privkey_valid(const uint8_t priv[32]);

/* Generates a fresh random private key (retrying the negligible invalid case). */
CELLA_RESULT cella_eth_privkey_generate(uint8_t priv[32]);

/* 64-byte uncompressed public key (no 0x04 prefix). */
CELLA_RESULT cella_eth_pubkey_from_privkey(const uint8_t priv[32], uint8_t pub[64]);

/* Address of a 64-byte public key: keccak256(pub)[12:32]. */
void cella_eth_address_from_pubkey(const uint8_t pub[64], uint8_t addr[20]);

CELLA_RESULT cella_eth_address_from_privkey(const uint8_t priv[32], uint8_t addr[20]);

/* EIP-55 mixed-case text "0x..." (42 characters and a NUL). */
void cella_eth_address_checksum(char out[43], const uint8_t addr[20]);

/* Parses "0x" + 40 hex digits (the "0x" is optional). All-lower or all-upper
 * digits are accepted as is; mixed case must be a valid EIP-55 checksum.
 * `what` names the field in errors. */
CELLA_RESULT cella_eth_address_parse(uint8_t addr[20], const char *text, const char *what);

/* Signs a 32-byte digest (RFC 6979 deterministic nonce, low-s). sig = r||s||v
 * with v = 27 + recovery id. */
CELLA_RESULT cella_eth_sign_digest(const uint8_t priv[32], const uint8_t digest[32],
                                   uint8_t sig[65]);

/* EIP-2098: 64-byte r || (yParity << 255 | s) to 65-byte r||s||v (v 27/28). */
void cella_eth_sig_from_compact(uint8_t sig[65], const uint8_t compact[64]);

/* Recovers the signer's address from a 65-byte signature over a digest.
 * v may be 27/28 or 0/1; high-s signatures are refused (as OpenZeppelin's
 * ECDSA.recover does). Fails with CELLA_E_AUTH on an invalid signature. */
CELLA_RESULT cella_eth_recover_digest(const uint8_t digest[32], const uint8_t sig[65],
                                      uint8_t addr[20]);

/* EIP-191 version 0x45 digest:
 * keccak256("\x19Ethereum Signed Message:\n" + decimal(n) + msg). */
void cella_eth_personal_digest(uint8_t digest[32], const void *msg, size_t n);

/* personal_sign / recover over an arbitrary message (for iExec, usually a
 * 32-byte hash passed as 32 raw bytes). */
CELLA_RESULT cella_eth_personal_sign(const uint8_t priv[32], const void *msg, size_t n,
                                     uint8_t sig[65]);
CELLA_RESULT cella_eth_personal_recover(const void *msg, size_t n, const uint8_t sig[65],
                                        uint8_t addr[20]);

/* Succeeds iff sig is a valid signature of digest by `expected`; otherwise
 * CELLA_E_AUTH naming both addresses. */
CELLA_RESULT cella_eth_verify_digest(const uint8_t digest[32], const uint8_t sig[65],
                                     const uint8_t expected[20], const char *what);

#endif
