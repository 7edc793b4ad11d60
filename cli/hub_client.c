/* The hub client shared by the hub verbs (see hub_client.h). */
#include "hub_client.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casapi/casapi.h"
#include "people.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "hub/match.h"
#include "identity/eth.h"
#include "identity/wallet.h"

cella_res cli_read_json_object(const char *path, size_t max, json_t **out)
{
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, max, false, &data, &len));
    json_error_t je;
    *out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    free(data);
    if (*out && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
    }
    CELLA_ENSURE(*out, CELLA_E_PARSE, path, "not a JSON object%s%s", je.text[0] ? ": " : "",
                 je.text);
    return CELLA_OK_RES;
}


/* --hub-url, else cella.json "hubUrl", else http://127.0.0.1:8080; an
 * https:// hub pinned by --hub-fingerprint, else "hubFingerprint". */
cella_res hub_conn_open(hub_conn *c, const cli_opt *o, int n)
{
    memset(c, 0, sizeof *c);
    return cli_hub_open(o, n, &c->hub);
}

cella_res hub_conn_wallet(hub_conn *c, const cli_opt *o, int n)
{
    c->priv = cella_secure_alloc(32);
    CELLA_ENSURE(c->priv, CELLA_E_NOMEM, "wallet", "out of memory");
    return cli_wallet_open(o, n, c->priv, c->addr);
}

void hub_conn_close(hub_conn *c)
{
    if (c->priv)
        cella_secure_free(c->priv, 32);
    c->priv = NULL;
}

cella_res hub_conn_call(hub_conn *c, const char *method, const char *path, const json_t *body,
                      bool sign, json_t **out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    CELLA_ENSURE(!body || text, CELLA_E_NOMEM, path, "out of memory");
    cella_slice b = cella_slice_of(text ? text : "", text ? strlen(text) : 0);
    cella_res r = sign ? cella_cas_signed_call(&c->hub.http, c->priv, method, path, b,
                                               "application/json", out)
                       : cella_cas_call(&c->hub.http, method, path, b, out);
    free(text);
    return r;
}

cella_res hub_domain_get(const cli_hub *hub, cella_domain *d)
{
    json_t *h = NULL;
    CELLA_TRY(cella_cas_call(&hub->http, "GET", "/v1/health", cella_slice_of("", 0), &h));
    d->chain_id = (uint64_t)json_integer_value(json_object_get(h, "chainId"));
    const char *addr = json_string_value(json_object_get(h, "hub"));
    cella_res r = cella_eth_address_parse(d->hub, addr ? addr : "", "hub");
    json_decref(h);
    return r;
}

void cli_print_json(const json_t *j)
{
    if (cli_for_people()) {
        cli_print_people(stdout, j);
        return;
    }
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (t)
        printf("%s\n", t);
    free(t);
}

/* GET path from the hub (--hub-url) and print the reply. */
cella_res hub_get_print(const cli_opt *o, int n, const char *path)
{
    hub_conn c;
    json_t *reply = NULL;
    CELLA_TRY(hub_conn_open(&c, o, n));
    cella_res r = hub_conn_call(&c, "GET", path, NULL, false, &reply);
    if (cella_ok(r))
        cli_print_json(reply);
    json_decref(reply);
    return r;
}

cella_res cli_parse_u64(const char *s, const char *what, uint64_t *out)
{
    uint8_t w[32];
    CELLA_TRY(cella_u256_parse(s, w, what));
    CELLA_ENSURE(hub_u256_to_u64(w, out), CELLA_E_USAGE, what, "too large");
    return CELLA_OK_RES;
}

cella_res cli_hash_arg(const char *s, const char *what, char out[67])
{
    uint8_t h[32];
    CELLA_TRY(cella_hex_decode(h, 32, s, strlen(s), what));
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, h, 32, false);
    return CELLA_OK_RES;
}

/* GET /v1/<what>/<ID> and print it. */
int hub_show_by_id(int argc, char **argv, const char *verb, const char *what)
{
    cli_opt o[] = {HUB_URL_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb);
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, verb, "usage: cella %s ID", verb);
    char id[67], path[128];
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "id", id);
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/%s/%s", what, id);
        r = hub_get_print(o, NOPTS(o), path);
    }
    return cli_report(r);
}

/* A verb of one argument (*arg), signed by the wallet: the hub connection
 * and the wallet opened in c (conn_close it in any case). */
cella_res hub_signed_one_arg(int argc, char **argv, const char *verb, const char *usage,
                                hub_conn *c, const char **arg)
{
    cli_opt o[] = {HUB_CONN_OPTS};
    const char *pos[1];
    int np;
    memset(c, 0, sizeof *c);
    CELLA_TRY(cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, verb));
    CELLA_ENSURE(np == 1, CELLA_E_USAGE, verb, "usage: cella %s", usage);
    *arg = pos[0];
    CELLA_TRY(hub_conn_open(c, o, NOPTS(o)));
    return hub_conn_wallet(c, o, NOPTS(o));
}
