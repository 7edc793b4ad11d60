/* The hub's web page: the marketplace (apps, datasets, workerpools, the order
 * book, deals, tasks) as a single-page app in web/, compiled into the binary,
 * and the read-only list endpoints it needs. docs/hub-api.md, "The web page". */
#ifndef CELLA_HUB_WEB_H
#define CELLA_HUB_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "hub/sms_check.h"
#include "hub/store.h"
#include "net/http_server.h"

typedef struct {
    const char *path; /* "/ui/app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} hub_web_asset;

/* Generated at build time from web/ (web/embed.cmake). */
extern const hub_web_asset hub_web_assets[];
extern const size_t hub_web_asset_count;

/* Answers the page (GET /, /ui/...) and the read-only endpoints of
 * hub_web_api_route; false if the request is none of these (the caller
 * routes it). */
bool hub_web_route(hub_store *st, hub_sms *sms, cella_http_req *req);
/* GET only (hub/web_api.c): the lists (/v1/apps, /v1/datasets,
 * /v1/workerpools, /v1/deals[?app=|dataset=|workerpool=|account=]),
 * /v1/names, /v1/search, /v1/deals/ID/tasks, /v1/workerpools/ADDR/tasks,
 * /v1/accounts/ADDR/orders, /v1/accounts/ADDR/tasks and /v1/datasets/ADDR/key
 * (whether its key is in the SMS: asked of cas through `sms`, NULL when the
 * hub has no cas). */
bool hub_web_api_route(hub_store *st, hub_sms *sms, cella_http_req *req);
/* GET /v1/datasets/ID/key (hub/web_key.c): {"dataset", "keyInSms": true,
 * false or null (unknown, with "reason"), "checkedAt"}. */
void hub_web_dataset_key(hub_store *st, hub_sms *sms, cella_http_req *req, const char *id);

#endif
