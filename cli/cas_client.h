/* Client side of the cas API for the CLI: where the cas is (flags, else
 * cella.json), the wallet that signs requests, and signed calls. */
#ifndef CELLA_CLI_CAS_CLIENT_H
#define CELLA_CLI_CAS_CLIENT_H

#include <jansson.h>

#include "args.h"
#include "net/http_client.h"
#include "wallet_opts.h"

typedef struct {
    char url[CELLA_ENDPOINTS_TEXT_MAX];         /* the URLs as given (one, or several) */
    char fingerprint[CELLA_ENDPOINTS_TEXT_MAX]; /* their pins as given */
    cella_endpoints ep;
    uint8_t *priv;  /* wallet key (secure memory), NULL until loaded */
    uint8_t addr[20];
    cella_http_client http; /* fails over between ep's replicas (net/endpoints.h) */
} cas_conn;

/* Options every cas verb accepts; append these to a verb's option table. */
#define CAS_CONN_OPTS {"cas", true, NULL}, {"cas-fingerprint", true, NULL}, CLI_WALLET_OPTS

/* Resolves the cas URLs and pins from --cas/--cas-fingerprint or ./cella.json
 * ({"cas": {"url": ..., "fingerprint": ...}}): one https:// URL, or several
 * replicas (commas; in cella.json an array), with one pin for all or one per
 * URL. The client's strings point into *c: use c in place. */
CELLA_RESULT cas_conn_open(cas_conn *c, const cli_opt *o, int n);
/* Loads the signing wallet (wallet_opts.h). */
CELLA_RESULT cas_conn_wallet(cas_conn *c, const cli_opt *o, int n);
void cas_conn_close(cas_conn *c);

/* A request signed by the wallet over a fresh cas challenge. On 2xx, *out is
 * the JSON reply (caller owns); otherwise the server's reason is the error. */
CELLA_RESULT cas_signed_call(cas_conn *c, const char *method, const char *path, cella_slice body,
                             const char *content_type, json_t **out);
/* An unsigned call (nonces, health). */
CELLA_RESULT cas_call(cas_conn *c, const char *method, const char *path, cella_slice body,
                      json_t **out);

#endif
