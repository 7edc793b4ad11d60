/* cella up: the whole stack on one host, for development — a hub (SQLite,
 * dev faucet), a cas (sim TEE allowed, the hub as its registry), a blob store,
 * and one worker with its workerpool and a published workerpool order. Each
 * is this binary's own server verb in a child process; up supervises them and
 * stops them all on SIGINT/SIGTERM or when one dies. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "casapi/casapi.h"
#include "commands.h"
#include "output.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/keystore.h"
#include "identity/wallet.h"
#include "net/http_client.h"
#include "tee/sim.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#define ZERO_ADDRESS "0x0000000000000000000000000000000000000000"
#define NCHILD 4

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct {
    const char *name;
    pid_t pid;
    off_t log_start; /* where this run's lines begin in DATA/logs/NAME.log */
} child;

static child g_children[NCHILD];
static int g_nchildren;
static char g_exe[PATH_MAX], g_data[PATH_MAX];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* One `cella up` per data folder: an exclusive flock on DATA/up.lock, taken
 * before anything else in DATA changes and held until this process exits (the
 * children do not inherit it). The file holds the holder's PID, so a second up
 * can name it. A crashed up leaves no stale lock: the kernel drops it. */
static cella_res lock_data(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/up.lock", g_data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, path, "open: %s", strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "", where[PATH_MAX + 64];
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        close(fd);
        CELLA_ENSURE(e == EWOULDBLOCK, CELLA_E_IO, path, "flock: %s", strerror(e));
        pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
        snprintf(where, sizeof where, "PID %s holds %s", *pid ? pid : "?", g_data);
        return cella_fail(CELLA_E_EXISTS, where, "another cella up runs on this data folder");
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return cella_fail(CELLA_E_IO, path, "write: %s", strerror(e));
    }
    return CELLA_OK_RES; /* fd stays open: closing it would drop the lock */
}

/* Whether a loopback port can be listened on now, as the servers bind it
 * (SO_REUSEADDR: the last run's TIME_WAIT connections do not count). */
static bool port_free(unsigned port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = s >= 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
              bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 1) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

/* The port of a URL "SCHEME://127.0.0.1:PORT" that DATA/cella.json records
 * (at `key`, or `key`.`sub`): 0 if there is none. */
static unsigned recorded_port(const json_t *conf, const char *key, const char *sub)
{
    const json_t *v = json_object_get(conf, key);
    const char *url = json_string_value(sub ? json_object_get(v, sub) : v);
    const char *colon = url ? strrchr(url, ':') : NULL;
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    return colon && strstr(url, "://127.0.0.1:") && !*end && port < 65536 ? (unsigned)port : 0;
}

/* The ports of hub, cas and blobs: --listen-base (0: the servers pick free
 * ones), else the ones DATA/cella.json recorded last time, so copies of it
 * keep working, else 8080-8082. A recorded port that is taken now is refused
 * rather than silently replaced: every copy of cella.json would then point
 * at the wrong server. */
static cella_res pick_ports(const char *base_opt, unsigned ports[3])
{
    static const char *const names[3] = {"hub", "cas", "blobs"};
    unsigned long long base = 8080;
    bool recorded = false;
    if (base_opt) {
        CELLA_TRY(cli_parse_size(base_opt, "--listen-base", &base));
        CELLA_ENSURE(base <= 65533, CELLA_E_USAGE, "--listen-base",
                     "a port below 65534, or 0 for free ports");
    } else {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/cella.json", g_data);
        json_t *conf = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
        ports[0] = recorded_port(conf, "hubUrl", NULL);
        ports[1] = recorded_port(conf, "cas", "url");
        ports[2] = recorded_port(conf, "blobsUrl", NULL);
        json_decref(conf);
        recorded = ports[0] && ports[1] && ports[2];
    }
    for (int i = 0; !recorded && i < 3; i++)
        ports[i] = base ? (unsigned)base + (unsigned)i : 0;
    for (int i = 0; i < 3; i++) {
        char where[32];
        snprintf(where, sizeof where, "127.0.0.1:%u", ports[i]);
        if (ports[i] && !port_free(ports[i]))
            return recorded ? cella_fail(CELLA_E_EXISTS, where,
                                         "port %u, where %s/cella.json says the %s is, is in use "
                                         "by another program: stop it, or start with "
                                         "--listen-base PORT (0: free ports) and copy the new "
                                         "cella.json into your projects",
                                         ports[i], g_data, names[i])
                            : cella_fail(CELLA_E_EXISTS, where,
                                         "port %u (for the %s) is in use by another program: "
                                         "stop it, or start with --listen-base PORT (0: free "
                                         "ports)",
                                         ports[i], names[i]);
    }
    return CELLA_OK_RES;
}

