/* A standard task's environment: see standard_env.h. */
#include "worker/standard_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "identity/eth.h"
#include "iexec/task_env.h"

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

/* iExec's params (deal.params): args, input files; result encryption refused. */
typedef struct {
    json_t *root;
    const char *args;
    const char *inputs[CELLA_STANDARD_MAX_INPUT_FILES];
    size_t ninputs;
} std_params;

static cella_res params_parse(const char *params, std_params *p)
{
    memset(p, 0, sizeof *p);
    p->args = "";
    if (!params || !*params)
        return CELLA_OK_RES;
    json_error_t je;
    p->root = json_loads(params, JSON_REJECT_DUPLICATES, &je);
    CELLA_ENSURE(json_is_object(p->root), CELLA_E_POLICY, "params",
                 "the deal's params are not a JSON object");
    const json_t *args = json_object_get(p->root, "iexec_args"),
                 *files = json_object_get(p->root, "iexec_input_files"),
                 *enc = json_object_get(p->root, "iexec_result_encryption");
    CELLA_ENSURE(!args || json_is_string(args), CELLA_E_POLICY, "params.iexec_args",
                 "not a string");
    CELLA_ENSURE(!enc || json_is_boolean(enc), CELLA_E_POLICY, "params.iexec_result_encryption",
                 "not a boolean");
    CELLA_ENSURE(!json_is_true(enc), CELLA_E_UNSUPPORTED, "params.iexec_result_encryption",
                 "result encryption is not supported for standard tasks (as in iExec: request "
                 "a TEE tag, or no encryption)");
    CELLA_ENSURE(!files || (json_is_array(files) &&
                            json_array_size(files) <= CELLA_STANDARD_MAX_INPUT_FILES),
                 CELLA_E_POLICY, "params.iexec_input_files", "not a list of at most %d URLs",
                 CELLA_STANDARD_MAX_INPUT_FILES);
    if (args)
        p->args = json_string_value(args);
    for (size_t i = 0; i < json_array_size(files); i++) {
        const char *u = json_string_value(json_array_get(files, i));
        CELLA_ENSURE(u && *u, CELLA_E_POLICY, "params.iexec_input_files",
                     "entry %zu is not a URL", i + 1);
        p->inputs[p->ninputs++] = u;
    }
    /* iexec_secrets: a standard task gets no secret (no SMS without TEE) */
    return CELLA_OK_RES;
}

/* A hex id or address of the hub's JSON into bytes. */
static cella_res hex_field(const json_t *o, const char *k, uint8_t *out, size_t n, const char *what)
{
    const char *t = json_string_value(json_object_get(o, k));
    CELLA_ENSURE(t && !strncmp(t, "0x", 2), CELLA_E_PARSE, what, "the hub sent no %s", what);
    return cella_hex_decode(out, n, t + 2, strlen(t + 2), what);
}

static cella_res count_field(const json_t *v, const char *what, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return CELLA_OK_RES;
    }
    const char *t = json_string_value(v);
    CELLA_ENSURE(t && *t && strlen(t) < 20 && strspn(t, "0123456789") == strlen(t), CELLA_E_PARSE,
                 what, "the hub's %s is not a count", what);
    *out = strtoull(t, NULL, 10);
    return CELLA_OK_RES;
}

static cella_res facts_of(const json_t *task, const json_t *deal, const std_params *p,
                          cella_iexec_task_facts *f)
{
    memset(f, 0, sizeof *f);
    f->tee = false;
    CELLA_TRY(hex_field(task, "taskid", f->task_id, 32, "task id"));
    CELLA_TRY(hex_field(deal, "dealid", f->deal_id, 32, "deal id"));
    CELLA_TRY(count_field(json_object_get(task, "idx"), "task index", &f->task_index));
    CELLA_TRY(count_field(json_object_get(deal, "botSize"), "bot size", &f->bot_size));
    CELLA_TRY(count_field(json_object_get(deal, "botFirst"), "bot first index", &f->bot_first));
    const json_t *ds = json_object_get(json_object_get(deal, "dataset"), "pointer");
    static const uint8_t zero[20] = {0};
    if (json_is_string(ds)) {
        CELLA_TRY(cella_eth_address_parse(f->dataset, json_string_value(ds), "dataset"));
        f->has_dataset = memcmp(f->dataset, zero, 20) != 0;
    }
    f->input_urls = p->inputs;
    f->ninputs = p->ninputs;
    return CELLA_OK_RES;
}

cella_res cella_worker_standard_env(const json_t *task, const json_t *deal, json_t **env)
{
    std_params p = {0};
    cella_iexec_task_facts f;
    *env = json_object();
    cella_res r = *env ? params_parse(json_string_value(json_object_get(deal, "params")), &p)
                       : cella_fail(CELLA_E_NOMEM, "environment", "out of memory");
    if (cella_ok(r))
        r = facts_of(task, deal, &p, &f);
    /* iExec's app and pre-compute sets (the runtime gives the app the first
     * only), then what the runtime itself reads: the args and the accounts */
    if (cella_ok(r))
        r = cella_iexec_task_env_app(&f, *env);
    if (cella_ok(r))
        r = cella_iexec_task_env_pre(&f, *env);
    if (cella_ok(r))
        r = set(*env, "IEXEC_APP_ARGS", p.args);
    if (cella_ok(r))
        r = set_addr(*env, "IEXEC_APP_ADDRESS", json_object_get(deal, "app"), "app");
    if (cella_ok(r))
        r = set_addr(*env, "IEXEC_BENEFICIARY", json_object_get(deal, "beneficiary"), "beneficiary");
    if (cella_ok(r))
        r = set_addr(*env, "IEXEC_REQUESTER", json_object_get(deal, "requester"), "requester");
    json_decref(p.root);
    if (!cella_ok(r)) {
        json_decref(*env);
        *env = NULL;
    }
    return r;
}
