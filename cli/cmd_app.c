/* cella app init|measure|pack|import */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/oci.h"
#include "args.h"
#include "commands.h"
#include "core/encoding.h"

static int app_init(int argc, char **argv)
{
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, NULL, 0, pos, 1, &np, "app init");
    const char *dir = np == 1 ? pos[0] : ".";
    if (cella_ok(r))
        r = cella_app_init(dir);
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s/%s\n", dir, CELLA_APP_MANIFEST);
    return 0;
}

static int app_measure(int argc, char **argv)
{
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, NULL, 0, pos, 1, &np, "app measure");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "app measure", "usage: cella app measure DIR");
    uint8_t m[32];
    if (cella_ok(r))
        r = cella_app_measure(pos[0], m);
    if (!cella_ok(r))
        return cli_report(r);
    char hex[65];
    cella_hex_encode(hex, m, 32, false);
    printf("%s\n", hex);
    return 0;
}

static int app_pack(int argc, char **argv)
{
    cli_opt o[] = {{"output", true, NULL}};
    const char *pos[1];
    int np = 0;
    cella_res r = cli_parse(argc, argv, o, 1, pos, 1, &np, "app pack");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "app pack", "usage: cella app pack DIR [-o FILE]");
    if (!cella_ok(r))
        return cli_report(r);
    char def[4200];
    const char *out = cli_get(o, 1, "output");
    if (!out) {
        size_t l = strlen(pos[0]);
        while (l > 1 && pos[0][l - 1] == '/')
            l--;
        if (snprintf(def, sizeof def, "%.*s.tar", (int)l, pos[0]) >= (int)sizeof def)
            return cli_report(cella_fail(CELLA_E_USAGE, pos[0], "path too long"));
        out = def;
    }
    uint8_t sum[32];
    r = cella_app_pack(pos[0], out, sum);
    if (!cella_ok(r))
        return cli_report(r);
    char hex[65];
    cella_hex_encode(hex, sum, 32, false);
    printf("0x%s %s\n", hex, out);
    return 0;
}

/* One line per layer on stderr, when it is a terminal (imports take a while). */
static void import_progress(void *ud, size_t layer, size_t nlayers, uint64_t bytes)
{
    (void)ud;
    if (!isatty(2))
        return;
    if (layer < nlayers)
        fprintf(stderr, "\rimporting layer %zu/%zu (%llu MB written)", layer + 1, nlayers,
                (unsigned long long)(bytes >> 20));
    else
        fprintf(stderr, "\rimported %zu layers (%llu MB)%20s\n", nlayers,
                (unsigned long long)(bytes >> 20), "");
}

static int app_import(int argc, char **argv)
{
    cli_opt o[] = {{"heap-mb", true, NULL}};
    const char *pos[2];
    int np = 0;
    cella_res r = cli_parse(argc, argv, o, 1, pos, 2, &np, "app import");
    if (cella_ok(r) && np != 2)
        r = cella_fail(CELLA_E_USAGE, "app import",
                       "usage: cella app import IMAGE DIR [--heap-mb N]");
    cella_import_opts io = {.progress = import_progress};
    unsigned long long heap = 512;
    if (cella_ok(r) && cli_get(o, 1, "heap-mb"))
        r = cli_parse_uint(cli_get(o, 1, "heap-mb"), "--heap-mb", CELLA_APP_MAX_HEAP_MB, &heap);
    if (cella_ok(r) && heap == 0)
        r = cella_fail(CELLA_E_USAGE, "--heap-mb", "must be at least 1");
    io.heap_mb = (uint32_t)heap;
    if (cella_ok(r))
        r = cella_app_import(pos[0], pos[1], &io);
    uint8_t m[32];
    if (cella_ok(r))
        r = cella_app_measure(pos[1], m);
    if (!cella_ok(r))
        return cli_report(r);
    char hex[65];
    cella_hex_encode(hex, m, 32, false);
    printf("%s %s\n", hex, pos[1]);
    return 0;
}

const cli_command cli_app_commands[] = {
    {"app", "init", app_init, "cella app init [DIR]",
     "Write a template cella-app.json into DIR (default: the current directory); never "
     "overwrites."},
    {"app", "measure", app_measure, "cella app measure DIR",
     "Validate an app bundle and print its measurement (64 hex digits; docs/app-measurement.md)."},
    {"app", "pack", app_pack, "cella app pack DIR [-o|--output FILE]",
     "Validate an app bundle and write it as a deterministic tarball (default DIR.tar); prints "
     "0x<sha256 of the tarball> and the file."},
    {"app", "import", app_import, "cella app import IMAGE DIR [--heap-mb N]",
     "Import an OCI image (an OCI layout directory, or a docker/podman save archive) as an "
     "image bundle in DIR (which must not exist): layers flattened into DIR/rootfs, the "
     "config in DIR/cella-app.json (heap_mb N, default 512); prints the measurement and DIR."},
    {NULL, NULL, NULL, NULL, NULL},
};