/* Starts `cella ARGS...` with its output in DATA/logs/NAME.log. */
static cella_res spawn(const char *name, const char *const *args)
{
    char log[PATH_MAX + 64];
    snprintf(log, sizeof log, "%s/logs/%s.log", g_data, name);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, log, "open: %s", strerror(errno));
    off_t start = lseek(fd, 0, SEEK_END);
    const char *argv[40];
    int n = 0;
    argv[n++] = g_exe;
    for (; args[n - 1] && n < 39; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        signal(SIGINT, SIG_IGN); /* up stops its children itself, in order */
        execv(g_exe, (char *const *)argv);
        _exit(127);
    }
    close(fd);
    CELLA_ENSURE(pid > 0, CELLA_E_IO, name, "fork: %s", strerror(errno));
    g_children[g_nchildren++] = (child){name, pid, start > 0 ? start : 0};
    return CELLA_OK_RES;
}

static void stop_all(void)
{
    for (int i = g_nchildren - 1; i >= 0; i--) /* the worker first, the hub last */
        if (g_children[i].pid > 0)
            kill(g_children[i].pid, SIGTERM);
    double end = now_s() + 10;
    for (int i = g_nchildren - 1; i >= 0; i--) {
        while (g_children[i].pid > 0) {
            pid_t w = waitpid(g_children[i].pid, NULL, WNOHANG);
            if (w == g_children[i].pid || (w < 0 && errno != EINTR)) {
                g_children[i].pid = 0;
            } else if (now_s() > end) {
                kill(g_children[i].pid, SIGKILL);
                waitpid(g_children[i].pid, NULL, 0);
                g_children[i].pid = 0;
            } else {
                sleep_ms(20);
            }
        }
    }
}

/* A child that exited, else NULL. */
static const child *dead_child(void)
{
    for (int i = 0; i < g_nchildren; i++) {
        int st;
        if (g_children[i].pid > 0 && waitpid(g_children[i].pid, &st, WNOHANG) == g_children[i].pid) {
            g_children[i].pid = 0;
            return &g_children[i];
        }
    }
    return NULL;
}

/* The rest of the last line starting with `prefix` that child `c` printed in
 * this run (its log from log_start); "" if there is none yet. */
static void child_line(const child *c, const char *prefix, char *out, size_t cap)
{
    char log[PATH_MAX + 64], line[1024];
    snprintf(log, sizeof log, "%s/logs/%s.log", g_data, c->name);
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    size_t pl = strlen(prefix);
    if (f && fseeko(f, c->log_start, SEEK_SET) == 0)
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, prefix, pl))
                snprintf(out, cap, "%.*s", (int)strcspn(line + pl, "\n"), line + pl);
    if (f)
        fclose(f);
}

/* A child that died while starting: its own error line says why (a port
 * taken meanwhile, say). */
static cella_res died_starting(const child *c)
{
    char err[512];
    child_line(c, "cella: error: ", err, sizeof err);
    return cella_fail(CELLA_E_IO, c->name, "stopped during startup%s%s (see %s/logs/%s.log)",
                      *err ? ": " : "", err, g_data, c->name);
}

/* Waits for the last child started to print a line starting with `prefix`
 * (its URL, its fingerprint): the rest of the line goes to `out`. */
static cella_res wait_line(const char *prefix, char *out, size_t cap)
{
    const child *c = &g_children[g_nchildren - 1];
    double end = now_s() + 30;
    while (now_s() < end && !g_stop) {
        child_line(c, prefix, out, cap);
        if (*out)
            return CELLA_OK_RES;
        const child *d = dead_child();
        if (d)
            return died_starting(d);
        sleep_ms(50);
    }
    return cella_fail(CELLA_E_IO, c->name, "printed no '%s' line within 30 s (see %s/logs/%s.log)",
                      prefix, g_data, c->name);
}

