/* Where wallets live and how the CLI opens them.
 *
 * Lookup of "the" wallet when no file is named:
 *   1. ./wallet.json, then ./encrypted-wallet.json in the current directory
 *      (a project's own wallet, as the iExec SDK keeps it);
 *   2. the only wallet in the keystore directory: $XDG_CONFIG_HOME/cella/wallets,
 *      or ~/.config/cella/wallets (several wallets there need --wallet-file).
 * Password files hold the password; one trailing newline (\n or \r\n) is not
 * part of it. Passwords and keys stay in secure memory. */
#ifndef CELLA_IDENTITY_WALLET_H
#define CELLA_IDENTITY_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CELLA_WALLET_MAX_PASSWORD 4096

/* The default keystore directory (not created). */
CELLA_RESULT cella_wallet_default_dir(char *out, size_t cap);

/* mkdir -p with mode 0700 for created levels. */
CELLA_RESULT cella_wallet_mkdirs(const char *dir);

/* Resolves the wallet file as described above. `dir` overrides the keystore
 * directory (NULL for the default). */
CELLA_RESULT cella_wallet_find(const char *dir, char *out, size_t cap);

/* The one wallet of `addr` in `dir` (NULL: the default keystore directory):
 * UTC--<time>--<address> or wallet-<address>.json, any case. */
CELLA_RESULT cella_wallet_find_address(const char *dir, const uint8_t addr[20], char *out,
                                       size_t cap);

/* Reads a password file into secure memory: free with
 * cella_secure_free(*pw, *cap). Refuses an empty password. */
CELLA_RESULT cella_password_read(const char *path, char **pw, size_t *len, size_t *cap);

/* Opens a wallet: `wallet_file` (NULL: cella_wallet_find(NULL)), decrypted with
 * the password in `password_file` when it is encrypted. `path_out` (may be
 * NULL) receives the file used. */
CELLA_RESULT cella_wallet_open(const char *wallet_file, const char *password_file, uint8_t priv[32],
                               uint8_t addr[20], char *path_out, size_t path_cap);

/* Reads a private key file: 64 hex digits with optional 0x and surrounding
 * whitespace, or an unencrypted wallet JSON. */
CELLA_RESULT cella_privkey_file_read(const char *path, uint8_t priv[32]);

#endif
