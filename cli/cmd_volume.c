/* cella volume encrypt|decrypt|verify|ls|tag|cat|mount|umount */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "output.h"
#include "commands.h"
#include "core/encoding.h"
#include "core/keyfile.h"
#include "core/secure.h"
#include "core/stage.h"
#include "progress.h"
#include "runtime/shield.h"
#include "volume/volume.h"

static cella_res parse_tag(const char *hex, uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    return cella_hex_decode(tag, CELLA_VOL_TAG_BYTES, hex, strlen(hex), "--tag");
}

static cella_res parse_common(const cli_opt *o, int n, cella_vol_opts *vo)
{
    const char *t = cli_get(o, n, "threads");
    if (t) {
        unsigned long long v;
        CELLA_TRY(cli_parse_size(t, "--threads", &v));
        CELLA_ENSURE(v >= 1 && v <= 64, CELLA_E_USAGE, "--threads", "must be 1 to 64");
        vo->threads = (unsigned)v;
    }
    const char *c = cli_get(o, n, "chunk-size");
    if (c) {
        unsigned long long v;
        CELLA_TRY(cli_parse_size(c, "--chunk-size", &v));
        CELLA_ENSURE(v <= CELLA_VOL_MAX_CHUNK, CELLA_E_USAGE, "--chunk-size", "too large");
        vo->chunk_size = (uint32_t)v;
    }
    return CELLA_OK_RES;
}

static void print_tag(const uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    char hex[2 * CELLA_VOL_TAG_BYTES + 1];
    cella_hex_encode(hex, tag, CELLA_VOL_TAG_BYTES, false);
    printf("%s\n", hex);
    cli_json_set_str("tag", hex);
}

static int volume_encrypt(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL}, {"threads", true, NULL}, {"chunk-size", true, NULL}};
    const char *pos[2];
    int np;
    cella_vol_opts vo = {0};
    cella_res r = cli_parse(argc, argv, o, 3, pos, 2, &np, "volume encrypt");
    if (cella_ok(r) && (np != 2 || !cli_get(o, 3, "key-file")))
        r = cella_fail(CELLA_E_USAGE, "volume encrypt",
                       "usage: cella volume encrypt SRC_DIR VOL_DIR --key-file KEY");
    if (cella_ok(r))
        r = parse_common(o, 3, &vo);
    if (cella_ok(r))
        r = cella_stage_trap_signals();
    if (!cella_ok(r))
        return cli_report(r);
    cli_progress p;
    cli_progress_init(&p, "encrypting");
    vo.progress = cli_progress_update;
    vo.progress_ctx = &p;
    uint8_t tag[CELLA_VOL_TAG_BYTES];
    bool created = false;
    r = cella_vol_encrypt_keyfile(pos[0], pos[1], cli_get(o, 3, "key-file"), &vo, tag, &created);
    cli_progress_end(&p);
    if (!cella_ok(r))
        return cli_report(r);
    if (created)
        fprintf(stderr, "cella: created key file %s (mode 0600)\n", cli_get(o, 3, "key-file"));
    print_tag(tag);
    return 0;
}

/* Shared by verbs that open an existing volume: VOL_DIR --key-file K [--tag T]. */
static cella_res open_volume(const char *dir, const cli_opt *o, int n, cella_volume **v)
{
    CELLA_KEY32(key);
    uint8_t tag[CELLA_VOL_TAG_BYTES];
    const char *kf = cli_get(o, n, "key-file");
    CELLA_ENSURE(kf, CELLA_E_USAGE, "--key-file", "a key file is required");
    const char *t = cli_get(o, n, "tag");
    if (t)
        CELLA_TRY(parse_tag(t, tag));
    CELLA_TRY(cella_keyfile_load(kf, key.b));
    return cella_vol_open(dir, key.b, t ? tag : NULL, v);
}

static int volume_decrypt(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL}, {"tag", true, NULL}, {"threads", true, NULL}};
    const char *pos[2];
    int np;
    cella_vol_opts vo = {0};
    cella_volume *v = NULL;
    cella_res r = cli_parse(argc, argv, o, 3, pos, 2, &np, "volume decrypt");
    if (cella_ok(r) && np != 2)
        r = cella_fail(CELLA_E_USAGE, "volume decrypt",
                       "usage: cella volume decrypt VOL_DIR OUT_DIR --key-file KEY [--tag HEX]");
    if (cella_ok(r))
        r = parse_common(o, 3, &vo);
    if (cella_ok(r))
        r = cella_stage_trap_signals();
    if (cella_ok(r))
        r = open_volume(pos[0], o, 3, &v);
    if (!cella_ok(r))
        return cli_report(r);
    cli_progress p;
    cli_progress_init(&p, "decrypting");
    vo.progress = cli_progress_update;
    vo.progress_ctx = &p;
    r = cella_vol_decrypt(v, pos[1], &vo);
    cli_progress_end(&p);
    cella_vol_close(v);
    return cli_report(r);
}