/* Waits until a server answers HTTP at all (any status). */
static cella_res wait_http(const char *name, const char *url, const char *pin, const char *path)
{
    cella_http_client c = {.base_url = url, .pin = pin, .timeout_s = 2};
    double end = now_s() + 30;
    while (now_s() < end && !g_stop) {
        const child *d = dead_child();
        if (d)
            return died_starting(d);
        cella_http_response resp;
        if (cella_ok(cella_http_call(&c, "GET", path, NULL, cella_slice_of("", 0), &resp))) {
            cella_http_response_free(&resp);
            return CELLA_OK_RES;
        }
        sleep_ms(50);
    }
    return cella_fail(CELLA_E_IO, name, "did not start within 30 s (see %s/logs/%s.log)", g_data,
                      name);
}

/* The pool owner's wallet, made once: DATA/pool/wallet-*.json (0600). */
static cella_res pool_wallet(char *path, size_t cap)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/pool", g_data);
    if (!cella_ok(cella_wallet_find(dir, path, cap))) {
        cella_error_clear();
        uint8_t key[32], addr[20];
        char ad[43], *text = NULL;
        size_t len = 0, cap2 = 0;
        CELLA_TRY(cella_eth_privkey_generate(key));
        cella_res r = cella_eth_address_from_privkey(key, addr);
        if (cella_ok(r))
            r = cella_wallet_plain_encode(key, &text, &len, &cap2); /* secure memory */
        cella_wipe(key, sizeof key);
        CELLA_TRY(r);
        cella_eth_address_checksum(ad, addr);
        if ((size_t)snprintf(path, cap, "%s/wallet-%s.json", dir, ad) >= cap)
            r = cella_fail(CELLA_E_USAGE, dir, "path too long");
        else if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            r = cella_fail(CELLA_E_IO, dir, "mkdir: %s", strerror(errno));
        if (cella_ok(r))
            r = cella_write_file_atomic(AT_FDCWD, path, text, len, 0600, true);
        cella_secure_free(text, cap2);
        CELLA_TRY(r);
    }
    return CELLA_OK_RES;
}

/* Deploys the pool (idempotent: same owner and name, same address) and
 * publishes a workerpool order unless one is open: TEE with every framework
 * bit, price 0, category 0, a large volume. */
static cella_res pool_and_order(const char *hub, const char *wallet, char pool[43])
{
    cella_http_client h = {.base_url = hub, .timeout_s = 10};
    uint8_t *key = cella_secure_alloc(32), owner[20];
    CELLA_ENSURE(key, CELLA_E_NOMEM, "wallet", "out of memory");
    json_t *dep = NULL, *health = NULL, *book = NULL, *pub = NULL;
    cella_order ord;
    cella_order_init(&ord, CELLA_ORDER_WORKERPOOL);
    const char *body = "{\"name\":\"cella-up workerpool\"}";
    cella_res r = cella_wallet_open(wallet, NULL, key, owner, NULL, 0);
    if (cella_ok(r))
        r = cella_cas_signed_call(&h, key, "POST", "/v1/workerpools",
                                  cella_slice_of(body, strlen(body)), "application/json", &dep);
    const char *a = cella_ok(r) ? json_string_value(json_object_get(dep, "address")) : NULL;
    if (cella_ok(r) && (!a || strlen(a) != 42))
        r = cella_fail(CELLA_E_PARSE, hub, "the hub sent no workerpool address");
    if (cella_ok(r))
        snprintf(pool, 43, "%s", a);
    char path[300];
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/orders?kind=workerpoolorder&workerpool=%s&limit=1", pool);
        r = cella_cas_call(&h, "GET", path, cella_slice_of("", 0), &book);
    }
    bool have = cella_ok(r) && json_array_size(json_object_get(book, "orders")) > 0;
    if (cella_ok(r) && !have)
        r = cella_cas_call(&h, "GET", "/v1/health", cella_slice_of("", 0), &health);
    if (cella_ok(r) && !have) {
        cella_domain d = {.chain_id = (uint64_t)json_integer_value(json_object_get(health, "chainId"))};
        const char *hub_addr = json_string_value(json_object_get(health, "hub"));
        r = cella_eth_address_parse(d.hub, hub_addr ? hub_addr : "", "hub");
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "workerpool",
                              pool, "workerpoolprice", "0", "volume", "1000000", "tag",
                              "0x000000000000000000000000000000000000000000000000000000000000000f",
                              "category", "0", "trust", "0", "apprestrict", ZERO_ADDRESS,
                              "datasetrestrict", ZERO_ADDRESS, "requesterrestrict", ZERO_ADDRESS,
                              "salt", "0x0000000000000000000000000000000000000000000000000000000000000000");
        if (cella_ok(r))
            r = o ? cella_order_from_json(o, CELLA_ORDER_WORKERPOOL, false, &ord)
                  : cella_fail(CELLA_E_NOMEM, "order", "out of memory");
        json_decref(o);
        if (cella_ok(r))
            r = cella_order_sign(&d, &ord, key, true);
        json_t *oj = cella_ok(r) ? cella_order_to_json(&ord) : NULL;
        char *text = oj ? json_dumps(oj, JSON_COMPACT) : NULL;
        if (cella_ok(r))
            r = text ? cella_cas_call(&h, "POST", "/v1/orders", cella_slice_of(text, strlen(text)), &pub)
                     : cella_fail(CELLA_E_NOMEM, "order", "out of memory");
        free(text);
        json_decref(oj);
    }
    cella_order_free(&ord);
    json_decref(dep);
    json_decref(health);
    json_decref(book);
    json_decref(pub);
    cella_secure_free(key, 32);
    return r;
}

