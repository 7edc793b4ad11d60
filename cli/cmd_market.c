/* cella result download: a completed task's result, by its SHA-256 from the
 * configured blob store, else from the URL the worker recorded. (cella app
 * run is in cmd_apprun.c.) */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "output.h"
#include "wallet_opts.h"
#include "blobs/client.h"
#include "casapi/casapi.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/wallet.h"
#include "project.h"
#include "task_watch.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define ZERO_ADDRESS "0x0000000000000000000000000000000000000000"
#define MAX_SECRETS 16

static cella_res get_json(const cella_http_client *h, const char *path, json_t **out)
{
    return cella_cas_call(h, "GET", path, cella_slice_of("", 0), out);
}

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* ---- result download ---------------------------------------------------------------- */

static int result_download(int argc, char **argv)
{
    cli_opt o[] = {{"hub-url", true, NULL},
                   {"hub-fingerprint", true, NULL},
                   {"output", true, NULL},
                   {"blobs", true, NULL}};
    const char *pos[1];
    int np;
    cli_hub hub = {0};
    char path[160], out[300], store[1024] = "";
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "result download");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "result download",
                       "usage: cella result download 0xTASKID [-o FILE]");
    uint8_t tid[32];
    if (cella_ok(r))
        r = strlen(pos[0]) == 66 && !strncmp(pos[0], "0x", 2)
                ? cella_hex_decode(tid, 32, pos[0] + 2, 64, "task id")
                : cella_fail(CELLA_E_USAGE, "task id", "expected 0x + 64 hex digits");
    if (cella_ok(r))
        r = cli_hub_open(o, NOPTS(o), &hub);
    cella_http_client h = hub.http;
    json_t *t = NULL;
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/tasks/%s", pos[0]);
        r = get_json(&h, path, &t);
    }
    const char *url = cella_ok(r) ? jstr(t, "results") : NULL;
    if (cella_ok(r) && !url)
        r = cella_fail(CELLA_E_NOTFOUND, pos[0], "the task has no result yet (status %s%s%s)",
                       jstr(t, "status") ? jstr(t, "status") : "?", jstr(t, "error") ? ": " : "",
                       jstr(t, "error") ? jstr(t, "error") : "");
    uint8_t sha[32];
    char base[1024];
    if (cella_ok(r))
        r = cella_blob_parse_url(url, "results", base, sizeof base, sha);
    /* By content address: the store configured here first (the stack may have
     * moved since the worker recorded the URL), then the recorded URL. */
    if (cella_ok(r))
        r = cli_project_url(o, NOPTS(o), "blobs", "blobsUrl", "", store, sizeof store);
    if (cella_ok(r)) {
        const char *op = cli_get(o, NOPTS(o), "output");
        snprintf(out, sizeof out, "%s", op ? op : "");
        if (!op)
            snprintf(out, sizeof out, "%s.zip", pos[0]);
        r = cella_blob_fetch_file(store, url, sha, out); /* checks the SHA-256 */
    }
    if (cella_ok(r))
        printf("%s\n", out);
    json_decref(t);
    return cli_report(r);
}

const cli_command cli_market_commands[] = {
    {"result", "download", result_download,
     "cella result download 0xTASKID [-o FILE] [--blobs URL] [--hub-url URL [--hub-fingerprint FP]]",
     "Download a completed task's result (checked against its SHA-256) to FILE (default "
     "<taskid>.zip): by its SHA-256 from the blob store --blobs, else \"blobsUrl\" of ./cella.json, "
     "then from the URL the worker recorded. Decrypt it with `cella result decrypt`."},
    {NULL, NULL, NULL, NULL, NULL},
};
