/* The image config (Entrypoint, Cmd, Env, WorkingDir, User) as the
 * manifest's "image" object (app/oci_internal.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/internal.h"
#include "app/oci_internal.h"
#include "core/safepath.h"

#define MAX_ID_FILE (4u << 20)

/* An array of strings or null (Docker's "none") into a vector. */
static cella_res strv(json_t *v, const char *where, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return CELLA_OK_RES;
    CELLA_ENSURE(json_is_array(v), CELLA_E_PARSE, where, "expected an array of strings");
    size_t k = json_array_size(v);
    CELLA_ENSURE(k <= CELLA_APP_MAX_IMAGE_ENV, CELLA_E_TOOBIG, where, "more than %u entries",
                 CELLA_APP_MAX_IMAGE_ENV);
    char **a = calloc(k ? k : 1, sizeof *a);
    CELLA_ENSURE(a, CELLA_E_NOMEM, where, "out of memory");
    *out = a;
    for (size_t i = 0; i < k; i++) {
        json_t *s = json_array_get(v, i);
        CELLA_ENSURE(json_is_string(s) && strlen(json_string_value(s)) == json_string_length(s),
                     CELLA_E_PARSE, where, "entry %zu: expected a string without NUL", i);
        a[i] = cella_xstrdup(json_string_value(s));
        CELLA_ENSURE(a[i], CELLA_E_NOMEM, where, "out of memory");
        *n = i + 1;
    }
    return CELLA_OK_RES;
}

/* WorkingDir: "" is "/"; "//", "/./" and trailing "/" are dropped ("..": refused). */
static cella_res workdir(json_t *v, char **out)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    CELLA_ENSURE(!v || json_is_null(v) || json_is_string(v), CELLA_E_PARSE,
                 "config: WorkingDir", "expected a string");
    CELLA_ENSURE(!*s || *s == '/', CELLA_E_PARSE, "config: WorkingDir",
                 "'%.200s' is not an absolute path", s);
    size_t n = strlen(s);
    CELLA_ENSURE(n <= CELLA_APP_MAX_PATH, CELLA_E_TOOBIG, "config: WorkingDir", "too long");
    char *w = malloc(n + 2), *o = w;
    CELLA_ENSURE(w, CELLA_E_NOMEM, "config: WorkingDir", "out of memory");
    for (const char *c = s; *c;) {
        while (*c == '/')
            c++;
        const char *e = strchr(c, '/') ? strchr(c, '/') : c + strlen(c);
        if (e > c && !(e - c == 1 && *c == '.')) {
            *o++ = '/';
            memcpy(o, c, (size_t)(e - c));
            o += e - c;
        }
        c = e;
    }
    if (o == w)
        *o++ = '/';
    *o = '\0';
    *out = w;
    return cella_app_check_workdir(w, "config: WorkingDir");
}

