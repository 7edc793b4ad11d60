/* Ethereum's Keccak-256: the original Keccak submission (padding byte 0x01),
 * not FIPS 202 SHA3-256 (padding 0x06). Built on nettle's Keccak-f[1600]
 * permutation; only the sponge (absorb, pad, squeeze) is written here. */
#ifndef CELLA_IDENTITY_KECCAK_H
#define CELLA_IDENTITY_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define CELLA_KECCAK256_BYTES 32
#define CELLA_KECCAK256_RATE 136 /* bytes absorbed per permutation */

/* Incremental hashing, for data that arrives in pieces. */
typedef struct {
    uint64_t a[25];
    uint8_t block[CELLA_KECCAK256_RATE];
    unsigned index;
} cella_keccak_ctx;

void cella_keccak256_init(cella_keccak_ctx *c);
void cella_keccak256_update(cella_keccak_ctx *c, const void *data, size_t n);
/* Writes the digest and wipes the context. */
void cella_keccak256_final(cella_keccak_ctx *c, uint8_t out[32]);

/* One-shot Keccak-256 of n bytes. */
void cella_keccak256(uint8_t out[32], const void *data, size_t n);

#endif
