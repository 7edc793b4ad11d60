#include "hub/resource.h"

#include <string.h>

#include "identity/keccak.h"

static const char *const g_kind_names[HUB_KIND__COUNT] = {"app", "dataset", "workerpool"};

const char *hub_kind_name(hub_kind k)
{
    return (unsigned)k < HUB_KIND__COUNT ? g_kind_names[k] : "?";
}

bool hub_kind_from_name(const char *name, hub_kind *k)
{
    for (int i = 0; i < HUB_KIND__COUNT; i++) {
        size_t n = strlen(g_kind_names[i]);
        if (!strcmp(name, g_kind_names[i]) ||
            (!strncmp(name, g_kind_names[i], n) && !strcmp(name + n, "s"))) {
            *k = (hub_kind)i;
            return true;
        }
    }
    return false;
}

void hub_resource_address(const hub_resource *r, uint8_t out[20])
{
    cella_keccak_ctx c;
    uint8_t content[32], outer[52], h[32];
    const char *kind = hub_kind_name(r->kind);
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, kind, strlen(kind));
    cella_keccak256_update(&c, "", 1);
    cella_keccak256_update(&c, r->name, strlen(r->name));
    cella_keccak256_update(&c, "", 1);
    cella_keccak256_update(&c, r->multiaddr, strlen(r->multiaddr));
    cella_keccak256_update(&c, "", 1);
    cella_keccak256_update(&c, r->checksum, 32);
    cella_keccak256_final(&c, content);
    memcpy(outer, r->owner, 20);
    memcpy(outer + 20, content, 32);
    cella_keccak256(h, outer, sizeof outer);
    memcpy(out, h + 12, 20);
}