/* The whole of etc/passwd or etc/group of the image (never through a link). */
static char *read_id_file(int rootfd, const char *path)
{
    int fd = cella_open_beneath(rootfd, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    char *buf = malloc(MAX_ID_FILE + 1);
    size_t n = 0;
    ssize_t k = 0;
    while (buf && n < MAX_ID_FILE && (k = read(fd, buf + n, MAX_ID_FILE - n)) > 0)
        n += (size_t)k;
    close(fd);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static bool parse_id(const char *s, uint32_t *out)
{
    if (!*s || strlen(s) > 10)
        return false;
    uint64_t v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    if (v >= UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Looks `key` up in a passwd or group file: by name (field 0) or, with
 * by_id, by id (field 2). Gives field 2 and, for passwd, field 3. */
static bool lookup(const char *file, const char *key, bool by_id, uint32_t *id, uint32_t *gid)
{
    for (const char *line = file; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            char *f[4] = {0}, *c = buf;
            for (int i = 0; i < 4 && c; i++) {
                f[i] = c;
                c = strchr(c, ':');
                if (c)
                    *c++ = '\0';
            }
            uint32_t a, b = 0;
            if (f[2] && parse_id(f[2], &a) && (!f[3] || parse_id(f[3], &b) || !gid) &&
                !strcmp(by_id ? f[2] : f[0], key)) {
                *id = a;
                if (gid)
                    *gid = b;
                return true;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}

/* Docker's User: "", "user", "uid", "user:group", "uid:gid" (and mixes).
 * Names come from the image's /etc/passwd and /etc/group; a user without a
 * group gets its passwd group (0 for a numeric uid the image does not list). */
static cella_res resolve_user(json_t *v, int rootfd, uint32_t *uid, uint32_t *gid)
{
    CELLA_ENSURE(!v || json_is_null(v) || json_is_string(v), CELLA_E_PARSE, "config: User",
                 "expected a string");
    char u[256];
    int n = snprintf(u, sizeof u, "%s", json_is_string(v) ? json_string_value(v) : "");
    CELLA_ENSURE(n >= 0 && (size_t)n < sizeof u, CELLA_E_PARSE, "config: User", "too long");
    char *g = strchr(u, ':');
    if (g)
        *g++ = '\0';
    *uid = *gid = 0;
    if (!*u && (!g || !*g))
        return CELLA_OK_RES;
    char *passwd = read_id_file(rootfd, "etc/passwd");
    cella_res r = CELLA_OK_RES;
    uint32_t pw_gid = 0;
    if (parse_id(u, uid))
        lookup(passwd, u, true, uid, &pw_gid);
    else if (!lookup(passwd, u, false, uid, &pw_gid))
        r = cella_fail(CELLA_E_NOTFOUND, "config: User",
                       "user '%s' is not in the image's /etc/passwd", u);
    free(passwd);
    CELLA_TRY(r);
    *gid = pw_gid;
    if (!g || !*g || parse_id(g, gid))
        return CELLA_OK_RES;
    char *group = read_id_file(rootfd, "etc/group");
    bool ok = lookup(group, g, false, gid, NULL);
    free(group);
    CELLA_ENSURE(ok, CELLA_E_NOTFOUND, "config: User", "group '%s' is not in the image's "
                 "/etc/group", g);
    return CELLA_OK_RES;
}

cella_res oci_config_image(json_t *config, int rootfd, cella_app_image *im)
{
    memset(im, 0, sizeof *im);
    json_t *c = json_object_get(config, "config");
    CELLA_ENSURE(!c || json_is_null(c) || json_is_object(c), CELLA_E_PARSE, "config: config",
                 "expected an object");
    json_t *os = json_object_get(config, "os");
    CELLA_ENSURE(!json_is_string(os) || !strcmp(json_string_value(os), "linux"),
                 CELLA_E_UNSUPPORTED, "config: os", "not a linux image ('%s')",
                 json_string_value(os));
    CELLA_TRY(strv(json_object_get(c, "Entrypoint"), "config: Entrypoint", &im->entrypoint,
                   &im->nentrypoint));
    CELLA_TRY(strv(json_object_get(c, "Cmd"), "config: Cmd", &im->cmd, &im->ncmd));
    CELLA_TRY(strv(json_object_get(c, "Env"), "config: Env", &im->env, &im->nenv));
    CELLA_TRY(workdir(json_object_get(c, "WorkingDir"), &im->working_dir));
    return resolve_user(json_object_get(c, "User"), rootfd, &im->uid, &im->gid);
}

static json_t *jstrv(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

cella_res oci_manifest_json(const cella_app_image *im, uint32_t heap_mb, char **out)
{
    char user[32];
    snprintf(user, sizeof user, "%u:%u", im->uid, im->gid);
    json_t *j = json_pack("{s:i, s:i, s:[], s:[], s:s, s:{s:o, s:o, s:o, s:s, s:s}}",
                          "heap_mb", (json_int_t)heap_mb, "stack_kb", (json_int_t)8192, "env",
                          "host_files", "runtime", CELLA_APP_RUNTIME, "image", "entrypoint",
                          jstrv(im->entrypoint, im->nentrypoint), "cmd", jstrv(im->cmd, im->ncmd),
                          "env", jstrv(im->env, im->nenv), "working_dir", im->working_dir,
                          "user", user);
    CELLA_ENSURE(j, CELLA_E_PARSE, "config", "cannot represent the config (invalid UTF-8?)");
    *out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    CELLA_ENSURE(*out, CELLA_E_NOMEM, "config", "out of memory");
    return CELLA_OK_RES;
}