static int up_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"data", true, NULL},   {"listen-base", true, NULL}, {"slots", true, NULL},
                   {"dev-timeref", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "up");
    const char *data = cli_get(o, NOPTS(o), "data"), *slots = cli_get(o, NOPTS(o), "slots");
    ssize_t el = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
    if (cella_ok(r) && el <= 0)
        r = cella_fail(CELLA_E_IO, "/proc/self/exe", "cannot find this binary");
    if (el > 0)
        g_exe[el] = '\0';
    if (cella_ok(r) && (mkdir(data ? data : "cella-up", 0700) != 0 && errno != EEXIST))
        r = cella_fail(CELLA_E_IO, data ? data : "cella-up", "mkdir: %s", strerror(errno));
    if (cella_ok(r) && !realpath(data ? data : "cella-up", g_data))
        r = cella_fail(CELLA_E_IO, data ? data : "cella-up", "realpath: %s", strerror(errno));
    if (cella_ok(r))
        r = lock_data();
    unsigned ports[3];
    if (cella_ok(r))
        r = pick_ports(cli_get(o, NOPTS(o), "listen-base"), ports);
    char sub[PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/logs", g_data);
    if (cella_ok(r) && mkdir(sub, 0700) != 0 && errno != EEXIST)
        r = cella_fail(CELLA_E_IO, sub, "mkdir: %s", strerror(errno));
    if (!cella_ok(r))
        return cli_report(r);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char hub[128], cas[128], blobs[128], hl[32], cl[32], bl[32], hd[PATH_MAX + 8], cd[PATH_MAX + 8],
        bd[PATH_MAX + 8], sd[PATH_MAX + 8], spub[PATH_MAX + 32], wd[PATH_MAX + 8], wallet[PATH_MAX],
        fp[65] = "", pool[43] = "";
    snprintf(hl, sizeof hl, "127.0.0.1:%u", ports[0]);
    snprintf(cl, sizeof cl, "127.0.0.1:%u", ports[1]);
    snprintf(bl, sizeof bl, "127.0.0.1:%u", ports[2]);
    snprintf(hd, sizeof hd, "%s/hub", g_data);
    snprintf(cd, sizeof cd, "%s/cas", g_data);
    snprintf(bd, sizeof bd, "%s/blobs", g_data);
    snprintf(sd, sizeof sd, "%s/sim", g_data);
    snprintf(spub, sizeof spub, "%s/sim-platform.pub", sd);
    snprintf(wd, sizeof wd, "%s/worker", g_data);
    /* The sim TEE's platform key: development only (sim protects nothing). */
    struct stat st;
    if (stat(spub, &st) != 0) {
        r = cella_sim_platform_init(sd, false);
        if (!cella_ok(r))
            return cli_report(r);
    }
    const char *timeref = cli_get(o, NOPTS(o), "dev-timeref");
    const char *hub_args[] = {"hub",  "serve",         "--listen",    hl,   "--data", hd,
                              "--dev-faucet", timeref ? "--dev-timeref" : NULL, timeref, NULL};
    /* Each server prints the URL it bound (its port may be the kernel's choice). */
    r = spawn("hub", hub_args);
    if (cella_ok(r))
        r = wait_line("hub listening on ", hub, sizeof hub);
    if (cella_ok(r))
        r = wait_http("hub", hub, NULL, "/v1/health");
    const char *blob_args[] = {"blobs", "serve", "--listen", bl, "--data", bd, NULL};
    if (cella_ok(r))
        r = spawn("blobs", blob_args);
    if (cella_ok(r))
        r = wait_line("blobs listening on ", blobs, sizeof blobs);
    if (cella_ok(r))
        r = wait_http("blobs", blobs, NULL, "/v1/health");
    const char *cas_args[] = {"cas",       "serve", "--listen",     cl,   "--data",
                              cd,          "--allow-sim", "--sim-platform", spub, "--hub",
                              hub,         NULL};
    if (cella_ok(r))
        r = spawn("cas", cas_args);
    if (cella_ok(r))
        r = wait_line("cas listening on ", cas, sizeof cas);
    if (cella_ok(r))
        r = wait_line("fingerprint ", fp, sizeof fp);
    if (cella_ok(r) && (strlen(fp) != 64 || fp[strspn(fp, "0123456789abcdef")]))
        r = cella_fail(CELLA_E_PARSE, "cas", "printed a malformed fingerprint '%s'", fp);
    if (cella_ok(r))
        r = wait_http("cas", cas, fp, "/v1/health");
    if (cella_ok(r))
        r = pool_wallet(wallet, sizeof wallet);
    if (cella_ok(r))
        r = pool_and_order(hub, wallet, pool);
    const char *worker_args[] = {"worker", "start",   "--pool",   pool,  "--wallet-file",
                                 wallet,   "--hub-url", hub,      "--cas", cas,
                                 "--cas-fingerprint", fp, "--blobs", blobs, "--work-dir",
                                 wd,       "--sim-dir", sd,       "--slots", slots ? slots : "1",
                                 NULL};
    /* --slots 0: the pool and its order, but workers are started by hand. */
    bool worker = !slots || strcmp(slots, "0") != 0;
    if (cella_ok(r) && worker)
        r = spawn("worker", worker_args);
    /* The project file for verbs run from DATA, and the line to configure another directory. */
    json_t *health = NULL;
    if (cella_ok(r)) {
        cella_http_client hc = {.base_url = hub, .timeout_s = 10};
        r = cella_cas_call(&hc, "GET", "/v1/health", cella_slice_of("", 0), &health);
    }
    if (cella_ok(r)) {
        /* The EIP-712 domain of orders comes with it: verbs run with a copy sign for this hub. */
        json_t *pj = json_pack("{s:O, s:O, s:s, s:{s:s, s:s}, s:s}", "chainId",
                               json_object_get(health, "chainId"), "hub",
                               json_object_get(health, "hub"), "hubUrl", hub, "cas", "url", cas,
                               "fingerprint", fp, "blobsUrl", blobs);
        char *text = pj ? json_dumps(pj, JSON_INDENT(2)) : NULL;
        snprintf(sub, sizeof sub, "%s/cella.json", g_data);
        r = text ? cella_write_file_atomic(AT_FDCWD, sub, text, strlen(text), 0644, false)
                 : cella_fail(CELLA_E_NOMEM, "up", "out of memory");
        free(text);
        json_decref(pj);
    }
    json_decref(health);
    if (!cella_ok(r)) {
        int rc = cli_report(r);
        stop_all();
        return rc;
    }
    printf("hub     %s   (SQLite in %s, dev faucet on)\n", hub, hd);
    printf("cas     %s  fingerprint %s   (sim TEE allowed: development only)\n", cas, fp);
    printf("blobs   %s\n", blobs);
    printf("worker  pool %s, %s slot(s), owner wallet %s\n", pool, worker ? (slots ? slots : "1") : "no worker: 0", wallet);
    printf("logs    %s/logs\n", g_data);
    printf("project file %s/cella.json: copy it into a project directory, or there run\n"
           "  cella init --chain-id 421614 --hub-url %s --cas %s --cas-fingerprint %s --blobs %s\n",
           g_data, hub, cas, fp, blobs);
    printf("ready (Ctrl-C stops everything)\n");
    fflush(stdout);
    const child *died = NULL;
    while (!g_stop && !(died = dead_child()))
        sleep_ms(100);
    if (died)
        fprintf(stderr, "cella: error: %s stopped (see %s/logs/%s.log); stopping the stack\n",
                died->name, g_data, died->name);
    stop_all();
    printf("stopped\n");
    return died ? 1 : 0;
}

