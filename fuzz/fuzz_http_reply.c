/* The lean HTTP client's reply reader (lib/net/tls_http.c, over
 * nodejs/http-parser) on arbitrary server bytes: any reply is read whole,
 * refused, or cut at the cap, never past the buffer it was given. The first
 * byte picks the method (HEAD replies have no body) and a small cap. */
#include <openssl/bio.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/metrics.h"
#include "net/tls_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *method = data[0] & 1 ? "HEAD" : "GET";
    size_t max = data[0] & 2 ? 64 : 1u << 20;
    BIO *io = BIO_new_mem_buf(data + 1, (int)(size - 1));
    if (!io)
        return 0;
    cella_http_response resp = {0};
    cella_buf_init(&resp.body, true);
    bool keep = false;
    cella_res r = cella_http_read_reply(io, method, max, cella_monotonic_ns() + 5000000000u, "fuzz",
                                        &resp, &keep);
    if (cella_ok(r) && resp.body.len > max)
        abort();
    cella_error_clear();
    cella_http_response_free(&resp);
    BIO_free(io);
    return 0;
}
