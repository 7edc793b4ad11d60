#include "iexec/task_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "crypto/aead.h"

/* The names the app gets as they are; numbered names are matched below. */
static const char *const app_names[] = {
    "IEXEC_DEAL_ID",          "IEXEC_TASK_INDEX",      "IEXEC_TASK_ID",
    "IEXEC_IN",               "IEXEC_OUT",             "IEXEC_BOT_SIZE",
    "IEXEC_BOT_FIRST_INDEX",  "IEXEC_BOT_TASK_INDEX",  "IEXEC_DATASET_ADDRESS",
    "IEXEC_DATASET_FILENAME", "IEXEC_INPUT_FILES_NUMBER", "IEXEC_INPUT_FILES_FOLDER",
    "IEXEC_APP_DEVELOPER_SECRET", "IEXEC_APP_DEVELOPER_SECRET_1",
};

/* PREFIX followed by a positive decimal number without leading zero. */
static bool numbered(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n))
        return false;
    const char *d = name + n;
    size_t k = strspn(d, "0123456789");
    return k >= 1 && k <= 9 && d[0] != '0' && d[k] == '\0';
}

bool cella_iexec_env_is_app(const char *name)
{
    for (size_t i = 0; i < sizeof app_names / sizeof *app_names; i++)
        if (!strcmp(name, app_names[i]))
            return true;
    return numbered(name, "IEXEC_INPUT_FILE_NAME_") || numbered(name, "IEXEC_REQUESTER_SECRET_");
}

static cella_res set(json_t *env, const char *name, const char *value)
{
    json_t *v = json_string(value);
    CELLA_ENSURE(v && !json_object_set_new(env, name, v), CELLA_E_NOMEM, name, "out of memory");
    return CELLA_OK_RES;
}

static cella_res set_u64(json_t *env, const char *name, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    return set(env, name, t);
}

/* iExec's ids and addresses are web3j's: "0x" + lowercase hex. */
static cella_res set_hex(json_t *env, const char *name, const uint8_t *p, size_t n)
{
    char t[2 * 32 + 3] = "0x";
    cella_hex_encode(t + 2, p, n, false);
    return set(env, name, t);
}

/* A secret as a value: an environment string cannot hold a NUL byte, and a
 * JSON string must be UTF-8. The error names the variable, never the value. */
static cella_res set_secret(json_t *env, const char *name, cella_slice s)
{
    CELLA_ENSURE(!s.len || !memchr(s.p, 0, s.len), CELLA_E_POLICY, name,
                 "the secret holds a NUL byte");
    json_t *v = json_stringn(s.len ? (const char *)s.p : "", s.len);
    CELLA_ENSURE(v, CELLA_E_POLICY, name, "the secret is not valid UTF-8 text");
    CELLA_ENSURE(!json_object_set_new(env, name, v), CELLA_E_NOMEM, name, "out of memory");
    return CELLA_OK_RES;
}

cella_res cella_iexec_input_file_name(char out[CELLA_IEXEC_INPUT_FILE_NAME_LEN + 1], const char *url)
{
    uint8_t h[32];
    CELLA_TRY(cella_sha256(h, url, strlen(url)));
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, h, 32, false);
    return CELLA_OK_RES;
}

