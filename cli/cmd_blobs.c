/* cella blobs serve|put|get: the transfer service (a content-addressed blob store). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "blobs/client.h"
#include "blobs/server.h"
#include "blobs/store.h"
#include "commands.h"
#include "project.h"
#include "core/encoding.h"
#include "core/stage.h"
#include "net/http_server.h"


/* The address actually bound (--listen may ask for port 0): the line every
 * server prints, "<name> listening on <URL>". */
static void on_ready(void *arg)
{
    printf("blobs listening on http://%s\n", (const char *)arg);
    fflush(stdout);
}

static int blobs_serve(int argc, char **argv)
{
    cli_opt o[] = {{"listen", true, NULL},
                   {"data", true, NULL},
                   {"max-size", true, NULL},
                   {"threads", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, 4, pos, 0, &np, "blobs serve");
    cella_blob_server_config cfg = {
        .fd = -1,
        .data_dir = cli_get(o, 4, "data") ? cli_get(o, 4, "data") : "cella-blobs",
        .on_ready = on_ready,
    };
    const char *listen = cli_get(o, 4, "listen") ? cli_get(o, 4, "listen") : "127.0.0.1:8082";
    char bound[64];
    cfg.arg = bound;
    unsigned long long v;
    if (cella_ok(r) && cli_get(o, 4, "max-size")) {
        r = cli_parse_size(cli_get(o, 4, "max-size"), "--max-size", &v);
        if (cella_ok(r) && (v == 0 || v > (1ull << 40)))
            r = cella_fail(CELLA_E_USAGE, "--max-size", "must be 1 byte to 1T");
        cfg.max_size = v;
    }
    if (cella_ok(r) && cli_get(o, 4, "threads")) {
        r = cli_parse_size(cli_get(o, 4, "threads"), "--threads", &v);
        if (cella_ok(r) && (v < 1 || v > 64))
            r = cella_fail(CELLA_E_USAGE, "--threads", "must be 1 to 64");
        cfg.threads = (unsigned)v;
    }
    /* The port first: a taken one leaves --data as it was. */
    if (cella_ok(r))
        r = cella_http_listen(listen, "blobs serve --listen", &cfg.fd, bound);
    if (cella_ok(r))
        r = cella_blob_serve(&cfg);
    if (cfg.fd >= 0)
        close(cfg.fd);
    return cli_report(r);
}

/* --url, else "blobsUrl" of ./cella.json, else the loopback default. */
static cella_res blobs_url(const cli_opt *o, int n, char *out, size_t cap)
{
    return cli_project_url(o, n, "url", "blobsUrl", "http://127.0.0.1:8082", out, cap);
}

static int blobs_put(int argc, char **argv)
{
    cli_opt o[] = {{"url", true, NULL}};
    const char *pos[1];
    int np;
    char base[1024];
    cella_res r = cli_parse(argc, argv, o, 1, pos, 1, &np, "blobs put");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "blobs put", "usage: cella blobs put FILE|DIR [--url URL]");
    if (cella_ok(r))
        r = blobs_url(o, 1, base, sizeof base);
    uint8_t sha[32];
    struct stat st;
    /* A directory (an encrypted volume) goes as one deterministic tarball. */
    bool dir = cella_ok(r) && stat(pos[0], &st) == 0 && S_ISDIR(st.st_mode);
    if (cella_ok(r))
        r = dir ? cella_blob_put_dir(base, pos[0], sha) : cella_blob_put_file(base, pos[0], sha);
    char url[4400];
    if (cella_ok(r))
        r = cella_blob_url(base, sha, url, sizeof url);
    if (!cella_ok(r))
        return cli_report(r);
    char hex[65];
    cella_hex_encode(hex, sha, 32, false);
    printf("%s %s\n", hex, url);
    return 0;
}

static int blobs_get(int argc, char **argv)
{
    cli_opt o[] = {{"url", true, NULL}, {"output", true, NULL}};
    const char *pos[1];
    int np = 0;
    char base[1024];
    cella_res r = cli_parse(argc, argv, o, 2, pos, 1, &np, "blobs get");
    if (cella_ok(r) && (np != 1 || !cli_get(o, 2, "output")))
        r = cella_fail(CELLA_E_USAGE, "blobs get",
                       "usage: cella blobs get SHA256 [--url URL] -o FILE");
    if (cella_ok(r))
        r = blobs_url(o, 2, base, sizeof base);
    uint8_t sha[32];
    if (cella_ok(r)) {
        const char *h = pos[0];
        if (!strncmp(h, "0x", 2))
            h += 2;
        r = cella_blob_parse_id(h, sha);
    }
    if (cella_ok(r))
        r = cella_stage_trap_signals();
    if (cella_ok(r))
        r = cella_blob_get_file(base, sha, cli_get(o, 2, "output"));
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s\n", cli_get(o, 2, "output"));
    return 0;
}

const cli_command cli_blobs_commands[] = {
    {"blobs", "serve", blobs_serve,
     "cella blobs serve [--listen 127.0.0.1:8082] [--data DIR] [--max-size N] [--threads N]",
     "Serve a content-addressed blob store over plain HTTP (PUT/GET/HEAD /v1/blobs/<sha256>); "
     "DIR defaults to ./cella-blobs, N to 1G (bodies are held in memory). Port 0 picks a free "
     "port; once listening it prints \"blobs listening on URL\" (a port in use fails before DIR "
     "is touched)."},
    {"blobs", "put", blobs_put, "cella blobs put FILE|DIR [--url URL]",
     "Upload a file, or a directory (an encrypted volume) as one deterministic tarball; prints "
     "its SHA-256 and its URL. The store is --url, else \"blobsUrl\" of "
     "./cella.json, else http://127.0.0.1:8082."},
    {"blobs", "get", blobs_get, "cella blobs get SHA256 [--url URL] -o FILE",
     "Download a blob into FILE (must not exist); the SHA-256 is verified before FILE appears."},
    {NULL, NULL, NULL, NULL, NULL},
};
