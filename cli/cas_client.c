#include "cas_client.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casapi/casapi.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "identity/keystore.h"

cella_res cas_conn_open(cas_conn *c, const cli_opt *o, int n)
{
    memset(c, 0, sizeof *c);
    const char *url = cli_get(o, n, "cas"), *fp = cli_get(o, n, "cas-fingerprint");
    json_t *cfg = NULL;
    if (!url || !fp) {
        json_error_t je;
        cfg = json_load_file("cella.json", JSON_REJECT_DUPLICATES, &je);
        const json_t *cas = json_object_get(cfg, "cas");
        if (!url)
            url = json_string_value(json_object_get(cas, "url"));
        if (!fp)
            fp = json_string_value(json_object_get(cas, "fingerprint"));
    }
    cella_res r = CELLA_OK_RES;
    if (!url)
        r = cella_fail(CELLA_E_USAGE, "--cas", "no cas URL (give --cas URL, or run cella init --cas URL)");
    else if (strncmp(url, "https://", 8) || strlen(url) >= sizeof c->url)
        r = cella_fail(CELLA_E_USAGE, "--cas", "the cas URL must be https://HOST:PORT");
    else if (!fp || strlen(fp) != 64)
        r = cella_fail(CELLA_E_USAGE, "--cas-fingerprint",
                       "no pinned cas fingerprint (64 hex digits, printed by cas serve)");
    if (cella_ok(r)) {
        snprintf(c->url, sizeof c->url, "%s", url);
        snprintf(c->fingerprint, sizeof c->fingerprint, "%s", fp);
        c->http.base_url = c->url;
        c->http.pin = c->fingerprint;
    }
    json_decref(cfg);
    return r;
}

cella_res cas_conn_wallet(cas_conn *c, const cli_opt *o, int n)
{
    c->priv = cella_secure_alloc(32);
    CELLA_ENSURE(c->priv, CELLA_E_NOMEM, "wallet", "out of memory");
    return cli_wallet_open(o, n, c->priv, c->addr);
}

void cas_conn_close(cas_conn *c)
{
    if (c->priv)
        cella_secure_free(c->priv, 32);
    c->priv = NULL;
}

cella_res cas_call(cas_conn *c, const char *method, const char *path, cella_slice body, json_t **out)
{
    return cella_cas_call(&c->http, method, path, body, out);
}

cella_res cas_signed_call(cas_conn *c, const char *method, const char *path, cella_slice body,
                          const char *content_type, json_t **out)
{
    return cella_cas_signed_call(&c->http, c->priv, method, path, body, content_type, out);
}
