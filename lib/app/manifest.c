/* App manifests (cella-app.json): parsing and validation of both kinds of
 * bundle, and the template of `cella app init`. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/internal.h"
#include "core/fs.h"

/* ---- small helpers ----------------------------------------------------------------- */

char *cella_xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cella_free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

cella_res cella_app_check_relpath(const char *p, const char *where)
{
    size_t n = strlen(p);
    CELLA_ENSURE(n > 0, CELLA_E_PATH, where, "empty path");
    CELLA_ENSURE(n <= CELLA_APP_MAX_PATH, CELLA_E_PATH, where, "path longer than %u bytes",
                 CELLA_APP_MAX_PATH);
    CELLA_ENSURE(p[0] != '/', CELLA_E_PATH, where, "absolute path not allowed: '%s'", p);
    const char *s = p;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        CELLA_ENSURE(len > 0, CELLA_E_PATH, where, "empty path component in '%s'", p);
        CELLA_ENSURE(!(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.'),
                     CELLA_E_PATH, where, "'.' or '..' component in '%s'", p);
        if (!e)
            break;
        s = e + 1;
    }
    return CELLA_OK_RES;
}

static cella_res check_abspath(const char *p, const char *where)
{
    CELLA_ENSURE(p[0] == '/', CELLA_E_PATH, where, "host file must be an absolute path: '%s'", p);
    CELLA_ENSURE(p[1] != '\0', CELLA_E_PATH, where, "host file may not be '/'");
    return cella_app_check_relpath(p + 1, where);
}

static bool env_name_ok(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* ---- manifest -------------------------------------------------------------------------- */

#define MF "cella-app.json"
static const char *const k_fields[] = {"entrypoint", "args",    "heap_mb", "stack_kb", "env",
                                       "host_files", "runtime", "image"};
#define NFIELDS (sizeof k_fields / sizeof k_fields[0])

static cella_res get_string(json_t *v, const char *field, size_t max, char **out)
{
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, field, "expected a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    CELLA_ENSURE(strlen(s) == n, CELLA_E_PARSE, field, "NUL byte in string");
    CELLA_ENSURE(n <= max, CELLA_E_PARSE, field, "string longer than %zu bytes", max);
    *out = cella_xstrdup(s);
    CELLA_ENSURE(*out, CELLA_E_NOMEM, field, "out of memory");
    return CELLA_OK_RES;
}

static cella_res get_strv(json_t *v, const char *field, size_t max_n, size_t max_len,
                          char ***out, size_t *n)
{
    CELLA_ENSURE(json_is_array(v), CELLA_E_PARSE, field, "expected an array of strings");
    size_t k = json_array_size(v);
    CELLA_ENSURE(k <= max_n, CELLA_E_PARSE, field, "more than %zu entries", max_n);
    char **a = calloc(k ? k : 1, sizeof *a);
    CELLA_ENSURE(a, CELLA_E_NOMEM, field, "out of memory");
    char where[64];
    for (size_t i = 0; i < k; i++) {
        snprintf(where, sizeof where, "%s[%zu]", field, i);
        cella_res r = get_string(json_array_get(v, i), where, max_len, &a[i]);
        if (!cella_ok(r)) {
            cella_free_strv(a, k);
            return r;
        }
    }
    *out = a;
    *n = k;
    return CELLA_OK_RES;
}

static cella_res get_u32(json_t *v, const char *field, uint32_t lo, uint32_t hi, uint32_t *out)
{
    CELLA_ENSURE(json_is_integer(v), CELLA_E_PARSE, field, "expected an integer");
    json_int_t x = json_integer_value(v);
    CELLA_ENSURE(x >= (json_int_t)lo && x <= (json_int_t)hi, CELLA_E_PARSE, field,
                 "must be between %u and %u", lo, hi);
    *out = (uint32_t)x;
    return CELLA_OK_RES;
}

/* Sorts and refuses duplicates. */
static cella_res sort_unique(char **v, size_t n, const char *field)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = 1; i < n; i++)
        CELLA_ENSURE(strcmp(v[i - 1], v[i]) != 0, CELLA_E_PARSE, field, "duplicate entry '%s'",
                     v[i]);
    return CELLA_OK_RES;
}

/* Refuses a field of `obj` not in `keys`, naming it after `prefix`. */
static cella_res only_known(json_t *obj, const char *const *keys, size_t n, const char *prefix)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool known = false;
        for (size_t i = 0; i < n; i++)
            known |= !strcmp(key, keys[i]);
        char where[160];
        snprintf(where, sizeof where, "%s%.100s", prefix, key);
        CELLA_ENSURE(known, CELLA_E_PARSE, where, "unknown field");
    }
    return CELLA_OK_RES;
}

static cella_res parse_command(json_t *root, cella_app_manifest *m)
{
    CELLA_TRY(get_string(json_object_get(root, "entrypoint"), MF ": entrypoint",
                         CELLA_APP_MAX_PATH, &m->entrypoint));
    CELLA_TRY(cella_app_check_relpath(m->entrypoint, MF ": entrypoint"));
    CELLA_ENSURE(strcmp(m->entrypoint, CELLA_APP_MANIFEST) != 0, CELLA_E_PARSE, MF ": entrypoint",
                 "the entrypoint cannot be the manifest");
    return get_strv(json_object_get(root, "args"), MF ": args", CELLA_APP_MAX_ARGS,
                    CELLA_APP_MAX_ARG_LEN, &m->args, &m->nargs);
}

