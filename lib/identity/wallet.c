#include "identity/wallet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "identity/keystore.h"

cella_res cella_wallet_default_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    int w;
    if (xdg && xdg[0] == '/') {
        w = snprintf(out, cap, "%s/cella/wallets", xdg);
    } else {
        const char *home = getenv("HOME");
        CELLA_ENSURE(home && home[0] == '/', CELLA_E_NOTFOUND, "HOME",
                     "cannot find the config directory (set HOME or XDG_CONFIG_HOME)");
        w = snprintf(out, cap, "%s/.config/cella/wallets", home);
    }
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_TOOBIG, "keystore directory", "path too long");
    return CELLA_OK_RES;
}

cella_res cella_wallet_mkdirs(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    CELLA_ENSURE(n > 0 && n < sizeof buf, CELLA_E_PATH, dir, "bad directory path");
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return cella_fail(CELLA_E_IO, buf, "cannot create directory: %s", strerror(errno));
        buf[i] = saved;
    }
    struct stat st;
    CELLA_ENSURE(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), CELLA_E_IO, dir, "not a directory");
    return CELLA_OK_RES;
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool wallet_name(const char *n)
{
    size_t len = strlen(n);
    if (!strncmp(n, "UTC--", 5))
        return true;
    return !strncmp(n, "wallet-", 7) && len > 12 && !strcmp(n + len - 5, ".json");
}

cella_res cella_wallet_find(const char *dir, char *out, size_t cap)
{
    static const char *const local[] = {"wallet.json", "encrypted-wallet.json"};
    if (!dir) {
        for (size_t i = 0; i < 2; i++)
            if (is_file(local[i])) {
                CELLA_ENSURE(strlen(local[i]) < cap, CELLA_E_TOOBIG, local[i], "path too long");
                strcpy(out, local[i]);
                return CELLA_OK_RES;
            }
    }
    char def[4096];
    if (!dir) {
        CELLA_TRY(cella_wallet_default_dir(def, sizeof def));
        dir = def;
    }
    DIR *d = opendir(dir);
    CELLA_ENSURE(d != NULL, CELLA_E_NOTFOUND, dir,
                 "no wallet: give --wallet-file F, or create one with: cella wallet create");
    int found = 0;
    struct dirent *e;
    char pick[512] = "";
    while ((e = readdir(d)) != NULL) {
        if (!wallet_name(e->d_name))
            continue;
        if (found++ == 0)
            snprintf(pick, sizeof pick, "%s", e->d_name);
    }
    closedir(d);
    CELLA_ENSURE(found > 0, CELLA_E_NOTFOUND, dir,
                 "no wallet: give --wallet-file F, or create one with: cella wallet create");
    CELLA_ENSURE(found == 1, CELLA_E_USAGE, dir, "%d wallets here: choose one with --wallet-file",
                 found);
    int w = snprintf(out, cap, "%s/%s", dir, pick);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_TOOBIG, dir, "path too long");
    return CELLA_OK_RES;
}

cella_res cella_wallet_find_address(const char *dir, const uint8_t addr[20], char *out,
                                    size_t cap)
{
    char def[4096], hex[41];
    if (!dir) {
        CELLA_TRY(cella_wallet_default_dir(def, sizeof def));
        dir = def;
    }
    cella_hex_encode(hex, addr, 20, false);
    DIR *d = opendir(dir);
    CELLA_ENSURE(d != NULL, CELLA_E_NOTFOUND, dir, "no keystore directory here");
    struct dirent *e;
    char pick[512] = "";
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        if (!wallet_name(e->d_name))
            continue;
        /* UTC--<time>--<address> (geth, ethers) or wallet-<address>.json */
        const char *n = e->d_name;
        size_t len = strlen(n);
        const char *tail = !strncmp(n, "UTC--", 5) ? (len >= 40 ? n + len - 40 : NULL)
                                                   : (len >= 45 ? n + len - 45 : NULL);
        if (tail && !strncasecmp(tail, hex, 40) && found++ == 0)
            snprintf(pick, sizeof pick, "%s", n);
    }
    closedir(d);
    CELLA_ENSURE(found > 0, CELLA_E_NOTFOUND, dir, "no wallet of 0x%s here", hex);
    CELLA_ENSURE(found == 1, CELLA_E_USAGE, dir, "%d wallets of 0x%s here: choose one with "
                 "--wallet-file", found, hex);
    int w = snprintf(out, cap, "%s/%s", dir, pick);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_TOOBIG, dir, "path too long");
    return CELLA_OK_RES;
}

cella_res cella_password_read(const char *path, char **pw, size_t *len, size_t *cap)
{
    uint8_t *data;
    size_t n;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_WALLET_MAX_PASSWORD, true, &data, &n));
    size_t c = n + 1;
    if (n > 0 && data[n - 1] == '\n') {
        data[--n] = 0;
        if (n > 0 && data[n - 1] == '\r')
            data[--n] = 0;
    }
    if (n == 0) {
        cella_secure_free(data, c);
        return cella_fail(CELLA_E_USAGE, path, "the password file is empty");
    }
    *pw = (char *)data;
    *len = n;
    *cap = c;
    return CELLA_OK_RES;
}

cella_res cella_wallet_open(const char *wallet_file, const char *password_file, uint8_t priv[32],
                            uint8_t addr[20], char *path_out, size_t path_cap)
{
    char found[4096];
    if (!wallet_file) {
        CELLA_TRY(cella_wallet_find(NULL, found, sizeof found));
        wallet_file = found;
    }
    if (path_out && path_cap)
        snprintf(path_out, path_cap, "%s", wallet_file);
    char *pw = NULL;
    size_t pwlen = 0, pwcap = 0;
    if (password_file)
        CELLA_TRY(cella_password_read(password_file, &pw, &pwlen, &pwcap));
    cella_res r = cella_wallet_load(wallet_file, pw, pwlen, priv, addr);
    if (pw)
        cella_secure_free(pw, pwcap);
    return r;
}

cella_res cella_privkey_file_read(const char *path, uint8_t priv[32])
{
    uint8_t *data;
    size_t n;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_WALLET_MAX_JSON, true, &data, &n));
    size_t c = n + 1;
    size_t a = 0, b = n;
    while (a < b && (data[a] == ' ' || data[a] == '\n' || data[a] == '\r' || data[a] == '\t'))
        a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\n' || data[b - 1] == '\r' ||
                     data[b - 1] == '\t'))
        b--;
    cella_res r;
    if (a < b && data[a] == '{') {
        uint8_t addr[20];
        r = cella_wallet_plain_decode(data + a, b - a, priv, addr);
    } else {
        r = cella_hex_decode(priv, 32, (const char *)data + a, b - a, path);
        if (cella_ok(r) && !cella_eth_privkey_valid(priv)) {
            cella_wipe(priv, 32);
            r = cella_fail(CELLA_E_PARSE, path, "not a valid secp256k1 private key");
        }
    }
    cella_secure_free(data, c);
    if (!cella_ok(r))
        cella_error_set_where(path);
    return r;
}
