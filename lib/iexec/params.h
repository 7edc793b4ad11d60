/* iExec's request params (deal.params, a JSON object as the SDK writes it):
 * the keys cella uses, checked; the rest is ignored. Shared by cas (a TEE
 * task's session) and the worker (a standard task). Strings are borrowed
 * from `root`, which cella_iexec_params_free releases. */
#ifndef CELLA_IEXEC_PARAMS_H
#define CELLA_IEXEC_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define CELLA_IEXEC_MAX_INPUT_FILES 256
#define CELLA_IEXEC_MAX_SECRETS 64

typedef struct {
    json_t *root;
    const char *args; /* iexec_args, "" when absent */
    size_t ninputs;
    const char *inputs[CELLA_IEXEC_MAX_INPUT_FILES];
    size_t nsecrets;
    struct {
        unsigned index;   /* the key of iexec_secrets: IEXEC_REQUESTER_SECRET_<index> */
        const char *name; /* the requester's secret name */
    } secrets[CELLA_IEXEC_MAX_SECRETS];
    bool result_encryption;
} cella_iexec_params;

/* iexec_args (a string), iexec_input_files (at most 256 non-empty strings),
 * iexec_secrets ({positive index: secret name}, at most 64),
 * iexec_result_encryption (a boolean); "" or NULL: none. CELLA_E_POLICY on
 * anything else. */
CELLA_RESULT cella_iexec_params_parse(const char *params, cella_iexec_params *p);
void cella_iexec_params_free(cella_iexec_params *p);

#endif
