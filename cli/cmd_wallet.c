/* cella wallet create|show|import: Ethereum wallets (V3 keystores or the iExec
 * SDK's unencrypted wallet.json). Private keys and passwords come from files
 * only, never argv or the environment, and live in secure memory. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "output.h"
#include "core/log.h"
#include "casapi/casapi.h"
#include "project.h"
#include "wallet_opts.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "identity/keystore.h"
#include "identity/wallet.h"

enum { SAVE_NOPTS = 5 };

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))

static cella_res parse_save_opts(const cli_opt *o, int n, cella_keystore_params *ps)
{
    memset(ps, 0, sizeof *ps);
    const char *pf = cli_get(o, n, "password-file");
    const char *un = cli_get(o, n, "unencrypted");
    CELLA_ENSURE(!(pf && un), CELLA_E_USAGE, "wallet",
                 "--password-file and --unencrypted exclude each other");
    CELLA_ENSURE(pf || un, CELLA_E_USAGE, "wallet",
                 "give --password-file F (encrypted keystore) or --unencrypted");
    const char *kdf = cli_get(o, n, "kdf");
    if (kdf) {
        if (!strcmp(kdf, "scrypt"))
            ps->kdf = CELLA_KDF_SCRYPT;
        else if (!strcmp(kdf, "pbkdf2"))
            ps->kdf = CELLA_KDF_PBKDF2;
        else
            return cella_fail(CELLA_E_USAGE, "--kdf", "must be scrypt or pbkdf2");
    }
    const char *sn = cli_get(o, n, "scrypt-n");
    if (sn) {
        unsigned long long v;
        CELLA_TRY(cli_parse_size(sn, "--scrypt-n", &v));
        CELLA_ENSURE(v >= 1024 && v <= (1u << 20) && (v & (v - 1)) == 0, CELLA_E_USAGE,
                     "--scrypt-n", "must be a power of two from 1024 to 1048576");
        ps->scrypt_n = v;
    }
    return CELLA_OK_RES;
}

/* Writes the wallet for priv into the keystore directory (0600, atomic,
 * never replacing a file) and prints its address and path. */
static cella_res save_wallet(const uint8_t priv[32], const cli_opt *o, int n,
                             const cella_keystore_params *ps)
{
    char dir[4096], name[256], path[4400];
    const char *kd = cli_get(o, n, "keystoredir");
    if (kd)
        snprintf(dir, sizeof dir, "%s", kd);
    else
        CELLA_TRY(cella_wallet_default_dir(dir, sizeof dir));
    CELLA_TRY(cella_wallet_mkdirs(dir));
    uint8_t addr[20];
    char text[43];
    CELLA_TRY(cella_eth_address_from_privkey(priv, addr));
    cella_eth_address_checksum(text, addr);
    cella_res r;
    const char *pf = cli_get(o, n, "password-file");
    if (pf) {
        char *pw, *json;
        size_t pwlen, pwcap, len;
        CELLA_TRY(cella_password_read(pf, &pw, &pwlen, &pwcap));
        r = cella_keystore_encrypt(priv, pw, pwlen, ps, &json, &len);
        cella_secure_free(pw, pwcap);
        CELLA_TRY(r);
        r = cella_keystore_filename(name, sizeof name, addr);
        if (cella_ok(r)) {
            snprintf(path, sizeof path, "%s/%s", dir, name);
            r = cella_write_file_atomic(AT_FDCWD, path, json, len, 0600, true);
        }
        free(json);
    } else {
        char *json;
        size_t len, cap;
        snprintf(path, sizeof path, "%s/wallet-%s.json", dir, text + 2);
        CELLA_TRY(cella_wallet_plain_encode(priv, &json, &len, &cap));
        r = cella_write_file_atomic(AT_FDCWD, path, json, len, 0600, true);
        cella_secure_free(json, cap);
    }
    CELLA_TRY(r);
    printf("%s\n", text);
    fprintf(stderr, "cella: wallet written to %s (mode 0600%s)\n", path, pf ? "" : ", UNENCRYPTED");
    cli_json_set_str("address", text);
    cli_json_set_str("file", path);
    cli_json_set("encrypted", json_boolean(pf != NULL));
    return CELLA_OK_RES;
}

