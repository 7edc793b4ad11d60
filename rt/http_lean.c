/* The HTTP client of cella-runtime: http_client.h's calls over
 * net/tls_http.h (OpenSSL alone) instead of libcurl. Linked in place of
 * lib/net/http_client.c, which the lean binary never pulls in. */
#include "net/http_client.h"
#include "net/tls_http.h"

/* The pool keeps the attested connection for the tag push (tls_http.h). */
void *cella_http_pool_new(void) { return cella_tls_pool_new(); }

void cella_http_pool_free(void *pool) { cella_tls_pool_free(pool); }

cella_res cella_http_call(const cella_http_client *c, const char *method, const char *path,
                          const char *const *headers, cella_slice body, cella_http_response *resp)
{
    return cella_tls_http_call(c, method, path, headers, body, resp);
}