static int volume_verify(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL}, {"tag", true, NULL}, {"threads", true, NULL}};
    const char *pos[1];
    int np;
    cella_vol_opts vo = {0};
    cella_volume *v = NULL;
    cella_res r = cli_parse(argc, argv, o, 3, pos, 1, &np, "volume verify");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "volume verify",
                       "usage: cella volume verify VOL_DIR --key-file KEY [--tag HEX]");
    if (cella_ok(r))
        r = parse_common(o, 3, &vo);
    if (cella_ok(r))
        r = open_volume(pos[0], o, 3, &v);
    if (!cella_ok(r))
        return cli_report(r);
    cli_progress p;
    cli_progress_init(&p, "verifying");
    vo.progress = cli_progress_update;
    vo.progress_ctx = &p;
    r = cella_vol_verify(v, &vo);
    cli_progress_end(&p);
    if (cella_ok(r)) {
        uint8_t tag[CELLA_VOL_TAG_BYTES];
        char hex[33];
        cella_vol_tag(v, tag);
        cella_hex_encode(hex, tag, sizeof tag, false);
        const cella_vol_meta *m = cella_vol_meta_of(v);
        printf("ok: %u entries, version %llu, tag %s\n", m->count,
               (unsigned long long)m->version, hex);
    }
    cella_vol_close(v);
    return cli_report(r);
}

static int volume_ls(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL}, {"tag", true, NULL}};
    const char *pos[1];
    int np;
    cella_volume *v = NULL;
    cella_res r = cli_parse(argc, argv, o, 2, pos, 1, &np, "volume ls");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "volume ls", "usage: cella volume ls VOL_DIR --key-file KEY");
    if (cella_ok(r))
        r = open_volume(pos[0], o, 2, &v);
    if (!cella_ok(r))
        return cli_report(r);
    const cella_vol_meta *m = cella_vol_meta_of(v);
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        if (e->type == CELLA_VOL_DIR)
            printf("%12s %s/\n", "-", e->path);
        else
            printf("%12llu %s\n", (unsigned long long)e->size, e->path);
    }
    cella_vol_close(v);
    return 0;
}

static int volume_tag(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL}};
    const char *pos[1];
    int np;
    cella_volume *v = NULL;
    cella_res r = cli_parse(argc, argv, o, 1, pos, 1, &np, "volume tag");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "volume tag", "usage: cella volume tag VOL_DIR --key-file KEY");
    if (cella_ok(r))
        r = open_volume(pos[0], o, 1, &v);
    if (!cella_ok(r))
        return cli_report(r);
    uint8_t tag[CELLA_VOL_TAG_BYTES];
    cella_vol_tag(v, tag);
    print_tag(tag);
    cella_vol_close(v);
    return 0;
}

/* A pipe on stdout grows to take a whole job (1 MiB) per write instead of
 * 16 writes into 64 KiB: fewer wake-ups of both ends. Best effort: the
 * limit (fs.pipe-max-size) may refuse, and the pipe then stays as it was. */
static void grow_pipe(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        (void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

static int volume_cat(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL}, {"tag", true, NULL}, {"threads", true, NULL}};
    const char *pos[2];
    int np;
    cella_vol_opts vo = {0};
    cella_volume *v = NULL;
    cella_res r = cli_parse(argc, argv, o, 3, pos, 2, &np, "volume cat");
    if (cella_ok(r) && np != 2)
        r = cella_fail(CELLA_E_USAGE, "volume cat",
                       "usage: cella volume cat VOL_DIR PATH --key-file KEY [--tag HEX]");
    if (cella_ok(r))
        r = parse_common(o, 3, &vo);
    if (cella_ok(r))
        r = open_volume(pos[0], o, 3, &v);
    if (!cella_ok(r))
        return cli_report(r);
    const cella_vol_entry *e = cella_vol_meta_find(cella_vol_meta_of(v), pos[1]);
    if (!e || e->type != CELLA_VOL_FILE)
        r = cella_fail(CELLA_E_NOTFOUND, pos[1], "no such file in the volume");
    else {
        grow_pipe(STDOUT_FILENO);
        r = cella_vol_cat(v, e, STDOUT_FILENO, &vo);
    }
    cella_vol_close(v);
    return cli_report(r);
}

/* cella volume mount: serves the volume through the FUSE shield until it is
 * unmounted (cella volume umount, umount, fusermount3 -u) or the process gets
 * SIGINT, SIGTERM or SIGHUP. Without --foreground the command forks before
 * anything is opened and returns once the mount answers (exit 0) or failed
 * (the error is printed, exit 1); the server keeps stderr for its warnings. */
