/* libcurl, loaded when a transfer first needs it (core/dl.h): the blob
 * client's streamed uploads and downloads (blobs/client.c, any http(s)
 * location, CA-verified) and the PCCS client (evidence/pccs.c).
 *
 * Why not linked: libcurl brings about 25 shared libraries (nghttp2, idn2,
 * rtmp, gnutls, ssh2, psl, Kerberos, LDAP, SASL, brotli...), whose loading
 * cost every `cella` start more than a whole request to a local server; the
 * requests to our own servers go over net/tls_http.c instead. */
#ifndef CELLA_NET_CURL_LIB_H
#define CELLA_NET_CURL_LIB_H

/* curl_easy_setopt is a type-checking macro otherwise, which would also
 * rewrite the table's field of that name. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "core/dl.h"
#include "core/error.h"

#define CELLA_CURL_FUNCS(X)                                                                     \
    X(curl_global_init)                                                                         \
    X(curl_easy_init)                                                                           \
    X(curl_easy_setopt)                                                                         \
    X(curl_easy_perform)                                                                        \
    X(curl_easy_getinfo)                                                                        \
    X(curl_easy_cleanup)                                                                        \
    X(curl_easy_strerror)                                                                       \
    X(curl_slist_append)                                                                        \
    X(curl_slist_free_all)

typedef struct {
    CELLA_CURL_FUNCS(CELLA_DL_FIELD)
} cella_curl_lib;

/* The process's table, loaded and curl_global_init'ed on first use
 * (thread-safe, never unloaded). Fails with CELLA_E_UNSUPPORTED naming the
 * library when it cannot be loaded or lacks a function. */
CELLA_RESULT cella_curl_lib_get(const cella_curl_lib **lib);

/* Loads `soname` into `lib` (no caching, no global init): for tests. */
CELLA_RESULT cella_curl_lib_load(const char *soname, cella_curl_lib *lib);

#endif