/* Runs the script `rel` of the checkout this binary was built from with bash, this
 * binary as CELLA (and for the demo its first argument), then `args`; returns only
 * on failure. */
static int run_checkout_script(const char *rel, const char *what, int nargs, char **args)
{
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s/%s", CELLA_SOURCE_DIR, rel);
    struct stat st;
    cella_res r = CELLA_OK_RES;
    if (stat(script, &st) != 0)
        r = cella_fail(CELLA_E_NOTFOUND, script,
                       "the %s script of the checkout this binary was built from is gone", what);
    ssize_t el = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
    if (cella_ok(r) && el <= 0)
        r = cella_fail(CELLA_E_IO, "/proc/self/exe", "cannot find this binary");
    char **argv = cella_ok(r) ? calloc((size_t)nargs + 4, sizeof *argv) : NULL;
    if (cella_ok(r) && !argv)
        r = cella_fail(CELLA_E_NOMEM, what, "out of memory");
    if (!cella_ok(r))
        return cli_report(r);
    g_exe[el] = '\0';
    setenv("CELLA", g_exe, 1);
    int n = 0;
    argv[n++] = "bash";
    argv[n++] = script;
    for (int i = 0; i < nargs; i++)
        argv[n++] = args[i];
    fflush(stdout);
    execv("/bin/bash", argv);
    free(argv);
    return cli_report(cella_fail(CELLA_E_IO, "/bin/bash", "cannot run the %s: %s", what, strerror(errno)));
}

