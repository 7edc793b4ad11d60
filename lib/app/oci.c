/* `cella app import`: an OCI layout or docker archive to an image bundle
 * (app/oci.h). This file reads the image's JSON (index, manifest, config)
 * and drives the import; oci_src.c reads members, flatten.c applies layers,
 * oci_config.c turns the config into the manifest. */
#include "app/oci.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/flatten.h"
#include "app/internal.h"
#include "app/oci_internal.h"
#include "app/oci_src.h"
#include "core/encoding.h"
#include "core/fs.h"

#define MAX_JSON (4u << 20)
#define MAX_INDEX_DEPTH 4

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#else
#define HOST_ARCH "unknown"
#endif

cella_import_limits cella_import_default_limits(void)
{
    return (cella_import_limits){.max_file = 1ull << 30, .max_total = 4ull << 30,
                                 .max_entries = 100000, .max_depth = 60, .max_path = 4000,
                                 .max_layers = 128};
}

void oci_plan_free(oci_plan *p)
{
    free(p->layers);
    memset(p, 0, sizeof *p);
}

/* "sha256:<64 lowercase hex>" into a blob reference of the layout. */
static cella_res parse_digest(json_t *d, const char *where, oci_blob *b)
{
    CELLA_ENSURE(json_is_string(d), CELLA_E_PARSE, where, "digest: expected a string");
    const char *s = json_string_value(d);
    CELLA_ENSURE(!strncmp(s, "sha256:", 7), CELLA_E_UNSUPPORTED, where,
                 "digest '%.80s': only sha256 digests are supported", s);
    const char *hex = s + 7;
    bool ok = strlen(hex) == 64;
    for (size_t i = 0; ok && i < 64; i++)
        ok = (hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f');
    CELLA_ENSURE(ok, CELLA_E_PARSE, where, "digest '%.80s' is not sha256:<64 hex digits>", s);
    CELLA_TRY(cella_hex_decode(b->sha, 32, hex, 64, where));
    b->has_sha = true;
    snprintf(b->name, sizeof b->name, "blobs/sha256/%s", hex);
    return CELLA_OK_RES;
}

/* An OCI descriptor: mediaType (optional here), digest, size. */
static cella_res parse_desc(json_t *d, const char *where, oci_blob *b)
{
    CELLA_ENSURE(json_is_object(d), CELLA_E_PARSE, where, "expected a descriptor object");
    json_t *size = json_object_get(d, "size");
    CELLA_ENSURE(json_is_integer(size) && json_integer_value(size) >= 0, CELLA_E_PARSE, where,
                 "size: expected a non-negative integer");
    b->size = json_integer_value(size);
    json_t *mt = json_object_get(d, "mediaType");
    snprintf(b->media_type, sizeof b->media_type, "%s", json_is_string(mt) ? json_string_value(mt) : "");
    return parse_digest(json_object_get(d, "digest"), where, b);
}

static cella_res load_json(oci_src *s, const oci_blob *b, const char *where, json_t **out)
{
    uint8_t *buf;
    size_t len;
    CELLA_TRY(src_read_small(s, b->name, MAX_JSON, b->size, b->has_sha ? b->sha : NULL, &buf,
                             &len));
    json_error_t je;
    *out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    CELLA_ENSURE(*out, CELLA_E_PARSE, where, "invalid JSON at line %d: %s", je.line, je.text);
    return CELLA_OK_RES;
}

static bool is_index(const char *mt)
{
    return !strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
           !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json");
}

/* Whether a descriptor of an index is for this host (no platform: yes). */
static bool platform_ok(json_t *d)
{
    json_t *p = json_object_get(d, "platform");
    if (!json_is_object(p))
        return true;
    json_t *os = json_object_get(p, "os"), *arch = json_object_get(p, "architecture");
    return json_is_string(os) && !strcmp(json_string_value(os), "linux") &&
           json_is_string(arch) && !strcmp(json_string_value(arch), HOST_ARCH);
}

/* From an index, the one manifest for linux/HOST_ARCH (nested indexes followed). */
static cella_res pick_manifest(oci_src *s, json_t *index, const char *where, int depth,
                               oci_blob *out)
{
    CELLA_ENSURE(depth < MAX_INDEX_DEPTH, CELLA_E_PARSE, where, "indexes nested too deep");
    json_t *ms = json_object_get(index, "manifests");
    CELLA_ENSURE(json_is_array(ms), CELLA_E_PARSE, where, "manifests: expected an array");
    size_t found = 0, i;
    json_t *d;
    oci_blob b = {0};
    json_array_foreach(ms, i, d) {
        char w[96];
        snprintf(w, sizeof w, "%s: manifests[%zu]", where, i);
        if (!json_is_object(d) || !platform_ok(d))
            continue;
        CELLA_TRY(parse_desc(d, w, &b));
        *out = b;
        found++;
    }
    CELLA_ENSURE(found > 0, CELLA_E_NOTFOUND, where, "no manifest for linux/" HOST_ARCH);
    CELLA_ENSURE(found == 1, CELLA_E_PARSE, where,
                 "%zu manifests for linux/" HOST_ARCH "; an image with one is expected", found);
    if (!is_index(out->media_type))
        return CELLA_OK_RES;
    json_t *sub;
    CELLA_TRY(load_json(s, out, out->name, &sub));
    cella_res r = pick_manifest(s, sub, out->name, depth + 1, out);
    json_decref(sub);
    return r;
}

static cella_res plan_oci(oci_src *s, oci_plan *p, const cella_import_limits *lim)
{
    oci_blob ib = {.size = -1};
    snprintf(ib.name, sizeof ib.name, "index.json");
    json_t *index, *man = NULL;
    CELLA_TRY(load_json(s, &ib, "index.json", &index));
    oci_blob mb;
    cella_res r = pick_manifest(s, index, "index.json", 0, &mb);
    json_decref(index);
    if (cella_ok(r))
        r = load_json(s, &mb, mb.name, &man);
    if (cella_ok(r))
        r = parse_desc(json_object_get(man, "config"), "manifest: config", &p->config);
    json_t *layers = man ? json_object_get(man, "layers") : NULL;
    if (cella_ok(r) && !json_is_array(layers))
        r = cella_fail(CELLA_E_PARSE, "manifest: layers", "expected an array");
    if (cella_ok(r) && json_array_size(layers) > lim->max_layers)
        r = cella_fail(CELLA_E_TOOBIG, "manifest: layers", "more than %u layers",
                       lim->max_layers);
    if (cella_ok(r) && json_array_size(layers)) {
        p->layers = calloc(json_array_size(layers), sizeof *p->layers);
        if (!p->layers)
            r = cella_fail(CELLA_E_NOMEM, "manifest", "out of memory");
    }
    for (size_t i = 0; cella_ok(r) && i < json_array_size(layers); i++) {
        char w[64];
        snprintf(w, sizeof w, "manifest: layers[%zu]", i);
        r = parse_desc(json_array_get(layers, i), w, &p->layers[i]);
        p->nlayers = i + 1;
    }
    json_decref(man);
    return r;
}

/* A docker archive names its config "<sha256 hex>.json" (or, from newer
 * docker, "blobs/sha256/<hex>"): the name is its digest. */
static cella_res docker_config(json_t *cfg, oci_blob *b)
{
    CELLA_ENSURE(json_is_string(cfg), CELLA_E_PARSE, "manifest.json: Config",
                 "expected a string");
    const char *name = json_string_value(cfg);
    CELLA_TRY(cella_app_check_relpath(name, "manifest.json: Config"));
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    char hex[65] = {0};
    size_t n = strlen(base);
    if (n == 69 && !strcmp(base + 64, ".json"))
        memcpy(hex, base, 64);
    else if (n == 64)
        memcpy(hex, base, 64);
    json_t *d = json_pack("s+", "sha256:", hex);
    cella_res r = hex[0] ? parse_digest(d, "manifest.json: Config", b)
                         : cella_fail(CELLA_E_PARSE, "manifest.json: Config",
                                      "the config's name '%s' carries no digest to check it by",
                                      name);
    json_decref(d);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->size = -1;
    return r;
}

/* docker save: manifest.json lists one image; its layers are checked against
 * the config's rootfs.diff_ids (docker saves layers uncompressed). */
static cella_res plan_docker(oci_src *s, oci_plan *p, const cella_import_limits *lim)
{
    oci_blob mb = {.size = -1};
    snprintf(mb.name, sizeof mb.name, "manifest.json");
    json_t *arr;
    CELLA_TRY(load_json(s, &mb, "manifest.json", &arr));
    cella_res r = CELLA_OK_RES;
    json_t *img = json_array_get(arr, 0);
    if (!json_is_array(arr) || json_array_size(arr) != 1 || !json_is_object(img))
        r = cella_fail(CELLA_E_PARSE, "manifest.json",
                       "expected an array of exactly one image (the archive holds %zu)",
                       json_is_array(arr) ? json_array_size(arr) : 0);
    if (cella_ok(r))
        r = docker_config(json_object_get(img, "Config"), &p->config);
    json_t *layers = cella_ok(r) ? json_object_get(img, "Layers") : NULL;
    if (cella_ok(r) && !json_is_array(layers))
        r = cella_fail(CELLA_E_PARSE, "manifest.json: Layers", "expected an array");
    if (cella_ok(r) && json_array_size(layers) > lim->max_layers)
        r = cella_fail(CELLA_E_TOOBIG, "manifest.json: Layers", "more than %u layers",
                       lim->max_layers);
    if (cella_ok(r) && json_array_size(layers)) {
        p->layers = calloc(json_array_size(layers), sizeof *p->layers);
        if (!p->layers)
            r = cella_fail(CELLA_E_NOMEM, "manifest.json", "out of memory");
    }
    for (size_t i = 0; cella_ok(r) && i < json_array_size(layers); i++) {
        char w[64];
        snprintf(w, sizeof w, "manifest.json: Layers[%zu]", i);
        json_t *l = json_array_get(layers, i);
        if (!json_is_string(l)) {
            r = cella_fail(CELLA_E_PARSE, w, "expected a string");
            break;
        }
        r = cella_app_check_relpath(json_string_value(l), w);
        snprintf(p->layers[i].name, sizeof p->layers[i].name, "%s", json_string_value(l));
        p->layers[i].size = -1;
        p->nlayers = i + 1;
    }
    p->docker = true;
    json_decref(arr);
    return r;
}

/* Docker layers: their digests are the config's diff_ids, in order. */
static cella_res docker_diff_ids(json_t *config, oci_plan *p)
{
    json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    CELLA_ENSURE(json_is_array(ids) && json_array_size(ids) == p->nlayers, CELLA_E_PARSE,
                 "config: rootfs.diff_ids", "expected one digest per layer (%zu)", p->nlayers);
    for (size_t i = 0; i < p->nlayers; i++) {
        char w[64], name[sizeof p->layers[i].name];
        snprintf(w, sizeof w, "config: rootfs.diff_ids[%zu]", i);
        memcpy(name, p->layers[i].name, sizeof name);
        CELLA_TRY(parse_digest(json_array_get(ids, i), w, &p->layers[i]));
        memcpy(p->layers[i].name, name, sizeof name);
    }
    return CELLA_OK_RES;
}

cella_res oci_plan_image(oci_src *s, const cella_import_limits *lim, oci_plan *p, json_t **config)
{
    memset(p, 0, sizeof *p);
    *config = NULL;
    cella_res r;
    if (src_has(s, "index.json"))
        r = plan_oci(s, p, lim);
    else if (src_has(s, "manifest.json"))
        r = plan_docker(s, p, lim);
    else
        r = cella_fail(CELLA_E_PARSE, s->label,
                       "neither an OCI layout (index.json) nor a docker archive (manifest.json)");
    if (cella_ok(r))
        r = load_json(s, &p->config, "config", config);
    if (cella_ok(r) && !json_is_object(*config))
        r = cella_fail(CELLA_E_PARSE, "config", "expected a JSON object");
    if (cella_ok(r) && p->docker)
        r = docker_diff_ids(*config, p);
    if (!cella_ok(r)) {
        json_decref(*config);
        *config = NULL;
        oci_plan_free(p);
    }
    return r;
}
