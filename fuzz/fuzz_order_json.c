/* Fuzzes order JSON: files of one order, keyed orders, orders.json keyed by
 * chain id, and templates. Invariants: whatever parses re-encodes (SDK JSON)
 * to an order with the same struct hash, and verification never crashes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/eip712.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const cella_order *o)
{
    uint8_t h1[32], h2[32];
    cella_order_struct_hash(o, h1);
    json_t *j = cella_order_to_json(o);
    if (!j)
        __builtin_trap();
    cella_order back;
    if (!cella_ok(cella_order_from_json(j, o->kind, true, &back)))
        __builtin_trap();
    cella_order_struct_hash(&back, h2);
    if (memcmp(h1, h2, 32) != 0 || back.has_sign != o->has_sign ||
        (o->has_sign && memcmp(back.sign, o->sign, 65) != 0))
        __builtin_trap();
    cella_order_free(&back);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cella_domain d = {421614, {0xb2, 0x15, 0x7b}};
    for (int templates = 0; templates < 2; templates++) {
        cella_order_set set;
        uint64_t chain = 0;
        if (!cella_ok(cella_orders_parse(data, size, templates, &chain, &set)))
            continue;
        for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
            if (!set.present[k])
                continue;
            uint8_t h[32], who[20];
            cella_order_hash(&d, &set.o[k], h);
            (void)cella_order_verify(&d, &set.o[k], NULL, who);
            round_trip(&set.o[k]);
        }
        cella_order_set_free(&set);
    }
    return 0;
}