/* The iExec story is a script of cella commands (it shows each one as it
 * runs it); the binary runs the copy in the checkout it was built from. */
static int demo_cmd(int argc, char **argv)
{
    cli_opt o[] = {{"dummy-never-used", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, 0, pos, 0, &np, "demo");
    if (!cella_ok(r))
        return cli_report(r);
    char *exe = g_exe; /* filled by run_checkout_script before it runs the script */
    return run_checkout_script("scripts/demo-iexec.sh", "demo", 1, &exe);
}

/* A cluster on this machine is scripts/cluster.sh (network namespaces, PostgreSQL),
 * run with this binary; its arguments go to the script as they are. */
static int cluster_cmd(int argc, char **argv)
{
    /* The script prints for people: --json could only wrap nothing (it replaces this process). */
    if (argc == 0)
        return cli_report(cella_fail(CELLA_E_USAGE, "cluster",
                                     "which command? up, down, status, env, exec, host, kill, "
                                     "start, crash, link or pg (cella cluster --help)"));
    if (cli_json())
        return cli_report(cella_fail(CELLA_E_USAGE, "cluster",
                                     "no --json: `cella cluster env` prints the cluster's "
                                     "variables for scripts"));
    return run_checkout_script("scripts/cluster.sh", "cluster", argc, argv);
}

const cli_command cli_up_commands[] = {
    {NULL, "up", up_cmd,
     "cella up [--data DIR] [--listen-base PORT|0] [--slots N] [--dev-timeref S]",
     "Start the whole stack on this host for development: hub (port PORT, default 8080; SQLite, "
     "dev faucet), cas (PORT+1; sim TEE allowed), blob store (PORT+2) and a worker with its "
     "workerpool and a published TEE workerpool order (--slots 0: no worker; start your own with "
     "`cella worker start`). State and logs live in DIR (default ./cella-up); one up per DIR "
     "(a lock, DIR/up.lock, names the PID holding it). Started again without --listen-base, it "
     "reuses the ports DIR/cella.json records, so copies of that file keep working, and refuses "
     "if another program holds one. Prints the URLs and the `cella init` line for a project; "
     "Ctrl-C stops it all."},
    {NULL, "cluster", cluster_cmd,
     "cella cluster up [--hosts N] | down | status | env | exec HOST CMD... | kill ROLE [SIGNAL] | "
     "start ROLE | crash HOST | link HOST down|up | pg stop|kill|start",
     "A cluster on this machine, for tests and trials (root; scripts/cluster.sh of the checkout "
     "this binary was built from, run with this binary): PostgreSQL 15 and N hosts (default 9) as "
     "network namespaces joined by a bridge, addresses 10.77.0.K only inside them, with 2 hubs, 2 "
     "cas (TLS, one pinned identity per service), a blob store and 3 workers of a pool. down "
     "removes it all; the other verbs run a command on a host and make faults. docs/deploy.md "
     "describes it and a deployment on real machines."},
    {NULL, "demo", demo_cmd, "cella demo",
     "Run the iExec TEE story end to end on a fresh `cella up` in a temporary folder (sim TEE): "
     "a data owner, an app developer and a requester, each command shown as it runs; prints "
     "the decrypted word count and a stolen result being refused."},
    {NULL, NULL, NULL, NULL, NULL},
};
