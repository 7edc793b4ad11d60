/* Fuzzes the session policy parser: the input as YAML, and the same bytes as
 * JSON for the JSON path. Invariants on every accepted session:
 *   - the normalised form is a fixed point (normalising it again gives the
 *     same document and the same hash);
 *   - redaction leaves no secret value or volume key behind;
 *   - every service and volume named in it can be looked up.
 * On every refusal: no output, and a non-empty "where". */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_redacted(const json_t *red, const char *list, const char *field)
{
    const json_t *a = json_object_get(red, list);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_object_get(json_array_get(a, i), field);
        if (!v || (!json_is_null(v) && strcmp(json_string_value(v), "<redacted>") != 0))
            __builtin_trap();
    }
}

static void check_accepted(const json_t *s)
{
    uint8_t h1[32], h2[32];
    json_t *again = NULL;
    if (!cella_ok(cella_session_hash(s, h1)) || !cella_ok(cella_session_normalize(s, &again)))
        __builtin_trap();
    if (!json_equal(s, again) || !cella_ok(cella_session_hash(again, h2)) ||
        memcmp(h1, h2, 32) != 0)
        __builtin_trap();
    json_decref(again);

    json_t *red = cella_session_redact(s);
    if (!red)
        __builtin_trap();
    check_redacted(red, "secrets", "value");
    check_redacted(red, "volumes", "fspf_key");
    json_decref(red);

    const json_t *svcs = json_object_get(s, "services");
    for (size_t i = 0; i < json_array_size(svcs); i++) {
        const char *n = json_string_value(json_object_get(json_array_get(svcs, i), "name"));
        if (!n || cella_session_service(s, n) != json_array_get(svcs, i))
            __builtin_trap();
    }
    const json_t *vols = json_object_get(s, "volumes");
    for (size_t i = 0; i < json_array_size(vols); i++) {
        const char *n = json_string_value(json_object_get(json_array_get(vols, i), "name"));
        if (!n || cella_session_volume(s, n) != json_array_get(vols, i))
            __builtin_trap();
    }
}

static void check_refused(cella_res r, const json_t *out)
{
    if (out != NULL || cella_error_where()[0] == '\0' || r.code == CELLA_E_INTERNAL)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *out = NULL;
    cella_res r = cella_session_from_yaml((const char *)data, size, &out);
    if (cella_ok(r)) {
        check_accepted(out);
        json_decref(out);
    } else {
        check_refused(r, out);
    }

    json_error_t e;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (in) {
        out = NULL;
        r = cella_session_normalize(in, &out);
        if (cella_ok(r)) {
            check_accepted(out);
            json_decref(out);
        } else {
            check_refused(r, out);
        }
        json_decref(in);
    }
    return 0;
}
