/* Keccak-256 sponge over nettle's Keccak-f[1600]. Rate 136 bytes, capacity 64,
 * padding 0x01 ... 0x80 (original Keccak, as Ethereum uses). */
#include "identity/keccak.h"

#include <string.h>

#include <nettle/sha3.h>

#include "core/secure.h"

_Static_assert(sizeof(struct sha3_state) == 25 * sizeof(uint64_t), "nettle sha3_state layout");

static uint64_t load64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* XORs one full rate block into the state and permutes. */
static void absorb_block(cella_keccak_ctx *c, const uint8_t block[CELLA_KECCAK256_RATE])
{
    struct sha3_state st;
    for (int i = 0; i < CELLA_KECCAK256_RATE / 8; i++)
        c->a[i] ^= load64le(block + 8 * i);
    memcpy(st.a, c->a, sizeof st.a);
    sha3_permute(&st);
    memcpy(c->a, st.a, sizeof st.a);
    cella_wipe(&st, sizeof st);
}

void cella_keccak256_init(cella_keccak_ctx *c) { memset(c, 0, sizeof *c); }

void cella_keccak256_update(cella_keccak_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (n == 0)
        return;
    if (c->index > 0) {
        size_t take = CELLA_KECCAK256_RATE - c->index;
        if (take > n)
            take = n;
        memcpy(c->block + c->index, p, take);
        c->index += (unsigned)take;
        p += take;
        n -= take;
        if (c->index < CELLA_KECCAK256_RATE)
            return;
        absorb_block(c, c->block);
        c->index = 0;
    }
    while (n >= CELLA_KECCAK256_RATE) {
        absorb_block(c, p);
        p += CELLA_KECCAK256_RATE;
        n -= CELLA_KECCAK256_RATE;
    }
    memcpy(c->block, p, n);
    c->index = (unsigned)n;
}

void cella_keccak256_final(cella_keccak_ctx *c, uint8_t out[32])
{
    memset(c->block + c->index, 0, CELLA_KECCAK256_RATE - c->index);
    c->block[c->index] ^= 0x01;
    c->block[CELLA_KECCAK256_RATE - 1] ^= 0x80;
    absorb_block(c, c->block);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            out[8 * i + j] = (uint8_t)(c->a[i] >> (8 * j));
    cella_wipe(c, sizeof *c);
}

void cella_keccak256(uint8_t out[32], const void *data, size_t n)
{
    cella_keccak_ctx c;
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, data, n);
    cella_keccak256_final(&c, out);
}
