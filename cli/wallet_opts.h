/* The wallet of every verb that signs: the same options and one lookup order.
 *
 * The wallet file:
 *   1. --wallet-file F;
 *   2. --wallet-address 0xADDR: that address's keystore (UTC--...--ADDR or
 *      wallet-ADDR.json) in --keystoredir DIR, else the default directory;
 *   3. ./wallet.json, then ./encrypted-wallet.json, then the only wallet in
 *      --keystoredir DIR, else the default directory ($XDG_CONFIG_HOME/cella/
 *      wallets or ~/.config/cella/wallets).
 * The password of an encrypted keystore: --password-file F; else --password P
 * (with a warning: it shows in `ps` and in shell history); else asked on the
 * terminal without echo; with no terminal, an error saying what to give. */
#ifndef CELLA_CLI_WALLET_OPTS_H
#define CELLA_CLI_WALLET_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "core/error.h"

#define CLI_WALLET_OPTS                                                                     \
    {"wallet-file", true, NULL}, {"wallet-address", true, NULL}, {"keystoredir", true, NULL}, \
        {"password", true, NULL}, { "password-file", true, NULL }
#define CLI_WALLET_USAGE "[--wallet-file F | --wallet-address 0xADDR] [--password-file F]"

/* Whether the command line names a wallet (--wallet-file or --wallet-address). */
bool cli_wallet_named(const cli_opt *o, int n);

/* The wallet file, by the lookup order above. */
CELLA_RESULT cli_wallet_path(const cli_opt *o, int n, char *out, size_t cap);

/* The wallet's address without its key: an encrypted keystore's "address"
 * field (no password needed; it is not checked against the key), or an
 * unencrypted wallet's key's. */
CELLA_RESULT cli_wallet_address(const cli_opt *o, int n, uint8_t addr[20]);

/* Opens the wallet: its key into priv (secure memory the caller owns) and
 * its address. Prompts for the password when it must (see above). */
CELLA_RESULT cli_wallet_open(const cli_opt *o, int n, uint8_t priv[32], uint8_t addr[20]);

#endif
