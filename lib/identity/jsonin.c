#include "identity/jsonin.h"

#include <string.h>

#include "core/encoding.h"

cella_res cella_json_parse_object(const void *data, size_t len, size_t max, const char *what,
                                  json_t **out)
{
    *out = NULL;
    CELLA_ENSURE(len <= max, CELLA_E_TOOBIG, what, "JSON larger than %zu bytes", max);
    json_error_t err;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    CELLA_ENSURE(j != NULL, CELLA_E_PARSE, what, "malformed JSON at line %d column %d: %s",
                 err.line, err.column, err.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return cella_fail(CELLA_E_PARSE, what, "JSON is not an object");
    }
    *out = j;
    return CELLA_OK_RES;
}

cella_res cella_json_str(const json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    CELLA_ENSURE(v != NULL, CELLA_E_PARSE, key, "missing field");
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, key, "field is not a string");
    const char *s = json_string_value(v);
    CELLA_ENSURE(strlen(s) == json_string_length(v), CELLA_E_PARSE, key,
                 "field contains a NUL character");
    *out = s;
    return CELLA_OK_RES;
}

cella_res cella_json_hex(const json_t *obj, const char *key, uint8_t *out, size_t n)
{
    const char *s;
    CELLA_TRY(cella_json_str(obj, key, &s));
    return cella_hex_decode(out, n, s, strlen(s), key);
}

static cella_res parse_u64_text(const char *s, const char *key, uint64_t *out)
{
    uint64_t v = 0;
    CELLA_ENSURE(*s != '\0', CELLA_E_PARSE, key, "empty number");
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        CELLA_ENSURE(*s != '\0' && strlen(s) <= 16, CELLA_E_PARSE, key, "bad hex number");
        for (; *s; s++) {
            unsigned d;
            if (*s >= '0' && *s <= '9')
                d = (unsigned)(*s - '0');
            else if (*s >= 'a' && *s <= 'f')
                d = (unsigned)(*s - 'a' + 10);
            else if (*s >= 'A' && *s <= 'F')
                d = (unsigned)(*s - 'A' + 10);
            else
                return cella_fail(CELLA_E_PARSE, key, "bad hex number");
            v = (v << 4) | d;
        }
        *out = v;
        return CELLA_OK_RES;
    }
    for (; *s; s++) {
        CELLA_ENSURE(*s >= '0' && *s <= '9', CELLA_E_PARSE, key, "not a decimal number");
        unsigned d = (unsigned)(*s - '0');
        CELLA_ENSURE(v <= (UINT64_MAX - d) / 10, CELLA_E_PARSE, key, "number too large");
        v = v * 10 + d;
    }
    *out = v;
    return CELLA_OK_RES;
}

cella_res cella_json_u64(const json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    CELLA_ENSURE(v != NULL, CELLA_E_PARSE, key, "missing field");
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        CELLA_ENSURE(i >= 0, CELLA_E_PARSE, key, "negative number");
        *out = (uint64_t)i;
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, key, "not an unsigned integer");
    CELLA_ENSURE(strlen(json_string_value(v)) == json_string_length(v), CELLA_E_PARSE, key,
                 "field contains a NUL character");
    return parse_u64_text(json_string_value(v), key, out);
}
