#include "wallet_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "identity/keystore.h"
#include "identity/wallet.h"

bool cli_wallet_named(const cli_opt *o, int n)
{
    return cli_get(o, n, "wallet-file") || cli_get(o, n, "wallet-address");
}

cella_res cli_wallet_path(const cli_opt *o, int n, char *out, size_t cap)
{
    const char *file = cli_get(o, n, "wallet-file"), *who = cli_get(o, n, "wallet-address");
    const char *dir = cli_get(o, n, "keystoredir");
    CELLA_ENSURE(!(file && who), CELLA_E_USAGE, "--wallet-address",
                 "give --wallet-file or --wallet-address, not both");
    if (file) {
        CELLA_ENSURE(strlen(file) < cap, CELLA_E_TOOBIG, "--wallet-file", "path too long");
        snprintf(out, cap, "%s", file);
        return CELLA_OK_RES;
    }
    if (who) {
        uint8_t addr[20];
        CELLA_TRY(cella_eth_address_parse(addr, who, "--wallet-address"));
        return cella_wallet_find_address(dir, addr, out, cap);
    }
    return cella_wallet_find(dir, out, cap);
}

/* With --wallet-address, the file was picked by its name: the address its
 * key (or, without a password, its "address" field) gives must be that one,
 * so a misnamed or planted keystore never signs in its place. */
static cella_res check_named(const cli_opt *o, int n, const char *path, const uint8_t addr[20])
{
    const char *who = cli_get(o, n, "wallet-address");
    if (!who)
        return CELLA_OK_RES;
    uint8_t want[20];
    CELLA_TRY(cella_eth_address_parse(want, who, "--wallet-address"));
    char got[43], asked[43];
    cella_eth_address_checksum(got, addr);
    cella_eth_address_checksum(asked, want);
    CELLA_ENSURE(memcmp(want, addr, 20) == 0, CELLA_E_AUTH, path,
                 "this keystore holds %s, not %s (--wallet-address)", got, asked);
    return CELLA_OK_RES;
}

cella_res cli_wallet_address(const cli_opt *o, int n, uint8_t addr[20])
{
    char path[4096];
    CELLA_TRY(cli_wallet_path(o, n, path, sizeof path));
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_WALLET_MAX_JSON, true, &data, &len));
    cella_res r;
    if (cella_wallet_is_encrypted(data, len)) {
        r = cella_wallet_peek_address(data, len, addr);
    } else {
        CELLA_KEY32(priv);
        r = cella_wallet_plain_decode(data, len, priv.b, addr);
    }
    cella_secure_free(data, len + 1);
    if (!cella_ok(r))
        cella_error_set_where(path);
    return cella_ok(r) ? check_named(o, n, path, addr) : r;
}

/* ---- the password prompt ---- */

static volatile sig_atomic_t g_prompt_signal;
static void on_prompt_signal(int sig) { g_prompt_signal = sig; }

/* Reads one line from the terminal with echo off into secure memory. A
 * signal (Ctrl-C) ends the prompt with echo restored, then takes its usual
 * course. */
static cella_res prompt_password(const char *wallet, char **pw, size_t *len, size_t *cap)
{
    int tty = isatty(STDIN_FILENO) ? open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    struct termios old, quiet;
    if (tty >= 0 && tcgetattr(tty, &old) != 0) {
        close(tty);
        tty = -1;
    }
    CELLA_ENSURE(tty >= 0, CELLA_E_USAGE, wallet,
                 "the wallet is encrypted: give --password-file F (or run on a terminal to be "
                 "asked for the password)");
    *cap = CELLA_WALLET_MAX_PASSWORD + 2;
    *pw = cella_secure_alloc(*cap);
    if (!*pw) {
        close(tty);
        return cella_fail(CELLA_E_NOMEM, wallet, "out of memory");
    }
    struct sigaction sa = {.sa_handler = on_prompt_signal}, old_int, old_term, old_hup;
    sigemptyset(&sa.sa_mask); /* no SA_RESTART: read() returns EINTR */
    g_prompt_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    tcsetattr(tty, TCSAFLUSH, &quiet);
    dprintf(tty, "Password for %s: ", wallet);
    size_t n = 0;
    bool done = false;
    while (!done && !g_prompt_signal && n < *cap - 1) {
        ssize_t k = read(tty, *pw + n, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || (*pw)[n] == '\n')
            done = true;
        else
            n++;
    }
    tcsetattr(tty, TCSAFLUSH, &old);
    dprintf(tty, "\n");
    close(tty);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    (*pw)[n] = '\0';
    if (g_prompt_signal) {
        cella_secure_free(*pw, *cap);
        raise(g_prompt_signal);
        return cella_fail(CELLA_E_USAGE, wallet, "interrupted");
    }
    if (n > 0 && (*pw)[n - 1] == '\r')
        (*pw)[--n] = '\0';
    if (n == 0 || n > CELLA_WALLET_MAX_PASSWORD) {
        cella_secure_free(*pw, *cap);
        return cella_fail(CELLA_E_USAGE, wallet, n ? "password too long" : "no password given");
    }
    *len = n;
    return CELLA_OK_RES;
}

/* --password: copied into secure memory and wiped from the argument vector
 * (so that later readers of /proc/PID/cmdline miss it; earlier ones and the
 * shell history did not). */
static cella_res password_from_argv(const cli_opt *o, int n, char **pw, size_t *len, size_t *cap)
{
    char *given = (char *)cli_get(o, n, "password"); /* points into argv */
    *len = strlen(given);
    CELLA_ENSURE(*len > 0 && *len <= CELLA_WALLET_MAX_PASSWORD, CELLA_E_USAGE, "--password",
                 "empty or too long");
    cella_warn("--password shows in the process list and in shell history: prefer "
               "--password-file or the prompt");
    *cap = *len + 1;
    *pw = cella_secure_alloc(*cap);
    CELLA_ENSURE(*pw, CELLA_E_NOMEM, "--password", "out of memory");
    memcpy(*pw, given, *cap);
    cella_wipe(given, *len);
    return CELLA_OK_RES;
}

cella_res cli_wallet_open(const cli_opt *o, int n, uint8_t priv[32], uint8_t addr[20])
{
    char path[4096];
    CELLA_TRY(cli_wallet_path(o, n, path, sizeof path));
    const char *pf = cli_get(o, n, "password-file");
    CELLA_ENSURE(!(pf && cli_get(o, n, "password")), CELLA_E_USAGE, "--password",
                 "give --password-file or --password, not both");
    char *pw = NULL;
    size_t len = 0, cap = 0;
    if (pf) {
        CELLA_TRY(cella_password_read(pf, &pw, &len, &cap));
    } else if (cli_get(o, n, "password")) {
        CELLA_TRY(password_from_argv(o, n, &pw, &len, &cap));
    } else {
        /* Ask only for an encrypted keystore; an unencrypted wallet needs none. */
        uint8_t *data;
        size_t dlen;
        CELLA_TRY(cella_read_file(AT_FDCWD, path, CELLA_WALLET_MAX_JSON, true, &data, &dlen));
        bool encrypted = cella_wallet_is_encrypted(data, dlen);
        cella_secure_free(data, dlen + 1);
        if (encrypted)
            CELLA_TRY(prompt_password(path, &pw, &len, &cap));
    }
    cella_res r = cella_wallet_load(path, pw, len, priv, addr);
    if (pw)
        cella_secure_free(pw, cap);
    if (cella_ok(r))
        r = check_named(o, n, path, addr);
    if (!cella_ok(r))
        cella_wipe(priv, 32);
    return r;
}
