/* cella-runtime: the enclave runtime alone, `run` and `run-task` with the
 * same options as `cella run` and `cella run-task` (cli/cmd_enclave.c). It
 * links only what an enclave start needs (OpenSSL, jansson, libfuse3, libzip,
 * secp256k1, nettle, http-parser; libarchive is loaded only to unpack a task's
 * tar dataset, lib/app/archive_lib.h): no sqlite, libevent or libseccomp
 * either. cas is reached through net/tls_http.h, as from `cella`. What it
 * cannot do: blob: inputs and --push (the transfer service's client, on
 * libcurl), for which `cella run` remains. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/json_wipe.h"
#include "core/secure.h"
#include "enclave.h"

int main(int argc, char **argv)
{
    cella_harden_process();
    /* The host's openssl.cnf (or $OPENSSL_CONF) is never read: it is host
     * input that can load providers (code) into the enclave and change
     * algorithms, and reading it cost every start ~30 page faults. Nothing
     * here needs it: the default provider, TLS 1.3 to a pinned cas. */
    if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL)) {
        fprintf(stderr, "cella: error: cannot initialise OpenSSL (cella-runtime)\n");
        return 1;
    }
    cella_json_wipe_install(); /* before any JSON: freed trees leave no secrets */
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return cli_run_cmd(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "run-task"))
        return cli_run_task_cmd(argc - 2, argv + 2);
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        printf("cella-runtime %s\n", CELLA_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: cella-runtime run|run-task OPTIONS (as `cella run`, `cella run-task`; "
                    "cella help run lists them)\n");
    return 2;
}
