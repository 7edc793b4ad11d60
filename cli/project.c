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

cella_res cli_list_setting(const cli_opt *o, int n, const char *opt, const json_t *v,
                           const char *what, char *out, size_t cap)
{
    const char *given = cli_get(o, n, opt);
    if (!given)
        return cella_endpoints_json_text(v, what, out, cap);
    CELLA_ENSURE(strlen(given) < cap, CELLA_E_USAGE, opt, "too long");
    snprintf(out, cap, "%s", given);
    return CELLA_OK_RES;
}

cella_res cli_project_urls(const cli_opt *o, int n, const char *opt, const char *key,
                           const char *dflt, char *out, size_t cap)
{
    json_t *conf = NULL;
    cella_res r = cli_get(o, n, opt) ? CELLA_OK_RES : cli_project_load(&conf);
    if (cella_ok(r))
        r = cli_list_setting(o, n, opt, json_object_get(conf, key), CLI_PROJECT_FILE, out, cap);
    json_decref(conf);
    CELLA_TRY(r);
    if (!out[0]) {
        CELLA_ENSURE(strlen(dflt) < cap, CELLA_E_USAGE, opt, "the URL is too long");
        snprintf(out, cap, "%s", dflt);
    }
    return CELLA_OK_RES;
}

json_t *cli_project_list(const char *text)
{
    if (!strchr(text, ','))
        return json_string(text);
    json_t *a = json_array();
    char item[CELLA_ENDPOINT_URL_MAX];
    bool too_long;
    while (a && cella_list_next(&text, item, sizeof item, &too_long))
        if (too_long || json_array_append_new(a, json_string(item)) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

cella_res cli_hub_endpoints(const char *urls, const char *pins, const char *url_opt,
                            cella_endpoints *e)
{
    const cella_endpoints_spec spec = {"hub", url_opt, "--hub-fingerprint", false};
    CELLA_TRY(cella_endpoints_parse(e, urls, pins, &spec));
    const char *bare = cella_endpoints_unpinned(e);
    CELLA_ENSURE(!bare, CELLA_E_USAGE, "--hub-fingerprint",
                 "an https:// hub (%s) needs its pinned fingerprint (64 hex digits, printed by hub "
                 "serve --tls)%s",
                 bare, strcmp(url_opt, "--hub-url") ? "" : ": --hub-fingerprint or \"hubFingerprint\" in "
                                                       CLI_PROJECT_FILE);
    return CELLA_OK_RES;
}

cella_res cli_hub_open(const cli_opt *o, int n, cli_hub *h)
{
    memset(h, 0, sizeof *h);
    CELLA_TRY(cli_project_urls(o, n, "hub-url", "hubUrl", CLI_DEFAULT_HUB_URL, h->url,
                               sizeof h->url));
    const char *fp = cli_get(o, n, "hub-fingerprint");
    cella_res r = CELLA_OK_RES;
    if (fp && strlen(fp) >= sizeof h->fingerprint)
        r = cella_fail(CELLA_E_USAGE, "--hub-fingerprint", "too long");
    else if (fp)
        snprintf(h->fingerprint, sizeof h->fingerprint, "%s", fp);
    else if (strstr(h->url, "https://")) {
        /* cella.json's pins serve an https:// hub; a flag is checked either way */
        json_t *conf = NULL;
        r = cli_project_load(&conf);
        if (cella_ok(r))
            r = cella_endpoints_json_text(json_object_get(conf, "hubFingerprint"),
                                          CLI_PROJECT_FILE " hubFingerprint", h->fingerprint,
                                          sizeof h->fingerprint);
        json_decref(conf);
    }
    if (cella_ok(r))
        r = cli_hub_endpoints(h->url, h->fingerprint, "--hub-url", &h->ep);
    h->http.endpoints = &h->ep;
    h->http.base_url = h->ep.at[0].url;
    h->http.pin = h->ep.at[0].pin[0] ? h->ep.at[0].pin : NULL;
    return r;
}
