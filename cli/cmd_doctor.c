/* cella doctor: checks this machine and the project's services for what cella
 * needs, and prints for each check either ok or what is wrong with the command
 * that fixes it. The machine: FUSE (the volume shield), user namespaces and
 * bubblewrap (the app sandbox), SQLite, the clock. The project (./cella.json):
 * its hub, cas and blob store answer, as what they should be, with the keys it
 * pins; without a project, the ports `cella up` would take are free. Network
 * checks are bounded (--timeout), and a test mount runs in a child process that
 * is killed if it hangs. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "output.h"
#include "commands.h"
#include "core/encoding.h"
#include "net/http_client.h"
#include "project.h"
#include "runtime/sandbox.h"
#include "runtime/shield.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define MAX_CHECKS 40
#define MOUNT_SECONDS 15
#define SQLITE_MIN 3024000 /* UPSERT (ON CONFLICT DO UPDATE), which the stores use */

typedef enum { CHECK_OK, CHECK_FAIL, CHECK_SKIP } check_state;

typedef struct {
    const char *name;
    check_state state;
    char detail[700];
    char fix[500];
} check;

typedef struct {
    check c[MAX_CHECKS];
    int n;
    long timeout_s;
} report;

/* Records a check: its state, what was found and, for a failure, the fix. */
__attribute__((format(printf, 5, 6))) static void note(report *rp, const char *name, check_state st,
                                                       const char *fix, const char *fmt, ...)
{
    if (rp->n >= MAX_CHECKS)
        return;
    check *c = &rp->c[rp->n++];
    c->name = name;
    c->state = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
    snprintf(c->fix, sizeof c->fix, "%s", fix ? fix : "");
}

/* ---- the machine ---------------------------------------------------------------- */

/* /dev/fuse and fusermount3; true when a test mount is worth trying. */
static bool check_fuse(report *rp)
{
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (fd < 0)
        note(rp, "fuse", CHECK_FAIL,
             e == ENOENT ? "sudo modprobe fuse   (in a container: run it with --device /dev/fuse)"
                         : "sudo chmod 0666 /dev/fuse   (its usual mode)",
             "cannot open /dev/fuse: %s", strerror(e));
    else
        note(rp, "fuse", CHECK_OK, NULL, "/dev/fuse opens read-write");
    const char *paths[] = {"/usr/bin/fusermount3", "/bin/fusermount3",
                           "/usr/local/bin/fusermount3"};
    const char *found = NULL;
    struct stat st;
    for (size_t i = 0; !found && i < sizeof paths / sizeof *paths; i++)
        if (stat(paths[i], &st) == 0 && S_ISREG(st.st_mode))
            found = paths[i];
    bool setuid = found && (st.st_mode & S_ISUID) && st.st_uid == 0;
    if (setuid)
        note(rp, "fusermount3", CHECK_OK, NULL, "%s (setuid root)", found);
    else if (geteuid() == 0)
        note(rp, "fusermount3", CHECK_OK, NULL, "%s; not needed as root",
             found ? found : "not installed");
    else
        note(rp, "fusermount3", CHECK_FAIL, "sudo apt-get install fuse3", "%s: users cannot mount",
             found ? "it is not setuid root" : "not installed");
    return fd >= 0 && (setuid || geteuid() == 0);
}

/* Reads what a child writes to `fd` until it closes it, for at most `seconds`
 * (then the child is killed); returns whether the child exited 0. `out` gets
 * its lines without the "cella: error: " / "cella: warning: " prefixes,
 * joined by "; ". */
static bool child_result(pid_t pid, int fd, int seconds, char *out, size_t cap)
{
    char buf[1024];
    size_t n = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool timed_out = false;
    while (n < sizeof buf - 1) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = seconds * 1000L -
                    ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L);
        struct pollfd p = {fd, POLLIN, 0};
        int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            timed_out = true;
        ssize_t got = pr > 0 ? read(fd, buf + n, sizeof buf - 1 - n) : 0;
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    if (timed_out)
        kill(pid, SIGKILL);
    int st = 0;
    bool ok = waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 && !timed_out;
    out[0] = '\0';
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        static const char *const prefixes[] = {"cella: error: ", "cella: warning: "};
        for (size_t i = 0; i < 2; i++)
            if (!strncmp(line, prefixes[i], strlen(prefixes[i])))
                line += strlen(prefixes[i]);
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", l ? "; " : "", line);
    }
    if (timed_out)
        snprintf(out, cap, "no answer within %d s (killed)", seconds);
    return ok;
}

