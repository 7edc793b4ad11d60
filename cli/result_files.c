#include "result_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blobs/client.h"
#include "casapi/casapi.h"
#include "core/stage.h"
#include "iexec/result.h"
#include "output.h"

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

cella_res cli_result_path(const char *given, const char *taskid, char *out, size_t cap)
{
    int n = given ? snprintf(out, cap, "%s", given) : snprintf(out, cap, "%s.zip", taskid);
    CELLA_ENSURE(n > 0 && (size_t)n < cap, CELLA_E_PATH, "-o", "path too long");
    return CELLA_OK_RES;
}

cella_res cli_result_fetch(const cli_hub *hub, const char *taskid, const json_t *task,
                           const char *store, const char *out)
{
    char path[160];
    json_t *t = NULL;
    if (task) {
        t = json_incref((json_t *)task);
    } else {
        snprintf(path, sizeof path, "/v1/tasks/%s", taskid);
        CELLA_TRY(cella_cas_call(&hub->http, "GET", path, cella_slice_of("", 0), &t));
    }
    const char *url = jstr(t, "results");
    cella_res r = url ? CELLA_OK_RES
                      : cella_fail(CELLA_E_NOTFOUND, taskid,
                                   "the task has no result yet (status %s%s%s)",
                                   jstr(t, "status") ? jstr(t, "status") : "?",
                                   jstr(t, "error") ? ": " : "",
                                   jstr(t, "error") ? jstr(t, "error") : "");
    uint8_t sha[32];
    char base[1024];
    if (cella_ok(r))
        r = cella_blob_parse_url(url, "results", base, sizeof base, sha);
    /* By content address: the store configured here first (the stack may have
     * moved since the worker recorded the URL), then the recorded URL. */
    if (cella_ok(r))
        r = cella_blob_fetch_file(store, url, sha, out); /* checks the SHA-256 */
    json_decref(t);
    return r;
}

/* --beneficiary-keystoredir D, else <--secrets-dir or .secrets>/beneficiary. */
cella_res cli_beneficiary_dir(const cli_opt *o, int n, char *out, size_t cap)
{
    const char *k = cli_get(o, n, "beneficiary-keystoredir"), *s = cli_get(o, n, "secrets-dir");
    CELLA_ENSURE(!(k && s), CELLA_E_USAGE, "--secrets-dir",
                 "give --secrets-dir or --beneficiary-keystoredir, not both");
    int w = k ? snprintf(out, cap, "%s", k)
              : snprintf(out, cap, "%s/beneficiary", s ? s : CLI_DEFAULT_SECRETS);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_PATH, "--secrets-dir", "path too long");
    return CELLA_OK_RES;
}

/* Without --key: the only *_key file in the beneficiary folder. */
static cella_res find_key(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    CELLA_ENSURE(d, CELLA_E_NOTFOUND, dir,
                 "beneficiary key folder missing (run: cella result "
                 "generate-encryption-keypair, or give --key)");
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, "_key")) {
            if (found++ == 0)
                snprintf(out, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    CELLA_ENSURE(found == 1, CELLA_E_USAGE, dir,
                 found ? "several beneficiary keys: choose one with --key"
                       : "no beneficiary key (*_key) found: give --key");
    return CELLA_OK_RES;
}

cella_res cli_beneficiary_key(const cli_opt *o, int n, char *out, size_t cap)
{
    char dir[4096];
    CELLA_TRY(cli_beneficiary_dir(o, n, dir, sizeof dir));
    const char *kopt = cli_get(o, n, "key"), *kname = cli_get(o, n, "beneficiary-key-file");
    CELLA_ENSURE(!(kopt && kname), CELLA_E_USAGE, "--key",
                 "give --key or --beneficiary-key-file, not both");
    if (!kopt && !kname)
        return find_key(dir, out, cap);
    /* --beneficiary-key-file, the SDK's option: a file name inside the folder */
    int w = kopt ? snprintf(out, cap, "%s", kopt) : snprintf(out, cap, "%s/%s", dir, kname);
    CELLA_ENSURE(w > 0 && (size_t)w < cap, CELLA_E_PATH, "--key", "path too long");
    return CELLA_OK_RES;
}

bool cli_result_wanted(const cli_opt *o, int n)
{
    return cli_get(o, n, "download") || cli_get(o, n, "decrypt");
}

static const char *decrypted_path(const cli_opt *o, int n)
{
    const char *d = cli_get(o, n, "decrypted");
    return d ? d : CLI_DEFAULT_DECRYPTED;
}

cella_res cli_result_preflight(const cli_opt *o, int n, const char *id)
{
    /* first, before any thread (app run's preflight, libcurl's when loaded):
     * a staged result file is removed on SIGINT, SIGTERM and SIGHUP */
    CELLA_TRY(cella_stage_trap_signals());
    char file[4096];
    if (id || cli_get(o, n, "output")) {
        CELLA_TRY(cli_result_path(cli_get(o, n, "output"), id, file, sizeof file));
        CELLA_TRY(cella_stage_check_new(AT_FDCWD, file, false));
    }
    if (!cli_get(o, n, "decrypt"))
        return CELLA_OK_RES;
    char key[4096 + 256];
    CELLA_TRY(cli_beneficiary_key(o, n, key, sizeof key));
    /* only whether it can be opened: the key is read once, when it decrypts */
    CELLA_ENSURE(access(key, R_OK) == 0, CELLA_E_NOTFOUND, key,
                 "cannot read the beneficiary key: %s (run: cella result "
                 "generate-encryption-keypair, or give --key)",
                 strerror(errno));
    return cella_stage_check_new(AT_FDCWD, decrypted_path(o, n), false);
}

cella_res cli_result_download(const cli_opt *o, int n, const cli_hub *hub, const char *id,
                              const json_t *task)
{
    char store[1024], file[4096], key[4096 + 256];
    CELLA_TRY(cli_project_url(o, n, "blobs", "blobsUrl", "", store, sizeof store));
    CELLA_TRY(cli_result_path(cli_get(o, n, "output"), id, file, sizeof file));
    CELLA_TRY(cli_result_fetch(hub, id, task, store, file));
    fprintf(stderr, "cella: result downloaded to %s\n", file);
    cli_json_set_str("file", file);
    if (!cli_get(o, n, "decrypt"))
        return CELLA_OK_RES;
    const char *out = decrypted_path(o, n);
    CELLA_TRY(cli_beneficiary_key(o, n, key, sizeof key));
    CELLA_TRY(cella_iexec_result_decrypt_file(file, key, out, false));
    fprintf(stderr, "cella: result decrypted to %s\n", out);
    cli_json_set_str("decrypted", out);
    return CELLA_OK_RES;
}
