/* A standard task's environment: see standard_env.h. */
#include "worker/standard_env.h"

#include <stdio.h>
#include <string.h>

#include "identity/eth.h"

static cella_res set(json_t *env, const char *name, const char *value)
{
    json_t *v = json_string(value);
    CELLA_ENSURE(v && !json_object_set_new(env, name, v), CELLA_E_NOMEM, name, "out of memory");
    return CELLA_OK_RES;
}

/* An address of the deal (a string, or an object's "pointer"), checksummed. */
static cella_res set_addr(json_t *env, const char *name, const json_t *v, const char *what)
{
    if (json_is_object(v))
        v = json_object_get(v, "pointer");
    const char *t = json_string_value(v);
    CELLA_ENSURE(t, CELLA_E_PARSE, what, "the hub's deal has no %s", what);
    uint8_t a[20];
    char c[43];
    CELLA_TRY(cella_eth_address_parse(a, t, what));
    cella_eth_address_checksum(c, a);
    return set(env, name, c);
}

/* A count of the deal or task: an integer or a decimal string. */
static cella_res set_count(json_t *env, const char *name, const json_t *v, const char *what)
{
    char t[24];
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        snprintf(t, sizeof t, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 21 &&
             strspn(json_string_value(v), "0123456789") == json_string_length(v))
        snprintf(t, sizeof t, "%s", json_string_value(v));
    else
        return cella_fail(CELLA_E_PARSE, what, "the hub's %s is not a count", what);
    return set(env, name, t);
}

static cella_res params_env(json_t *env, const char *params)
{
    json_t *root = NULL;
    if (params && *params) {
        json_error_t je;
        root = json_loads(params, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(root)) {
            json_decref(root);
            return cella_fail(CELLA_E_POLICY, "params", "the deal's params are not a JSON object");
        }
    }
    const json_t *args = json_object_get(root, "iexec_args"),
                 *files = json_object_get(root, "iexec_input_files"),
                 *enc = json_object_get(root, "iexec_result_encryption");
    cella_res r = CELLA_OK_RES;
    if (args && !json_is_string(args))
        r = cella_fail(CELLA_E_POLICY, "params.iexec_args", "not a string");
    if (cella_ok(r) && enc && !json_is_boolean(enc))
        r = cella_fail(CELLA_E_POLICY, "params.iexec_result_encryption", "not a boolean");
    if (cella_ok(r) && json_is_true(enc))
        r = cella_fail(CELLA_E_UNSUPPORTED, "params.iexec_result_encryption",
                       "result encryption is not supported for standard tasks (as in iExec: "
                       "request a TEE tag, or no encryption)");
    if (cella_ok(r) && files &&
        !(json_is_array(files) && json_array_size(files) <= CELLA_STANDARD_MAX_INPUT_FILES))
        r = cella_fail(CELLA_E_POLICY, "params.iexec_input_files",
                       "not a list of at most %d URLs", CELLA_STANDARD_MAX_INPUT_FILES);
    if (cella_ok(r))
        r = set(env, "IEXEC_APP_ARGS", args ? json_string_value(args) : "");
    size_t n = json_array_size(files);
    char name[64], count[24];
    for (size_t i = 0; cella_ok(r) && i < n; i++) {
        const char *u = json_string_value(json_array_get(files, i));
        snprintf(name, sizeof name, "IEXEC_INPUT_FILE_URL_%zu", i + 1);
        r = u && *u ? set(env, name, u)
                    : cella_fail(CELLA_E_POLICY, "params.iexec_input_files",
                                 "entry %zu is not a URL", i + 1);
    }
    snprintf(count, sizeof count, "%zu", n);
    if (cella_ok(r))
        r = set(env, "IEXEC_INPUT_FILES_NUMBER", count);
    /* iexec_secrets: a standard task gets no secret (no SMS without TEE) */
    json_decref(root);
    return r;
}

cella_res cella_worker_standard_env(const json_t *task, const json_t *deal, json_t **env)
{
    *env = json_object();
    CELLA_ENSURE(*env, CELLA_E_NOMEM, "environment", "out of memory");
    const char *tid = json_string_value(json_object_get(task, "taskid")),
               *did = json_string_value(json_object_get(deal, "dealid"));
    cella_res r = tid && did ? CELLA_OK_RES
                             : cella_fail(CELLA_E_PARSE, "task", "the hub's task or deal has no id");
    if (cella_ok(r))
        r = set(*env, "IEXEC_TASK_ID", tid);
    if (cella_ok(r))
        r = set(*env, "IEXEC_DEAL_ID", did);
    if (cella_ok(r))
        r = set_count(*env, "IEXEC_TASK_INDEX", json_object_get(task, "idx"), "task index");
    if (cella_ok(r))
        r = set_count(*env, "IEXEC_BOT_SIZE", json_object_get(deal, "botSize"), "bot size");
    if (cella_ok(r))
        r = set_count(*env, "IEXEC_BOT_FIRST_INDEX", json_object_get(deal, "botFirst"),
                      "bot first index");
    if (cella_ok(r))
        r = set_addr(*env, "IEXEC_APP_ADDRESS", json_object_get(deal, "app"), "app");
    if (cella_ok(r))
        r = params_env(*env, json_string_value(json_object_get(deal, "params")));
    const json_t *ds = json_object_get(json_object_get(deal, "dataset"), "pointer");
    const char *dst = json_string_value(ds);
    if (cella_ok(r) && dst && strcmp(dst, "0x0000000000000000000000000000000000000000")) {
        r = set_addr(*env, "IEXEC_DATASET_ADDRESS", ds, "dataset");
        /* the file's name in /iexec_in: the dataset's address, as for a TEE task */
        char lower[43] = "0x";
        for (size_t i = 0; cella_ok(r) && i < 40 && dst[2 + i]; i++)
            lower[2 + i] = (char)(dst[2 + i] | (dst[2 + i] >= 'A' && dst[2 + i] <= 'F' ? 0x20 : 0));
        if (cella_ok(r))
            r = set(*env, "IEXEC_DATASET_FILENAME", lower);
    }
    if (cella_ok(r))
        r = set_addr(*env, "IEXEC_BENEFICIARY", json_object_get(deal, "beneficiary"), "beneficiary");
    if (cella_ok(r))
        r = set_addr(*env, "IEXEC_REQUESTER", json_object_get(deal, "requester"), "requester");
    if (!cella_ok(r)) {
        json_decref(*env);
        *env = NULL;
    }
    return r;
}