static int volume_mount(int argc, char **argv)
{
    cli_opt o[] = {{"key-file", true, NULL},
                   {"tag", true, NULL},
                   {"foreground", false, NULL},
                   {"allow-other", false, NULL}};
    const char *pos[2];
    int np;
    cella_res r = cli_parse(argc, argv, o, 4, pos, 2, &np, "volume mount");
    if (cella_ok(r) && np != 2)
        r = cella_fail(CELLA_E_USAGE, "volume mount",
                       "usage: cella volume mount VOL_DIR MOUNTPOINT --key-file KEY [--tag HEX] "
                       "[--foreground]");
    if (cella_ok(r) && !cli_get(o, 4, "key-file"))
        r = cella_fail(CELLA_E_USAGE, "--key-file", "a key file is required");
    const char *why = NULL;
    if (cella_ok(r) && !cella_shield_available(&why))
        r = cella_fail(CELLA_E_UNSUPPORTED, pos[1], "FUSE is not available: %s", why);
    if (!cella_ok(r))
        return cli_report(r);
    bool fg = cli_get(o, 4, "foreground") != NULL;
    int ready[2] = {-1, -1};
    if (!fg) {
        if (pipe2(ready, O_CLOEXEC) != 0)
            return cli_report(cella_fail(CELLA_E_IO, "pipe", "cannot create a pipe"));
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0)
            return cli_report(cella_fail(CELLA_E_IO, "fork", "cannot start the server"));
        if (pid > 0) {
            close(ready[1]);
            char c = 0;
            ssize_t got;
            do
                got = read(ready[0], &c, 1);
            while (got < 0 && errno == EINTR);
            close(ready[0]);
            if (got == 1 && c == '0')
                return 0;
            int st = 0;
            waitpid(pid, &st, 0);
            return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1;
        }
        close(ready[0]);
        setsid();
    }
    /* Signals are taken synchronously below; FUSE threads never see them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    cella_volume *v = NULL;
    cella_shield *s = NULL;
    r = open_volume(pos[0], o, 4, &v);
    if (cella_ok(r)) {
        cella_shield_opts so = {.vol_dir = pos[0], .allow_other = cli_get(o, 4, "allow-other") != NULL};
        r = cella_shield_mount(v, pos[1], &so, &s);
    }
    if (!cella_ok(r)) {
        cella_vol_close(v);
        return cli_report(r); /* the parent sees EOF and exits 1 */
    }
    if (!fg) {
        if (write(ready[1], "0", 1) != 1) {
            /* the parent is gone: keep serving anyway */
        }
        close(ready[1]);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            close(null);
        }
        if (chdir("/") != 0) {
            /* not fatal: the mount point and volume are already open */
        }
    } else {
        fprintf(stderr, "cella: %s mounted read-only at %s; Ctrl-C or 'cella volume umount %s' "
                        "unmounts\n",
                pos[0], cella_shield_mountpoint(s), pos[1]);
    }
    const struct timespec tick = {0, 200 * 1000 * 1000};
    while (cella_shield_mounted(s))
        if (sigtimedwait(&set, NULL, &tick) > 0)
            break;
    r = cella_shield_unmount(s);
    cella_vol_close(v);
    return cli_report(r);
}

static int volume_umount(int argc, char **argv)
{
    cli_opt o[] = {{"lazy", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, 1, pos, 1, &np, "volume umount");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "volume umount",
                       "usage: cella volume umount MOUNTPOINT [--lazy]");
    if (cella_ok(r))
        r = cella_shield_umount_path(pos[0], cli_get(o, 1, "lazy") != NULL);
    return cli_report(r);
}

const cli_command cli_volume_commands[] = {
    {"volume", "encrypt", volume_encrypt,
     "cella volume encrypt SRC_DIR VOL_DIR --key-file KEY [--chunk-size N] [--threads N]",
     "Encrypt a directory tree into a volume (creates KEY, mode 0600, if absent; updates "
     "VOL_DIR if it is already a volume). Prints the tag. VOL_DIR changes in one step or "
     "not at all."},
    {"volume", "decrypt", volume_decrypt,
     "cella volume decrypt VOL_DIR OUT_DIR --key-file KEY [--tag HEX] [--threads N]",
     "Verify and decrypt a volume into OUT_DIR (absent or empty); it appears in one step, "
     "and nothing is written if any check fails or the command is interrupted."},
    {"volume", "verify", volume_verify, "cella volume verify VOL_DIR --key-file KEY [--tag HEX]",
     "Authenticate every chunk of every file; exit 0, or non-zero with the reason."},
    {"volume", "ls", volume_ls, "cella volume ls VOL_DIR --key-file KEY [--tag HEX]",
     "List the files of a volume: size and path, one per line."},
    {"volume", "tag", volume_tag, "cella volume tag VOL_DIR --key-file KEY",
     "Print the current tag of a volume."},
    {"volume", "cat", volume_cat, "cella volume cat VOL_DIR PATH --key-file KEY [--tag HEX]",
     "Decrypt one file of a volume to standard output."},
    {"volume", "mount", volume_mount,
     "cella volume mount VOL_DIR MOUNTPOINT --key-file KEY [--tag HEX] [--foreground]",
     "Show a volume as read-only plain files (FUSE), decrypting chunks as they are read. "
     "Returns once mounted (the server runs in the background) unless --foreground; "
     "SIGINT/SIGTERM or 'volume umount' unmounts. --allow-other lets other users read it."},
    {"volume", "umount", volume_umount, "cella volume umount MOUNTPOINT [--lazy]",
     "Unmount a volume mounted with 'cella volume mount' (--lazy: detach even if busy)."},
    {NULL, NULL, NULL, NULL, NULL},
};
