/* The HTTP client of cella-runtime: http_client.h's calls over
 * net/tls_http.h (OpenSSL alone) instead of libcurl. Linked in place of
 * lib/net/http_client.c, which the lean binary never pulls in. */
#include "net/http_client.h"
#include "net/tls_http.h"

/* No pool: every call is a connection of its own (each cas call of an enclave
 * carries its own identity; libcurl never pooled those either). */
void *cella_http_pool_new(void) { return NULL; }

void cella_http_pool_free(void *pool) { (void)pool; }

cella_res cella_http_call(const cella_http_client *c, const char *method, const char *path,
                          const char *const *headers, cella_slice body, cella_http_response *resp)
{
    return cella_tls_http_call(c, method, path, headers, body, resp);
}
