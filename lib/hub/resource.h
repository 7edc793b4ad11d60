/* The hub's registries' pure part: resource kinds, the resource record, and
 * its deterministic address. Used by the store and by clients that must find
 * an address before deploying (cella dataset push-secret, ...).
 *
 * Resource addresses are deterministic (like CREATE2):
 *     content = keccak256(kind || 0x00 || name || 0x00 || multiaddr || 0x00 || checksum32)
 *     address = keccak256(owner20 || content)[12:32]
 * where kind is "app", "dataset" or "workerpool" (ASCII), name and multiaddr
 * are UTF-8 without NUL, checksum32 the 32 raw bytes of the checksum (zero
 * when none). The NUL separators make the encoding unambiguous. The same owner
 * deploying the same content gets the same address back. */
#ifndef CELLA_HUB_RESOURCE_H
#define CELLA_HUB_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

#define HUB_NAME_MAX 255
#define HUB_MULTIADDR_MAX 2048
#define HUB_MEASUREMENT_MAX 128 /* hex digits */

typedef enum { HUB_APP, HUB_DATASET, HUB_WORKERPOOL, HUB_KIND__COUNT } hub_kind;

const char *hub_kind_name(hub_kind k); /* "app", "dataset", "workerpool" */
bool hub_kind_from_name(const char *name, hub_kind *k); /* also "apps", ... */

typedef struct {
    hub_kind kind;
    uint8_t address[20];
    uint8_t owner[20];
    char name[HUB_NAME_MAX + 1];
    char multiaddr[HUB_MULTIADDR_MAX + 1];
    uint8_t checksum[32];
    char measurement[HUB_MEASUREMENT_MAX + 1]; /* apps: lower-case hex, may be "" */
    int64_t created;
} hub_resource;

/* The deterministic address (formula above). */
void hub_resource_address(const hub_resource *r, uint8_t out[20]);

/* "0x..,0x.." (untrusted: a query string of the web page's GET /v1/names):
 * 1 to max addresses of 42 characters, comma separated, no empty item, into
 * out[0..*n). CELLA_E_PARSE naming "addresses" otherwise. */
CELLA_RESULT hub_address_list_parse(cella_slice text, uint8_t (*out)[20], size_t max, size_t *n);

#endif