#define SAVE_OPTS                                                                                  \
    {"password-file", true, NULL}, {"unencrypted", false, NULL}, {"keystoredir", true, NULL},      \
        {"scrypt-n", true, NULL},                                                                  \
    {                                                                                              \
        "kdf", true, NULL                                                                          \
    }

static int wallet_create(int argc, char **argv)
{
    cli_opt o[] = {SAVE_OPTS};
    const int no = SAVE_NOPTS;
    const char *pos[1];
    int np;
    cella_keystore_params ps;
    cella_res r = cli_parse(argc, argv, o, no, pos, 0, &np, "wallet create");
    if (cella_ok(r))
        r = parse_save_opts(o, no, &ps);
    if (!cella_ok(r))
        return cli_report(r);
    CELLA_KEY32(priv);
    r = cella_eth_privkey_generate(priv.b);
    if (cella_ok(r))
        r = save_wallet(priv.b, o, no, &ps);
    return cli_report(r);
}

static int wallet_import(int argc, char **argv)
{
    cli_opt o[] = {SAVE_OPTS};
    const int no = SAVE_NOPTS;
    const char *pos[1];
    int np;
    cella_keystore_params ps;
    cella_res r = cli_parse(argc, argv, o, no, pos, 1, &np, "wallet import");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "wallet import",
                       "usage: cella wallet import PRIVATE_KEY_FILE [--password-file F | "
                       "--unencrypted] [--keystoredir DIR]");
    if (cella_ok(r))
        r = parse_save_opts(o, no, &ps);
    if (!cella_ok(r))
        return cli_report(r);
    CELLA_KEY32(priv);
    r = cella_privkey_file_read(pos[0], priv.b);
    if (cella_ok(r))
        r = save_wallet(priv.b, o, no, &ps);
    return cli_report(r);
}

/* The hub balance of addr, when a hub is configured (--hub-url, or hubUrl in
 * cella.json): one line on stdout; a hub that does not answer is a warning,
 * since the address is what was asked for. */
static void show_balance(const cli_opt *o, int n, const uint8_t addr[20])
{
    char url[CELLA_ENDPOINTS_TEXT_MAX], at[43], path[128];
    cli_hub hub;
    json_t *reply = NULL;
    if (!cella_ok(cli_project_urls(o, n, "hub-url", "hubUrl", "", url, sizeof url)) || !url[0])
        return;
    cella_eth_address_checksum(at, addr);
    snprintf(path, sizeof path, "/v1/accounts/%s", at);
    cella_res r = cli_hub_open(o, n, &hub);
    if (cella_ok(r))
        r = cella_cas_call(&hub.http, "GET", path, cella_slice_of("", 0), &reply);
    if (cella_ok(r)) {
        printf("balance %s nRLC, locked %s nRLC (hub %s)\n",
               json_string_value(json_object_get(reply, "balance")),
               json_string_value(json_object_get(reply, "locked")), hub.url);
        cli_json_set("balance", json_incref(json_object_get(reply, "balance")));
        cli_json_set("locked", json_incref(json_object_get(reply, "locked")));
        cli_json_set_str("hub", hub.url);
    }
    else
        cella_warn("no balance from the hub %s: %s", url, cella_error_what());
    json_decref(reply);
}

