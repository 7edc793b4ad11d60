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
#include "commands.h"
#include "core/stage.h"
#include "iexec/result.h"

#define DEFAULT_SECRETS ".secrets"
#define DEFAULT_ENCRYPTED "encryptedResults.zip" /* the SDK's defaults */
#define DEFAULT_DECRYPTED "results.zip"


/* --beneficiary-keystoredir D, else <--secrets-dir or .secrets>/beneficiary. */
static cella_res beneficiary_dir(const cli_opt *o, int n, char *out, size_t cap)
{
    const char *k = cli_get(o, n, "beneficiary-keystoredir"), *s = cli_get(o, n, "secrets-dir");
    CELLA_ENSURE(!(k && s), CELLA_E_USAGE, "--secrets-dir",
                 "give --secrets-dir or --beneficiary-keystoredir, not both");
    int w = k ? snprintf(out, cap, "%s", k)
              : snprintf(out, cap, "%s/beneficiary", s ? s : DEFAULT_SECRETS);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_PATH, "--secrets-dir", "path too long");
    return CELLA_OK_RES;
}

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
        r = beneficiary_dir(o, n, dir, sizeof dir);
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

/* Without --key: the only *_key file in the beneficiary folder. */
static cella_res find_key(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    CELLA_ENSURE(d, CELLA_E_NOTFOUND, dir,
                 "beneficiary key folder missing (run: cella result "
                 "generate-encryption-keypair, or give --key)");
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, "_key")) {
            if (found++ == 0)
                snprintf(out, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    CELLA_ENSURE(found == 1, CELLA_E_USAGE, dir,
                 found ? "several beneficiary keys: choose one with --key"
                       : "no beneficiary key (*_key) found: give --key");
    return CELLA_OK_RES;
}

static int result_decrypt(int argc, char **argv)
{
    cli_opt o[] = {{"key", true, NULL},
                   {"beneficiary-key-file", true, NULL},
                   {"secrets-dir", true, NULL},
                   {"beneficiary-keystoredir", true, NULL},
                   {"output", true, NULL},
                   {"force", false, NULL}};
    const int n = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, n, pos, 1, &np, "result decrypt");
    char dir[4096], key[4096 + 256];
    if (cella_ok(r))
        r = beneficiary_dir(o, n, dir, sizeof dir);
    const char *kopt = cli_get(o, n, "key"), *kname = cli_get(o, n, "beneficiary-key-file");
    if (cella_ok(r) && kopt && kname)
        r = cella_fail(CELLA_E_USAGE, "--key", "give --key or --beneficiary-key-file, not both");
    if (cella_ok(r)) {
        if (kopt)
            snprintf(key, sizeof key, "%s", kopt);
        else if (kname) /* the SDK's option: a file name inside the beneficiary folder */
            snprintf(key, sizeof key, "%s/%s", dir, kname);
        else
            r = find_key(dir, key, sizeof key);
    }
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

const cli_command cli_result_commands[] = {
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
