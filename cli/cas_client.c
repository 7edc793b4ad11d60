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
#include "project.h"

cella_res cas_conn_open(cas_conn *c, const cli_opt *o, int n)
{
    memset(c, 0, sizeof *c);
    json_t *cfg = NULL;
    if (!cli_get(o, n, "cas") || !cli_get(o, n, "cas-fingerprint")) {
        json_error_t je;
        cfg = json_load_file("cella.json", JSON_REJECT_DUPLICATES, &je);
    }
    const json_t *cas = json_object_get(cfg, "cas");
    cella_res r = cli_list_setting(o, n, "cas", json_object_get(cas, "url"), "cella.json cas.url",
                                   c->url, sizeof c->url);
    if (cella_ok(r))
        r = cli_list_setting(o, n, "cas-fingerprint", json_object_get(cas, "fingerprint"),
                             "cella.json cas.fingerprint", c->fingerprint, sizeof c->fingerprint);
    json_decref(cfg);
    CELLA_TRY(r);
    CELLA_ENSURE(c->url[0], CELLA_E_USAGE, "--cas",
                 "no cas URL (give --cas URL, or run cella init --cas URL)");
    const cella_endpoints_spec spec = {"cas", "--cas", "--cas-fingerprint", true};
    CELLA_TRY(cella_endpoints_parse(&c->ep, c->url, c->fingerprint, &spec));
    const char *bare = cella_endpoints_unpinned(&c->ep);
    CELLA_ENSURE(!bare, CELLA_E_USAGE, "--cas-fingerprint",
                 "no pinned cas fingerprint for %s (64 hex digits, printed by cas serve)", bare);
    c->http.endpoints = &c->ep;
    c->http.base_url = c->ep.at[0].url;
    c->http.pin = c->ep.at[0].pin;
    return CELLA_OK_RES;
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
