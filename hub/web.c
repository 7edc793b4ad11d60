/* The hub's web page (hub/web.h); the read-only endpoints behind it are in
 * hub/web_api.c. */
#include "hub/web.h"
#include "identity/eth.h"

#include <jansson.h>
#include <string.h>

/* The page runs only its own files: no inline script or style, no other
 * origin, no framing, no forms posted anywhere. */
static const char *const g_page_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options", "nosniff",
    "X-Frame-Options", "DENY",
    "Referrer-Policy", "no-referrer",
    "Cache-Control", "no-cache",
    NULL,
};

static const hub_web_asset *asset_find(const char *path)
{
    for (size_t i = 0; i < hub_web_asset_count; i++)
        if (!strcmp(hub_web_assets[i].path, path))
            return &hub_web_assets[i];
    return NULL;
}

static void serve_asset(cella_http_req *req, const char *path)
{
    const hub_web_asset *a = asset_find(path);
    if (!a) {
        cella_http_error(req, 404, "not_found", "no such file: %s", path);
        return;
    }
    cella_http_reply_bytes(req, 200, a->type, a->data, a->len, g_page_headers);
}

bool hub_web_route(hub_store *st, hub_sms *sms, cella_http_req *req)
{
    const char *m = cella_http_method(req), *p = cella_http_path(req);
    bool get = !strcmp(m, "GET");
    bool page = !strcmp(p, "/") || !strncmp(p, "/ui/", 4);
    if (page && !get) {
        cella_http_error(req, 405, "method", "method %s not allowed on %s", m, p);
        return true;
    }
    if (page) {
        serve_asset(req, !strcmp(p, "/") ? "/ui/index.html" : p);
        return true;
    }
    if (!get)
        return false; /* POST /v1/apps (deploy), /v1/deals (match): the API */
    return hub_web_api_route(st, sms, req);
}
