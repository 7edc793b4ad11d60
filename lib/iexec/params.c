/* iExec's request params: see params.h. */
#include "iexec/params.h"

#include <stdlib.h>
#include <string.h>

#include "iexec/sms.h"

cella_res cella_iexec_params_parse(const char *params, cella_iexec_params *p)
{
    memset(p, 0, sizeof *p);
    p->args = "";
    if (!params || !*params)
        return CELLA_OK_RES;
    json_error_t je;
    p->root = json_loads(params, JSON_REJECT_DUPLICATES, &je);
    CELLA_ENSURE(json_is_object(p->root), CELLA_E_POLICY, "params",
                 "the deal's params are not a JSON object");
    const json_t *v = json_object_get(p->root, "iexec_args");
    if (v) {
        CELLA_ENSURE(json_is_string(v), CELLA_E_POLICY, "params.iexec_args", "not a string");
        p->args = json_string_value(v);
    }
    v = json_object_get(p->root, "iexec_input_files");
    if (v) {
        CELLA_ENSURE(json_is_array(v) && json_array_size(v) <= CELLA_IEXEC_MAX_INPUT_FILES,
                     CELLA_E_POLICY, "params.iexec_input_files",
                     "not a list of at most %d URLs", CELLA_IEXEC_MAX_INPUT_FILES);
        size_t i;
        const json_t *u;
        json_array_foreach(v, i, u) {
            CELLA_ENSURE(json_is_string(u) && json_string_length(u) > 0, CELLA_E_POLICY,
                         "params.iexec_input_files", "entry %zu is not a URL", i + 1);
            p->inputs[p->ninputs++] = json_string_value(u);
        }
    }
    v = json_object_get(p->root, "iexec_secrets");
    if (v) {
        CELLA_ENSURE(json_is_object(v) && json_object_size(v) <= CELLA_IEXEC_MAX_SECRETS,
                     CELLA_E_POLICY, "params.iexec_secrets",
                     "not an object of at most %d {index: name}", CELLA_IEXEC_MAX_SECRETS);
        const char *k;
        const json_t *n;
        json_object_foreach((json_t *)v, k, n) {
            size_t kl = strlen(k);
            CELLA_ENSURE(kl >= 1 && kl <= 6 && k[0] != '0' && strspn(k, "0123456789") == kl,
                         CELLA_E_POLICY, "params.iexec_secrets",
                         "a key is not a positive index");
            CELLA_ENSURE(json_is_string(n) && cella_iexec_secret_name_ok(json_string_value(n)),
                         CELLA_E_POLICY, "params.iexec_secrets",
                         "secret %s is not a name [A-Za-z0-9-_]{1,64}", k);
            p->secrets[p->nsecrets].index = (unsigned)strtoul(k, NULL, 10);
            p->secrets[p->nsecrets++].name = json_string_value(n);
        }
    }
    v = json_object_get(p->root, "iexec_result_encryption");
    if (v) {
        CELLA_ENSURE(json_is_boolean(v), CELLA_E_POLICY, "params.iexec_result_encryption",
                     "not a boolean");
        p->result_encryption = json_is_true(v);
    }
    return CELLA_OK_RES;
}

void cella_iexec_params_free(cella_iexec_params *p)
{
    json_decref(p->root);
    p->root = NULL;
}
