/* Fuzzes what crosses the worker's socketpair to its signer (core/privsep.h,
 * worker/signer.h): a whole frame (magic, version, op, id, length), then its
 * payload as a signer request or an error reply. Anything must be refused
 * cleanly; a request that parses must encode back to the same bytes (the
 * format has one spelling). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/privsep.h"
#include "worker/signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request(uint16_t op, cella_slice payload)
{
    cella_signer_req q;
    if (!cella_ok(cella_signer_req_parse(op, payload, &q)))
        return;
    uint8_t back[CELLA_PRIVSEP_MAX_PAYLOAD];
    size_t n = 0;
    if (!cella_ok(cella_signer_req_encode(&q, back, sizeof back, &n)) || n != payload.len ||
        (n && memcmp(back, payload.p, n) != 0))
        __builtin_trap();
    if (op == CELLA_SIGNER_SIGN_REQUEST)
        (void)cella_signer_path_allowed(q.method, q.path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cella_slice in = cella_slice_of(data, size);
    cella_frame f;
    if (cella_ok(cella_frame_parse(in, CELLA_SIGNER_MAGIC, CELLA_SIGNER_VERSION, &f))) {
        if (f.payload.len > CELLA_PRIVSEP_MAX_PAYLOAD)
            __builtin_trap();
        if (f.op == CELLA_PRIVSEP_OP_ERROR)
            (void)cella_frame_error_raise(f.payload, "fuzz");
        else
            request(f.op, f.payload);
    }
    /* the bytes as a bare payload too, for every op (the first byte picks it) */
    if (size > 0)
        request((uint16_t)(data[0] % 6), cella_slice_of(data + 1, size - 1));
    (void)cella_frame_error_raise(in, "fuzz");
    return 0;
}