/* Runs the test mount in a child (a mount that hangs cannot hang doctor):
 * what it printed on stderr becomes the reason. */
static void check_mount(report *rp, bool worth)
{
    if (!worth) {
        note(rp, "fuse mount", CHECK_SKIP, NULL, "not tried (see above)");
        return;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[512], why[600];
    snprintf(dir, sizeof dir, "%s/cella-doctor.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int pipefd[2] = {-1, -1};
    if (!mkdtemp(dir) || pipe2(pipefd, O_CLOEXEC) != 0) {
        note(rp, "fuse mount", CHECK_FAIL, "export TMPDIR=/a/writable/folder",
             "cannot make a test mount point in %s: %s", tmp && *tmp ? tmp : "/tmp",
             strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        _exit(cli_report(cella_shield_try_mount(dir)));
    }
    close(pipefd[1]);
    bool ok = pid > 0 && child_result(pid, pipefd[0], MOUNT_SECONDS, why, sizeof why);
    close(pipefd[0]);
    if (pid < 0)
        snprintf(why, sizeof why, "cannot fork: %s", strerror(errno));
    if (ok && rmdir(dir) == 0)
        note(rp, "fuse mount", CHECK_OK, NULL, "a test FUSE file system mounts and unmounts");
    else if (ok)
        note(rp, "fuse mount", CHECK_FAIL, "fusermount3 -u -z DIR; rmdir DIR",
             "the test mount point %s is left behind: %s", dir, strerror(errno));
    else
        note(rp, "fuse mount", CHECK_FAIL,
             "in a container: --device /dev/fuse --cap-add SYS_ADMIN; otherwise see the reason",
             "%s", why[0] ? why : "the test mount failed");
    if (!ok)
        rmdir(dir); /* best effort: a mount left there keeps it */
}

/* A sysctl's integer value, or -1 when it does not exist here. */
static long sysctl_value(const char *path)
{
    FILE *f = fopen(path, "re");
    long v = -1;
    if (f && fscanf(f, "%ld", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

/* The sysctls that turn unprivileged user namespaces off (bubblewrap needs
 * them unless it runs as root); `fix` gets the command that lifts the first. */
static void check_userns(report *rp, char *fix, size_t cap)
{
    /* each: the value that turns unprivileged namespaces off, and one that does not */
    struct {
        const char *path, *name;
        long bad;
        const char *good;
    } const knobs[] = {
        {"/proc/sys/user/max_user_namespaces", "user.max_user_namespaces", 0, "15000"},
        {"/proc/sys/kernel/unprivileged_userns_clone", "kernel.unprivileged_userns_clone", 0, "1"},
        {"/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
         "kernel.apparmor_restrict_unprivileged_userns", 1, "0"},
    };
    char found[300] = "";
    fix[0] = '\0';
    for (size_t i = 0; i < sizeof knobs / sizeof *knobs; i++) {
        long v = sysctl_value(knobs[i].path);
        size_t l = strlen(found);
        if (v >= 0)
            snprintf(found + l, sizeof found - l, "%s%s = %ld", l ? ", " : "", knobs[i].name, v);
        if (v == knobs[i].bad && !fix[0])
            snprintf(fix, cap, "sudo sysctl -w %s=%s", knobs[i].name, knobs[i].good);
    }
    if (geteuid() == 0)
        note(rp, "user namespaces", CHECK_OK, NULL,
             "%s; as root bubblewrap needs no unprivileged ones", found[0] ? found : "no sysctl");
    else
        note(rp, "user namespaces", fix[0] ? CHECK_FAIL : CHECK_OK, fix, "%s%s",
             found[0] ? found : "no sysctl restricts them",
             fix[0] ? ": unprivileged ones are off" : "");
}

/* bubblewrap is there and starts a sandbox; `userns_fix` lifts what blocks it. */
static void check_sandbox(report *rp, const char *userns_fix)
{
    struct stat st;
    bool have = stat(CELLA_BWRAP, &st) == 0 && (st.st_mode & S_IXUSR);
    if (have)
        note(rp, "bubblewrap", CHECK_OK, NULL, "%s", CELLA_BWRAP);
    else
        note(rp, "bubblewrap", CHECK_FAIL, "sudo apt-get install bubblewrap",
             "%s is not installed: apps cannot be sandboxed", CELLA_BWRAP);
    char why[400];
    if (!have)
        note(rp, "sandbox", CHECK_SKIP, NULL, "not tried (no bubblewrap)");
    else if (cella_sandbox_check(why, sizeof why))
        note(rp, "sandbox", CHECK_OK, NULL,
             "bubblewrap starts a sandbox with every namespace unshared");
    else
        note(rp, "sandbox", CHECK_FAIL,
             userns_fix[0]
                 ? userns_fix
                 : "allow user namespaces (in a container: --security-opt seccomp=unconfined "
                   "--cap-add SYS_ADMIN)",
             "bubblewrap cannot start a sandbox: %s", why);
}

static void check_sqlite(report *rp)
{
    int v = sqlite3_libversion_number();
    if (v < SQLITE_MIN || !sqlite3_threadsafe())
        note(rp, "sqlite", CHECK_FAIL, "sudo apt-get install libsqlite3-dev, then make build",
             "SQLite %s%s: cella needs 3.24 or newer, built thread-safe", sqlite3_libversion(),
             sqlite3_threadsafe() ? "" : " (not thread-safe)");
    else
        note(rp, "sqlite", CHECK_OK, NULL, "SQLite %s (3.24 or newer, thread-safe)",
             sqlite3_libversion());
}

/* The clock is not before the day this file was compiled: evidence checks
 * (certificates, CRLs, TCB info), task deadlines and challenges use it. */
static void check_clock(report *rp)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4] = "";
    int day = 0, year = 0;
    sscanf(__DATE__, "%3s %d %d", mon, &day, &year);
    const char *m = strstr(months, mon);
    struct tm built = {
        .tm_year = year - 1900, .tm_mon = m ? (int)(m - months) / 3 : 0, .tm_mday = day};
    time_t b = timegm(&built), now = time(NULL);
    char nows[CELLA_ISO_TIME_LEN], bs[32];
    cella_iso_time((int64_t)now, nows);
    strftime(bs, sizeof bs, "%Y-%m-%d", gmtime(&b));
    if (now < b)
        note(rp, "clock", CHECK_FAIL,
             "sudo timedatectl set-ntp true   (or: sudo date -s 'YYYY-MM-DD HH:MM:SS')",
             "%s is before this binary was built (%s): certificate and CRL validity, deadlines "
             "and challenges would be judged wrong",
             nows, bs);
    else
        note(rp, "clock", CHECK_OK, NULL, "%s (not before the build, %s)", nows, bs);
}

/* ---- ports and services --------------------------------------------------------- */

/* The port of http(s)://HOST:PORT[/...] when HOST is this machine's loopback, else 0. */
static unsigned loopback_port(const char *url)
{
    const char *h = strstr(url, "://");
    unsigned port = 0;
    if (!h)
        return 0;
    h += 3;
    if (!strncmp(h, "127.0.0.1:", 10))
        sscanf(h + 10, "%5u", &port);
    else if (!strncmp(h, "localhost:", 10))
        sscanf(h + 10, "%5u", &port);
    return port < 65536 ? port : 0;
}

/* True when something holds the loopback port (a bind without SO_REUSEPORT fails). */
static bool port_taken(unsigned port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool taken = s >= 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
                 bind(s, (struct sockaddr *)&a, sizeof a) != 0 && errno == EADDRINUSE;
    if (s >= 0)
        close(s);
    return taken;
}

/* GET path: the HTTP status and the JSON reply (NULL if not JSON). */
static cella_res get(const report *rp, const char *url, const char *pin, const char *path,
                     long *status, json_t **out)
{
    cella_http_client c = {
        .base_url = url, .pin = pin, .timeout_s = rp->timeout_s, .max_response = 1u << 16};
    cella_http_response resp;
    *out = NULL;
    CELLA_TRY(cella_http_call(&c, "GET", path, NULL, cella_slice_of("", 0), &resp));
    *status = resp.status;
    *out = json_loadb((const char *)resp.body.p, resp.body.len, 0, NULL);
    cella_http_response_free(&resp);
    return CELLA_OK_RES;
}

/* A service that did not answer as it should: its key is not the pinned one,
 * nothing answers, or something else does. */
static void service_down(report *rp, const char *name, const char *url, const char *pin,
                         cella_code code, const char *what, const char *pin_cmd,
                         const char *start_fix)
{
    unsigned port = loopback_port(url);
    char fix[500], fp[65] = "?";
    if (code == CELLA_E_AUTH) {
        if (!cella_ok(cella_tls_fetch_fingerprint(url, rp->timeout_s, fp)))
            cella_error_clear();
        snprintf(fix, sizeof fix, "if %s is the key `%s serve%s` printed: %s%s", fp, name,
                 strcmp(name, "hub") ? "" : " --tls", pin_cmd, fp);
        note(rp, name, CHECK_FAIL, fix,
             "%s presents the key %s, but cella.json pins %s (another server, a new identity, or a "
             "machine in the middle)",
             url, fp, pin);
    } else if (port && port_taken(port)) {
        snprintf(fix, sizeof fix,
                 "stop what holds port %u (`ss -ltnp 'sport = :%u'` names it), or move the %s",
                 port, port, name);
        note(rp, name, CHECK_FAIL, fix, "port %u is taken by something that is not a cella %s (%s)",
             port, name, what);
    } else {
        note(rp, name, CHECK_FAIL, start_fix, "%s is unreachable (%s)", url, what);
    }
}

/* One replica of the hub (the only one, usually). */
static void check_hub_replica(report *rp, const json_t *conf, const char *url, const char *pin)
{
    long status = 0;
    json_t *h = NULL;
    cella_res r = get(rp, url, pin[0] ? pin : NULL, "/v1/health", &status, &h);
    const char *addr = json_string_value(json_object_get(h, "hub"));
    json_int_t chain = json_integer_value(json_object_get(h, "chainId"));
    char what[300];
    snprintf(what, sizeof what, "%s", cella_ok(r) ? "" : cella_error_what());
    if (cella_ok(r) && (status != 200 || !addr))
        snprintf(what, sizeof what, "GET /v1/health: HTTP %ld, not a hub's reply", status);
    const json_t *want_chain = json_object_get(conf, "chainId");
    const char *want_hub = json_string_value(json_object_get(conf, "hub"));
    if (what[0]) {
        char start[300];
        unsigned port = loopback_port(url);
        snprintf(start, sizeof start,
                 "start it: `cella up` (the whole stack), or `cella hub serve --listen "
                 "127.0.0.1:%u`; or set \"hubUrl\" in cella.json to the running hub",
                 port ? port : 8080);
        service_down(rp, "hub", url, pin, cella_ok(r) ? CELLA_E_IO : cella_error_code(), what,
                     "set \"hubFingerprint\" in cella.json to ", start);
    } else if ((want_chain && json_integer_value(want_chain) != chain) ||
               (want_hub && strcasecmp(want_hub, addr))) {
        char fix[200];
        snprintf(fix, sizeof fix, "cella init --chain-id %lld --hub %s", (long long)chain, addr);
        note(rp, "hub", CHECK_FAIL, fix,
             "%s is the hub %s of chain %lld, but cella.json signs orders for the hub %s of chain "
             "%lld: it would refuse them",
             url, addr, (long long)chain, want_hub ? want_hub : "?",
             (long long)json_integer_value(want_chain));
    } else {
        note(rp, "hub", CHECK_OK, NULL, "%s answers: the hub %s of chain %lld%s", url, addr,
             (long long)chain, pin[0] ? ", its key matches the pin" : "");
    }
    json_decref(h);
}

/* Every replica of the hub: a client goes to another when one is down, but
 * the operator wants to know. */
static void check_hub(report *rp, const json_t *conf)
{
    cli_hub hub;
    if (!cella_ok(cli_hub_open(NULL, 0, &hub))) {
        note(rp, "hub", CHECK_FAIL,
             "add \"hubFingerprint\": \"HEX\" (printed by `hub serve --tls`) to cella.json", "%s",
             cella_error_what());
        return;
    }
    for (unsigned i = 0; i < hub.ep.n; i++)
        check_hub_replica(rp, conf, hub.ep.at[i].url, hub.ep.at[i].pin);
}

static void check_cas_replica(report *rp, const char *url, const char *fp)
{
    long status = 0;
    json_t *h = NULL;
    cella_res r = get(rp, url, fp, "/v1/health", &status, &h);
    char what[300], pin_cmd[300], start[300];
    snprintf(what, sizeof what, "%s", cella_ok(r) ? "" : cella_error_what());
    if (cella_ok(r) && (status != 200 || !json_is_true(json_object_get(h, "ok"))))
        snprintf(what, sizeof what, "GET /v1/health: HTTP %ld, not a cas's reply", status);
    snprintf(pin_cmd, sizeof pin_cmd, "cella init --cas %.200s --cas-fingerprint ", url);
    snprintf(start, sizeof start,
             "start it: `cella up` (the whole stack), or `cella cas serve --listen 127.0.0.1:%u`",
             loopback_port(url) ? loopback_port(url) : 8081);
    if (what[0])
        service_down(rp, "cas", url, fp, cella_ok(r) ? CELLA_E_IO : cella_error_code(), what,
                     pin_cmd, start);
    else
        note(rp, "cas", CHECK_OK, NULL, "%s answers, its key matches the pin", url);
    json_decref(h);
}

static void check_cas(report *rp, const json_t *conf)
{
    const json_t *cas = json_object_get(conf, "cas");
    char urls[CELLA_ENDPOINTS_TEXT_MAX], pins[CELLA_ENDPOINTS_TEXT_MAX];
    static cella_endpoints ep; /* 9 KiB: off the stack */
    const cella_endpoints_spec spec = {"cas", "cella.json cas.url", "cella.json cas.fingerprint",
                                       true};
    if (!json_object_get(cas, "url")) {
        note(rp, "cas", CHECK_SKIP, NULL, "no \"cas\" in cella.json");
        return;
    }
    if (!cella_ok(cella_endpoints_json_text(json_object_get(cas, "url"), "cas.url", urls,
                                            sizeof urls)) ||
        !cella_ok(cella_endpoints_json_text(json_object_get(cas, "fingerprint"), "cas.fingerprint",
                                            pins, sizeof pins)) ||
        !cella_ok(cella_endpoints_parse(&ep, urls, pins, &spec)) || cella_endpoints_unpinned(&ep)) {
        cella_error_clear();
        note(rp, "cas", CHECK_FAIL, "cella init --cas https://HOST:PORT --cas-fingerprint HEX",
             "cella.json's cas needs https:// URLs and fingerprints of 64 hex digits");
        return;
    }
    for (unsigned i = 0; i < ep.n; i++)
        check_cas_replica(rp, ep.at[i].url, ep.at[i].pin);
}

static void check_blobs(report *rp, const json_t *conf)
{
    const char *url = json_string_value(json_object_get(conf, "blobsUrl"));
    if (!url) {
        note(rp, "blobs", CHECK_SKIP, NULL, "no \"blobsUrl\" in cella.json");
        return;
    }
    /* a blob store has no health route: an unknown blob is its 404 "not_found" */
    long status = 0;
    json_t *h = NULL;
    cella_res r = get(rp, url, NULL,
                      "/v1/blobs/0000000000000000000000000000000000000000000000000000000000000000",
                      &status, &h);
    char what[300], start[200];
    snprintf(what, sizeof what, "%s", cella_ok(r) ? "" : cella_error_what());
    const char *code = json_string_value(json_object_get(h, "code"));
    if (cella_ok(r) && (status != 404 || !code || strcmp(code, "not_found")))
        snprintf(what, sizeof what, "GET /v1/blobs/0..0: HTTP %ld, not a blob store's reply",
                 status);
    snprintf(start, sizeof start,
             "start it: `cella up` (the whole stack), or `cella blobs serve --listen 127.0.0.1:%u`",
             loopback_port(url) ? loopback_port(url) : 8082);
    if (what[0])
        service_down(rp, "blobs", url, NULL, cella_ok(r) ? CELLA_E_IO : cella_error_code(), what,
                     "", start);
    else
        note(rp, "blobs", CHECK_OK, NULL, "%s answers", url);
    json_decref(h);
}

/* The ports `cella up --listen-base BASE` takes: hub, cas, blobs. */
static void check_ports(report *rp, unsigned base)
{
    static const char *const what[] = {"hub", "cas", "blobs"};
    for (unsigned i = 0; i < 3; i++) {
        char fix[300];
        snprintf(fix, sizeof fix,
                 "stop what holds it (`ss -ltnp 'sport = :%u'` names it), or `cella up "
                 "--listen-base N` (0: free ports)",
                 base + i);
        if (port_taken(base + i))
            note(rp, "port", CHECK_FAIL, fix,
                 "port %u (the %s of `cella up --listen-base %u`) is in use", base + i, what[i],
                 base);
        else
            note(rp, "port", CHECK_OK, NULL,
                 "port %u (the %s of `cella up --listen-base %u`) is free", base + i, what[i],
                 base);
    }
}

/* ---- output ------------------------------------------------------------------------- */

static int print_report(const report *rp)
{
    static const char *const state[] = {"ok", "FAIL", "skip"};
    int bad = 0;
    bool as_json = cli_json();
    json_t *arr = as_json ? json_array() : NULL;
    for (int i = 0; i < rp->n; i++) {
        const check *c = &rp->c[i];
        bad += c->state == CHECK_FAIL;
        if (arr)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s?}", "name", c->name, "status",
                                                 c->state == CHECK_FAIL ? "fail" : state[c->state],
                                                 "detail", c->detail, "fix",
                                                 c->state == CHECK_FAIL ? c->fix : NULL));
        else
            printf("%-5s %-16s %s\n%s%s%s", state[c->state], c->name, c->detail,
                   c->state == CHECK_FAIL ? "      fix: " : "",
                   c->state == CHECK_FAIL ? c->fix : "", c->state == CHECK_FAIL ? "\n" : "");
    }
    if (arr) {
        cli_json_set("problems", json_integer(bad));
        cli_json_set("checks", arr);
    } else if (!bad) {
        printf("all %d checks passed\n", rp->n);
    }
    fflush(stdout);
    if (bad)
        return cli_report(cella_fail(CELLA_E_UNSUPPORTED, "doctor", "%d of %d checks failed%s", bad,
                                     rp->n, as_json ? "" : " (each FAIL line above has its fix)"));
    return 0;
}

static int doctor_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"listen-base", true, NULL}, {"timeout", true, NULL}};
    const char *pos[1];
    int np;
    report rp = {.n = 0};
    unsigned long long base = 8080, t = 3;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "doctor");
    if (cella_ok(r) && cli_get(o, NOPTS(o), "listen-base"))
        r = cli_parse_uint(cli_get(o, NOPTS(o), "listen-base"), "--listen-base", 65533, &base);
    if (cella_ok(r) && cli_get(o, NOPTS(o), "timeout"))
        r = cli_parse_uint(cli_get(o, NOPTS(o), "timeout"), "--timeout", 60, &t);
    if (cella_ok(r) && (t == 0 || base == 0))
        r = cella_fail(CELLA_E_USAGE, t ? "--listen-base" : "--timeout", "must be 1 or more");
    struct stat st;
    bool project = stat(CLI_PROJECT_FILE, &st) == 0;
    json_t *conf = NULL;
    if (cella_ok(r))
        r = cli_project_load(&conf);
    if (!cella_ok(r))
        return cli_report(r);
    rp.timeout_s = (long)t;
    check_mount(&rp, check_fuse(&rp));
    char userns_fix[200];
    check_userns(&rp, userns_fix, sizeof userns_fix);
    check_sandbox(&rp, userns_fix);
    check_sqlite(&rp);
    check_clock(&rp);
    if (project) {
        check_hub(&rp, conf);
        check_cas(&rp, conf);
        check_blobs(&rp, conf);
    }
    /* without a project: what `cella up` would need; with one, only when asked */
    if (!project || cli_get(o, NOPTS(o), "listen-base"))
        check_ports(&rp, (unsigned)base);
    json_decref(conf);
    return print_report(&rp);
}

const cli_command cli_doctor_commands[] = {
    {NULL, "doctor", doctor_cmd, "cella doctor [--json] [--listen-base PORT] [--timeout S]",
     "Check this machine and project for what cella needs, and print for each check ok, or what "
     "is wrong and the command that fixes it: FUSE (/dev/fuse, fusermount3, a test mount), user "
     "namespaces and bubblewrap (a test sandbox), SQLite, the clock; with ./cella.json, its hub, "
     "cas and blob store (they answer, as what they should be, with the pinned keys and the "
     "chain of its orders); without one (or with --listen-base), the ports `cella up` takes "
     "(PORT..PORT+2, default 8080) are free. Network checks give up after S seconds (default 3). "
     "Exit 0 when every check passes."},
    {NULL, NULL, NULL, NULL, NULL},
};
