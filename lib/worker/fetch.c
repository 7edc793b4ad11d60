/* Fetching a task's app bundle and dataset into the worker's cache: see fetch.h. */
#include "worker/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "blobs/client.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* What the registry says of an app bundle or a dataset: its checksum (what
 * names it) and its location, an http(s) URL. A cella blob URL must name the
 * checksum's blob. */
static cella_res locate(const char *multiaddr, const char *checksum, const char *what,
                        uint8_t sha[32])
{
    CELLA_ENSURE(multiaddr && checksum, CELLA_E_PARSE, what, "the registry has no location or checksum");
    CELLA_ENSURE(!strncmp(multiaddr, "http://", 7) || !strncmp(multiaddr, "https://", 8),
                 CELLA_E_UNSUPPORTED, what,
                 "the worker fetches over http(s) (a cella blob store: "
                 "http://HOST:PORT/v1/blobs/SHA256); '%s' is not such a URL",
                 multiaddr);
    const char *c = checksum + (!strncmp(checksum, "0x", 2) ? 2 : 0);
    CELLA_TRY(cella_hex_decode(sha, 32, c, strlen(c), what));
    char base[1024];
    uint8_t named[32];
    if (strstr(multiaddr, "/v1/blobs/")) {
        CELLA_TRY(cella_blob_parse_url(multiaddr, what, base, sizeof base, named));
        CELLA_ENSURE(cella_ct_eq(named, sha, 32), CELLA_E_AUTH, what,
                     "its location names another blob than its registered checksum");
    }
    return CELLA_OK_RES;
}

/* Downloads into the cache (once per checksum): `path` is the cached file. */
cella_res cella_worker_fetch_cached(const cella_worker_opts *o, const char *holder, const char *kind,
                                    const json_t *res, const char *what, char *path, size_t cap)
{
    char hex[65], tmp[1200];
    uint8_t sha[32];
    CELLA_TRY(locate(jstr(res, "multiaddr"), jstr(res, "checksum"), what, sha));
    cella_hex_encode(hex, sha, 32, false);
    snprintf(path, cap, "%s/%s/%s", o->work_dir, kind, hex);
    struct stat st;
    if (stat(path, &st) == 0)
        return CELLA_OK_RES;
    snprintf(tmp, sizeof tmp, "%s/%s/.tmp-%s-%s", o->work_dir, kind, hex, holder);
    unlink(tmp);
    /* By content address: this worker's blob store first (the registered URL
     * may name a store that has moved since), then the registered URL. */
    CELLA_TRY(cella_blob_fetch_file(o->blobs_url, jstr(res, "multiaddr"), sha, tmp));
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return cella_fail(CELLA_E_IO, path, "rename: %s", strerror(errno));
    }
    return CELLA_OK_RES;
}

cella_res cella_worker_fetch_app(const cella_worker_opts *o, const char *holder, const json_t *app,
                                 char *dir, size_t cap)
{
    char tar[1200];
    CELLA_TRY(cella_worker_fetch_cached(o, holder, "bundles", app, "app bundle", tar, sizeof tar));
    snprintf(dir, cap, "%s.d", tar);
    struct stat st;
    if (stat(dir, &st) == 0)
        return CELLA_OK_RES;
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.tmp-%s", tar, holder);
    cella_rm_tree(AT_FDCWD, tmp);
    CELLA_TRY(cella_app_unpack(tar, tmp));
    if (rename(tmp, dir) != 0 && stat(dir, &st) != 0) {
        cella_rm_tree(AT_FDCWD, tmp);
        return cella_fail(CELLA_E_IO, dir, "rename: %s", strerror(errno));
    }
    cella_rm_tree(AT_FDCWD, tmp); /* another slot won the race */
    return CELLA_OK_RES;
}

