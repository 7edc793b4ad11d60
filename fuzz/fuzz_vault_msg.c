/* Fuzzes the cas vault's message parser (lib/vault/vault_msg.c), which the
 * vault runs on every request from the network process and the network
 * process on every reply. The input is tried as a header, as a request and as
 * a reply. Invariant: whatever parses re-encodes to exactly the same bytes
 * (one encoding per message: no slack for smuggled bytes). */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const uint8_t *data, size_t size, bool reply)
{
    cella_vault_msg m;
    if (!cella_ok(cella_vault_parse(cella_slice_of(data, size), reply, &m)))
        return;
    cella_buf out;
    cella_buf_init(&out, false);
    cella_vault_encode(&out, &m);
    if (!cella_ok(cella_buf_result(&out)) || out.len != size ||
        __builtin_memcmp(out.p, data, size) != 0)
        __builtin_trap();
    cella_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t rest;
    if (size >= CELLA_VAULT_HDR)
        (void)cella_vault_header(cella_slice_of(data, CELLA_VAULT_HDR), false, &rest);
    roundtrip(data, size, false);
    roundtrip(data, size, true);
    return 0;
}