static int wallet_show(int argc, char **argv)
{
    cli_opt o[] = {CLI_WALLET_OPTS, {"hub-url", true, NULL}, {"hub-fingerprint", true, NULL}};
    const char *pos[1];
    int np;
    char path[4096], text[43];
    uint8_t addr[20];
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "wallet show");
    if (cella_ok(r))
        r = cli_wallet_path(o, NOPTS(o), path, sizeof path);
    bool password = cli_get(o, NOPTS(o), "password-file") || cli_get(o, NOPTS(o), "password");
    uint8_t *data = NULL;
    size_t len = 0;
    bool peek = false;
    if (cella_ok(r) && !password) {
        /* without a password: the address an encrypted file claims (nothing to
         * decrypt), or the one an unencrypted file's key gives */
        r = cella_read_file(AT_FDCWD, path, CELLA_WALLET_MAX_JSON, true, &data, &len);
        peek = cella_ok(r) && cella_wallet_is_encrypted(data, len);
        if (data)
            cella_secure_free(data, len + 1);
        if (peek) /* checked against --wallet-address, as cli_wallet_open checks the key */
            r = cli_wallet_address(o, NOPTS(o), addr);
    }
    CELLA_KEY32(priv);
    if (cella_ok(r) && !peek)
        r = cli_wallet_open(o, NOPTS(o), priv.b, addr);
    if (!cella_ok(r))
        return cli_report(r);
    cella_eth_address_checksum(text, addr);
    printf("%s\n", text);
    cli_json_set_str("address", text);
    cli_json_set_str("file", path);
    cli_json_set("keyChecked", json_boolean(!peek));
    if (peek)
        fprintf(stderr,
                "cella: address as written in %s (encrypted; give --password-file to check it "
                "against the key)\n",
                path);
    show_balance(o, NOPTS(o), addr);
    return 0;
}

/* The message of sign-message/verify-message: the text given (its UTF-8
 * bytes, as ethers' signMessage(string) takes it), --message-file's bytes,
 * or with --hex the bytes of a hex string (ethers' getBytes). */
#define MAX_MESSAGE (1u << 20)
static cella_res message_bytes(const cli_opt *o, int n, const char *text, uint8_t **msg,
                               size_t *len)
{
    const char *file = cli_get(o, n, "message-file");
    CELLA_ENSURE(text || file, CELLA_E_USAGE, "message",
                 "give the message as an argument or with --message-file");
    CELLA_ENSURE(!(text && file), CELLA_E_USAGE, "message",
                 "give the message as an argument or --message-file, not both");
    if (file)
        return cella_read_file(AT_FDCWD, file, MAX_MESSAGE, false, msg, len);
    size_t tl = strlen(text);
    if (!cli_get(o, n, "hex")) {
        *msg = (uint8_t *)strdup(text);
        *len = tl;
        CELLA_ENSURE(*msg, CELLA_E_NOMEM, "message", "out of memory");
        return CELLA_OK_RES;
    }
    size_t skip = tl >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') ? 2 : 0;
    CELLA_ENSURE((tl - skip) % 2 == 0 && tl - skip <= 2 * MAX_MESSAGE, CELLA_E_PARSE, "--hex",
                 "an even number of hex digits is needed");
    *len = (tl - skip) / 2;
    *msg = malloc(*len + 1);
    CELLA_ENSURE(*msg, CELLA_E_NOMEM, "message", "out of memory");
    cella_res r = cella_hex_decode(*msg, *len, text + skip, tl - skip, "--hex message");
    if (!cella_ok(r)) {
        free(*msg);
        *msg = NULL;
    }
    return r;
}

static int wallet_sign_message(int argc, char **argv)
{
    cli_opt o[] = {CLI_WALLET_OPTS, {"message-file", true, NULL}, {"hex", false, NULL}};
    const char *pos[1] = {NULL};
    int np;
    uint8_t *msg = NULL;
    size_t len = 0;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "wallet sign-message");
    if (cella_ok(r))
        r = message_bytes(o, NOPTS(o), pos[0], &msg, &len);
    CELLA_KEY32(priv);
    uint8_t addr[20], sig[65];
    if (cella_ok(r))
        r = cli_wallet_open(o, NOPTS(o), priv.b, addr);
    if (cella_ok(r))
        r = cella_eth_personal_sign(priv.b, msg, len, sig);
    free(msg);
    if (!cella_ok(r))
        return cli_report(r);
    char hex[131];
    cella_hex_encode(hex, sig, 65, false);
    printf("0x%s\n", hex);
    char sigtext[133];
    snprintf(sigtext, sizeof sigtext, "0x%s", hex);
    cli_json_set_str("signature", sigtext);
    return 0;
}

