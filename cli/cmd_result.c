/* cella result generate-encryption-keypair|encrypt|decrypt: iExec beneficiary
 * result encryption, compatible with `iexec result decrypt`. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "core/encoding.h"
#include "output.h"
#include "commands.h"
#include "hub_client.h"
#include "result_files.h"
#include "core/stage.h"
#include "iexec/result.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define DEFAULT_ENCRYPTED CLI_DEFAULT_ENCRYPTED
#define DEFAULT_DECRYPTED CLI_DEFAULT_DECRYPTED


static cella_res check_address(const char *a)
{
    bool ok = strlen(a) == 42 && a[0] == '0' && (a[1] == 'x' || a[1] == 'X');
    for (size_t i = 2; ok && i < 42; i++)
        ok = isxdigit((unsigned char)a[i]) != 0;
    CELLA_ENSURE(ok, CELLA_E_USAGE, "--address", "not an Ethereum address (0x and 40 hex digits)");
    return CELLA_OK_RES;
}

static int result_keypair(int argc, char **argv)
{
    cli_opt o[] = {{"address", true, NULL},
                   {"secrets-dir", true, NULL},
                   {"beneficiary-keystoredir", true, NULL},
                   {"force", false, NULL}};
    const int n = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    char dir[4096];
    cella_res r = cli_parse(argc, argv, o, n, pos, 0, &np, "result generate-encryption-keypair");
    /* TODO(wallet): default the address to the wallet's (lib/identity) once it exists. */
    if (cella_ok(r) && !cli_get(o, n, "address"))
        r = cella_fail(CELLA_E_USAGE, "result generate-encryption-keypair",
                       "usage: cella result generate-encryption-keypair --address 0xADDR "
                       "[--secrets-dir .secrets]");
    if (cella_ok(r))
        r = check_address(cli_get(o, n, "address"));
    if (cella_ok(r))
        r = cli_beneficiary_dir(o, n, dir, sizeof dir);
    if (cella_ok(r)) {
        fprintf(stderr, "cella: generating an RSA-%d key pair...\n", CELLA_IEXEC_RSA_BITS);
        r = cella_iexec_keypair_write(dir, cli_get(o, n, "address"), CELLA_IEXEC_RSA_BITS,
                                      cli_get(o, n, "force") != NULL);
    }
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s/%s_key\n%s/%s_key.pub\n", dir, cli_get(o, n, "address"), dir,
           cli_get(o, n, "address"));
    return 0;
}

static int result_encrypt(int argc, char **argv)
{
    cli_opt o[] = {{"public-key", true, NULL}, {"output", true, NULL}, {"force", false, NULL}};
    const int n = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, n, pos, 1, &np, "result encrypt");
    if (cella_ok(r) && (np != 1 || !cli_get(o, n, "public-key")))
        r = cella_fail(CELLA_E_USAGE, "result encrypt",
                       "usage: cella result encrypt DIR --public-key PEM [-o encrypted.zip]");
    const char *out = cli_get(o, n, "output") ? cli_get(o, n, "output") : DEFAULT_ENCRYPTED;
    if (cella_ok(r))
        r = cella_stage_trap_signals();
    if (cella_ok(r))
        r = cella_iexec_result_encrypt_dir(pos[0], cli_get(o, n, "public-key"), out,
                                           cli_get(o, n, "force") != NULL);
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s\n", out);
    return 0;
}

static int result_decrypt(int argc, char **argv)
{
    cli_opt o[] = {CLI_RESULT_KEY_OPTS, {"output", true, NULL}, {"force", false, NULL}};
    const int n = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, n, pos, 1, &np, "result decrypt");
    char key[4096 + 256];
    if (cella_ok(r))
        r = cli_beneficiary_key(o, n, key, sizeof key);
    const char *in = np ? pos[0] : DEFAULT_ENCRYPTED;
    const char *out = cli_get(o, n, "output") ? cli_get(o, n, "output") : DEFAULT_DECRYPTED;
    if (cella_ok(r))
        r = cella_stage_trap_signals();
    if (cella_ok(r))
        r = cella_iexec_result_decrypt_file(in, key, out, cli_get(o, n, "force") != NULL);
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s\n", out);
    return 0;
}

static int result_download(int argc, char **argv)
{
    cli_opt o[] = {{"hub-url", true, NULL},
                   {"hub-fingerprint", true, NULL},
                   {"output", true, NULL},
                   {"blobs", true, NULL}};
    const char *pos[1];
    int np;
    cli_hub hub;
    char out[4096], store[1024] = "", id[67];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "result download");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "result download",
                       "usage: cella result download 0xTASKID [-o FILE]");
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "task id", id);
    if (cella_ok(r))
        r = cli_hub_open(o, NOPTS(o), &hub);
    if (cella_ok(r))
        r = cli_project_url(o, NOPTS(o), "blobs", "blobsUrl", "", store, sizeof store);
    if (cella_ok(r))
        r = cli_result_path(cli_get(o, NOPTS(o), "output"), id, out, sizeof out);
    if (cella_ok(r))
        r = cli_result_fetch(&hub, id, NULL, store, out);
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s\n", out);
    cli_json_set_str("file", out);
    return 0;
}

const cli_command cli_result_commands[] = {
    {"result", "download", result_download,
     "cella result download 0xTASKID [-o FILE] [--blobs URL] [--hub-url URL [--hub-fingerprint FP]]",
     "Download a completed task's result (checked against its SHA-256) to FILE (default "
     "<taskid>.zip): by its SHA-256 from the blob store --blobs, else \"blobsUrl\" of ./cella.json, "
     "then from the URL the worker recorded. Decrypt it with `cella result decrypt`."},
    {"result", "generate-encryption-keypair", result_keypair,
     "cella result generate-encryption-keypair --address 0xADDR [--secrets-dir .secrets] "
     "[--force]",
     "Generate the beneficiary's RSA-4096 key pair: .secrets/beneficiary/<address>_key "
     "(PKCS#8 PEM, 0600) and <address>_key.pub (SPKI PEM), as the iExec SDK does."},
    {"result", "encrypt", result_encrypt,
     "cella result encrypt DIR --public-key PEM [-o encryptedResults.zip] [--force]",
     "Encrypt an output folder for a beneficiary the way iExec's post-compute does: "
     "zip, AES-256-CBC, key wrapped with RSA PKCS#1 v1.5, both in one flat zip."},
    {"result", "decrypt", result_decrypt,
     "cella result decrypt [FILE.zip] [--key F] [-o results.zip] [--secrets-dir .secrets] "
     "[--force]",
     "Decrypt an iExec encrypted result (also `iexec result decrypt` output format) to "
     "the result zip (mode 0600). Without --key, the only *_key file in "
     ".secrets/beneficiary is used."},
    {NULL, NULL, NULL, NULL, NULL},
};
