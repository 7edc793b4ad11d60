/* Fuzzes what cas reads about an iExec TEE task (cas/task_policy.c): the
 * input as the deal's params (the requester's text) and as the hub's deal and
 * task JSON. Accepted params and deal make a session, with the input's bytes
 * as every pushed secret. Invariants: a built session is a fixed point of the
 * session language with access NONE; a refused secret never appears in the
 * error text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../cas/task_policy.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void session_of(const cas_deal *d, const cas_params *p, const uint8_t *data, size_t size)
{
    cas_task t = {.idx = d->bot_first};
    memcpy(t.dealid, d->dealid, 32);
    hub_task_id(d->dealid, t.idx, t.taskid);
    uint8_t priv[32] = {1};
    cas_task_inputs in = {.task = &t, .deal = d, .params = p,
                          .measurement = "3b62fef269341bc93238580b516d2d934e1264e7442e484d4d459a9abc519a76",
                          .dataset_url = "u", .dataset_checksum = "c",
                          .dataset_key = cella_slice_of(data, size),
                          .app_secret = cella_slice_of(data, size),
                          .result_key = cella_slice_of(data, size),
                          .challenge_priv = priv};
    for (size_t i = 0; i < p->nsecrets; i++)
        in.requester_secret[i] = cella_slice_of(data, size);
    json_t *doc = NULL, *again = NULL;
    if (cella_ok(cas_task_session(&in, &doc))) {
        const json_t *ap = json_object_get(doc, "access_policy");
        if (!cella_ok(cella_session_normalize(doc, &again)) || !json_equal(doc, again) ||
            strcmp(json_string_value(json_array_get(json_object_get(ap, "read"), 0)), "NONE"))
            __builtin_trap();
    } else if (size >= 4 && memmem(cella_error_what(), strlen(cella_error_what()), data, size)) {
        __builtin_trap();
    }
    json_decref(again);
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    cas_params p;
    bool params_ok = cella_ok(cas_params_parse(s, &p));
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, 0, &je);
    cas_deal d;
    if (j && cella_ok(cas_deal_parse(j, &d))) {
        if (params_ok)
            session_of(&d, &p, data, size);
        cas_task t;
        uint8_t id[32] = {0};
        if (cella_ok(cas_task_parse(j, id, &t)))
            (void)cas_task_check(&t, &d);
    }
    json_decref(j);
    cas_params_free(&p);
    free(s);
    return 0;
}