/* ---- the "image" object ------------------------------------------------------------------ */

#define IMF MF ": image"
static const char *const k_image[] = {"entrypoint", "cmd", "env", "working_dir", "user"};
#define NIMAGE (sizeof k_image / sizeof k_image[0])

cella_res cella_app_check_workdir(const char *p, const char *where)
{
    CELLA_ENSURE(p[0] == '/', CELLA_E_PARSE, where, "must be an absolute path: '%s'", p);
    if (p[1] == '\0')
        return CELLA_OK_RES;
    return cella_app_check_relpath(p + 1, where);
}

/* "NAME=value" with a POSIX-style name (Docker's rule is looser; images that
 * need more are refused by name rather than passed on half-understood). */
static cella_res check_image_env(char **env, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(env[i], '=');
        char where[80];
        snprintf(where, sizeof where, IMF ".env[%zu]", i);
        CELLA_ENSURE(eq && eq != env[i], CELLA_E_PARSE, where, "expected NAME=value");
        *eq = '\0';
        bool ok = env_name_ok(env[i]);
        *eq = '=';
        CELLA_ENSURE(ok, CELLA_E_PARSE, where, "'%.*s' is not an environment variable name",
                     (int)(eq - env[i]), env[i]);
    }
    return CELLA_OK_RES;
}

/* "uid:gid", decimal, each below 2^32 - 1 (which is the kernel's "no id"). */
static cella_res parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
    const char *p = s;
    uint32_t *dst[2] = {uid, gid};
    for (int k = 0; k < 2; k++) {
        uint64_t v = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9' && p - start < 11)
            v = v * 10 + (uint64_t)(*p++ - '0');
        CELLA_ENSURE(p != start && p - start <= 10 && v < UINT32_MAX &&
                         (start[0] != '0' || p - start == 1),
                     CELLA_E_PARSE, IMF ".user", "expected numeric \"uid:gid\", got '%s'", s);
        *dst[k] = (uint32_t)v;
        CELLA_ENSURE(*p == (k == 0 ? ':' : '\0'), CELLA_E_PARSE, IMF ".user",
                     "expected numeric \"uid:gid\", got '%s'", s);
        p++;
    }
    return CELLA_OK_RES;
}

static cella_res parse_image(json_t *v, cella_app_manifest *m)
{
    CELLA_ENSURE(json_is_object(v), CELLA_E_PARSE, IMF, "expected a JSON object");
    CELLA_TRY(only_known(v, k_image, NIMAGE, IMF "."));
    for (size_t i = 0; i < NIMAGE; i++) {
        char where[64];
        snprintf(where, sizeof where, IMF ".%s", k_image[i]);
        CELLA_ENSURE(json_object_get(v, k_image[i]), CELLA_E_PARSE, where, "missing field");
    }
    cella_app_image *im = calloc(1, sizeof *im);
    CELLA_ENSURE(im, CELLA_E_NOMEM, IMF, "out of memory");
    m->image = im;
    CELLA_TRY(get_strv(json_object_get(v, "entrypoint"), IMF ".entrypoint", CELLA_APP_MAX_ARGS,
                       CELLA_APP_MAX_IMAGE_ENV_LEN, &im->entrypoint, &im->nentrypoint));
    CELLA_TRY(get_strv(json_object_get(v, "cmd"), IMF ".cmd", CELLA_APP_MAX_ARGS,
                       CELLA_APP_MAX_IMAGE_ENV_LEN, &im->cmd, &im->ncmd));
    CELLA_TRY(get_strv(json_object_get(v, "env"), IMF ".env", CELLA_APP_MAX_IMAGE_ENV,
                       CELLA_APP_MAX_IMAGE_ENV_LEN, &im->env, &im->nenv));
    CELLA_TRY(check_image_env(im->env, im->nenv));
    CELLA_TRY(get_string(json_object_get(v, "working_dir"), IMF ".working_dir",
                         CELLA_APP_MAX_PATH, &im->working_dir));
    CELLA_TRY(cella_app_check_workdir(im->working_dir, IMF ".working_dir"));
    json_t *u = json_object_get(v, "user");
    CELLA_ENSURE(json_is_string(u) && strlen(json_string_value(u)) == json_string_length(u),
                 CELLA_E_PARSE, IMF ".user", "expected a string");
    return parse_user(json_string_value(u), &im->uid, &im->gid);
}

void cella_app_image_free(cella_app_image *im)
{
    if (!im)
        return;
    cella_free_strv(im->entrypoint, im->nentrypoint);
    cella_free_strv(im->cmd, im->ncmd);
    cella_free_strv(im->env, im->nenv);
    free(im->working_dir);
    free(im);
}

