#include "project.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "identity/eth.h"

#define PROJECT_MAX (1u << 20)

cella_res cli_project_load(json_t **out)
{
    struct stat st;
    *out = NULL;
    if (stat(CLI_PROJECT_FILE, &st) != 0) {
        *out = json_object();
        CELLA_ENSURE(*out, CELLA_E_NOMEM, CLI_PROJECT_FILE, "out of memory");
        return CELLA_OK_RES;
    }
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, CLI_PROJECT_FILE, PROJECT_MAX, false, &data, &len));
    json_error_t err;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
    free(data);
    if (!json_is_object(j)) {
        json_decref(j);
        return cella_fail(CELLA_E_PARSE, CLI_PROJECT_FILE, "not a JSON object%s%s", j ? "" : ": ",
                          j ? "" : err.text);
    }
    *out = j;
    return CELLA_OK_RES;
}

cella_res cli_project_save(const json_t *conf)
{
    char *text = json_dumps(conf, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    CELLA_ENSURE(text, CELLA_E_NOMEM, CLI_PROJECT_FILE, "cannot serialise");
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (!withnl) {
        free(text);
        return cella_fail(CELLA_E_NOMEM, CLI_PROJECT_FILE, "out of memory");
    }
    withnl[n] = '\n';
    cella_res r = cella_write_file_atomic(AT_FDCWD, CLI_PROJECT_FILE, withnl, n + 1, 0644, false);
    free(withnl);
    return r;
}

cella_res cli_project_url(const cli_opt *o, int n, const char *opt, const char *key,
                          const char *dflt, char *out, size_t cap)
{
    const char *url = cli_get(o, n, opt);
    json_t *conf = NULL;
    if (!url) {
        CELLA_TRY(cli_project_load(&conf));
        url = json_string_value(json_object_get(conf, key));
    }
    if (!url)
        url = dflt;
    cella_res r = strlen(url) < cap ? CELLA_OK_RES
                                    : cella_fail(CELLA_E_USAGE, opt, "the URL is too long");
    if (cella_ok(r)) {
        snprintf(out, cap, "%s", url);
        size_t l = strlen(out);
        while (l > 1 && out[l - 1] == '/')
            out[--l] = '\0';
    }
    json_decref(conf);
    return r;
}

cella_res cli_project_deployed(const char *kind, const char *instead, char out[43])
{
    json_t *proj = NULL;
    CELLA_TRY(cli_project_load(&proj));
    const char *d = json_string_value(json_object_get(json_object_get(proj, "deployed"), kind));
    uint8_t a[20];
    cella_res r = d ? cella_eth_address_parse(a, d, CLI_PROJECT_FILE " deployed")
                    : cella_fail(CELLA_E_USAGE, kind, "no %s given and none deployed in ./%s (%s)",
                                 kind, CLI_PROJECT_FILE, instead);
    if (cella_ok(r))
        cella_eth_address_checksum(out, a);
    json_decref(proj);
    return r;
}

cella_res cli_hub_pin(const char *url, const char *fp, const char *url_opt, char out[65])
{
    out[0] = '\0';
    bool https = !strncmp(url, "https://", 8) && strlen(url) > 8;
    CELLA_ENSURE(https || (!strncmp(url, "http://", 7) && strlen(url) > 7), CELLA_E_USAGE,
                 url_opt, "the hub URL must be http://HOST:PORT or https://HOST:PORT");
    if (!https) {
        CELLA_ENSURE(!fp, CELLA_E_USAGE, "--hub-fingerprint",
                     "only for an https:// hub (the hub URL is %s)", url);
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(fp, CELLA_E_USAGE, "--hub-fingerprint",
                 "an https:// hub needs its pinned fingerprint (64 hex digits, printed by hub "
                 "serve --tls)%s",
                 strcmp(url_opt, "--hub-url") ? "" : ": --hub-fingerprint or \"hubFingerprint\" in "
                                                     CLI_PROJECT_FILE);
    uint8_t pin[32];
    CELLA_TRY(cella_hex_decode(pin, 32, fp, strlen(fp), "--hub-fingerprint"));
    cella_hex_encode(out, pin, 32, false);
    return CELLA_OK_RES;
}

cella_res cli_hub_open(const cli_opt *o, int n, cli_hub *h)
{
    memset(h, 0, sizeof *h);
    CELLA_TRY(cli_project_url(o, n, "hub-url", "hubUrl", CLI_DEFAULT_HUB_URL, h->url,
                              sizeof h->url));
    const char *fp = cli_get(o, n, "hub-fingerprint");
    json_t *conf = NULL;
    /* cella.json's pin serves an https:// hub; a flag is checked either way */
    if (!fp && !strncmp(h->url, "https://", 8)) {
        CELLA_TRY(cli_project_load(&conf));
        fp = json_string_value(json_object_get(conf, "hubFingerprint"));
    }
    cella_res r = cli_hub_pin(h->url, fp, "--hub-url", h->fingerprint);
    json_decref(conf);
    h->http.base_url = h->url;
    h->http.pin = h->fingerprint[0] ? h->fingerprint : NULL;
    return r;
}