static int wallet_verify_message(int argc, char **argv)
{
    cli_opt o[] = {{"address", true, NULL}, {"message-file", true, NULL}, {"hex", false, NULL}};
    const char *pos[2] = {NULL, NULL};
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 2, &np, "wallet verify-message");
    const char *sigtext = np > 0 ? pos[np - 1] : NULL;
    if (cella_ok(r) && (np < 1 || (np == 1) != (cli_get(o, NOPTS(o), "message-file") != NULL)))
        r = cella_fail(CELLA_E_USAGE, "wallet verify-message",
                       "usage: cella wallet verify-message MESSAGE|--message-file F SIGNATURE "
                       "[--address 0xADDR]");
    uint8_t *msg = NULL, sig[65], got[20], want[20];
    size_t len = 0;
    if (cella_ok(r))
        r = message_bytes(o, NOPTS(o), np == 2 ? pos[0] : NULL, &msg, &len);
    if (cella_ok(r))
        r = cella_hex_decode(sig, 65, sigtext, strlen(sigtext), "signature");
    if (cella_ok(r))
        r = cella_eth_personal_recover(msg, len, sig, got);
    free(msg);
    const char *expected = cli_get(o, NOPTS(o), "address");
    if (cella_ok(r) && expected)
        r = cella_eth_address_parse(want, expected, "--address");
    char text[43], wtext[43];
    if (cella_ok(r))
        cella_eth_address_checksum(text, got);
    if (cella_ok(r) && expected && memcmp(want, got, 20) != 0) {
        cella_eth_address_checksum(wtext, want);
        r = cella_fail(CELLA_E_AUTH, "wallet verify-message",
                       "the message was signed by %s, not by %s", text, wtext);
    }
    if (!cella_ok(r))
        return cli_report(r);
    printf("%s\n", text);
    cli_json_set_str("address", text);
    return 0;
}

const cli_command cli_wallet_commands[] = {
    {"wallet", "create", wallet_create,
     "cella wallet create [--password-file F | --unencrypted] [--keystoredir DIR]",
     "Create a new Ethereum wallet: a V3 keystore (scrypt, AES-128-CTR) named UTC--...--ADDRESS, "
     "or with --unencrypted an iExec-style wallet-ADDRESS.json, in DIR (default "
     "$XDG_CONFIG_HOME/cella/wallets or ~/.config/cella/wallets), mode 0600. Prints the "
     "address. --kdf pbkdf2 and --scrypt-n N (default 131072) tune the key derivation."},
    {"wallet", "show", wallet_show,
     "cella wallet show " CLI_WALLET_USAGE " [--keystoredir DIR] [--hub-url URL]",
     "Print a wallet's address, and its nRLC balance when a hub is configured (--hub-url, or "
     "hubUrl in cella.json). With a password (--password-file, --password) the keystore is "
     "decrypted and the key checked; a wrong password is an error. The wallet: --wallet-file, "
     "--wallet-address (its keystore in --keystoredir), else ./wallet.json, "
     "./encrypted-wallet.json, or the only wallet in the keystore directory."},
    {"wallet", "import", wallet_import,
     "cella wallet import PRIVATE_KEY_FILE [--password-file F | --unencrypted] [--keystoredir "
     "DIR]",
     "Store an existing private key (a file holding 64 hex digits, or an unencrypted "
     "wallet.json) as a wallet, like wallet create. The key never appears in arguments."},
    {"wallet", "sign-message", wallet_sign_message,
     "cella wallet sign-message MESSAGE|--message-file F [--hex] " CLI_WALLET_USAGE
     " [--keystoredir DIR]",
     "Sign a message with EIP-191 personal_sign, byte for byte as ethers' signMessage: the "
     "text's UTF-8 bytes (with --hex, the bytes a hex string encodes; with --message-file, the "
     "file's bytes). Prints the 65-byte signature r||s||v (v = 27 or 28) as 0x-hex."},
    {"wallet", "verify-message", wallet_verify_message,
     "cella wallet verify-message MESSAGE|--message-file F SIGNATURE [--hex] [--address 0xADDR]",
     "Recover the address that signed a message (EIP-191, as ethers' verifyMessage) and print "
     "it; with --address, exit non-zero unless that address signed it."},
    {NULL, NULL, NULL, NULL, NULL},
};