static cella_res parse_fields(json_t *root, cella_app_manifest *m)
{
    CELLA_ENSURE(json_is_object(root), CELLA_E_PARSE, MF, "expected a JSON object");
    CELLA_TRY(only_known(root, k_fields, NFIELDS, MF ": "));
    /* "entrypoint" and "args" belong to directory bundles; an image bundle's
     * command comes from its "image" object. */
    bool image = json_object_get(root, "image") != NULL;
    for (size_t i = 0; i < NFIELDS; i++) {
        char where[64];
        snprintf(where, sizeof where, MF ": %s", k_fields[i]);
        bool dir_only = !strcmp(k_fields[i], "entrypoint") || !strcmp(k_fields[i], "args");
        if (!strcmp(k_fields[i], "image"))
            continue;
        if (image && dir_only)
            CELLA_ENSURE(!json_object_get(root, k_fields[i]), CELLA_E_PARSE, where,
                         "not allowed with \"image\" (the image's entrypoint and cmd are used)");
        else
            CELLA_ENSURE(json_object_get(root, k_fields[i]), CELLA_E_PARSE, where,
                         "missing field");
    }
    CELLA_TRY(get_string(json_object_get(root, "runtime"), MF ": runtime", 64, &m->runtime));
    CELLA_ENSURE(!strcmp(m->runtime, CELLA_APP_RUNTIME), CELLA_E_UNSUPPORTED, MF ": runtime",
                 "unsupported runtime '%s' (expected '%s')", m->runtime, CELLA_APP_RUNTIME);
    if (image)
        CELLA_TRY(parse_image(json_object_get(root, "image"), m));
    else
        CELLA_TRY(parse_command(root, m));
    CELLA_TRY(get_u32(json_object_get(root, "heap_mb"), MF ": heap_mb", 1, CELLA_APP_MAX_HEAP_MB,
                      &m->heap_mb));
    CELLA_TRY(get_u32(json_object_get(root, "stack_kb"), MF ": stack_kb", CELLA_APP_MIN_STACK_KB,
                      CELLA_APP_MAX_STACK_KB, &m->stack_kb));
    CELLA_TRY(get_strv(json_object_get(root, "env"), MF ": env", CELLA_APP_MAX_ENV,
                       CELLA_APP_MAX_ENV_LEN, &m->env, &m->nenv));
    for (size_t i = 0; i < m->nenv; i++)
        CELLA_ENSURE(env_name_ok(m->env[i]), CELLA_E_PARSE, MF ": env",
                     "'%s' is not an environment variable name", m->env[i]);
    CELLA_TRY(sort_unique(m->env, m->nenv, MF ": env"));
    CELLA_TRY(get_strv(json_object_get(root, "host_files"), MF ": host_files",
                       CELLA_APP_MAX_HOST_FILES, CELLA_APP_MAX_PATH, &m->host_files,
                       &m->nhost_files));
    for (size_t i = 0; i < m->nhost_files; i++)
        CELLA_TRY(check_abspath(m->host_files[i], MF ": host_files"));
    CELLA_TRY(sort_unique(m->host_files, m->nhost_files, MF ": host_files"));
    return CELLA_OK_RES;
}

cella_res cella_app_manifest_parse(cella_slice json, cella_app_manifest *out)
{
    memset(out, 0, sizeof *out);
    CELLA_ENSURE(json.len <= CELLA_APP_MAX_MANIFEST, CELLA_E_TOOBIG, MF,
                 "manifest larger than %u bytes", CELLA_APP_MAX_MANIFEST);
    json_error_t je;
    json_t *root = json_loadb((const char *)json.p, json.len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cella_fail(CELLA_E_PARSE, MF, "invalid JSON at line %d: %s", je.line, je.text);
    cella_res r = parse_fields(root, out);
    json_decref(root);
    if (!cella_ok(r))
        cella_app_manifest_free(out);
    return r;
}

void cella_app_manifest_free(cella_app_manifest *m)
{
    free(m->entrypoint);
    free(m->runtime);
    cella_free_strv(m->args, m->nargs);
    cella_free_strv(m->env, m->nenv);
    cella_free_strv(m->host_files, m->nhost_files);
    cella_app_image_free(m->image);
    memset(m, 0, sizeof *m);
}

cella_res cella_app_init(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, dir, "cannot create directory: %s", strerror(errno));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, dir, "cannot open directory: %s", strerror(errno));
    static const char tmpl[] = "{\n"
                               "  \"entrypoint\": \"bin/app\",\n"
                               "  \"args\": [],\n"
                               "  \"heap_mb\": 256,\n"
                               "  \"stack_kb\": 8192,\n"
                               "  \"env\": [],\n"
                               "  \"host_files\": [],\n"
                               "  \"runtime\": \"" CELLA_APP_RUNTIME "\"\n"
                               "}\n";
    cella_res r = cella_write_file_atomic(fd, CELLA_APP_MANIFEST, tmpl, sizeof tmpl - 1, 0644, true);
    close(fd);
    if (!cella_ok(r) && cella_error_code() == CELLA_E_EXISTS) {
        char where[4200];
        snprintf(where, sizeof where, "%s/%s", dir, CELLA_APP_MANIFEST);
        cella_error_set_where(where);
    }
    return r;
}