cella_res cella_iexec_task_env_app(const cella_iexec_task_facts *f, json_t *env)
{
    static const uint8_t none[20];
    char name[64];
    /* IexecEnvUtils.getComputeStageEnvMap */
    CELLA_TRY(set_hex(env, "IEXEC_DEAL_ID", f->deal_id, 32));
    CELLA_TRY(set_u64(env, "IEXEC_TASK_INDEX", f->task_index));
    CELLA_TRY(set_hex(env, "IEXEC_TASK_ID", f->task_id, 32));
    CELLA_TRY(set(env, "IEXEC_IN", CELLA_IEXEC_IN));
    CELLA_TRY(set(env, "IEXEC_OUT", CELLA_IEXEC_OUT));
    CELLA_TRY(set_u64(env, "IEXEC_BOT_SIZE", f->bot_size));
    CELLA_TRY(set_u64(env, "IEXEC_BOT_FIRST_INDEX", f->bot_first));
    CELLA_TRY(set_u64(env, "IEXEC_BOT_TASK_INDEX", f->task_index));
    /* Without a dataset, the deal's dataset pointer: the zero address. */
    const uint8_t *ds = f->has_dataset ? f->dataset : none;
    CELLA_TRY(set_hex(env, "IEXEC_DATASET_ADDRESS", ds, 20));
    CELLA_TRY(set_hex(env, "IEXEC_DATASET_FILENAME", ds, 20));
    CELLA_TRY(set_u64(env, "IEXEC_INPUT_FILES_NUMBER", f->ninputs));
    if (f->ninputs) /* iExec sets the folder only when there are input files */
        CELLA_TRY(set(env, "IEXEC_INPUT_FILES_FOLDER", CELLA_IEXEC_IN));
    for (size_t i = 0; i < f->ninputs; i++) {
        char file[CELLA_IEXEC_INPUT_FILE_NAME_LEN + 1];
        CELLA_TRY(cella_iexec_input_file_name(file, f->input_urls[i]));
        snprintf(name, sizeof name, "IEXEC_INPUT_FILE_NAME_%zu", i + 1);
        CELLA_TRY(set(env, name, file));
    }
    if (!f->tee)
        return CELLA_OK_RES; /* no SMS, no secret in a standard task */
    /* SecretSessionBaseService.getApplicationComputeSecrets */
    if (f->developer_secret.p) {
        CELLA_TRY(set_secret(env, "IEXEC_APP_DEVELOPER_SECRET", f->developer_secret));
        CELLA_TRY(set_secret(env, "IEXEC_APP_DEVELOPER_SECRET_1", f->developer_secret));
    }
    for (size_t i = 0; i < f->nrequester_secrets; i++) {
        snprintf(name, sizeof name, "IEXEC_REQUESTER_SECRET_%u", f->requester_secrets[i].index);
        CELLA_TRY(set_secret(env, name, f->requester_secrets[i].value));
    }
    return CELLA_OK_RES;
}

cella_res cella_iexec_task_env_pre(const cella_iexec_task_facts *f, json_t *env)
{
    char name[64];
    /* SecretSessionBaseService.getPreComputeTokens */
    CELLA_TRY(set(env, "IEXEC_PRE_COMPUTE_OUT", CELLA_IEXEC_IN));
    CELLA_TRY(set(env, "IS_DATASET_REQUIRED", f->has_dataset ? "true" : "false"));
    for (size_t i = 0; i < f->ninputs; i++) {
        snprintf(name, sizeof name, "IEXEC_INPUT_FILE_URL_%zu", i + 1);
        CELLA_TRY(set(env, name, f->input_urls[i]));
    }
    /* A standard task has no pre-compute: its worker fetches the plain
     * dataset itself (iexec-worker DataService), there is no key. */
    if (!f->has_dataset || !f->tee)
        return CELLA_OK_RES;
    CELLA_ENSURE(f->dataset_url && f->dataset_checksum && f->dataset_key.p, CELLA_E_INTERNAL,
                 "dataset", "the dataset's URL, checksum or key is missing");
    CELLA_TRY(set(env, "IEXEC_DATASET_URL", f->dataset_url));
    CELLA_TRY(set(env, "IEXEC_DATASET_CHECKSUM", f->dataset_checksum));
    return set_secret(env, "IEXEC_DATASET_KEY", f->dataset_key);
}

cella_res cella_iexec_env_vector(const json_t *env, cella_buf *b, const char ***out)
{
    size_t n = json_object_size(env), i = 0;
    size_t *offs = calloc(n + 1, sizeof *offs);
    *out = calloc(n + 1, sizeof **out);
    if (!offs || !*out) {
        free(offs);
        free(*out);
        *out = NULL;
        return cella_fail(CELLA_E_NOMEM, "environment", "out of memory");
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        if (!cella_iexec_env_is_app(k) || !json_is_string(v))
            continue;
        offs[i++] = b->len;
        cella_buf_append(b, k, strlen(k));
        cella_buf_append(b, "=", 1);
        cella_buf_append(b, json_string_value(v), strlen(json_string_value(v)) + 1);
    }
    cella_res r = cella_buf_result(b);
    for (size_t j = 0; cella_ok(r) && j < i; j++)
        (*out)[j] = (const char *)b->p + offs[j];
    free(offs);
    if (!cella_ok(r)) {
        free(*out);
        *out = NULL;
    }
    return r;
}
