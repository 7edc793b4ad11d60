#include "hub/resource.h"

#include <string.h>

#include "identity/eth.h"

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

cella_res hub_address_list_parse(cella_slice text, uint8_t (*out)[20], size_t max, size_t *n)
{
    *n = 0;
    CELLA_ENSURE(text.len > 0, CELLA_E_PARSE, "addresses", "missing (0x.. addresses, comma separated)");
    cella_reader r = cella_reader_of(text, "addresses");
    for (;;) {
        /* one item: up to the next comma or the end */
        size_t start = r.off, len = 0;
        while (start + len < r.s.len && r.s.p[start + len] != ',')
            len++;
        CELLA_ENSURE(*n < max, CELLA_E_PARSE, "addresses", "at most %zu", max);
        CELLA_ENSURE(len == 42, CELLA_E_PARSE, "addresses", "not a 0x address (item %zu)", *n + 1);
        char one[43];
        memcpy(one, r.s.p + start, 42);
        one[42] = '\0';
        CELLA_TRY(cella_eth_address_parse(out[*n], one, "addresses"));
        ++*n;
        r.off = start + len;
        if (r.off == r.s.len)
            return CELLA_OK_RES;
        r.off++; /* the comma */
        CELLA_ENSURE(r.off < r.s.len, CELLA_E_PARSE, "addresses", "a trailing comma");
    }
}
