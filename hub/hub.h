/* cella hub: the marketplace (iExec's PoCo off chain): registries, the order
 * book, matchOrders, deals, tasks and accounts. HTTP API: docs/hub-api.md. */
#ifndef CELLA_HUB_HUB_H
#define CELLA_HUB_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef struct {
    const char *listen;   /* default 127.0.0.1:8080 */
    const char *data_dir; /* the database (hub.db) */
    const char *db;       /* NULL: DATA/hub.db; sqlite:PATH or postgres://... (store/db.h) */
    uint64_t chain_id;    /* EIP-712 domain of orders (default 421614) */
    uint8_t hub[20];      /* verifyingContract of the domain */
    bool dev_faucet;      /* POST /v1/accounts/deposit credits anyone (development) */
    uint64_t dev_timeref; /* development: every category's timeref, seconds (0: PoCo's) */
    unsigned threads;
    /* HTTPS (TLS 1.3) with the identity of data_dir (tls.key, tls.crt, made at
     * first start as cas does: lib/net/http_server.h cella_tls_server_ctx) */
    bool tls;
    /* optional: the cas whose SMS the web page asks whether a dataset's key
     * is there (hub/sms_check.h): its URLs and pins, as the worker's --cas */
    const char *cas_urls;
    const char *cas_pins;
} hub_options;

/* Runs the server until SIGINT/SIGTERM; prints "hub listening on
 * http(s)://..." once listening, and with TLS "fingerprint HEX" (the SHA-256
 * of the server's SubjectPublicKeyInfo, what clients pin). */
CELLA_RESULT hub_serve(const hub_options *o);

#endif
